"""ScratchGRU behaves as a drop-in `keras.layers.GRU`, in both of its forms.

The GRU counterparts of test_lstm_behaviour.py: mixed_float16, `fit` with
and without XLA, MirroredStrategy, T = 10,000, a property-based parity
search, conversion both ways, config, `use_cudnn`, dropout rate 1 and
per-gate recurrent dropout masks, `reset_state(h)`, and the errors of the
state calls. Each compares with `keras.layers.GRU` holding the same
weights, under a named tolerance, with `reset_after=True` (Keras's
default) and `reset_after=False` (the book's form) wherever the two forms
run different code (the bias, where r meets the recurrent kernel, the
dropout masks of the candidate). (The main parity product, Bidirectional,
StackedRNNCells, `.keras` files and stateful chunks for the GRU are in
tests/backends/test_layers.py; Keras's own gru_test.py runs on ScratchGRU
in test_keras_gru_suite.py.)
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

from keras_scratch_rnn import ScratchGRU, ScratchGRUCell
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

# The two forms: Keras's default (r after the recurrent matmul, bias
# (2, 3H)) and the book's (r before it, bias (3H,)).
FORMS = pytest.mark.parametrize(
    "reset_after", [True, False], ids=["reset_after", "reset_before"]
)


def state(n=N, seed=SEED + 1):
    """`h`, `(n, H)`, float32."""
    return np.random.default_rng(seed).normal(size=(n, H)).astype("float32")


def twins(shape=(N, None, D), **config):
    """`(ours, gru)` with `config`, built on `shape`; ours holds the GRU's
    (seeded) weights."""
    keras.utils.set_random_seed(SEED)
    gru = keras.layers.GRU(H, **config)
    gru.build(shape)
    ours = ScratchGRU(H, **config)
    ours.build(shape)
    ours.set_weights(gru.get_weights())
    return ours, gru


@pytest.fixture(scope="module")
def stateless_twins():
    """One built pair with `return_sequences`, shared by the tests that
    only call it."""
    return twins(return_sequences=True)


# --- 1. Mixed precision ------------------------------------------------------


@FORMS
@pytest.mark.usefixtures("mixed_float16")
def test_mixed_float16_dtypes_and_parity(reset_after):
    """float16 outputs (sequence, h), float32 weights (the bias `(2, 3H)`
    or `(3H,)`) and float32, finite weight gradients; all within
    FLOAT16_PARITY of GRU's under the same policy."""
    ours, gru = twins(
        return_sequences=True, return_state=True, reset_after=reset_after
    )
    x = sequences()
    (outs, grads), (ref_outs, ref_grads) = (
        forward_backward(layer, x, h0=state()) for layer in (ours, gru)
    )
    assert [o.dtype for o in outs] == ["float16"] * 2
    assert [w.dtype for w in ours.weights] == ["float32"] * 3
    assert ours.cell.bias.shape == ((2, 3 * H) if reset_after else (3 * H,))
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


def gru_model(cls):
    """Tokens -> Embedding(mask_zero) -> cls(H) in Keras's form -> cls(H)
    in the book's form, both with dropout and recurrent dropout (per-gate
    masks, seeded) -> Dense(1); the weights seeded."""
    keras.utils.set_random_seed(SEED)
    dropout = {"dropout": 0.2, "recurrent_dropout": 0.3}
    return keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(10, D, mask_zero=True),
            cls(H, return_sequences=True, seed=5, **dropout),
            cls(H, reset_after=False, seed=6, **dropout),
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "no_xla"])
def test_fit_trains_like_gru(jit):
    """Two epochs of `fit` with `jit_compile=jit`, on padded (masked)
    sequences with dropout masks drawn every step, through both forms
    stacked, give GRU's weights (FLOAT32_PARITY) and loss curve
    (TRAINING_LOSS_RTOL) under the same compilation, and Keras kept XLA
    as asked."""
    rng = np.random.default_rng(SEED)
    tokens = rng.integers(1, 10, size=(32, T))
    lengths = rng.integers(1, T + 1, size=32)
    tokens[np.arange(T) >= lengths[:, None]] = 0  # trailing padding
    y = sequences((32, 1), seed=SEED + 1)
    initial = gru_model(keras.layers.GRU).get_weights()
    assert {(2, 3 * H), (3 * H,)} <= {w.shape for w in initial}  # both forms
    runs = []
    for cls in (ScratchGRU, keras.layers.GRU):
        model = gru_model(cls)
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
# the GRUs in place of the RNNs, the second one in the book's form: the same
# logical-CPU setup, data, model shape, training and measurements.
GRU_DISTRIBUTED_SCRIPT = (
    DISTRIBUTED_SCRIPT.replace("keras.layers.SimpleRNN", "keras.layers.GRU")
    .replace("ScratchRNN", "ScratchGRU")
    .replace("rnn(UNITS),", "rnn(UNITS, reset_after=False),")
)


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(tmp_path):
    """Two-replica MirroredStrategy training (two logical CPUs) of two
    stacked GRUs (both forms) ends with the weights of single-device
    training on the same global batches, and with GRU's under the same
    strategy (DISTRIBUTED_WEIGHTS_PARITY, absolute; losses
    TRAINING_LOSS_RTOL). A child process: the logical devices must exist
    before TensorFlow starts."""
    assert "RNN" not in GRU_DISTRIBUTED_SCRIPT  # every layer was swapped
    assert GRU_DISTRIBUTED_SCRIPT.count("ScratchGRU") >= 3
    assert GRU_DISTRIBUTED_SCRIPT.count("reset_after=False") == 1
    run = subprocess.run(
        [sys.executable, "-c", GRU_DISTRIBUTED_SCRIPT],
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
    single, mirrored, keras_gru = (np.array(v) for v in result["losses"])
    for reference in (single, keras_gru):
        assert np.max(np.abs(mirrored / reference - 1)) <= TRAINING_LOSS_RTOL


# --- 4. Very long sequences --------------------------------------------------

LONG_T = 10_000


@pytest.mark.slow
def test_ten_thousand_steps_forward_backward_match_gru():
    """T = 10,000, masked, initial h0, backwards, in `tf.function`: the
    forward and the handwritten backward finish with finite values, and
    the sequence and the final state are GRU's (FLOAT32_PARITY).

    T is ten times Python's recursion limit, so a recursion per step would
    fail. (GRU's own backward over 10,000 steps takes seconds on CPU, so
    only its forward is the reference here; the gradients' parity is
    tests/backends/test_layers.py's, at small T.)
    """
    assert sys.getrecursionlimit() < LONG_T
    n, d, h = 2, 2, 3
    x, mask, h0 = parity.default_inputs(n, LONG_T, d, h, cell="gru")
    config = {"return_sequences": True, "return_state": True}
    layers = []
    for cls in (ScratchGRU, keras.layers.GRU):
        layer = cls(h, go_backwards=True, **config)
        layer.build((None, None, d))
        layer.set_weights(parity.default_weights(d, h, cell="gru", bias_rows=2))
        layers.append(layer)
    ours, gru = layers
    x, mask, h0 = (tf.constant(a) for a in (x, mask, h0))

    @tf.function
    def train_step(x, h0, mask):
        with tf.GradientTape() as tape:
            tape.watch([x, h0])
            out, h_last = ours(x, initial_state=h0, mask=mask)
            loss = tf.reduce_sum(tf.sin(out)) + tf.reduce_sum(h_last**2)
        grads = tape.gradient(loss, [x, h0, *ours.trainable_weights])
        return [out, h_last], grads

    outs, grads = train_step(x, h0, mask)
    ref_outs = tf.function(
        lambda x, h0, mask: gru(x, initial_state=h0, mask=mask)
    )(x, h0, mask)
    assert outs[0].shape == (n, LONG_T, h)
    assert [g.shape for g in grads[:2]] == [x.shape, h0.shape]
    for value in [*outs, *grads]:
        assert np.isfinite(value.numpy()).all()
    assert_within(numpy(outs), numpy(ref_outs), FLOAT32_PARITY, "outputs")


# --- 5. Property-based parity ------------------------------------------------


def _random_configurations_match_gru(case):
    config, options = case
    errors = parity.compare(config, cell="gru", **options)
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FLOAT32_PARITY, (worst, errors)


SEARCH = settings(
    max_examples=5, deadline=None, derandomize=True, database=None
)


@SEARCH
@given(parity_cases(fixed={"reset_after": True}))
def test_random_configurations_match_gru_reset_after(case):
    """Any mix of options and small shapes, `reset_after=True`: outputs,
    the state and every gradient within FLOAT32_PARITY of GRU's."""
    _random_configurations_match_gru(case)


@SEARCH
@given(parity_cases(fixed={"reset_after": False}))
def test_random_configurations_match_gru_reset_before(case):
    """The same search in the book's form, `reset_after=False`."""
    _random_configurations_match_gru(case)


# --- 6. Conversion: from_gru / to_gru ----------------------------------------

CONVERSION_CONFIGS = [
    {},
    {
        "seed": 9,
        "use_cudnn": False,
        "zero_output_for_mask": True,
        "return_sequences": True,
        "go_backwards": True,
        "activation": "relu",
        "reset_after": False,
    },
    {
        "dropout": 0.2,
        "recurrent_dropout": 0.1,
        "seed": 5,
        "use_bias": False,
        "recurrent_activation": "tanh",
        "return_state": True,
        "unroll": True,
    },
    # implementation=1 without recurrent dropout: three input masks, one
    # per gate (use_cudnn=False: see test_implementation_1_dropout_in_keras).
    {
        "implementation": 1,
        "dropout": 0.3,
        "seed": 2,
        "use_cudnn": False,
        "reset_after": False,
    },
]


@pytest.mark.parametrize("config", CONVERSION_CONFIGS)
def test_from_gru_and_back(config):
    """Config (seed, use_cudnn, zero_output_for_mask, implementation,
    reset_after included) and weights (exactly) survive both ways; the
    outputs are GRU's (FLOAT32_PARITY), in training too."""
    x = sequences()
    gru = keras.layers.GRU(H, **config)
    gru.build((None, T, D))
    ours = ScratchGRU.from_gru(gru)
    assert type(ours) is ScratchGRU and ours.built
    assert ours.seed == gru.cell.seed
    assert ours.use_cudnn == gru.use_cudnn
    assert ours.zero_output_for_mask == gru.zero_output_for_mask
    assert ours.cell.implementation == gru.cell.implementation
    assert ours.reset_after is gru.reset_after
    ours_config = ours.get_config()
    for key, value in gru.get_config().items():
        if key != "name":
            assert ours_config[key] == value, key
    assert_copied(ours.get_weights(), gru.get_weights())
    mask = np.ones((N, T), bool)
    mask[0, 2:] = mask[2, :1] = False
    for training in (False, True):
        got, want = (
            numpy(keras.tree.flatten(layer(x, mask=mask, training=training)))
            for layer in (ours, gru)
        )
        assert_within(got, want, FLOAT32_PARITY, f"training={training}")

    back = ours.to_gru()
    assert type(back) is keras.layers.GRU and back.built
    back_config, gru_config = back.get_config(), gru.get_config()
    assert back_config.pop("name") != gru_config.pop("name")
    assert back_config == gru_config
    assert back.cell.seed == gru.cell.seed
    assert back.use_cudnn == gru.use_cudnn
    assert back.zero_output_for_mask == gru.zero_output_for_mask
    assert back.cell.implementation == gru.cell.implementation
    assert_copied(back.get_weights(), gru.get_weights())


@FORMS
def test_conversion_keeps_stateful_states(reset_after):
    """A stateful layer's h is copied both ways (exactly), and the next
    chunk continues from it as GRU does (FLOAT32_PARITY)."""
    x = sequences()
    gru = keras.layers.GRU(
        H, stateful=True, return_sequences=True, reset_after=reset_after
    )
    gru(x)  # moves the state away from zero
    ours = ScratchGRU.from_gru(gru)
    assert ours.stateful and len(ours.states) == 1
    assert ours.cell.bias.shape == gru.cell.bias.shape
    assert_copied(numpy(ours.states), numpy(gru.states))
    assert np.all(numpy(ours.states)[0] != 0)
    back = ours.to_gru()
    assert_copied(numpy(back.states), numpy(gru.states))
    outs = [np.asarray(layer(x)) for layer in (ours, gru, back)]
    assert_within(outs[:1] * 2, outs[1:], FLOAT32_PARITY, "next chunk")
    assert_within(numpy(ours.states), numpy(gru.states), FLOAT32_PARITY)


def test_conversion_of_unbuilt_layers_and_wrong_types():
    """Unbuilt stays unbuilt (the form kept); anything but a GRU raises
    naming `layer`."""
    ours = ScratchGRU.from_gru(keras.layers.GRU(H, seed=3, reset_after=False))
    assert not ours.built and ours.seed == 3 and ours.reset_after is False
    back = ours.to_gru()
    assert not back.built and back.cell.seed == 3
    assert back.reset_after is False
    others = (
        keras.layers.SimpleRNN(H),
        keras.layers.LSTM(H),
        keras.layers.RNN(keras.layers.GRUCell(H)),
        ours,
    )
    for other in others:
        with pytest.raises(ValueError, match="`layer`"):
            ScratchGRU.from_gru(other)


# --- 7. Config ---------------------------------------------------------------


def test_config_keys_are_gru_keys_plus_use_cudnn():
    """get_config has GRU's keys and `use_cudnn`, which GRU's config
    forgets (it has `seed` and `reset_after`); the cell's keys are
    GRUCell's."""
    ours = ScratchGRU(H, seed=3, use_cudnn=False, reset_after=False)
    theirs = keras.layers.GRU(H, seed=3, use_cudnn=False, reset_after=False)
    ours, theirs = ours.get_config(), theirs.get_config()
    assert set(ours) == set(theirs) | {"use_cudnn"}
    assert "use_cudnn" not in theirs
    assert ours["seed"] == theirs["seed"] == 3
    assert ours["reset_after"] is theirs["reset_after"] is False
    assert ours["use_cudnn"] is False
    cell = ScratchGRUCell(H, seed=3).get_config()
    assert set(cell) == set(keras.layers.GRUCell(H, seed=3).get_config())
    restored = ScratchGRU.from_config(ours)
    assert restored.get_config() == ours


# --- 8. use_cudnn ------------------------------------------------------------


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_cudnn_accepted_values(stateless_twins, value):
    """'auto', True and False are stored, saved and restored; the layer
    runs its own loop whatever the value (here, with no GPU, GRU with
    use_cudnn=True raises), with GRU's outputs (FLOAT32_PARITY)."""
    _, gru = stateless_twins
    layer = ScratchGRU(H, return_sequences=True, use_cudnn=value)
    assert layer.use_cudnn == value and type(layer.use_cudnn) is type(value)
    assert ScratchGRU.from_config(layer.get_config()).use_cudnn == value
    layer.build((None, None, D))
    layer.set_weights(gru.get_weights())
    x = sequences()
    assert_within([layer(x)], [gru(x)], FLOAT32_PARITY)
    assert layer.to_gru().use_cudnn == value
    if value is True and not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="use_cudnn=True"):
            layer.to_gru()(x)


@pytest.mark.parametrize("value", [None, "true", "cudnn", 1, 0, 1.0])
def test_use_cudnn_other_values_raise(value):
    """Anything else is a ValueError naming `use_cudnn`. (GRU also
    refuses None and strings, but takes 1, 0 and 1.0, which equal True or
    False; ScratchGRU asks for the booleans, as for its other flags.)"""
    with pytest.raises(ValueError, match="`use_cudnn`"):
        ScratchGRU(H, use_cudnn=value)


# --- 9. Dropout --------------------------------------------------------------


@pytest.mark.parametrize(
    "dropout, recurrent_dropout, reset_after",
    [
        (1.0, 0.0, True),
        (0.0, 1.0, True),
        (1.0, 1.0, False),
        (1.0, 0.3, True),
        (1.0, 0.3, False),
    ],
)
def test_rate_one_applies_no_mask_like_gru(
    dropout, recurrent_dropout, reset_after
):
    """A rate of exactly 1 drops nothing in training, as in GRU (a Keras
    quirk, copied: it applies masks only for rates below 1); the masks are
    still drawn as GRU draws them, so a second, usable rate (1.0, 0.3)
    gets GRU's masks, in both forms. Outputs within FLOAT32_PARITY."""
    ours, gru = twins(
        return_sequences=True,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=4,
        reset_after=reset_after,
    )
    x = sequences()
    got, want = (layer(x, training=True) for layer in (ours, gru))
    assert_within([got], [want], FLOAT32_PARITY, "training")
    if recurrent_dropout in (0.0, 1.0):  # no mask at all: inference output
        assert_within([got], [ours(x, training=False)], FLOAT32_PARITY)


@FORMS
def test_implementation_1_dropout_in_keras(reset_after):
    """Pins a Keras bug (3.15, TensorFlow without a GPU): GRU with
    `implementation=1` and `dropout` alone fails in training, in either
    form, because its cuDNN attempt broadcasts the list of three per-gate
    masks onto the inputs; with `use_cudnn=False` it runs, and ScratchGRU
    (any `use_cudnn`) gives its outputs over two consecutive calls
    (FLOAT32_PARITY). If the first assertion fails, Keras fixed it."""
    config = {
        "implementation": 1,
        "dropout": 0.3,
        "seed": 2,
        "reset_after": reset_after,
    }
    x = sequences()
    with pytest.raises(tf.errors.InvalidArgumentError, match="BroadcastTo"):
        keras.layers.GRU(H, **config)(x, training=True)
    ours, gru = twins(use_cudnn=False, **config)
    ours.use_cudnn = "auto"
    for _ in range(2):
        got, want = (layer(x, training=True) for layer in (ours, gru))
        assert_within([got], [want], FLOAT32_PARITY)


def _record_masks(ours, gru):
    """Lists that fill with each call's `[input mask, recurrent mask]`,
    each `(N, 3, D or H)` (one mask per gate, in Keras's order z, r, h)."""
    ours_masks, gru_masks = [], []
    draw = ours._dropout_masks

    def ours_draw(x, training):
        masks = draw(x, training)
        ours_masks.append(numpy(masks))
        return masks

    ours._dropout_masks = ours_draw
    create = gru.cell._create_dropout_mask

    def gru_create(step_input, rate):
        masks = create(step_input, rate)  # a list of 3, one per gate
        gru_masks.append(np.stack(numpy(masks), axis=1))
        return masks

    gru.cell._create_dropout_mask = gru_create
    return ours_masks, gru_masks


@FORMS
def test_recurrent_dropout_masks_per_gate_equal_gru(reset_after):
    """With recurrent_dropout and equal seeds, each of two consecutive
    training calls draws GRU's six masks (input and recurrent, one per
    gate: exactly equal), new ones for the second call, and gives GRU's
    outputs and gradients (FLOAT32_PARITY). The candidate's recurrent mask
    meets r after the matmul or before it, so both forms."""
    ours, gru = twins(
        return_sequences=True,
        dropout=0.25,
        recurrent_dropout=0.4,
        seed=11,
        reset_after=reset_after,
    )
    assert ours.cell.implementation == gru.cell.implementation == 1
    ours_masks, gru_masks = _record_masks(ours, gru)
    runs = [gradient_function(layer, training=True) for layer in (ours, gru)]
    x = sequences()
    for call in range(2):
        (outs, grads), (ref_outs, ref_grads) = (run(x, None) for run in runs)
        assert_within(numpy(outs), numpy(ref_outs), FLOAT32_PARITY, "outs")
        assert_within(numpy(grads), numpy(ref_grads), FLOAT32_PARITY, "grads")
        assert len(ours_masks) == call + 1 and len(gru_masks) == 2 * call + 2
    gru_masks = [gru_masks[:2], gru_masks[2:]]
    for ours_call, gru_call in zip(ours_masks, gru_masks):
        assert_copied(ours_call, gru_call)
        (input_mask, recurrent_mask) = ours_call
        assert input_mask.shape == (N, 3, D)
        assert recurrent_mask.shape == (N, 3, H)
        assert len({m.tobytes() for m in recurrent_mask.swapaxes(0, 1)}) == 3
    assert not np.array_equal(ours_masks[0][1], ours_masks[1][1])


# --- 10. States: reset_state(h) and initial_state ----------------------------


@pytest.fixture(params=[True, False], ids=["reset_after", "reset_before"])
def stateful(request):
    """A stateful ScratchGRU after one call (state away from zero)."""
    layer = ScratchGRU(
        H, stateful=True, return_sequences=True, reset_after=request.param
    )
    layer(sequences())
    return layer


def test_reset_state_sets_h(stateful):
    """reset_state(h) and reset_state([h]) set the state (exactly); the
    next call starts from it, as `initial_state=h` does and as GRU with
    the state assigned does (FLOAT32_PARITY). reset_state() zeroes it."""
    h = state()
    x = sequences(seed=SEED + 2)
    stateful.reset_state([2 * h])
    assert_copied(numpy(stateful.states), [2 * h])
    stateful.reset_state(h)
    assert_copied(numpy(stateful.states), [h])
    config = {"return_sequences": True, "reset_after": stateful.reset_after}
    plain = ScratchGRU(H, **config)
    gru = keras.layers.GRU(H, stateful=True, **config)
    for layer in (plain, gru):
        layer.build((N, None, D))
        layer.set_weights(stateful.get_weights())
    gru.states[0].assign(h)  # GRU's reset_state takes no value
    got = stateful(x)
    assert_within([got], [plain(x, initial_state=h)], FLOAT32_PARITY)
    assert_within([got], [gru(x)], FLOAT32_PARITY)
    stateful.reset_state()
    assert_copied(numpy(stateful.states), [np.zeros((N, H))])


def test_keras_reset_state_takes_no_states():
    """Pins the Keras bug ScratchGRU fixes: GRU's `reset_state(states)` is
    documented but raises TypeError. If this fails, Keras fixed it."""
    gru = keras.layers.GRU(H, stateful=True)
    gru(sequences())
    with pytest.raises(TypeError):
        gru.reset_state(state())


@pytest.mark.parametrize(
    "given", ["list_of_2", "h_batch", "h_units", "text", "empty_list"]
)
def test_reset_state_rejects_wrong_states(given):
    """A wrong count, shape or type raises a ValueError naming `states`;
    the state does not change."""
    layer = ScratchGRU(H, stateful=True)
    layer(sequences())
    h = state()
    value = {
        "list_of_2": [h, h],
        "h_batch": np.zeros((N + 1, H), "float32"),
        "h_units": [np.zeros((N, H + 1), "float32")],
        "text": "zeros",
        "empty_list": [],
    }[given]
    before = numpy(layer.states)
    with pytest.raises(ValueError, match="`states`"):
        layer.reset_state(value)
    assert_copied(numpy(layer.states), before)


def test_reset_state_with_states_needs_a_stateful_layer(stateless_twins):
    ours, _ = stateless_twins
    with pytest.raises(ValueError, match=r"`states`.*not stateful"):
        ours.reset_state(state())


@pytest.mark.parametrize("in_function", [False, True])
def test_initial_state_forms(stateless_twins, in_function):
    """initial_state is h or [h] (both GRU's result, FLOAT32_PARITY); a
    list of two raises a ValueError naming `initial_state`. (GRU takes
    [h, anything] silently and uses h.)"""
    ours, gru = stateless_twins
    call = tf.function(ours.__call__) if in_function else ours
    h, x = state(), sequences()
    want = gru(x, initial_state=h)
    for h0 in (h, [h]):
        assert_within([call(x, initial_state=h0)], [want], FLOAT32_PARITY)
    assert_within([gru(x, initial_state=[h, 2 * h])], [want], 0.0)
    with pytest.raises(ValueError, match="`initial_state`"):
        call(x, initial_state=[h, h])


def test_stateful_call_with_another_batch_size_raises():
    """A stateful ScratchGRU built for N rows refuses 1 and N + 2 rows
    with a ValueError naming the batch size, as GRU's eager call does, and
    keeps its state."""
    layer, gru = (
        ScratchGRU(H, stateful=True),
        keras.layers.GRU(H, stateful=True),
    )
    for rnn in (layer, gru):
        rnn(sequences())
    before = numpy(layer.states)
    for n in (1, N + 2):
        for rnn in (layer, gru):
            with pytest.raises(ValueError, match="batch size"):
                rnn(sequences((n, T, D)))
    assert_copied(numpy(layer.states), before)


def test_stateful_predict_incomplete_last_batch():
    """predict(5 samples, batch_size=2) on a stateful model: ScratchGRU
    raises naming the batch size; GRU returns 6 rows, its last batch of 1
    broadcast onto the 2-row state (Keras bug 21183, pinned: if the second
    half fails, Keras fixed it)."""
    x = sequences((5, T, D))
    models = [
        keras.Sequential(
            [keras.Input((T, D), batch_size=2), cls(H, stateful=True)]
        )
        for cls in (ScratchGRU, keras.layers.GRU)
    ]
    ours, gru = models
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch size"):
        ours.predict(x, batch_size=2, verbose=0)
    assert ours.predict(x[:4], batch_size=2, verbose=0).shape == (4, H)
    assert gru.predict(x, batch_size=2, verbose=0).shape == (6, H)


@FORMS
def test_cell_states(reset_after):
    """ScratchGRUCell's states are h or [h] (the new state in the same
    form); [h, h] raises a ValueError naming `states`; its step is
    GRUCell's (FLOAT32_PARITY)."""
    cell = ScratchGRUCell(H, reset_after=reset_after)
    ref = keras.layers.GRUCell(H, reset_after=reset_after)
    x = sequences()[:, 0]
    for layer in (cell, ref):
        layer.build(x.shape)
    ref.set_weights(cell.get_weights())
    h = state()
    with pytest.raises(ValueError, match="`states`"):
        cell(x, [h, h])
    (out, new), (ref_out, ref_new) = (layer(x, h) for layer in (cell, ref))
    assert not isinstance(new, (list, tuple))
    assert_within(numpy([out, new]), numpy([ref_out, ref_new]))
    (out, new), (ref_out, ref_new) = (layer(x, [h]) for layer in (cell, ref))
    assert isinstance(new, list) and len(new) == 1
    assert_within(numpy([out, *new]), numpy([ref_out, *ref_new]))
