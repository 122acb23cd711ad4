"""Tests of the JAX GRU ops (`keras_scratch_rnn.ops.jax`: `scratch_gru`,
`gru_forward`, `gru_backward`, `gru_step`); run with `KERAS_BACKEND=jax`.

The ground truth of the gradients is JAX autodiff (float64) through a plain
Python loop of `gru_math.step_forward` (`loop_gru`): the same equations,
none of the ops' loops, layouts, hoisting or handwritten backward. Its
forward is checked against `keras.layers.GRU` (float32). Every test runs in
both of Keras's forms (`reset_after` True and False).
"""

import contextlib
import functools

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from covering import case_id

from keras_scratch_rnn.ops import gru_math
from keras_scratch_rnn.ops import jax as jax_ops
from keras_scratch_rnn.ops.gru_math import GRUOptions
from keras_scratch_rnn.ops.rnn_math import Masks
from keras_scratch_rnn.tolerances import FLOAT32_PARITY

# Handwritten gradients (and outputs) vs autodiff, float64, relative to the
# largest magnitude of the expected array.
FLOAT64_RTOL = 1e-10
# Outputs and final state vs keras.layers.GRU, float32, absolute.
KERAS_PARITY_ATOL = FLOAT32_PARITY

SEED = 0
N, T, D, H = 4, 5, 3, 6
KEEP = 0.7  # keep probability of the Keras-style dropout masks

# (N, T) padding mask: a masked first step, a masked run, a masked last step
# (there the last output y is not h_last), and a row masked throughout.
MASK = np.array(
    [
        [False, True, True, False, True],
        [True, False, False, True, False],
        [True, True, False, True, True],
        [False, False, False, False, False],
    ]
)

MODES = ("eager", "jit")
FORMS = (True, False)  # reset_after
PARAM_NAMES = ("x", "h0", "kernel", "recurrent_kernel", "bias")


def form_id(reset_after):
    return "reset_after" if reset_after else "reset_before"


# --- helpers -----------------------------------------------------------------


def precision(dtype):
    """float64 needs JAX's x64 mode (on only inside: other tests keep JAX's
    float32 default)."""
    if dtype == np.float64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


def make_arrays(reset_after, dtype=np.float64, seed=SEED):
    """Random inputs, weights (gates z, r, h side by side), a bias of the
    form's shape, loss weights G (outputs) and G_h (h_last), and
    Keras-style inverted-dropout masks (0 or 1 / KEEP, each with a 0), one
    `(N, K)` and one per gate `(N, 3, K)` for x and for h."""
    rng = np.random.default_rng(seed)

    def dropout(shape):
        m = (rng.random(shape) < KEEP) / KEEP
        m.flat[0] = 0.0
        return m

    bias_shape = (2, 3 * H) if reset_after else (3 * H,)
    arrays = dict(
        x=rng.normal(size=(N, T, D)),
        h0=rng.normal(scale=0.5, size=(N, H)),
        kernel=rng.normal(scale=0.5, size=(D, 3 * H)),
        recurrent_kernel=rng.normal(scale=0.5, size=(H, 3 * H)),
        bias=rng.normal(scale=0.3, size=bias_shape),
        G=rng.normal(size=(N, T, H)),
        G_h=rng.normal(size=(N, H)),
        input_single=dropout((N, D)),
        input_per_gate=dropout((N, 3, D)),
        recurrent_single=dropout((N, H)),
        recurrent_per_gate=dropout((N, 3, H)),
    )
    return {k: v.astype(dtype) for k, v in arrays.items()}


def make_params(arrays, use_bias=True):
    """`{name: jax array}` of the differentiated inputs (bias maybe None)."""
    params = {k: jnp.asarray(arrays[k]) for k in PARAM_NAMES}
    if not use_bias:
        params["bias"] = None
    return params


def make_masks(arrays, mask=False, input_dropout=None, recurrent_dropout=None):
    """The `Masks` of a call; the dropouts `None`, "single" or "per_gate"."""

    def pick(kind, which):
        return None if kind is None else jnp.asarray(arrays[f"{which}_{kind}"])

    return Masks(
        jnp.asarray(MASK) if mask else None,
        pick(input_dropout, "input"),
        pick(recurrent_dropout, "recurrent"),
    )


def loop_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """What `scratch_gru` computes, as a Python loop over the steps of
    `gru_math.step_forward` (for autodiff): no hoisting, no layout change,
    every dropout mask applied by `gru_math`'s projections at each step."""
    mask, input_dropout, recurrent_dropout = masks
    b_x, b_h = gru_math.split_bias(bias, options)
    h = h0
    y = None if mask is None else jnp.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        X = gru_math.input_projection(
            jax_ops.xp, x[:, t], kernel, b_x, input_dropout
        )
        h, y, _, _ = gru_math.step_forward(
            jax_ops.xp, X, h, y, recurrent_kernel, b_h, recurrent_dropout,
            None if mask is None else mask[:, t, None], options,
        )  # fmt: skip
        outputs.append(y)
    out = jnp.stack(outputs, axis=1) if options.return_sequences else y
    return out, h


def scratch_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    return jax_ops.scratch_gru(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


def _loss(gru_fn, options, params, masks, G, G_h):
    out, h_last = gru_fn(**params, masks=masks, options=options)
    if not options.return_sequences:
        G = G[:, -1]
    loss = jnp.sum(out * G) + jnp.sum(h_last * G_h)
    return loss, (out, h_last)


def loss_and_grads(gru_fn, options, params, masks, arrays, mode="eager"):
    """`(out, h_last)` and the gradients `{name: array}` of
    sum(out G) + sum(h_last G_h); under `jax.jit` the masks are
    arguments."""
    fn = jax.value_and_grad(
        functools.partial(_loss, gru_fn, options), has_aux=True
    )
    if mode == "jit":
        fn = jax.jit(fn)
    G = [jnp.asarray(arrays[k]) for k in ("G", "G_h")]
    (_, outputs), grads = fn(params, masks, *G)
    return outputs, grads


def rel_err(actual, expected):
    """max|a - e| / max|e| (0 if both are all zeros)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"shapes {a.shape} vs {e.shape}"
    scale = np.abs(e).max(initial=0.0)
    diff = np.abs(a - e).max(initial=0.0)
    return float(diff / scale) if scale > 0 else float(diff)


def assert_close(actual, expected, name=""):
    err = rel_err(actual, expected)
    assert err <= FLOAT64_RTOL, f"{name}: rel error {err:.2e}"


def assert_same_results(got, want, dtype=np.float64):
    """Outputs, final state and every gradient agree (float64)."""
    outs, grads = got
    outs_ref, grads_ref = want
    for name, v, ref in zip(("out", "h_last"), outs, outs_ref):
        assert v.dtype == dtype, f"{name} is {v.dtype}"
        assert_close(v, ref, name)
    assert grads.keys() == grads_ref.keys()
    for name, g in grads.items():
        if grads_ref[name] is None:  # no bias
            assert g is None, f"d{name} should be None"
            continue
        assert g.dtype == dtype, f"d{name} is {g.dtype}"
        assert_close(g, grads_ref[name], f"d{name}")


# --- 1. scratch_gru vs autodiff through a Python loop (float64) -------------

# Each option at least once, a few together; every case in both forms, in
# one of them eagerly and in the other under jax.jit (alternating, so each
# form runs about half its cases each way). `masking`: no mask, or a mask
# whose masked steps repeat the previous output ("repeat") or output zeros
# ("zeros", `zero_output_for_mask`), each with and without `last_only` (no
# return_sequences: the output is the last carried y).
CASES = [
    dict(),  # tanh, sigmoid gates, no mask, bias, lax.scan, every output
    dict(masking="repeat"),
    dict(masking="repeat", last_only=True),
    dict(masking="zeros", last_only=True),
    dict(recurrent_dropout="single", last_only=True),
    dict(input_dropout="single", recurrent_dropout="single", masking="zeros"),
    dict(input_dropout="per_gate", recurrent_dropout="per_gate"),
    dict(no_bias=True),
    dict(activation="relu", recurrent_activation="tanh"),
    dict(activation=jax.nn.softplus, recurrent_activation=jax.nn.elu),
    dict(
        activation=jax.nn.elu, masking="repeat", last_only=True,
        input_dropout="per_gate", recurrent_dropout="per_gate", no_bias=True,
    ),
    dict(unroll=True),
    dict(
        unroll=True, masking="zeros", last_only=True, input_dropout="single",
        recurrent_dropout="per_gate",
    ),
]  # fmt: skip
FORM_CASES = [
    dict(case, reset_after=reset_after, mode=MODES[(i + j) % 2])
    for j, reset_after in enumerate(FORMS)
    for i, case in enumerate(CASES)
]


def case_options(case, reset_after):
    """The `GRUOptions` of a case, and whether it has a mask."""
    masking = case.get("masking")
    options = GRUOptions(
        activation=case.get("activation", "tanh"),
        recurrent_activation=case.get("recurrent_activation", "sigmoid"),
        zero_output_for_mask=masking == "zeros",
        unroll=case.get("unroll", False),
        return_sequences=not case.get("last_only", False),
        reset_after=reset_after,
    )
    return options, masking is not None


@pytest.mark.parametrize("case", FORM_CASES, ids=case_id)
def test_scratch_gru_matches_autodiff(case):
    """The handwritten BPTT (and the forward) equal JAX autodiff of the
    same equations in a Python loop, including dh0 and dbias in the
    form's shape."""
    reset_after, mode = case["reset_after"], case["mode"]
    a = make_arrays(reset_after)
    options, mask = case_options(case, reset_after)
    with precision(np.float64):
        params = make_params(a, not case.get("no_bias"))
        masks = make_masks(
            a, mask, case.get("input_dropout"), case.get("recurrent_dropout")
        )
        got = loss_and_grads(scratch_gru, options, params, masks, a, mode)
        want = loss_and_grads(loop_gru, options, params, masks, a)
    assert_same_results(got, want)


@pytest.mark.parametrize("reset_after", FORMS, ids=form_id)
def test_masked_last_step_outputs_y_not_h(reset_after):
    """With a mask and no return_sequences, the output is the last carried
    y: zeros for a row masked at its last step under zero_output_for_mask,
    while h_last is that row's last unmasked state; a row masked
    throughout keeps h0."""
    a = make_arrays(reset_after)
    options = GRUOptions(
        zero_output_for_mask=True, return_sequences=False,
        reset_after=reset_after,
    )  # fmt: skip
    with precision(np.float64):
        out, h_last = scratch_gru(
            **make_params(a), masks=make_masks(a, mask=True), options=options
        )
    np.testing.assert_array_equal(out[1], np.zeros(H))  # masked last step
    assert np.abs(h_last[1]).min() > 0
    np.testing.assert_array_equal(h_last[3], a["h0"][3])


@pytest.mark.parametrize("reset_after", FORMS, ids=form_id)
def test_nan_padding(reset_after):
    """NaN and inf at padded steps stay out of the outputs and gradients:
    all finite, dx 0 there, the rest as with the original padding."""
    a = make_arrays(reset_after)
    padded = a["x"].copy()
    padded[~MASK] = np.nan
    padded[3, 0] = np.inf
    options = GRUOptions(reset_after=reset_after)
    with precision(np.float64):
        masks = make_masks(a, True, "per_gate", "single")
        params = make_params(dict(a, x=padded))
        got = loss_and_grads(scratch_gru, options, params, masks, a, "jit")
        want = loss_and_grads(loop_gru, options, make_params(a), masks, a)
    outs, grads = got
    for name, value in [*zip(("out", "h"), outs), *grads.items()]:
        assert np.isfinite(value).all(), f"{name} is not finite"
    np.testing.assert_array_equal(grads["x"][~MASK], 0.0)
    assert_same_results(got, want)


def test_masks_get_zero_gradients():
    """The masks are arguments with zero gradients (the boolean mask,
    differentiated with `allow_int`, an empty float0 one), under jax.jit."""
    a = make_arrays(True)
    options = GRUOptions()
    with precision(np.float64):
        params = make_params(a)
        masks = make_masks(a, True, "per_gate", "single")
        G = [a[k] for k in ("G", "G_h")]
        fn = jax.grad(
            lambda m: _loss(scratch_gru, options, params, m, *G)[0],
            allow_int=True,
        )
        grads = jax.jit(fn)(masks)
    assert grads.mask.dtype == jax.dtypes.float0
    for g, m in zip(grads[1:], masks[1:]):
        assert g.shape == m.shape
        np.testing.assert_array_equal(g, 0.0)


# --- 2. the forward vs keras.layers.GRU (float32) ----------------------------


@pytest.mark.parametrize(
    "reset_after, mask, zero_output_for_mask",
    [
        (True, False, False), (True, True, True),
        (False, False, False), (False, True, False),
    ],
    ids=[
        "reset_after-no_mask", "reset_after-mask-zero_output_for_mask",
        "reset_before-no_mask", "reset_before-mask",
    ],
)  # fmt: skip
def test_forward_matches_keras_gru(reset_after, mask, zero_output_for_mask):
    """Same weights (a random bias), zero state: every output and the final
    state equal those of `keras.layers.GRU` on JAX."""
    a = make_arrays(reset_after, np.float32)
    layer = keras.layers.GRU(
        H, return_sequences=True, return_state=True, reset_after=reset_after,
        zero_output_for_mask=zero_output_for_mask, dtype="float32",
    )  # fmt: skip
    layer.build((N, T, D))
    layer.set_weights([a["kernel"], a["recurrent_kernel"], a["bias"]])
    want = layer(a["x"], mask=MASK if mask else None)
    params = dict(make_params(a), h0=jnp.zeros((N, H), jnp.float32))
    options = GRUOptions(
        zero_output_for_mask=zero_output_for_mask, reset_after=reset_after
    )
    got = scratch_gru(**params, masks=make_masks(a, mask), options=options)
    for name, g, w in zip(("outputs", "h_last"), got, want):
        assert g.dtype == np.float32, f"{name} is {g.dtype}"
        err = float(np.abs(np.asarray(g) - np.asarray(w)).max())
        assert err <= KERAS_PARITY_ATOL, f"{name}: abs error {err:.2e}"


# --- 3. gru_step vs autodiff of gru_math.gru_step_forward -------------------

STEP_CASES = [
    dict(reset_after=True, mode="eager"),
    dict(reset_after=False, mode="jit"),
    dict(reset_after=True, input_dropout="single",
         recurrent_dropout="single", no_bias=True, mode="jit"),
    dict(reset_after=False, input_dropout="single",
         recurrent_dropout="per_gate", no_bias=True, activation="relu",
         recurrent_activation="tanh", mode="eager"),
    dict(reset_after=True, input_dropout="per_gate",
         recurrent_dropout="per_gate", activation=jax.nn.softplus,
         recurrent_activation=jax.nn.elu, mode="eager"),
    dict(reset_after=False, input_dropout="per_gate",
         recurrent_dropout="per_gate", activation=jax.nn.softplus,
         recurrent_activation=jax.nn.elu, mode="jit"),
]  # fmt: skip


@pytest.mark.parametrize("case", STEP_CASES, ids=case_id)
def test_gru_step(case):
    """gru_step's h_next and its handwritten gradient equal autodiff of
    `gru_math.gru_step_forward`; the whole step is one `custom_vjp_call`."""
    reset_after = case["reset_after"]
    a = make_arrays(reset_after)
    options, _ = case_options(case, reset_after)
    G_h = a["G"][:, 0]
    masks = make_masks(
        a, False, case.get("input_dropout"), case.get("recurrent_dropout")
    )

    def step(x, h0, kernel, recurrent_kernel, bias):
        return jax_ops.gru_step(
            x, h0, kernel, recurrent_kernel, bias, masks, options
        )

    def autodiff_step(x, h0, kernel, recurrent_kernel, bias):
        h, _, _ = gru_math.gru_step_forward(
            jax_ops.xp, x, h0, kernel, recurrent_kernel, bias,
            masks.input_dropout, masks.recurrent_dropout, options,
        )  # fmt: skip
        return h

    def value_and_grad(step_fn, params):
        def loss(p):
            h = step_fn(**p)
            return jnp.sum(h * G_h), h

        fn = jax.value_and_grad(loss, has_aux=True)
        return (jax.jit(fn) if case["mode"] == "jit" else fn)(params)

    with precision(np.float64):
        step_arrays = dict(a, x=a["x"][:, 0])
        params = make_params(step_arrays, not case.get("no_bias"))
        (_, h), grads = value_and_grad(step, params)
        (_, h_want), grads_want = value_and_grad(autodiff_step, params)
        jaxpr = jax.make_jaxpr(step)(*params.values())
    assert_close(h, h_want, "h_next")
    for name, g in grads.items():
        assert (g is None) == (grads_want[name] is None), name
        if g is not None:
            assert g.dtype == np.float64
            assert_close(g, grads_want[name], f"d{name}")
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]


# --- 4. gru_forward, gru_backward, and the custom_vjp ------------------------


@pytest.mark.parametrize("reset_after", FORMS, ids=form_id)
def test_forward_and_backward_match_scratch_gru(reset_after):
    """`gru_forward` and `gru_backward` (this module's), with a mask,
    per-gate dropout masks and a callable activation (pre-activations
    kept), equal scratch_gru and its gradient (`jax.vjp`); dbias has the
    bias's shape."""
    a = make_arrays(reset_after)
    options = GRUOptions(activation=jax.nn.softplus, reset_after=reset_after)
    with precision(np.float64):
        p = make_params(a)
        masks = make_masks(a, True, "per_gate", "per_gate")
        args = tuple(p.values())
        outputs, hs, saved, pre = jax_ops.gru_forward(*args, masks, options)
        G, G_h = (jnp.asarray(a[k]) for k in ("G", "G_h"))
        grads = jax_ops.gru_backward(
            G, None, G_h, *args, hs, saved, pre, masks, options
        )
        (out, h_last), vjp = jax.vjp(
            lambda *args: scratch_gru(*args, masks, options), *args
        )
        want = vjp((G, G_h))
    assert pre.shape == (N, T, 3 * H)
    assert saved.shape == (N, T, (4 if reset_after else 3) * H)
    assert hs.shape == outputs.shape == (N, T, H)
    assert not np.array_equal(outputs, hs)  # masked: y_t is not h_t
    assert_close(outputs, out, "outputs")
    assert_close(hs[:, -1], h_last, "h_last")
    for name, g, w in zip(PARAM_NAMES, grads, want):
        assert g.dtype == np.float64
        assert g.shape == p[name].shape, name
        assert_close(g, w, f"d{name}")


@pytest.mark.parametrize("reset_after", FORMS, ids=form_id)
def test_forward_keeps_no_pre_activations(reset_after):
    """With the handwritten activations, `gru_forward` keeps no
    pre-activations, and without a mask its outputs are its hs."""
    a = make_arrays(reset_after, np.float32)
    options = GRUOptions(reset_after=reset_after)
    outputs, hs, _, pre = jax_ops.gru_forward(
        *make_params(a).values(), Masks(), options
    )
    assert pre is None
    assert outputs is hs


@pytest.mark.parametrize(
    "reset_after, mask",
    [(True, True), (False, False)],
    ids=["reset_after-mask", "reset_before-no_mask"],
)
def test_jax_grad_runs_the_handwritten_backward(reset_after, mask, monkeypatch):
    """scratch_gru is one `custom_vjp_call` in the jaxpr of its forward,
    and `jax.grad` through it traces the handwritten backward
    (`gru_math.step_backward`, which autodiff never calls)."""
    a = make_arrays(reset_after, np.float32)
    masks = make_masks(a, mask, "per_gate", "single")
    options = GRUOptions(
        activation=jax.nn.elu, return_sequences=False, reset_after=reset_after
    )
    params = make_params(a)
    gru = functools.partial(scratch_gru, masks=masks, options=options)
    jaxpr = jax.make_jaxpr(gru)(*params.values())
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]

    calls = []
    step_backward = gru_math.step_backward

    def spy(*args, **kwargs):
        calls.append(1)
        return step_backward(*args, **kwargs)

    monkeypatch.setattr(gru_math, "step_backward", spy)
    G = [a[k] for k in ("G", "G_h")]
    grad = jax.grad(lambda p: _loss(scratch_gru, options, p, masks, *G)[0])
    jax.make_jaxpr(grad)(params)
    assert calls == [1]  # traced once: the body of the backward scan
