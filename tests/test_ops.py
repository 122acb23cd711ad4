"""Tests of the TensorFlow ops (`keras_scratch_rnn.ops`).

The NumPy reference (`TimeRNN`, `RNN`) is the ground truth for the book's
plain tanh RNN; TF autodiff through a Python loop written here is the ground
truth for the extensions (mask, dropout masks, other activations, no bias).
"""

import numpy as np
import pytest
import tensorflow as tf
from conftest import LOOP_STRATEGIES, use_loop_strategy
from covering import case_id, covering

from keras_scratch_rnn.ops import (
    rnn_backward,
    rnn_forward,
    rnn_step,
    scratch_rnn,
)
from keras_scratch_rnn.ops import tensorflow as tf_ops
from keras_scratch_rnn.reference import RNN, TimeRNN, numerical_gradient
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    GRADIENT_CHECK_RTOL,
    scaled_error,
)

# Tests of the loops run with both of their strategies (see conftest.py):
# each in full (`loop_strategy`), or as one option of a covering set.

SEED = 0
N, T, D, H = 3, 5, 4, 6
EPS = 1e-6  # central-difference step (as in test_reference.py)
KEEP = 0.7  # keep probability of the Keras-style dropout masks

# (N, T) padding mask: a masked first step, a masked run and a masked last
# step, and a row with a single masked step in the middle.
MASK = np.array(
    [
        [False, True, True, False, True],
        [True, False, False, True, False],
        [True, True, False, True, True],
    ]
)

MODES = ("eager", "function")
INPUT_NAMES = ("x", "h0", "kernel", "recurrent_kernel", "bias")
TF_ACTIVATIONS = {
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "relu": tf.nn.relu,
    "linear": tf.identity,
}


# --- helpers -----------------------------------------------------------------


def make_inputs(seed=SEED, dtype=np.float64):
    """Random x, h0, weights and loss weights G (outputs), G2 (h_last)."""
    rng = np.random.default_rng(seed)
    arrays = dict(
        x=rng.normal(size=(N, T, D)),
        h0=rng.normal(scale=0.5, size=(N, H)),
        kernel=rng.normal(scale=0.5, size=(D, H)),
        recurrent_kernel=rng.normal(scale=0.5, size=(H, H)),
        bias=rng.normal(scale=0.1, size=(H,)),
        G=rng.normal(size=(N, T, H)),
        G2=rng.normal(size=(N, H)),
    )
    return {k: v.astype(dtype) for k, v in arrays.items()}


def make_dropout_masks(seed=SEED, dtype=np.float64):
    """Keras-style inverted-dropout masks (0 or 1 / KEEP), each with a 0."""
    rng = np.random.default_rng(seed + 1)
    in_mask = (rng.random((N, D)) < KEEP) / KEEP
    rec_mask = (rng.random((N, H)) < KEEP) / KEEP
    in_mask[0, 0] = rec_mask[0, 0] = 0.0
    return in_mask.astype(dtype), rec_mask.astype(dtype)


def make_options(mask, dropout, dtype=np.float64, **options):
    """Keyword arguments of the ops, the masks as tensors."""
    if mask:
        options["mask"] = tf.constant(MASK)
    if dropout:
        in_mask, rec_mask = make_dropout_masks(dtype=dtype)
        options["input_dropout_mask"] = tf.constant(in_mask)
        options["recurrent_dropout_mask"] = tf.constant(rec_mask)
    return options


def loop_rnn(
    x,
    h0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    zero_output_for_mask=False,
    unroll=False,
):
    """The same math as `scratch_rnn`, as a plain Python loop (autodiff)."""
    del unroll  # always a Python loop
    act = (
        TF_ACTIVATIONS[activation]
        if isinstance(activation, str)
        else activation
    )
    if mask is not None:
        x = tf.where(mask[:, :, None], x, tf.zeros_like(x))
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    h, o = h0, tf.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        h_in = (
            h if recurrent_dropout_mask is None else h * recurrent_dropout_mask
        )
        a = tf.matmul(x[:, t], kernel) + tf.matmul(h_in, recurrent_kernel)
        if bias is not None:
            a = a + bias
        y = act(a)
        if mask is None:
            h = o = y
        else:
            m = mask[:, t, None]
            h = tf.where(m, y, h)
            o = tf.where(m, y, tf.zeros_like(y) if zero_output_for_mask else o)
        outputs.append(o)
    return tf.stack(outputs, axis=1), h


def loss_and_grads(rnn_fn, x, h0, kernel, recurrent_kernel, bias, G, G2, **kw):
    """Outputs, h_last and the gradients of sum(o G) + sum(h_last G2)."""
    params = [x, h0, kernel, recurrent_kernel]
    if bias is not None:
        params.append(bias)
    with tf.GradientTape() as tape:
        tape.watch(params)
        outputs, h_last = rnn_fn(x, h0, kernel, recurrent_kernel, bias, **kw)
        loss = tf.reduce_sum(outputs * G) + tf.reduce_sum(h_last * G2)
    return outputs, h_last, tape.gradient(loss, params)


def run(mode, fn, *args, **kwargs):
    """Calls `fn` eagerly or traced by `tf.function` (graph mode)."""
    if mode == "function":
        fn = tf.function(fn, autograph=False)
    return fn(*args, **kwargs)


def tensors(arrays, use_bias=True):
    """The op inputs (x, h0, kernel, recurrent_kernel, bias) as tensors."""
    t = {k: tf.constant(v) for k, v in arrays.items()}
    if not use_bias:
        t["bias"] = None
    return t


def assert_close(actual, expected, tol, name=""):
    err = scaled_error(actual, expected)
    assert err <= tol, f"{name}: scaled error {err:.2e} > {tol:.0e}"


def reference_time_rnn(a):
    """Stateful `TimeRNN` started from the nonzero h0, and its forward hs."""
    rnn = TimeRNN(
        a["kernel"].copy(),
        a["recurrent_kernel"].copy(),
        a["bias"].copy(),
        stateful=True,
    )
    rnn.set_state(a["h0"].copy())
    return rnn, rnn.forward(a["x"])


# --- 1. TF ops vs the NumPy reference (float64, tanh, no mask/dropout) -------


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("unroll", [False, True])
def test_rnn_forward_matches_time_rnn(unroll):
    """rnn_forward outputs and hs equal TimeRNN.forward from a nonzero h0."""
    a = make_inputs()
    _, hs_ref = reference_time_rnn(a)
    t = tensors(a)
    outputs, hs, pre = rnn_forward(
        t["x"], t["h0"], t["kernel"], t["recurrent_kernel"], t["bias"],
        unroll=unroll,
    )  # fmt: skip
    assert pre is None  # tanh: no pre-activations kept
    assert_close(outputs, hs_ref, FLOAT64_PARITY, "outputs")
    assert_close(hs, hs_ref, FLOAT64_PARITY, "hs")


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("dh_last_nonzero", [False, True])
def test_rnn_backward_matches_time_rnn(dh_last_nonzero, unroll):
    """rnn_backward equals TimeRNN.backward (dh_last adds to dhs[:, -1])."""
    a = make_inputs()
    rng = np.random.default_rng(SEED + 2)
    dhs = a["G"]
    dh_last = rng.normal(size=(N, H)) if dh_last_nonzero else np.zeros((N, H))
    rnn, _ = reference_time_rnn(a)
    dhs_ref = dhs.copy()
    dhs_ref[:, -1] += dh_last
    dxs_ref = rnn.backward(dhs_ref)
    dWx_ref, dWh_ref, db_ref = rnn.grads

    t = tensors(a)
    _, hs, pre = rnn_forward(
        t["x"], t["h0"], t["kernel"], t["recurrent_kernel"], t["bias"],
        unroll=unroll,
    )  # fmt: skip
    dx, dh0, dkernel, drecurrent_kernel, dbias = rnn_backward(
        d_outputs=tf.constant(dhs),
        dh_last=tf.constant(dh_last),
        x=t["x"],
        h0=t["h0"],
        kernel=t["kernel"],
        recurrent_kernel=t["recurrent_kernel"],
        hs=hs,
        pre=pre,
        unroll=unroll,
    )
    assert_close(dx, dxs_ref, FLOAT64_PARITY, "dx")
    assert_close(dh0, rnn.dh, FLOAT64_PARITY, "dh0")
    assert_close(dkernel, dWx_ref, FLOAT64_PARITY, "dkernel")
    assert_close(drecurrent_kernel, dWh_ref, FLOAT64_PARITY, "drecurrent")
    assert_close(dbias, db_ref, FLOAT64_PARITY, "dbias")


def _rnn_step_loss_and_grads(x, h_prev, kernel, recurrent_kernel, bias, G):
    params = [x, h_prev, kernel, recurrent_kernel, bias]
    with tf.GradientTape() as tape:
        tape.watch(params)
        h_next = rnn_step(x, h_prev, kernel, recurrent_kernel, bias)
        loss = tf.reduce_sum(h_next * G)
    return h_next, tape.gradient(loss, params)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_step_matches_reference_rnn(mode):
    """rnn_step forward and its custom gradient equal RNN.forward/backward."""
    a = make_inputs()
    x, G = a["x"][:, 0], a["G"][:, 0]
    layer = RNN(a["kernel"].copy(), a["recurrent_kernel"].copy(), a["bias"])
    h_ref = layer.forward(x, a["h0"])
    dx_ref, dh_ref = layer.backward(G)

    t = tensors(a)
    h_next, grads = run(
        mode, _rnn_step_loss_and_grads, tf.constant(x), t["h0"], t["kernel"],
        t["recurrent_kernel"], t["bias"], tf.constant(G),
    )  # fmt: skip
    assert_close(h_next, h_ref, FLOAT64_PARITY, "h_next")
    expected = [dx_ref, dh_ref, *layer.grads]
    for name, g, ref in zip(INPUT_NAMES, grads, expected):
        assert_close(g, ref, FLOAT64_PARITY, f"d{name}")


# --- 2. scratch_rnn gradients vs autodiff through a Python loop --------------

# (activation, mask, dropout, zero_output_for_mask, unroll, use_bias), with
# the mode and the loops' strategy: for tanh, every combination of any
# three options (zero_output_for_mask only matters with a mask); then every
# other activation without and with mask + dropout masks, each in both
# modes and with both strategies (every pair).
_MASKINGS = [(False, False), (True, False), (True, True)]  # (mask, zero_out)
CONFIGS = [
    (
        ("tanh", *c["masking"], c["dropout"], c["unroll"], c["use_bias"]),
        c["mode"],
        c["strategy"],
    )
    for c in covering(
        {
            "masking": _MASKINGS,
            "dropout": [False, True],
            "unroll": [False, True],
            "use_bias": [False, True],
            "mode": list(MODES),
            "strategy": list(LOOP_STRATEGIES),
        }
    )
] + [
    ((c["activation"], c["masked"], c["masked"], False, False, True),
     c["mode"], c["strategy"])
    for c in covering(
        {
            "activation": [
                "sigmoid", "relu", "linear", tf.nn.elu, tf.nn.softmax
            ],
            "masked": [False, True],
            "mode": list(MODES),
            "strategy": list(LOOP_STRATEGIES),
        },
        strength=2,
    )
]  # fmt: skip


def _config_id(case):
    (activation, mask, dropout, zero_out, unroll, use_bias), mode, strategy = (
        case
    )
    name = activation if isinstance(activation, str) else activation.__name__
    flags = dict(
        mask=mask, drop=dropout, zero=zero_out, unroll=unroll, bias=use_bias
    )
    return "-".join(
        [name] + [k for k, v in flags.items() if v] + [mode, strategy]
    )


@pytest.mark.parametrize("case", CONFIGS, ids=_config_id)
def test_scratch_rnn_gradients_match_autodiff(case, monkeypatch):
    """Handwritten BPTT equals TF autodiff of the same math, eager and graph."""
    config, mode, strategy = case
    use_loop_strategy(monkeypatch, strategy)
    activation, mask, dropout, zero_out, unroll, use_bias = config
    t = tensors(make_inputs(), use_bias)
    options = make_options(
        mask,
        dropout,
        activation=activation,
        zero_output_for_mask=zero_out,
        unroll=unroll,
    )
    args = [t[k] for k in (*INPUT_NAMES, "G", "G2")]
    got = run(mode, loss_and_grads, scratch_rnn, *args, **options)
    want = loss_and_grads(loop_rnn, *args, **options)

    assert_close(got[0], want[0], FLOAT64_PARITY, "outputs")
    assert_close(got[1], want[1], FLOAT64_PARITY, "h_last")
    assert len(got[2]) == len(want[2]) == 4 + use_bias
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert g is not None, f"d{name} is None"
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


SHAPES = [(3, 5, 4, 6), (2, 4, 3, 7), (4, 3, 6, 2)]  # (N, T, D, H)


def _shaped_args(seed, n, t, d, h):
    rng = np.random.default_rng(seed)
    shapes = dict(
        x=(n, t, d),
        h0=(n, h),
        kernel=(d, h),
        recurrent_kernel=(h, h),
        bias=(h,),
        G=(n, t, h),
        G2=(n, h),
    )
    return [tf.constant(rng.normal(scale=0.5, size=shapes[k]))
            for k in (*INPUT_NAMES, "G", "G2")]  # fmt: skip


def _assert_matches_autodiff(args, name):
    got = loss_and_grads(scratch_rnn, *args)
    want = loss_and_grads(loop_rnn, *args)
    assert_close(got[0], want[0], FLOAT64_PARITY, f"outputs {name}")
    for g, w, k in zip(got[2], want[2], INPUT_NAMES):
        assert_close(g, w, FLOAT64_PARITY, f"d{k} {name}")


def test_one_traced_loop_serves_many_shapes(monkeypatch):
    """The loops are traced once, for any shape, and shared by all layers:
    sizes must come from the tensors. Plain (eager) and XLA-compiled (in a
    `tf.function`), no loop function is ever traced twice (no retracing)."""
    monkeypatch.setattr(tf_ops, "_LOOPS", {})
    for seed, shape in enumerate(SHAPES):
        args = _shaped_args(seed, *shape)
        _assert_matches_autodiff(args, seed)
        traced = tf.function(loss_and_grads, autograph=False)
        got, want = traced(scratch_rnn, *args), loss_and_grads(loop_rnn, *args)
        for g, w, k in zip(got[2], want[2], INPUT_NAMES):
            assert_close(g, w, FLOAT64_PARITY, f"d{k} {seed}, traced")
    assert {key[-1] for key in tf_ops._LOOPS} == {True, False}
    for fn in tf_ops._LOOPS.values():
        assert fn.experimental_get_tracing_count() == 1


def test_eager_calls_run_the_plain_loop(monkeypatch):
    """Eager calls never compile (a new shape would cost an XLA
    compilation each time); the same call always gives the same result."""
    monkeypatch.setattr(tf_ops, "_LOOPS", {})
    args = _shaped_args(0, *SHAPES[0])
    first = loss_and_grads(scratch_rnn, *args)
    for _ in range(3):
        again = loss_and_grads(scratch_rnn, *args)
    assert {key[-1] for key in tf_ops._LOOPS} == {False}
    for got, want in zip([again[0], again[1], *again[2]],
                         [first[0], first[1], *first[2]]):  # fmt: skip
        np.testing.assert_array_equal(got, want)


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("rows", [1, 2, 3])
def test_unknown_batch_size(rows):
    """Traced with an unknown N, the batch is cut into parts at run time; at
    N = 1 a part has no rows. Mask and dropout masks are cut with it."""
    a = make_inputs()
    t = tensors(a)
    options = make_options(mask=True, dropout=True)
    batch = {k: t[k][:rows] for k in ("x", "h0", "G", "G2")}
    batch.update({k: v[:rows] for k, v in options.items()})
    weights = [t[k] for k in ("kernel", "recurrent_kernel", "bias")]

    def fn(x, h0, G, G2, mask, input_dropout_mask, recurrent_dropout_mask):
        return loss_and_grads(
            scratch_rnn, x, h0, *weights, G, G2, mask=mask,
            input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask,
        )  # fmt: skip

    names = ("x", "h0", "G", "G2", *options)
    signature = [
        tf.TensorSpec((None,) + batch[k].shape[1:], batch[k].dtype)
        for k in names
    ]
    traced = tf.function(fn, input_signature=signature, autograph=False)
    got = traced(*(batch[k] for k in names))
    want = loss_and_grads(
        loop_rnn, batch["x"], batch["h0"], *weights, batch["G"], batch["G2"],
        **{k: batch[k] for k in options},
    )  # fmt: skip
    assert got[0].shape == (rows, T, H)
    assert_close(got[0], want[0], FLOAT64_PARITY, "outputs")
    assert_close(got[1], want[1], FLOAT64_PARITY, "h_last")
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


def _outputs_only_grads(x, h0, kernel, recurrent_kernel, mask):
    params = [x, h0, kernel, recurrent_kernel]
    with tf.GradientTape() as tape:
        tape.watch(params)
        outputs, _ = scratch_rnn(x, h0, kernel, recurrent_kernel, mask=mask)
        loss = tf.reduce_sum(outputs)
    return tape.gradient(loss, params)


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("mode", MODES)
def test_scratch_rnn_unused_final_state(mode):
    """A loss on the outputs alone (h_last unused) still gets gradients."""
    a = make_inputs()
    t = tensors(a)
    args = [t[k] for k in INPUT_NAMES[:4]]
    got = run(mode, _outputs_only_grads, *args, tf.constant(MASK))
    t["G"] = tf.ones_like(t["G"])
    t["G2"] = tf.zeros_like(t["G2"])
    want = loss_and_grads(
        loop_rnn, *args, None, t["G"], t["G2"], mask=tf.constant(MASK)
    )[2]
    for name, g, w in zip(INPUT_NAMES, got, want):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


# Rows fully masked, fully unmasked, and unmasked only at the first step.
EDGE_MASK = np.array(
    [
        [False] * T,
        [True] * T,
        [True] + [False] * (T - 1),
    ]
)


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_scratch_rnn_edge_masks(zero_output_for_mask, mode):
    """A fully masked row keeps h0 (dh0 = dh_last); other edges match too."""
    a = make_inputs()
    t = tensors(a)
    options = dict(
        mask=tf.constant(EDGE_MASK),
        zero_output_for_mask=zero_output_for_mask,
    )
    args = [t[k] for k in (*INPUT_NAMES, "G", "G2")]
    got = run(mode, loss_and_grads, scratch_rnn, *args, **options)
    want = loss_and_grads(loop_rnn, *args, **options)
    np.testing.assert_array_equal(got[0][0], np.zeros((T, H)))
    np.testing.assert_array_equal(got[1][0], a["h0"][0])
    np.testing.assert_array_equal(got[2][1][0], a["G2"][0])
    assert_close(got[0], want[0], FLOAT64_PARITY, "outputs")
    assert_close(got[1], want[1], FLOAT64_PARITY, "h_last")
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


# --- 3. central differences --------------------------------------------------


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), np.finfo(np.float64).tiny)
    return float(np.abs(a - n).max() / scale)


@pytest.mark.usefixtures("loop_strategy")
def test_scratch_rnn_central_differences():
    """Masked, dropout-masked scratch_rnn gradients match central diffs."""
    a = make_inputs()
    options = make_options(mask=True, dropout=True, activation="tanh")
    arrays = {k: a[k].copy() for k in INPUT_NAMES}
    G, G2 = tf.constant(a["G"]), tf.constant(a["G2"])

    def loss():
        outputs, h_last = scratch_rnn(
            *(tf.constant(arrays[k]) for k in INPUT_NAMES), **options
        )
        return float(tf.reduce_sum(outputs * G) + tf.reduce_sum(h_last * G2))

    args = [tf.constant(arrays[k]) for k in INPUT_NAMES]
    _, _, grads = loss_and_grads(scratch_rnn, *args, G, G2, **options)
    for name, g in zip(INPUT_NAMES, grads):
        num = numerical_gradient(loss, arrays[name], EPS)
        np.testing.assert_array_equal(arrays[name], a[name])  # restored
        err = rel_err(g.numpy(), num)
        assert err <= GRADIENT_CHECK_RTOL, f"d{name}: rel err {err:.2e}"


# --- 4. NaN safety and zero gradients at masked steps ------------------------


def _cases(**factors):
    """Every three of these factors' values, and both loop strategies."""
    return covering({**factors, "strategy": list(LOOP_STRATEGIES)}, strength=3)


@pytest.mark.parametrize(
    "case",
    _cases(
        nan_padding=[False, True],
        activation=["tanh", tf.nn.elu],
        unroll=[False, True],
        mode=list(MODES),
    ),
    ids=case_id,
)
def test_masked_steps(case, monkeypatch):
    """NaN padding stays out of outputs/gradients; dx is 0 at masked steps."""
    use_loop_strategy(monkeypatch, case["strategy"])
    nan_padding, activation, unroll, mode = (
        case[k] for k in ("nan_padding", "activation", "unroll", "mode")
    )
    a = make_inputs()
    if nan_padding:
        a["x"][~MASK] = np.nan
    t = tensors(a)
    options = make_options(
        mask=True, dropout=True, activation=activation, unroll=unroll
    )
    args = [t[k] for k in (*INPUT_NAMES, "G", "G2")]
    outputs, h_last, grads = run(
        mode, loss_and_grads, scratch_rnn, *args, **options
    )
    assert np.all(np.isfinite(outputs)) and np.all(np.isfinite(h_last))
    for name, g in zip(INPUT_NAMES, grads):
        if name != "x":
            assert np.all(np.isfinite(g)), f"d{name} not finite"
    dx = grads[0].numpy()
    assert np.all(dx[~MASK] == 0.0)  # exactly zero at masked steps
    assert np.all(np.isfinite(dx[MASK]))
    assert np.any(dx[MASK] != 0.0)


# --- 5. rnn_backward alone; unroll; static T ---------------------------------


@pytest.mark.usefixtures("loop_strategy")
@pytest.mark.parametrize("activation", ["tanh", tf.nn.softmax])
def test_rnn_backward_standalone_unroll_equivalence(activation):
    """rnn_backward runs without a tape; unroll=True equals unroll=False."""
    a = make_inputs()
    t = tensors(a)
    options = make_options(mask=True, dropout=True, activation=activation)
    fwd_args = [t[k] for k in INPUT_NAMES]
    results = {}
    for unroll in (False, True):
        outputs, hs, pre = rnn_forward(*fwd_args, unroll=unroll, **options)
        assert (pre is None) == isinstance(activation, str)
        grads = rnn_backward(
            t["G"], t["G2"], *fwd_args[:4], hs, pre, unroll=unroll, **options
        )
        results[unroll] = (outputs, hs, *grads)
    names = ("outputs", "hs", "dx", "dh0", "dkernel", "drecurrent", "dbias")
    for name, r_loop, r_unrolled in zip(names, results[False], results[True]):
        assert_close(r_unrolled, r_loop, FLOAT64_PARITY, name)


def test_unroll_requires_static_time_steps():
    """unroll=True needs a static T; unroll=False traces with T unknown."""
    t = tensors(make_inputs())
    weights = [t[k] for k in INPUT_NAMES[1:]]
    spec = [tf.TensorSpec([N, None, D], tf.float64)]

    def forward_unrolled(x):
        return rnn_forward(x, *weights, unroll=True)[0]

    def grads_dynamic(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, h_last = scratch_rnn(
                x, *weights, mask=tf.ones_like(x[..., 0], tf.bool)
            )
            loss = tf.reduce_sum(outputs) + tf.reduce_sum(h_last)
        return outputs, tape.gradient(loss, x)

    unrolled = tf.function(forward_unrolled, spec, autograph=False)
    with pytest.raises(ValueError, match="static T"):
        unrolled.get_concrete_function()

    dynamic = tf.function(grads_dynamic, spec, autograph=False)
    outputs, dx = dynamic(t["x"])
    want = loss_and_grads(
        loop_rnn, t["x"], *weights, tf.ones_like(t["G"]), tf.ones_like(t["G2"])
    )
    assert_close(outputs, want[0], FLOAT64_PARITY, "outputs")
    assert_close(dx, want[2][0], FLOAT64_PARITY, "dx")


# --- 6. invalid activation ---------------------------------------------------


@pytest.mark.parametrize("activation", ["tahn", "TANH", "softmax", None])
@pytest.mark.parametrize(
    "op",
    [rnn_forward, rnn_backward, scratch_rnn, rnn_step],
    ids=lambda f: f.__name__,
)
def test_bad_activation_raises(op, activation):
    """An unknown activation string (or non-callable) is a ValueError."""
    t = tensors(make_inputs())
    x, h0, k, rk = (t[n] for n in INPUT_NAMES[:4])
    if op is rnn_backward:
        args = (t["G"], t["G2"], x, h0, k, rk, t["G"])
    elif op is rnn_step:
        args = (x[:, 0], h0, k, rk)
    else:
        args = (x, h0, k, rk)
    with pytest.raises(ValueError, match="activation"):
        op(*args, activation=activation)


# --- 7. float32 --------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    _cases(
        masked=[False, True],
        activation=["tanh", tf.nn.elu],
        unroll=[False, True],
        mode=list(MODES),
    ),
    ids=case_id,
)
def test_float32(case, monkeypatch):
    """float32 in, float32 out and gradients, close to the float64 result."""
    use_loop_strategy(monkeypatch, case["strategy"])
    masked, activation, unroll, mode = (
        case[k] for k in ("masked", "activation", "unroll", "mode")
    )
    results = {}
    for dtype in (np.float32, np.float64):
        t = tensors(make_inputs(dtype=dtype))
        options = make_options(
            masked, masked, dtype, activation=activation, unroll=unroll
        )
        args = [t[k] for k in (*INPUT_NAMES, "G", "G2")]
        results[dtype] = run(
            mode, loss_and_grads, scratch_rnn, *args, **options
        )
    outputs, h_last, grads = results[np.float32]
    for name, value in zip(
        ("outputs", "h_last", *INPUT_NAMES), (outputs, h_last, *grads)
    ):
        assert value.dtype == tf.float32, f"{name}: {value.dtype}"
    want_outputs, want_h_last, want_grads = results[np.float64]
    assert_close(outputs, want_outputs, FLOAT32_PARITY, "outputs")
    assert_close(h_last, want_h_last, FLOAT32_PARITY, "h_last")
    for name, g, w in zip(INPUT_NAMES, grads, want_grads):
        assert_close(g, w, FLOAT32_PARITY, f"d{name}")


def test_rnn_step_float32():
    """rnn_step keeps float32 for its output and its gradients."""
    t = tensors(make_inputs(dtype=np.float32))
    h_next, grads = _rnn_step_loss_and_grads(
        t["x"][:, 0], t["h0"], t["kernel"], t["recurrent_kernel"], t["bias"],
        t["G"][:, 0],
    )  # fmt: skip
    assert h_next.dtype == tf.float32
    assert all(g.dtype == tf.float32 for g in grads)
