"""ScratchRNN at the edges: very long, length-1 and empty sequences, input
and mask dtypes, and a property-based parity search against SimpleRNN.

The long-sequence checks run inside `tf.function`; the memory benchmark
(`benchmarks/long_sequence_memory.py`) is only smoke-tested here.
"""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_cases import parity_cases
from hypothesis import given, settings

from keras_scratch_rnn import ScratchRNN
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error
from keras_scratch_rnn.tools.parity import (
    compare,
    default_inputs,
    default_weights,
)

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"

# The long-sequence problem: batch, features, units.
N, D, H = 2, 3, 8
LONG_T = 10_000


def _twin_layers(config, D=D, H=H):
    """ScratchRNN and SimpleRNN with the same config and the same weights."""
    weights = default_weights(D, H, config.get("use_bias", True))
    layers = []
    for cls in (ScratchRNN, keras.layers.SimpleRNN):
        layer = cls(H, **config)
        layer.build((None, None, D))
        layer.set_weights(weights)
        layers.append(layer)
    return layers


def _train_step(layer):
    """A `tf.function` training step: (output, state, gradients)."""

    @tf.function
    def step(x, h0, mask):
        with tf.GradientTape() as tape:
            tape.watch([x, h0])
            out, state = layer(x, initial_state=h0, mask=mask)
            loss = tf.reduce_sum(tf.sin(out)) + tf.reduce_sum(state * state)
        grads = tape.gradient(loss, [x, h0, *layer.trainable_weights])
        return out, state, grads

    return step


LONG_CONFIG = {
    "return_sequences": True,
    "return_state": True,
    "go_backwards": True,
}


# --- 1. Very long sequences ---------------------------------------------------


@pytest.mark.slow
def test_ten_thousand_steps_match_simple_rnn_in_tf_function():
    """T=10,000 forward and backward: finite and at parity with SimpleRNN.

    T is ten times Python's recursion limit, so a recursion per step (in
    the loop or in its gradient) would fail here.
    """
    assert sys.getrecursionlimit() < LONG_T
    x, mask, h0 = (tf.constant(a) for a in default_inputs(N, LONG_T, D, H))
    results = [
        _train_step(layer)(x, h0, mask) for layer in _twin_layers(LONG_CONFIG)
    ]
    (out, state, grads), (ref_out, ref_state, ref_grads) = results
    assert out.shape == (N, LONG_T, H) and out.dtype == tf.float32
    names = ["output", "state", "d_inputs", "d_initial_state"]
    names += ["d_kernel", "d_recurrent_kernel", "d_bias"]
    for name, ours, ref in zip(
        names, [out, state, *grads], [ref_out, ref_state, *ref_grads]
    ):
        assert np.all(np.isfinite(ours)), name
        error = scaled_error(ours, ref)
        assert error <= FLOAT32_PARITY, (name, error)


@pytest.mark.parametrize(
    "config", [{}, {"activation": "gelu", "zero_output_for_mask": True}]
)
def test_traced_graph_size_does_not_depend_on_T(config):
    """The traced training step has the same number of nodes for any T.

    Node counts include the function library (loop bodies, the custom
    gradient). T = 1,000 and 10,000: below 1,000 elements TensorFlow builds
    the (dead) zero upstream gradients that `tf.custom_gradient` adds for
    its pass-through inputs as one Const instead of Const+Const+Fill, so
    T = 100 would differ by two nodes for that reason alone.
    """
    layer, _ = _twin_layers({**LONG_CONFIG, **config})
    step = _train_step(layer)

    def node_count(T):
        concrete = step.get_concrete_function(
            tf.TensorSpec((N, T, D), tf.float32),
            tf.TensorSpec((N, H), tf.float32),
            tf.TensorSpec((N, T), tf.bool),
        )
        graph = concrete.graph.as_graph_def()
        library = sum(len(f.node_def) for f in graph.library.function)
        return len(graph.node), library

    assert node_count(1_000) == node_count(LONG_T)


# --- 2. The memory benchmark runs ---------------------------------------------


@pytest.mark.slow
def test_memory_benchmark_quick_prints_a_table():
    """`long_sequence_memory.py --quick` prints a one-row table (T=1,000)."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "long_sequence_memory.py")]
        + ["--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "ScratchRNN MB" in line)
    assert "SimpleRNN MB" in lines[header]
    assert set(lines[header + 1]) == {"-"}
    row = lines[header + 2].split()
    assert row[0] == "1000"
    values = [float(value) for value in row[1:]]  # MB, ratio, seconds
    assert len(values) == 6


# --- 3. Length-1 and empty sequences -----------------------------------------

ONE_STEP = {"N": 3, "T": 1, "D": 2, "H": 3}


@pytest.mark.parametrize(
    ("config", "options"),
    [
        ({}, {}),
        ({"return_sequences": True}, {"mask": True}),
        (
            {"return_sequences": True, "return_state": True},
            {"mask": True, "initial_state": True},
        ),
        (
            {"return_sequences": True, "zero_output_for_mask": True},
            {"mask": True},
        ),
        (
            {"return_sequences": True, "go_backwards": True, "unroll": True},
            {"mask": True, "initial_state": True},
        ),
        ({"activation": "gelu", "return_state": True}, {"mask": True}),
        (
            {"dropout": 0.3, "recurrent_dropout": 0.3, "seed": 5},
            {"training": True, "initial_state": True},
        ),
        (
            {"return_sequences": True, "return_state": True},
            {"mask": True, "initial_state": True, "in_function": True},
        ),
    ],
)
def test_length_one_sequences_match_simple_rnn(config, options):
    """T=1 (masked or not, every output form) is at parity with SimpleRNN."""
    errors = compare(config, shape=ONE_STEP, **options)
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FLOAT32_PARITY, (worst, errors)


def test_length_one_mask_has_masked_and_unmasked_samples():
    """The premise of the masked T=1 cases: both kinds of sample occur."""
    _, mask, _ = default_inputs(*(ONE_STEP[k] for k in "NTDH"))
    assert mask.any() and not mask.all()


def _empty_sequences():
    return tf.zeros((N, 0, D))


@pytest.mark.parametrize(
    "config", [{}, {"return_sequences": True}, {"unroll": True}]
)
@pytest.mark.parametrize("in_function", [False, True])
def test_zero_timesteps_raise_a_clear_error(config, in_function):
    """T=0 (static) raises ValueError saying "no timesteps"."""
    layer, _ = _twin_layers(config)
    call = tf.function(layer.__call__) if in_function else layer
    with pytest.raises(ValueError, match="no timesteps"):
        call(_empty_sequences())


def test_zero_timesteps_with_unknown_T_raise_a_clear_error():
    """T=0 behind an unknown T (`input_signature`) names the problem too.

    Fails on the current code: the static-shape check is skipped and the
    error is TensorFlow's "Tried to stack elements of an empty list".
    """
    layer, _ = _twin_layers({})
    call = tf.function(
        layer.__call__,
        input_signature=[tf.TensorSpec((None, None, D), tf.float32)],
    )
    call(tf.zeros((N, 2, D)))  # traces with T unknown
    with pytest.raises(tf.errors.InvalidArgumentError, match="no timesteps"):
        call(_empty_sequences())


def test_simple_rnn_fails_on_zero_timesteps():
    """Pins Keras: SimpleRNN raises too (an obscure slice error)."""
    _, simple = _twin_layers({})
    with pytest.raises(Exception):  # noqa: B017 - any error, pinned
        simple(_empty_sequences())


# --- 4. Input and mask dtypes -------------------------------------------------


def _outputs_and_weight_gradients(layer, x, mask=None):
    """(output, d_inputs or None, [d_kernel, d_recurrent_kernel, d_bias])."""
    with tf.GradientTape() as tape:
        if x.dtype.is_floating:
            tape.watch(x)
        out = layer(x, mask=mask)
        loss = tf.reduce_sum(tf.sin(out))
    d_x = tape.gradient(loss, x) if x.dtype.is_floating else None
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(layer(x, mask=mask)))
    return out, d_x, tape.gradient(loss, layer.trainable_weights)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float64"])
def test_integer_and_float64_inputs_match_simple_rnn(dtype):
    """Non-float32 inputs: float32 outputs equal to SimpleRNN's."""
    x, _, _ = default_inputs(3, 5, D, H)
    if dtype.startswith("int"):
        x = np.round(2 * x)  # small integers
    x = tf.constant(x.astype(dtype))
    (out, d_x, grads), (ref_out, ref_d_x, ref_grads) = (
        _outputs_and_weight_gradients(layer, x)
        for layer in _twin_layers({"return_sequences": True})
    )
    assert out.dtype == ref_out.dtype == tf.float32
    assert scaled_error(out, ref_out) <= FLOAT32_PARITY
    for g, ref in zip(grads, ref_grads):
        assert g.dtype == ref.dtype == tf.float32
        assert scaled_error(g, ref) <= FLOAT32_PARITY
    if dtype == "float64":  # the input gradient comes back in float64
        assert d_x.dtype == ref_d_x.dtype == tf.float64
        assert scaled_error(d_x, ref_d_x) <= FLOAT32_PARITY


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_zero_one_masks_equal_the_bool_mask(dtype):
    """An int or float 0/1 mask is the bool mask, like for SimpleRNN."""
    x, mask, _ = default_inputs(3, 6, D, H)
    x = tf.constant(x)
    scratch, simple = _twin_layers({"return_sequences": True})
    out, d_x, grads = _outputs_and_weight_gradients(
        scratch, x, tf.constant(mask.astype(dtype))
    )
    want_out, want_d_x, want_grads = _outputs_and_weight_gradients(
        scratch, x, tf.constant(mask)
    )
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(d_x, want_d_x)
    for g, want in zip(grads, want_grads):
        np.testing.assert_array_equal(g, want)
    ref_out, _, _ = _outputs_and_weight_gradients(
        simple, x, tf.constant(mask.astype(dtype))
    )
    assert scaled_error(out, ref_out) <= FLOAT32_PARITY


# --- 5. Property-based parity -------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    parity_cases(
        activations=["tanh", "relu", "sigmoid", None, "gelu"],
        gated=False,
        sizes=(4, 6, 5, 6),
    )
)
def test_random_configurations_match_simple_rnn(case):
    """Any mix of options and small shapes is at parity with SimpleRNN."""
    config, options = case
    errors = compare(config, **options)
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FLOAT32_PARITY, (worst, errors)
