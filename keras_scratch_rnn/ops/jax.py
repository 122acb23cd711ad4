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
"""

import dataclasses
import functools
import types

import jax
import jax.numpy as jnp
from jax import lax

from keras_scratch_rnn.ops import rnn_math
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
