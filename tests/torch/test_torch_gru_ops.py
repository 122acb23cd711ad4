"""Tests of the PyTorch GRU ops (`keras_scratch_rnn.ops.torch`, GRU
section), through the backend-neutral `keras_scratch_rnn.ops` (run with
`KERAS_BACKEND=torch`), in both of Keras's forms (`reset_after`).

Ground truths: torch autograd through a plain Python loop of
`gru_math.step_forward` (the handwritten backward, `step_backward` and
`weight_gradients`, against the derivative of the forward equations);
central differences (`gradcheck`); and `keras.layers.GRU` for the forward
equations themselves (float32).
"""

import keras
import numpy as np
import pytest
import torch

from keras_scratch_rnn import ops
from keras_scratch_rnn.ops import gru_math
from keras_scratch_rnn.ops import torch as torch_ops
from keras_scratch_rnn.ops.gru_math import GRUOptions
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    GRADIENT_CHECK_RTOL,
    scaled_error,
)

SEED = 0
N, T, D, H = 3, 5, 4, 6
KEEP = 0.7  # keep probability of the Keras-style dropout masks

# Handwritten float64 gradients vs autograd of the loop, relative to the
# largest magnitude of each gradient (measured: at most 1.1e-15).
FLOAT64_RTOL = 1e-12
# scratch_gru vs keras.layers.GRU in float32: outputs and final state,
# absolute (measured: 0 with reset_after and no mask, else at most 1.1e-7).
KERAS_GRU_ATOL = 1e-5

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
OUTPUT_NAMES = ("out", "h_last")
SOFTPLUS = torch.nn.functional.softplus
ELU = torch.nn.functional.elu
RESET_AFTER = pytest.mark.parametrize(
    "reset_after", [True, False], ids=["reset_after", "reset_before"]
)


@pytest.fixture(autouse=True, scope="module")
def torch_backend():
    if keras.backend.backend() != "torch":
        pytest.skip("needs KERAS_BACKEND=torch")


# --- helpers -----------------------------------------------------------------


def make_inputs(
    reset_after, dtype=torch.float64, seed=SEED, sizes=(N, T, D, H)
):  # fmt: skip
    """Random x, h0, weights (the bias `(2, 3H)` with `reset_after`, else
    `(3H,)`) and loss weights G (outputs), G2 (h_last)."""
    n, t, d, h = sizes
    rng = np.random.default_rng(seed)
    arrays = dict(
        x=rng.normal(size=(n, t, d)),
        h0=rng.normal(scale=0.5, size=(n, h)),
        kernel=rng.normal(scale=0.5, size=(d, 3 * h)),
        recurrent_kernel=rng.normal(scale=0.5, size=(h, 3 * h)),
        bias=rng.normal(
            scale=0.3, size=(2, 3 * h) if reset_after else (3 * h,)
        ),
        G=rng.normal(size=(n, t, h)),
        G2=rng.normal(size=(n, h)),
    )
    return {k: torch.tensor(v, dtype=dtype) for k, v in arrays.items()}


def dropout_mask(shape, seed, dtype=torch.float64):
    """A Keras-style inverted dropout mask: 0 or 1 / KEEP, with a 0."""
    mask = (np.random.default_rng(seed).random(shape) < KEEP) / KEEP
    mask.flat[0] = 0.0
    return torch.tensor(mask, dtype=dtype)


def make_options(
    reset_after, mask=None, input_dropout=None, recurrent_dropout=None,
    dtype=torch.float64, sizes=(N, T, D, H), **options,
):  # fmt: skip
    """Keyword arguments of the ops, with the masks as tensors. A dropout is
    `"single"` (`(N, K)`) or `"per_gate"` (`(N, 3, K)`)."""
    n, _, d, h = sizes
    options["reset_after"] = reset_after
    if mask is not None:
        options["mask"] = torch.tensor(mask)
    for name, kind, k, seed in (
        ("input_dropout_mask", input_dropout, d, SEED + 1),
        ("recurrent_dropout_mask", recurrent_dropout, h, SEED + 2),
    ):
        if kind is not None:
            shape = (n, k) if kind == "single" else (n, 3, k)
            options[name] = dropout_mask(shape, seed, dtype)
    return options


def loop_gru(
    x,
    h0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
    zero_output_for_mask=False,
    unroll=False,
    return_sequences=True,
):
    """`scratch_gru`'s forward as a plain Python loop of
    `gru_math.step_forward`, one step at a time (the input projection and
    both dropout masks inside the loop): autograd differentiates it."""
    options = GRUOptions(
        activation=activation,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        return_sequences=return_sequences,
        recurrent_activation=recurrent_activation,
        reset_after=reset_after,
    )
    xp = torch_ops.xp
    b_x, b_h = gru_math.split_bias(bias, options)
    h = h0
    y = None if mask is None else torch.zeros_like(h0)
    outputs = []
    for t in range(x.shape[1]):
        x_t, m_t = x[:, t], None
        if mask is not None:
            m_t = mask[:, t, None]
            x_t = torch.where(m_t, x_t, torch.zeros_like(x_t))
        X = gru_math.input_projection(xp, x_t, kernel, b_x, input_dropout_mask)
        h, y, _, _ = gru_math.step_forward(
            xp, X, h, y, recurrent_kernel, b_h, recurrent_dropout_mask, m_t,
            options,
        )  # fmt: skip
        outputs.append(y)
    out = torch.stack(outputs, dim=1) if return_sequences else outputs[-1]
    return out, h


def leaves(t, use_bias=True):
    """The inputs x, h0, kernel, recurrent_kernel, bias (or None) as fresh
    leaves that require gradients."""
    return [
        t[k].clone().requires_grad_() if use_bias or k != "bias" else None
        for k in INPUT_NAMES
    ]


def loss_weights(t, return_sequences=True):
    return (t["G"] if return_sequences else t["G"][:, -1]), t["G2"]


def loss_and_grads(gru_fn, params, weights, **options):
    """out, h_last and the gradients of sum(out G) + sum(h_last G2) with
    respect to every given input (None for a missing bias)."""
    results = gru_fn(*params, **options)
    loss = sum((y * w).sum() for y, w in zip(results, weights))
    given = [p for p in params if p is not None]
    grads = iter(torch.autograd.grad(loss, given))
    return (*results, [None if p is None else next(grads) for p in params])


def relative_error(actual, expected):
    """`max|a - b| / max|b|` (or `max|a - b|` where b is all zeros)."""
    actual, expected = actual.detach().double(), expected.detach().double()
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.numel() == 0:
        return 0.0
    scale = expected.abs().max().item() or 1.0
    return (actual - expected).abs().max().item() / scale


def assert_close(actual, expected, tol, name=""):
    err = relative_error(actual, expected)
    assert err <= tol, f"{name}: relative error {err:.2e} > {tol:.0e}"


def assert_matches(got, want, tol):
    """out, h_last and every gradient of `loss_and_grads` agree."""
    for name, g, w in zip(OUTPUT_NAMES, got[:2], want[:2]):
        assert g.dtype == w.dtype, f"{name}: {g.dtype}"
        assert_close(g, w, tol, name)
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert (g is None) == (w is None), f"d{name}"
        if g is not None:
            assert g.dtype == w.dtype, f"d{name}: {g.dtype}"
            assert_close(g, w, tol, f"d{name}")


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


# --- 1. scratch_gru's gradients vs autograd through a Python loop ------------

CASES = {
    "none": dict(),
    "no_bias": dict(use_bias=False),
    "last": dict(return_sequences=False),
    "mask": dict(mask=MASK),
    "mask-zero": dict(mask=MASK, zero_output_for_mask=True),
    "mask-zero-no_bias": dict(
        mask=MASK, zero_output_for_mask=True, use_bias=False
    ),
    "mask-last": dict(mask=MASK, return_sequences=False),
    "mask-zero-last": dict(
        mask=MASK, zero_output_for_mask=True, return_sequences=False
    ),
    "edge_mask": dict(mask=EDGE_MASK),
    "edge_mask-zero-last": dict(
        mask=EDGE_MASK, zero_output_for_mask=True, return_sequences=False
    ),
    "input_dropout": dict(input_dropout="single"),
    "recurrent_dropout-no_bias": dict(
        recurrent_dropout="single", use_bias=False
    ),
    "single_dropouts-mask": dict(
        mask=MASK, input_dropout="single", recurrent_dropout="single"
    ),
    "per_gate_dropouts": dict(
        input_dropout="per_gate", recurrent_dropout="per_gate"
    ),
    "per_gate_dropouts-mask-last-no_bias": dict(
        mask=MASK,
        input_dropout="per_gate",
        recurrent_dropout="per_gate",
        return_sequences=False,
        use_bias=False,
    ),
    "per_gate_input-single_recurrent": dict(
        input_dropout="per_gate", recurrent_dropout="single"
    ),
    "single_input-per_gate_recurrent-mask_zero": dict(
        mask=MASK,
        zero_output_for_mask=True,
        input_dropout="single",
        recurrent_dropout="per_gate",
    ),
    "relu-tanh": dict(activation="relu", recurrent_activation="tanh"),
    "linear-sigmoid-mask": dict(activation="linear", mask=MASK),
    "softplus-elu-no_bias": dict(
        activation=SOFTPLUS, recurrent_activation=ELU, use_bias=False
    ),
    "elu-softplus-mask-per_gate-last": dict(
        activation=ELU,
        recurrent_activation=SOFTPLUS,
        mask=MASK,
        input_dropout="per_gate",
        recurrent_dropout="per_gate",
        return_sequences=False,
    ),
    "unroll-mask-dropouts": dict(
        unroll=True,
        mask=MASK,
        input_dropout="single",
        recurrent_dropout="per_gate",
    ),
}


@RESET_AFTER
@pytest.mark.parametrize("case", list(CASES))
def test_scratch_gru_gradients_match_autograd(case, reset_after):
    """The handwritten BPTT equals autograd of the same forward (float64):
    outputs, final state and the gradients of all five inputs (four
    without a bias)."""
    kw = dict(CASES[case])
    use_bias = kw.pop("use_bias", True)
    t = make_inputs(reset_after)
    options = make_options(reset_after, **kw)
    weights = loss_weights(t, options.get("return_sequences", True))
    params = leaves(t, use_bias)
    got = loss_and_grads(ops.scratch_gru, params, weights, **options)
    want = loss_and_grads(loop_gru, params, weights, **options)
    assert_matches(got, want, FLOAT64_RTOL)


@RESET_AFTER
def test_unroll_changes_nothing(reset_after):
    """`unroll=True` is accepted and gives the same numbers, bit for bit."""
    t = make_inputs(reset_after)
    options = make_options(
        reset_after, mask=MASK, input_dropout="per_gate",
        recurrent_dropout="per_gate",
    )  # fmt: skip
    weights = loss_weights(t)
    got = loss_and_grads(
        ops.scratch_gru, leaves(t), weights, unroll=True, **options
    )
    want = loss_and_grads(ops.scratch_gru, leaves(t), weights, **options)
    for g, w in zip([*got[:2], *got[2]], [*want[:2], *want[2]]):
        assert torch.equal(g, w)


@RESET_AFTER
@pytest.mark.parametrize("used", OUTPUT_NAMES)
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_unused_outputs(used, masked, reset_after):
    """Only one output used: autograd passes None for the other (the
    Function does not materialize it); the gradients stay right."""
    t = make_inputs(reset_after)
    options = make_options(reset_after, mask=MASK if masked else None)
    weights = [
        w if name == used else torch.zeros_like(w)
        for name, w in zip(OUTPUT_NAMES, loss_weights(t))
    ]
    want = loss_and_grads(loop_gru, leaves(t), weights, **options)[2]
    params = leaves(t)
    results = ops.scratch_gru(*params, **options)
    k = OUTPUT_NAMES.index(used)
    got = torch.autograd.grad((results[k] * weights[k]).sum(), params)
    for name, g, w in zip(INPUT_NAMES, got, want):
        assert_close(g, w, FLOAT64_RTOL, f"d{name}")


@RESET_AFTER
@pytest.mark.parametrize("input_dropout", [None, "single", "per_gate"])
def test_gradients_of_some_inputs_only(input_dropout, reset_after):
    """Inputs that need no gradient (`ctx.needs_input_grad`) get none, and
    dx is not computed (but through per-gate masks); the others are still
    right."""
    t = make_inputs(reset_after)
    options = make_options(reset_after, mask=MASK, input_dropout=input_dropout)
    params = leaves(t)
    params[0], params[1] = params[0].detach(), params[1].detach()  # x, h0
    out, _ = ops.scratch_gru(*params, **options)
    (out * t["G"]).sum().backward()
    assert params[0].grad is None and params[1].grad is None
    weights = (t["G"], 0 * t["G2"])
    want = loss_and_grads(loop_gru, leaves(t), weights, **options)[2]
    for name, p, w in zip(INPUT_NAMES[2:], params[2:], want[2:]):
        assert_close(p.grad, w, FLOAT64_RTOL, f"d{name}")


@RESET_AFTER
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_nan_padding(zero_output_for_mask, reset_after):
    """NaN and inf in padded inputs reach neither the outputs nor the
    gradients: the same numbers, bit for bit, as zeros in the padding."""
    t = make_inputs(reset_after)
    options = make_options(
        reset_after,
        mask=MASK,
        input_dropout="per_gate",
        recurrent_dropout="per_gate",
        zero_output_for_mask=zero_output_for_mask,
    )
    padded = t["x"].clone()
    padded[~torch.tensor(MASK)] = torch.nan
    padded[0, 0, 0] = torch.inf
    zeroed = torch.where(torch.tensor(MASK)[:, :, None], t["x"], 0.0)
    weights = loss_weights(t)
    got = loss_and_grads(
        ops.scratch_gru, leaves(dict(t, x=padded)), weights, **options
    )
    want = loss_and_grads(
        ops.scratch_gru, leaves(dict(t, x=zeroed)), weights, **options
    )
    for g, w in zip([*got[:2], *got[2]], [*want[:2], *want[2]]):
        assert torch.isfinite(g).all()
        assert torch.equal(g, w)
    assert not got[2][0][~torch.tensor(MASK)].any()  # padded steps: dx = 0


@RESET_AFTER
def test_float32(reset_after):
    """float32 in, float32 out (outputs and gradients), within
    FLOAT32_PARITY (scaled) of the float64 reference loop."""
    t32, t64 = make_inputs(reset_after, torch.float32), make_inputs(reset_after)
    kw = dict(mask=MASK, input_dropout="per_gate", activation=SOFTPLUS)
    got = loss_and_grads(
        ops.scratch_gru,
        leaves(t32),
        loss_weights(t32),
        **make_options(reset_after, dtype=torch.float32, **kw),
    )
    want = loss_and_grads(
        loop_gru, leaves(t64), loss_weights(t64),
        **make_options(reset_after, **kw),
    )  # fmt: skip
    for g, w in zip([*got[:2], *got[2]], [*want[:2], *want[2]]):
        assert g.dtype == torch.float32
        err = scaled_error(g.detach().double().numpy(), w.detach().numpy())
        assert err <= FLOAT32_PARITY, err


# --- 2. central differences --------------------------------------------------

SMALL = (2, 3, 2, 3)  # N, T, D, H for gradcheck

GRADCHECK_CASES = {
    "plain": dict(),
    "mask-per_gate-softplus-last-no_bias": dict(
        mask=MASK[:2, :3],
        input_dropout="per_gate",
        recurrent_dropout="per_gate",
        activation=SOFTPLUS,
        return_sequences=False,
    ),
    "mask_zero-single_dropouts-elu_gates": dict(
        mask=MASK[:2, :3],
        zero_output_for_mask=True,
        input_dropout="single",
        recurrent_dropout="single",
        recurrent_activation=ELU,
    ),
}


@RESET_AFTER
@pytest.mark.parametrize("case", list(GRADCHECK_CASES))
def test_scratch_gru_gradcheck(case, reset_after):
    """Central differences (torch.autograd.gradcheck, both outputs) agree
    with the handwritten backward."""
    t = make_inputs(reset_after, sizes=SMALL)
    options = make_options(reset_after, sizes=SMALL, **GRADCHECK_CASES[case])
    params = leaves(t, use_bias="no_bias" not in case)
    params = [p for p in params if p is not None]
    assert torch.autograd.gradcheck(
        lambda *p: ops.scratch_gru(*p, **options),
        params,
        atol=GRADIENT_CHECK_RTOL,
        rtol=GRADIENT_CHECK_RTOL,
    )


STEP_CASES = {
    "plain": dict(),
    "no_bias": dict(use_bias=False),
    "single_dropouts": dict(input_dropout="single", recurrent_dropout="single"),
    "per_gate_dropouts": dict(
        input_dropout="per_gate", recurrent_dropout="per_gate"
    ),
    "softplus-elu": dict(activation=SOFTPLUS, recurrent_activation=ELU),
    "relu-tanh": dict(activation="relu", recurrent_activation="tanh"),
}


@RESET_AFTER
@pytest.mark.parametrize("case", list(STEP_CASES))
def test_gru_step_matches_autograd(case, reset_after):
    """gru_step's handwritten backward equals autograd of one step of
    `gru_math` (float64), and central differences (but at relu's kink)."""
    kw = dict(STEP_CASES[case])
    use_bias = kw.pop("use_bias", True)
    t = make_inputs(reset_after, sizes=SMALL)
    options = make_options(reset_after, sizes=SMALL, **kw)
    params = leaves(dict(t, x=t["x"][:, 0]), use_bias)

    def one_step(x, h, kernel, recurrent_kernel, bias, **options):
        _, h = loop_gru(x[:, None], h, kernel, recurrent_kernel, bias,
                        **options)  # fmt: skip
        return (h,)

    got = loss_and_grads(
        lambda *p, **o: (ops.gru_step(*p, **o),), params, (t["G2"],),
        **options,
    )  # fmt: skip
    want = loss_and_grads(one_step, params, (t["G2"],), **options)
    assert_close(got[0], want[0], FLOAT64_RTOL, "h_next")
    for name, g, w in zip(INPUT_NAMES, got[1], want[1]):
        assert (g is None) == (w is None), f"d{name}"
        if g is not None:
            assert g.shape == w.shape, f"d{name}"
            assert_close(g, w, FLOAT64_RTOL, f"d{name}")
    h_next = ops.gru_step(*params, **options)
    assert isinstance(h_next.grad_fn, torch_ops._GRUStep._backward_cls)
    if kw.get("activation") != "relu":  # central differences fail at a kink
        assert torch.autograd.gradcheck(
            lambda *p: ops.gru_step(*p, **options),
            [p for p in params if p is not None],
            atol=GRADIENT_CHECK_RTOL,
            rtol=GRADIENT_CHECK_RTOL,
        )


# --- 3. the backward is the handwritten one ----------------------------------


@RESET_AFTER
@pytest.mark.parametrize(
    "options",
    [dict(), dict(mask=MASK, activation=SOFTPLUS, recurrent_activation=ELU)],
    ids=["tanh", "mask-softplus-elu"],
)
def test_autograd_never_records_the_loop(options, reset_after, monkeypatch):
    """Both outputs' `grad_fn` is the package's Function, whose inputs are
    the leaves: no per-step node (`SigmoidBackward0`, `TanhBackward0`,
    `SoftplusBackward0`, `mm`, `cat`) exists, and `backward()` runs the
    handwritten `gru_math.step_backward` once per step."""
    t = make_inputs(reset_after)
    params = leaves(t)
    results = ops.scratch_gru(*params, **make_options(reset_after, **options))
    for y in results:
        assert isinstance(y.grad_fn, torch_ops._ScratchGRU._backward_cls)
        names = sorted(type(node).__name__ for node in graph_nodes(y))
        assert names == ["AccumulateGrad"] * 5 + ["_ScratchGRUBackward"]
    calls = []

    def counted(*args):
        calls.append(args)
        return step_backward(*args)

    step_backward = gru_math.step_backward
    monkeypatch.setattr(gru_math, "step_backward", counted)
    loss = sum((y * w).sum() for y, w in zip(results, loss_weights(t)))
    loss.backward()
    assert len(calls) == T
    assert all(p.grad is not None for p in params)


@RESET_AFTER
def test_gru_step_graph_holds_the_function_only(reset_after):
    """gru_step's `grad_fn` is its Function, straight onto the leaves."""
    t = make_inputs(reset_after)
    params = leaves(dict(t, x=t["x"][:, 0]))
    h_next = ops.gru_step(*params, reset_after=reset_after)
    names = sorted(type(node).__name__ for node in graph_nodes(h_next))
    assert names == ["AccumulateGrad"] * 5 + ["_GRUStepBackward"]


# --- 4. the public forward and backward --------------------------------------


@RESET_AFTER
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(
            mask=MASK,
            input_dropout="per_gate",
            recurrent_dropout="per_gate",
            activation=SOFTPLUS,
        ),
        dict(
            mask=EDGE_MASK,
            zero_output_for_mask=True,
            input_dropout="single",
            recurrent_dropout="single",
        ),
        dict(use_bias=False, mask=MASK),
    ],
    ids=["plain", "mask-per_gate-softplus", "edge_mask_zero-single", "no_bias"],
)
def test_gru_forward_and_backward_match_scratch_gru(options, reset_after):
    """ops.gru_forward and ops.gru_backward, called by hand, equal
    scratch_gru and its autograd gradient; the forward records no graph."""
    options = dict(options)
    use_bias = options.pop("use_bias", True)
    t = make_inputs(reset_after)
    options = make_options(reset_after, **options)
    params = leaves(t, use_bias)
    want = loss_and_grads(ops.scratch_gru, params, loss_weights(t), **options)
    outputs, hs, saved, pre = ops.gru_forward(*params, **options)
    assert not outputs.requires_grad and not saved.requires_grad
    assert (outputs is hs) == ("mask" not in options)
    assert saved.shape == (N, T, (4 if reset_after else 3) * H)
    assert (pre is None) == isinstance(options.get("activation", ""), str)
    if pre is not None:
        assert pre.shape == (N, T, 3 * H)
    x, h0, kernel, recurrent_kernel = (t[k] for k in INPUT_NAMES[:4])
    grads = ops.gru_backward(
        t["G"], t["G2"], x, h0, kernel, recurrent_kernel, hs, saved, pre,
        bias=t["bias"] if use_bias else None, **options,
    )  # fmt: skip
    assert_matches((outputs, hs[:, -1], list(grads)), want, FLOAT64_RTOL)


# --- 5. keras.layers.GRU ------------------------------------------------------


@RESET_AFTER
@pytest.mark.parametrize(
    ("masked", "zero_output_for_mask"),
    [(False, False), (True, False), (True, True)],
    ids=["no_mask", "mask", "mask_zero"],
)
def test_forward_matches_keras_gru(masked, zero_output_for_mask, reset_after):
    """float32, the same weights (a random bias) and a zero state: the
    outputs and final state of scratch_gru equal keras.layers.GRU's on this
    backend."""
    t = make_inputs(reset_after, torch.float32)
    layer = keras.layers.GRU(
        H,
        reset_after=reset_after,
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=zero_output_for_mask,
        dtype="float32",
    )
    layer.build((N, T, D))
    layer.set_weights(
        [t[k].numpy() for k in ("kernel", "recurrent_kernel", "bias")]
    )
    mask = torch.tensor(MASK) if masked else None
    want = layer(t["x"], mask=mask)
    got = ops.scratch_gru(
        t["x"], torch.zeros(N, H), t["kernel"], t["recurrent_kernel"],
        t["bias"], mask=mask, reset_after=reset_after,
        zero_output_for_mask=zero_output_for_mask,
    )  # fmt: skip
    for name, g, w in zip(("outputs", "h_last"), got, want):
        w = keras.ops.convert_to_numpy(w)
        err = np.abs(g.detach().numpy() - w).max()
        assert err <= KERAS_GRU_ATOL, f"{name}: {err:.1e}"
