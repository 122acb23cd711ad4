"""ScratchRNN in place of SimpleRNN, ScratchLSTM in place of LSTM,
ScratchGRU in place of GRU: wrappers, conversion, weights files, saving
and serving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn import ScratchGRU, ScratchLSTM, ScratchRNN
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    TRAINING_LOSS_RTOL,
    scaled_error,
)
from keras_scratch_rnn.tools import interchange

N, T, D, H = 3, 5, 4, 6


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, D)).astype("float32")
    mask = np.ones((N, T), bool)
    mask[0, 0] = mask[1, -1] = mask[2, 1:3] = False
    return tf.constant(x), tf.constant(mask)


def _outputs_and_grads(layer, x, mask, in_function):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outs = tf.nest.flatten(layer(x, mask=mask))
            loss = tf.add_n([tf.reduce_sum(tf.sin(2.0 * o)) for o in outs])
        return outs, tape.gradient(loss, [x, *layer.trainable_weights])

    if in_function:
        run = tf.function(run)
    outs, grads = run(x)
    return [np.asarray(v) for v in [*outs, *grads]]


def _assert_all_close(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert scaled_error(a, b) <= FLOAT32_PARITY


# Each of our layers and the Keras layer it replaces.
PAIRS = {
    "rnn": (ScratchRNN, keras.layers.SimpleRNN),
    "lstm": (ScratchLSTM, keras.layers.LSTM),
    "gru": (ScratchGRU, keras.layers.GRU),
}
# `convert_model`'s way back to Keras's layers ("simple" and "keras" are
# the same; each pair's tests use one).
BACK = {"rnn": "simple", "lstm": "keras", "gru": "keras"}


@pytest.mark.parametrize("in_function", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional(data, merge_mode, return_state, in_function):
    """Bidirectional(ScratchRNN) == Bidirectional(SimpleRNN): values, grads."""
    _check_bidirectional(data, "rnn", merge_mode, return_state, in_function)


# Every merge mode eagerly, two traced (the RNN's above run every one both
# ways; ScratchLSTM's tf.function path is the same ScratchLayer.call).
LSTM_BIDIRECTIONAL = [
    (merge_mode, return_state, False)
    for merge_mode in ("concat", "sum", "mul", "ave", None)
    for return_state in (False, True)
] + [("concat", True, True), (None, False, True)]


@pytest.mark.parametrize(
    "merge_mode, return_state, in_function", LSTM_BIDIRECTIONAL
)
def test_bidirectional_lstm(data, merge_mode, return_state, in_function):
    """Bidirectional(ScratchLSTM) == Bidirectional(LSTM): values, grads
    (with `return_state`, both directions' h and c)."""
    _check_bidirectional(data, "lstm", merge_mode, return_state, in_function)


# A few for ScratchGRU, both forms (its traced path is ScratchLSTM's too).
GRU_BIDIRECTIONAL = [
    ("concat", True, False, True),
    ("sum", False, False, False),
    (None, True, False, False),
    ("ave", False, True, True),
]


@pytest.mark.parametrize(
    "merge_mode, return_state, in_function, reset_after", GRU_BIDIRECTIONAL
)
def test_bidirectional_gru(
    data, merge_mode, return_state, in_function, reset_after
):
    """Bidirectional(ScratchGRU) == Bidirectional(GRU): values, grads
    (with `return_state`, both directions' h), reset_after both ways."""
    _check_bidirectional(
        data,
        "gru",
        merge_mode,
        return_state,
        in_function,
        reset_after=reset_after,
    )


def _check_bidirectional(
    data, pair, merge_mode, return_state, in_function, **kwargs
):
    x, mask = data
    layers = [
        keras.layers.Bidirectional(
            cls(H, return_sequences=True, return_state=return_state, **kwargs),
            merge_mode=merge_mode,
        )
        for cls in PAIRS[pair]
    ]
    for layer in layers:
        layer.build(x.shape)
    layers[1].set_weights(layers[0].get_weights())
    got, want = (
        _outputs_and_grads(layer, x, mask, in_function) for layer in layers
    )
    _assert_all_close(got, want)


def _stacked(cls, time_distributed=False):
    head = keras.layers.Dense(1)
    return keras.Sequential(
        [
            keras.Input((T, D)),
            cls(H, return_sequences=True),
            cls(H, return_sequences=time_distributed),
            keras.layers.TimeDistributed(head) if time_distributed else head,
        ]
    )


@pytest.mark.parametrize("pair", PAIRS)
def test_stacked_layers_train_like_simple_rnn(data, pair):
    """Two stacked ScratchRNNs train in a Sequential model like SimpleRNNs
    (ScratchLSTMs like LSTMs)."""
    x, _ = data
    y = np.sum(np.asarray(x), axis=(1, 2))[:, None] / 10
    # Seeded: from some of the initial weights that unseeded draws gave
    # (by test order), SGD(0.1) raised the loss in 5 epochs.
    keras.utils.set_random_seed(0)
    models = [_stacked(cls) for cls in PAIRS[pair]]
    models[1].set_weights(models[0].get_weights())
    histories = []
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        histories.append(model.fit(x, y, epochs=5, verbose=0).history["loss"])
    assert histories[0][-1] < histories[0][0]
    np.testing.assert_allclose(
        histories[0], histories[1], rtol=TRAINING_LOSS_RTOL
    )


@pytest.mark.parametrize("pair", PAIRS)
def test_time_distributed_after_scratch_rnn(data, pair):
    """TimeDistributed(Dense) on ScratchRNN's sequence == on SimpleRNN's
    (ScratchLSTM's == LSTM's)."""
    x, _ = data
    models = [_stacked(cls, True) for cls in PAIRS[pair]]
    models[1].set_weights(models[0].get_weights())
    got, want = (np.asarray(m(x)) for m in models)
    assert got.shape == (N, T, 1)
    assert scaled_error(got, want) <= FLOAT32_PARITY


CONFIGS = [
    {},
    {"return_sequences": True, "go_backwards": True, "activation": "relu"},
    {"dropout": 0.2, "recurrent_dropout": 0.1, "seed": 9, "use_bias": False},
    {"zero_output_for_mask": True, "return_state": True, "unroll": True},
]


@pytest.mark.parametrize("config", CONFIGS)
def test_from_simple_rnn_and_back(data, config):
    """Configuration (seed included), weights and outputs survive both ways."""
    x, mask = data
    simple = keras.layers.SimpleRNN(H, **config)
    simple(x)
    scratch = ScratchRNN.from_simple_rnn(simple)
    assert isinstance(scratch, ScratchRNN) and scratch.built
    assert scratch.seed == simple.cell.seed
    for key, value in simple.get_config().items():
        if key != "name":
            assert scratch.get_config()[key] == value, key
    for got, want in zip(scratch(x, mask=mask), simple(x, mask=mask)):
        assert scaled_error(got, want) <= FLOAT32_PARITY
    back = scratch.to_simple_rnn()
    assert type(back) is keras.layers.SimpleRNN
    assert back.cell.seed == simple.cell.seed
    for a, b in zip(back.get_weights(), simple.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_conversion_keeps_stored_state_and_unbuilt_layers(data):
    """A stateful layer's state is copied; an unbuilt layer stays unbuilt."""
    x, _ = data
    simple = keras.layers.SimpleRNN(H, stateful=True)
    simple(x)
    scratch = ScratchRNN.from_simple_rnn(simple)
    np.testing.assert_array_equal(scratch.states[0], simple.states[0])
    assert scaled_error(scratch(x), simple(x)) <= FLOAT32_PARITY
    assert not ScratchRNN.from_simple_rnn(keras.layers.SimpleRNN(H)).built
    with pytest.raises(ValueError, match="`layer`"):
        ScratchRNN.from_simple_rnn(keras.layers.LSTM(H))


LSTM_CONFIGS = [
    {},
    {
        "return_sequences": True,
        "go_backwards": True,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
    {"dropout": 0.2, "recurrent_dropout": 0.1, "seed": 9, "use_bias": False},
    {
        "zero_output_for_mask": True,
        "return_state": True,
        "unroll": True,
        "activity_regularizer": "l2",  # LSTM applies it (SimpleRNN not)
    },
    {"unit_forget_bias": False, "use_cudnn": False, "implementation": 1},
]


@pytest.mark.parametrize("config", LSTM_CONFIGS)
def test_from_lstm_and_back(data, config):
    """LSTM -> ScratchLSTM -> LSTM: configuration (seed, use_cudnn and
    implementation included), weights and outputs survive both ways."""
    x, mask = data
    lstm = keras.layers.LSTM(H, **config)
    lstm(x)
    scratch = ScratchLSTM.from_lstm(lstm)
    assert type(scratch) is ScratchLSTM and scratch.built
    assert scratch.seed == lstm.cell.seed
    assert scratch.use_cudnn == lstm.use_cudnn
    assert scratch.cell.implementation == lstm.cell.implementation
    for key, value in lstm.get_config().items():
        if key != "name":
            assert scratch.get_config()[key] == value, key
    got = tf.nest.flatten(scratch(x, mask=mask))
    want = tf.nest.flatten(lstm(x, mask=mask))
    assert len(got) == len(want) == (3 if config.get("return_state") else 1)
    for a, b in zip(got, want):
        assert scaled_error(a, b) <= FLOAT32_PARITY
    assert len(scratch.losses) == len(lstm.losses)
    for a, b in zip(scratch.losses, lstm.losses):
        assert scaled_error(a, b) <= FLOAT32_PARITY
    back = scratch.to_lstm()
    assert type(back) is keras.layers.LSTM
    assert back.cell.seed == lstm.cell.seed
    assert back.use_cudnn == lstm.use_cudnn
    assert back.cell.implementation == lstm.cell.implementation
    assert back.get_config() == {**lstm.get_config(), "name": back.name}
    for a, b in zip(back.get_weights(), lstm.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lstm_conversion_keeps_both_stored_states_and_unbuilt_layers(data):
    """A stateful LSTM's h and c are copied (both ways); an unbuilt layer
    stays unbuilt; anything but an LSTM is refused."""
    x, _ = data
    lstm = keras.layers.LSTM(H, stateful=True)
    lstm(x)
    scratch = ScratchLSTM.from_lstm(lstm)
    assert len(scratch.states) == 2
    for mine, theirs in zip(scratch.states, lstm.states):
        np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(scratch.states[0], scratch.states[1])
    back = scratch.to_lstm()
    for mine, theirs in zip(back.states, lstm.states):
        np.testing.assert_array_equal(mine, theirs)
    want = lstm(x)  # the three start from the same stored states
    assert scaled_error(scratch(x), want) <= FLOAT32_PARITY
    assert scaled_error(back(x), want) <= FLOAT32_PARITY
    assert not ScratchLSTM.from_lstm(keras.layers.LSTM(H)).built
    assert not ScratchLSTM(H).to_lstm().built
    with pytest.raises(ValueError, match="`layer`"):
        ScratchLSTM.from_lstm(keras.layers.SimpleRNN(H))
    with pytest.raises(ValueError, match="`layer`"):
        ScratchLSTM.from_lstm(ScratchLSTM(H))


GRU_CONFIGS = [
    {},
    {
        "reset_after": False,
        "return_sequences": True,
        "go_backwards": True,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
    {"dropout": 0.2, "recurrent_dropout": 0.1, "seed": 9, "use_bias": False},
    {
        "reset_after": False,
        "zero_output_for_mask": True,
        "return_state": True,
        "unroll": True,
        "activity_regularizer": "l2",
    },
    {"use_cudnn": False, "implementation": 1},
]


@pytest.mark.parametrize("config", GRU_CONFIGS)
def test_from_gru_and_back(data, config):
    """GRU -> ScratchGRU -> GRU: configuration (seed, reset_after,
    use_cudnn and implementation included), weights and outputs survive
    both ways."""
    x, mask = data
    gru = keras.layers.GRU(H, **config)
    gru(x)
    scratch = ScratchGRU.from_gru(gru)
    assert type(scratch) is ScratchGRU and scratch.built
    assert scratch.seed == gru.cell.seed
    assert scratch.reset_after == gru.reset_after
    assert scratch.use_cudnn == gru.use_cudnn
    assert scratch.cell.implementation == gru.cell.implementation
    for key, value in gru.get_config().items():
        if key != "name":
            assert scratch.get_config()[key] == value, key
    got = tf.nest.flatten(scratch(x, mask=mask))
    want = tf.nest.flatten(gru(x, mask=mask))
    assert len(got) == len(want) == (2 if config.get("return_state") else 1)
    for a, b in zip(got, want):
        assert scaled_error(a, b) <= FLOAT32_PARITY
    assert len(scratch.losses) == len(gru.losses)
    for a, b in zip(scratch.losses, gru.losses):
        assert scaled_error(a, b) <= FLOAT32_PARITY
    back = scratch.to_gru()
    assert type(back) is keras.layers.GRU
    assert back.cell.seed == gru.cell.seed
    assert back.use_cudnn == gru.use_cudnn
    assert back.cell.implementation == gru.cell.implementation
    assert back.get_config() == {**gru.get_config(), "name": back.name}
    for a, b in zip(back.get_weights(), gru.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gru_conversion_keeps_stored_state_and_unbuilt_layers(data):
    """A stateful GRU's h is copied (both ways); an unbuilt layer stays
    unbuilt; anything but a GRU is refused."""
    x, _ = data
    gru = keras.layers.GRU(H, stateful=True)
    gru(x)
    scratch = ScratchGRU.from_gru(gru)
    assert len(scratch.states) == 1
    np.testing.assert_array_equal(scratch.states[0], gru.states[0])
    back = scratch.to_gru()
    np.testing.assert_array_equal(back.states[0], gru.states[0])
    want = gru(x)  # the three start from the same stored state
    assert scaled_error(scratch(x), want) <= FLOAT32_PARITY
    assert scaled_error(back(x), want) <= FLOAT32_PARITY
    assert not ScratchGRU.from_gru(keras.layers.GRU(H)).built
    assert not ScratchGRU(H).to_gru().built
    with pytest.raises(ValueError, match="`layer`"):
        ScratchGRU.from_gru(keras.layers.LSTM(H))
    with pytest.raises(ValueError, match="`layer`"):
        ScratchGRU.from_gru(ScratchGRU(H))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_model_and_weights_file_both_forms(tmp_path, data, reset_after):
    """convert_model and load_weights with each GRU form (their biases
    differ: (2, 3H) and (3H,)), both ways."""
    x, _ = data

    def build(cls):
        return keras.Sequential(
            [
                keras.Input((T, D)),
                cls(H, reset_after=reset_after, return_sequences=True),
                keras.layers.Bidirectional(cls(H, reset_after=reset_after)),
                keras.layers.Dense(1),
            ]
        )

    keras_model = build(keras.layers.GRU)
    scratch = interchange.convert_model(keras_model)
    assert keras.layers.GRU not in _layer_types(scratch)
    assert all(
        layer.reset_after == reset_after
        for layer in scratch._flatten_layers()
        if isinstance(layer, ScratchGRU)
    )
    assert scaled_error(scratch(x), keras_model(x)) <= FLOAT32_PARITY
    back = interchange.convert_model(scratch, to="keras")
    assert ScratchGRU not in _layer_types(back)
    assert scaled_error(back(x), keras_model(x)) <= FLOAT32_PARITY
    classes = [keras.layers.GRU, ScratchGRU]
    for source, target in (classes, classes[::-1]):
        source, target = build(source), build(target)
        path = str(tmp_path / f"{type(source.layers[0]).__name__}.weights.h5")
        source.save_weights(path)
        interchange.load_weights(target, path)
        for a, b in zip(target.get_weights(), source.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert scaled_error(target(x), source(x)) <= FLOAT32_PARITY


def _functional(cls):
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(0.0)(inputs)
    seq, *states = cls(H, return_sequences=True, return_state=True)(masked)
    both = keras.layers.Bidirectional(cls(H))(seq)
    # SimpleRNN's and GRU's one state as a tensor, LSTM's two as a list.
    last = cls(H)(seq, initial_state=states[0] if len(states) == 1 else states)
    merged = keras.layers.Concatenate()([both, last])
    return keras.Model(inputs, keras.layers.Dense(2)(merged))


def _layer_types(model):
    return {type(layer) for layer in model._flatten_layers()}


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("build", [_stacked, _functional])
def test_convert_model_both_ways(data, build, pair):
    """convert_model swaps every layer, keeps weights and outputs."""
    x, _ = data
    ours, theirs = PAIRS[pair]
    simple = build(theirs)
    scratch = interchange.convert_model(simple)
    layer_types = _layer_types(scratch)
    assert ours in layer_types
    assert theirs not in layer_types
    assert scaled_error(scratch(x), simple(x)) <= FLOAT32_PARITY
    back = interchange.convert_model(scratch, to=BACK[pair])
    assert ours not in _layer_types(back)
    assert theirs in _layer_types(back)
    assert scaled_error(back(x), simple(x)) <= FLOAT32_PARITY
    with pytest.raises(ValueError, match="`to`"):
        interchange.convert_model(simple, to="lstm")


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("build", [_stacked, _functional])
@pytest.mark.parametrize("direction", ["simple->scratch", "scratch->simple"])
def test_weights_file_interchange(tmp_path, data, build, direction, pair):
    """A weights file of one version loads into the other version."""
    x, _ = data
    classes = list(PAIRS[pair])[::-1]  # Keras's, ours
    if direction == "scratch->simple":
        classes.reverse()
    source, target = (build(cls) for cls in classes)
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    interchange.load_weights(target, path)
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert scaled_error(target(x), source(x)) <= FLOAT32_PARITY


@pytest.mark.parametrize("pair", PAIRS)
def test_plain_load_weights_cannot_cross(tmp_path, pair):
    """Why interchange.load_weights exists: Keras keys entries by class.

    If this starts passing, Keras has changed and the helper can go.
    """
    ours, theirs = PAIRS[pair]
    path = str(tmp_path / "model.weights.h5")
    _stacked(theirs).save_weights(path)
    with pytest.raises(ValueError, match="could not be loaded"):
        _stacked(ours).load_weights(path)


@pytest.mark.parametrize("pair", PAIRS)
def test_same_class_files_still_load(tmp_path, data, pair):
    """interchange.load_weights on a same-class file is plain load_weights."""
    x, _ = data
    ours, _ = PAIRS[pair]
    source, target = _stacked(ours), _stacked(ours)
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    interchange.load_weights(target, path)
    np.testing.assert_array_equal(target(x), source(x))


def test_keras_file_keeps_config_weights_and_outputs(tmp_path, data):
    """.keras save/load of a functional model with every kind of use."""
    x, _ = data
    model = _functional(ScratchRNN)
    model.layers[2].cell.seed = 1234  # also check a non-default seed
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x), model(x))
    for a, b in zip(loaded.layers, model.layers):
        assert type(a) is type(b)
        if isinstance(a, ScratchRNN):
            assert a.get_config() == b.get_config()


def test_export_serves_the_same_outputs(tmp_path, data):
    """model.export() to a SavedModel; its `serve` gives the same outputs."""
    x, _ = data
    model = _stacked(ScratchRNN)
    path = str(tmp_path / "exported")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)  # keep it: it owns the variables
    assert scaled_error(reloaded.serve(x), model(x)) <= FLOAT32_PARITY
    other_batch = tf.concat([x, x], axis=0)
    got = reloaded.serve(other_batch)
    assert scaled_error(got, model(other_batch)) <= FLOAT32_PARITY


def test_stateful_saving_keeps_no_state(tmp_path, data):
    """A stateful layer's state is not saved: a reloaded model starts at 0.

    This is SimpleRNN's behaviour too (the state variable is untracked);
    the README says so.
    """
    x, _ = data
    model = keras.Sequential(
        [keras.Input((T, D), batch_size=N), ScratchRNN(H, stateful=True)]
    )
    first = np.asarray(model(x))
    model(x)  # the state moves on
    path = str(tmp_path / "stateful.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x), first)


# --- Both pairs in one model --------------------------------------------


def _mixed(rnn, lstm, nested_lstm=None):
    """A functional model with an RNN, an LSTM, a Bidirectional LSTM and
    a nested Sequential holding another LSTM."""
    inner = keras.Sequential(
        [keras.Input((T, H)), (nested_lstm or lstm)(H, return_sequences=True)]
    )
    inputs = keras.Input((T, D))
    seq = rnn(H, return_sequences=True)(inputs)
    seq, h, c = lstm(H, return_sequences=True, return_state=True)(seq)
    seq = inner(seq)
    both = keras.layers.Bidirectional(lstm(H))(seq, initial_state=[h, c] * 2)
    return keras.Model(inputs, keras.layers.Dense(2)(both))


def test_convert_model_swaps_both_pairs_at_once(data):
    """SimpleRNN and LSTM, nested and in Bidirectional, all swapped (and
    back): same weights, same outputs."""
    x, _ = data
    keras_model = _mixed(keras.layers.SimpleRNN, keras.layers.LSTM)
    scratch = interchange.convert_model(keras_model)
    types_ = _layer_types(scratch)
    assert {ScratchRNN, ScratchLSTM} <= types_
    assert not types_ & {keras.layers.SimpleRNN, keras.layers.LSTM}
    assert scaled_error(scratch(x), keras_model(x)) <= FLOAT32_PARITY
    for to in ("keras", "simple"):  # the same
        back = interchange.convert_model(scratch, to=to)
        types_ = _layer_types(back)
        assert {keras.layers.SimpleRNN, keras.layers.LSTM} <= types_
        assert not types_ & {ScratchRNN, ScratchLSTM}
        assert scaled_error(back(x), keras_model(x)) <= FLOAT32_PARITY


_SIMPLE, _LSTM = keras.layers.SimpleRNN, keras.layers.LSTM
MIXED = {
    "SimpleRNN+LSTM": (_SIMPLE, _LSTM),
    "ScratchRNN+ScratchLSTM": (ScratchRNN, ScratchLSTM),
    "ScratchRNN+LSTM": (ScratchRNN, _LSTM),
    "SimpleRNN+ScratchLSTM": (_SIMPLE, ScratchLSTM),
}


@pytest.mark.parametrize(
    "source, target",
    [
        ("SimpleRNN+LSTM", "ScratchRNN+ScratchLSTM"),
        ("ScratchRNN+ScratchLSTM", "SimpleRNN+LSTM"),
        ("ScratchRNN+LSTM", "SimpleRNN+ScratchLSTM"),
        ("SimpleRNN+LSTM", "SimpleRNN+ScratchLSTM"),
    ],
)
def test_weights_file_of_both_pairs(tmp_path, data, source, target):
    """Both pairs' entries are renamed in one file, nested models too."""
    x, _ = data
    source, target = _mixed(*MIXED[source]), _mixed(*MIXED[target])
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    interchange.load_weights(target, path)
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert scaled_error(target(x), source(x)) <= FLOAT32_PARITY


def test_a_pair_the_model_mixes_is_left_as_it_is(tmp_path, data):
    """A model with both LSTM and ScratchLSTM: the LSTM entries are not
    renamed (the file is from the same model), the RNN ones are."""
    x, _ = data
    source = _mixed(keras.layers.SimpleRNN, keras.layers.LSTM, ScratchLSTM)
    target = _mixed(ScratchRNN, keras.layers.LSTM, ScratchLSTM)
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    interchange.load_weights(target, path)
    np.testing.assert_array_equal(target(x), source(x))


@keras.saving.register_keras_serializable(package="test_interchange")
class _Encoder(keras.layers.Layer):
    """A custom layer whose LSTM is an attribute: its weights file entry
    is named `lstm` after the attribute, not after the class."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lstm = keras.layers.LSTM(H, return_sequences=True)

    def build(self, shape):
        self.lstm.build(shape)

    def call(self, x):
        return self.lstm(x)


def test_attribute_named_lstm_is_not_renamed(tmp_path, data):
    """Only entries of a `layers` list are named after the class; a custom
    layer's attribute `lstm` keeps its name while the model's LSTM swaps."""
    x, _ = data
    models = [
        keras.Sequential(
            [keras.Input((T, D)), _Encoder(), cls(H), keras.layers.Dense(1)]
        )
        for cls in (keras.layers.LSTM, ScratchLSTM)
    ]
    path = str(tmp_path / "model.weights.h5")
    models[0].save_weights(path)
    interchange.load_weights(models[1], path)
    for a, b in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert scaled_error(models[1](x), models[0](x)) <= FLOAT32_PARITY
