"""ScratchRNN in place of SimpleRNN: wrappers, conversion, weights files,
saving and serving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn import ScratchRNN
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


@pytest.mark.parametrize("in_function", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional(data, merge_mode, return_state, in_function):
    """Bidirectional(ScratchRNN) == Bidirectional(SimpleRNN): values, grads."""
    x, mask = data
    layers = [
        keras.layers.Bidirectional(
            cls(H, return_sequences=True, return_state=return_state),
            merge_mode=merge_mode,
        )
        for cls in (ScratchRNN, keras.layers.SimpleRNN)
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


def test_stacked_layers_train_like_simple_rnn(data):
    """Two stacked ScratchRNNs train in a Sequential model like SimpleRNNs."""
    x, _ = data
    y = np.sum(np.asarray(x), axis=(1, 2))[:, None] / 10
    models = [_stacked(ScratchRNN), _stacked(keras.layers.SimpleRNN)]
    models[1].set_weights(models[0].get_weights())
    histories = []
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        histories.append(model.fit(x, y, epochs=5, verbose=0).history["loss"])
    assert histories[0][-1] < histories[0][0]
    np.testing.assert_allclose(
        histories[0], histories[1], rtol=TRAINING_LOSS_RTOL
    )


def test_time_distributed_after_scratch_rnn(data):
    """TimeDistributed(Dense) on ScratchRNN's sequence == on SimpleRNN's."""
    x, _ = data
    models = [
        _stacked(ScratchRNN, True),
        _stacked(keras.layers.SimpleRNN, True),
    ]
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


def _functional(cls):
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(0.0)(inputs)
    seq, state = cls(H, return_sequences=True, return_state=True)(masked)
    both = keras.layers.Bidirectional(cls(H))(seq)
    last = cls(H)(seq, initial_state=state)
    merged = keras.layers.Concatenate()([both, last])
    return keras.Model(inputs, keras.layers.Dense(2)(merged))


@pytest.mark.parametrize("build", [_stacked, _functional])
def test_convert_model_both_ways(data, build):
    """convert_model swaps every layer, keeps weights and outputs."""
    x, _ = data
    simple = build(keras.layers.SimpleRNN)
    scratch = interchange.convert_model(simple)
    layer_types = {type(layer) for layer in scratch._flatten_layers()}
    assert ScratchRNN in layer_types
    assert keras.layers.SimpleRNN not in layer_types
    assert scaled_error(scratch(x), simple(x)) <= FLOAT32_PARITY
    back = interchange.convert_model(scratch, to="simple")
    assert ScratchRNN not in {type(la) for la in back._flatten_layers()}
    assert scaled_error(back(x), simple(x)) <= FLOAT32_PARITY
    with pytest.raises(ValueError, match="`to`"):
        interchange.convert_model(simple, to="lstm")


@pytest.mark.parametrize("build", [_stacked, _functional])
@pytest.mark.parametrize("direction", ["simple->scratch", "scratch->simple"])
def test_weights_file_interchange(tmp_path, data, build, direction):
    """A weights file of one version loads into the other version."""
    x, _ = data
    classes = [keras.layers.SimpleRNN, ScratchRNN]
    if direction == "scratch->simple":
        classes.reverse()
    source, target = (build(cls) for cls in classes)
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    interchange.load_weights(target, path)
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert scaled_error(target(x), source(x)) <= FLOAT32_PARITY


def test_plain_load_weights_cannot_cross(tmp_path):
    """Why interchange.load_weights exists: Keras keys entries by class.

    If this starts passing, Keras has changed and the helper can go.
    """
    path = str(tmp_path / "model.weights.h5")
    _stacked(keras.layers.SimpleRNN).save_weights(path)
    with pytest.raises(ValueError, match="could not be loaded"):
        _stacked(ScratchRNN).load_weights(path)


def test_same_class_files_still_load(tmp_path, data):
    """interchange.load_weights on a same-class file is plain load_weights."""
    x, _ = data
    source, target = _stacked(ScratchRNN), _stacked(ScratchRNN)
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
