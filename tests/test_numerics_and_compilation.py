"""ScratchRNN under mixed precision, XLA, tf.function and tf.distribute.

Each test runs ScratchRNN (or `keras.layers.RNN(ScratchRNNCell)`) next to
`keras.layers.SimpleRNN` holding identical weights, under the same policy or
compilation, and compares outputs, gradients, losses or trained weights.
The handwritten backward is a `tf.custom_gradient`; these are the settings
where such a function is most likely to break: float16 dtypes and overflow,
XLA's static shapes, retracing with unknown shapes, replica contexts, and
eager tapes over Keras variables.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn import ScratchRNN, ScratchRNNCell
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    TRAINING_LOSS_RTOL,
    scaled_error,
)

# Tests that run the loops in this process do so with both strategies of
# `ops` (see conftest.py).
both_strategies = pytest.mark.usefixtures("loop_strategy")

SEED = 0
N, T, D, H = 4, 6, 3, 5

# float16 has a 10-bit mantissa: ~3 significant decimal digits (one ulp at 1
# is 2**-10 ~ 1e-3). Two float16 computations that round in a different
# order differ by a few ulps, which accumulate over the time steps; 1e-2
# scaled error allows that and still catches a wrong formula or a missing
# cast (those give errors of order 1).
FLOAT16_PARITY = 1e-2

# Loss curves of two mixed_float16 trainings, relative, per epoch: the same
# float16 round-off as FLOAT16_PARITY, fed through a few optimizer steps.
FLOAT16_TRAINING_LOSS_RTOL = 1e-2

# Weights after MirroredStrategy training vs single-device training on the
# same global batches: the all-reduce adds two half-batch gradients where
# one device sums the whole batch, a float32 reassociation only.
DISTRIBUTED_WEIGHTS_PARITY = FLOAT32_PARITY

# LossScaleOptimizer's initial loss scale (Keras default): it is halved on
# any non-finite gradient and doubled only after 2000 finite steps.
INITIAL_LOSS_SCALE = 2.0**15


# --- Helpers -----------------------------------------------------------------


def sequences(shape=(N, T, D), seed=SEED):
    """Float32 inputs drawn from N(0, 1)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype("float32")


def assert_close(actual, expected, tol, what=""):
    """Scaled error (tolerances.scaled_error) of every pair within `tol`."""
    assert len(actual) == len(expected), what
    for i, (a, b) in enumerate(zip(actual, expected)):
        err = scaled_error(a, b)
        assert err <= tol, f"{what}[{i}]: scaled error {err:.2e} > {tol:.0e}"


def scratch_layer(kind, units, **kwargs):
    """A ScratchRNN, or `keras.layers.RNN` around a ScratchRNNCell."""
    if kind == "layer":
        return ScratchRNN(units, **kwargs)
    return keras.layers.RNN(ScratchRNNCell(units), **kwargs)


def layer_pair(kind="layer", shape=(N, T, D), units=H, **kwargs):
    """`(ours, simple)` built on `shape`, ours holding simple's weights."""
    keras.utils.set_random_seed(SEED)
    simple = keras.layers.SimpleRNN(units, **kwargs)
    simple.build(shape)
    ours = scratch_layer(kind, units, **kwargs)
    ours.build(shape)
    ours.set_weights(simple.get_weights())
    return ours, simple


def outputs_and_grads(layer, x, mask=None):
    """Outputs, and gradients of a float32 loss w.r.t. x and the weights.

    The loss is a sum, not a mean, so that the gradients are of order 1 and
    a scaled error on them is meaningful.
    """
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, mask=mask)
        loss = tf.reduce_sum(tf.square(tf.cast(outputs, "float32")))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return outputs, grads


def numpy_all(tensors):
    return [np.asarray(t) for t in tensors]


def rnn_model(rnn, units=H, shape=(T, D), **kwargs):
    """Input -> rnn -> Dense(1), seeded (the Dense weights)."""
    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [keras.Input(shape), rnn(units, **kwargs), keras.layers.Dense(1)]
    )


def fit_losses(model, x, y, epochs, optimizer, **compile_kwargs):
    """Per-epoch losses and final weights of a SGD/Adam fit, no shuffling."""
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    history = model.fit(
        x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0
    )
    return np.array(history.history["loss"]), model.get_weights()


def relative_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1.0)))


# --- 1. Mixed precision ------------------------------------------------------


@both_strategies
@pytest.mark.usefixtures("mixed_float16")
@pytest.mark.parametrize("kind", ["layer", "cell"])
def test_mixed_float16_dtypes_and_parity(kind):
    """float16 outputs, float32 variables and float32, finite gradients,
    equal to SimpleRNN's under the same policy; both stay within
    FLOAT16_PARITY of a float32 SimpleRNN."""
    ours, simple = layer_pair(kind, return_sequences=True)
    x = sequences()
    out, grads = outputs_and_grads(ours, x)
    simple_out, simple_grads = outputs_and_grads(simple, x)

    assert out.dtype == "float16"
    assert [w.dtype for w in ours.weights] == ["float32"] * 3
    assert [g.dtype for g in grads] == [tf.float32] * 4
    for value in [out, *grads]:
        assert np.isfinite(np.asarray(value)).all()
    assert_close([out], [simple_out], FLOAT16_PARITY, "output")
    assert_close(grads, simple_grads, FLOAT16_PARITY, "grads")

    exact = keras.layers.SimpleRNN(H, return_sequences=True, dtype="float32")
    exact.build(x.shape)
    exact.set_weights(simple.get_weights())
    exact_out, exact_grads = outputs_and_grads(exact, x)
    assert exact_out.dtype == "float32"
    assert_close([out, *grads], [exact_out, *exact_grads], FLOAT16_PARITY)


@both_strategies
@pytest.mark.usefixtures("mixed_float16")
def test_mixed_float16_backward_does_not_overflow():
    """With the loss scaled by the LossScaleOptimizer (2**15), the float16
    backward of typical inputs stays finite: the scaled gradients are
    finite and match SimpleRNN's, and one `train_on_batch` applies its step
    (loss scale not halved) with finite loss and weights, as SimpleRNN."""
    shape = (8, 50, 16)
    x = sequences(shape)
    zeros = np.zeros((8, 50, 32), "float32")  # mse against 0: mean(out**2)
    models = []
    for rnn in (ScratchRNN, keras.layers.SimpleRNN):
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential(
            [keras.Input(shape[1:]), rnn(32, return_sequences=True)]
        )
        model.compile(optimizer="adam", loss="mse")
        models.append(model)
    ours, simple = models
    ours.set_weights(simple.get_weights())
    initial = ours.get_weights()

    scaled_grads = []
    for model in models:
        optimizer = model.optimizer
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        with tf.GradientTape() as tape:
            outputs = model(x)
            loss = tf.reduce_mean(tf.square(tf.cast(outputs, "float32")))
            scaled_loss = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, model.trainable_weights)
        assert outputs.dtype == "float16"
        assert [g.dtype for g in grads] == [tf.float32] * 3
        for g in grads:
            assert np.isfinite(g.numpy()).all()
        scaled_grads.append(grads)
    # Scaled, the gradients are large, so the scaled error is relative.
    assert_close(*scaled_grads, FLOAT16_PARITY, "scaled grads")

    for model in models:
        loss = model.train_on_batch(x, zeros)
        assert np.isfinite(loss)
        assert float(model.optimizer.dynamic_scale) == INITIAL_LOSS_SCALE
        assert int(model.optimizer.iterations) == 1
        for before, after in zip(initial, model.get_weights()):
            assert np.isfinite(after).all()
            assert np.any(before != after)  # the step was not skipped
    assert_close(ours.get_weights(), simple.get_weights(), FLOAT16_PARITY)


@both_strategies
@pytest.mark.usefixtures("mixed_float16")
def test_mixed_float16_fit_matches_simple_rnn():
    """Two epochs of `fit` under mixed_float16 give SimpleRNN's loss curve
    and weights, to float16 accuracy."""
    x = sequences((32, T, D))
    y = sequences((32, 1), seed=SEED + 1)
    initial = rnn_model(keras.layers.SimpleRNN).get_weights()
    results = []
    for rnn in (ScratchRNN, keras.layers.SimpleRNN):
        model = rnn_model(rnn)
        model.set_weights(initial)
        results.append(fit_losses(model, x, y, 2, keras.optimizers.SGD(0.1)))
        assert model.layers[0].compute_dtype == "float16"
    (ours_loss, ours_w), (simple_loss, simple_w) = results
    assert np.isfinite(ours_loss).all()
    assert ours_loss[-1] < ours_loss[0]
    diff = relative_difference(ours_loss, simple_loss)
    assert diff <= FLOAT16_TRAINING_LOSS_RTOL, (ours_loss, simple_loss)
    assert_close(ours_w, simple_w, FLOAT16_PARITY, "weights")


def test_policy_is_float32_outside_the_fixture():
    """The mixed_float16 fixture does not leak into later tests."""
    assert keras.mixed_precision.global_policy().name == "float32"


# --- 2. XLA ------------------------------------------------------------------


@both_strategies
def test_jit_compile_fit_matches_no_jit_and_simple_rnn():
    """`compile(jit_compile=True)` (XLA) trains as `jit_compile=False` and
    as SimpleRNN under XLA: same losses per epoch and same weights."""
    x = sequences((32, T, D))
    y = sequences((32, 1), seed=SEED + 1)
    initial = rnn_model(keras.layers.SimpleRNN).get_weights()
    runs = {}
    for rnn, jit in [
        (ScratchRNN, True),
        (ScratchRNN, False),
        (keras.layers.SimpleRNN, True),
    ]:
        model = rnn_model(rnn)
        model.set_weights(initial)
        runs[rnn, jit] = fit_losses(
            model, x, y, 3, keras.optimizers.SGD(0.1), jit_compile=jit
        )
        assert model.jit_compile is jit  # Keras did not turn XLA off
    xla_loss, xla_w = runs[ScratchRNN, True]
    for key in [(ScratchRNN, False), (keras.layers.SimpleRNN, True)]:
        loss, weights = runs[key]
        assert relative_difference(xla_loss, loss) <= TRAINING_LOSS_RTOL
        assert_close(xla_w, weights, FLOAT32_PARITY, str(key))


def _masked_model(rnn):
    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(10, D, mask_zero=True),
            rnn(H),
            keras.layers.Dense(1),
        ]
    )


@both_strategies
def test_jit_compile_masked_fit():
    """With an Embedding(mask_zero=True) mask, XLA training equals non-XLA
    training and SimpleRNN under XLA."""
    rng = np.random.default_rng(SEED)
    tokens = rng.integers(1, 10, size=(32, T))
    lengths = rng.integers(1, T + 1, size=32)
    tokens[np.arange(T) >= lengths[:, None]] = 0  # trailing padding
    y = sequences((32, 1), seed=SEED + 1)
    initial = _masked_model(keras.layers.SimpleRNN).get_weights()
    runs = {}
    for rnn, jit in [
        (ScratchRNN, True),
        (ScratchRNN, False),
        (keras.layers.SimpleRNN, True),
    ]:
        model = _masked_model(rnn)
        model.set_weights(initial)
        runs[rnn, jit] = fit_losses(
            model, tokens, y, 3, keras.optimizers.SGD(0.1), jit_compile=jit
        )
        assert model.jit_compile is jit
    xla_loss, xla_w = runs[ScratchRNN, True]
    for key in [(ScratchRNN, False), (keras.layers.SimpleRNN, True)]:
        loss, weights = runs[key]
        assert relative_difference(xla_loss, loss) <= TRAINING_LOSS_RTOL
        assert_close(xla_w, weights, FLOAT32_PARITY, str(key))


@both_strategies
@pytest.mark.parametrize("masked", [False, True])
def test_xla_function_gradients_match_eager(masked):
    """`tf.function(jit_compile=True)` around a GradientTape step compiles
    to XLA (HLO is produced) and gives the eager outputs and gradients,
    which are SimpleRNN's."""
    ours, simple = layer_pair(return_sequences=True)
    x = tf.constant(sequences())
    mask = np.ones((N, T), bool)
    mask[0, 4:] = mask[2, 1:] = False
    mask = tf.constant(mask) if masked else None

    step = tf.function(outputs_and_grads, jit_compile=True)
    hlo = step.experimental_get_compiler_ir(ours, x, mask)(stage="hlo")
    assert "while" in hlo  # the recurrence, compiled by XLA
    out, grads = step(ours, x, mask)
    eager_out, eager_grads = outputs_and_grads(ours, x, mask)
    simple_out, simple_grads = outputs_and_grads(simple, x, mask)
    expected = numpy_all([eager_out, *eager_grads])
    assert_close(numpy_all([out, *grads]), expected, FLOAT32_PARITY)
    assert_close(expected, [simple_out, *simple_grads], FLOAT32_PARITY)


# --- 3. Retracing and unknown shapes -----------------------------------------


@both_strategies
def test_reduce_retracing_over_batch_and_time():
    """`tf.function(reduce_retracing=True)` on 6 shapes traces at most 3
    times (then with unknown batch and time) and equals eager results."""
    ours, _ = layer_pair(shape=(None, None, D), return_sequences=True)

    @tf.function(reduce_retracing=True)
    def step(x):
        return outputs_and_grads(ours, x)

    shapes = [(2, 3), (5, 3), (2, 7), (4, 1), (3, 5), (6, 2)]
    for i, (n, t) in enumerate(shapes):
        x = tf.constant(sequences((n, t, D), seed=i))
        out, grads = step(x)
        eager_out, eager_grads = outputs_and_grads(ours, x)
        assert out.shape == (n, t, H)
        assert_close(
            numpy_all([out, *grads]),
            numpy_all([eager_out, *eager_grads]),
            FLOAT32_PARITY,
            f"shape {(n, t)}",
        )
    assert step.experimental_get_tracing_count() <= 3


@both_strategies
@pytest.mark.parametrize("kind", ["layer", "cell"])
def test_unknown_batch_and_time_signature(kind):
    """One trace with `input_signature=(None, None, D)` serves T = 1, 3, 7
    with the eager outputs and gradients."""
    ours, _ = layer_pair(kind, shape=(None, None, D), return_sequences=True)

    @tf.function(input_signature=[tf.TensorSpec((None, None, D))])
    def step(x):
        return outputs_and_grads(ours, x)

    for t in (1, 3, 7):
        x = tf.constant(sequences((t + 1, t, D), seed=t))
        out, grads = step(x)
        eager_out, eager_grads = outputs_and_grads(ours, x)
        assert_close(
            numpy_all([out, *grads]),
            numpy_all([eager_out, *eager_grads]),
            FLOAT32_PARITY,
            f"T={t}",
        )
    assert step.experimental_get_tracing_count() == 1


# --- 4. Eager custom_gradient over Keras variables ---------------------------


@both_strategies
@pytest.mark.parametrize("kind", ["layer", "cell"])
def test_eager_tape_over_trainable_weights(kind):
    """An eager GradientTape over `layer(x)` reaches every Keras variable
    (no `variables=` TypeError of tf.custom_gradient), with SimpleRNN's
    gradients; also with a persistent tape taking two gradients."""
    assert tf.executing_eagerly()
    ours, simple = layer_pair(kind)
    x = tf.constant(sequences())
    for weight in ours.trainable_weights:
        assert isinstance(weight, keras.Variable)
    _, grads = outputs_and_grads(ours, x)
    _, simple_grads = outputs_and_grads(simple, x)
    assert all(g is not None for g in grads)
    assert_close(numpy_all(grads), numpy_all(simple_grads), FLOAT32_PARITY)

    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(tf.square(ours(x)))
    kernel_grad = tape.gradient(loss, ours.trainable_weights[0])
    weight_grads = tape.gradient(loss, ours.trainable_weights)
    del tape
    assert_close([kernel_grad], [grads[1]], FLOAT32_PARITY)
    assert_close(numpy_all(weight_grads), grads[1:], FLOAT32_PARITY)


# --- 5. tf.distribute --------------------------------------------------------

# Runs in a fresh interpreter: logical devices must be configured before
# TensorFlow initializes its runtime, which this pytest process already did.
DISTRIBUTED_SCRIPT = textwrap.dedent(
    """
    import json

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    from keras_scratch_rnn import ScratchRNN

    T, D, UNITS, SAMPLES, BATCH = 5, 3, 8, 64, 16
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, T, D)).astype("float32")
    y = rng.normal(size=(SAMPLES, 1)).astype("float32")


    def build(rnn):
        return keras.Sequential(
            [
                keras.Input((T, D)),
                rnn(UNITS, return_sequences=True),
                rnn(UNITS),
                keras.layers.Dense(1),
            ]
        )


    keras.utils.set_random_seed(0)
    initial = build(ScratchRNN).get_weights()


    def train(rnn, strategy):
        with strategy.scope():
            model = build(rnn)
            model.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        history = model.fit(
            x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0
        )
        return model.get_weights(), history.history["loss"]


    def max_difference(a, b):
        return max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))


    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    batches = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(BATCH)
    )
    per_replica = strategy.run(lambda b: tf.shape(b)[0], (next(iter(batches)),))
    single, single_loss = train(ScratchRNN, tf.distribute.get_strategy())
    mirrored, mirrored_loss = train(ScratchRNN, strategy)
    simple, simple_loss = train(keras.layers.SimpleRNN, strategy)
    print(
        json.dumps(
            {
                "replicas": strategy.num_replicas_in_sync,
                "replica_batches": [
                    int(n) for n in strategy.experimental_local_results(
                        per_replica
                    )
                ],
                "mirrored_vs_single": max_difference(mirrored, single),
                "mirrored_vs_simple": max_difference(mirrored, simple),
                "trained": max_difference(single, initial),
                "losses": [single_loss, mirrored_loss, simple_loss],
            }
        )
    )
    """
)


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(tmp_path):
    """Two-replica MirroredStrategy training (two logical CPUs) ends with
    the weights of single-device training on the same global batches, and
    with those of SimpleRNN under the same strategy. (A child process, with
    the default ways of `ops`: the `loop_strategy` fixture cannot reach it.)"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run(
        [sys.executable, "-c", DISTRIBUTED_SCRIPT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["replica_batches"] == [8, 8]  # the global batch is split
    assert result["trained"] > 1e-2  # the weights did move
    assert result["mirrored_vs_single"] <= DISTRIBUTED_WEIGHTS_PARITY, result
    assert result["mirrored_vs_simple"] <= DISTRIBUTED_WEIGHTS_PARITY, result
    single_loss, mirrored_loss, simple_loss = result["losses"]
    assert relative_difference(mirrored_loss, single_loss) <= (
        TRAINING_LOSS_RTOL
    )
    assert relative_difference(mirrored_loss, simple_loss) <= (
        TRAINING_LOSS_RTOL
    )
