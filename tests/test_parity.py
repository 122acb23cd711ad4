"""ScratchRNN against keras.layers.SimpleRNN with identical weights.

Outputs and the gradients w.r.t. inputs, initial state and every weight,
over a product of the layer's options, eagerly and inside `tf.function`.
The comparison itself is `keras_scratch_rnn.tools.parity.compare` (also the main
job); the last tests show it does catch a difference.
"""

import numpy as np
import pytest
import tensorflow as tf
from conftest import LOOP_STRATEGIES, use_loop_strategy
from covering import case_id, covering

from keras_scratch_rnn import ops
from keras_scratch_rnn.ops import tensorflow as tf_ops
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    scaled_error,
)
from keras_scratch_rnn.tools import parity

MASKING = ("none", "mask", "mask+zero_output")
FLAGS = ("return_sequences", "return_state", "go_backwards", "use_bias")


def _case(flags, masking, activation, initial_state, unroll):
    config = dict(zip(FLAGS, flags))
    config.update(
        activation=activation,
        unroll=unroll,
        zero_output_for_mask=masking == "mask+zero_output",
    )
    options = {"mask": masking != "none", "initial_state": initial_state}
    return config, options


def _assert_parity(config, options, in_function):
    errors = parity.compare(config, in_function=in_function, **options)
    expected = {"output", "d_inputs", "d_kernel", "d_recurrent_kernel"}
    expected |= {"state"} if config.get("return_state") else set()
    expected |= {"d_bias"} if config.get("use_bias", True) else set()
    expected |= {"d_initial_state"} if options.get("initial_state") else set()
    assert set(errors) == expected
    worst = max(errors, key=errors.get)
    assert errors[worst] <= FLOAT32_PARITY, (worst, errors)


# Every combination of any three of the options (not all of them: see
# tests/covering.py), eagerly with each handwritten derivative and inside
# `tf.function` with each way of the loops.
OPTIONS = {
    **{flag: [False, True] for flag in FLAGS},
    "masking": list(MASKING),
    "initial_state": [False, True],
    "unroll": [False, True],
}
EAGER_CASES = covering({**OPTIONS, "activation": ["tanh", "relu"]})
FUNCTION_CASES = covering({**OPTIONS, "strategy": list(LOOP_STRATEGIES)})


def _options_case(case):
    flags = tuple(case[flag] for flag in FLAGS)
    return _case(
        flags,
        case["masking"],
        case.get("activation", "tanh"),
        case["initial_state"],
        case["unroll"],
    )


@pytest.mark.parametrize("case", EAGER_CASES, ids=case_id)
def test_eager_options(case):
    """Any three options together, handwritten derivatives, eager."""
    _assert_parity(*_options_case(case), in_function=False)


@pytest.mark.parametrize("case", FUNCTION_CASES, ids=case_id)
def test_function_options(case, monkeypatch):
    """Any three options together (tanh) inside `tf.function`, with both
    ways of the loops."""
    use_loop_strategy(monkeypatch, case["strategy"])
    _assert_parity(*_options_case(case), in_function=True)


ACTIVATION_CASES = covering(
    {
        "activation": [
            "relu",
            "sigmoid",
            None,
            "gelu",
            "softmax",
            "elu",
            "selu",
        ],
        "go_backwards": [False, True],
        "masking": list(MASKING),
        "in_function": [False, True],
        "strategy": list(LOOP_STRATEGIES),
    },
    strength=2,
)


@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=case_id)
def test_activations(case, monkeypatch):
    """Handwritten and locally differentiated activations, each with every
    other option's values (every pair of values covered)."""
    use_loop_strategy(monkeypatch, case["strategy"])
    flags = (True, True, case["go_backwards"], True)
    config, options = _case(
        flags, case["masking"], case["activation"], True, False
    )
    _assert_parity(config, options, in_function=case["in_function"])


DROPOUT_CASES = [
    {**case, "training": True}
    for case in covering(
        {
            "rates": [
                (0.3, 0.0),
                (0.0, 0.4),
                (0.5, 0.2),
                (1.0, 0.0),
                (0.0, 1.0),
            ],
            "in_function": [False, True],
            "strategy": list(LOOP_STRATEGIES),
        },
        strength=2,
    )
] + [  # inference ignores every rate, 1 included
    {"rates": r, "in_function": f, "strategy": s, "training": False}
    for r, f, s in (
        ((0.5, 0.2), False, "hoisted"),
        ((1.0, 0.0), True, "hoisted"),
        ((0.0, 1.0), False, "per_step"),
        ((1.0, 0.0), False, "per_step"),
        ((0.0, 1.0), True, "hoisted"),
    )
]


@pytest.mark.parametrize("case", DROPOUT_CASES, ids=case_id)
def test_dropout(case, monkeypatch):
    """Same seed, same masks: dropout parity in training and inference."""
    use_loop_strategy(monkeypatch, case["strategy"])
    config = {
        "dropout": case["rates"][0],
        "recurrent_dropout": case["rates"][1],
        "seed": 11,
        "return_sequences": True,
        "return_state": True,
    }
    options = {
        "mask": True,
        "initial_state": True,
        "training": case["training"],
    }
    _assert_parity(config, options, in_function=case["in_function"])


@pytest.mark.parametrize("in_function", [False, True])
@pytest.mark.parametrize("masking", ["none", "mask"])
def test_stateful_second_chunk(masking, in_function):
    """A stateful layer's second chunk, forward and backward."""
    config = {"stateful": True, "return_sequences": True}
    options = {"mask": masking == "mask"}
    _assert_parity(config, options, in_function=in_function)


def test_keras_unroll_bug_is_not_copied():
    """SimpleRNN(unroll=True) zeroes the wrong steps here; we do not.

    Configuration: go_backwards + zero_output_for_mask + return_sequences +
    mask. `compare` takes SimpleRNN without unroll as the reference then;
    this test shows the two SimpleRNN paths really disagree (so the
    exception in `compare` is needed and is noticed if Keras fixes it).
    """
    import keras

    config = {
        "return_sequences": True,
        "go_backwards": True,
        "zero_output_for_mask": True,
    }
    assert parity.hits_keras_unroll_bug({**config, "unroll": True}, True)
    shape = parity.DEFAULT_SHAPE
    x, mask, _ = parity.default_inputs(*(shape[k] for k in "NTDH"))
    outputs = []
    for unroll in (False, True):
        layer = keras.layers.SimpleRNN(shape["H"], unroll=unroll, **config)
        layer.build(x.shape)
        layer.set_weights(parity.default_weights(shape["D"], shape["H"]))
        outputs.append(np.asarray(layer(x, mask=mask)))
    assert np.max(np.abs(outputs[0] - outputs[1])) > 0.1


def test_compare_catches_a_difference(monkeypatch):
    """`compare` reports a gradient bug: scale the handwritten dWh by 1.01."""

    original = tf_ops.backward  # what `scratch_rnn`'s gradient calls

    def wrong_backward(*args, **kwargs):
        dx, dh0, dk, drk, db = original(*args, **kwargs)
        return dx, dh0, dk, drk * 1.01, db

    monkeypatch.setattr(tf_ops, "backward", wrong_backward)
    errors = parity.compare({"return_sequences": True})
    assert errors["d_recurrent_kernel"] > 1e-3
    assert errors["output"] <= FLOAT32_PARITY


def test_compare_catches_an_output_difference():
    """`compare` reports an output difference: a different activation."""
    errors = parity.compare({"activation": "tanh"})
    assert errors["output"] <= FLOAT32_PARITY
    import keras

    from keras_scratch_rnn import ScratchRNN

    x, _, _ = parity.default_inputs(3, 6, 4, 5)
    a, b = ScratchRNN(5), keras.layers.SimpleRNN(5, activation="sigmoid")
    a.build(x.shape)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    assert np.max(np.abs(np.asarray(a(x)) - np.asarray(b(x)))) > 0.01


def test_main_job_table():
    """The main job's table: every row within tolerance, both modes."""
    rows = parity.parity_table(parity.PARITY_CASES[:3])
    assert len(rows) == 6
    assert {r["mode"] for r in rows} == {"eager", "tf.function"}
    assert all(r["ok"] for r in rows)
    text = parity.format_table(rows)
    assert "return_sequences" in text and "yes" in text


@pytest.mark.parametrize("masking", MASKING)
def test_both_sides_of_the_per_step_threshold(masking, monkeypatch):
    """Both ways of `ops`, chosen by the real thresholds, match SimpleRNN.
    The thresholds apply to a part of the batch: here the batch is one."""
    monkeypatch.setattr(tf_ops, "BATCH_PARTS", 1)
    N, H = tf_ops.PER_STEP_BATCH, tf_ops.PER_STEP_UNITS
    for shape in ({"N": N, "H": H}, {"N": N - 1, "H": H}, {"N": N, "H": H - 1}):
        config, options = _case(
            (True, True, False, True), masking, "tanh", True, False
        )
        shape = dict(parity.DEFAULT_SHAPE, **shape)
        errors = parity.compare(
            config, in_function=True, shape=shape, **options
        )
        worst = max(errors, key=errors.get)
        assert errors[worst] <= FLOAT32_PARITY, (shape, worst, errors)


def test_per_step_threshold():
    """Large steps go per step, small ones (or small batches) are hoisted."""
    kernel = tf.zeros((4, tf_ops.PER_STEP_UNITS))
    for N, expected in (
        (None, True),
        (tf_ops.PER_STEP_BATCH, True),
        (3, False),
    ):
        x = tf.TensorSpec((N, 5, 4))
        assert tf_ops._per_step(x, kernel) == expected, N
    assert not tf_ops._per_step(
        tf.zeros((tf_ops.PER_STEP_BATCH, 5, 4)), kernel[:, 1:]
    )


def test_batch_parts_rule(monkeypatch):
    """Inside a `tf.function` a batch of 2 * MIN_PART_ROWS rows or more (or
    of unknown size) is cut into BATCH_PARTS near-equal parts; eagerly, or
    with fewer rows, it stays whole."""
    parts, least = tf_ops.BATCH_PARTS, tf_ops.MIN_PART_ROWS
    assert parts == 2
    assert tf_ops._batch_parts(tf.zeros((64, 3, 2))) is None  # eager

    def traced_parts(N):
        seen = []
        spec = tf.TensorSpec((N, 3, 2))
        fn = tf.function(lambda x: seen.append(tf_ops._batch_parts(x)))
        fn.get_concrete_function(spec)
        return seen[0]

    assert traced_parts(parts * least - 1) is None
    assert traced_parts(parts * least) == [least, least]
    assert traced_parts(2 * least + 1) == [least, least + 1]
    unknown = traced_parts(None)
    assert len(unknown) == parts and all(tf.is_tensor(n) for n in unknown)
    monkeypatch.setattr(tf_ops, "BATCH_PARTS", 1)
    assert traced_parts(None) is None


def test_batch_in_parts_runs_one_op_per_part(monkeypatch):
    """A traced call builds one custom-gradient op per part, and the parts
    together give the outputs and gradients of the whole batch."""
    calls = []
    one_part = tf_ops._scratch_rnn

    def counted(rows, *args):
        calls.append(rows[0].shape[0])  # x
        return one_part(rows, *args)

    monkeypatch.setattr(tf_ops, "_scratch_rnn", counted)
    rng = np.random.default_rng(0)
    N, T, D, H = 2 * tf_ops.MIN_PART_ROWS + 1, 4, 3, 5
    x, h0, kernel, recurrent_kernel, bias = (
        tf.constant(rng.normal(size=shape))
        for shape in ((N, T, D), (N, H), (D, H), (H, H), (H,))
    )

    def loss_and_grads():
        params = [x, h0, kernel, recurrent_kernel, bias]
        with tf.GradientTape() as tape:
            tape.watch(params)
            outputs, h_last = ops.scratch_rnn(*params)
            loss = tf.reduce_sum(outputs**2) + tf.reduce_sum(h_last)
        return [outputs, h_last] + tape.gradient(loss, params)

    in_parts = tf.function(loss_and_grads)()
    assert calls == [N // 2, N - N // 2]
    whole = loss_and_grads()  # eager: one part
    assert calls[2:] == [N]
    for got, want in zip(in_parts, whole):
        assert scaled_error(got, want) <= FLOAT64_PARITY
