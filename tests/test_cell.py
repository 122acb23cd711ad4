"""ScratchRNNCell (the book's one-step `RNN`) in Keras's RNN machinery.

Inside `keras.layers.RNN`, `StackedRNNCells` and a stateful `RNN`, it must
give SimpleRNNCell's outputs and gradients with the same weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn import ScratchRNNCell
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error

N, T, D, H = 3, 5, 4, 6


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D)).astype("float32")
    mask = np.ones((N, T), bool)
    mask[0, 0] = mask[1, -1] = mask[2, 2] = False
    return tf.constant(x), tf.constant(mask)


def _outputs_and_grads(layer, x, in_function, **call_kwargs):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, **call_kwargs)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            loss = tf.add_n([tf.reduce_sum(tf.sin(3.0 * o)) for o in outs])
        return outs, tape.gradient(loss, [x, *layer.trainable_weights])

    if in_function:
        run = tf.function(run)
    outs, grads = run(x)
    return [np.asarray(v) for v in [*outs, *grads]]


def _assert_same(a_layer, b_layer, x, in_function, **call_kwargs):
    a_layer.build(x.shape)
    b_layer.build(x.shape)
    b_layer.set_weights(a_layer.get_weights())
    a = _outputs_and_grads(a_layer, x, in_function, **call_kwargs)
    b = _outputs_and_grads(b_layer, x, in_function, **call_kwargs)
    assert len(a) == len(b)
    for got, want in zip(a, b):
        assert scaled_error(got, want) <= FLOAT32_PARITY


@pytest.mark.parametrize("in_function", [False, True])
@pytest.mark.parametrize(
    "cell_kwargs",
    [
        {},
        {"activation": "relu", "use_bias": False},
        {"activation": "gelu"},
        {"dropout": 0.3, "recurrent_dropout": 0.2, "seed": 5},
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_inside_keras_rnn(cell_kwargs, masked, in_function):
    """`keras.layers.RNN(ScratchRNNCell)` == `RNN(SimpleRNNCell)`."""
    x, mask = _inputs()
    layers = [
        keras.layers.RNN(
            cls(H, **cell_kwargs), return_sequences=True, return_state=True
        )
        for cls in (ScratchRNNCell, keras.layers.SimpleRNNCell)
    ]
    _assert_same(
        *layers,
        x,
        in_function,
        mask=mask if masked else None,
        training=True,
    )


@pytest.mark.parametrize("in_function", [False, True])
def test_stacked_cells(in_function):
    """`StackedRNNCells` of two ScratchRNNCells == two SimpleRNNCells."""
    x, _ = _inputs(1)
    layers = [
        keras.layers.RNN(
            keras.layers.StackedRNNCells([cls(H), cls(H + 1)]),
            return_sequences=True,
        )
        for cls in (ScratchRNNCell, keras.layers.SimpleRNNCell)
    ]
    _assert_same(*layers, x, in_function)


def test_stateful_keras_rnn():
    """`keras.layers.RNN(ScratchRNNCell, stateful=True)` carries its state."""
    x, _ = _inputs(2)
    layers = [
        keras.layers.RNN(cls(H), stateful=True, return_sequences=True)
        for cls in (ScratchRNNCell, keras.layers.SimpleRNNCell)
    ]
    for layer in layers:
        layer.build(x.shape)
    layers[1].set_weights(layers[0].get_weights())
    for chunk in (x[:, :2], x[:, 2:]):
        got, want = (np.asarray(layer(chunk)) for layer in layers)
        assert scaled_error(got, want) <= FLOAT32_PARITY
    whole = keras.layers.RNN(ScratchRNNCell(H), return_sequences=True)
    whole.build(x.shape)
    whole.set_weights(layers[0].get_weights())
    assert scaled_error(got, np.asarray(whole(x))[:, 2:]) <= FLOAT32_PARITY


def test_step_call_and_config():
    """One direct step; config keys == SimpleRNNCell's; round trip."""
    cell = ScratchRNNCell(H, seed=4, dropout=0.1)
    ref = keras.layers.SimpleRNNCell(H, seed=4, dropout=0.1)
    x = tf.ones((N, D))
    h = tf.zeros((N, H))
    cell.build(x.shape)
    ref.build(x.shape)
    ref.set_weights(cell.get_weights())
    out, state = cell(x, [h])
    want, _ = ref(x, [h])
    assert isinstance(state, list) and out.shape == (N, H)
    assert scaled_error(out, want) <= FLOAT32_PARITY
    out, state = cell(x, h)
    assert not isinstance(state, list)
    config = cell.get_config()
    assert set(config) == set(ref.get_config())
    again = ScratchRNNCell.from_config(config)
    assert again.get_config() == config
    assert again.seed == 4
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(cell)
    )
    assert isinstance(restored, ScratchRNNCell)
    assert restored.get_config() == config
