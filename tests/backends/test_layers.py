"""ScratchRNN, ScratchLSTM, ScratchGRU and their cells on the running Keras
backend.

These tests run in every backend's process (the README's test command runs
them under TensorFlow, JAX and PyTorch): SimpleRNN (LSTM) on the same backend
is the reference, with the same weights; gradients are the backend's own
(`tf.GradientTape`, `jax.grad` over `stateless_call`, torch autograd), so
what they differentiate is whatever the layers attach: for ScratchRNN the
handwritten backward (tests/jax and tests/torch show it is the one used
there; tests/test_parity.py on TensorFlow).
"""

import keras
import numpy as np
import pytest

from keras_scratch_rnn import (
    ScratchGRU,
    ScratchGRUCell,
    ScratchLSTM,
    ScratchLSTMCell,
    ScratchRNN,
    ScratchRNNCell,
)
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error
from keras_scratch_rnn.tools import parity
from keras_scratch_rnn.tools.autodiff import forward_backward, modes

BACKEND = keras.backend.backend()
MODES = modes()
N, T, D, H = 3, 6, 4, 5


def _assert_within(errors, tolerance=FLOAT32_PARITY):
    worst = max(errors, key=errors.get)
    assert errors[worst] <= tolerance, (worst, errors)


# Every argument (the main job's table: masks, initial_state, go_backwards,
# return_sequences/state, unroll, dropout and recurrent_dropout with equal
# seeds, stateful, every activation including callables), eager and traced.
CELLS = ("rnn", "lstm", "gru")
CASES = [(cell, *case) for cell in CELLS for case in parity.CASES[cell]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "cell, label, config, options",
    CASES,
    ids=[f"{case[0]}: {case[1]}" for case in CASES],
)
def test_parity_with_keras(cell, label, config, options, mode):
    """Outputs and backend-native gradients equal SimpleRNN's (LSTM's,
    GRU's), float32."""
    errors = parity.compare(
        config, in_function=mode != "eager", cell=cell, **options
    )
    expected = {"output", "d_inputs", "d_kernel", "d_recurrent_kernel"}
    expected |= {"state"} if config.get("return_state") else set()
    expected |= {"d_bias"} if config.get("use_bias", True) else set()
    if options.get("initial_state"):
        expected |= {"d_initial_state"}
        expected |= {"d_initial_carry"} if cell == "lstm" else set()
    assert set(errors) == expected
    _assert_within(errors)


# Interactions: every pair of these options, traced where the backend
# traces (built from a covering array: see tests/covering.py).
def _pairs():
    from covering import covering

    pairs = []
    for cell in CELLS:
        options = {
            "return_sequences": [False, True],
            "go_backwards": [False, True],
            "masking": ["none", "mask", "zero_output"],
            "initial_state": [False, True],
            "unroll": [False, True],
            "activation": ["tanh", "relu", "gelu"],
        }
        if cell == "lstm":
            options["recurrent_activation"] = ["sigmoid", "tanh", "linear"]
        if cell == "gru":  # linear z, r with relu grow past float32's 1e-5
            options["recurrent_activation"] = [
                "sigmoid",
                "tanh",
                "hard_sigmoid",
            ]
            options["reset_after"] = [True, False]
        pairs += [(cell, case) for case in covering(options, strength=2)]
    return pairs


@pytest.mark.parametrize(
    "cell, case",
    _pairs(),
    ids=lambda c: c if isinstance(c, str) else str(sorted(c.items())),
)
def test_option_pairs(cell, case):
    config = {
        "return_sequences": case["return_sequences"],
        "return_state": True,
        "go_backwards": case["go_backwards"],
        "unroll": case["unroll"],
        "activation": case["activation"],
        "zero_output_for_mask": case["masking"] == "zero_output",
    }
    for name in ("recurrent_activation", "reset_after"):
        if name in case:
            config[name] = case[name]
    errors = parity.compare(
        config,
        mask=case["masking"] != "none",
        initial_state=case["initial_state"],
        in_function=len(MODES) > 1,
        cell=cell,
    )
    _assert_within(errors)


@pytest.mark.parametrize("cell", CELLS)
def test_extras_initializers_regularizers_constraints(cell):
    """Initializers draw the same weights (the LSTM's forget-gate bias
    too), regularizers the same losses, and after one SGD step
    (constraints acting) the weights agree."""
    errors = parity.compare_extras(
        {
            "kernel_regularizer": "l2",
            "recurrent_regularizer": "l1",
            "bias_constraint": "non_neg",
            "kernel_initializer": "he_normal",
            "bias_initializer": "random_normal",
        },
        mask=True,
        cell=cell,
    )
    assert set(errors) == {
        "output (initializer weights)",
        "regularization losses",
        "weights after one SGD step",
    }
    _assert_within(errors)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, T, D)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    return x, y


PAIRS = {
    "rnn": (ScratchRNN, keras.layers.SimpleRNN),
    "lstm": (ScratchLSTM, keras.layers.LSTM),
    "gru": (ScratchGRU, keras.layers.GRU),
}


def _twin_models(build, cell):
    """The same model with ours and with Keras's layer, equal weights."""
    models = []
    for cls in PAIRS[cell]:
        keras.utils.set_random_seed(1)
        models.append(build(cls))
    models[1].set_weights(models[0].get_weights())
    return models


def _sequential(cls):
    return keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.Masking(0.0),
            cls(H, return_sequences=True, dropout=0.2, seed=5),
            cls(H),
            keras.layers.Dense(1),
        ]
    )


def _functional(cls):
    inputs = keras.Input((T, D))
    seq, *states = cls(H, return_sequences=True, return_state=True)(inputs)
    last = cls(H, go_backwards=True)(seq, initial_state=states)
    return keras.Model(inputs, keras.layers.Dense(1)(last))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("build", [_sequential, _functional])
def test_fit_trains_like_keras(build, cell):
    """`model.fit` (Keras's own training step, compiled where the backend
    compiles it) moves the weights as with SimpleRNN (LSTM)."""
    x, y = _data()
    x[0, -2:] = 0.0  # masked by Masking in the Sequential model
    models = _twin_models(build, cell)
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        assert scaled_error(a, b) <= FLOAT32_PARITY


@pytest.mark.parametrize("cls", [ScratchRNN, ScratchLSTM, ScratchGRU])
def test_keras_file_round_trip(tmp_path, cls):
    """`.keras` save and `load_model`: the same class, config and outputs."""
    x, _ = _data()
    model = _functional(cls)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[1], cls)
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)),
        keras.ops.convert_to_numpy(model(x)),
    )


def _compare_layers(ours, theirs, x, mask=None, h0=None):
    """Builds both, copies the weights, compares outputs and gradients."""
    for layer in (ours, theirs):
        layer(x[:1])  # builds
    theirs.set_weights(ours.get_weights())
    got = forward_backward(ours, x, h0=h0, mask=mask)
    want = forward_backward(theirs, x, h0=h0, mask=mask)
    for g, w in zip(got[0], want[0]):
        assert scaled_error(g, w) <= FLOAT32_PARITY
    assert got[1].keys() == want[1].keys()
    for name in got[1]:
        assert scaled_error(got[1][name], want[1][name]) <= FLOAT32_PARITY


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional(cell):
    x, _ = _data()
    keras.utils.set_random_seed(2)
    ours, theirs = PAIRS[cell]
    _compare_layers(
        keras.layers.Bidirectional(ours(H, return_sequences=True)),
        keras.layers.Bidirectional(theirs(H, return_sequences=True)),
        x,
    )


CELL_PAIRS = {
    "rnn": (ScratchRNNCell, keras.layers.SimpleRNNCell),
    "lstm": (ScratchLSTMCell, keras.layers.LSTMCell),
    "gru": (ScratchGRUCell, keras.layers.GRUCell),
}


@pytest.mark.parametrize("cell", CELLS)
def test_cell_in_keras_rnn(cell):
    """`keras.layers.RNN(ScratchRNNCell)` (`ScratchLSTMCell`): Keras's
    loop, the book's step and its handwritten backward at every step."""
    x, _ = _data()
    keras.utils.set_random_seed(3)
    ours, theirs = CELL_PAIRS[cell]
    _compare_layers(
        keras.layers.RNN(ours(H), return_sequences=True),
        keras.layers.RNN(theirs(H), return_sequences=True),
        x,
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stacked_cells_with_dropout(cell):
    """`StackedRNNCells` of two ScratchLSTMCells (ScratchGRUCells),
    recurrent dropout in training (a mask per gate, drawn as Keras's cells
    draw them)."""
    x, _ = _data()
    stacks = []
    for cls in CELL_PAIRS[cell]:
        cells = [
            cls(H, dropout=0.2, recurrent_dropout=0.3, seed=s) for s in (1, 2)
        ]
        stacks.append(
            keras.layers.RNN(
                keras.layers.StackedRNNCells(cells), return_sequences=True
            )
        )
    for layer in stacks:
        layer(x[:1])
    stacks[1].set_weights(stacks[0].get_weights())
    a, b = (
        keras.ops.convert_to_numpy(layer(x, training=True)) for layer in stacks
    )
    assert scaled_error(a, b) <= FLOAT32_PARITY


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_and_reset_state(cell):
    x, _ = _data()
    x = x[:4]
    layers = []
    for cls in PAIRS[cell]:
        layer = cls(H, stateful=True, return_sequences=True)
        layer.build((4, None, D))
        layers.append(layer)
    layers[1].set_weights(layers[0].get_weights())
    n = len(layers[0].states)
    start = [np.full((4, H), 0.3 * (k + 1), "float32") for k in range(n)]
    layers[0].reset_state(start)
    for state, value in zip(layers[1].states, start):
        state.assign(value)  # Keras's reset_state ignores a value
    for chunk in (x[:, :3], x[:, 3:]):
        a, b = (keras.ops.convert_to_numpy(layer(chunk)) for layer in layers)
        assert scaled_error(a, b) <= FLOAT32_PARITY
    for state, value in zip(layers[0].states, layers[1].states):
        assert scaled_error(state, value) <= FLOAT32_PARITY
    layers[0].reset_state()
    for state in layers[0].states:
        assert not np.any(keras.ops.convert_to_numpy(state))
