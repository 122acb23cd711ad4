"""The book's RNN as PyTorch ops, with a handwritten backward.

`forward` runs the recurrence of `TimeRNN.forward` over a whole sequence,
`backward` is `TimeRNN.backward`: backpropagation through time, walking the
steps in reverse order. `scratch_rnn` joins the two with a
`torch.autograd.Function`, so autograd never records the loop: the outputs'
`grad_fn` is that Function's backward node, which runs `backward` (on the
tensors the forward kept). `rnn_step` is the book's single `RNN` step with
its own backward. The equations are those of `rnn_math`, computed with the
primitives `xp`; this module has only the loops, the glue and the speed
tricks.

The loops are Python loops over t, as Keras's torch backend trains eagerly
(`options.unroll` changes nothing). Only the recurrence is in the loops: the
input projection `x_t Wx + b` of every step is one matmul over the N * T
rows before the forward loop, and the weight gradients `dWx`, `dWh`, `db`
and `dx` are single matmuls over the N * T rows after the backward loop.

No sequence is copied for that. Inside, everything is time-major: the
states live in one `(T + 1, N, H)` buffer, `states[0] = h_{-1}` and
`states[t + 1] = h_t`, so `states[1:]` (the h_t) and `states[:-1]` (the
h_{t-1} that the weight gradients pair with dt_t) are both views of whole
rows. That buffer is the input projection's own output: step t reads
`x_t Wx + b` from `states[t + 1]`, then writes h_t over it. Each step's
slices are views made once (`unbind`); the loops write into preallocated
buffers, never stacking lists. What is returned is batch-major `(N, T, .)`,
as Keras has it: transposed views, as `keras.layers.SimpleRNN` returns on
this backend.

Tensors are native torch tensors, in any float dtype.
"""

import dataclasses
import types

import torch
from torch.autograd.function import once_differentiable

from keras_scratch_rnn.ops import gru_math, lstm_math, rnn_math
from keras_scratch_rnn.ops.rnn_math import Masks


def _local_vjp(fn, a, dy):
    """dy^T dfn/da at `a`: the gradient of `fn` alone, by autograd."""
    with torch.enable_grad():
        a = a.detach().requires_grad_()
        (da,) = torch.autograd.grad(fn(a), a, dy)
    return da


xp = types.SimpleNamespace(
    matmul=torch.matmul,
    matmul_tb=lambda a, b: torch.matmul(a, b.mT),  # a b^T, 2-D
    matmul_ta=lambda a, b: torch.matmul(a.mT, b),  # a^T b, 2-D
    where=torch.where,
    zeros_like=torch.zeros_like,
    sum0=lambda a: torch.sum(a, dim=0),
    tanh=torch.tanh,
    sigmoid=torch.sigmoid,
    relu=torch.relu,
    local_vjp=_local_vjp,
    # `lstm_math`'s two more, along the last axis: the gates side by side.
    split=lambda a, n: a.tensor_split(n, dim=-1),  # n views, no copy
    concat=lambda parts: torch.cat(parts, dim=-1),
)


# --- layout and loops ---------------------------------------------------------


def _swap(a):
    """`(N, T, ...)` <-> `(T, N, ...)`, a view; or `None`."""
    return None if a is None else a.transpose(0, 1)


def _rows(a):
    """`(T, N, K)` as `(T * N, K)` rows."""
    return a.reshape(-1, a.shape[-1])


def _steps(a, T):
    """The T steps of time-major `a` as views, made at once (one op, not T
    slicings); or T `None`s for `None`."""
    return [None] * T if a is None else a.unbind(0)


def _inputs(x, masks):
    """x_t as the kernel sees it, time-major with a block of zeros in front:
    `(T + 1, N, D)`, x_t at `[t + 1]` (`[0]` is h_{-1}'s place in the
    states, see `_forward_loop`)."""
    x = rnn_math.sequence_inputs(xp, x, masks)
    N, T, D = x.shape
    xs = x.new_empty((T + 1, N, D))
    xs[0] = 0  # any finite value: its projection is overwritten by h_{-1}
    xs[1:] = _swap(x)
    return xs


def _column_mask(mask):
    """A `(N, T)` mask as time-major `(T, N, 1)`: `m[t]` selects whole rows;
    or None."""
    return None if mask is None else mask.T[:, :, None]


def _forward_loop(xs, h0, kernel, recurrent_kernel, bias, m, r, options):
    """The recurrence over `xs`, as made by `_inputs`.

    Returns `(states, outputs, pre, o_last, h_last)`, time-major: `states
    (T + 1, N, H)` (h_{-1}, then every h_t); `outputs (T, N, H)` only with
    a mask and `options.return_sequences` (else `None`: without a mask
    they are `states[1:]`); `pre (T, N, H)` only for a callable activation;
    the last output and state `(N, H)`.
    """
    T, N = xs.shape[0] - 1, xs.shape[1]
    states = rnn_math.input_projection(xp, _rows(xs), kernel, bias)
    states = states.view(T + 1, N, -1)  # x_t Wx + b at [t + 1]
    states[0] = h0
    hs = states[1:]
    keep_outputs = m is not None and options.return_sequences
    outputs = torch.empty_like(hs) if keep_outputs else None
    pre = torch.empty_like(hs) if options.keeps_pre else None
    hs_t, outputs_t, pre_t = _steps(hs, T), _steps(outputs, T), _steps(pre, T)
    m_t = _steps(m, T)
    h, o = h0, None if m is None else torch.zeros_like(h0)
    for t in range(T):
        h, o, a = rnn_math.step_forward(
            xp, hs_t[t], h, o, recurrent_kernel, r, m_t[t], options
        )  # reads x_t Wx + b at states[t + 1] ...
        hs_t[t].copy_(h)  # ... then writes h_t there
        if keep_outputs:
            outputs_t[t].copy_(o)
        if pre is not None:
            pre_t[t].copy_(a)
    return states, outputs, pre, o, h


def _backward_loop(
    d_outputs, d_last, dh_last, states, pre, recurrent_kernel, m, r, options
):
    """The reverse recurrence, the book's `TimeRNN.backward` without the
    weight gradients.

    `d_outputs` (batch-major `(N, T, H)`, dL/do_t for every t), `d_last`
    (`(N, H)`, dL/do_{T-1} alone) and `dh_last` may each be `None`. Returns
    `(dts, dh0)`: the book's `dt` of every step, time-major `(T, N, H)`,
    and dL/dh_{-1}.
    """
    hs = states[1:]
    T = hs.shape[0]
    if d_outputs is None and d_last is None:
        d_last = torch.zeros_like(hs[0])  # no output gradient: zeros
    if dh_last is None:
        dh_last = torch.zeros_like(hs[0])
    if m is None:  # o_{T-1} = h_{T-1}: one gradient
        dh = dh_last if d_last is None else dh_last + d_last
        do = None
    else:  # o_{T-1} may be an earlier step's: carried apart as `do`
        dh, do = dh_last, d_last
    dts = torch.empty_like(hs)
    dts_t, g_t = _steps(dts, T), _steps(_swap(d_outputs), T)
    hs_t, pre_t, m_t = _steps(hs, T), _steps(pre, T), _steps(m, T)
    for t in reversed(range(T)):
        dt, dh, do = rnn_math.step_backward(
            xp, dh, g_t[t], do, hs_t[t], pre_t[t], recurrent_kernel, r,
            m_t[t], options,
        )  # fmt: skip
        # y_t is h_t where the step is unmasked; masked, dt is 0.
        dts_t[t].copy_(dt)
    return dts, dh


def _backward(
    d_outputs, d_last, dh_last, xs, kernel, recurrent_kernel, states, pre,
    masks, options, needs_dx=True,
):  # fmt: skip
    """`backward` on the time-major tensors of `_forward_loop`."""
    r = masks.recurrent_dropout
    dts, dh0 = _backward_loop(
        d_outputs, d_last, dh_last, states, pre, recurrent_kernel,
        _column_mask(masks.mask), r, options,
    )  # fmt: skip
    # The sums over t of the book's per-step weight gradients, hoisted:
    h_in = rnn_math.recurrent_input(states[:-1], r)  # h_{t-1} into Wh
    # Wx with no rows when dx is not wanted: dx = dt Wx^T has no columns.
    Wx = kernel if needs_dx else kernel[:0]
    dx, dWx, dWh, db = rnn_math.weight_gradients(
        xp, _rows(xs[1:]), _rows(h_in), _rows(dts), Wx
    )
    if not needs_dx:
        return None, dh0, dWx, dWh, db
    dx = rnn_math.sequence_inputs_backward(
        _swap(dx.view(dts.shape[:2] + (-1,))), masks
    )
    return dx, dh0, dWx, dWh, db


# --- the module's contract ----------------------------------------------------


@torch.no_grad()
def forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the book's `TimeRNN`: `ops.rnn_forward`.

    Runs without recording an autograd graph; to differentiate, use
    `scratch_rnn`.

    Args:
        x, h0, kernel, recurrent_kernel, bias: `(N, T, D)`, `(N, H)`,
            `(D, H)`, `(H, H)`, `(H,)` or `None`.
        masks: A `Masks`.
        options: An `RNNOptions` (`return_sequences` and `unroll` are
            ignored).

    Returns:
        `(outputs, hs, pre)`, `(N, T, H)` (transposed views of time-major
        buffers): `outputs` is `hs` without a mask, `pre` is `None` unless
        the activation is a callable.
    """
    options = dataclasses.replace(options, return_sequences=True)
    states, outputs, pre, _, _ = _forward_loop(
        _inputs(x, masks), h0, kernel, recurrent_kernel, bias,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    hs = _swap(states[1:])
    return hs if outputs is None else _swap(outputs), hs, _swap(pre)


@torch.no_grad()
def backward(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, hs, pre,
    masks, options,
):  # fmt: skip
    """Backpropagation through time: `ops.rnn_backward`.

    Args:
        d_outputs: dL/do_t for every step `(N, T, H)`, or `None`.
        d_last: dL/do_{T-1} alone `(N, H)` (the layer returned the last
            output only), or `None`. Exactly one of the two is given.
        dh_last: dL/dh_{T-1} from outside `(N, H)`, or `None` (zeros).
        x, h0, kernel, recurrent_kernel, masks, options: As given to
            `forward`.
        hs, pre: As returned by `forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, dbias `(H,)`.
    """
    states = torch.cat([h0[None], _swap(hs)])
    return _backward(
        d_outputs, d_last, dh_last, _inputs(x, masks), kernel,
        recurrent_kernel, states, _swap(pre), masks, options,
    )  # fmt: skip


class _ScratchRNN(torch.autograd.Function):
    """`forward` (the outputs chosen by `return_sequences`, and the final
    state) whose gradient is `backward`."""

    @staticmethod
    def forward(ctx, x, h0, kernel, recurrent_kernel, bias, *masks_options):
        *masks, options = masks_options
        masks = Masks(*masks)
        xs = _inputs(x, masks)
        states, outputs, pre, o_last, h_last = _forward_loop(
            xs, h0, kernel, recurrent_kernel, bias, _column_mask(masks.mask),
            masks.recurrent_dropout, options,
        )  # fmt: skip
        if not options.return_sequences:
            out = o_last
        else:
            out = _swap(states[1:] if outputs is None else outputs)
        if out is h_last:  # unmasked, last output only: o_{T-1} = h_{T-1}
            out = states[-1]  # two outputs must be two tensors
        ctx.options = options
        ctx.set_materialize_grads(False)  # an unused output's gradient: None
        ctx.save_for_backward(xs, kernel, recurrent_kernel, states, pre, *masks)
        return out, h_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh_last):
        xs, kernel, recurrent_kernel, states, pre, *masks = ctx.saved_tensors
        if ctx.options.return_sequences:
            d_outputs, d_last = d_out, None
        else:
            d_outputs, d_last = None, d_out
        needs = ctx.needs_input_grad
        grads = _backward(
            d_outputs, d_last, dh_last, xs, kernel, recurrent_kernel, states,
            pre, Masks(*masks), ctx.options, needs_dx=needs[0],
        )  # fmt: skip
        grads = [g if needed else None for g, needed in zip(grads, needs)]
        return (*grads, None, None, None, None)  # no gradient for the masks


def scratch_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`forward` whose gradient is `backward`, by a `torch.autograd.Function`.

    Args: as `forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last)`: every output `(N, T, H)` (a transposed view, as
        SimpleRNN's), or the last output `(N, H)` (with a mask, it may
        differ from `h_last`); and the final state `(N, H)`. The masks are
        constants: they get no gradient.
    """
    return _ScratchRNN.apply(
        x, h0, kernel, recurrent_kernel, bias, *Masks(*masks), options
    )


class _RNNStep(torch.autograd.Function):
    """One step of the book's `RNN`: `RNN.forward` and `RNN.backward`."""

    @staticmethod
    def forward(ctx, x, h_prev, kernel, recurrent_kernel, bias, options):
        h_next, a = rnn_math.rnn_step_forward(
            xp, x, h_prev, kernel, recurrent_kernel, bias, options
        )
        ctx.options = options
        ctx.save_for_backward(x, h_prev, kernel, recurrent_kernel, h_next, a)
        return h_next

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_next):
        x, h_prev, kernel, recurrent_kernel, h_next, a = ctx.saved_tensors
        grads = rnn_math.rnn_step_backward(
            xp, dh_next, x, h_prev, h_next, a, kernel, recurrent_kernel,
            ctx.options,
        )  # fmt: skip
        needs = ctx.needs_input_grad
        return (*(g if n else None for g, n in zip(grads, needs)), None)


def rnn_step(x, h_prev, kernel, recurrent_kernel, bias, options):
    """One step of the book's `RNN`, with its handwritten backward.

    Args:
        x, h_prev: `x_t (N, D)`, `h_{t-1} (N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, H)`, `Wh (H, H)`, `b (H,)`
            or `None`.
        options: An `RNNOptions`; only `activation` is used.

    Returns:
        `h_next = act(x Wx + h_prev Wh + b)`, shape `(N, H)`.
    """
    return _RNNStep.apply(x, h_prev, kernel, recurrent_kernel, bias, options)


# --- the LSTM -----------------------------------------------------------------
# The same loops, layout and glue for the book's LSTM (`lstm_math`). The
# loops carry (h, c) forward and (dh, dc) backward. Hoisted only, for now:
# the input projection `x_t Wx + b` of every step is one matmul over the
# N * T rows before the forward loop, and `dx`, `dWx`, `dWh`, `db` are
# single matmuls over the N * T rows after the backward loop. No per-step
# variant as TensorFlow's has: not measured yet on this backend. Hoisted,
# a float32 forward and backward took 0.4 to 0.9 times as long as
# keras.layers.LSTM's on this backend, at (N, T, D, H) = (32, 20, 16, 32),
# (64, 50, 32, 64) and (128, 50, 64, 256) (one run, interleaved medians of
# 7, on a loaded 2-core machine: rough).
#
# Time-major again: `hs` and `cs` are `(T + 1, N, H)` buffers, `[0]` the
# initial state and `[t + 1]` the state after step t, so `cs[t]` and
# `cs[t + 1]` are c_{t-1} and c_t, and `hs[:-1]` the h_{t-1} that the weight
# gradients pair with dA_t, all views. The gates `(T, N, 4H)` are written
# over the input projection: step t reads `x_t Wx + b` from `gates[t]`, then
# writes its gates i, f, g, o there.


def _row_masks(m, T):
    """A dropout mask `(N, K)` or `(N, 4, K)` (per gate) for the `T * N`
    time-major rows of a sequence (row t * N + n is sequence n), or `None`.
    A copy: T repeats of the same N rows have no single row stride."""
    if m is None:
        return None
    return m.expand(T, *m.shape).reshape(-1, *m.shape[1:])


def _lstm_inputs(x, masks):
    """x_t as the kernel sees it, time-major `(T, N, D)`: padding zeroed and
    a single input dropout mask applied (`rnn_math.sequence_inputs`, as the
    RNN); a per-gate mask `(N, 4, D)` is left to the projection."""
    if lstm_math.per_gate(masks.input_dropout):
        masks = masks._replace(input_dropout=None)
    return _swap(rnn_math.sequence_inputs(xp, x, masks)).contiguous()


def _per_gate_rows(masks, T):
    """The per-gate input dropout masks of the `T * N` rows, or `None` (no
    mask, or a single one, already applied by `_lstm_inputs`)."""
    m = masks.input_dropout
    return _row_masks(m, T) if lstm_math.per_gate(m) else None


def _lstm_forward_loop(xs, h0, c0, kernel, recurrent_kernel, bias, masks,
                       options):  # fmt: skip
    """The recurrence over `xs`, as made by `_lstm_inputs`.

    Returns `(hs, cs, gates, outputs, pre, y_last, h_last, c_last)`,
    time-major: `hs`, `cs` `(T + 1, N, H)` (the initial states, then every
    step's); `gates (T, N, 4H)`; `outputs (T, N, H)` only with a mask and
    `options.return_sequences` (without a mask they are `hs[1:]`); `pre
    (T, N, 4H)` only for callable activations; the last output and states
    `(N, H)`.
    """
    T, N = xs.shape[:2]
    m, r = _column_mask(masks.mask), masks.recurrent_dropout
    gates = lstm_math.input_projection(
        xp, _rows(xs), kernel, bias, _per_gate_rows(masks, T)
    )  # a new tensor: x_t Wx + b at [t], overwritten by the gates
    gates = gates.view(T, N, -1)
    hs = h0.new_empty((T + 1,) + h0.shape)
    cs = c0.new_empty((T + 1,) + c0.shape)
    hs[0], cs[0] = h0, c0
    keep_outputs = m is not None and options.return_sequences
    outputs = h0.new_empty((T,) + h0.shape) if keep_outputs else None
    pre = torch.empty_like(gates) if options.keeps_pre else None
    gates_t, outputs_t, pre_t = (_steps(a, T) for a in (gates, outputs, pre))
    hs_t, cs_t, m_t = _steps(hs[1:], T), _steps(cs[1:], T), _steps(m, T)
    h, c, y = h0, c0, None if m is None else torch.zeros_like(h0)
    for t in range(T):
        h, c, y, g, A = lstm_math.step_forward(
            xp, gates_t[t], h, c, y, recurrent_kernel, r, m_t[t], options
        )  # reads x_t Wx + b at gates[t] ...
        gates_t[t].copy_(g)  # ... then writes the gates there
        hs_t[t].copy_(h)
        cs_t[t].copy_(c)
        if keep_outputs:
            outputs_t[t].copy_(y)
        if pre is not None:
            pre_t[t].copy_(A)
    return hs, cs, gates, outputs, pre, y, h, c


def _lstm_backward_loop(d_outputs, d_last, dh_last, dc_last, cs, gates, pre,
                        recurrent_kernel, m, r, options):  # fmt: skip
    """The reverse recurrence, the book's `TimeLSTM.backward` without the
    weight gradients.

    `d_outputs` (batch-major `(N, T, H)`, dL/dy_t for every t), `d_last`
    (`(N, H)`, dL/dy_{T-1} alone), `dh_last` and `dc_last` may each be
    `None`. `cs` is time-major `(T + 1, N, H)`, c_{-1} first. Returns
    `(dAs, dh0, dc0)`: dL/dA_t of every step `(T, N, 4H)` (the four gates'
    `dt`), dL/dh_{-1} and dL/dc_{-1}.
    """
    T = gates.shape[0]
    zeros = torch.zeros_like(cs[0])
    if d_outputs is None and d_last is None:
        d_last = zeros  # no output gradient: zeros
    dh = zeros if dh_last is None else dh_last
    dc = zeros if dc_last is None else dc_last
    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh, dy_next = (dh if d_last is None else dh + d_last), None
    else:  # y_{T-1} may be an earlier step's: carried apart as `dy_next`
        dy_next = d_last
    dAs = torch.empty_like(gates)
    dAs_t, dy_t = _steps(dAs, T), _steps(_swap(d_outputs), T)
    gates_t, pre_t, m_t = _steps(gates, T), _steps(pre, T), _steps(m, T)
    cs_t = _steps(cs, T + 1)  # cs_t[t] = c_{t-1}, cs_t[t + 1] = c_t
    for t in reversed(range(T)):
        dA, dh, dc, dy_next = lstm_math.step_backward(
            xp, dh, dc, dy_t[t], dy_next, gates_t[t], cs_t[t + 1], cs_t[t],
            pre_t[t], recurrent_kernel, r, m_t[t], options,
        )  # fmt: skip
        dAs_t[t].copy_(dA)
    return dAs, dh, dc


def _lstm_backward(
    d_outputs, d_last, dh_last, dc_last, xs, h_prev, cs, gates, pre, kernel,
    recurrent_kernel, masks, options, needs_dx=True,
):  # fmt: skip
    """`lstm_backward` on time-major tensors: `xs` as `_lstm_inputs` made
    it, `h_prev (T, N, H)` the h_{t-1}, `cs`, `gates`, `pre` as
    `_lstm_forward_loop` returned them."""
    r = masks.recurrent_dropout
    dAs, dh0, dc0 = _lstm_backward_loop(
        d_outputs, d_last, dh_last, dc_last, cs, gates, pre, recurrent_kernel,
        _column_mask(masks.mask), r, options,
    )  # fmt: skip
    T = dAs.shape[0]
    # The sums over t of the book's per-step weight gradients, hoisted: the
    # rows of x_t, h_{t-1} and dA_t of every step, with their masks.
    m_rows = _per_gate_rows(masks, T)
    # Wx with no rows when dx is not wanted: dx = dA Wx^T has no columns.
    # (Not through per-gate input masks: dx is multiplied by them.)
    Wx = kernel if needs_dx or m_rows is not None else kernel[:0]
    dx, dWx, dWh, db = lstm_math.weight_gradients(
        xp, _rows(xs), _rows(h_prev), _rows(dAs), Wx, m_rows,
        _row_masks(r, T),
    )  # fmt: skip
    if not needs_dx:
        return None, dh0, dc0, dWx, dWh, db
    dx = _swap(dx.view(xs.shape))
    if m_rows is None:  # through a single input mask
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    return dx, dh0, dc0, dWx, dWh, db


@torch.no_grad()
def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the book's `TimeLSTM`: `ops.lstm_forward`.

    Runs without recording an autograd graph; to differentiate, use
    `scratch_lstm`.

    Args:
        x, h0, c0: `(N, T, D)`, `(N, H)`, `(N, H)`.
        kernel, recurrent_kernel, bias: `(D, 4H)`, `(H, 4H)`, `(4H,)` or
            `None`, gates in Keras's order i, f, g, o.
        masks: A `Masks`; the dropout masks single or per gate.
        options: An `LSTMOptions` (`return_sequences` and `unroll` are
            ignored).

    Returns:
        `(outputs, hs, cs, gates, pre)`, batch-major (transposed views of
        time-major buffers): `(N, T, H)` each but `gates` and `pre`
        `(N, T, 4H)`; `outputs` is `hs` without a mask, `pre` is `None`
        unless an activation is a callable.
    """
    options = dataclasses.replace(options, return_sequences=True)
    hs, cs, gates, outputs, pre, *_ = _lstm_forward_loop(
        _lstm_inputs(x, masks), h0, c0, kernel, recurrent_kernel, bias,
        masks, options,
    )  # fmt: skip
    hs = _swap(hs[1:])
    outputs = hs if outputs is None else _swap(outputs)
    return outputs, hs, _swap(cs[1:]), _swap(gates), _swap(pre)


@torch.no_grad()
def lstm_backward(
    d_outputs, d_last, dh_last, dc_last, x, h0, c0, kernel, recurrent_kernel,
    hs, cs, gates, pre, masks, options,
):  # fmt: skip
    """Backpropagation through time of the book's `TimeLSTM`:
    `ops.lstm_backward`.

    Args:
        d_outputs: dL/dy_t for every step `(N, T, H)`, or `None`.
        d_last: dL/dy_{T-1} alone `(N, H)` (the layer returned the last
            output only), or `None`. Exactly one of the two is given.
        dh_last, dc_last: dL/dh_{T-1}, dL/dc_{T-1} from outside `(N, H)`,
            or `None` (zeros).
        x, h0, c0, kernel, recurrent_kernel, masks, options: As given to
            `lstm_forward`.
        hs, cs, gates, pre: As returned by `lstm_forward`.

    Returns:
        `(dx, dh0, dc0, dkernel, drecurrent_kernel, dbias)`, dbias `(4H,)`.
    """
    h_prev = torch.cat([h0[None], _swap(hs)[:-1]])  # h_{t-1}, time-major
    cs = torch.cat([c0[None], _swap(cs)])
    return _lstm_backward(
        d_outputs, d_last, dh_last, dc_last, _lstm_inputs(x, masks), h_prev,
        cs, _swap(gates), _swap(pre), kernel, recurrent_kernel, masks,
        options,
    )  # fmt: skip


class _ScratchLSTM(torch.autograd.Function):
    """`lstm_forward` (the outputs chosen by `return_sequences`, and the
    final states) whose gradient is `lstm_backward`."""

    @staticmethod
    def forward(ctx, x, h0, c0, kernel, recurrent_kernel, bias,
                *masks_options):  # fmt: skip
        *masks, options = masks_options
        masks = Masks(*masks)
        xs = _lstm_inputs(x, masks)
        hs, cs, gates, outputs, pre, y_last, h_last, c_last = (
            _lstm_forward_loop(
                xs, h0, c0, kernel, recurrent_kernel, bias, masks, options
            )
        )
        if not options.return_sequences:
            out = y_last
        else:
            out = _swap(hs[1:] if outputs is None else outputs)
        if out is h_last:  # unmasked, last output only: y_{T-1} = h_{T-1}
            out = hs[-1]  # two outputs must be two tensors
        ctx.options = options
        ctx.set_materialize_grads(False)  # an unused output's gradient: None
        ctx.save_for_backward(
            xs, kernel, recurrent_kernel, hs, cs, gates, pre, *masks
        )
        return out, h_last, c_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh_last, dc_last):
        xs, kernel, recurrent_kernel, hs, cs, gates, pre, *masks = (
            ctx.saved_tensors
        )
        if ctx.options.return_sequences:
            d_outputs, d_last = d_out, None
        else:
            d_outputs, d_last = None, d_out
        needs = ctx.needs_input_grad
        grads = _lstm_backward(
            d_outputs, d_last, dh_last, dc_last, xs, hs[:-1], cs, gates, pre,
            kernel, recurrent_kernel, Masks(*masks), ctx.options,
            needs_dx=needs[0],
        )  # fmt: skip
        grads = [g if needed else None for g, needed in zip(grads, needs)]
        return (*grads, None, None, None, None)  # no gradient for the masks


def scratch_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """`lstm_forward` whose gradient is `lstm_backward`, by a
    `torch.autograd.Function`.

    Args: as `lstm_forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last, c_last)`: every output `(N, T, H)` (a transposed
        view), or the last output `(N, H)` (with a mask, the last carried
        output y, which may differ from `h_last`); and the final states
        `(N, H)`. The masks are constants: they get no gradient.
    """
    return _ScratchLSTM.apply(
        x, h0, c0, kernel, recurrent_kernel, bias, *Masks(*masks), options
    )


class _LSTMStep(torch.autograd.Function):
    """One step of the book's `LSTM`: `LSTM.forward` and `LSTM.backward`."""

    @staticmethod
    def forward(ctx, x, h_prev, c_prev, kernel, recurrent_kernel, bias, m, r,
                options):  # fmt: skip
        h_next, c_next, gates, A = lstm_math.lstm_step_forward(
            xp, x, h_prev, c_prev, kernel, recurrent_kernel, bias, m, r,
            options,
        )  # fmt: skip
        ctx.options = options
        ctx.save_for_backward(
            x, h_prev, c_prev, c_next, gates, A, kernel, recurrent_kernel, m, r
        )
        return h_next, c_next

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_next, dc_next):
        # (Materialized: an unused output's gradient comes as zeros.)
        saved = ctx.saved_tensors
        grads = lstm_math.lstm_step_backward(
            xp, dh_next, dc_next, *saved, ctx.options
        )  # (dx, dh_prev, dc_prev, dWx, dWh, db)
        needs = ctx.needs_input_grad
        grads = [g if needed else None for g, needed in zip(grads, needs)]
        return (*grads, None, None, None)  # no gradient for the masks


def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks,
              options):  # fmt: skip
    """One step of the book's `LSTM`, with its handwritten backward.

    Args:
        x, h_prev, c_prev: `x_t (N, D)`, `h_{t-1} (N, H)`, `c_{t-1} (N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, 4H)`, `Wh (H, 4H)`, `b (4H,)`
            or `None`.
        masks: A `Masks`; its dropout masks (single or per gate) are
            constants, its `mask` is not used.
        options: An `LSTMOptions`; only the activations are used.

    Returns:
        `(h_next, c_next)`, `(N, H)` each.
    """
    return _LSTMStep.apply(
        x, h_prev, c_prev, kernel, recurrent_kernel, bias,
        masks.input_dropout, masks.recurrent_dropout, options,
    )  # fmt: skip


# --- the GRU ------------------------------------------------------------------
# The same loops, layout and glue for the GRU of the book's appendix, in
# Keras's two forms (`gru_math`; `options.reset_after`). The loops carry h
# forward and dh backward. Hoisted, as the LSTM: the input projection
# `x_t Wx + b_x` of every step is one matmul over the N * T rows before the
# forward loop, and `dx`, `dWx`, `dWh`, `db` are single matmuls over the
# N * T rows after the backward loop (`gru_math.weight_gradients`). Inputs
# and dropout masks go through the LSTM's helpers (`_lstm_inputs`,
# `_per_gate_rows`, `_row_masks`), which take the GRU's per-gate masks
# `(N, 3, K)` as they take the LSTM's `(N, 4, K)`. Not timed yet against
# keras.layers.GRU on this backend.
#
# Time-major: `hs` is a `(T + 1, N, H)` buffer, `hs[0] = h_{-1}` and
# `hs[t + 1] = h_t`, so `hs[:-1]` holds the h_{t-1} that the weight
# gradients pair with dX_t, a view. What the backward needs of each step
# (`saved`: z, r, hh, and R_h with `reset_after`) is `(T, N, 3H)` or
# `(T, N, 4H)`; without `reset_after` it is as wide as the input projection
# and written over it, as the LSTM's gates: step t reads `x_t Wx + b_x`
# from `saved[t]`, then writes z, r, hh there.


def _gru_bias_gradient(db_x, db_h, use_bias, options):
    """dL/dbias shaped like Keras's bias: `(2, 3H)` with `reset_after`
    (rows b_x, b_h), else `(3H,)`; `None` without a bias."""
    if not use_bias:
        return None
    return torch.stack([db_x, db_h]) if options.reset_after else db_x


def _gru_forward_loop(xs, h0, kernel, recurrent_kernel, bias, masks, options):
    """The recurrence over `xs`, as made by `_lstm_inputs`.

    Returns `(hs, saved, outputs, pre, y_last, h_last)`, time-major: `hs
    (T + 1, N, H)` (h_{-1}, then every h_t); `saved (T, N, 3H or 4H)`;
    `outputs (T, N, H)` only with a mask and `options.return_sequences`
    (without a mask they are `hs[1:]`); `pre (T, N, 3H)` only for callable
    activations; the last output and state `(N, H)`.
    """
    T, N = xs.shape[:2]
    H = h0.shape[-1]
    m, r = _column_mask(masks.mask), masks.recurrent_dropout
    b_x, b_h = gru_math.split_bias(bias, options)
    X = gru_math.input_projection(
        xp, _rows(xs), kernel, b_x, _per_gate_rows(masks, T)
    )  # a new tensor: x_t Wx + b_x
    X = X.view(T, N, -1)
    width = (4 if options.reset_after else 3) * H
    # Without reset_after, z, r, hh are written over x_t Wx + b_x.
    saved = X if X.shape[-1] == width else X.new_empty((T, N, width))
    hs = h0.new_empty((T + 1,) + h0.shape)
    hs[0] = h0
    keep_outputs = m is not None and options.return_sequences
    outputs = h0.new_empty((T,) + h0.shape) if keep_outputs else None
    pre = torch.empty_like(X) if options.keeps_pre else None
    X_t, saved_t = _steps(X, T), _steps(saved, T)
    outputs_t, pre_t = _steps(outputs, T), _steps(pre, T)
    hs_t, m_t = _steps(hs[1:], T), _steps(m, T)
    h, y = h0, None if m is None else torch.zeros_like(h0)
    for t in range(T):
        h, y, s, A = gru_math.step_forward(
            xp, X_t[t], h, y, recurrent_kernel, b_h, r, m_t[t], options
        )  # reads x_t Wx + b_x at X[t] ...
        saved_t[t].copy_(s)  # ... then (maybe over it) writes z, r, hh
        hs_t[t].copy_(h)
        if keep_outputs:
            outputs_t[t].copy_(y)
        if pre is not None:
            pre_t[t].copy_(A)
    return hs, saved, outputs, pre, y, h


def _gru_backward_loop(d_outputs, d_last, dh_last, h_prev, saved, pre,
                       recurrent_kernel, m, r, options):  # fmt: skip
    """The reverse recurrence, without the weight gradients.

    `d_outputs` (batch-major `(N, T, H)`, dL/dy_t for every t), `d_last`
    (`(N, H)`, dL/dy_{T-1} alone) and `dh_last` may each be `None`.
    `h_prev` is time-major `(T, N, H)`, the h_{t-1}. Returns `(dXs, dh0)`:
    dL/dX_t of every step `(T, N, 3H)` (the gates' `dt`, X_t = x_t Wx +
    b_x) and dL/dh_{-1}.
    """
    T, N, H = h_prev.shape
    zeros = torch.zeros_like(h_prev[0])
    if d_outputs is None and d_last is None:
        d_last = zeros  # no output gradient: zeros
    dh = zeros if dh_last is None else dh_last
    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh, dy_next = (dh if d_last is None else dh + d_last), None
    else:  # y_{T-1} may be an earlier step's: carried apart as `dy_next`
        dy_next = d_last
    dXs = h_prev.new_empty((T, N, 3 * H))
    dXs_t, dy_t = _steps(dXs, T), _steps(_swap(d_outputs), T)
    saved_t, pre_t, m_t = _steps(saved, T), _steps(pre, T), _steps(m, T)
    h_prev_t = _steps(h_prev, T)
    for t in reversed(range(T)):
        dX, dh, dy_next = gru_math.step_backward(
            xp, dh, dy_t[t], dy_next, saved_t[t], h_prev_t[t], pre_t[t],
            recurrent_kernel, r, m_t[t], options,
        )  # fmt: skip
        dXs_t[t].copy_(dX)
    return dXs, dh


def _gru_backward(
    d_outputs, d_last, dh_last, xs, h_prev, saved, pre, kernel,
    recurrent_kernel, use_bias, masks, options, needs_dx=True,
):  # fmt: skip
    """`gru_backward` on time-major tensors: `xs` as `_lstm_inputs` made
    it, `h_prev (T, N, H)` the h_{t-1}, `saved`, `pre` as
    `_gru_forward_loop` returned them."""
    r = masks.recurrent_dropout
    dXs, dh0 = _gru_backward_loop(
        d_outputs, d_last, dh_last, h_prev, saved, pre, recurrent_kernel,
        _column_mask(masks.mask), r, options,
    )  # fmt: skip
    T = dXs.shape[0]
    # The sums over t of the per-step weight gradients, hoisted: the rows
    # of x_t, h_{t-1}, dX_t and the saved gates of every step, with their
    # masks.
    m_rows = _per_gate_rows(masks, T)
    # Wx with no rows when dx is not wanted: dx = dX Wx^T has no columns.
    # (Not through per-gate input masks: dx is multiplied by them.)
    Wx = kernel if needs_dx or m_rows is not None else kernel[:0]
    dx, dWx, dWh, db_x, db_h = gru_math.weight_gradients(
        xp, _rows(xs), _rows(h_prev), _rows(dXs), _rows(saved), Wx, m_rows,
        _row_masks(r, T), options,
    )  # fmt: skip
    db = _gru_bias_gradient(db_x, db_h, use_bias, options)
    if not needs_dx:
        return None, dh0, dWx, dWh, db
    dx = _swap(dx.view(xs.shape))
    if m_rows is None:  # through a single input mask
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    return dx, dh0, dWx, dWh, db


@torch.no_grad()
def gru_forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the GRU: `ops.gru_forward`.

    Runs without recording an autograd graph; to differentiate, use
    `scratch_gru`.

    Args:
        x, h0: `(N, T, D)`, `(N, H)`.
        kernel, recurrent_kernel: `(D, 3H)`, `(H, 3H)`, gates in Keras's
            order z, r, h.
        bias: `(2, 3H)` with `options.reset_after`, else `(3H,)`; or
            `None`.
        masks: A `Masks`; the dropout masks single or per gate.
        options: A `GRUOptions` (`return_sequences` and `unroll` are
            ignored).

    Returns:
        `(outputs, hs, saved, pre)`, batch-major (transposed views of
        time-major buffers): `outputs`, `hs` `(N, T, H)` (`outputs` is `hs`
        without a mask); `saved` `(N, T, 4H)` with `reset_after`, else
        `(N, T, 3H)`; `pre` `(N, T, 3H)`, `None` unless an activation is a
        callable.
    """
    options = dataclasses.replace(options, return_sequences=True)
    hs, saved, outputs, pre, *_ = _gru_forward_loop(
        _lstm_inputs(x, masks), h0, kernel, recurrent_kernel, bias, masks,
        options,
    )  # fmt: skip
    hs = _swap(hs[1:])
    outputs = hs if outputs is None else _swap(outputs)
    return outputs, hs, _swap(saved), _swap(pre)


@torch.no_grad()
def gru_backward(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, bias, hs,
    saved, pre, masks, options,
):  # fmt: skip
    """Backpropagation through time of the GRU: `ops.gru_backward`.

    Args:
        d_outputs: dL/dy_t for every step `(N, T, H)`, or `None`.
        d_last: dL/dy_{T-1} alone `(N, H)` (the layer returned the last
            output only), or `None`. Exactly one of the two is given.
        dh_last: dL/dh_{T-1} from outside `(N, H)`, or `None` (zeros).
        x, h0, kernel, recurrent_kernel, masks, options: As given to
            `gru_forward`; `bias` only tells whether there is one.
        hs, saved, pre: As returned by `gru_forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, `dbias` shaped like
        `bias` (`None` without one).
    """
    h_prev = torch.cat([h0[None], _swap(hs)[:-1]])  # h_{t-1}, time-major
    return _gru_backward(
        d_outputs, d_last, dh_last, _lstm_inputs(x, masks), h_prev,
        _swap(saved), _swap(pre), kernel, recurrent_kernel, bias is not None,
        masks, options,
    )  # fmt: skip


class _ScratchGRU(torch.autograd.Function):
    """`gru_forward` (the outputs chosen by `return_sequences`, and the
    final state) whose gradient is `gru_backward`."""

    @staticmethod
    def forward(ctx, x, h0, kernel, recurrent_kernel, bias, *masks_options):
        *masks, options = masks_options
        masks = Masks(*masks)
        xs = _lstm_inputs(x, masks)
        hs, saved, outputs, pre, y_last, h_last = _gru_forward_loop(
            xs, h0, kernel, recurrent_kernel, bias, masks, options
        )
        if not options.return_sequences:
            out = y_last
        else:
            out = _swap(hs[1:] if outputs is None else outputs)
        if out is h_last:  # unmasked, last output only: y_{T-1} = h_{T-1}
            out = hs[-1]  # two outputs must be two tensors
        ctx.options = options
        ctx.use_bias = bias is not None
        ctx.set_materialize_grads(False)  # an unused output's gradient: None
        ctx.save_for_backward(xs, kernel, recurrent_kernel, hs, saved, pre,
                              *masks)  # fmt: skip
        return out, h_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh_last):
        xs, kernel, recurrent_kernel, hs, saved, pre, *masks = ctx.saved_tensors
        if ctx.options.return_sequences:
            d_outputs, d_last = d_out, None
        else:
            d_outputs, d_last = None, d_out
        needs = ctx.needs_input_grad
        grads = _gru_backward(
            d_outputs, d_last, dh_last, xs, hs[:-1], saved, pre, kernel,
            recurrent_kernel, ctx.use_bias, Masks(*masks), ctx.options,
            needs_dx=needs[0],
        )  # fmt: skip
        grads = [g if needed else None for g, needed in zip(grads, needs)]
        return (*grads, None, None, None, None)  # no gradient for the masks


def scratch_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`gru_forward` whose gradient is `gru_backward`, by a
    `torch.autograd.Function`.

    Args: as `gru_forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last)`: every output `(N, T, H)` (a transposed view), or
        the last output `(N, H)` (with a mask, the last carried output y,
        which may differ from `h_last`); and the final state `(N, H)`. The
        masks are constants: they get no gradient.
    """
    return _ScratchGRU.apply(
        x, h0, kernel, recurrent_kernel, bias, *Masks(*masks), options
    )


class _GRUStep(torch.autograd.Function):
    """One GRU step, forward and handwritten backward."""

    @staticmethod
    def forward(ctx, x, h_prev, kernel, recurrent_kernel, bias, m, r,
                options):  # fmt: skip
        h_next, saved, A = gru_math.gru_step_forward(
            xp, x, h_prev, kernel, recurrent_kernel, bias, m, r, options
        )
        ctx.options = options
        ctx.use_bias = bias is not None
        ctx.save_for_backward(
            x, h_prev, saved, A, kernel, recurrent_kernel, m, r
        )
        return h_next

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_next):
        x, h_prev, saved, A, kernel, recurrent_kernel, m, r = ctx.saved_tensors
        # (dx, dh_prev, dWx, dWh) and (db_x, db_h):
        *grads, db_x, db_h = gru_math.gru_step_backward(
            xp, dh_next, x, h_prev, saved, A, kernel, recurrent_kernel, m, r,
            ctx.options,
        )  # fmt: skip
        grads.append(_gru_bias_gradient(db_x, db_h, ctx.use_bias, ctx.options))
        needs = ctx.needs_input_grad
        grads = [g if needed else None for g, needed in zip(grads, needs)]
        return (*grads, None, None, None)  # no gradient for the masks


def gru_step(x, h_prev, kernel, recurrent_kernel, bias, masks, options):
    """One GRU step (Keras's form), with its handwritten backward.

    Args:
        x, h_prev: `x_t (N, D)`, `h_{t-1} (N, H)`.
        kernel, recurrent_kernel, bias: As in `gru_forward`.
        masks: A `Masks`; its dropout masks (single or per gate) are
            constants, its `mask` is not used.
        options: A `GRUOptions`; only the activations and `reset_after` are
            used.

    Returns:
        `h_next`, shape `(N, H)`.
    """
    return _GRUStep.apply(
        x, h_prev, kernel, recurrent_kernel, bias, masks.input_dropout,
        masks.recurrent_dropout, options,
    )  # fmt: skip
