"""Tests of the JAX ops (`keras_scratch_rnn.ops.jax`); run with
`KERAS_BACKEND=jax`.

The NumPy reference (`TimeRNN`, `RNN`) is the ground truth for the book's
plain tanh RNN; JAX autodiff through a Python loop of `jnp` ops written here
(`loop_rnn`, which shares no code with the package) is the ground truth for
the extensions (mask, dropout masks, other activations, no bias).
"""

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from covering import case_id, covering

from keras_scratch_rnn.ops import jax as jax_ops
from keras_scratch_rnn.ops.rnn_math import Masks, RNNOptions
from keras_scratch_rnn.reference import RNN, TimeRNN, numerical_gradient
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    GRADIENT_CHECK_RTOL,
    scaled_error,
)

SEED = 0
N, T, D, H = 4, 5, 3, 6
EPS = 1e-6  # central-difference step (as in test_reference.py)
KEEP = 0.7  # keep probability of the Keras-style dropout masks

# (N, T) padding mask: a masked first step, a masked run, a masked last step
# (there the last output is not h_last), and a row masked throughout.
MASK = np.array(
    [
        [False, True, True, False, True],
        [True, False, False, True, False],
        [True, True, False, True, True],
        [False, False, False, False, False],
    ]
)

MODES = ("eager", "jit")
STRATEGIES = ("hoisted", "per_step")
PARAM_NAMES = ("x", "h0", "kernel", "recurrent_kernel", "bias")
JNP_ACTIVATIONS = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "linear": lambda a: a,
}


# --- helpers -----------------------------------------------------------------


def precision(dtype):
    """The context to compute in `dtype`: float64 needs JAX's x64 mode (on
    only inside, so other tests keep JAX's float32 default)."""
    if dtype == np.float64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


def use_strategy(monkeypatch, strategy):
    """Makes the loops do their matmuls per step, or hoisted out of them."""
    rows = 1 if strategy == "per_step" else 10**9
    monkeypatch.setattr(jax_ops, "PER_STEP_BATCH", rows)


def make_arrays(dtype=np.float64, seed=SEED):
    """Random inputs, weights, loss weights G (outputs), G2 (h_last) and
    Keras-style inverted-dropout masks (0 or 1 / KEEP, each with a 0)."""
    rng = np.random.default_rng(seed)
    arrays = dict(
        x=rng.normal(size=(N, T, D)),
        h0=rng.normal(scale=0.5, size=(N, H)),
        kernel=rng.normal(scale=0.5, size=(D, H)),
        recurrent_kernel=rng.normal(scale=0.5, size=(H, H)),
        bias=rng.normal(scale=0.1, size=(H,)),
        G=rng.normal(size=(N, T, H)),
        G2=rng.normal(size=(N, H)),
        input_dropout=(rng.random((N, D)) < KEEP) / KEEP,
        recurrent_dropout=(rng.random((N, H)) < KEEP) / KEEP,
    )
    arrays["input_dropout"][0, 0] = arrays["recurrent_dropout"][0, 0] = 0.0
    return {k: v.astype(dtype) for k, v in arrays.items()}


def make_params(arrays, use_bias=True):
    """`{name: jax array}` of the differentiated inputs (bias maybe None)."""
    params = {k: jnp.asarray(arrays[k]) for k in PARAM_NAMES}
    if not use_bias:
        params["bias"] = None
    return params


def make_masks(arrays, mask=False, dropout=False):
    """The `Masks` of a call, as jax arrays or `None`."""
    return Masks(
        jnp.asarray(MASK) if mask else None,
        jnp.asarray(arrays["input_dropout"]) if dropout else None,
        jnp.asarray(arrays["recurrent_dropout"]) if dropout else None,
    )


def loop_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """The math of `scratch_rnn` as a plain Python loop (for autodiff)."""
    act = JNP_ACTIVATIONS.get(options.activation, options.activation)
    mask, input_dropout, recurrent_dropout = masks
    if mask is not None:  # a `where`, so NaN padding gets zero gradients
        x = jnp.where(mask[:, :, None], x, 0.0)
    if input_dropout is not None:
        x = x * input_dropout[:, None, :]
    h, o = h0, jnp.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        h_in = h if recurrent_dropout is None else h * recurrent_dropout
        a = x[:, t] @ kernel + h_in @ recurrent_kernel
        if bias is not None:
            a = a + bias
        y = act(a)
        if mask is None:
            h = o = y
        else:
            m = mask[:, t, None]
            h = jnp.where(m, y, h)
            o = jnp.where(m, y, 0.0 if options.zero_output_for_mask else o)
        outputs.append(o)
    if not options.return_sequences:
        return o, h
    return jnp.stack(outputs, axis=1), h


def scratch_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    return jax_ops.scratch_rnn(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


def _loss(rnn_fn, options, params, masks, G, G2):
    out, h_last = rnn_fn(**params, masks=masks, options=options)
    if not options.return_sequences:
        G = G[:, -1]
    loss = jnp.sum(out * G) + jnp.sum(h_last * G2)
    return loss, (out, h_last)


def loss_and_grads(rnn_fn, options, params, masks, G, G2, mode="eager"):
    """`(out, h_last)` and the gradients `{name: array}` of
    sum(out G) + sum(h_last G2); the masks are arguments under `jax.jit`."""
    fn = jax.value_and_grad(
        functools.partial(_loss, rnn_fn, options), has_aux=True
    )
    if mode == "jit":
        fn = jax.jit(fn)
    (_, outputs), grads = fn(params, masks, jnp.asarray(G), jnp.asarray(G2))
    return outputs, grads


def assert_close(actual, expected, tol, name=""):
    err = scaled_error(actual, expected)
    assert err <= tol, f"{name}: scaled error {err:.2e} > {tol:.0e}"


def assert_same_results(got, want, tol, dtype):
    """Outputs, h_last and every gradient of `loss_and_grads` agree."""
    (out, h_last), grads = got
    (out_ref, h_last_ref), grads_ref = want
    assert_close(out, out_ref, tol, "outputs")
    assert_close(h_last, h_last_ref, tol, "h_last")
    assert grads.keys() == grads_ref.keys()
    for name, g in grads.items():
        if grads_ref[name] is None:  # no bias
            assert g is None, f"d{name} should be None"
            continue
        assert g.dtype == dtype, f"d{name} is {g.dtype}"
        assert_close(g, grads_ref[name], tol, f"d{name}")
    assert out.dtype == h_last.dtype == dtype


# --- 1. vs the NumPy reference (float64, tanh, no mask or dropout) -----------


def reference_time_rnn(a):
    """Stateful `TimeRNN` started from the nonzero h0, and its forward hs."""
    rnn = TimeRNN(
        a["kernel"].copy(), a["recurrent_kernel"].copy(), a["bias"].copy(),
        stateful=True,
    )  # fmt: skip
    rnn.set_state(a["h0"].copy())
    return rnn, rnn.forward(a["x"])


@pytest.mark.parametrize(
    "unroll, strategy", [(False, "hoisted"), (True, "per_step")]
)
def test_forward_and_backward_match_time_rnn(unroll, strategy, monkeypatch):
    """`forward` equals TimeRNN.forward from a nonzero h0, and `backward`
    (with d_outputs, and dh_last added to the last step) TimeRNN.backward."""
    use_strategy(monkeypatch, strategy)
    a = make_arrays()
    rnn, hs_ref = reference_time_rnn(a)
    dhs = a["G"].copy()
    dhs[:, -1] += a["G2"]
    dx_ref = rnn.backward(dhs)
    options = RNNOptions(unroll=unroll)
    with precision(np.float64):
        p, masks = make_params(a), Masks()
        outputs, hs, pre = jax_ops.forward(**p, masks=masks, options=options)
        grads = jax_ops.backward(
            jnp.asarray(a["G"]), None, jnp.asarray(a["G2"]), p["x"], p["h0"],
            p["kernel"], p["recurrent_kernel"], hs, pre, masks, options,
        )  # fmt: skip
    assert pre is None  # tanh: no pre-activations kept
    assert_close(outputs, hs_ref, FLOAT64_PARITY, "outputs")
    assert_close(hs, hs_ref, FLOAT64_PARITY, "hs")
    expected = (dx_ref, rnn.dh, *rnn.grads)
    for name, g, ref in zip(PARAM_NAMES, grads, expected):
        assert g.dtype == np.float64
        assert_close(g, ref, FLOAT64_PARITY, f"d{name}")


@pytest.mark.parametrize("mode", MODES)
def test_scratch_rnn_matches_time_rnn(mode):
    """scratch_rnn's outputs and its gradients by `jax.grad` equal the
    book's TimeRNN forward and backward."""
    a = make_arrays()
    rnn, hs_ref = reference_time_rnn(a)
    dhs = a["G"].copy()
    dhs[:, -1] += a["G2"]
    dx_ref = rnn.backward(dhs)
    with precision(np.float64):
        (out, h_last), grads = loss_and_grads(
            scratch_rnn, RNNOptions(), make_params(a), Masks(), a["G"],
            a["G2"], mode,
        )  # fmt: skip
    assert_close(out, hs_ref, FLOAT64_PARITY, "outputs")
    assert_close(h_last, hs_ref[:, -1], FLOAT64_PARITY, "h_last")
    expected = (dx_ref, rnn.dh, *rnn.grads)
    for name, ref in zip(PARAM_NAMES, expected):
        assert_close(grads[name], ref, FLOAT64_PARITY, f"d{name}")


@pytest.mark.parametrize(
    "activation, use_bias, mode",
    [
        ("tanh", True, "eager"),
        ("relu", False, "jit"),
        (jax.nn.gelu, True, "jit"),
        (jax.nn.gelu, False, "eager"),
    ],
    ids=["tanh-eager", "relu-no_bias-jit", "gelu-jit", "gelu-no_bias-eager"],
)
def test_rnn_step(activation, use_bias, mode):
    """rnn_step and its handwritten gradient equal autodiff of
    act(x Wx + h Wh + b), and for tanh the book's RNN.forward/backward."""
    a = make_arrays()
    x, G = a["x"][:, 0], a["G"][:, 0]
    options = RNNOptions(activation)
    act = JNP_ACTIVATIONS.get(activation, activation)

    def step(x, h0, kernel, recurrent_kernel, bias):
        return jax_ops.rnn_step(x, h0, kernel, recurrent_kernel, bias, options)

    def autodiff_step(x, h0, kernel, recurrent_kernel, bias):
        a = x @ kernel + h0 @ recurrent_kernel
        return act(a if bias is None else a + bias)

    def value_and_grad(step_fn, params):
        def loss(p):
            h_next = step_fn(**p)
            return jnp.sum(h_next * G), h_next

        fn = jax.value_and_grad(loss, has_aux=True)
        return (jax.jit(fn) if mode == "jit" else fn)(params)

    with precision(np.float64):
        params = make_params(dict(a, x=x), use_bias)
        (_, h_next), grads = value_and_grad(step, params)
        (_, h_want), grads_want = value_and_grad(autodiff_step, params)
        jaxpr = jax.make_jaxpr(step)(*params.values())
    assert_close(h_next, h_want, FLOAT64_PARITY, "h_next")
    for name, g in grads.items():
        assert (g is None) == (grads_want[name] is None), name
        if g is not None:
            assert_close(g, grads_want[name], FLOAT64_PARITY, f"d{name}")
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]
    if activation == "tanh" and use_bias:
        layer = RNN(a["kernel"], a["recurrent_kernel"], a["bias"])
        assert_close(h_next, layer.forward(x, a["h0"]), FLOAT64_PARITY, "h")
        expected = (*layer.backward(G), *layer.grads)
        for name, ref in zip(PARAM_NAMES, expected):
            assert_close(grads[name], ref, FLOAT64_PARITY, f"book d{name}")


# --- 2. scratch_rnn vs autodiff through a Python loop ------------------------

# Every pair of option values (activation x mask, mask x return_sequences,
# mask x zero_output_for_mask, ...), each case eager or jitted, hoisted or
# per step. `masking`: no mask, or a mask whose masked steps repeat the
# previous output or output zeros (`zero_output_for_mask`). The activations:
# tanh (derivative from y_t), relu (a `where`), and callables, elementwise
# or not (`jax.nn.softmax`); sigmoid and linear in `test_activations`.
MASKINGS = (None, "repeat", "zeros")
CASES = covering(
    {
        "activation": ["tanh", "relu", jax.nn.gelu, jax.nn.softmax],
        "masking": list(MASKINGS),
        "return_sequences": [True, False],
        "dropout": [False, True],
        "use_bias": [True, False],
        "unroll": [False, True],
        "mode": list(MODES),
        "strategy": list(STRATEGIES),
    },
    strength=2,
)  # fmt: skip


def case_options(case):
    """The `RNNOptions` of a case, and whether it has a mask."""
    masking = case.get("masking", "repeat")
    options = RNNOptions(
        case.get("activation", "tanh"),
        zero_output_for_mask=masking == "zeros",
        unroll=case.get("unroll", False),
        return_sequences=case.get("return_sequences", True),
    )
    return options, masking is not None


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_scratch_rnn_matches_autodiff(case, monkeypatch):
    """The handwritten BPTT equals JAX autodiff of the same math (float64),
    including dh0, for every option, eager and under `jax.jit`."""
    use_strategy(monkeypatch, case["strategy"])
    a = make_arrays()
    options, mask = case_options(case)
    with precision(np.float64):
        params = make_params(a, case["use_bias"])
        masks = make_masks(a, mask, case["dropout"])
        args = (options, params, masks, a["G"], a["G2"])
        got = loss_and_grads(scratch_rnn, *args, mode=case["mode"])
        want = loss_and_grads(loop_rnn, *args)
    assert_same_results(got, want, FLOAT64_PARITY, np.float64)


@pytest.mark.parametrize("activation", ["sigmoid", "linear"])
def test_activations(activation):
    """The other handwritten derivatives, masked with dropout, jitted."""
    a = make_arrays()
    options = RNNOptions(activation, zero_output_for_mask=True)
    with precision(np.float64):
        params = make_params(a)
        masks = make_masks(a, mask=True, dropout=True)
        args = (options, params, masks, a["G"], a["G2"])
        got = loss_and_grads(scratch_rnn, *args, mode="jit")
        want = loss_and_grads(loop_rnn, *args)
    assert_same_results(got, want, FLOAT64_PARITY, np.float64)


@pytest.mark.parametrize(
    "case",
    covering(
        {
            "activation": ["tanh", jax.nn.gelu],
            "masking": ["repeat", "zeros"],
            "return_sequences": [True, False],
            "unroll": [False, True],
            "mode": list(MODES),
            "strategy": list(STRATEGIES),
        },
        strength=2,
    ),
    ids=case_id,
)
def test_nan_padding(case, monkeypatch):
    """NaN and inf at padded steps stay out of the outputs and gradients:
    all finite, dx 0 there, the rest as with zero padding."""
    use_strategy(monkeypatch, case["strategy"])
    a = make_arrays()
    padded = a["x"].copy()
    padded[~MASK] = np.nan
    padded[3, 0] = np.inf
    options, _ = case_options(case)
    with precision(np.float64):
        masks = make_masks(a, mask=True, dropout=True)
        args = (options, make_params(dict(a, x=padded)), masks, a["G"])
        got = loss_and_grads(scratch_rnn, *args, a["G2"], mode=case["mode"])
        args = (options, make_params(a), masks, a["G"])
        want = loss_and_grads(loop_rnn, *args, a["G2"])
    (out, h_last), grads = got
    for name, value in [("out", out), ("h_last", h_last), *grads.items()]:
        assert np.isfinite(value).all(), f"{name} is not finite"
    np.testing.assert_array_equal(grads["x"][~MASK], 0.0)
    assert_same_results(got, want, FLOAT64_PARITY, np.float64)


# The options' pairs are covered in float64 above; float32 runs each mode,
# strategy, masking and kind of activation once.
FLOAT32_CASES = [
    dict(activation="tanh", masking="zeros", mode="eager", strategy="hoisted"),
    dict(
        activation=jax.nn.gelu, masking=None, return_sequences=False,
        mode="jit", strategy="per_step",
    ),
    dict(
        activation="relu", masking="repeat", return_sequences=False,
        mode="jit", strategy="hoisted",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", FLOAT32_CASES, ids=case_id)
def test_float32(case, monkeypatch):
    """In float32 (JAX's default), results stay float32 and agree with
    float32 autodiff to `FLOAT32_PARITY`."""
    use_strategy(monkeypatch, case["strategy"])
    a = make_arrays(np.float32)
    options, mask = case_options(case)
    params = make_params(a)
    masks = make_masks(a, mask, dropout=True)
    args = (options, params, masks, a["G"], a["G2"])
    got = loss_and_grads(scratch_rnn, *args, mode=case["mode"])
    want = loss_and_grads(loop_rnn, *args)
    assert_same_results(got, want, FLOAT32_PARITY, np.float32)


def test_fully_masked_row():
    """A row masked at every step keeps h0: its outputs are 0, its h_last
    is h0, and dh0 is exactly dL/dh_last."""
    a = make_arrays()
    options = RNNOptions(zero_output_for_mask=False)
    with precision(np.float64):
        (out, h_last), grads = loss_and_grads(
            scratch_rnn, options, make_params(a), make_masks(a, mask=True),
            a["G"], a["G2"],
        )  # fmt: skip
    np.testing.assert_array_equal(out[3], np.zeros((T, H)))
    np.testing.assert_array_equal(h_last[3], a["h0"][3])
    np.testing.assert_array_equal(grads["h0"][3], a["G2"][3])


# --- 3. central differences, the masks' gradients, the custom_vjp ------------


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), np.finfo(np.float64).tiny)
    return float(np.abs(a - n).max() / scale)


def test_central_differences():
    """Masked, dropout-masked, jitted scratch_rnn gradients (no return
    sequences: the last *output*) match central differences in float64."""
    a = make_arrays()
    options = RNNOptions("tanh", return_sequences=False)
    arrays = {k: a[k].copy() for k in PARAM_NAMES}
    with precision(np.float64):
        masks = make_masks(a, mask=True, dropout=True)
        G, G2 = a["G"], a["G2"]
        loss = jax.jit(
            lambda p: _loss(scratch_rnn, options, p, masks, G, G2)[0]
        )
        grads = jax.grad(lambda p: loss(p))(make_params(arrays))

        def numeric_loss():
            return float(loss(make_params(arrays)))

        for name in PARAM_NAMES:
            num = numerical_gradient(numeric_loss, arrays[name], EPS)
            np.testing.assert_array_equal(arrays[name], a[name])  # restored
            err = rel_err(np.asarray(grads[name]), num)
            assert err <= GRADIENT_CHECK_RTOL, f"d{name}: rel err {err:.2e}"


@pytest.mark.parametrize("mode", MODES)
def test_masks_get_zero_gradients(mode):
    """The dropout masks are arguments with zero gradients (and the boolean
    mask, differentiated with `allow_int`, gets an empty float0 one)."""
    a = make_arrays()
    options = RNNOptions()
    with precision(np.float64):
        params = make_params(a)
        masks = make_masks(a, mask=True, dropout=True)
        fn = jax.grad(
            lambda masks: _loss(scratch_rnn, options, params, masks, a["G"],
                                a["G2"])[0],
            allow_int=True,
        )  # fmt: skip
        grads = (jax.jit(fn) if mode == "jit" else fn)(masks)
    assert grads.mask.dtype == jax.dtypes.float0
    for name in ("input_dropout", "recurrent_dropout"):
        g = getattr(grads, name)
        assert g.shape == a[name].shape
        np.testing.assert_array_equal(g, 0.0)


@pytest.mark.parametrize("activation", ["tanh", jax.nn.gelu])
@pytest.mark.parametrize("mask", [False, True])
def test_jaxpr_is_one_custom_vjp_call(mask, activation):
    """The whole of scratch_rnn is a `custom_vjp_call`: `jax.grad` runs the
    handwritten backward, never autodiff through the loop."""
    a = make_arrays(np.float32)
    masks = make_masks(a, mask, dropout=True)
    options = RNNOptions(activation, return_sequences=False)
    rnn = functools.partial(scratch_rnn, masks=masks, options=options)
    jaxpr = jax.make_jaxpr(rnn)(*make_params(a).values())
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_forward_and_backward_match_autodiff(zero_output_for_mask):
    """`forward` and `backward` called by hand, with a mask, dropout masks
    and a callable activation (pre-activations kept): as autodiff; and
    `backward` from d_last (the last output's gradient) as from d_outputs
    that are zero except at the last step."""
    a = make_arrays()
    options = RNNOptions(jax.nn.gelu, zero_output_for_mask)
    with precision(np.float64):
        p = make_params(a)
        masks = make_masks(a, mask=True, dropout=True)
        outputs, hs, pre = jax_ops.forward(**p, masks=masks, options=options)
        rest = (
            jnp.asarray(a["G2"]), p["x"], p["h0"], p["kernel"],
            p["recurrent_kernel"], hs, pre, masks, options,
        )  # fmt: skip
        grads = jax_ops.backward(jnp.asarray(a["G"]), None, *rest)
        d_last = jnp.asarray(a["G"][:, -1])
        d_outputs = jnp.zeros_like(outputs).at[:, -1].set(d_last)
        got = jax_ops.backward(None, d_last, *rest)
        want = jax_ops.backward(d_outputs, None, *rest)
        args = (options, p, masks, a["G"], a["G2"])
        (out_ref, h_last_ref), grads_ref = loss_and_grads(loop_rnn, *args)
    assert pre.shape == hs.shape == outputs.shape == (N, T, H)
    assert not np.array_equal(outputs, hs)  # masked: o_t is not h_t
    assert_close(outputs, out_ref, FLOAT64_PARITY, "outputs")
    assert_close(hs[:, -1], h_last_ref, FLOAT64_PARITY, "h_last")
    for name, g, g_last, w in zip(PARAM_NAMES, grads, got, want):
        assert_close(g, grads_ref[name], FLOAT64_PARITY, f"d{name}")
        assert_close(g_last, w, FLOAT64_PARITY, f"d{name} from d_last")
