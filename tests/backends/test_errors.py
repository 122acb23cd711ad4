"""Every bad argument of the public API raises a clear error, first.

One table, `CASES`: each row performs one bad call and names the exception
and a pattern of its message, which always names the argument (Keras's
house style: "Received an invalid value for argument `units`, expected a
positive integer, got 0."). The one test that runs the table also checks
that nothing the user had changed: the weights and stored state of the
shared layers, the weights of the shared model and the metric's totals.

It runs on every backend. On TensorFlow the table has more rows: inside a
`tf.function` a check on a known shape or dtype raises while tracing, as
eagerly; a shape known only at run time (only TensorFlow has those) fails
at run time with the check's message (`tf.errors.InvalidArgumentError`),
before any op sees the bad tensor.
"""

import types
from collections import namedtuple

import h5py
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
from keras_scratch_rnn.tools import interchange
from keras_scratch_rnn.tools.tbptt import (
    Perplexity,
    ResetStates,
    TBPTTBatches,
    reset_rnn_states,
    tbptt_batch,
)

N, T, D, H = 2, 5, 3, 4
V = 7  # vocabulary of the Perplexity cases

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf

    RUN_TIME = tf.errors.InvalidArgumentError


def _numpy(t):
    return keras.ops.convert_to_numpy(t)


def _x(n=N, t=T, d=D, dtype="float32"):
    return np.random.default_rng(0).normal(size=(n, t, d)).astype(dtype)


def _strings(*shape):
    return np.full(shape, "a")


def _h(n=N, units=H):
    """One state, `(batch, units)`: the RNN's or GRU's h, or the LSTM's h
    or c."""
    return np.zeros((n, units), "float32")


def _rnn_model(cls, d=D, rnn=None):
    return keras.Sequential(
        [keras.Input((T, d)), rnn or cls(H), keras.layers.Dense(1)]
    )


class _Subclassed(keras.Model):
    def call(self, x):
        return x


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    """The layers, model, files and traced functions the cases share."""
    keras.utils.set_random_seed(0)
    ns = types.SimpleNamespace()
    x = _x()
    ns.layer = ScratchRNN(H)
    ns.layer(x)
    ns.stateful = ScratchRNN(H, stateful=True)
    ns.stateful(x)
    ns.cell = ScratchRNNCell(H)
    ns.cell(x[:, 0], [np.zeros((N, H), "float32")])
    ns.regularized = ScratchRNN(H, activity_regularizer="l2")
    ns.model = _rnn_model(ScratchRNN)
    ns.lstm = ScratchLSTM(H)
    ns.lstm(x)
    ns.lstm_stateful = ScratchLSTM(H, stateful=True)
    ns.lstm_stateful(x)  # h and c now differ from zeros and from each other
    ns.lstm_cell = ScratchLSTMCell(H)
    ns.lstm_cell(x[:, 0], [_h(), _h()])
    ns.lstm_model = _rnn_model(ScratchLSTM)
    ns.gru = ScratchGRU(H)
    ns.gru(x)
    ns.gru_stateful = ScratchGRU(H, stateful=True, reset_after=False)
    ns.gru_stateful(x)  # h now differs from zeros
    ns.gru_cell = ScratchGRUCell(H)
    ns.gru_cell(x[:, 0], [_h()])
    ns.gru_model = _rnn_model(ScratchGRU)
    ns.metric = Perplexity()
    ns.metric.update_state(np.zeros((N, T), "int32"), _x(d=V))

    folder = tmp_path_factory.mktemp("weights")
    ns.lstm_file = str(folder / "lstm.weights.h5")
    _rnn_model(None, rnn=keras.layers.LSTM(H)).save_weights(ns.lstm_file)
    # Another input width: the RNN's kernel does not fit, the Dense does,
    # so Keras loads the Dense before it fails on the RNN.
    ns.wider_file = str(folder / "wider.weights.h5")
    _rnn_model(keras.layers.SimpleRNN, d=D + 1).save_weights(ns.wider_file)
    ns.simple_rnn_file = str(folder / "simple_rnn.weights.h5")
    _rnn_model(keras.layers.SimpleRNN).save_weights(ns.simple_rnn_file)
    # Saved from a model mixing SimpleRNN and ScratchRNN: which entry is
    # which of ns.model's layers cannot be told.
    ns.mixed_file = str(folder / "mixed.weights.h5")
    mixed = [keras.layers.SimpleRNN(H, return_sequences=True), ScratchRNN(H)]
    keras.Sequential([keras.Input((T, D)), *mixed]).save_weights(ns.mixed_file)
    ns.garbage_file = str(folder / "garbage.weights.h5")
    with open(ns.garbage_file, "w") as f:
        f.write("not hdf5")
    ns.text_file = str(folder / "weights.txt")
    with open(ns.text_file, "w") as f:
        f.write("0")
    ns.missing_file = str(folder / "missing.weights.h5")
    with h5py.File(ns.lstm_file) as f:
        assert "layers/lstm" in f  # the file the case means

    if BACKEND == "tensorflow":

        def with_mask(layer, shapes):
            return tf.function(
                lambda x, mask: layer(x, mask=mask),
                input_signature=[
                    tf.TensorSpec((None, None, D)),
                    tf.TensorSpec(shapes, tf.bool),
                ],
            )

        ns.masked = with_mask(ns.layer, (None, None))
        ns.masked_any_rank = with_mask(ns.layer, None)
        ns.stateful_masked = with_mask(ns.stateful, (None, None))
        ns.traced = tf.function(lambda x, **kw: ns.layer(x, **kw))
        ns.lstm_traced = tf.function(lambda x, **kw: ns.lstm(x, **kw))
        ns.gru_traced = tf.function(lambda x, **kw: ns.gru(x, **kw))
        ns.lstm_with_states = tf.function(
            lambda x, h0, c0: ns.lstm(x, initial_state=[h0, c0]),
            input_signature=[
                tf.TensorSpec((None, None, D)),
                tf.TensorSpec((None, H)),
                tf.TensorSpec((None, H)),
            ],
        )
    return ns


def _variables(s):
    return [
        *s.layer.weights,
        *s.stateful.weights,
        *s.stateful.states,
        *s.cell.weights,
        *s.model.weights,
        *s.metric.variables,
        *s.lstm.weights,
        *s.lstm_stateful.weights,
        *s.lstm_stateful.states,
        *s.lstm_cell.weights,
        *s.lstm_model.weights,
        *s.gru.weights,
        *s.gru_stateful.weights,
        *s.gru_stateful.states,
        *s.gru_cell.weights,
        *s.gru_model.weights,
    ]


Case = namedtuple("Case", "id call error match")


def _invalid(name):
    return rf"Received an invalid value for argument `{name}`"


def _one_column(a):
    """An activation with the wrong output shape: `(batch, 1)`."""
    return a[:, :1]


def _label(value):
    return value.__name__ if callable(value) else repr(value)


def _constructor_cases():
    """The same bad arguments for ScratchRNN and ScratchRNNCell, and the
    layer's own arguments; for ScratchLSTM and ScratchLSTMCell, and for
    ScratchGRU and ScratchGRUCell, a few of each kind they share with
    them, and their own."""
    shared = [
        ("units", 0),
        ("units", "3"),
        ("activation", "nope"),
        ("use_bias", "yes"),
        ("use_bias", None),
        ("kernel_initializer", "nope"),
        ("bias_initializer", 3),
        ("kernel_regularizer", "nope"),
        ("recurrent_regularizer", 3),
        ("bias_regularizer", "nope"),
        ("kernel_constraint", "nope"),
        ("recurrent_constraint", 3),
        ("bias_constraint", "nope"),
        ("dropout", 2),
        ("dropout", -0.5),
        ("dropout", float("nan")),
        ("dropout", True),
        ("dropout", None),
        ("recurrent_dropout", -1),
        ("recurrent_dropout", 1.5),
        ("seed", "x"),
        ("seed", 1.5),
        ("seed", True),
        ("seed", 2**64),
    ]
    layer_only = [
        ("return_sequences", "no"),
        ("return_state", 2),
        ("go_backwards", None),
        ("stateful", "x"),
        ("unroll", "x"),
        ("zero_output_for_mask", "x"),
        ("activity_regularizer", "nope"),
    ]
    lstm_shared = [
        ("units", 0),
        ("units", 2.0),
        ("activation", "nope"),
        ("activation", _one_column),
        ("use_bias", "yes"),
        ("kernel_initializer", "nope"),
        ("recurrent_initializer", 3),
        ("bias_initializer", "nope"),
        ("kernel_regularizer", 3),
        ("bias_regularizer", "nope"),
        ("recurrent_constraint", "nope"),
        ("bias_constraint", 3),
        ("dropout", 1.5),
        ("dropout", None),
        ("recurrent_dropout", -0.1),
        ("recurrent_dropout", float("nan")),
        ("seed", "x"),
        ("seed", -(2**63) - 1),
        # The LSTM's own.
        ("recurrent_activation", "nope"),
        ("recurrent_activation", 3),
        ("recurrent_activation", _one_column),
        ("unit_forget_bias", "yes"),
        ("unit_forget_bias", None),
        ("unit_forget_bias", 2),
        ("implementation", 3),
        ("implementation", 0),
        ("implementation", True),
        ("implementation", "2"),
    ]
    lstm_layer_only = [
        ("return_sequences", None),
        ("return_state", "yes"),
        ("go_backwards", 2),
        ("stateful", "x"),
        ("unroll", None),
        ("zero_output_for_mask", "x"),
        ("activity_regularizer", 3),
        ("use_cudnn", "yes"),
        ("use_cudnn", 1),
        ("use_cudnn", None),
        ("use_cudnn", np.array([True, False])),
    ]
    gru_shared = [
        ("units", 0),
        ("units", "3"),
        ("activation", "nope"),
        ("activation", _one_column),
        ("use_bias", None),
        ("kernel_initializer", 3),
        ("recurrent_regularizer", "nope"),
        ("bias_constraint", "nope"),
        ("dropout", -0.5),
        ("recurrent_dropout", 1.5),
        ("seed", 1.5),
        # The GRU's own.
        ("recurrent_activation", "nope"),
        ("recurrent_activation", _one_column),
        ("reset_after", "yes"),
        ("reset_after", None),
        ("reset_after", 2),
        ("implementation", 3),
        ("implementation", "1"),
    ]
    gru_layer_only = [
        ("return_sequences", "yes"),
        ("stateful", None),
        ("activity_regularizer", "nope"),
        ("use_cudnn", "yes"),
        ("use_cudnn", 1),
        ("use_cudnn", None),
    ]
    cases = []
    for cls, arguments in (
        (ScratchRNN, shared + layer_only),
        (ScratchRNNCell, shared),
        (ScratchLSTM, lstm_shared + lstm_layer_only),
        (ScratchLSTMCell, lstm_shared),
        (ScratchGRU, gru_shared + gru_layer_only),
        (ScratchGRUCell, gru_shared),
    ):
        for name, value in arguments:
            kwargs = {"units": H, name: value}

            def call(s, cls=cls, kwargs=kwargs):
                cls(**kwargs)

            cases.append(
                Case(
                    f"{cls.__name__}-{name}={_label(value)}",
                    call,
                    ValueError,
                    _invalid(name),
                )
            )
    return cases


def _bad_mask(n=N, t=T - 1, dtype=bool):
    return np.ones((n, t), dtype)


CASES = [
    *_constructor_cases(),
    # --- ScratchRNN call, eagerly -----------------------------------------
    Case(
        "mask-timesteps",
        lambda s: s.layer(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask") + r".*\(batch, timesteps\) = \(2, 5\).*got \(2, 4\)",
    ),
    Case(
        "mask-batch",
        lambda s: s.layer(_x(), mask=_bad_mask(n=N + 1, t=T)),
        ValueError,
        _invalid("mask"),
    ),
    Case(
        "mask-rank-3",
        lambda s: s.layer(_x(), mask=np.ones((N, T, 2), bool)),
        ValueError,
        _invalid("mask") + r".*got \(2, 5, 2\)",
    ),
    Case(
        "mask-strings",
        lambda s: s.layer(_x(), mask=_strings(N, T)),
        ValueError,
        _invalid("mask") + ".*dtype string",
    ),
    Case(
        "mask-complex",
        lambda s: s.layer(_x(), mask=_bad_mask(t=T, dtype="complex64")),
        ValueError,
        _invalid("mask") + ".*dtype complex64",
    ),
    Case(
        "sequences-strings",
        lambda s: s.layer(_strings(N, T, D)),
        ValueError,
        _invalid("sequences") + ".*dtype string",
    ),
    Case(
        "sequences-complex",
        lambda s: s.layer(_x(dtype="complex64")),
        ValueError,
        _invalid("sequences") + ".*dtype complex64",
    ),
    Case(
        "initial_state-strings",
        lambda s: s.layer(_x(), initial_state=_strings(N, H)),
        ValueError,
        _invalid("initial_state") + ".*dtype string",
    ),
    Case(
        "initial_state-complex",
        lambda s: s.layer(_x(), initial_state=np.zeros((N, H), "complex64")),
        ValueError,
        _invalid("initial_state") + ".*dtype complex64",
    ),
    Case(
        "training-string",
        lambda s: s.layer(_x(), training="False"),
        ValueError,
        _invalid("training"),
    ),
    # Stateful: the stored state must survive (checked for every case).
    Case(
        "stateful-mask-timesteps",
        lambda s: s.stateful(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask"),
    ),
    Case(
        "stateful-sequences-strings",
        lambda s: s.stateful(_strings(N, T, D)),
        ValueError,
        _invalid("sequences"),
    ),
    # --- ScratchRNNCell call -----------------------------------------------
    Case(
        "cell-sequence-rank-3",
        lambda s: s.cell(_x(), [np.zeros((N, H), "float32")]),
        ValueError,
        _invalid("sequence") + r".*\(batch, 3\).*got \(2, 5, 3\)",
    ),
    Case(
        "cell-sequence-features",
        lambda s: s.cell(_x(d=D + 1)[:, 0], [np.zeros((N, H), "float32")]),
        ValueError,
        _invalid("sequence"),
    ),
    Case(
        "cell-sequence-strings",
        lambda s: s.cell(_strings(N, D), [np.zeros((N, H), "float32")]),
        ValueError,
        _invalid("sequence") + ".*dtype string",
    ),
    Case(
        "cell-states-units",
        lambda s: s.cell(_x()[:, 0], [np.zeros((N, H + 1), "float32")]),
        ValueError,
        _invalid("states") + r".*\(2, 4\).*got \(2, 5\)",
    ),
    Case(
        "cell-states-batch",
        lambda s: s.cell(_x()[:, 0], [np.zeros((1, H), "float32")]),
        ValueError,
        _invalid("states"),
    ),
    Case(
        "cell-states-rank-1",
        lambda s: s.cell(_x()[:, 0], [np.zeros((H,), "float32")]),
        ValueError,
        _invalid("states"),
    ),
    Case(
        "cell-states-list-of-2",
        lambda s: s.cell(_x()[:, 0], [np.zeros((N, H), "float32")] * 2),
        ValueError,
        _invalid("states") + ".*list of 2",
    ),
    Case(
        "cell-states-none",
        lambda s: s.cell(_x()[:, 0], None),
        ValueError,
        _invalid("states"),
    ),
    Case(
        "cell-states-strings",
        lambda s: s.cell(_x()[:, 0], [_strings(N, H)]),
        ValueError,
        _invalid("states") + ".*dtype string",
    ),
    Case(
        "cell-training-string",
        lambda s: s.cell(_x()[:, 0], [np.zeros((N, H))], training="yes"),
        ValueError,
        _invalid("training"),
    ),
    # --- reset_state(states=...) -------------------------------------------
    Case(
        "reset_state-strings",
        lambda s: s.stateful.reset_state(_strings(N, H)),
        ValueError,
        _invalid("states") + ".*dtype <U1",
    ),
    Case(
        "reset_state-complex",
        lambda s: s.stateful.reset_state(np.ones((N, H), complex)),
        ValueError,
        _invalid("states") + ".*dtype complex128",
    ),
    Case(
        "reset_state-object",
        lambda s: s.stateful.reset_state(object()),
        ValueError,
        _invalid("states") + ".*dtype object",
    ),
    Case(
        "reset_state-shape",
        lambda s: s.stateful.reset_state(np.ones((N + 1, H))),
        ValueError,
        _invalid("states") + r".*\(2, 4\), got \(3, 4\)",
    ),
    # --- from_simple_rnn / to_simple_rnn ----------------------------------
    Case(
        "from_simple_rnn-string",
        lambda s: ScratchRNN.from_simple_rnn("simple_rnn"),
        ValueError,
        _invalid("layer"),
    ),
    Case(
        "from_simple_rnn-lstm",
        lambda s: ScratchRNN.from_simple_rnn(keras.layers.LSTM(H)),
        ValueError,
        _invalid("layer") + ".*got LSTM",
    ),
    Case(
        "to_simple_rnn-activity_regularizer",
        lambda s: s.regularized.to_simple_rnn(),
        ValueError,
        "`activity_regularizer`.*SimpleRNN.*ignores",
    ),
    # --- interchange ------------------------------------------------------
    Case(
        "convert_model-to",
        lambda s: interchange.convert_model(s.model, to="lstm"),
        ValueError,
        _invalid("to") + ".*'scratch' or 'keras'",
    ),
    Case(
        "convert_model-to-none",
        lambda s: interchange.convert_model(s.model, to=None),
        ValueError,
        _invalid("to"),
    ),
    Case(
        "convert_model-not-a-model",
        lambda s: interchange.convert_model("model"),
        ValueError,
        _invalid("model") + ".*got str",
    ),
    Case(
        "convert_model-a-layer",
        lambda s: interchange.convert_model(s.layer),
        ValueError,
        _invalid("model") + ".*got ScratchRNN",
    ),
    Case(
        "convert_model-subclassed",
        lambda s: interchange.convert_model(_Subclassed()),
        ValueError,
        _invalid("model") + ".*subclassed",
    ),
    Case(
        "load_weights-not-a-model",
        lambda s: interchange.load_weights("model", s.lstm_file),
        ValueError,
        _invalid("model"),
    ),
    Case(
        "load_weights-path-none",
        lambda s: interchange.load_weights(s.model, None),
        ValueError,
        _invalid("filepath"),
    ),
    Case(
        "load_weights-missing-file",
        lambda s: interchange.load_weights(s.model, s.missing_file),
        FileNotFoundError,
        _invalid("filepath") + ".*no such file",
    ),
    Case(
        "load_weights-extension",
        lambda s: interchange.load_weights(s.model, s.text_file),
        ValueError,
        _invalid("filepath") + r".*\.weights\.h5",
    ),
    Case(
        "load_weights-keras-file",
        lambda s: interchange.load_weights(s.model, "model.keras"),
        ValueError,
        _invalid("filepath") + ".*load_model",
    ),
    Case(
        "load_weights-not-hdf5",
        lambda s: interchange.load_weights(s.model, s.garbage_file),
        ValueError,
        _invalid("filepath") + ".*not an HDF5 file",
    ),
    Case(
        "load_weights-no-matching-layers",
        lambda s: interchange.load_weights(s.model, s.lstm_file),
        ValueError,
        _invalid("filepath") + ".*holds no ScratchRNN or SimpleRNN",
    ),
    Case(
        "load_weights-shapes-restored",
        lambda s: interchange.load_weights(s.model, s.wider_file),
        ValueError,
        _invalid("filepath") + ".*unchanged.*could not be loaded",
    ),
    Case(
        "load_weights-lstm-model-simple_rnn-file",
        lambda s: interchange.load_weights(s.lstm_model, s.simple_rnn_file),
        ValueError,
        _invalid("filepath") + ".*holds no ScratchLSTM or LSTM",
    ),
    Case(
        "load_weights-file-mixing-both-classes",
        lambda s: interchange.load_weights(s.model, s.mixed_file),
        ValueError,
        _invalid("filepath") + ".*weights of both.*convert_model",
    ),
    # --- ScratchLSTM call: two states [h, c] ------------------------------
    Case(
        "lstm-mask-timesteps",
        lambda s: s.lstm(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask") + r".*\(batch, timesteps\) = \(2, 5\).*got \(2, 4\)",
    ),
    Case(
        "lstm-sequences-strings",
        lambda s: s.lstm(_strings(N, T, D)),
        ValueError,
        _invalid("sequences") + ".*dtype string",
    ),
    Case(
        "lstm-sequences-complex",
        lambda s: s.lstm(_x(dtype="complex64")),
        ValueError,
        _invalid("sequences") + ".*dtype complex64",
    ),
    Case(
        "lstm-training-string",
        lambda s: s.lstm(_x(), training="True"),
        ValueError,
        _invalid("training"),
    ),
    Case(
        "lstm-initial_state-one-tensor",
        lambda s: s.lstm(_x(), initial_state=_h()),
        ValueError,
        _invalid("initial_state") + r".*list of 2.*\[h, c\].*got one tensor",
    ),
    Case(
        "lstm-initial_state-list-of-1",
        lambda s: s.lstm(_x(), initial_state=[_h()]),
        ValueError,
        _invalid("initial_state") + ".*list of 2.*got a list of 1",
    ),
    Case(
        "lstm-initial_state-list-of-3",
        lambda s: s.lstm(_x(), initial_state=[_h(), _h(), _h()]),
        ValueError,
        _invalid("initial_state") + ".*list of 2.*got a list of 3",
    ),
    Case(
        "lstm-initial_state-c-units",
        lambda s: s.lstm(_x(), initial_state=[_h(), _h(units=H + 1)]),
        ValueError,
        _invalid("initial_state") + r".*\(2, 4\).*got \(2, 5\)",
    ),
    Case(
        "lstm-initial_state-h-batch",
        lambda s: s.lstm(_x(), initial_state=[_h(n=N + 1), _h()]),
        ValueError,
        _invalid("initial_state") + r".*\(2, 4\).*got \(3, 4\)",
    ),
    Case(
        "lstm-initial_state-rank-1",
        lambda s: s.lstm(_x(), initial_state=[_h(), np.zeros(H, "float32")]),
        ValueError,
        _invalid("initial_state") + r".*got \(4,\)",
    ),
    Case(
        "lstm-initial_state-c-none",
        lambda s: s.lstm(_x(), initial_state=[_h(), None]),
        ValueError,
        _invalid("initial_state"),
    ),
    Case(
        "lstm-initial_state-c-strings",
        lambda s: s.lstm(_x(), initial_state=[_h(), _strings(N, H)]),
        ValueError,
        _invalid("initial_state") + ".*dtype string",
    ),
    # Stateful: h and c must both survive (checked for every case).
    Case(
        "lstm-stateful-initial_state-list-of-1",
        lambda s: s.lstm_stateful(_x(), initial_state=[_h()]),
        ValueError,
        _invalid("initial_state") + ".*got a list of 1",
    ),
    Case(
        "lstm-stateful-initial_state-c-units",
        lambda s: s.lstm_stateful(_x(), initial_state=[_h(), _h(units=1)]),
        ValueError,
        _invalid("initial_state") + r".*got \(2, 1\)",
    ),
    Case(
        "lstm-stateful-mask-timesteps",
        lambda s: s.lstm_stateful(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask"),
    ),
    # --- ScratchLSTMCell call: states is a list [h, c] --------------------
    Case(
        "lstm-cell-states-one-tensor",
        lambda s: s.lstm_cell(_x()[:, 0], _h()),
        ValueError,
        _invalid("states") + r".*list of 2.*\[h, c\].*got one tensor",
    ),
    Case(
        "lstm-cell-states-list-of-1",
        lambda s: s.lstm_cell(_x()[:, 0], [_h()]),
        ValueError,
        _invalid("states") + ".*list of 2.*got a list of 1",
    ),
    Case(
        "lstm-cell-states-list-of-3",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(), _h(), _h()]),
        ValueError,
        _invalid("states") + ".*list of 2.*got a list of 3",
    ),
    Case(
        "lstm-cell-states-none",
        lambda s: s.lstm_cell(_x()[:, 0], None),
        ValueError,
        _invalid("states") + ".*list of 2",
    ),
    Case(
        "lstm-cell-states-c-none",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(), None]),
        ValueError,
        _invalid("states") + ".*got None",
    ),
    Case(
        "lstm-cell-states-dict",
        lambda s: s.lstm_cell(_x()[:, 0], {"h": _h(), "c": _h()}),
        ValueError,
        _invalid("states") + ".*list of 2",
    ),
    Case(
        "lstm-cell-states-c-units",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(), _h(units=H + 1)]),
        ValueError,
        _invalid("states") + r".*\(2, 4\).*got \(2, 5\)",
    ),
    Case(
        "lstm-cell-states-h-batch",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(n=1), _h()]),
        ValueError,
        _invalid("states"),
    ),
    Case(
        "lstm-cell-states-strings",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(), _strings(N, H)]),
        ValueError,
        _invalid("states") + ".*dtype string",
    ),
    Case(
        "lstm-cell-sequence-features",
        lambda s: s.lstm_cell(_x(d=D + 1)[:, 0], [_h(), _h()]),
        ValueError,
        _invalid("sequence") + r".*\(batch, 3\).*got \(2, 4\)",
    ),
    Case(
        "lstm-cell-training-string",
        lambda s: s.lstm_cell(_x()[:, 0], [_h(), _h()], training="yes"),
        ValueError,
        _invalid("training"),
    ),
    # --- ScratchLSTM.reset_state(states=[h, c]) ---------------------------
    # The valid h of a pair with a bad c must not be assigned either.
    Case(
        "lstm-reset_state-one-array",
        lambda s: s.lstm_stateful.reset_state(np.ones((N, H))),
        ValueError,
        _invalid("states") + r".*list of 2.*\[h, c\].*got one array",
    ),
    Case(
        "lstm-reset_state-list-of-1",
        lambda s: s.lstm_stateful.reset_state([np.ones((N, H))]),
        ValueError,
        _invalid("states") + ".*got a list of 1",
    ),
    Case(
        "lstm-reset_state-list-of-3",
        lambda s: s.lstm_stateful.reset_state([np.ones((N, H))] * 3),
        ValueError,
        _invalid("states") + ".*got a list of 3",
    ),
    Case(
        "lstm-reset_state-c-shape",
        lambda s: s.lstm_stateful.reset_state(
            [np.ones((N, H)), np.ones((N + 1, H))]
        ),
        ValueError,
        _invalid("states") + r".*\(2, 4\), got \(3, 4\)",
    ),
    Case(
        "lstm-reset_state-h-shape",
        lambda s: s.lstm_stateful.reset_state([np.ones((N, H + 1)), _h()]),
        ValueError,
        _invalid("states") + r".*\(2, 4\), got \(2, 5\)",
    ),
    Case(
        "lstm-reset_state-c-strings",
        lambda s: s.lstm_stateful.reset_state(
            [np.ones((N, H)), _strings(N, H)]
        ),
        ValueError,
        _invalid("states") + ".*dtype <U1",
    ),
    Case(
        "lstm-reset_state-c-none",
        lambda s: s.lstm_stateful.reset_state([np.ones((N, H)), None]),
        ValueError,
        _invalid("states") + ".*dtype object",
    ),
    Case(
        "lstm-reset_state-not-stateful",
        lambda s: s.lstm.reset_state([np.ones((N, H))] * 2),
        ValueError,
        "argument `states`, but the layer is not stateful",
    ),
    # --- from_lstm --------------------------------------------------------
    Case(
        "from_lstm-string",
        lambda s: ScratchLSTM.from_lstm("lstm"),
        ValueError,
        _invalid("layer"),
    ),
    Case(
        "from_lstm-simple_rnn",
        lambda s: ScratchLSTM.from_lstm(keras.layers.SimpleRNN(H)),
        ValueError,
        _invalid("layer") + ".*got SimpleRNN",
    ),
    Case(
        "from_lstm-scratch_lstm",
        lambda s: ScratchLSTM.from_lstm(s.lstm),
        ValueError,
        _invalid("layer") + ".*got ScratchLSTM",
    ),
    # --- ScratchGRU call: one state h, in either reset_after form --------
    Case(
        "gru-mask-timesteps",
        lambda s: s.gru(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask") + r".*\(batch, timesteps\) = \(2, 5\).*got \(2, 4\)",
    ),
    Case(
        "gru-sequences-strings",
        lambda s: s.gru(_strings(N, T, D)),
        ValueError,
        _invalid("sequences") + ".*dtype string",
    ),
    Case(
        "gru-training-string",
        lambda s: s.gru(_x(), training="True"),
        ValueError,
        _invalid("training"),
    ),
    Case(
        "gru-initial_state-list-of-2",
        lambda s: s.gru(_x(), initial_state=[_h(), _h()]),
        ValueError,
        _invalid("initial_state") + ".*one tensor.*got a list of 2",
    ),
    Case(
        "gru-initial_state-units",
        lambda s: s.gru(_x(), initial_state=_h(units=H + 1)),
        ValueError,
        _invalid("initial_state") + r".*\(2, 4\).*got \(2, 5\)",
    ),
    Case(
        "gru-initial_state-strings",
        lambda s: s.gru(_x(), initial_state=[_strings(N, H)]),
        ValueError,
        _invalid("initial_state") + ".*dtype string",
    ),
    # Stateful (reset_after=False): h must survive (checked for every case).
    Case(
        "gru-stateful-initial_state-list-of-2",
        lambda s: s.gru_stateful(_x(), initial_state=[_h(), _h()]),
        ValueError,
        _invalid("initial_state") + ".*got a list of 2",
    ),
    Case(
        "gru-stateful-mask-timesteps",
        lambda s: s.gru_stateful(_x(), mask=_bad_mask()),
        ValueError,
        _invalid("mask"),
    ),
    # --- ScratchGRUCell call: states is h or [h] --------------------------
    Case(
        "gru-cell-states-list-of-2",
        lambda s: s.gru_cell(_x()[:, 0], [_h(), _h()]),
        ValueError,
        _invalid("states") + ".*one tensor.*got a list of 2",
    ),
    Case(
        "gru-cell-states-none",
        lambda s: s.gru_cell(_x()[:, 0], None),
        ValueError,
        _invalid("states") + ".*got None",
    ),
    Case(
        "gru-cell-states-units",
        lambda s: s.gru_cell(_x()[:, 0], [_h(units=H + 1)]),
        ValueError,
        _invalid("states") + r".*\(2, 4\).*got \(2, 5\)",
    ),
    Case(
        "gru-cell-states-batch",
        lambda s: s.gru_cell(_x()[:, 0], _h(n=1)),
        ValueError,
        _invalid("states") + r".*got \(1, 4\)",
    ),
    Case(
        "gru-cell-states-strings",
        lambda s: s.gru_cell(_x()[:, 0], [_strings(N, H)]),
        ValueError,
        _invalid("states") + ".*dtype string",
    ),
    Case(
        "gru-cell-sequence-features",
        lambda s: s.gru_cell(_x(d=D + 1)[:, 0], [_h()]),
        ValueError,
        _invalid("sequence") + r".*\(batch, 3\).*got \(2, 4\)",
    ),
    # --- ScratchGRU.reset_state(states=h or [h]) --------------------------
    Case(
        "gru-reset_state-list-of-2",
        lambda s: s.gru_stateful.reset_state([np.ones((N, H))] * 2),
        ValueError,
        _invalid("states") + ".*got a list of 2",
    ),
    Case(
        "gru-reset_state-shape",
        lambda s: s.gru_stateful.reset_state(np.ones((N + 1, H))),
        ValueError,
        _invalid("states") + r".*\(2, 4\), got \(3, 4\)",
    ),
    Case(
        "gru-reset_state-list-of-1-shape",
        lambda s: s.gru_stateful.reset_state([np.ones((N, H + 1))]),
        ValueError,
        _invalid("states") + r".*\(2, 4\), got \(2, 5\)",
    ),
    Case(
        "gru-reset_state-strings",
        lambda s: s.gru_stateful.reset_state(_strings(N, H)),
        ValueError,
        _invalid("states") + ".*dtype <U1",
    ),
    Case(
        "gru-reset_state-not-stateful",
        lambda s: s.gru.reset_state(np.ones((N, H))),
        ValueError,
        "argument `states`, but the layer is not stateful",
    ),
    # --- from_gru and the GRU's weights files -----------------------------
    Case(
        "from_gru-string",
        lambda s: ScratchGRU.from_gru("gru"),
        ValueError,
        _invalid("layer") + ".*got str",
    ),
    Case(
        "from_gru-lstm",
        lambda s: ScratchGRU.from_gru(keras.layers.LSTM(H)),
        ValueError,
        _invalid("layer") + ".*got LSTM",
    ),
    Case(
        "from_gru-scratch_gru",
        lambda s: ScratchGRU.from_gru(s.gru),
        ValueError,
        _invalid("layer") + ".*got ScratchGRU",
    ),
    Case(
        "load_weights-gru-model-lstm-file",
        lambda s: interchange.load_weights(s.gru_model, s.lstm_file),
        ValueError,
        _invalid("filepath") + ".*holds no ScratchGRU or GRU",
    ),
    # --- tbptt ------------------------------------------------------------
    Case(
        "TBPTTBatches-batch_size-bool",
        lambda s: TBPTTBatches(np.arange(20), np.arange(20), True, 5),
        ValueError,
        _invalid("batch_size"),
    ),
    Case(
        "TBPTTBatches-time_size-float",
        lambda s: TBPTTBatches(np.arange(20), np.arange(20), 2, 5.0),
        ValueError,
        _invalid("time_size"),
    ),
    Case(
        "TBPTTBatches-xs-scalar",
        lambda s: TBPTTBatches(np.array(3), np.arange(20), 2, 5),
        ValueError,
        _invalid("xs") + r".*shape \(\)",
    ),
    Case(
        "TBPTTBatches-xs-ragged",
        lambda s: TBPTTBatches([[1, 2], [3]] * 10, np.arange(20), 2, 5),
        ValueError,
        _invalid("xs"),
    ),
    Case(
        "TBPTTBatches-ts-scalar",
        lambda s: TBPTTBatches(np.arange(20), 3, 2, 5),
        ValueError,
        _invalid("ts"),
    ),
    Case(
        "TBPTTBatches-carry_across_epochs",
        lambda s: TBPTTBatches(
            np.arange(20), np.arange(20), 2, 5, carry_across_epochs="no"
        ),
        ValueError,
        _invalid("carry_across_epochs"),
    ),
    Case(
        "tbptt_batch-time_idx-float",
        lambda s: tbptt_batch(np.arange(20), None, 2, 5, time_idx=1.5),
        ValueError,
        _invalid("time_idx"),
    ),
    Case(
        "ResetStates-on_test",
        lambda s: ResetStates(on_test="no"),
        ValueError,
        _invalid("on_test"),
    ),
    Case(
        "ResetStates-on_predict",
        lambda s: ResetStates(on_predict=None),
        ValueError,
        _invalid("on_predict"),
    ),
    Case(
        "reset_rnn_states-not-a-model",
        lambda s: reset_rnn_states("model"),
        ValueError,
        _invalid("model") + ".*got str",
    ),
    Case(
        "Perplexity-from_logits",
        lambda s: Perplexity(from_logits="yes"),
        ValueError,
        _invalid("from_logits"),
    ),
    Case(
        "Perplexity-name",
        lambda s: Perplexity(name=3),
        ValueError,
        _invalid("name"),
    ),
    Case(
        "Perplexity-dtype-int",
        lambda s: Perplexity(dtype="int32"),
        ValueError,
        _invalid("dtype"),
    ),
    Case(
        "Perplexity-y_true-strings",
        lambda s: s.metric.update_state(_strings(N, T), _x(d=V)),
        ValueError,
        _invalid("y_true") + ".*dtype string",
    ),
    Case(
        "Perplexity-y_pred-integers",
        lambda s: s.metric.update_state(
            np.zeros((N, T), "int32"), np.zeros((N, T, V), "int32")
        ),
        ValueError,
        _invalid("y_pred") + ".*dtype int32",
    ),
    Case(
        "Perplexity-sample_weight-shape",
        lambda s: s.metric.update_state(
            np.zeros((N, T), "int32"), _x(d=V), sample_weight=np.ones((N, 3))
        ),
        ValueError,
        _invalid("sample_weight") + r".*\(2, 5\).*got shape \(2, 3\)",
    ),
    Case(
        "Perplexity-sample_weight-strings",
        lambda s: s.metric.update_state(
            np.zeros((N, T), "int32"), _x(d=V), sample_weight=_strings(N)
        ),
        ValueError,
        _invalid("sample_weight") + ".*dtype string",
    ),
]


if BACKEND == "tensorflow":
    CASES += [
        # --- ScratchRNN call, in a tf.function (TensorFlow only) ---------
        Case(
            "traced-mask-timesteps",
            lambda s: s.traced(_x(), mask=_bad_mask()),
            ValueError,
            _invalid("mask"),
        ),
        Case(
            "traced-sequences-strings",
            lambda s: s.traced(tf.constant(_strings(N, T, D))),
            ValueError,
            _invalid("sequences"),
        ),
        Case(
            "traced-initial_state-strings",
            lambda s: s.traced(_x(), initial_state=tf.constant(_strings(N, H))),
            ValueError,
            _invalid("initial_state"),
        ),
        Case(
            "unknown-dims-mask-timesteps",
            lambda s: s.masked(_x(), _bad_mask()),
            RUN_TIME,
            _invalid("mask"),
        ),
        Case(
            "unknown-dims-mask-batch",
            lambda s: s.masked(_x(), _bad_mask(n=1, t=T)),
            RUN_TIME,
            _invalid("mask"),
        ),
        Case(
            "unknown-rank-mask-rank-3",
            lambda s: s.masked_any_rank(_x(), np.ones((N, T, 1), bool)),
            RUN_TIME,
            _invalid("mask"),
        ),
        Case(
            "unknown-dims-stateful-mask-timesteps",
            lambda s: s.stateful_masked(_x(), _bad_mask()),
            RUN_TIME,
            _invalid("mask"),
        ),
        Case(
            "traced-lstm-initial_state-list-of-3",
            lambda s: s.lstm_traced(_x(), initial_state=[_h()] * 3),
            ValueError,
            _invalid("initial_state") + ".*got a list of 3",
        ),
        Case(
            "traced-lstm-initial_state-c-units",
            lambda s: s.lstm_traced(_x(), initial_state=[_h(), _h(units=1)]),
            ValueError,
            _invalid("initial_state"),
        ),
        Case(
            "unknown-dims-lstm-initial_state-c-batch",
            lambda s: s.lstm_with_states(_x(), _h(), _h(n=N + 1)),
            RUN_TIME,
            "`initial_state`",
        ),
        Case(
            "traced-gru-initial_state-list-of-2",
            lambda s: s.gru_traced(_x(), initial_state=[_h()] * 2),
            ValueError,
            _invalid("initial_state") + ".*got a list of 2",
        ),
    ]


def test_case_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_argument_raises_a_clear_error_and_changes_nothing(s, case):
    """The error names the argument; no shared weight or state moved."""
    variables = _variables(s)
    before = [_numpy(v).copy() for v in variables]
    with pytest.raises(case.error, match=f"(?s){case.match}"):
        case.call(s)
    for variable, value in zip(variables, before):
        np.testing.assert_array_equal(_numpy(variable), value)


def test_state_moves_on_good_calls(s):
    """The unchanged state above is not a layer that never updates: the
    same shared layers and functions change it on a good call."""
    before = _numpy(s.stateful.states[0]).copy()
    if BACKEND == "tensorflow":
        s.stateful_masked(_x(), np.ones((N, T), bool))
    else:
        s.stateful(_x(), mask=np.ones((N, T), bool))
    assert np.any(_numpy(s.stateful.states[0]) != before)
    s.stateful.reset_state(before)


def test_lstm_states_move_on_good_calls(s):
    """The LSTM's stored h and c, unchanged above, both move on a good
    call, and `reset_state([h, c])` sets both."""
    before = [_numpy(v).copy() for v in s.lstm_stateful.states]
    assert not np.array_equal(*before)
    s.lstm_stateful(_x())
    for variable, value in zip(s.lstm_stateful.states, before):
        assert np.any(_numpy(variable) != value)
    s.lstm_stateful.reset_state(before)
    for variable, value in zip(s.lstm_stateful.states, before):
        np.testing.assert_array_equal(_numpy(variable), value)


def test_gru_state_moves_on_good_calls(s):
    """The GRU's stored h, unchanged above, moves on a good call, and
    `reset_state([h])` sets it."""
    before = _numpy(s.gru_stateful.states[0]).copy()
    assert np.any(before != 0)
    s.gru_stateful(_x())
    assert np.any(_numpy(s.gru_stateful.states[0]) != before)
    s.gru_stateful.reset_state([before])
    np.testing.assert_array_equal(_numpy(s.gru_stateful.states[0]), before)


def test_lstm_accepted_values_still_pass(s):
    """The LSTM's checks refuse no value LSTM takes for a meaning: states
    as a tuple, NumPy booleans and integers, the flags' 0 and 1, None for
    an activation (linear)."""
    x = _x()
    want = _numpy(s.lstm(x, initial_state=[_h(), _h()]))
    got = _numpy(s.lstm(x, initial_state=(_h(), _h())))
    np.testing.assert_array_equal(got, want)
    h, states = s.lstm_cell(x[:, 0], (_h(), _h()))
    assert h.shape == (N, H) and len(states) == 2
    layer = ScratchLSTM(
        H,
        use_cudnn=np.True_,
        implementation=np.int64(1),
        unit_forget_bias=0,
        recurrent_activation=None,
    )
    assert layer.use_cudnn is True and layer.get_config()["use_cudnn"] is True
    assert layer.cell.implementation == 1 and layer.unit_forget_bias is False
    assert layer.recurrent_activation is not None  # linear
    assert ScratchLSTM(H, use_cudnn="auto").use_cudnn == "auto"


def test_accepted_values_still_pass(s):
    """The checks refuse no value SimpleRNN takes for a meaning: 0/1
    numeric masks, (N, T, 1) masks, integer and boolean inputs, NumPy
    integers and bools, rate 1."""
    x = _x()
    ones = np.ones((N, T))
    want = _numpy(s.layer(x, mask=ones > 0))
    for mask in (ones.astype("float32"), ones.astype("int32")):
        assert scaled_error(_numpy(s.layer(x, mask=mask)), want) <= (
            FLOAT32_PARITY
        )
    mask = np.arange(N * T).reshape(N, T) % 3 > 0
    want = _numpy(s.layer(x, mask=mask))  # (N, T, 1), as SimpleRNN takes
    assert scaled_error(_numpy(s.layer(x, mask=mask[..., None])), want) <= (
        FLOAT32_PARITY
    )
    assert s.layer((x > 0).astype("int32")).shape == (N, H)
    assert s.layer(x > 0, initial_state=np.ones((N, H), bool)).shape == (N, H)
    if BACKEND == "tensorflow":
        assert np.array(s.masked(x, ones > 0)).shape == (N, H)
    layer = ScratchRNN(
        H, dropout=1.0, recurrent_dropout=0.0, seed=np.int64(3), unroll=np.True_
    )
    flags = ScratchRNN(H, return_state=1, use_bias=0, kernel_initializer=None)
    assert flags.return_state is True and flags.use_bias is False
    assert layer.dropout == 1.0 and layer.get_config()["seed"] == 3
    state = s.cell(x[:, 0].astype("int32"), [np.zeros((N, H), "int32")])[0]
    assert keras.backend.standardize_dtype(state.dtype) == "float32"
    assert ScratchRNN(H, activation=None).activation is not None  # linear
    assert reset_rnn_states(s.layer) == []


def test_per_sample_weight_weighs_samples_not_steps():
    """Perplexity's `sample_weight` of shape (N,) weighs samples, as Keras
    metrics do; with N == T, `broadcast_to` alone had read it per step."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, V, size=(3, 3))
    logits = rng.normal(size=(3, 3, V)).astype("float32")
    per_sample = np.array([1.0, 0.0, 1.0], "float32")
    metric, want = Perplexity(), Perplexity()
    metric.update_state(labels, logits, sample_weight=per_sample)
    want.update_state(labels, logits, sample_weight=per_sample[:, None])
    assert float(metric.result()) == float(want.result())
    np.testing.assert_array_equal(float(metric.count), 6.0)


def test_convert_model_converts_nested_models():
    """A SimpleRNN inside a nested model is swapped too (it was left as a
    SimpleRNN, silently)."""
    inner = keras.Sequential([keras.Input((T, D)), keras.layers.SimpleRNN(H)])
    inputs = keras.Input((T, D))
    outer = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs)))
    converted = interchange.convert_model(outer)
    types_ = {type(layer) for layer in converted._flatten_layers()}
    assert ScratchRNN in types_ and keras.layers.SimpleRNN not in types_
    x = _x()
    assert scaled_error(_numpy(converted(x)), _numpy(outer(x))) <= (
        FLOAT32_PARITY
    )
