"""What the behaviour tests of the three cells share (test_robustness.py,
test_lstm_behaviour.py, test_gru_behaviour.py): the comparison helpers and
one hypothesis strategy of random configurations for `parity.compare`."""

import keras
import numpy as np
from hypothesis import strategies as st

from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error

# (dropout, recurrent_dropout, training), drawn together so that dropout in
# training is not a rare corner of the product.
DROPOUT_REGIMES = [
    (0.0, 0.0, False),
    (0.0, 0.0, True),
    (0.3, 0.0, True),
    (0.0, 0.3, True),
    (0.3, 0.3, True),
    (0.3, 0.3, False),
]

ACTIVATIONS = ["tanh", "relu", None, "gelu"]
# Bounded gates only: linear gates (None) beside a linear activation let h
# grow without bound (a GRU's z h_{t-1} + (1 - z) hh overflowed to inf in 5
# steps), where float32 parity is no test. Linear gates are in the pairwise
# options of tests/backends/test_layers.py, with bounded activations.
GATE_ACTIVATIONS = ["sigmoid", "hard_sigmoid", "tanh"]


def sequences(shape=(3, 5, 2), seed=0):
    """Float32 inputs drawn from N(0, 1), by default of the behaviour
    tests' (N, T, D)."""
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def assert_within(actual, expected, tol=FLOAT32_PARITY, what=""):
    """Every pair's scaled error (tolerances.scaled_error) within `tol`."""
    assert len(actual) == len(expected), what
    for i, (a, b) in enumerate(zip(actual, expected)):
        err = scaled_error(a, b)
        assert err <= tol, f"{what}[{i}]: scaled error {err:.2e} > {tol:.0e}"


def assert_copied(actual, expected):
    """Copies (weights, states, masks from the same random draws): equal
    exactly, tolerance 0."""
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in values]


@st.composite
def parity_cases(
    draw, activations=ACTIVATIONS, gated=True, flags=(), fixed=None,
    sizes=(3, 5, 4, 4),
):  # fmt: skip
    """A random `(config, compare options)` for `parity.compare`: the
    shared options, `recurrent_activation` if `gated`, a boolean for each
    of `flags` (e.g. "unit_forget_bias"), the `fixed` config items, and a
    shape up to `sizes` = (N, T, D, H)."""
    config = {
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(activations)),
        "zero_output_for_mask": draw(st.booleans()),
        "unroll": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
        **{flag: draw(st.booleans()) for flag in flags},
        **(fixed or {}),
    }
    if gated:
        config["recurrent_activation"] = draw(st.sampled_from(GATE_ACTIVATIONS))
    config["dropout"], config["recurrent_dropout"], training = draw(
        st.sampled_from(DROPOUT_REGIMES)
    )
    options = {
        "mask": draw(st.booleans()),
        "initial_state": draw(st.booleans()),
        "training": training,
        "in_function": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
        "shape": {k: draw(st.integers(1, n)) for k, n in zip("NTDH", sizes)},
    }
    return config, options
