"""The book's RNN as JAX ops, with a handwritten backward.

`forward` runs the recurrence of `TimeRNN.forward` over a whole sequence,
`backward` is `TimeRNN.backward`: backpropagation through time, walking the
steps in reverse order. `scratch_rnn` joins the two with `jax.custom_vjp`,
so JAX never differentiates through the loop. `rnn_step` is the book's
single `RNN` step with its own backward. The equations are those of
`rnn_math`, computed with the primitives `xp`; this module has only the
loops and the glue.

The loops are `jax.lax.scan`s (a Python loop over the static T with
`options.unroll`), forward carrying `h` (and the output `o` when masked),
backward carrying `dh` (and `do`). They run over time-major `(T, N, .)`
views; everything given or returned is batch-major `(N, T, .)`, as Keras
has it. The rest is done one of two ways, chosen by the batch size
(`PER_STEP_BATCH`):
- hoisted (small N): the input projection `x_t Wx + b` of every step as one
  matmul over the N * T rows before the forward loop, and the weight
  gradients `dWx`, `dWh`, `db` and `dx` as single matmuls over the N * T
  rows after the backward loop, which then carries only the recurrence;
- per step (large N): as the book's `RNN.forward` and `RNN.backward` write
  them, each step's matmuls inside the loops, the weight gradients summed
  in the backward loop's carry.

Works eagerly and under `jax.jit`, in any float dtype.

The book's LSTM (`lstm_math`) has the same four, `lstm_forward`,
`lstm_backward`, `scratch_lstm` and `lstm_step`, in the last section: the
same loops carrying (h, c) and (dh, dc); the input projection per step,
the weight gradients hoisted.

The GRU (`gru_math`, both of Keras's forms) has `gru_forward`,
`gru_backward`, `scratch_gru` and `gru_step`, in the section after: the
loops carry h and dh; the input projection and the weight gradients are
hoisted.
"""

import dataclasses
import functools
import types

import jax
import jax.numpy as jnp
from jax import lax

from keras_scratch_rnn.ops import gru_math, lstm_math, rnn_math
from keras_scratch_rnn.ops.rnn_math import Masks


def _local_vjp(fn, a, dy):
    """dy^T dfn/da at `a`: the gradient of `fn` alone."""
    _, vjp = jax.vjp(fn, a)
    return vjp(dy)[0]


xp = types.SimpleNamespace(
    matmul=jnp.matmul,
    matmul_tb=lambda a, b: jnp.matmul(a, b.T),  # a b^T, 2-D
    matmul_ta=lambda a, b: jnp.matmul(a.T, b),  # a^T b, 2-D
    where=jnp.where,
    zeros_like=jnp.zeros_like,
    sum0=lambda a: jnp.sum(a, axis=0),
    tanh=jnp.tanh,
    sigmoid=jax.nn.sigmoid,
    relu=jax.nn.relu,
    local_vjp=_local_vjp,
    split=lambda a, n: jnp.split(a, n, axis=-1),  # n equal parts (LSTM)
    concat=lambda parts: jnp.concatenate(parts, axis=-1),  # (LSTM)
)


# --- layout and loops ---------------------------------------------------------


def _time_major(a):
    """`(N, T, ...)` -> `(T, N, ...)` (and back), or `None`."""
    return None if a is None else jnp.swapaxes(a, 0, 1)


def _rows(a):
    """`(T, N, K)` or `(N, T, K)` as `(T * N, K)` rows."""
    return a.reshape(-1, a.shape[-1])


def _column_mask(mask):
    """A `(N, T)` mask as `(T, N, 1)`: `m[t]` selects whole rows; or None."""
    return None if mask is None else _time_major(mask)[:, :, None]


def _scan(step, carry, xs, unroll, reverse=False):
    """`lax.scan(step, carry, xs, reverse=reverse)`; with `unroll`, the same
    as a Python loop over the static T: `carry, y = step(carry, xs[t])`.

    Returns the last carry and the `y`s stacked along a new first axis.
    """
    if not unroll:
        return lax.scan(step, carry, xs, reverse=reverse)
    T = jax.tree.leaves(xs)[0].shape[0]
    ys = [None] * T
    for t in reversed(range(T)) if reverse else range(T):
        carry, ys[t] = step(carry, jax.tree.map(lambda a, t=t: a[t], xs))
    return carry, jax.tree.map(lambda *y: jnp.stack(y), *ys)


# From this many batch rows N on, the input projection and the weight
# gradients are done step by step inside the loops; below, hoisted out of
# them. Measured on a 2-core CPU, a training step `jax.jit(jax.grad(loss))`
# at T = 200, D = 32 (CPU time, one XLA thread): N = 256, H = 32 took 17 ms
# per step, 24 ms hoisted; N = 32, H = 256 took 70 ms per step, 51 ms
# hoisted; N = 32, H = 32 the same either way. Both ways give the same
# results up to rounding.
PER_STEP_BATCH = 128


def _per_step(N):
    """Whether the loops over a batch of N rows do the per-step matmuls."""
    return N >= PER_STEP_BATCH


def _forward_loop(xs, h0, kernel, recurrent_kernel, bias, m, r, options):
    """The recurrence over `xs (T, N, D)`, x_t as the kernel sees it.

    Returns `(hs, outputs, pre, o_last)`, time-major `(T, N, H)`: `outputs`
    only with a mask and `options.return_sequences` (else `None`: without a
    mask they are `hs`), `pre` only for a callable activation; `o_last` is
    the last output `(N, H)`.
    """
    per_step = _per_step(xs.shape[1])
    if not per_step:  # x_t Wx + b of every t, before the loop
        xw = rnn_math.input_projection(xp, _rows(xs), kernel, bias)
        xs = xw.reshape(xs.shape[:2] + xw.shape[-1:])
    keep_outputs = m is not None and options.return_sequences

    def step(carry, inputs):
        h_prev, o_prev = carry
        xw_t, m_t = inputs
        if per_step:
            xw_t = rnn_math.input_projection(xp, xw_t, kernel, bias)
        h, o, a = rnn_math.step_forward(
            xp, xw_t, h_prev, o_prev, recurrent_kernel, r, m_t, options
        )
        if m_t is None:
            o = None  # o_t = h_t
        ys = (h, o if keep_outputs else None, a if options.keeps_pre else None)
        return (h, o), ys

    o0 = None if m is None else jnp.zeros_like(h0)  # o_t is carried if masked
    (h_last, o_last), (hs, outputs, pre) = _scan(
        step, (h0, o0), (xs, m), options.unroll
    )
    return hs, outputs, pre, h_last if m is None else o_last


def _backward_loop(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, hs, pre, m,
    r, options,
):  # fmt: skip
    """The reverse recurrence, time-major; the book's `TimeRNN.backward`.

    Takes `x (N, T, D)` as the kernel saw it, batch-major, and the rest
    time-major. Either `d_outputs (T, N, H)`, dL/do_t for every t, or
    `d_last (N, H)`, dL/do_{T-1} alone, is `None`. Returns
    `(dx, dh0, dWx, dWh, db)`, with `dx (N, T, D)` the gradient of x.
    """
    per_step = _per_step(x.shape[0])
    h_prev = jnp.concatenate([h0[None], hs[:-1]])  # h_{t-1} of every t
    h_in = rnn_math.recurrent_input(h_prev, r)  # as it entered Wh

    def step(carry, inputs):
        dh, do, sums = carry  # dL/dh_t from step t+1; masked: dL/do_t too
        g, y_t, a_t, m_t, x_t, h_in_t = inputs
        dt, dh_prev, do_prev = rnn_math.step_backward(
            xp, dh, g, do, y_t, a_t, recurrent_kernel, r, m_t, options
        )
        if not per_step:
            return (dh_prev, do_prev, sums), dt
        dx_t, *grads = rnn_math.weight_gradients(xp, x_t, h_in_t, dt, kernel)
        sums = tuple(s + d for s, d in zip(sums, grads))  # dWx, dWh, db
        return (dh_prev, do_prev, sums), dx_t

    if m is None:  # o_{T-1} = h_{T-1}: one gradient
        dh = dh_last if d_last is None else dh_last + d_last
        do = None
    else:
        dh = dh_last
        do = jnp.zeros_like(dh_last) if d_last is None else d_last
    if per_step:
        sums = (kernel, recurrent_kernel, kernel[0])
        sums = tuple(jnp.zeros_like(s) for s in sums)
        inputs = (d_outputs, hs, pre, m, _time_major(x), h_in)
    else:
        sums, inputs = (), (d_outputs, hs, pre, m, None, None)
    (dh0, _, sums), ys = _scan(
        step, (dh, do, sums), inputs, options.unroll, reverse=True
    )
    if per_step:
        return (_time_major(ys), dh0, *sums)
    # The sums over t of the book's per-step weight gradients, hoisted; ys
    # is dts, the book's dt of every step. Over batch-major rows: XLA's
    # matmul of the time-major ones ran up to twice as long.
    dts, h_in = _time_major(ys), _time_major(h_in)
    dx, dWx, dWh, db = rnn_math.weight_gradients(
        xp, _rows(x), _rows(h_in), _rows(dts), kernel
    )
    return dx.reshape(x.shape), dh0, dWx, dWh, db


def _seen(x, masks):
    """x_t as the kernel sees it, `(N, T, D)`."""
    return rnn_math.sequence_inputs(xp, x, masks)


# --- the module's contract ----------------------------------------------------


def forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the book's `TimeRNN`: `ops.rnn_forward`.

    Args:
        x, h0, kernel, recurrent_kernel, bias: `(N, T, D)`, `(N, H)`,
            `(D, H)`, `(H, H)`, `(H,)` or `None`.
        masks: A `Masks`.
        options: An `RNNOptions` (`return_sequences` is ignored).

    Returns:
        `(outputs, hs, pre)`, batch-major `(N, T, H)`: `outputs` is `hs`
        without a mask, `pre` is `None` unless the activation is a callable.
    """
    options = dataclasses.replace(options, return_sequences=True)
    hs, outputs, pre, _ = _forward_loop(
        _time_major(_seen(x, masks)), h0, kernel, recurrent_kernel, bias,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    hs, pre = _time_major(hs), _time_major(pre)
    outputs = hs if outputs is None else _time_major(outputs)
    return outputs, hs, pre


def backward(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, hs, pre,
    masks, options,
):  # fmt: skip
    """Backpropagation through time: `ops.rnn_backward`.

    Args:
        d_outputs: dL/do_t for every step `(N, T, H)`, or `None`.
        d_last: dL/do_{T-1} alone `(N, H)` (the layer returned the last
            output only), or `None`. Exactly one of the two is given.
        dh_last: dL/dh_{T-1} from outside `(N, H)`.
        x, h0, kernel, recurrent_kernel, masks, options: As given to
            `forward`.
        hs, pre: As returned by `forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, dbias `(H,)`.
    """
    dx, dh0, dWx, dWh, db = _backward_loop(
        _time_major(d_outputs), d_last, dh_last, _seen(x, masks), h0,
        kernel, recurrent_kernel, _time_major(hs), _time_major(pre),
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    dx = rnn_math.sequence_inputs_backward(dx, masks)
    return dx, dh0, dWx, dWh, db


def scratch_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`forward` whose gradient is `backward`, by `jax.custom_vjp`.

    Args: as `forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last)`: every output `(N, T, H)`, or the last one `(N, H)`
        (with a mask, the last unmasked step's output, or zeros if the last
        step is masked and `zero_output_for_mask`); and the final state
        `(N, H)`. The masks get no gradient (zeros).
    """
    return _scratch_rnn(
        x, h0, kernel, recurrent_kernel, bias, Masks(*masks), options
    )


# The masks are ordinary (differentiable) arguments whose gradient is
# `None`: arrays among `nondiff_argnums` fail under `jax.jit`.
@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _scratch_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    out, _ = _scratch_rnn_fwd(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )
    return out


def _scratch_rnn_fwd(x, h0, kernel, recurrent_kernel, bias, masks, options):
    hs, outputs, pre, o_last = _forward_loop(
        _time_major(_seen(x, masks)), h0, kernel, recurrent_kernel, bias,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    if not options.return_sequences:
        out = o_last
    else:
        out = _time_major(hs if outputs is None else outputs)
    # hs and pre stay time-major for the backward; x is recomputed there.
    residuals = (x, h0, kernel, recurrent_kernel, bias, hs, pre, masks)
    return (out, hs[-1]), residuals


def _scratch_rnn_bwd(options, residuals, cotangents):
    x, h0, kernel, recurrent_kernel, bias, hs, pre, masks = residuals
    d_out, dh_last = cotangents
    if options.return_sequences:
        d_outputs, d_last = _time_major(d_out), None
    else:
        d_outputs, d_last = None, d_out
    dx, dh0, dWx, dWh, db = _backward_loop(
        d_outputs, d_last, dh_last, _seen(x, masks), h0, kernel,
        recurrent_kernel, hs, pre, _column_mask(masks.mask),
        masks.recurrent_dropout, options,
    )  # fmt: skip
    dx = rnn_math.sequence_inputs_backward(dx, masks)
    db = None if bias is None else db
    return dx, dh0, dWx, dWh, db, None  # None: no gradient for the masks


_scratch_rnn.defvjp(_scratch_rnn_fwd, _scratch_rnn_bwd)


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
    return _rnn_step(x, h_prev, kernel, recurrent_kernel, bias, options)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _rnn_step(x, h_prev, kernel, recurrent_kernel, bias, options):
    h_next, _ = _rnn_step_fwd(
        x, h_prev, kernel, recurrent_kernel, bias, options
    )
    return h_next


def _rnn_step_fwd(x, h_prev, kernel, recurrent_kernel, bias, options):
    h_next, a = rnn_math.rnn_step_forward(
        xp, x, h_prev, kernel, recurrent_kernel, bias, options
    )
    return h_next, (x, h_prev, kernel, recurrent_kernel, bias, h_next, a)


def _rnn_step_bwd(options, residuals, dh_next):
    x, h_prev, kernel, recurrent_kernel, bias, h_next, a = residuals
    dx, dh_prev, dWx, dWh, db = rnn_math.rnn_step_backward(
        xp, dh_next, x, h_prev, h_next, a, kernel, recurrent_kernel, options
    )
    return dx, dh_prev, dWx, dWh, None if bias is None else db


_rnn_step.defvjp(_rnn_step_fwd, _rnn_step_bwd)


# --- the LSTM -----------------------------------------------------------------
# The same loops and glue for the book's LSTM (`lstm_math`): the forward
# loop carries (h, c) (and the output y when masked), the backward loop
# (dh, dc) (and dy). The input projection `x_t Wx + b` is done step by step
# inside the forward loop (`LSTM_PER_STEP_INPUT`); the weight gradients and
# dx are single matmuls over the N * T rows after the backward loop, which
# carries only the recurrence.


def _row_masks(m, T, time_major):
    """A dropout mask `(N, K)` or `(N, 4, K)` (per gate) for the `N * T`
    rows of a sequence: time-major rows (row t * N + n is sequence n) tile
    it, batch-major rows (row n * T + t) repeat it; or `None`."""
    if m is None:
        return None
    if time_major:
        return jnp.tile(m, (T,) + (1,) * (m.ndim - 1))
    return jnp.repeat(m, T, axis=0)


def _lstm_inputs(x, masks):
    """x_t as the kernel sees it `(N, T, D)` (padding zeroed, a single input
    dropout mask applied, as the RNN does), and the per-gate input masks
    `(N, 4, D)` that `lstm_math.project` applies (or `None`)."""
    m = masks.input_dropout
    if not lstm_math.per_gate(m):
        return _seen(x, masks), None
    return _seen(x, masks._replace(input_dropout=None)), m


# The input projection x_t Wx + b is done inside the forward loop, step by
# step as the book's `LSTM.forward` does, not hoisted into one matmul over
# the T * N rows: XLA's scan over the hoisted (T, N, 4H) array ran the
# forward alone (`jax.jit` of a call) 1.3 to 4.5 times slower and the
# training step 1.05 to 1.3 times slower (N x T x H = 32 x 200 x 32,
# 256 x 200 x 32, 32 x 20 x 256, 256 x 20 x 256; D = 32; interleaved on a
# loaded 2-core machine). The backward keeps its hoisted weight gradients.
LSTM_PER_STEP_INPUT = True


def _lstm_forward_loop(xs, h0, c0, kernel, recurrent_kernel, bias, m_in, m,
                       r, options, residuals=True):  # fmt: skip
    """The recurrence over `xs (T, N, D)`, x_t as the kernel sees it, its
    per-gate input masks `m_in (N, 4, D)` or `None`.

    Returns `(hs, cs, gates, outputs, pre, y_last, h_last, c_last)`,
    time-major `(T, N, .)`: `outputs` only with a mask and
    `options.return_sequences` (else `None`: without a mask they are `hs`),
    `pre` only for callable activations; `y_last` is the last output, and
    `h_last`, `c_last` the final states `(N, H)`. Without `residuals` (no
    backward follows), `cs`, `gates` and `pre` are `None`, and so is `hs`
    unless it is the output.
    """
    T, N = xs.shape[:2]
    if LSTM_PER_STEP_INPUT:
        xa = xs  # x_t Wx + b inside the loop
    else:  # x_t Wx + b of every t, before the loop: (T * N, 4H) rows
        xa = lstm_math.input_projection(
            xp, _rows(xs), kernel, bias, _row_masks(m_in, T, time_major=True)
        )
        xa = xa.reshape(T, N, xa.shape[-1])  # -1 fails at N = 0
    keep_outputs = m is not None and options.return_sequences

    def step(carry, inputs):
        h_prev, c_prev, y_prev = carry  # y_prev: masked runs only
        xa_t, m_t = inputs
        if LSTM_PER_STEP_INPUT:  # as the book's LSTM.forward does
            xa_t = lstm_math.input_projection(xp, xa_t, kernel, bias, m_in)
        h, c, y, gates, A = lstm_math.step_forward(
            xp, xa_t, h_prev, c_prev, y_prev, recurrent_kernel, r, m_t,
            options,
        )  # fmt: skip
        if m_t is None:
            y = None  # y_t = h_t
        ys = (
            h if keep_hs else None, c if residuals else None,
            gates if residuals else None, y if keep_outputs else None,
            A if residuals and options.keeps_pre else None,
        )  # fmt: skip
        return (h, c, y), ys

    # Only what is used is stacked: a call that is not differentiated keeps
    # no cs, gates or pre (memory; its speed did not change measurably at
    # N = 32 and 256, T = 200, H = 32, D = 32).
    keep_hs = residuals or (m is None and options.return_sequences)
    y0 = None if m is None else jnp.zeros_like(h0)  # y_t is carried if masked
    (h_last, c_last, y_last), (hs, cs, gates, outputs, pre) = _scan(
        step, (h0, c0, y0), (xa, m), options.unroll
    )
    y_last = h_last if m is None else y_last
    return hs, cs, gates, outputs, pre, y_last, h_last, c_last


def _lstm_backward_loop(
    d_outputs, d_last, dh_last, dc_last, x, h0, c0, kernel,
    recurrent_kernel, hs, cs, gates, pre, m_in, m, r, options,
):  # fmt: skip
    """The reverse recurrence, time-major; the book's `TimeLSTM.backward`.

    Takes `x (N, T, D)` as the kernel saw it, batch-major, with its per-gate
    input masks `m_in (N, 4, D)` or `None`, and the rest time-major. Either
    `d_outputs (T, N, H)`, dL/dy_t for every t, or `d_last (N, H)`,
    dL/dy_{T-1} alone, is `None`. Returns `(dx, dh0, dc0, dWx, dWh, db)`,
    with `dx (N, T, D)` the gradient of x as the kernel saw it.
    """
    c_prev = jnp.concatenate([c0[None], cs[:-1]])  # c_{t-1} of every t

    def step(carry, inputs):
        dh, dc, dy_next = carry  # from step t+1; dy_next: masked runs only
        dy, gates_t, c_t, c_prev_t, A_t, m_t = inputs
        dA, dh_prev, dc_prev, dy_prev = lstm_math.step_backward(
            xp, dh, dc, dy, dy_next, gates_t, c_t, c_prev_t, A_t,
            recurrent_kernel, r, m_t, options,
        )  # fmt: skip
        return (dh_prev, dc_prev, dy_prev), dA

    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh = dh_last if d_last is None else dh_last + d_last
        dy = None
    else:
        dh = dh_last
        dy = jnp.zeros_like(dh_last) if d_last is None else d_last
    (dh0, dc0, _), dAs = _scan(
        step, (dh, dc_last, dy), (d_outputs, gates, cs, c_prev, pre, m),
        options.unroll, reverse=True,
    )  # fmt: skip
    # The sums over t of the book's per-step weight gradients, hoisted:
    # dAs holds dL/dA_t of every step. Over batch-major rows, as the RNN
    # (XLA's matmul of the time-major ones ran up to twice as long there).
    T = x.shape[1]
    h_prev = _time_major(jnp.concatenate([h0[None], hs[:-1]]))  # h_{t-1}
    dx, dWx, dWh, db = lstm_math.weight_gradients(
        xp, _rows(x), _rows(h_prev), _rows(_time_major(dAs)), kernel,
        _row_masks(m_in, T, time_major=False),
        _row_masks(r, T, time_major=False),
    )  # fmt: skip
    return dx.reshape(x.shape), dh0, dc0, dWx, dWh, db


def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the book's `TimeLSTM`: `ops.lstm_forward`.

    Args:
        x, h0, c0: `(N, T, D)`, `(N, H)`, `(N, H)`.
        kernel, recurrent_kernel, bias: `(D, 4H)`, `(H, 4H)`, `(4H,)` or
            `None`, gates in Keras's order i, f, g, o.
        masks: A `Masks`; the dropout masks `(N, K)` or `(N, 4, K)`.
        options: An `LSTMOptions` (`return_sequences` is ignored).

    Returns:
        `(outputs, hs, cs, gates, pre)`, batch-major: `(N, T, H)` the first
        three (`outputs` is `hs` without a mask), `(N, T, 4H)` the gates
        after their activations and the pre-activations `A_t` (`None`
        unless an activation is a callable).
    """
    options = dataclasses.replace(options, return_sequences=True)
    seen, m_in = _lstm_inputs(x, masks)
    hs, cs, gates, outputs, pre, *_ = _lstm_forward_loop(
        _time_major(seen), h0, c0, kernel, recurrent_kernel, bias, m_in,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    hs, cs, gates, pre = map(_time_major, (hs, cs, gates, pre))
    outputs = hs if outputs is None else _time_major(outputs)
    return outputs, hs, cs, gates, pre


def lstm_backward(
    d_outputs, d_last, dh_last, dc_last, x, h0, c0, kernel, recurrent_kernel,
    hs, cs, gates, pre, masks, options,
):  # fmt: skip
    """Backpropagation through time of the book's `TimeLSTM`:
    `ops.lstm_backward`.

    Args:
        d_outputs: dL/dy_t for every step `(N, T, H)`, or `None`.
        d_last: dL/dy_{T-1} alone `(N, H)`, or `None`. Exactly one of the
            two is given.
        dh_last, dc_last: dL/dh_{T-1}, dL/dc_{T-1} from outside `(N, H)`.
        x, h0, c0, kernel, recurrent_kernel, masks, options: As given to
            `lstm_forward`.
        hs, cs, gates, pre: As returned by `lstm_forward`.

    Returns:
        `(dx, dh0, dc0, dkernel, drecurrent_kernel, dbias)`, dbias `(4H,)`.
    """
    seen, m_in = _lstm_inputs(x, masks)
    dx, *grads = _lstm_backward_loop(
        _time_major(d_outputs), d_last, dh_last, dc_last, seen, h0, c0,
        kernel, recurrent_kernel, *map(_time_major, (hs, cs, gates, pre)),
        m_in, _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    if m_in is None:  # through x_t * input_dropout (per gate: done)
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    return (dx, *grads)


def scratch_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """`lstm_forward` whose gradient is `lstm_backward`, by
    `jax.custom_vjp`: `ops.scratch_lstm`.

    Args: as `lstm_forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last, c_last)`: every output `(N, T, H)`, or the last one
        `(N, H)` (with a mask, the last carried output y, not h); and the
        final states `(N, H)`. The masks get no gradient (zeros).
    """
    return _scratch_lstm(
        x, h0, c0, kernel, recurrent_kernel, bias, Masks(*masks), options
    )


# As `_scratch_rnn`: the masks are ordinary arguments whose gradient is None.
@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def _scratch_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    # Not differentiated: the forward keeps nothing for a backward.
    return _lstm_call(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options, False
    )[0]


def _lstm_call(x, h0, c0, kernel, recurrent_kernel, bias, masks, options,
               residuals):  # fmt: skip
    """`((out, h_last, c_last), (hs, cs, gates, pre))`, the latter `None`s
    without `residuals`."""
    seen, m_in = _lstm_inputs(x, masks)
    hs, cs, gates, outputs, pre, y_last, h_last, c_last = _lstm_forward_loop(
        _time_major(seen), h0, c0, kernel, recurrent_kernel, bias, m_in,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
        residuals,
    )  # fmt: skip
    if not options.return_sequences:
        out = y_last
    else:
        out = _time_major(hs if outputs is None else outputs)
    return (out, h_last, c_last), (hs, cs, gates, pre)


def _scratch_lstm_fwd(x, h0, c0, kernel, recurrent_kernel, bias, masks,
                      options):  # fmt: skip
    outs, (hs, cs, gates, pre) = _lstm_call(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options, True
    )
    # hs, cs, gates and pre stay time-major for the backward; the x the
    # kernel saw is recomputed there.
    residuals = (
        x, h0, c0, kernel, recurrent_kernel, bias, hs, cs, gates, pre, masks,
    )  # fmt: skip
    return outs, residuals


def _scratch_lstm_bwd(options, residuals, cotangents):
    x, h0, c0, kernel, recurrent_kernel, bias, hs, cs, gates, pre, masks = (
        residuals
    )
    d_out, dh_last, dc_last = cotangents
    if options.return_sequences:
        d_outputs, d_last = _time_major(d_out), None
    else:
        d_outputs, d_last = None, d_out
    seen, m_in = _lstm_inputs(x, masks)
    dx, dh0, dc0, dWx, dWh, db = _lstm_backward_loop(
        d_outputs, d_last, dh_last, dc_last, seen, h0, c0, kernel,
        recurrent_kernel, hs, cs, gates, pre, m_in, _column_mask(masks.mask),
        masks.recurrent_dropout, options,
    )  # fmt: skip
    if m_in is None:
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    db = None if bias is None else db
    return dx, dh0, dc0, dWx, dWh, db, None  # None: no gradient for masks


_scratch_lstm.defvjp(_scratch_lstm_fwd, _scratch_lstm_bwd)


def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks,
              options):  # fmt: skip
    """One step of the book's `LSTM`, with its handwritten backward:
    `ops.lstm_step`.

    Args:
        x, h_prev, c_prev: `x_t (N, D)`, `h_{t-1}`, `c_{t-1}` `(N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, 4H)`, `Wh (H, 4H)`,
            `b (4H,)` or `None`.
        masks: A `Masks(None, input_dropout, recurrent_dropout)`, the
            dropout masks `(N, K)` or `(N, 4, K)` or `None`: constants
            (zero gradients).
        options: An `LSTMOptions`; only the activations are used.

    Returns:
        `(h_next, c_next)`, `(N, H)` each.
    """
    return _lstm_step(
        x, h_prev, c_prev, kernel, recurrent_kernel, bias, Masks(*masks),
        options,
    )  # fmt: skip


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def _lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks,
               options):  # fmt: skip
    out, _ = _lstm_step_fwd(
        x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks, options
    )
    return out


def _lstm_step_fwd(x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks,
                   options):  # fmt: skip
    m, r = masks.input_dropout, masks.recurrent_dropout
    h_next, c_next, gates, A = lstm_math.lstm_step_forward(
        xp, x, h_prev, c_prev, kernel, recurrent_kernel, bias, m, r, options
    )
    residuals = (
        x, h_prev, c_prev, kernel, recurrent_kernel, bias, c_next, gates, A,
        masks,
    )  # fmt: skip
    return (h_next, c_next), residuals


def _lstm_step_bwd(options, residuals, cotangents):
    (x, h_prev, c_prev, kernel, recurrent_kernel, bias, c_next, gates, A,
     masks) = residuals  # fmt: skip
    dh_next, dc_next = cotangents
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_math.lstm_step_backward(
        xp, dh_next, dc_next, x, h_prev, c_prev, c_next, gates, A, kernel,
        recurrent_kernel, masks.input_dropout, masks.recurrent_dropout,
        options,
    )  # fmt: skip
    db = None if bias is None else db
    return dx, dh_prev, dc_prev, dWx, dWh, db, None  # None: the masks


_lstm_step.defvjp(_lstm_step_fwd, _lstm_step_bwd)


# --- the GRU ------------------------------------------------------------------
# The same loops and glue for the GRU (`gru_math`), in both of Keras's forms
# (`options.reset_after`): the forward loop carries h (and the output y when
# masked), the backward loop dh (and dy). The input projection
# `X_t = x_t Wx + b_x` of every step is one matmul over the T * N rows
# before the forward loop, the weight gradients and dx single matmuls over
# the N * T rows after the backward loop (hoisted only, as the TensorFlow
# ops do).


def _gru_inputs(x, masks):
    """x_t as the kernel sees it `(N, T, D)` (padding zeroed, a single input
    dropout mask applied), and the per-gate input masks `(N, 3, D)` that
    `gru_math.input_projection` applies (or `None`)."""
    m = masks.input_dropout
    if not lstm_math.per_gate(m):
        return _seen(x, masks), None
    return _seen(x, masks._replace(input_dropout=None)), m


def _gru_forward_loop(xs, h0, kernel, recurrent_kernel, bias, m_in, m, r,
                      options, residuals=True):  # fmt: skip
    """The recurrence over `xs (T, N, D)`, x_t as the kernel sees it, its
    per-gate input masks `m_in (N, 3, D)` or `None`.

    Returns `(hs, saved, outputs, pre, y_last, h_last)`, time-major
    `(T, N, .)`: `saved` what `gru_math.step_backward` needs, `outputs`
    only with a mask and `options.return_sequences` (else `None`: without
    a mask they are `hs`), `pre` only for callable activations; `y_last`
    is the last output and `h_last` the final state `(N, H)`. Without
    `residuals` (no backward follows), `saved` and `pre` are `None`, and
    so is `hs` unless it is the output.
    """
    T, N = xs.shape[:2]
    b_x, b_h = gru_math.split_bias(bias, options)
    # X_t = x_t Wx + b_x of every t, before the loop: (T * N, 3H) rows
    X = gru_math.input_projection(
        xp, _rows(xs), kernel, b_x, _row_masks(m_in, T, time_major=True)
    )
    X = X.reshape(T, N, X.shape[-1])  # -1 fails at N = 0
    keep_outputs = m is not None and options.return_sequences
    keep_hs = residuals or (m is None and options.return_sequences)

    def step(carry, inputs):
        h_prev, y_prev = carry  # y_prev: masked runs only
        X_t, m_t = inputs
        h, y, saved, A = gru_math.step_forward(
            xp, X_t, h_prev, y_prev, recurrent_kernel, b_h, r, m_t, options
        )
        if m_t is None:
            y = None  # y_t = h_t
        ys = (
            h if keep_hs else None, saved if residuals else None,
            y if keep_outputs else None,
            A if residuals and options.keeps_pre else None,
        )  # fmt: skip
        return (h, y), ys

    y0 = None if m is None else jnp.zeros_like(h0)  # y_t is carried if masked
    (h_last, y_last), (hs, saved, outputs, pre) = _scan(
        step, (h0, y0), (X, m), options.unroll
    )
    y_last = h_last if m is None else y_last
    return hs, saved, outputs, pre, y_last, h_last


def _gru_backward_loop(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, hs, saved,
    pre, m_in, m, r, options,
):  # fmt: skip
    """The reverse recurrence, time-major.

    Takes `x (N, T, D)` as the kernel saw it, batch-major, with its per-gate
    input masks `m_in (N, 3, D)` or `None`, and the rest time-major. Either
    `d_outputs (T, N, H)`, dL/dy_t for every t, or `d_last (N, H)`,
    dL/dy_{T-1} alone, is `None`. Returns `(dx, dh0, dWx, dWh, db_x,
    db_h)`, with `dx (N, T, D)` the gradient of x as the kernel saw it and
    `db_h` `None` unless `options.reset_after`.
    """
    h_prev = jnp.concatenate([h0[None], hs[:-1]])  # h_{t-1} of every t

    def step(carry, inputs):
        dh, dy_next = carry  # from step t+1; dy_next: masked runs only
        dy, saved_t, h_prev_t, A_t, m_t = inputs
        dX, dh_prev, dy_prev = gru_math.step_backward(
            xp, dh, dy, dy_next, saved_t, h_prev_t, A_t, recurrent_kernel,
            r, m_t, options,
        )  # fmt: skip
        return (dh_prev, dy_prev), dX

    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh = dh_last if d_last is None else dh_last + d_last
        dy = None
    else:
        dh = dh_last
        dy = jnp.zeros_like(dh_last) if d_last is None else d_last
    (dh0, _), dXs = _scan(
        step, (dh, dy), (d_outputs, saved, h_prev, pre, m), options.unroll,
        reverse=True,
    )  # fmt: skip
    # The sums over t of the per-step weight gradients, hoisted: dXs holds
    # dL/dX_t of every step. Over batch-major rows, as the RNN and LSTM.
    T = x.shape[1]
    dx, dWx, dWh, db_x, db_h = gru_math.weight_gradients(
        xp, _rows(x), _rows(_time_major(h_prev)), _rows(_time_major(dXs)),
        _rows(_time_major(saved)), kernel,
        _row_masks(m_in, T, time_major=False),
        _row_masks(r, T, time_major=False), options,
    )  # fmt: skip
    return dx.reshape(x.shape), dh0, dWx, dWh, db_x, db_h


def _gru_bias_gradient(db_x, db_h, bias, options):
    """dL/dbias shaped like `bias`: `(2, 3H)` with `reset_after`, else
    `(3H,)`; `None` without a bias."""
    if bias is None:
        return None
    return jnp.stack([db_x, db_h]) if options.reset_after else db_x


def gru_forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """Forward pass of the GRU over a sequence: `ops.gru_forward`.

    Args:
        x, h0: `(N, T, D)`, `(N, H)`.
        kernel, recurrent_kernel: `(D, 3H)`, `(H, 3H)`, gates in Keras's
            order z, r, h.
        bias: `(2, 3H)` with `options.reset_after` (rows b_x, b_h), else
            `(3H,)`; or `None`.
        masks: A `Masks`; the dropout masks `(N, K)` or `(N, 3, K)`.
        options: A `GRUOptions` (`return_sequences` is ignored).

    Returns:
        `(outputs, hs, saved, pre)`, batch-major: `(N, T, H)` the first two
        (`outputs` is `hs` without a mask), `saved` `(N, T, 4H)` with
        `reset_after` (z, r, hh, R_h), else `(N, T, 3H)`, and the
        pre-activations `(N, T, 3H)` (`None` unless an activation is a
        callable).
    """
    options = dataclasses.replace(options, return_sequences=True)
    seen, m_in = _gru_inputs(x, masks)
    hs, saved, outputs, pre, *_ = _gru_forward_loop(
        _time_major(seen), h0, kernel, recurrent_kernel, bias, m_in,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    hs, saved, pre = map(_time_major, (hs, saved, pre))
    outputs = hs if outputs is None else _time_major(outputs)
    return outputs, hs, saved, pre


def gru_backward(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, bias, hs,
    saved, pre, masks, options,
):  # fmt: skip
    """Backpropagation through time of the GRU: `ops.gru_backward`.

    Args:
        d_outputs: dL/dy_t for every step `(N, T, H)`, or `None`.
        d_last: dL/dy_{T-1} alone `(N, H)`, or `None`. Exactly one of the
            two is given.
        dh_last: dL/dh_{T-1} from outside `(N, H)`.
        x, h0, kernel, recurrent_kernel, bias, masks, options: As given to
            `gru_forward`.
        hs, saved, pre: As returned by `gru_forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, `dbias` shaped like
        `bias` (or `None`).
    """
    seen, m_in = _gru_inputs(x, masks)
    dx, dh0, dWx, dWh, db_x, db_h = _gru_backward_loop(
        _time_major(d_outputs), d_last, dh_last, seen, h0, kernel,
        recurrent_kernel, *map(_time_major, (hs, saved, pre)), m_in,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
    )  # fmt: skip
    if m_in is None:  # through x_t * input_dropout (per gate: done)
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    db = _gru_bias_gradient(db_x, db_h, bias, options)
    return dx, dh0, dWx, dWh, db


def scratch_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`gru_forward` whose gradient is `gru_backward`, by `jax.custom_vjp`:
    `ops.scratch_gru`.

    Args: as `gru_forward`; `options.return_sequences` chooses the output.

    Returns:
        `(out, h_last)`: every output `(N, T, H)`, or the last one `(N, H)`
        (with a mask, the last carried output y, not h); and the final state
        `(N, H)`. The masks get no gradient (zeros).
    """
    return _scratch_gru(
        x, h0, kernel, recurrent_kernel, bias, Masks(*masks), options
    )


# As `_scratch_rnn`: the masks are ordinary arguments whose gradient is None.
@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _scratch_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    # Not differentiated: the forward keeps nothing for a backward.
    return _gru_call(
        x, h0, kernel, recurrent_kernel, bias, masks, options, False
    )[0]


def _gru_call(x, h0, kernel, recurrent_kernel, bias, masks, options,
              residuals):  # fmt: skip
    """`((out, h_last), (hs, saved, pre))`, the latter time-major, `None`s
    without `residuals`."""
    seen, m_in = _gru_inputs(x, masks)
    hs, saved, outputs, pre, y_last, h_last = _gru_forward_loop(
        _time_major(seen), h0, kernel, recurrent_kernel, bias, m_in,
        _column_mask(masks.mask), masks.recurrent_dropout, options,
        residuals,
    )  # fmt: skip
    if not options.return_sequences:
        out = y_last
    else:
        out = _time_major(hs if outputs is None else outputs)
    return (out, h_last), (hs, saved, pre)


def _scratch_gru_fwd(x, h0, kernel, recurrent_kernel, bias, masks, options):
    outs, (hs, saved, pre) = _gru_call(
        x, h0, kernel, recurrent_kernel, bias, masks, options, True
    )
    # hs, saved and pre stay time-major for the backward; the x the kernel
    # saw is recomputed there.
    residuals = (x, h0, kernel, recurrent_kernel, bias, hs, saved, pre, masks)
    return outs, residuals


def _scratch_gru_bwd(options, residuals, cotangents):
    x, h0, kernel, recurrent_kernel, bias, hs, saved, pre, masks = residuals
    d_out, dh_last = cotangents
    if options.return_sequences:
        d_outputs, d_last = _time_major(d_out), None
    else:
        d_outputs, d_last = None, d_out
    seen, m_in = _gru_inputs(x, masks)
    dx, dh0, dWx, dWh, db_x, db_h = _gru_backward_loop(
        d_outputs, d_last, dh_last, seen, h0, kernel, recurrent_kernel, hs,
        saved, pre, m_in, _column_mask(masks.mask), masks.recurrent_dropout,
        options,
    )  # fmt: skip
    if m_in is None:
        dx = rnn_math.sequence_inputs_backward(dx, masks)
    db = _gru_bias_gradient(db_x, db_h, bias, options)
    return dx, dh0, dWx, dWh, db, None  # None: no gradient for the masks


_scratch_gru.defvjp(_scratch_gru_fwd, _scratch_gru_bwd)


def gru_step(x, h_prev, kernel, recurrent_kernel, bias, masks, options):
    """One GRU step, with its handwritten backward: `ops.gru_step`.

    Args:
        x, h_prev: `x_t (N, D)`, `h_{t-1} (N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, 3H)`, `Wh (H, 3H)`, and
            `(2, 3H)` with `options.reset_after`, else `(3H,)`, or `None`.
        masks: A `Masks(None, input_dropout, recurrent_dropout)`, the
            dropout masks `(N, K)` or `(N, 3, K)` or `None`: constants
            (zero gradients).
        options: A `GRUOptions`; the activations and `reset_after` are used.

    Returns:
        `h_next (N, H)`.
    """
    return _gru_step(
        x, h_prev, kernel, recurrent_kernel, bias, Masks(*masks), options
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _gru_step(x, h_prev, kernel, recurrent_kernel, bias, masks, options):
    h_next, _ = _gru_step_fwd(
        x, h_prev, kernel, recurrent_kernel, bias, masks, options
    )
    return h_next


def _gru_step_fwd(x, h_prev, kernel, recurrent_kernel, bias, masks, options):
    m, r = masks.input_dropout, masks.recurrent_dropout
    h_next, saved, A = gru_math.gru_step_forward(
        xp, x, h_prev, kernel, recurrent_kernel, bias, m, r, options
    )
    residuals = (x, h_prev, kernel, recurrent_kernel, bias, saved, A, masks)
    return h_next, residuals


def _gru_step_bwd(options, residuals, dh_next):
    x, h_prev, kernel, recurrent_kernel, bias, saved, A, masks = residuals
    dx, dh_prev, dWx, dWh, db_x, db_h = gru_math.gru_step_backward(
        xp, dh_next, x, h_prev, saved, A, kernel, recurrent_kernel,
        masks.input_dropout, masks.recurrent_dropout, options,
    )  # fmt: skip
    db = _gru_bias_gradient(db_x, db_h, bias, options)
    return dx, dh_prev, dWx, dWh, db, None  # None: the masks


_gru_step.defvjp(_gru_step_fwd, _gru_step_bwd)
