"""The GRU's TensorFlow ops (`ops.tensorflow`'s GRU section): the
handwritten BPTT of `scratch_gru` against `tf.GradientTape` through a
plain loop of `gru_math`'s steps, float64, both of Keras's forms, eagerly
and in `tf.function` (XLA-compiled loops, the batch in two parts, an
unknown batch size)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_scratch_rnn.ops as ops
from keras_scratch_rnn.ops import gru_math
from keras_scratch_rnn.ops import tensorflow as tf_ops
from keras_scratch_rnn.ops.tensorflow import xp
from keras_scratch_rnn.tolerances import FLOAT64_PARITY

N, T, D, H = 20, 5, 3, 4  # 20 rows: two batch parts in tf.function


def _problem(seed, reset_after, use_bias=True):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(N, T, D)))
    h0 = tf.constant(rng.normal(size=(N, H)))
    kernel = tf.constant(rng.normal(size=(D, 3 * H)) * 0.5)
    recurrent = tf.constant(rng.normal(size=(H, 3 * H)) * 0.5)
    bias = None
    if use_bias:
        shape = (2, 3 * H) if reset_after else (3 * H,)
        bias = tf.constant(rng.normal(size=shape))
    mask = rng.random((N, T)) > 0.3
    mask[0, 0] = mask[1, -1] = False
    mask[2] = False  # a row masked at every step
    per_gate = [
        tf.constant((rng.random(shape) > 0.3) / 0.7)
        for shape in ((N, 3, D), (N, 3, H))
    ]
    weights = (rng.normal(size=(N, T, H)), rng.normal(size=(N, H)))
    return x, h0, kernel, recurrent, bias, tf.constant(mask), per_gate, weights


def _plain_loop(x, h0, kernel, recurrent, bias, mask, dm, rm, options):
    """`(outputs, h_last)` through `gru_math.step_forward` in a Python loop:
    what TensorFlow's autodiff differentiates for the reference."""
    b_x, b_h = gru_math.split_bias(bias, options)
    h, y, ys = h0, tf.zeros_like(h0), []
    for t in range(T):
        m_t = None if mask is None else mask[:, t, None]
        x_t = x[:, t] if m_t is None else tf.where(m_t, x[:, t], 0.0)
        X = gru_math.input_projection(xp, x_t, kernel, b_x, dm)
        h, y, _, _ = gru_math.step_forward(
            xp, X, h, None if m_t is None else y, recurrent, b_h, rm, m_t,
            options,
        )  # fmt: skip
        ys.append(y)
    out = tf.stack(ys, axis=1) if options.return_sequences else ys[-1]
    return out, h


CASES = {
    "plain": {},
    "mask, last output": {"mask": True, "return_sequences": False},
    "mask, zero output": {"mask": True, "zero_output_for_mask": True},
    "per-gate dropout": {"dropout": True},
    "no bias": {"use_bias": False},
    "callables": {"activation": tf.nn.softsign, "unroll": True},
}


@pytest.fixture(params=["hoisted", "per_step"])
def gru_loops(request, monkeypatch):
    """Runs a test with both ways of the GRU's loops: the input projection
    and weight gradients hoisted out of them, or per step inside them (from
    `GRU_PER_STEP_UNITS` units and `GRU_PER_STEP_BATCH` rows of a batch
    part on; here from 1)."""
    if request.param == "per_step":
        monkeypatch.setattr(tf_ops, "GRU_PER_STEP_UNITS", 1)
        monkeypatch.setattr(tf_ops, "GRU_PER_STEP_BATCH", 1)
    return request.param


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "function"])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_scratch_gru_gradients_match_autodiff(
    case, reset_after, traced, gru_loops
):
    spec = CASES[case]
    x, h0, kernel, recurrent, bias, mask, (dm, rm), (w_seq, w_h) = _problem(
        len(case), reset_after, spec.get("use_bias", True)
    )
    mask = mask if spec.get("mask") else None
    dm, rm = (dm, rm) if spec.get("dropout") else (None, None)
    return_sequences = spec.get("return_sequences", True)
    options = gru_math.GRUOptions(
        activation=spec.get("activation", "tanh"),
        zero_output_for_mask=spec.get("zero_output_for_mask", False),
        unroll=spec.get("unroll", False),
        return_sequences=return_sequences,
        reset_after=reset_after,
    )
    w_out = tf.constant(w_seq if return_sequences else w_seq[:, 0])
    w_h = tf.constant(w_h)
    sources = [x, h0, kernel, recurrent] + ([bias] if bias is not None else [])

    def both(x, h0, kernel, recurrent, *maybe_bias):
        b = maybe_bias[0] if maybe_bias else None
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, h0, kernel, recurrent, *maybe_bias])
            out, h_last = ops.scratch_gru(
                x, h0, kernel, recurrent, b, mask=mask,
                input_dropout_mask=dm, recurrent_dropout_mask=rm,
                activation=options.activation, reset_after=reset_after,
                zero_output_for_mask=options.zero_output_for_mask,
                unroll=options.unroll, return_sequences=return_sequences,
            )  # fmt: skip
            ref_out, ref_h = _plain_loop(
                x, h0, kernel, recurrent, b, mask, dm, rm, options
            )
            loss = tf.reduce_sum(out * w_out) + tf.reduce_sum(h_last * w_h)
            ref_loss = tf.reduce_sum(ref_out * w_out)
            ref_loss += tf.reduce_sum(ref_h * w_h)
        variables = [x, h0, kernel, recurrent, *maybe_bias]
        return (
            [out, h_last] + tape.gradient(loss, variables),
            [ref_out, ref_h] + tape.gradient(ref_loss, variables),
        )

    run = tf.function(both, autograph=False) if traced else both
    got, want = run(*sources)
    for g, w in zip(got, want):
        scale = max(1.0, float(np.abs(w).max()))
        assert np.abs(g - w).max() <= FLOAT64_PARITY * scale


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("case", [c for c in CASES if c != "callables"])
def test_chunked_loops_match_autodiff(case, reset_after, monkeypatch):
    """The compiled loops' third way, for long sequences (here from any T,
    by chunks of 2 steps: 2, 2 and a short one of 1, walking back): the
    input projection per step, the weight gradients by chunks."""
    monkeypatch.setattr(tf_ops, "CHUNK_MIN_STEPS", 1)
    monkeypatch.setattr(tf_ops, "CHUNK_STEPS", 2)
    test_scratch_gru_gradients_match_autodiff(case, reset_after, True, None)
    ways = {(k[0].__name__, k[-2]) for k in tf_ops._LOOPS if k[-1]}
    assert ("_gru_backward_loop", 2) in ways  # (loop, per_step) compiled


def test_unknown_batch_size(gru_loops):
    """A traced `scratch_gru` with `None` batch: two parts of 8 and 9 rows,
    or of 0 and 1 (an unknown batch part counts as large: per step from
    `GRU_PER_STEP_UNITS` units on)."""
    x, h0, kernel, recurrent, bias, *_ = _problem(1, True)
    spec = [tf.TensorSpec((None, T, D), tf.float64),
            tf.TensorSpec((None, H), tf.float64)]  # fmt: skip

    @tf.function(input_signature=spec, autograph=False)
    def run(x, h0):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            out, _ = ops.scratch_gru(x, h0, kernel, recurrent, bias)
            loss = tf.reduce_sum(out * out)
        return out, tape.gradient(loss, [x, kernel])

    options = gru_math.GRUOptions()
    for rows in (17, 1):
        out, (dx, dk) = run(x[:rows], h0[:rows])
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            ref, _ = _plain_loop(
                x[:rows], h0[:rows], kernel, recurrent, bias, None, None,
                None, options,
            )  # fmt: skip
            ref_loss = tf.reduce_sum(ref * ref)
        ref_dx, ref_dk = tape.gradient(ref_loss, [x, kernel])
        assert np.abs(out - ref).max() <= FLOAT64_PARITY
        assert np.abs(dx - ref_dx[:rows]).max() <= FLOAT64_PARITY * 10
        assert np.abs(dk - ref_dk).max() <= FLOAT64_PARITY * max(
            1.0, float(np.abs(ref_dk).max())
        )


def test_public_forward_and_backward_match_scratch_gru():
    x, h0, kernel, recurrent, bias, mask, _, (w_seq, _) = _problem(2, False)
    upstream = tf.constant(w_seq)
    outputs, hs, saved, pre = ops.gru_forward(
        x, h0, kernel, recurrent, bias, mask=mask, reset_after=False
    )
    grads = ops.gru_backward(
        upstream, tf.zeros_like(h0), x, h0, kernel, recurrent, hs, saved,
        pre, bias=bias, mask=mask, reset_after=False,
    )  # fmt: skip
    sources = [x, h0, kernel, recurrent, bias]
    with tf.GradientTape() as tape:
        tape.watch(sources)
        out, _ = ops.scratch_gru(
            x, h0, kernel, recurrent, bias, mask=mask, reset_after=False
        )
        loss = tf.reduce_sum(out * upstream)
    want = tape.gradient(loss, sources)
    assert np.abs(outputs - out).max() <= FLOAT64_PARITY
    for g, w in zip(grads, want):
        assert np.abs(g - w).max() <= FLOAT64_PARITY * max(
            1.0, float(np.abs(w).max())
        )
