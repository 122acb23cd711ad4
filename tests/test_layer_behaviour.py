"""ScratchRNN behaves as a drop-in `keras.layers.SimpleRNN`.

Constructor, weights, config, saving, symbolic use, errors, stateful use,
regularizers/constraints, masked NaN padding and training, each compared
with SimpleRNN where SimpleRNN is right. Where it is not (seed lost from the
config, `reset_state(states)`, stateful batch-size broadcast, NaN gradients
from masked padding, dropped `activity_regularizer`), the test asserts our
fix and, where cheap, pins the Keras behaviour so that a Keras fix shows up.
The big output/gradient parity product lives in test_parity.py.
"""

import inspect
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn import ScratchRNN, ScratchRNNCell
from keras_scratch_rnn.layers import scratch_rnn_cell
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error

SEED = 0
N, T, D, H = 3, 5, 2, 4

# Arguments with a non-default value for every weight option.
RICH_CELL_KWARGS = {
    "activation": "relu",
    "use_bias": True,
    "kernel_initializer": keras.initializers.RandomNormal(seed=1),
    "recurrent_initializer": "identity",
    "bias_initializer": "ones",
    "kernel_regularizer": keras.regularizers.L2(0.01),
    "recurrent_regularizer": keras.regularizers.L1(0.02),
    "bias_regularizer": keras.regularizers.L1L2(0.03, 0.04),
    "kernel_constraint": keras.constraints.MaxNorm(2.0),
    "recurrent_constraint": keras.constraints.NonNeg(),
    "bias_constraint": keras.constraints.UnitNorm(),
    "dropout": 0.25,
    "recurrent_dropout": 0.5,
    "seed": 7,
}
RICH_LAYER_KWARGS = {
    **RICH_CELL_KWARGS,
    "activity_regularizer": keras.regularizers.L2(0.05),
    "return_sequences": True,
    "return_state": True,
    "go_backwards": True,
    "unroll": True,
    "zero_output_for_mask": True,
}


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Keras/TF/NumPy seeds (initializers)."""
    keras.utils.set_random_seed(SEED)


def sequences(n=N, t=T, d=D, seed=SEED):
    """Random float32 inputs `(n, t, d)`."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, t, d)).astype("float32")


def assert_parity(actual, expected):
    err = scaled_error(actual, expected)
    assert err <= FLOAT32_PARITY, f"scaled error {err:.2e}"


def layer_pair(shape=(N, T, D), **kwargs):
    """`(ours, simple)`, built on `shape`, ours holding simple's weights."""
    simple = keras.layers.SimpleRNN(H, **kwargs)
    simple.build(shape)
    ours = ScratchRNN(H, **kwargs)
    ours.build(shape)
    ours.set_weights(simple.get_weights())
    return ours, simple


def json_config(obj):
    return json.dumps(obj.get_config(), sort_keys=True)


def serialized(objects):
    return [keras.saving.serialize_keras_object(o) for o in objects]


def state(layer):
    return layer.states[0].numpy().copy()


# --- 1. Constructor ----------------------------------------------------------


def _params(cls):
    return list(inspect.signature(cls.__init__).parameters.values())


def test_constructor_signature_matches_simple_rnn():
    """Same names, order, kinds and defaults; plus zero_output_for_mask."""
    ours = _params(ScratchRNN)
    names = [p.name for p in ours]
    extra = ours.pop(names.index("zero_output_for_mask"))
    assert names.index("zero_output_for_mask") == names.index("seed") + 1
    assert extra.default is False
    assert extra.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert ours == _params(keras.layers.SimpleRNN)


def test_cell_constructor_signature_matches_simple_rnn_cell():
    """ScratchRNNCell takes exactly SimpleRNNCell's arguments."""
    assert _params(ScratchRNNCell) == _params(keras.layers.SimpleRNNCell)


@pytest.mark.parametrize("cls", [ScratchRNN, ScratchRNNCell])
@pytest.mark.parametrize("units", [0, -3, "3", 2.5, True])
def test_invalid_units_raise(units, cls):
    """Non-positive, non-integer and bool units raise a ValueError.

    (SimpleRNN raises a TypeError for "3" and accepts True as 1.)
    """
    with pytest.raises(ValueError, match="`units`"):
        cls(units)


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_dropout_rates_like_simple_rnn(rate):
    """Rates in [0, 1] read back as SimpleRNN's; rate 1 drops everything in
    training exactly as SimpleRNN does. (A rate outside [0, 1], which
    SimpleRNN clips, raises: see backends/test_errors.py.)"""
    kwargs = {"dropout": rate, "recurrent_dropout": rate, "seed": 3}
    ours, simple = layer_pair(return_sequences=True, **kwargs)
    assert ours.dropout == simple.dropout == rate
    assert ours.recurrent_dropout == simple.recurrent_dropout == rate
    if rate == 1.0:
        x = sequences()
        assert_parity(ours(x, training=True), simple(x, training=True))


def test_properties_match_simple_rnn():
    """Each constructor argument reads back as SimpleRNN's does."""
    ours = ScratchRNN(H, **RICH_CELL_KWARGS)
    simple = keras.layers.SimpleRNN(H, **RICH_CELL_KWARGS)
    assert ours.units == simple.units == H
    assert ours.activation is simple.activation is keras.activations.relu
    assert ours.use_bias is simple.use_bias
    assert ours.dropout == simple.dropout
    assert ours.recurrent_dropout == simple.recurrent_dropout
    assert ours.seed == simple.cell.seed == 7  # SimpleRNN has no `seed`
    for kind in ("initializer", "regularizer", "constraint"):
        names = [f"{w}_{kind}" for w in ("kernel", "recurrent", "bias")]
        ours_values = [getattr(ours, name) for name in names]
        simple_values = [getattr(simple, name) for name in names]
        assert serialized(ours_values) == serialized(simple_values), kind


@pytest.mark.parametrize("cls", [ScratchRNN, ScratchRNNCell])
def test_non_shape_preserving_activation_raises(cls):
    """glu maps (batch, 4) to (batch, 2): rejected when constructed.

    (SimpleRNN accepts it and fails at call time inside a matmul.)
    """
    with pytest.raises(ValueError, match="`activation`"):
        cls(4, activation=keras.activations.glu)


def test_softmax_activation_matches_simple_rnn():
    """A shape-preserving activation without handwritten derivative works."""
    ours, simple = layer_pair(activation="softmax", return_sequences=True)
    x = sequences()
    assert_parity(ours(x), simple(x))


# --- 2. Weights --------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
def test_weights_match_simple_rnn(use_bias):
    """Same names, order and shapes; on `layer.cell`; paths name the cell."""
    ours, simple = layer_pair(use_bias=use_bias)
    names = ["kernel", "recurrent_kernel", "bias"][: 3 if use_bias else 2]
    assert [w.name for w in ours.weights] == names
    assert [w.name for w in simple.weights] == names
    shapes = [(D, H), (H, H), (H,)][: len(names)]
    assert [tuple(w.shape) for w in ours.weights] == shapes
    assert [tuple(w.shape) for w in simple.weights] == shapes
    assert [id(w) for w in ours.weights] == [id(w) for w in ours.cell.weights]
    assert ours.trainable_weights == ours.weights
    for w, name in zip(ours.weights, names):
        assert w.path.endswith(f"scratch_rnn_cell/{name}"), w.path


def test_set_weights_both_ways():
    """Weights copied either way hold the same values and give the same
    outputs."""
    x = sequences()
    simple = keras.layers.SimpleRNN(H, return_sequences=True)
    ours = ScratchRNN(H, return_sequences=True)
    ours.build(x.shape)
    simple.build(x.shape)
    ours.set_weights(simple.get_weights())
    for a, b in zip(ours.get_weights(), simple.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_parity(ours(x), simple(x))

    ours = ScratchRNN(H, return_sequences=True, bias_initializer="ones")
    simple = keras.layers.SimpleRNN(H, return_sequences=True)
    ours.build(x.shape)
    simple.build(x.shape)
    simple.set_weights(ours.get_weights())
    for a, b in zip(simple.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_parity(ours(x), simple(x))


# --- 3. Config and serialization --------------------------------------------


def test_config_keys_are_simple_rnn_keys_plus_seed():
    """get_config has SimpleRNN's keys and `seed`, nothing else."""
    ours = ScratchRNN(H, seed=3).get_config()
    simple = keras.layers.SimpleRNN(H, seed=3).get_config()
    assert set(ours) == set(simple) | {"seed"}
    assert "seed" not in simple  # Keras bug 23657
    assert ours["seed"] == 3


def test_cell_config_keys_match_simple_rnn_cell():
    """ScratchRNNCell's config keys equal SimpleRNNCell's (seed included)."""
    ours = ScratchRNNCell(H, seed=3).get_config()
    simple = keras.layers.SimpleRNNCell(H, seed=3).get_config()
    assert set(ours) == set(simple)
    assert ours["seed"] == simple["seed"] == 3


@pytest.mark.parametrize(
    "cls, kwargs",
    [(ScratchRNN, RICH_LAYER_KWARGS), (ScratchRNNCell, RICH_CELL_KWARGS)],
    ids=["layer", "cell"],
)
def test_from_config_round_trip(cls, kwargs):
    """from_config(get_config()) gives the identical config, seed kept."""
    original = cls(H, **kwargs)
    restored = cls.from_config(original.get_config())
    assert json_config(restored) == json_config(original)
    assert restored.seed == 7
    if cls is ScratchRNN:
        assert restored.activity_regularizer is not None


def test_simple_rnn_from_config_loses_seed():
    """Pins Keras bug 23657 (a reloaded SimpleRNN forgets its seed); if
    this fails, Keras fixed it."""
    simple = keras.layers.SimpleRNN(H, seed=7)
    restored = keras.layers.SimpleRNN.from_config(simple.get_config())
    assert restored.cell.seed is None


@pytest.mark.parametrize(
    "cls, kwargs",
    [(ScratchRNN, RICH_LAYER_KWARGS), (ScratchRNNCell, RICH_CELL_KWARGS)],
    ids=["layer", "cell"],
)
def test_keras_serialization_round_trip(cls, kwargs):
    """serialize/deserialize_keras_object find the registered class."""
    original = cls(H, **kwargs)
    data = keras.saving.serialize_keras_object(original)
    assert data["registered_name"] == f"keras_scratch_rnn>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(data))
    )
    assert type(restored) is cls
    assert json_config(restored) == json_config(original)


# --- 4. Saving ---------------------------------------------------------------


def test_sequential_keras_file_round_trip(tmp_path):
    """A stacked Sequential model reloads with identical outputs, classes
    and configs (seed included)."""
    model = keras.Sequential(
        [
            keras.Input((T, D)),
            ScratchRNN(H, return_sequences=True, seed=11),
            ScratchRNN(H, dropout=0.5, seed=12),
            keras.layers.Dense(1),
        ]
    )
    x = sequences()
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    assert [type(layer) for layer in reloaded.layers[:2]] == [ScratchRNN] * 2
    for old, new in zip(model.layers, reloaded.layers):
        assert json_config(new) == json_config(old)
    assert [layer.seed for layer in reloaded.layers[:2]] == [11, 12]


def test_functional_masked_keras_file_round_trip(tmp_path):
    """Embedding(mask_zero) -> ScratchRNN reloads with identical outputs."""
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, D, mask_zero=True)(tokens)
    model = keras.Model(tokens, ScratchRNN(H, return_sequences=True)(embedded))
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 1]])
    expected = model.predict(x, verbose=0)
    # The mask reached the RNN: a padded step repeats the previous output.
    np.testing.assert_array_equal(expected[1, 2:], expected[1, [1, 1, 1]])
    path = tmp_path / "masked.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    assert type(reloaded.layers[-1]) is ScratchRNN


# --- 5. Symbolic use ---------------------------------------------------------


def _shapes(outputs):
    return keras.tree.map_structure(lambda t: tuple(t.shape), outputs)


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_symbolic_output_shapes(return_sequences, return_state):
    """On keras.Input((None, D)) and in compute_output_shape, the shapes
    equal SimpleRNN's."""
    kwargs = {
        "return_sequences": return_sequences,
        "return_state": return_state,
    }
    ours = ScratchRNN(H, **kwargs)
    simple = keras.layers.SimpleRNN(H, **kwargs)
    inputs = keras.Input((None, D))
    expected = (None, None, H) if return_sequences else (None, H)
    if return_state:
        expected = (expected, (None, H))
    assert _shapes(ours(inputs)) == _shapes(simple(inputs)) == expected
    for shape in [(N, None, D), (None, T, D)]:
        assert ours.compute_output_shape(shape) == simple.compute_output_shape(
            shape
        )


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_compute_mask_matches_simple_rnn(return_sequences, return_state):
    """The mask is passed on only with return_sequences, like SimpleRNN."""
    kwargs = {
        "return_sequences": return_sequences,
        "return_state": return_state,
    }
    ours = ScratchRNN(H, **kwargs)
    simple = keras.layers.SimpleRNN(H, **kwargs)
    x = sequences()
    mask = np.ones((N, T), dtype=bool)
    mask[0, 3:] = False
    ours_mask = ours.compute_mask(x, mask)
    simple_mask = simple.compute_mask(x, mask)
    output_mask = mask if return_sequences else None
    for actual in (ours_mask, simple_mask):
        if return_state:
            assert isinstance(actual, list)
            assert len(actual) == 2
            assert actual[0] is output_mask
            assert actual[1] is None
        else:
            assert actual is output_mask


def test_variable_timesteps():
    """One layer, several sequence lengths: eagerly and in a model."""
    ours, simple = layer_pair(return_sequences=True)
    for t in (1, 3, 7):
        x = sequences(t=t)
        assert_parity(ours(x), simple(x))
    model = keras.Sequential([keras.Input((None, D)), ours])
    for t in (2, 6):
        x = sequences(t=t)
        assert_parity(model.predict(x, verbose=0), simple(x))


@pytest.mark.parametrize("cls", [ScratchRNN, keras.layers.SimpleRNN])
def test_unroll_needs_static_timesteps(cls):
    """unroll=True with an unknown T raises the same ValueError as
    SimpleRNN when traced."""
    layer = cls(H, unroll=True)
    layer.build((None, T, D))
    traced = tf.function(
        layer, input_signature=[tf.TensorSpec((None, None, D), "float32")]
    )
    with pytest.raises(ValueError, match="Cannot unroll"):
        traced.get_concrete_function()


# --- 6. Errors ---------------------------------------------------------------


def test_rank_2_input_raises_before_build():
    """A 2D input raises a ValueError naming ndim 3; nothing is built."""
    layer = ScratchRNN(H)
    with pytest.raises(ValueError, match="ndim=3"):
        layer(sequences()[:, 0])
    assert not layer.built
    assert layer.weights == []


BAD_CALLS = {
    "rank_2": (lambda x: (x[:, 0], {}), "ndim=3"),
    "features": (
        lambda x: (np.concatenate([x, x], axis=-1), {}),
        rf"axis -1 of input shape to have value {D}",
    ),
    "initial_state_units": (
        lambda x: (x, {"initial_state": np.zeros((N, H + 1), "float32")}),
        "`initial_state`",
    ),
    "initial_state_rank": (
        lambda x: (x, {"initial_state": np.zeros((N,), "float32")}),
        "`initial_state`",
    ),
    "initial_state_list_of_2": (
        lambda x: (x, {"initial_state": [np.zeros((N, H), "float32")] * 2}),
        "`initial_state`",
    ),
    "initial_state_batch": (
        lambda x: (x, {"initial_state": np.zeros((1, H), "float32")}),
        "`initial_state`",
    ),
    "no_timesteps": (lambda x: (x[:, :0], {}), "no timesteps"),
}


def test_initial_state_batch_mismatch_raises_in_tf_function():
    """Unknown batch while tracing: a runtime error, never a broadcast."""
    layer = ScratchRNN(H)
    spec = [tf.TensorSpec((None, None, D)), tf.TensorSpec((None, H))]

    @tf.function(input_signature=spec)
    def call(x, h):
        return layer(x, initial_state=h)

    x = sequences()
    assert call(x, np.zeros((N, H), "float32")).shape == (N, H)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one row per"):
        call(x, np.zeros((1, H), "float32"))


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_call_raises_before_any_state_change(case):
    """A clear ValueError; the weights and the stored state are unchanged."""
    make_args, message = BAD_CALLS[case]
    layer = ScratchRNN(H, stateful=True)
    x = sequences()
    layer(x)
    weights = layer.get_weights()
    stored = state(layer)
    args, kwargs = make_args(x)
    with pytest.raises(ValueError, match=message):
        layer(args, **kwargs)
    np.testing.assert_array_equal(state(layer), stored)
    for a, b in zip(layer.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_unsupported_backend_is_refused(monkeypatch):
    """Under a backend with no ops here, a RuntimeError tells how to fix
    it."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "openvino")
    pattern = r"(?s)(?=.*openvino)(?=.*'jax')(?=.*KERAS_BACKEND)"
    with pytest.raises(RuntimeError, match=pattern):
        scratch_rnn_cell.check_backend()
    with pytest.raises(RuntimeError, match=pattern):
        ScratchRNN(H)
    with pytest.raises(RuntimeError, match=pattern):
        ScratchRNNCell(H)


# --- 7. Stateful -------------------------------------------------------------


@pytest.mark.parametrize("cls", [ScratchRNN, keras.layers.SimpleRNN])
def test_stateful_needs_static_batch_size(cls):
    """Without batch_size on the Input, both raise at build."""
    with pytest.raises(ValueError, match="batch size"):
        cls(H, stateful=True)(keras.Input((None, D)))


def test_stateful_state_is_a_non_trainable_variable():
    """The state is a non-trainable Variable, not among the weights."""
    ours, simple = layer_pair(stateful=True)
    for layer in (ours, simple):
        (variable,) = layer.states
        assert isinstance(variable, keras.Variable)
        assert not variable.trainable
        assert tuple(variable.shape) == (N, H)
        assert all(variable is not w for w in layer.weights)
    assert len(ours.trainable_weights) == len(simple.trainable_weights) == 3


def test_stateful_chunks_equal_one_call_and_simple_rnn():
    """Two consecutive chunks equal the whole sequence and SimpleRNN."""
    ours, simple = layer_pair(stateful=True, return_sequences=True)
    whole = ScratchRNN(H, return_sequences=True)
    whole.build((N, T, D))
    whole.set_weights(simple.get_weights())
    x = sequences()
    ours_chunks = [ours(x[:, :2]), ours(x[:, 2:])]
    simple_chunks = [simple(x[:, :2]), simple(x[:, 2:])]
    ours_output = np.concatenate(ours_chunks, axis=1)
    assert_parity(ours_output, whole(x))
    assert_parity(ours_output, np.concatenate(simple_chunks, axis=1))
    assert_parity(state(ours), state(simple))


@pytest.mark.parametrize("method", ["reset_state", "reset_states"])
def test_reset_state_zeroes(method):
    """reset_state() and its alias reset_states() zero the state."""
    layer = ScratchRNN(H, stateful=True)
    layer(sequences())
    assert np.any(state(layer) != 0)
    getattr(layer, method)()
    np.testing.assert_array_equal(state(layer), np.zeros((N, H)))


@pytest.mark.parametrize("as_list", [False, True])
def test_reset_state_sets_states(as_list):
    """reset_state(states=h) sets the state: the next call starts from h.

    (SimpleRNN documents this argument but raises a TypeError.)
    """
    ours, _ = layer_pair(stateful=True)
    plain = ScratchRNN(H)
    plain.build((N, T, D))
    plain.set_weights(ours.get_weights())
    x = sequences()
    h = np.random.default_rng(SEED + 1).normal(size=(N, H)).astype("float32")
    ours(x)
    ours.reset_state(states=[h] if as_list else h)
    np.testing.assert_array_equal(state(ours), h)
    assert_parity(ours(x), plain(x, initial_state=h))


@pytest.mark.parametrize(
    "states",
    [np.zeros((N + 1, H)), np.zeros((N, H + 1)), [np.zeros((N, H))] * 2],
    ids=["batch", "units", "list_of_2"],
)
def test_reset_state_rejects_wrong_states(states):
    """Wrong states raise a ValueError naming `states`, state unchanged."""
    layer = ScratchRNN(H, stateful=True)
    layer(sequences())
    stored = state(layer)
    with pytest.raises(ValueError, match="`states`"):
        layer.reset_state(states=states)
    np.testing.assert_array_equal(state(layer), stored)


def test_reset_state_with_states_needs_a_stateful_layer():
    """Passing states to a non-stateful layer raises a clear ValueError."""
    layer = ScratchRNN(H)
    layer(sequences())
    with pytest.raises(ValueError, match=r"`states`.*not stateful"):
        layer.reset_state(states=np.zeros((N, H)))


def test_reset_state_with_states_needs_a_built_layer():
    """Before the first call there is no state to set: ValueError."""
    with pytest.raises(ValueError, match="`states`"):
        ScratchRNN(H, stateful=True).reset_state(states=np.zeros((N, H)))


@pytest.mark.parametrize("built", [False, True])
def test_reset_state_without_state_is_a_noop(built):
    """reset_state() on a non-stateful layer does nothing, like SimpleRNN."""
    ours, simple = ScratchRNN(H), keras.layers.SimpleRNN(H)
    if built:
        ours, simple = layer_pair()
    for layer in (ours, simple):
        weights = layer.get_weights()
        layer.reset_state()
        layer.reset_states()
        assert layer.states is None
        for a, b in zip(layer.get_weights(), weights):
            np.testing.assert_array_equal(a, b)


def test_stateful_other_batch_size_raises_eagerly():
    """An eager call with another batch size raises; state unchanged."""
    layer = ScratchRNN(H, stateful=True)
    x = sequences()
    layer(x)
    stored = state(layer)
    with pytest.raises(ValueError, match=f"batch size of {N}"):
        layer(x[:1])
    np.testing.assert_array_equal(state(layer), stored)


def test_stateful_other_batch_size_raises_in_tf_function():
    """Traced with an unknown batch, another batch size fails at run time
    and leaves the state unchanged; the right size still runs."""
    layer = ScratchRNN(H, stateful=True)
    x = sequences()
    layer(x)
    stored = state(layer)
    traced = tf.function(
        layer,
        input_signature=[tf.TensorSpec((None, None, D), "float32")],
        reduce_retracing=True,
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch size"):
        traced(x[:2])
    np.testing.assert_array_equal(state(layer), stored)
    assert tuple(traced(x).shape) == (N, H)
    assert np.any(state(layer) != stored)


def _stateful_model(cls):
    return keras.Sequential(
        [keras.Input((T, D), batch_size=2), cls(H, stateful=True)]
    )


def test_stateful_predict_incomplete_last_batch_raises():
    """predict(5 samples, batch_size=2) raises instead of returning 6 rows
    (Keras bug 21183)."""
    model = _stateful_model(ScratchRNN)
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch size"):
        model.predict(sequences(n=5), batch_size=2, verbose=0)
    outputs = model.predict(sequences(n=4), batch_size=2, verbose=0)
    assert outputs.shape == (4, H)


def test_simple_rnn_stateful_predict_returns_extra_rows():
    """Pins Keras bug 21183 (the last batch of 1 is broadcast to 2 rows);
    if this fails, Keras fixed it."""
    model = _stateful_model(keras.layers.SimpleRNN)
    outputs = model.predict(sequences(n=5), batch_size=2, verbose=0)
    assert outputs.shape == (6, H)


# --- 8. Regularizers and constraints -----------------------------------------


def test_weight_regularizer_losses_match_simple_rnn():
    """Kernel, recurrent and bias penalties equal SimpleRNN's."""
    ours, simple = layer_pair(
        kernel_regularizer=keras.regularizers.L2(0.1),
        recurrent_regularizer=keras.regularizers.L1(0.2),
        bias_regularizer=keras.regularizers.L1L2(0.3, 0.4),
        bias_initializer="ones",
    )
    x = sequences()
    ours(x)
    simple(x)
    assert len(ours.losses) == len(simple.losses) == 3
    for a, b in zip(ours.losses, simple.losses):
        assert_parity(a, b)


def test_activity_regularizer_is_applied():
    """The output penalty lands in `losses`, divided by the batch size as
    keras.layers.Layer does for every layer.

    SimpleRNN drops the argument (its `activity_regularizer` is None).
    """
    regularizer = keras.regularizers.L2(0.5)
    ours, simple = layer_pair(activity_regularizer=regularizer)
    x = sequences()
    output = ours(x)
    simple(x)
    (loss,) = ours.losses
    assert_parity(loss, regularizer(output) / N)
    assert float(loss) > 0
    assert simple.activity_regularizer is None
    assert simple.losses == []


def _one_sgd_step(cls, weights, compile_kwargs, **kwargs):
    """A Sequential cls -> Dense model after one SGD step on one batch."""
    model = keras.Sequential(
        [keras.Input((T, D)), cls(H, **kwargs), keras.layers.Dense(1)]
    )
    if weights is not None:
        model.set_weights(weights)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="mse", **compile_kwargs
    )
    x = sequences(n=4)
    y = np.random.default_rng(SEED + 1).normal(size=(4, 1)).astype("float32")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return model


def test_constraints_after_fit_match_simple_rnn():
    """Constraints clip the trained weights exactly as in SimpleRNN."""
    kwargs = {
        "kernel_constraint": keras.constraints.MaxNorm(0.1),
        "recurrent_constraint": keras.constraints.NonNeg(),
        "bias_constraint": keras.constraints.MaxNorm(0.01),
        "bias_initializer": "ones",
    }
    compile_kwargs = {"jit_compile": False}
    initial = keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.SimpleRNN(H, bias_initializer="ones"),
            keras.layers.Dense(1),
        ]
    ).get_weights()
    # The start violates every constraint, so each one has work to do.
    assert np.linalg.norm(initial[0], axis=0).max() > 0.1
    assert initial[1].min() < 0
    assert np.linalg.norm(initial[2]) > 0.01
    ours = _one_sgd_step(ScratchRNN, initial, compile_kwargs, **kwargs)
    simple = _one_sgd_step(
        keras.layers.SimpleRNN, initial, compile_kwargs, **kwargs
    )
    kernel, recurrent_kernel, bias = ours.layers[0].get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.1 + 1e-6
    assert recurrent_kernel.min() >= 0
    assert np.linalg.norm(bias) <= 0.01 + 1e-6
    for a, b in zip(ours.get_weights(), simple.get_weights()):
        assert_parity(a, b)


# --- 9. NaN in masked padding ------------------------------------------------


def _masked_run(layer, x, mask):
    """Outputs and weight gradients of a weighted sum of the outputs."""
    G = np.random.default_rng(SEED + 2).normal(size=(N, T, H))
    with tf.GradientTape() as tape:
        outputs = layer(x, mask=mask)
        loss = tf.reduce_sum(outputs * G.astype("float32"))
    grads = tape.gradient(loss, layer.trainable_weights)
    return outputs.numpy(), [g.numpy() for g in grads]


def test_nan_in_masked_padding():
    """NaN at masked steps: our outputs and gradients equal those with
    zero padding, all finite. SimpleRNN's outputs are fine but its weight
    gradients are NaN (pinned, so a Keras fix shows up)."""
    x = sequences()
    mask = np.ones((N, T), dtype=bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    x_zero = np.where(mask[..., None], x, 0).astype("float32")
    x_nan = np.where(mask[..., None], x, np.nan).astype("float32")
    ours, simple = layer_pair(return_sequences=True)

    zero_outputs, zero_grads = _masked_run(ours, x_zero, mask)
    nan_outputs, nan_grads = _masked_run(ours, x_nan, mask)
    np.testing.assert_array_equal(nan_outputs, zero_outputs)
    for nan_grad, zero_grad in zip(nan_grads, zero_grads):
        assert np.isfinite(nan_grad).all()
        np.testing.assert_array_equal(nan_grad, zero_grad)
    assert_parity(zero_outputs, simple(x_zero, mask=mask))

    simple_outputs, simple_grads = _masked_run(simple, x_nan, mask)
    assert_parity(nan_outputs, simple_outputs)
    assert np.isnan(simple_grads[0]).any()  # SimpleRNN's kernel gradient


# --- 10. Training ------------------------------------------------------------


def test_fit_reduces_the_loss():
    """model.fit learns a tiny task: the mean of the inputs."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(64, T, D)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None]
    model = keras.Sequential(
        [keras.Input((T, D)), ScratchRNN(8), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize(
    "compile_kwargs",
    [{"jit_compile": False}, {"run_eagerly": True}],
    ids=["graph", "eager"],
)
def test_sgd_step_matches_simple_rnn(compile_kwargs):
    """One SGD step updates every weight as with SimpleRNN."""
    kwargs = {"bias_initializer": "ones"}
    initial = keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.SimpleRNN(H, **kwargs),
            keras.layers.Dense(1),
        ]
    ).get_weights()
    ours = _one_sgd_step(ScratchRNN, initial, compile_kwargs, **kwargs)
    simple = _one_sgd_step(
        keras.layers.SimpleRNN, initial, compile_kwargs, **kwargs
    )
    for before, after in zip(initial, ours.get_weights()):
        assert np.any(before != after)
    for a, b in zip(ours.get_weights(), simple.get_weights()):
        assert_parity(a, b)
