"""The GRU's equations (`ops/gru_math.py`), both of Keras's forms, on
TensorFlow in float64: the handwritten backward of each step, walked in
reverse over a sequence, against `tf.GradientTape` through the forward
steps; the forward against `keras.layers.GRU`.

The GRU's loops and custom gradients (the ops of every backend) come next;
these tests pin the equations they will run.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn.ops import gru_math
from keras_scratch_rnn.ops.tensorflow import xp
from keras_scratch_rnn.tolerances import FLOAT64_PARITY

N, T, D, H = 3, 6, 4, 5


def _dropout_mask(rng, shape):
    return tf.constant((rng.random(shape) > 0.3) / 0.7)


def _sequence(rng, options, mask, dm, rm, use_bias):
    """`(outputs, autodiff gradients, handwritten gradients)` of one random
    problem: sum(outputs * upstream) through `gru_math`'s steps."""
    x = tf.constant(rng.normal(size=(N, T, D)))
    h0 = tf.constant(rng.normal(size=(N, H)))
    kernel = tf.constant(rng.normal(size=(D, 3 * H)) * 0.5)
    recurrent = tf.constant(rng.normal(size=(H, 3 * H)) * 0.5)
    bias_shape = (2, 3 * H) if options.reset_after else (3 * H,)
    bias = tf.constant(rng.normal(size=bias_shape)) if use_bias else None
    upstream = tf.constant(rng.normal(size=(N, T, H)))
    sources = [x, h0, kernel, recurrent] + ([bias] if use_bias else [])
    with tf.GradientTape() as tape:
        tape.watch(sources)
        b_x, b_h = gru_math.split_bias(bias, options)
        h, y = h0, tf.zeros_like(h0)
        steps = []
        for t in range(T):
            x_t = x[:, t]
            m_t = None if mask is None else mask[:, t, None]
            if m_t is not None:
                x_t = tf.where(m_t, x_t, tf.zeros_like(x_t))
            X = gru_math.input_projection(xp, x_t, kernel, b_x, dm)
            h_prev = h
            h, y, saved, A = gru_math.step_forward(
                xp, X, h, None if m_t is None else y, recurrent, b_h, rm,
                m_t, options,
            )  # fmt: skip
            steps.append((x_t, h_prev, y, saved, A, m_t))
        outputs = tf.stack([s[2] for s in steps], axis=1)
        loss = tf.reduce_sum(outputs * upstream)
    autodiff = tape.gradient(loss, sources)

    dh = tf.zeros_like(h0)
    dy_next = None if mask is None else tf.zeros_like(h0)
    sums, dxs = [0.0, 0.0, 0.0, 0.0], [None] * T
    for t in reversed(range(T)):
        x_t, h_prev, _, saved, A, m_t = steps[t]
        dX, dh, dy_next = gru_math.step_backward(
            xp, dh, upstream[:, t], dy_next, saved, h_prev, A, recurrent, rm,
            m_t, options,
        )  # fmt: skip
        dx, *grads = gru_math.weight_gradients(
            xp, x_t, h_prev, dX, saved, kernel, dm, rm, options
        )
        dxs[t] = dx
        sums = [s if g is None else s + g for s, g in zip(sums, grads)]
    dWx, dWh, db_x, db_h = sums
    handwritten = [tf.stack(dxs, axis=1), dh, dWx, dWh]
    if use_bias:
        handwritten.append(tf.stack([db_x, db_h]) if options.reset_after
                           else db_x)  # fmt: skip
    weights = [kernel, recurrent] + ([bias] if use_bias else [])
    return (x, h0, weights, outputs), autodiff, handwritten


CASES = {
    "plain": {},
    "mask": {"mask": True},
    "mask, zero output": {"mask": True, "zero_output_for_mask": True},
    "no bias": {"use_bias": False},
    "one dropout mask each": {"dropout": "one"},
    "a dropout mask per gate": {"dropout": "per gate", "mask": True},
    "relu, tanh gates": {"activation": "relu", "recurrent_activation": "tanh"},
    "callables": {
        "activation": tf.nn.softsign,
        "recurrent_activation": tf.nn.elu,
    },
}


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_handwritten_backward_equals_autodiff(case, reset_after):
    """Every gradient, float64, relative error <= FLOAT64_PARITY; the
    forward equals keras.layers.GRU's where Keras can run it (no dropout
    masks of our choosing, no callables)."""
    spec = CASES[case]
    rng = np.random.default_rng(len(case) + 7 * reset_after)
    options = gru_math.GRUOptions(
        activation=spec.get("activation", "tanh"),
        recurrent_activation=spec.get("recurrent_activation", "sigmoid"),
        zero_output_for_mask=spec.get("zero_output_for_mask", False),
        reset_after=reset_after,
    )
    mask = None
    if spec.get("mask"):
        mask_array = rng.random((N, T)) > 0.3
        mask_array[0, 0] = mask_array[1, -1] = False
        mask = tf.constant(mask_array)
    dm = rm = None
    if spec.get("dropout") == "one":
        dm, rm = _dropout_mask(rng, (N, D)), _dropout_mask(rng, (N, H))
    elif spec.get("dropout") == "per gate":
        dm, rm = _dropout_mask(rng, (N, 3, D)), _dropout_mask(rng, (N, 3, H))
    use_bias = spec.get("use_bias", True)
    (x, h0, weights, outputs), autodiff, handwritten = _sequence(
        rng, options, mask, dm, rm, use_bias
    )
    for got, want in zip(handwritten, autodiff):
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= FLOAT64_PARITY * scale

    if dm is None and not callable(options.activation):
        layer = keras.layers.GRU(
            H,
            reset_after=reset_after,
            return_sequences=True,
            activation=options.activation,
            recurrent_activation=options.recurrent_activation,
            zero_output_for_mask=options.zero_output_for_mask,
            use_bias=use_bias,
            dtype="float64",
        )
        layer.build((N, T, D))
        layer.set_weights([w.numpy() for w in weights])
        want = layer(x, initial_state=h0, mask=mask)
        assert np.abs(outputs - want).max() <= FLOAT64_PARITY


def test_gru_step_equals_keras_gru_cell():
    """`gru_step_forward` and `gru_step_backward`: one step, both forms,
    against keras.layers.GRUCell and autodiff."""
    rng = np.random.default_rng(3)
    for reset_after in (True, False):
        options = gru_math.GRUOptions(reset_after=reset_after)
        x = tf.constant(rng.normal(size=(N, D)))
        h = tf.constant(rng.normal(size=(N, H)))
        cell = keras.layers.GRUCell(H, reset_after=reset_after, dtype="float64")
        cell.build((N, D))
        kernel, recurrent, bias = (tf.constant(w) for w in cell.get_weights())
        bias = bias + tf.constant(rng.normal(size=bias.shape))
        with tf.GradientTape() as tape:
            tape.watch([x, h, kernel, recurrent, bias])
            h_next, saved, A = gru_math.gru_step_forward(
                xp, x, h, kernel, recurrent, bias, None, None, options
            )
            loss = tf.reduce_sum(h_next * h_next)
        autodiff = tape.gradient(loss, [x, h, kernel, recurrent, bias])
        dx, dh, dWx, dWh, db_x, db_h = gru_math.gru_step_backward(
            xp, 2.0 * h_next, x, h, saved, A, kernel, recurrent, None, None,
            options,
        )  # fmt: skip
        db = tf.stack([db_x, db_h]) if reset_after else db_x
        for got, want in zip([dx, dh, dWx, dWh, db], autodiff):
            assert (
                np.abs(got - want).max() <= FLOAT64_PARITY * np.abs(want).max()
            )
        cell.set_weights([kernel.numpy(), recurrent.numpy(), bias.numpy()])
        want, _ = cell(x, h)
        assert np.abs(h_next - want).max() <= FLOAT64_PARITY
