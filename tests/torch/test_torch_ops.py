"""Tests of the PyTorch ops (`keras_scratch_rnn.ops.torch`), through the
backend-neutral `keras_scratch_rnn.ops` (run with `KERAS_BACKEND=torch`).

The NumPy reference (`TimeRNN`, `RNN`) is the ground truth for the book's
plain tanh RNN; torch autograd through a Python loop written here is the
ground truth for the extensions (mask, dropout masks, other activations, no
bias, the last output only).
"""

import keras
import numpy as np
import pytest
import torch
from covering import case_id, covering

from keras_scratch_rnn import ops
from keras_scratch_rnn.ops import rnn_math
from keras_scratch_rnn.ops import torch as torch_ops
from keras_scratch_rnn.reference import RNN, TimeRNN
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    GRADIENT_CHECK_RTOL,
    scaled_error,
)

SEED = 0
N, T, D, H = 3, 5, 4, 6
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
# Rows fully masked, fully unmasked, and unmasked only at the first step.
EDGE_MASK = np.array([[False] * T, [True] * T, [True] + [False] * (T - 1)])

INPUT_NAMES = ("x", "h0", "kernel", "recurrent_kernel", "bias")
ACTIVATIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "linear": lambda a: a,
}
CALLABLES = (torch.nn.functional.gelu, keras.activations.gelu)
CALLABLE_NAMES = {CALLABLES[0]: "torch_gelu", CALLABLES[1]: "keras_gelu"}


@pytest.fixture(autouse=True, scope="module")
def torch_backend():
    if keras.backend.backend() != "torch":
        pytest.skip("needs KERAS_BACKEND=torch")


# --- helpers -----------------------------------------------------------------


def make_inputs(dtype=torch.float64, seed=SEED):
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
    return {k: torch.tensor(v, dtype=dtype) for k, v in arrays.items()}


def make_options(mask=None, dropout=False, dtype=torch.float64, **options):
    """Keyword arguments of the ops, with the masks as tensors."""
    if mask is not None:
        options["mask"] = torch.tensor(mask)
    if dropout:  # Keras-style inverted dropout: 0 or 1 / KEEP, each with a 0
        rng = np.random.default_rng(SEED + 1)
        in_mask = (rng.random((N, D)) < KEEP) / KEEP
        rec_mask = (rng.random((N, H)) < KEEP) / KEEP
        in_mask[0, 0] = rec_mask[0, 0] = 0.0
        options["input_dropout_mask"] = torch.tensor(in_mask, dtype=dtype)
        options["recurrent_dropout_mask"] = torch.tensor(rec_mask, dtype=dtype)
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
    return_sequences=True,
):
    """The same math as `scratch_rnn`, as a plain Python loop (autograd)."""
    del unroll
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    if mask is not None:
        x = torch.where(mask[:, :, None], x, torch.zeros_like(x))
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    h, o = h0, torch.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        h_in = (
            h if recurrent_dropout_mask is None else h * recurrent_dropout_mask
        )
        a = x[:, t] @ kernel + h_in @ recurrent_kernel
        if bias is not None:
            a = a + bias
        y = act(a)
        if mask is None:
            h = o = y
        else:
            m = mask[:, t, None]
            h = torch.where(m, y, h)
            o = torch.where(
                m, y, torch.zeros_like(y) if zero_output_for_mask else o
            )
        outputs.append(o)
    out = torch.stack(outputs, dim=1) if return_sequences else outputs[-1]
    return out, h


def leaves(t, use_bias=True):
    """The inputs x, h0, kernel, recurrent_kernel, bias (or None) as fresh
    leaves that require gradients."""
    return [
        t[k].clone().requires_grad_() if use_bias or k != "bias" else None
        for k in INPUT_NAMES
    ]


def loss_and_grads(rnn_fn, params, G, G2, **options):
    """out, h_last and the gradients of sum(out G) + sum(h_last G2) with
    respect to every given input (None for a missing bias)."""
    out, h_last = rnn_fn(*params, **options)
    if not options.get("return_sequences", True):
        G = G[:, -1]
    loss = (out * G).sum() + (h_last * G2).sum()
    given = [p for p in params if p is not None]
    grads = iter(torch.autograd.grad(loss, given))
    return out, h_last, [None if p is None else next(grads) for p in params]


def assert_close(actual, expected, tol, name=""):
    err = scaled_error(actual.detach().numpy(), expected.detach().numpy())
    assert err <= tol, f"{name}: scaled error {err:.2e} > {tol:.0e}"


def assert_matches(got, want, tol):
    """Outputs, h_last and every gradient of `loss_and_grads` agree."""
    assert_close(got[0], want[0], tol, "out")
    assert_close(got[1], want[1], tol, "h_last")
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert (g is None) == (w is None), f"d{name}"
        if g is not None:
            assert g.dtype == w.dtype, f"d{name}: {g.dtype}"
            assert_close(g, w, tol, f"d{name}")


def reference_time_rnn(t):
    """Stateful `TimeRNN` started from the nonzero h0, and its forward hs."""
    weights = [t[k].numpy().copy() for k in INPUT_NAMES[2:]]
    rnn = TimeRNN(*weights, stateful=True)
    rnn.set_state(t["h0"].numpy().copy())
    return rnn, rnn.forward(t["x"].numpy())


def graph_nodes(tensor):
    """Every autograd node reachable from `tensor.grad_fn`."""
    seen, todo = [], [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.append(node)
        todo.extend(next_node for next_node, _ in node.next_functions)
    return seen


# --- 1. the ops vs the NumPy reference (float64, tanh, no masks) -------------


def test_rnn_forward_matches_time_rnn():
    """rnn_forward equals TimeRNN.forward from a nonzero h0; it records no
    autograd graph even from inputs that require gradients."""
    t = make_inputs()
    _, hs_ref = reference_time_rnn(t)
    outputs, hs, pre = ops.rnn_forward(*leaves(t))
    assert pre is None  # tanh: no pre-activations kept
    assert outputs is hs  # no mask: the outputs are the states
    assert not hs.requires_grad
    assert_close(hs, torch.tensor(hs_ref), FLOAT64_PARITY, "hs")


@pytest.mark.parametrize("dh_last_nonzero", [False, True])
def test_rnn_backward_matches_time_rnn(dh_last_nonzero):
    """rnn_backward equals TimeRNN.backward (dh_last adds to dhs[:, -1])."""
    t = make_inputs()
    dh_last = t["G2"] if dh_last_nonzero else torch.zeros(N, H).double()
    rnn, _ = reference_time_rnn(t)
    dhs_ref = t["G"].numpy().copy()
    dhs_ref[:, -1] += dh_last.numpy()
    dxs_ref = rnn.backward(dhs_ref)

    x, h0, kernel, recurrent_kernel, bias = (t[k] for k in INPUT_NAMES)
    _, hs, pre = ops.rnn_forward(x, h0, kernel, recurrent_kernel, bias)
    grads = ops.rnn_backward(
        t["G"], dh_last, x, h0, kernel, recurrent_kernel, hs, pre
    )
    expected = [dxs_ref, rnn.dh, *rnn.grads]
    for name, g, ref in zip(INPUT_NAMES, grads, expected):
        assert g.shape == ref.shape, f"d{name}: {tuple(g.shape)}"
        assert_close(g, torch.tensor(ref), FLOAT64_PARITY, f"d{name}")


@pytest.mark.parametrize(
    "options",
    [
        dict(mask=MASK, dropout=True, activation=CALLABLES[0]),
        dict(mask=EDGE_MASK, zero_output_for_mask=True, activation="sigmoid"),
    ],
    ids=["mask-dropout-gelu", "edge_mask_zero-sigmoid"],
)
def test_rnn_forward_and_backward_match_autograd(options):
    """rnn_forward and rnn_backward, called by hand, equal autograd of the
    loop: with masks, pre-activations (`pre`) and dbias `(H,)`."""
    t = make_inputs()
    options = make_options(**options)
    params = leaves(t)
    want = loss_and_grads(loop_rnn, params, t["G"], t["G2"], **options)
    x, h0, kernel, recurrent_kernel, bias = (t[k] for k in INPUT_NAMES)
    outputs, hs, pre = ops.rnn_forward(
        x, h0, kernel, recurrent_kernel, bias, **options
    )
    assert (pre is None) == isinstance(options["activation"], str)
    grads = ops.rnn_backward(
        t["G"], t["G2"], x, h0, kernel, recurrent_kernel, hs, pre, **options
    )
    assert_matches((outputs, hs[:, -1], grads), want, FLOAT64_PARITY)


def test_rnn_step_matches_reference_rnn():
    """rnn_step and its handwritten backward equal RNN.forward/backward."""
    t = make_inputs()
    x, G = t["x"][:, 0], t["G"][:, 0]
    weights = [t[k].numpy().copy() for k in INPUT_NAMES[2:]]
    layer = RNN(*weights)
    h_ref = layer.forward(x.numpy(), t["h0"].numpy())
    dx_ref, dh_ref = layer.backward(G.numpy())

    params = leaves(dict(t, x=x))
    h_next = ops.rnn_step(*params)
    assert isinstance(h_next.grad_fn, torch_ops._RNNStep._backward_cls)
    grads = torch.autograd.grad((h_next * G).sum(), params)
    assert_close(h_next, torch.tensor(h_ref), FLOAT64_PARITY, "h_next")
    expected = [dx_ref, dh_ref, *layer.grads]
    for name, g, ref in zip(INPUT_NAMES, grads, expected):
        assert_close(g, torch.tensor(ref), FLOAT64_PARITY, f"d{name}")


@pytest.mark.parametrize(
    ("activation", "use_bias"),
    [
        ("sigmoid", False),
        ("relu", True),
        ("linear", True),
        (CALLABLES[0], False),
    ],
    ids=["sigmoid-no_bias", "relu", "linear", "gelu-no_bias"],
)
def test_rnn_step_gradients_match_autograd(activation, use_bias):
    """rnn_step's backward for every kind of activation, with and without
    bias, equals autograd of one step; gradcheck agrees in float64."""
    t = make_inputs()
    params = leaves(dict(t, x=t["x"][:, 0]), use_bias)
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation

    def step(x, h_prev, kernel, recurrent_kernel, bias=None):
        a = x @ kernel + h_prev @ recurrent_kernel
        return act(a if bias is None else a + bias)

    G = t["G"][:, 0]
    given = [p for p in params if p is not None]
    h_next = ops.rnn_step(*params, activation=activation)
    got = torch.autograd.grad((h_next * G).sum(), given)
    want = torch.autograd.grad((step(*params) * G).sum(), given)
    for name, g, w in zip(INPUT_NAMES, got, want):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")
    if activation != "relu":  # central differences fail at relu's kink
        assert torch.autograd.gradcheck(
            lambda *p: ops.rnn_step(*p, activation=activation),
            params,
            atol=GRADIENT_CHECK_RTOL,
            rtol=GRADIENT_CHECK_RTOL,
        )


# --- 2. scratch_rnn's gradients vs autograd through a Python loop ------------

# Every activation with every masking, and every pair of option values:
# mask x return_sequences, mask x zero_output_for_mask (one factor),
# callable activation x mask, dropout and bias with each of them.
_MASKINGS = {
    "none": dict(),
    "mask": dict(mask=MASK),
    "mask_zero": dict(mask=MASK, zero_output_for_mask=True),
    "edge_mask": dict(mask=EDGE_MASK),
    "edge_mask_zero": dict(mask=EDGE_MASK, zero_output_for_mask=True),
}
CASES = covering(
    {
        "activation": ["tanh", "sigmoid", "relu", "linear", *CALLABLES],
        "masking": list(_MASKINGS),
        "return_sequences": [True, False],
        "dropout": [False, True],
        "use_bias": [True, False],
    },
    strength=2,
)


def _case_id(case):
    activation = case["activation"]
    return case_id(
        dict(case, activation=CALLABLE_NAMES.get(activation, activation))
    )


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_scratch_rnn_gradients_match_autograd(case):
    """The handwritten BPTT equals autograd of the same math (float64)."""
    t = make_inputs()
    options = make_options(
        **_MASKINGS[case["masking"]],
        dropout=case["dropout"],
        activation=case["activation"],
        return_sequences=case["return_sequences"],
    )
    params = leaves(t, case["use_bias"])
    got = loss_and_grads(ops.scratch_rnn, params, t["G"], t["G2"], **options)
    want = loss_and_grads(loop_rnn, params, t["G"], t["G2"], **options)
    assert got[0].shape == want[0].shape
    assert_matches(got, want, FLOAT64_PARITY)


def test_scratch_rnn_gradcheck():
    """Central differences (torch.autograd.gradcheck, both outputs) agree
    with the handwritten backward: masked, dropout-masked, callable
    activation, last output only, no bias."""
    t = make_inputs()
    options = make_options(
        mask=MASK,
        dropout=True,
        activation=CALLABLES[0],
        return_sequences=False,
    )
    params = leaves(t, use_bias=False)[:4]
    assert torch.autograd.gradcheck(
        lambda *p: ops.scratch_rnn(*p, **options),
        params,
        atol=GRADIENT_CHECK_RTOL,
        rtol=GRADIENT_CHECK_RTOL,
    )


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("used", ["out", "h_last", "zeros"])
def test_unused_output(used, masked):
    """One output unused: autograd passes None for it ("out", "h_last"),
    or zeros when both are given ("zeros"); the gradients stay right."""
    t = make_inputs()
    options = make_options(mask=MASK if masked else None)
    params = leaves(t)
    G, G2 = t["G"], t["G2"]
    if used == "out":
        G2 = torch.zeros_like(G2)
    else:
        G = torch.zeros_like(G)
    want = loss_and_grads(loop_rnn, params, G, G2, **options)[2]
    out, h_last = ops.scratch_rnn(*params, **options)
    if used == "out":
        got = torch.autograd.grad((out * G).sum(), params)
    elif used == "h_last":
        got = torch.autograd.grad((h_last * G2).sum(), params)
    else:
        got = torch.autograd.grad((out, h_last), params, (G, G2))
    for name, g, w in zip(INPUT_NAMES, got, want):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


def test_gradients_of_some_inputs_only():
    """Inputs that need no gradient (`ctx.needs_input_grad`) get none; the
    others are still right."""
    t = make_inputs()
    x, h0, kernel, recurrent_kernel, bias = leaves(t)
    x, h0 = x.detach(), h0.detach()
    params = [x, h0, kernel, recurrent_kernel, bias]
    out, _ = ops.scratch_rnn(*params)
    loss = (out * t["G"]).sum()
    loss.backward()
    assert x.grad is None and h0.grad is None
    want = loss_and_grads(loop_rnn, leaves(t), t["G"], 0 * t["G2"])[2]
    for name, p, w in zip(INPUT_NAMES[2:], params[2:], want[2:]):
        assert_close(p.grad, w, FLOAT64_PARITY, f"d{name}")


def test_unroll_changes_nothing():
    """`unroll=True` is accepted and gives the same numbers, bit for bit."""
    t = make_inputs()
    options = make_options(mask=MASK, dropout=True, activation="sigmoid")
    params = leaves(t)
    got = loss_and_grads(
        ops.scratch_rnn, params, t["G"], t["G2"], unroll=True, **options
    )
    want = loss_and_grads(ops.scratch_rnn, params, t["G"], t["G2"], **options)
    for g, w in zip([*got[:2], *got[2]], [*want[:2], *want[2]]):
        assert torch.equal(g, w)


# --- 3. the backward is the handwritten one ----------------------------------


@pytest.mark.parametrize(
    "activation", ["tanh", CALLABLES[0]], ids=["tanh", "gelu"]
)
def test_autograd_never_records_the_loop(activation, monkeypatch):
    """Both outputs' `grad_fn` is the package's Function, whose inputs are
    the leaves: no per-step node (`TanhBackward0`, `GeluBackward0`, `mm`)
    exists, and `loss.backward()` runs the handwritten `step_backward` of
    `rnn_math` once per step."""
    t = make_inputs()
    params = leaves(t)
    out, h_last = ops.scratch_rnn(*params, activation=activation)
    for y in (out, h_last):
        assert isinstance(y.grad_fn, torch_ops._ScratchRNN._backward_cls)
        nodes = graph_nodes(y)
        names = sorted(type(node).__name__ for node in nodes)
        assert names == ["AccumulateGrad"] * 5 + ["_ScratchRNNBackward"]
    calls = []

    def counted(*args):
        calls.append(args)
        return step_backward(*args)

    step_backward = rnn_math.step_backward
    monkeypatch.setattr(rnn_math, "step_backward", counted)
    ((out * t["G"]).sum() + (h_last * t["G2"]).sum()).backward()
    assert len(calls) == T
    assert all(p.grad is not None for p in params)


# --- 4. masks: NaN in padding, edge masks ------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_nan_padding(zero_output_for_mask, return_sequences):
    """NaN and inf in padded inputs reach neither the outputs nor the
    gradients: the same numbers, bit for bit, as zeros in the padding."""
    t = make_inputs()
    options = make_options(
        mask=MASK,
        dropout=True,
        zero_output_for_mask=zero_output_for_mask,
        return_sequences=return_sequences,
    )
    padded = t["x"].clone()
    padded[~torch.tensor(MASK)] = torch.nan
    padded[0, 0, 0] = torch.inf
    zeroed = torch.where(torch.tensor(MASK)[:, :, None], t["x"], 0.0)
    got = loss_and_grads(
        ops.scratch_rnn, leaves(dict(t, x=padded)), t["G"], t["G2"], **options
    )
    want = loss_and_grads(
        ops.scratch_rnn, leaves(dict(t, x=zeroed)), t["G"], t["G2"], **options
    )
    for g in (*got[:2], *got[2]):
        assert torch.isfinite(g).all()
    for g, w in zip([*got[:2], *got[2]], [*want[:2], *want[2]]):
        assert torch.equal(g, w)
    dx = got[2][0]
    assert not dx[~torch.tensor(MASK)].any()  # padded steps: dx = 0


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_edge_mask_values(zero_output_for_mask):
    """A fully masked row outputs zeros and keeps h0 (dh0 = dh_last); the
    row unmasked only at t = 0 repeats o_0 or outputs zeros after it."""
    t = make_inputs()
    options = make_options(
        mask=EDGE_MASK, zero_output_for_mask=zero_output_for_mask
    )
    out, h_last, grads = loss_and_grads(
        ops.scratch_rnn, leaves(t), t["G"], t["G2"], **options
    )
    assert not out[0].any()
    assert torch.equal(h_last[0], t["h0"][0])
    assert torch.equal(grads[1][0], t["G2"][0])
    assert torch.equal(h_last[2], out[2, 0])
    later = out[2, 1:]
    if zero_output_for_mask:
        assert not later.any()
    else:
        assert torch.equal(later, out[2, :1].expand_as(later))


# --- 5. float32 --------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(mask=MASK, dropout=True, activation=CALLABLES[1]),
        dict(mask=MASK, zero_output_for_mask=True, return_sequences=False),
    ],
    ids=["tanh", "mask-dropout-gelu", "mask_zero-last"],
)
def test_float32(options):
    """float32 in, float32 out (outputs and gradients), within
    FLOAT32_PARITY of the float64 reference loop."""
    t32, t64 = make_inputs(torch.float32), make_inputs()
    got = loss_and_grads(
        ops.scratch_rnn,
        leaves(t32),
        t32["G"],
        t32["G2"],
        **make_options(dtype=torch.float32, **options),
    )
    want = loss_and_grads(
        loop_rnn, leaves(t64), t64["G"], t64["G2"], **make_options(**options)
    )
    for g in (*got[:2], *got[2]):
        assert g.dtype == torch.float32
    got = (got[0].double(), got[1].double(), [g.double() for g in got[2]])
    assert_matches(got, want, FLOAT32_PARITY)
