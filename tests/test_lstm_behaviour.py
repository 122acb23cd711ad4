"""ScratchLSTM behaves as a drop-in `keras.layers.LSTM`.

The LSTM counterparts of ScratchRNN's tests in test_numerics_and_compilation
.py, test_robustness.py, test_layer_behaviour.py and test_interchange.py:
mixed_float16, `fit` with and without XLA, MirroredStrategy, T = 10,000, a
property-based parity search, conversion both ways, config, the forget-gate
bias, `use_cudnn`, dropout rate 1 and per-gate recurrent dropout masks,
`reset_state([h, c])`, and the errors of the two-state calls. Each compares
with `keras.layers.LSTM` holding the same weights, under a named tolerance.
(The main parity product, Bidirectional, StackedRNNCells, `.keras` files
and stateful chunks for the LSTM are in tests/backends/test_layers.py;
Keras's own lstm_test.py runs on ScratchLSTM in test_keras_lstm_suite.py.)
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_cases import (
    assert_copied,
    assert_within,
    numpy,
    parity_cases,
    sequences,
)
from hypothesis import given, settings
from test_numerics_and_compilation import (
    DISTRIBUTED_SCRIPT,
    DISTRIBUTED_WEIGHTS_PARITY,
    FLOAT16_PARITY,
)

from keras_scratch_rnn import ScratchLSTM, ScratchLSTMCell
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    TRAINING_LOSS_RTOL,
    scaled_error,
)
from keras_scratch_rnn.tools import parity
from keras_scratch_rnn.tools.autodiff import (
    forward_backward,
    gradient_function,
)

SEED = 0
N, T, D, H = 3, 5, 2, 4


def states(n=N, seed=SEED + 1):
    """`[h, c]`, each `(n, H)`, float32."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, H)).astype("float32") for _ in range(2)]


def twins(shape=(N, None, D), **config):
    """`(ours, lstm)` with `config`, built on `shape`; ours holds the
    LSTM's (seeded) weights."""
    keras.utils.set_random_seed(SEED)
    lstm = keras.layers.LSTM(H, **config)
    lstm.build(shape)
    ours = ScratchLSTM(H, **config)
    ours.build(shape)
    ours.set_weights(lstm.get_weights())
    return ours, lstm


@pytest.fixture(scope="module")
def stateless_twins():
    """One built pair with `return_sequences`, shared by the tests that
    only call it."""
    return twins(return_sequences=True)


# --- 1. Mixed precision ------------------------------------------------------


@pytest.mark.usefixtures("mixed_float16")
def test_mixed_float16_dtypes_and_parity():
    """float16 outputs (sequence, h, c), float32 weights and float32,
    finite weight gradients; all within FLOAT16_PARITY of LSTM's under the
    same policy."""
    ours, lstm = twins(return_sequences=True, return_state=True)
    x = sequences()
    (outs, grads), (ref_outs, ref_grads) = (
        forward_backward(layer, x, h0=states()) for layer in (ours, lstm)
    )
    assert [o.dtype for o in outs] == ["float16"] * 3
    assert [w.dtype for w in ours.weights] == ["float32"] * 3
    assert ours.compute_dtype == "float16"
    for name in ("d_kernel", "d_recurrent_kernel", "d_bias"):
        assert grads[name].dtype == "float32", name
    assert grads.keys() == ref_grads.keys()
    for value in [*outs, *grads.values()]:
        assert np.isfinite(value).all()
    assert_within(outs, ref_outs, FLOAT16_PARITY, "outputs")
    assert_within(
        list(grads.values()), list(ref_grads.values()), FLOAT16_PARITY, "grads"
    )


def test_policy_is_float32_outside_the_fixture():
    """The mixed_float16 fixture does not leak into later tests."""
    assert keras.mixed_precision.global_policy().name == "float32"


# --- 2. fit, with and without XLA --------------------------------------------


def lstm_model(cls):
    """Tokens -> Embedding(mask_zero) -> cls(H) with dropout and recurrent
    dropout (per-gate masks, seeded) -> Dense(1); the weights seeded."""
    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(10, D, mask_zero=True),
            cls(H, dropout=0.2, recurrent_dropout=0.3, seed=5),
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "no_xla"])
def test_fit_trains_like_lstm(jit):
    """Two epochs of `fit` with `jit_compile=jit`, on padded (masked)
    sequences with dropout masks drawn every step, give LSTM's weights
    (FLOAT32_PARITY) and loss curve (TRAINING_LOSS_RTOL) under the same
    compilation, and Keras kept XLA as asked."""
    rng = np.random.default_rng(SEED)
    tokens = rng.integers(1, 10, size=(32, T))
    lengths = rng.integers(1, T + 1, size=32)
    tokens[np.arange(T) >= lengths[:, None]] = 0  # trailing padding
    y = sequences((32, 1), seed=SEED + 1)
    initial = lstm_model(keras.layers.LSTM).get_weights()
    runs = []
    for cls in (ScratchLSTM, keras.layers.LSTM):
        model = lstm_model(cls)
        model.set_weights(initial)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit
        )
        history = model.fit(
            tokens, y, batch_size=8, epochs=2, shuffle=False, verbose=0
        )
        assert model.jit_compile is jit  # Keras did not turn XLA off
        runs.append((np.array(history.history["loss"]), model.get_weights()))
    (loss, weights), (ref_loss, ref_weights) = runs
    assert_within(weights, ref_weights, FLOAT32_PARITY, "weights")
    assert np.max(np.abs(loss / ref_loss - 1)) <= TRAINING_LOSS_RTOL
    assert max(scaled_error(w, w0) for w, w0 in zip(weights, initial)) > 1e-3


# --- 3. MirroredStrategy -----------------------------------------------------

# ScratchRNN's two-replica script (test_numerics_and_compilation.py), with
# the LSTMs in place of the RNNs: the same logical-CPU setup, data, model
# shape, training and measurements.
LSTM_DISTRIBUTED_SCRIPT = DISTRIBUTED_SCRIPT.replace(
    "keras.layers.SimpleRNN", "keras.layers.LSTM"
).replace("ScratchRNN", "ScratchLSTM")


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(tmp_path):
    """Two-replica MirroredStrategy training (two logical CPUs) ends with
    the weights of single-device training on the same global batches, and
    with LSTM's under the same strategy (DISTRIBUTED_WEIGHTS_PARITY,
    absolute; losses TRAINING_LOSS_RTOL). A child process: the logical
    devices must exist before TensorFlow starts."""
    assert "RNN" not in LSTM_DISTRIBUTED_SCRIPT  # every layer was swapped
    assert LSTM_DISTRIBUTED_SCRIPT.count("ScratchLSTM") >= 3
    run = subprocess.run(
        [sys.executable, "-c", LSTM_DISTRIBUTED_SCRIPT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["replica_batches"] == [8, 8]  # the global batch is split
    assert result["trained"] > 1e-2  # the weights did move
    assert result["mirrored_vs_single"] <= DISTRIBUTED_WEIGHTS_PARITY, result
    assert result["mirrored_vs_simple"] <= DISTRIBUTED_WEIGHTS_PARITY, result
    single, mirrored, keras_lstm = (np.array(v) for v in result["losses"])
    for reference in (single, keras_lstm):
        assert np.max(np.abs(mirrored / reference - 1)) <= TRAINING_LOSS_RTOL


# --- 4. Very long sequences --------------------------------------------------

LONG_T = 10_000


@pytest.mark.slow
def test_ten_thousand_steps_forward_backward_match_lstm():
    """T = 10,000, masked, initial [h0, c0], backwards, in `tf.function`:
    the forward and the handwritten backward finish with finite values, and
    the sequence and both final states are LSTM's (FLOAT32_PARITY).

    T is ten times Python's recursion limit, so a recursion per step would
    fail. (LSTM's own backward over 10,000 steps takes ~10 s on CPU, so
    only its forward is the reference here; the gradients' parity is
    tests/backends/test_layers.py's, at small T.)
    """
    assert sys.getrecursionlimit() < LONG_T
    n, d, h = 2, 2, 3
    x, mask, (h0, c0) = parity.default_inputs(n, LONG_T, d, h, cell="lstm")
    config = {"return_sequences": True, "return_state": True}
    layers = []
    for cls in (ScratchLSTM, keras.layers.LSTM):
        layer = cls(h, go_backwards=True, **config)
        layer.build((None, None, d))
        layer.set_weights(parity.default_weights(d, h, cell="lstm"))
        layers.append(layer)
    ours, lstm = layers
    x, mask, h0, c0 = (tf.constant(a) for a in (x, mask, h0, c0))

    @tf.function
    def train_step(x, h0, c0, mask):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            out, h_last, c_last = ours(x, initial_state=[h0, c0], mask=mask)
            loss = tf.reduce_sum(tf.sin(out))
            loss += tf.reduce_sum(h_last * c_last)
        grads = tape.gradient(loss, [x, h0, c0, *ours.trainable_weights])
        return [out, h_last, c_last], grads

    outs, grads = train_step(x, h0, c0, mask)
    ref_outs = tf.function(
        lambda x, h0, c0, mask: lstm(x, initial_state=[h0, c0], mask=mask)
    )(x, h0, c0, mask)
    assert outs[0].shape == (n, LONG_T, h)
    assert [g.shape for g in grads[:3]] == [x.shape, h0.shape, c0.shape]
    for value in [*outs, *grads]:
        assert np.isfinite(value.numpy()).all()
    assert_within(numpy(outs), numpy(ref_outs), FLOAT32_PARITY, "outputs")


# --- 5. Property-based parity ------------------------------------------------


@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(parity_cases(flags=("unit_forget_bias",)))
def test_random_configurations_match_lstm(case):
    """Any mix of options and small shapes: outputs, states and every
    gradient within FLOAT32_PARITY of LSTM's."""
    config, options = case
    errors = parity.compare(config, cell="lstm", **options)
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FLOAT32_PARITY, (worst, errors)


# --- 6. Conversion: from_lstm / to_lstm --------------------------------------

CONVERSION_CONFIGS = [
    {},
    {
        "seed": 9,
        "use_cudnn": False,
        "zero_output_for_mask": True,
        "return_sequences": True,
        "go_backwards": True,
        "activation": "relu",
    },
    {
        "dropout": 0.2,
        "recurrent_dropout": 0.1,
        "seed": 5,
        "use_bias": False,
        "unit_forget_bias": False,
        "recurrent_activation": "tanh",
        "return_state": True,
        "unroll": True,
    },
    # implementation=1 without recurrent dropout: four input masks, one per
    # gate (use_cudnn=False: see test_implementation_1_dropout_in_keras).
    {"implementation": 1, "dropout": 0.3, "seed": 2, "use_cudnn": False},
]


@pytest.mark.parametrize("config", CONVERSION_CONFIGS)
def test_from_lstm_and_back(config):
    """Config (seed, use_cudnn, zero_output_for_mask, implementation
    included) and weights (exactly) survive both ways; the outputs are
    LSTM's (FLOAT32_PARITY), in training too."""
    x = sequences()
    lstm = keras.layers.LSTM(H, **config)
    lstm.build((None, T, D))
    ours = ScratchLSTM.from_lstm(lstm)
    assert type(ours) is ScratchLSTM and ours.built
    assert ours.seed == lstm.cell.seed
    assert ours.use_cudnn == lstm.use_cudnn
    assert ours.zero_output_for_mask == lstm.zero_output_for_mask
    assert ours.cell.implementation == lstm.cell.implementation
    ours_config = ours.get_config()
    for key, value in lstm.get_config().items():
        if key != "name":
            assert ours_config[key] == value, key
    assert_copied(ours.get_weights(), lstm.get_weights())
    mask = np.ones((N, T), bool)
    mask[0, 2:] = mask[2, :1] = False
    for training in (False, True):
        got, want = (
            numpy(keras.tree.flatten(layer(x, mask=mask, training=training)))
            for layer in (ours, lstm)
        )
        assert_within(got, want, FLOAT32_PARITY, f"training={training}")

    back = ours.to_lstm()
    assert type(back) is keras.layers.LSTM and back.built
    back_config, lstm_config = back.get_config(), lstm.get_config()
    assert back_config.pop("name") != lstm_config.pop("name")
    assert back_config == lstm_config
    assert back.cell.seed == lstm.cell.seed
    assert back.use_cudnn == lstm.use_cudnn
    assert back.zero_output_for_mask == lstm.zero_output_for_mask
    assert back.cell.implementation == lstm.cell.implementation
    assert_copied(back.get_weights(), lstm.get_weights())


def test_conversion_keeps_stateful_states():
    """A stateful layer's [h, c] is copied both ways (exactly), and the
    next chunk continues from it as LSTM does (FLOAT32_PARITY)."""
    x = sequences()
    lstm = keras.layers.LSTM(H, stateful=True, return_sequences=True)
    lstm(x)  # moves the states away from zero
    ours = ScratchLSTM.from_lstm(lstm)
    assert ours.stateful and len(ours.states) == 2
    assert_copied(numpy(ours.states), numpy(lstm.states))
    assert np.all(numpy(ours.states)[1] != 0)
    back = ours.to_lstm()
    assert_copied(numpy(back.states), numpy(lstm.states))
    outs = [np.asarray(layer(x)) for layer in (ours, lstm, back)]
    assert_within(outs[:1] * 2, outs[1:], FLOAT32_PARITY, "next chunk")
    assert_within(numpy(ours.states), numpy(lstm.states), FLOAT32_PARITY)


def test_conversion_of_unbuilt_layers_and_wrong_types():
    """Unbuilt stays unbuilt; anything but an LSTM raises naming `layer`."""
    ours = ScratchLSTM.from_lstm(keras.layers.LSTM(H, seed=3))
    assert not ours.built and ours.seed == 3
    back = ours.to_lstm()
    assert not back.built and back.cell.seed == 3
    for other in (keras.layers.SimpleRNN(H), keras.layers.GRU(H), ours):
        with pytest.raises(ValueError, match="`layer`"):
            ScratchLSTM.from_lstm(other)


# --- 7. Config ---------------------------------------------------------------


def test_config_keys_are_lstm_keys_plus_use_cudnn():
    """get_config has LSTM's keys and `use_cudnn`, which LSTM's config
    forgets (it has `seed`); the cell's keys are LSTMCell's."""
    ours = ScratchLSTM(H, seed=3, use_cudnn=False).get_config()
    theirs = keras.layers.LSTM(H, seed=3, use_cudnn=False).get_config()
    assert set(ours) == set(theirs) | {"use_cudnn"}
    assert "use_cudnn" not in theirs
    assert ours["seed"] == theirs["seed"] == 3
    assert ours["use_cudnn"] is False
    cell = ScratchLSTMCell(H, seed=3).get_config()
    assert set(cell) == set(keras.layers.LSTMCell(H, seed=3).get_config())
    restored = ScratchLSTM.from_config(ours)
    assert restored.get_config() == ours


# --- 8. unit_forget_bias -----------------------------------------------------


@pytest.mark.parametrize("unit_forget_bias", [True, False])
@pytest.mark.parametrize("initializer", ["zeros", "random_normal"])
def test_unit_forget_bias_initial_bias(unit_forget_bias, initializer):
    """The initial bias equals LSTM's exactly (same initializer, same
    seed): with unit_forget_bias the forget gate's H entries (i, f, g, o
    order) are 1 and the rest come from `bias_initializer`; without, all
    of it does."""
    biases = []
    for cls in (ScratchLSTM, keras.layers.LSTM):
        layer = cls(
            H,
            unit_forget_bias=unit_forget_bias,
            bias_initializer=keras.initializers.get(
                {"class_name": initializer, "config": {"seed": 7}}
                if initializer == "random_normal"
                else initializer
            ),
        )
        layer.build((None, T, D))
        biases.append(keras.ops.convert_to_numpy(layer.cell.bias))
    ours, theirs = biases
    assert_copied([ours], [theirs])
    forget = ours[H : 2 * H]
    if unit_forget_bias:
        np.testing.assert_array_equal(forget, np.ones(H))
    else:
        assert not np.all(forget == 1)
    if initializer == "zeros":
        others = np.concatenate([ours[:H], ours[2 * H :]])
        np.testing.assert_array_equal(others, np.zeros(3 * H))


# --- 9. use_cudnn ------------------------------------------------------------


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_cudnn_accepted_values(stateless_twins, value):
    """'auto', True and False are stored, saved and restored; the layer
    runs its own loop whatever the value (here, with no GPU, LSTM with
    use_cudnn=True raises), with LSTM's outputs (FLOAT32_PARITY)."""
    _, lstm = stateless_twins
    layer = ScratchLSTM(H, return_sequences=True, use_cudnn=value)
    assert layer.use_cudnn == value and type(layer.use_cudnn) is type(value)
    assert ScratchLSTM.from_config(layer.get_config()).use_cudnn == value
    layer.build((None, None, D))
    layer.set_weights(lstm.get_weights())
    x = sequences()
    assert_within([layer(x)], [lstm(x)], FLOAT32_PARITY)
    assert layer.to_lstm().use_cudnn == value


@pytest.mark.parametrize("value", [None, "true", "cudnn", 1, 0, 1.0])
def test_use_cudnn_other_values_raise(value):
    """Anything else is a ValueError naming `use_cudnn`. (LSTM also
    refuses None and strings, but takes 1, 0 and 1.0, which equal True or
    False; ScratchLSTM asks for the booleans, as for its other flags.)"""
    with pytest.raises(ValueError, match="`use_cudnn`"):
        ScratchLSTM(H, use_cudnn=value)


# --- 10. Dropout -------------------------------------------------------------


@pytest.mark.parametrize(
    "dropout, recurrent_dropout",
    [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.3)],
)
def test_rate_one_applies_no_mask_like_lstm(dropout, recurrent_dropout):
    """A rate of exactly 1 drops nothing in training, as in LSTM (a Keras
    quirk, copied: it applies masks only for rates below 1); the masks are
    still drawn as LSTM draws them, so a second, usable rate (1.0, 0.3)
    gets LSTM's masks. Outputs within FLOAT32_PARITY."""
    ours, lstm = twins(
        return_sequences=True,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=4,
    )
    x = sequences()
    got, want = (layer(x, training=True) for layer in (ours, lstm))
    assert_within([got], [want], FLOAT32_PARITY, "training")
    if recurrent_dropout in (0.0, 1.0):  # no mask at all: inference output
        assert_within([got], [ours(x, training=False)], FLOAT32_PARITY)


def test_implementation_1_dropout_in_keras():
    """Pins a Keras bug (3.15, TensorFlow without a GPU): LSTM with
    `implementation=1` and `dropout` alone fails in training, because its
    cuDNN attempt broadcasts the list of four per-gate masks onto the
    inputs; with `use_cudnn=False` it runs, and ScratchLSTM (any
    `use_cudnn`) gives its outputs over two consecutive calls
    (FLOAT32_PARITY). If the first assertion fails, Keras fixed it."""
    config = {"implementation": 1, "dropout": 0.3, "seed": 2}
    x = sequences()
    with pytest.raises(tf.errors.InvalidArgumentError, match="BroadcastTo"):
        keras.layers.LSTM(H, **config)(x, training=True)
    ours, lstm = twins(use_cudnn=False, **config)
    ours.use_cudnn = "auto"
    for _ in range(2):
        got, want = (layer(x, training=True) for layer in (ours, lstm))
        assert_within([got], [want], FLOAT32_PARITY)


def _record_masks(ours, lstm):
    """Lists that fill with each call's `[input mask, recurrent mask]`,
    each `(N, 4, D or H)` (one mask per gate, in Keras's order)."""
    ours_masks, lstm_masks = [], []
    draw = ours._dropout_masks

    def ours_draw(x, training):
        masks = draw(x, training)
        ours_masks.append(numpy(masks))
        return masks

    ours._dropout_masks = ours_draw
    create = lstm.cell._create_dropout_mask

    def lstm_create(step_input, rate):
        masks = create(step_input, rate)  # a list of 4, one per gate
        lstm_masks.append(np.stack(numpy(masks), axis=1))
        return masks

    lstm.cell._create_dropout_mask = lstm_create
    return ours_masks, lstm_masks


def test_recurrent_dropout_masks_per_gate_equal_lstm():
    """With recurrent_dropout and equal seeds, each of two consecutive
    training calls draws LSTM's eight masks (input and recurrent, one per
    gate: exactly equal), new ones for the second call, and gives LSTM's
    outputs and gradients (FLOAT32_PARITY)."""
    ours, lstm = twins(
        return_sequences=True, dropout=0.25, recurrent_dropout=0.4, seed=11
    )
    assert ours.cell.implementation == lstm.cell.implementation == 1
    ours_masks, lstm_masks = _record_masks(ours, lstm)
    runs = [gradient_function(layer, training=True) for layer in (ours, lstm)]
    x = sequences()
    for call in range(2):
        (outs, grads), (ref_outs, ref_grads) = (run(x, None) for run in runs)
        assert_within(numpy(outs), numpy(ref_outs), FLOAT32_PARITY, "outs")
        assert_within(numpy(grads), numpy(ref_grads), FLOAT32_PARITY, "grads")
        assert len(ours_masks) == call + 1 and len(lstm_masks) == 2 * call + 2
    lstm_masks = [lstm_masks[:2], lstm_masks[2:]]
    for ours_call, lstm_call in zip(ours_masks, lstm_masks):
        assert_copied(ours_call, lstm_call)
        (input_mask, recurrent_mask) = ours_call
        assert input_mask.shape == (N, 4, D)
        assert recurrent_mask.shape == (N, 4, H)
        assert len({m.tobytes() for m in recurrent_mask.swapaxes(0, 1)}) == 4
    assert not np.array_equal(ours_masks[0][1], ours_masks[1][1])


# --- 11. States: reset_state([h, c]) and initial_state ----------------------


@pytest.fixture
def stateful():
    """A stateful ScratchLSTM after one call (states away from zero)."""
    layer = ScratchLSTM(H, stateful=True, return_sequences=True)
    layer(sequences())
    return layer


def test_reset_state_sets_h_and_c(stateful):
    """reset_state([h, c]) sets both states (exactly); the next call starts
    from them, as `initial_state=[h, c]` does and as LSTM with the states
    assigned does (FLOAT32_PARITY). reset_state() zeroes them."""
    h, c = states()
    x = sequences(seed=SEED + 2)
    stateful.reset_state([h, c])
    assert_copied(numpy(stateful.states), [h, c])
    plain = ScratchLSTM(H, return_sequences=True)
    lstm = keras.layers.LSTM(H, stateful=True, return_sequences=True)
    for layer in (plain, lstm):
        layer.build((N, None, D))
        layer.set_weights(stateful.get_weights())
    for variable, value in zip(lstm.states, (h, c)):
        variable.assign(value)  # LSTM's reset_state takes no value
    got = stateful(x)
    assert_within([got], [plain(x, initial_state=[h, c])], FLOAT32_PARITY)
    assert_within([got], [lstm(x)], FLOAT32_PARITY)
    stateful.reset_state()
    assert_copied(numpy(stateful.states), [np.zeros((N, H))] * 2)


@pytest.mark.parametrize(
    "given",
    ["one_array", "list_of_1", "list_of_3", "h_batch", "c_units"],
)
def test_reset_state_rejects_wrong_states(stateful, given):
    """A wrong count or shape raises a ValueError naming `states`; neither
    state changes (all are checked before any is assigned)."""
    h, c = states()
    value = {
        "one_array": h,
        "list_of_1": [h],
        "list_of_3": [h, c, c],
        "h_batch": [np.zeros((N + 1, H), "float32"), c],
        "c_units": [h, np.zeros((N, H + 1), "float32")],
    }[given]
    before = numpy(stateful.states)
    with pytest.raises(ValueError, match="`states`"):
        stateful.reset_state(value)
    assert_copied(numpy(stateful.states), before)


def test_reset_state_with_states_needs_a_stateful_layer(stateless_twins):
    ours, _ = stateless_twins
    with pytest.raises(ValueError, match=r"`states`.*not stateful"):
        ours.reset_state(states())


@pytest.mark.parametrize("in_function", [False, True])
def test_initial_state_as_one_tensor_raises(stateless_twins, in_function):
    """initial_state must be [h0, c0]: one tensor (or a list of 1 or 3)
    raises a ValueError naming `initial_state`. (LSTM fails with an
    IndexError naming nothing.)"""
    ours, _ = stateless_twins
    call = tf.function(ours.__call__) if in_function else ours
    h, c = states()
    for bad in (h, [h], [h, c, c]):
        with pytest.raises(ValueError, match="`initial_state`"):
            call(sequences(), initial_state=bad)


def test_cell_states_as_one_tensor_raises():
    """ScratchLSTMCell's states must be [h, c]: one tensor (or a list of 1)
    raises a ValueError naming `states`; [h, c] gives LSTMCell's step
    (FLOAT32_PARITY)."""
    cell, ref = ScratchLSTMCell(H), keras.layers.LSTMCell(H)
    x = sequences()[:, 0]
    for layer in (cell, ref):
        layer.build(x.shape)
    ref.set_weights(cell.get_weights())
    h, c = states()
    for bad in (h, [h]):
        with pytest.raises(ValueError, match="`states`"):
            cell(x, bad)
    (out, (h_next, c_next)), (ref_out, ref_states) = (
        layer(x, [h, c]) for layer in (cell, ref)
    )
    assert_within(numpy([out, h_next, c_next]), numpy([ref_out, *ref_states]))
