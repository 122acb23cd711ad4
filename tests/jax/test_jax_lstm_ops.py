"""Tests of the JAX LSTM ops (`keras_scratch_rnn.ops.jax`: `scratch_lstm`,
`lstm_forward`, `lstm_backward`, `lstm_step`); run with `KERAS_BACKEND=jax`.

The ground truth of the gradients is JAX autodiff (float64) through a plain
Python loop of `lstm_math.step_forward` (`loop_lstm`): the same equations,
none of the ops' loops, layouts, hoisting or handwritten backward. Its
forward is checked against `keras.layers.LSTM` (float32).
"""

import contextlib
import functools

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from covering import case_id

from keras_scratch_rnn import ops
from keras_scratch_rnn.ops import jax as jax_ops
from keras_scratch_rnn.ops import lstm_math
from keras_scratch_rnn.ops.lstm_math import LSTMOptions
from keras_scratch_rnn.ops.rnn_math import Masks
from keras_scratch_rnn.tolerances import FLOAT32_PARITY

# Handwritten gradients (and outputs) vs autodiff, float64, relative to the
# largest magnitude of the expected array. Measured: about 5e-16.
FLOAT64_RTOL = 1e-10
# Outputs and final states vs keras.layers.LSTM, float32, absolute.
# Measured: about 6e-8.
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
PARAM_NAMES = ("x", "h0", "c0", "kernel", "recurrent_kernel", "bias")


# --- helpers -----------------------------------------------------------------


def precision(dtype):
    """float64 needs JAX's x64 mode (on only inside: other tests keep JAX's
    float32 default)."""
    if dtype == np.float64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


def make_arrays(dtype=np.float64, seed=SEED):
    """Random inputs, weights (gates i, f, g, o side by side), loss weights
    G (outputs), G_h (h_last), G_c (c_last), and Keras-style
    inverted-dropout masks (0 or 1 / KEEP, each with a 0), one `(N, K)` and
    one per gate `(N, 4, K)` for x and for h."""
    rng = np.random.default_rng(seed)

    def dropout(shape):
        m = (rng.random(shape) < KEEP) / KEEP
        m.flat[0] = 0.0
        return m

    arrays = dict(
        x=rng.normal(size=(N, T, D)),
        h0=rng.normal(scale=0.5, size=(N, H)),
        c0=rng.normal(scale=0.5, size=(N, H)),
        kernel=rng.normal(scale=0.5, size=(D, 4 * H)),
        recurrent_kernel=rng.normal(scale=0.5, size=(H, 4 * H)),
        bias=rng.normal(scale=0.1, size=(4 * H,)),
        G=rng.normal(size=(N, T, H)),
        G_h=rng.normal(size=(N, H)),
        G_c=rng.normal(size=(N, H)),
        input_single=dropout((N, D)),
        input_per_gate=dropout((N, 4, D)),
        recurrent_single=dropout((N, H)),
        recurrent_per_gate=dropout((N, 4, H)),
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


def loop_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """What `scratch_lstm` computes, as a Python loop over the steps of
    `lstm_math.step_forward` (for autodiff): no hoisting, no layout change,
    every dropout mask applied by `lstm_math.project` at each step."""
    mask, input_dropout, recurrent_dropout = masks
    h, c = h0, c0
    y = None if mask is None else jnp.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        xa = lstm_math.input_projection(
            jax_ops.xp, x[:, t], kernel, bias, input_dropout
        )
        h, c, y, _, _ = lstm_math.step_forward(
            jax_ops.xp, xa, h, c, y, recurrent_kernel, recurrent_dropout,
            None if mask is None else mask[:, t, None], options,
        )  # fmt: skip
        outputs.append(y)
    out = jnp.stack(outputs, axis=1) if options.return_sequences else y
    return out, h, c


def scratch_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    return jax_ops.scratch_lstm(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options
    )


def _loss(lstm_fn, options, params, masks, G, G_h, G_c):
    out, h_last, c_last = lstm_fn(**params, masks=masks, options=options)
    if not options.return_sequences:
        G = G[:, -1]
    loss = jnp.sum(out * G) + jnp.sum(h_last * G_h) + jnp.sum(c_last * G_c)
    return loss, (out, h_last, c_last)


def loss_and_grads(lstm_fn, options, params, masks, arrays, mode="eager"):
    """`(out, h_last, c_last)` and the gradients `{name: array}` of
    sum(out G) + sum(h_last G_h) + sum(c_last G_c); under `jax.jit` the
    masks are arguments."""
    fn = jax.value_and_grad(
        functools.partial(_loss, lstm_fn, options), has_aux=True
    )
    if mode == "jit":
        fn = jax.jit(fn)
    G = [jnp.asarray(arrays[k]) for k in ("G", "G_h", "G_c")]
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
    """Outputs, final states and every gradient agree (float64)."""
    outs, grads = got
    outs_ref, grads_ref = want
    for name, v, ref in zip(("out", "h_last", "c_last"), outs, outs_ref):
        assert v.dtype == dtype, f"{name} is {v.dtype}"
        assert_close(v, ref, name)
    assert grads.keys() == grads_ref.keys()
    for name, g in grads.items():
        if grads_ref[name] is None:  # no bias
            assert g is None, f"d{name} should be None"
            continue
        assert g.dtype == dtype, f"d{name} is {g.dtype}"
        assert_close(g, grads_ref[name], f"d{name}")


# --- 1. scratch_lstm vs autodiff through a Python loop (float64) ------------

# Each option at least once, a few together; every case eagerly and under
# jax.jit. `masking`: no mask, or a mask whose masked steps repeat the
# previous output ("repeat") or output zeros ("zeros",
# `zero_output_for_mask`), each with and without `last_only` (no
# return_sequences: the output is the last carried y).
CASES = [
    dict(),  # tanh, sigmoid gates, no mask, bias, lax.scan, every output
    dict(masking="repeat"),
    dict(masking="zeros", last_only=True),
    dict(input_dropout="single"),
    dict(input_dropout="per_gate", recurrent_dropout="per_gate"),
    dict(recurrent_dropout="single", last_only=True),
    dict(no_bias=True),
    dict(activation="relu", recurrent_activation="tanh"),
    dict(activation="linear", recurrent_activation="relu", masking="zeros"),
    dict(activation=jax.nn.softplus, recurrent_activation=jax.nn.elu),
    dict(
        activation=jax.nn.elu, masking="repeat", last_only=True,
        input_dropout="per_gate", recurrent_dropout="single", no_bias=True,
    ),
    dict(unroll=True),
    dict(
        unroll=True, masking="zeros", last_only=True, input_dropout="single",
        recurrent_dropout="per_gate",
    ),
]  # fmt: skip


def case_options(case):
    """The `LSTMOptions` of a case, and whether it has a mask."""
    masking = case.get("masking")
    options = LSTMOptions(
        activation=case.get("activation", "tanh"),
        recurrent_activation=case.get("recurrent_activation", "sigmoid"),
        zero_output_for_mask=masking == "zeros",
        unroll=case.get("unroll", False),
        return_sequences=not case.get("last_only", False),
    )
    return options, masking is not None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_scratch_lstm_matches_autodiff(case, mode):
    """The handwritten BPTT (and the forward) equal JAX autodiff of the
    same equations in a Python loop, including dh0 and dc0."""
    a = make_arrays()
    options, mask = case_options(case)
    with precision(np.float64):
        params = make_params(a, not case.get("no_bias"))
        masks = make_masks(
            a, mask, case.get("input_dropout"), case.get("recurrent_dropout")
        )
        got = loss_and_grads(scratch_lstm, options, params, masks, a, mode)
        want = loss_and_grads(loop_lstm, options, params, masks, a)
    assert_same_results(got, want)


def test_masked_last_step_outputs_y_not_h():
    """With a mask and no return_sequences, the output is the last carried
    y: zeros for a row masked at its last step under zero_output_for_mask,
    while h_last is that row's last unmasked state; a row masked
    throughout keeps h0 and c0."""
    a = make_arrays()
    options = LSTMOptions(zero_output_for_mask=True, return_sequences=False)
    with precision(np.float64):
        out, h_last, c_last = scratch_lstm(
            **make_params(a), masks=make_masks(a, mask=True), options=options
        )
    np.testing.assert_array_equal(out[1], np.zeros(H))  # masked last step
    assert np.abs(h_last[1]).min() > 0
    np.testing.assert_array_equal(h_last[3], a["h0"][3])
    np.testing.assert_array_equal(c_last[3], a["c0"][3])


def test_nan_padding():
    """NaN and inf at padded steps stay out of the outputs and gradients:
    all finite, dx 0 there, the rest as with the original padding."""
    a = make_arrays()
    padded = a["x"].copy()
    padded[~MASK] = np.nan
    padded[3, 0] = np.inf
    options = LSTMOptions()
    with precision(np.float64):
        masks = make_masks(a, True, "per_gate", "single")
        params = make_params(dict(a, x=padded))
        got = loss_and_grads(scratch_lstm, options, params, masks, a, "jit")
        want = loss_and_grads(loop_lstm, options, make_params(a), masks, a)
    outs, grads = got
    for name, value in [*zip(("out", "h", "c"), outs), *grads.items()]:
        assert np.isfinite(value).all(), f"{name} is not finite"
    np.testing.assert_array_equal(grads["x"][~MASK], 0.0)
    assert_same_results(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_masks_get_zero_gradients(mode):
    """The masks are arguments with zero gradients (the boolean mask,
    differentiated with `allow_int`, an empty float0 one)."""
    a = make_arrays()
    options = LSTMOptions()
    with precision(np.float64):
        params = make_params(a)
        masks = make_masks(a, True, "per_gate", "single")
        G = [a[k] for k in ("G", "G_h", "G_c")]
        fn = jax.grad(
            lambda m: _loss(scratch_lstm, options, params, m, *G)[0],
            allow_int=True,
        )
        grads = (jax.jit(fn) if mode == "jit" else fn)(masks)
    assert grads.mask.dtype == jax.dtypes.float0
    for g, m in zip(grads[1:], masks[1:]):
        assert g.shape == m.shape
        np.testing.assert_array_equal(g, 0.0)


# --- 2. the forward vs keras.layers.LSTM (float32) ---------------------------


@pytest.mark.parametrize(
    "mask, zero_output_for_mask",
    [(False, False), (True, False), (True, True)],
    ids=["no_mask", "mask", "mask-zero_output_for_mask"],
)
def test_forward_matches_keras_lstm(mask, zero_output_for_mask):
    """Same weights, zero states: every output and both final states equal
    those of `keras.layers.LSTM` on JAX."""
    a = make_arrays(np.float32)
    layer = keras.layers.LSTM(
        H, return_sequences=True, return_state=True,
        zero_output_for_mask=zero_output_for_mask, dtype="float32",
    )  # fmt: skip
    layer.build((N, T, D))
    layer.set_weights([a["kernel"], a["recurrent_kernel"], a["bias"]])
    keras_mask = MASK if mask else None
    want = layer(a["x"], mask=keras_mask)
    zeros = jnp.zeros((N, H), jnp.float32)
    params = dict(make_params(a), h0=zeros, c0=zeros)
    options = LSTMOptions(zero_output_for_mask=zero_output_for_mask)
    got = scratch_lstm(**params, masks=make_masks(a, mask), options=options)
    for name, g, w in zip(("outputs", "h_last", "c_last"), got, want):
        assert g.dtype == np.float32, f"{name} is {g.dtype}"
        err = float(np.abs(np.asarray(g) - np.asarray(w)).max())
        assert err <= KERAS_PARITY_ATOL, f"{name}: abs error {err:.2e}"


# --- 3. lstm_step vs autodiff of lstm_math.lstm_step_forward ----------------

STEP_CASES = [
    dict(mode="eager"),
    dict(input_dropout="single", recurrent_dropout="single", no_bias=True,
         mode="jit"),
    dict(input_dropout="per_gate", recurrent_dropout="per_gate",
         activation=jax.nn.softplus, recurrent_activation=jax.nn.elu,
         mode="jit"),
    dict(input_dropout="per_gate", recurrent_dropout="single",
         activation="relu", recurrent_activation="tanh", mode="eager"),
]  # fmt: skip


@pytest.mark.parametrize("case", STEP_CASES, ids=case_id)
def test_lstm_step(case):
    """lstm_step's (h_next, c_next) and its handwritten gradient equal
    autodiff of `lstm_math.lstm_step_forward`; the whole step is one
    `custom_vjp_call`."""
    a = make_arrays()
    options, _ = case_options(case)
    G_h, G_c = a["G"][:, 0], a["G_h"]
    masks = make_masks(
        a, False, case.get("input_dropout"), case.get("recurrent_dropout")
    )

    def step(x, h0, c0, kernel, recurrent_kernel, bias):
        return jax_ops.lstm_step(
            x, h0, c0, kernel, recurrent_kernel, bias, masks, options
        )

    def autodiff_step(x, h0, c0, kernel, recurrent_kernel, bias):
        h, c, _, _ = lstm_math.lstm_step_forward(
            jax_ops.xp, x, h0, c0, kernel, recurrent_kernel, bias,
            masks.input_dropout, masks.recurrent_dropout, options,
        )  # fmt: skip
        return h, c

    def value_and_grad(step_fn, params):
        def loss(p):
            h, c = step_fn(**p)
            return jnp.sum(h * G_h) + jnp.sum(c * G_c), (h, c)

        fn = jax.value_and_grad(loss, has_aux=True)
        return (jax.jit(fn) if case["mode"] == "jit" else fn)(params)

    with precision(np.float64):
        step_arrays = dict(a, x=a["x"][:, 0])
        params = make_params(step_arrays, not case.get("no_bias"))
        (_, (h, c)), grads = value_and_grad(step, params)
        (_, (h_want, c_want)), grads_want = value_and_grad(
            autodiff_step, params
        )
        jaxpr = jax.make_jaxpr(step)(*params.values())
    assert_close(h, h_want, "h_next")
    assert_close(c, c_want, "c_next")
    for name, g in grads.items():
        assert (g is None) == (grads_want[name] is None), name
        if g is not None:
            assert g.dtype == np.float64
            assert_close(g, grads_want[name], f"d{name}")
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]


# --- 4. the public ops, and the custom_vjp -----------------------------------


def test_public_forward_and_backward_match_scratch_lstm():
    """`ops.lstm_forward` and `ops.lstm_backward` (keyword API, dispatched
    to this module), with a mask, per-gate dropout masks and a callable
    activation (pre-activations kept), equal scratch_lstm and its gradient
    (`jax.vjp`). (The backward from d_last alone is scratch_lstm's without
    return_sequences, checked against autodiff above.)"""
    a = make_arrays()
    activation = jax.nn.softplus
    options = LSTMOptions(activation=activation)
    with precision(np.float64):
        p = make_params(a)
        masks = make_masks(a, True, "per_gate", "per_gate")
        kwargs = dict(
            mask=masks.mask, input_dropout_mask=masks.input_dropout,
            recurrent_dropout_mask=masks.recurrent_dropout,
            activation=activation,
        )  # fmt: skip
        outputs, hs, cs, gates, pre = ops.lstm_forward(**p, **kwargs)
        G, G_h, G_c = (jnp.asarray(a[k]) for k in ("G", "G_h", "G_c"))
        state = (p["x"], p["h0"], p["c0"], p["kernel"], p["recurrent_kernel"])
        grads = ops.lstm_backward(
            G, G_h, G_c, *state, hs, cs, gates, pre, **kwargs
        )
        (out, h_last, c_last), vjp = jax.vjp(
            lambda *args: scratch_lstm(*args, masks, options), *p.values()
        )
        want = vjp((G, G_h, G_c))
    assert pre.shape == gates.shape == (N, T, 4 * H)
    assert hs.shape == cs.shape == outputs.shape == (N, T, H)
    assert not np.array_equal(outputs, hs)  # masked: y_t is not h_t
    assert_close(outputs, out, "outputs")
    assert_close(hs[:, -1], h_last, "h_last")
    assert_close(cs[:, -1], c_last, "c_last")
    for name, g, w in zip(PARAM_NAMES, grads, want):
        assert g.dtype == np.float64
        assert_close(g, w, f"d{name}")


def test_public_forward_keeps_no_pre_activations():
    """With the handwritten activations, `lstm_forward` keeps no `A_t`,
    and without a mask its outputs are its hs."""
    a = make_arrays(np.float32)
    outputs, hs, _, gates, pre = ops.lstm_forward(**make_params(a))
    assert pre is None
    assert outputs is hs
    assert gates.shape == (N, T, 4 * H)


@pytest.mark.parametrize("mask", [False, True])
def test_jax_grad_runs_the_handwritten_backward(mask, monkeypatch):
    """scratch_lstm is one `custom_vjp_call` in the jaxpr of its forward,
    and `jax.grad` through it traces the handwritten backward
    (`lstm_math.step_backward`, which autodiff never calls); the jaxpr of
    the gradient has inlined the rule, so it holds no custom_vjp call
    itself."""
    a = make_arrays(np.float32)
    masks = make_masks(a, mask, "per_gate", "single")
    options = LSTMOptions(activation=jax.nn.elu, return_sequences=False)
    params = make_params(a)
    lstm = functools.partial(scratch_lstm, masks=masks, options=options)
    jaxpr = jax.make_jaxpr(lstm)(*params.values())
    assert [e.primitive.name for e in jaxpr.eqns] == ["custom_vjp_call"]

    calls = []
    step_backward = lstm_math.step_backward

    def spy(*args, **kwargs):
        calls.append(1)
        return step_backward(*args, **kwargs)

    monkeypatch.setattr(lstm_math, "step_backward", spy)
    G = [a[k] for k in ("G", "G_h", "G_c")]
    grad = jax.grad(lambda p: _loss(scratch_lstm, options, p, masks, *G)[0])
    jax.make_jaxpr(grad)(params)
    assert calls == [1]  # traced once: the body of the backward scan
