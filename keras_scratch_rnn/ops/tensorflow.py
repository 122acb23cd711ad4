"""The book's RNN as TensorFlow ops: the loops and the custom gradient.

The equations are `rnn_math`'s; this module runs them. `forward` runs the
recurrence over a whole sequence, `backward` walks it in reverse,
`scratch_rnn` joins the two with `tf.custom_gradient`, so TensorFlow never
differentiates through the loop. `rnn_step` is one step with its own
backward. (The public, documented forms are in `keras_scratch_rnn.ops`.)

The loops carry only what feeds the recurrence, `h` forward and `dh`
backward. The rest is done one of two ways, chosen by the size of a step
(`PER_STEP_UNITS`, `PER_STEP_BATCH`):
- hoisted (small H or N): `x_t Wx + b` for all t before the loop, and `dWx`,
  `dWh`, `db`, `dx` after it, as single matmuls over the (N * T) rows;
- per step (large H and N): as the book's `RNN.forward` and `RNN.backward`
  write it, each step's matmuls and weight-gradient sums inside the loops.
The LSTM and GRU have a third way for long sequences of small steps: the
weight gradients by chunks of steps (`_loop_ways`, `_chunk_loop`).

Speed: the two loops (`_forward_loop`, `_backward_loop`) are compiled by XLA
(`XLA_LOOPS`), which turns a `tf.while_loop` step from tens of
microseconds of TensorFlow overhead into a few and writes each step in
place; the hoisted matmuls stay TensorFlow ops. XLA compiles once per
input shape, so eager calls run the plain loop (see `_run_loop`).
Everything is batch-major (N, T, H), as Keras gives and wants it, so no
sequence is ever transposed. Inside a `tf.function`, `scratch_rnn` cuts the
batch into `BATCH_PARTS` parts, independent recurrences that run side by
side (see `BATCH_PARTS`). TensorFlow cannot autodiff through the compiled
loops: to differentiate, use `scratch_rnn`.
"""

import dataclasses
import functools
import types

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from keras_scratch_rnn.ops import gru_math, lstm_math
from keras_scratch_rnn.ops.rnn_math import (
    Masks,
    input_projection,
    recurrent_input,
    rnn_step_backward,
    rnn_step_forward,
    sequence_inputs,
    sequence_inputs_backward,
    step_backward,
    step_forward,
    weight_gradients,
)


def _local_vjp(fn, a, dy):
    """The gradient of `fn` alone at `a`, applied to `dy`."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = fn(a)
    return tape.gradient(y, a, output_gradients=dy)


# The primitives `rnn_math` computes with.
xp = types.SimpleNamespace(
    matmul=tf.matmul,
    matmul_tb=functools.partial(tf.matmul, transpose_b=True),  # a b^T
    matmul_ta=functools.partial(tf.matmul, transpose_a=True),  # a^T b
    where=tf.where,
    zeros_like=tf.zeros_like,
    sum0=functools.partial(tf.reduce_sum, axis=0),
    tanh=tf.tanh,
    sigmoid=tf.sigmoid,
    relu=tf.nn.relu,
    local_vjp=_local_vjp,
    split=lambda a, n: tf.split(a, n, axis=-1),
    concat=lambda parts: tf.concat(parts, axis=-1),
)


def _check_steps(x, unroll):
    """Unrolling needs a static T."""
    if unroll and x.shape[1] is None:
        raise ValueError(
            "Received `unroll=True` with an unknown number of timesteps: "
            f"x.shape={tuple(x.shape)}. Unrolling needs a static T."
        )


def _column_mask(mask):
    """A (N, T) mask as (N, T, 1): `m[:, t]` selects whole rows; or None."""
    return None if mask is None else mask[:, :, None]


def _previous_state(hs, h0, t):
    """h_{t-1}: `hs[:, t - 1]`, or `h0` at t = 0."""
    if isinstance(t, int):  # unrolled
        return h0 if t == 0 else hs[:, t - 1]
    return tf.where(t > 0, hs[:, tf.maximum(t - 1, 0)], h0)


def _time_loop(step, T, carry, templates, unroll, compiled, reverse=False):
    """Runs `carry, ys = step(t, carry)` for t = 0..T-1 (or T-1..0).

    Returns the last carry and the per-step outputs stacked batch-major,
    `(N, T, K)`, one for each of `templates`: `(N, K)` tensors shaped like
    that output. With `unroll`, T is a Python int and the loop a Python loop;
    else a `tf.while_loop`, which writes step t in place into its `(N, T, K)`
    buffer when XLA `compiled` it (a TensorArray otherwise).
    """
    if unroll:
        order = range(T - 1, -1, -1) if reverse else range(T)
        ys = [[None] * T for _ in templates]
        for t in order:
            carry, outs = step(t, carry)
            for k, y in enumerate(outs):
                ys[k][t] = y
        return carry, tuple(tf.stack(y, axis=1) for y in ys)

    if compiled:
        buffers = tuple(
            tf.zeros(tf.stack([tf.shape(y)[0], T, tf.shape(y)[1]]), y.dtype)
            for y in templates
        )

        def write(buffer, t, y):
            return dynamic_update_slice(buffer, y[:, None], [0, t, 0])

    else:
        buffers = tuple(
            tf.TensorArray(y.dtype, size=T, element_shape=y.shape)
            for y in templates
        )

        def write(buffer, t, y):
            return buffer.write(t, y)

    def body(i, carry, buffers):
        t = T - 1 - i if reverse else i
        new_carry, outs = step(t, carry)
        for new, old in zip(tf.nest.flatten(new_carry), tf.nest.flatten(carry)):
            new.set_shape(old.shape)  # lost where traced weights had none
        carry = new_carry
        buffers = tuple(write(b, t, y) for b, y in zip(buffers, outs))
        return i + 1, carry, buffers

    _, carry, buffers = tf.while_loop(
        lambda i, *_: i < T, body, (0, carry, buffers), maximum_iterations=T
    )
    if not compiled:  # (T, N, K) -> (N, T, K)
        buffers = tuple(tf.transpose(b.stack(), [1, 0, 2]) for b in buffers)
    return carry, buffers


def _chunk_loop(step, T, carry, chunk, flush, sums, templates):
    """A compiled backward loop whose weight gradients are summed by chunks
    of `chunk` steps of time, neither per step nor over the whole sequence.

    For each chunk, the last first, runs `carry, rows = step(t, carry)` for
    its steps t (in reverse), keeping the `rows`, one `(N, K)` like each of
    `templates` (`templates[0]`: x_t), in `(N, chunk, K)` buffers; then
    `dx_c, sums = flush(buffers, sums)`. A short last chunk leaves zero
    rows. Returns `(carry, dx, sums)`, dx `(N, T, D)` the `dx_c` joined.
    """
    K = (T + chunk - 1) // chunk  # chunks, the last one maybe shorter

    def zeros(y, steps):
        shape = tf.stack([tf.shape(y)[0], steps, tf.shape(y)[1]])
        return tf.zeros(shape, y.dtype)

    def chunk_body(i, carry, buffers, dx, sums):
        start = (K - 1 - i) * chunk  # the chunk's first step

        def body(t, carry, buffers):
            new_carry, rows = step(t, carry)
            for new, old in zip(
                tf.nest.flatten(new_carry), tf.nest.flatten(carry)
            ):
                new.set_shape(old.shape)
            buffers = tuple(
                dynamic_update_slice(b, y[:, None], [0, t - start, 0])
                for b, y in zip(buffers, rows)
            )
            return t - 1, new_carry, buffers

        last = tf.minimum(start + chunk, T) - 1
        _, carry, buffers = tf.while_loop(
            lambda t, *_: t >= start, body, (last, carry, buffers),
            maximum_iterations=chunk,
        )  # fmt: skip
        dx_c, sums = flush(buffers, sums)
        dx_c = tf.reshape(dx_c, tf.shape(buffers[0]))  # (N, chunk, D)
        dx = dynamic_update_slice(dx, dx_c, [0, start, 0])
        return i + 1, carry, buffers, dx, sums

    buffers = tuple(zeros(y, chunk) for y in templates)
    dx = zeros(templates[0], K * chunk)
    _, carry, _, dx, sums = tf.while_loop(
        lambda i, *_: i < K, chunk_body, (0, carry, buffers, dx, sums),
        maximum_iterations=K,
    )  # fmt: skip
    return carry, dx[:, :T], sums


def _rows(a):
    """`(N, T, K)` as `(N * T, K)` rows, batch-major (row n * T + t)."""
    return tf.reshape(a, tf.stack([-1, tf.shape(a)[-1]]))


def _forward_loop(
    xs, h0, kernel, recurrent_kernel, bias, m, r, options, compiled, per_step
):
    """The recurrence: `xs[:, t]` is `x_t` if `per_step`, else `x_t Wx + b`.

    Returns `(hs, outputs, pre, o_last)`: `hs`, `outputs` and `pre` are
    `(N, T, H)`; `outputs` is `None` without a mask (they are `hs`: returning
    one buffer twice would make XLA copy it), `pre` is `None` unless the
    activation is a callable; `o_last` is the last output `(N, H)`.
    """
    T = xs.shape[1] if options.unroll else tf.shape(xs)[1]

    def step(t, carry):
        xw_t = xs[:, t]
        if per_step:  # x_t Wx + b inside the loop, as the book's RNN does
            xw_t = input_projection(xp, xw_t, kernel, bias)
        o_prev = carry[1] if m is not None else None
        h, o, a = step_forward(
            xp, xw_t, carry[0], o_prev, recurrent_kernel, r,
            None if m is None else m[:, t], options,
        )  # fmt: skip
        pre = [a] if options.keeps_pre else []
        if m is None:
            return (h,), [h] + pre  # h_t = o_t
        return (h, o), [h, o] + pre

    carry = (h0,) if m is None else (h0, tf.zeros_like(h0))  # o carried
    templates = [h0] * (len(carry) + options.keeps_pre)
    last, ys = _time_loop(step, T, carry, templates, options.unroll, compiled)
    hs, o_last = ys[0], last[-1]
    outputs = ys[1] if m is not None else None
    pre = ys[-1] if options.keeps_pre else None
    return hs, outputs, pre, o_last


def _backward_loop(
    d_outputs,
    dh_last,
    d_last,
    x,
    h0,
    hs,
    pre,
    kernel,
    recurrent_kernel,
    m,
    r,
    options,
    compiled,
    per_step,
):
    """The reverse recurrence.

    Returns `(dts, dh0)`, with `dts[:, t]` the book's `dt` of step t,
    dL/da_t, `(N, T, H)`; or, if `per_step`, the book's per-step sums
    instead: `(dx, dh0, dWx, dWh, db)`. Either `d_outputs`, dL/do_t for
    every t, or `d_last`, dL/do_{T-1} alone, is `None`.
    """
    T = hs.shape[1] if options.unroll else tf.shape(hs)[1]

    def step(t, carry):
        dh, do, sums = carry  # dL/dh_t from step t+1; masked: dL/do_t too
        dt, dh_prev, do_prev = step_backward(
            xp,
            dh,
            None if d_outputs is None else d_outputs[:, t],  # dL/do_t
            do[0] if do else None,
            hs[:, t],
            None if pre is None else pre[:, t],
            recurrent_kernel,
            r,
            None if m is None else m[:, t],
            options,
        )
        do = () if m is None else (do_prev,)
        if not per_step:
            return (dh_prev, do, sums), (dt,)
        # The rest of the book's `RNN.backward`, summed over the steps:
        h_in = recurrent_input(_previous_state(hs, h0, t), r)
        dx, *grads = weight_gradients(xp, x[:, t], h_in, dt, kernel)
        sums = tuple(s + g for s, g in zip(sums, grads))
        return (dh_prev, do, sums), (dx,)

    if m is None:  # o_{T-1} = h_{T-1}: one gradient
        dh, do = (dh_last if d_last is None else dh_last + d_last), ()
    else:
        do = (tf.zeros_like(dh_last) if d_last is None else d_last,)
        dh = dh_last
    sums, templates = (), [dh_last]
    if per_step:
        sums = tuple(
            tf.zeros_like(w) for w in (kernel, recurrent_kernel, kernel[0])
        )
        templates = [x[:, 0]]
    (dh0, _, sums), (ys,) = _time_loop(
        step, T, (dh, do, sums), templates, options.unroll, compiled,
        reverse=True,
    )  # fmt: skip
    if not per_step:
        return ys, dh0
    return (ys, dh0) + sums  # dx, dh0, dWx, dWh, db


# Compile the loops with XLA (see `_run_loop`); `False` runs plain while
# loops.
XLA_LOOPS = True

# From this many units H and batch rows N on (an unknown N counts as
# large), each step's (N, H) x (H, H) matmuls are big enough to run near the
# machine's peak, and the (N, T, H) temporaries of hoisting them cost more
# than they save: the input matmuls and the weight gradients are then done
# step by step, as in the book. Otherwise they are hoisted out of the loops
# into single matmuls over the (N * T) rows. Measured by
# `benchmarks/bench.py`; the two ways give the same results.
PER_STEP_UNITS = 128
PER_STEP_BATCH = 128

# Long sequences, for the gated cells (LSTM, GRU) where their per-step way
# is not taken: from CHUNK_MIN_STEPS steps (of a known T) on, in compiled
# loops, the forward loop projects x_t itself and the backward loop sums the
# weight gradients by chunks of CHUNK_STEPS steps (`_chunk_loop`). Hoisted,
# x Wx + b and dL/dA of every step are two (N, T, 4H) temporaries (3H for
# the GRU) that made the peak training memory 1.3 to 1.4 times the built-in
# layer's at N x T x H = 32 x 200 x 256; by chunks of 5 it is 0.8 to 0.9
# times, and the training step 1.05 to 1.25 times faster than hoisted (32 x
# 200 x 32 and 32 x 200 x 256, D = 32, both cells; chunks of 10 were as
# fast, with more memory). At T = 20 chunks took more memory than hoisting
# (the loop's carried weight-gradient sums), hence CHUNK_MIN_STEPS. At
# N = 256 the per-step way and chunks ran at the same speed.
CHUNK_STEPS = 5
CHUNK_MIN_STEPS = 64


def _compiled(options):
    """Whether `_run_loop` runs a loop compiled by XLA."""
    return XLA_LOOPS and not options.unroll and not tf.executing_eagerly()


def _loop_ways(x, recurrent_kernel, per_step_units, per_step_batch, options):
    """How a gated cell's loops run on `x (N, T, D)`: `(project, sums)`.

    `project`: whether the forward loop computes x_t Wx + b itself (else
    one matmul over the N * T rows before it). `sums`: how the backward
    sums the weight gradients: 0, hoisted after its loop (one matmul over
    the N * T rows); 1, per step inside it (from `per_step_units` units H
    and `per_step_batch` rows N on, an unknown N counting as large); k > 1,
    by chunks of k steps (long sequences: `CHUNK_STEPS`).
    """
    N, T, H = x.shape[0], x.shape[1], recurrent_kernel.shape[0]
    if H >= per_step_units and (N is None or N >= per_step_batch):
        return True, 1
    if T is not None and T >= CHUNK_MIN_STEPS and _compiled(options):
        return True, CHUNK_STEPS
    return False, 0


# XLA compiles a loop again for every new input shape, which costs as much
# as a few hundred plain steps. Inside a `tf.function` that is paid once per
# traced shape; eager code may call with a new shape every time (a notebook
# trying lengths), and would wait for a compilation at each. So eager calls
# always run the plain while loop: still faster than SimpleRNN's eager loop
# (`benchmarks/eager_lengths.py`), and an eager call's result never depends
# on what ran before it.
_LOOPS = {}  # one traced function per loop, options and compilation


def _with_nones(fn, specs, *tensors):
    """`fn` called with `tensors` and a `None` where `specs` has one."""
    given = iter(tensors)
    return fn(*(None if s is None else next(given) for s in specs))


def _run_loop(fn, args, options, per_step):
    """`fn(*args)` with its static options bound, in a shared `tf.function`.

    Each function is traced once, for any shape (every dimension `None`),
    and shared by all layers. XLA compiles it (a tight native loop: a few
    us per step instead of tens), unless `unroll` or called eagerly.
    """
    # The loops do not depend on `return_sequences`: one function for both.
    options = dataclasses.replace(options, return_sequences=True)
    if options.unroll:  # a Python loop, traced into the caller's graph
        return fn(*args, options=options, compiled=False, per_step=per_step)
    specs = tuple(
        None if a is None else tf.TensorSpec([None] * a.shape.rank, a.dtype)
        for a in args
    )
    compiled = XLA_LOOPS and not tf.executing_eagerly()
    key = (fn, specs, options, per_step, compiled)
    if key not in _LOOPS:
        bound = functools.partial(
            fn, options=options, compiled=compiled, per_step=per_step
        )
        # A partial, not a closure: TensorFlow counts the traces of all
        # functions sharing a `__code__` together, and would warn about
        # retracing when each loop traces once.
        loop = functools.partial(_with_nones, bound, specs)
        _LOOPS[key] = tf.function(
            loop,
            input_signature=[s for s in specs if s is not None],
            jit_compile=compiled,
            autograph=False,
        )
    return _LOOPS[key](*(a for a in args if a is not None))


def _per_step(x, kernel):
    """Whether the matmuls of `x (N, T, D)` and `kernel (D, H)` go per step."""
    N, H = x.shape[0], kernel.shape[-1]
    return H >= PER_STEP_UNITS and (N is None or N >= PER_STEP_BATCH)


def forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.rnn_forward`; returns `(outputs, hs, pre)`."""
    hs, outputs, pre, _ = _forward(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )
    return outputs, hs, pre


def _forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`forward`; returns `(hs, outputs, pre, o_last)`."""
    _check_steps(x, options.unroll)
    per_step = _per_step(x, kernel)
    x = sequence_inputs(xp, x, masks)  # (N, T, D)
    if per_step:
        xs = x  # x_t Wx + b is computed inside the loop
    else:  # x_t Wx + b for every t at once, over the N * T rows
        N, T, D = tf.unstack(tf.shape(x))
        xw = input_projection(xp, tf.reshape(x, (-1, D)), kernel, bias)
        xs = tf.reshape(xw, (N, T, tf.shape(xw)[-1]))  # -1 fails at N = 0
    args = (
        xs, h0, kernel, recurrent_kernel, bias, _column_mask(masks.mask),
        masks.recurrent_dropout,
    )  # fmt: skip
    hs, outputs, pre, o_last = _run_loop(_forward_loop, args, options, per_step)
    if outputs is None:  # no mask: o_t = h_t
        outputs = hs
    shape = x.shape[:2] + kernel.shape[1:]
    for t in (hs, outputs, pre):  # the compiled loop forgets static shapes
        if t is not None:
            t.set_shape(shape)
    o_last.set_shape(h0.shape)
    return hs, outputs, pre, o_last


def backward(
    d_outputs,
    d_last,
    dh_last,
    x,
    h0,
    kernel,
    recurrent_kernel,
    hs,
    pre,
    masks,
    options,
):
    """`ops.rnn_backward`.

    Takes either `d_outputs`, dL/do_t for every t, or `d_last`, dL/do_{T-1}
    alone (the layer returned the last output only); the other is `None`.
    """
    _check_steps(x, options.unroll)
    per_step = _per_step(x, kernel)
    r = masks.recurrent_dropout
    x = sequence_inputs(xp, x, masks)  # (N, T, D), as forward
    args = (
        d_outputs, dh_last, d_last, x, h0, hs, pre, kernel, recurrent_kernel,
        _column_mask(masks.mask), r,
    )  # fmt: skip
    results = _run_loop(_backward_loop, args, options, per_step)
    if per_step:
        dx, dh0, dkernel, drecurrent_kernel, dbias = results
    else:
        dts, dh0 = results  # (N, T, H), the book's dt of every step
        N, T, D = tf.unstack(tf.shape(x))
        H = tf.shape(kernel)[1]
        # The sums over t of the book's per-step weight gradients, hoisted:
        # the same equations, over the N * T rows of every step at once.
        h_prev = tf.concat([h0[:, None], hs[:, :-1]], axis=1)  # h_{t-1}
        h_in = recurrent_input(h_prev, None if r is None else r[:, None])
        dx, dkernel, drecurrent_kernel, dbias = weight_gradients(
            xp,
            tf.reshape(x, (-1, D)),
            tf.reshape(h_in, (-1, H)),
            tf.reshape(dts, (-1, H)),
            kernel,
        )
        dx = tf.reshape(dx, (N, T, D))
    for t, like in ((dx, x), (dh0, h0), (dkernel, kernel)):
        t.set_shape(like.shape)
    drecurrent_kernel.set_shape(recurrent_kernel.shape)
    dbias.set_shape(kernel.shape[1:])
    dx = sequence_inputs_backward(dx, masks)
    return dx, dh0, dkernel, drecurrent_kernel, dbias


# The N rows of a batch are N independent recurrences. Cut into
# BATCH_PARTS parts, each its own op, they run at the same time on
# TensorFlow's inter-op threads (one core each on 2 cores) inside a
# `tf.function`: each loop then does its small per-step work without waiting
# for the other core at every step. Parts have at least MIN_PART_ROWS rows.
BATCH_PARTS = 2
MIN_PART_ROWS = 8


def _batch_parts(x):
    """The row counts of the parts of `x`'s batch, or `None` for one part."""
    if BATCH_PARTS < 2 or tf.executing_eagerly():  # eager ops run in turn
        return None
    N = x.shape[0]
    if N is not None and N < BATCH_PARTS * MIN_PART_ROWS:
        return None
    n = tf.shape(x)[0] if N is None else N
    sizes = [n // BATCH_PARTS] * (BATCH_PARTS - 1)
    return sizes + [n - sum(sizes)]


def _split_rows(t, sizes):
    """`t` cut along its first axis into parts of `sizes` rows (or Nones)."""
    if t is None:
        return [None] * len(sizes)
    if all(isinstance(n, int) for n in sizes):
        return tf.split(t, sizes, axis=0)
    return tf.split(t, tf.stack(sizes), axis=0)


def _in_batch_parts(op, rows, weights, options):
    """`op(rows, weights, options)`, or inside a `tf.function` on a batch of
    at least `BATCH_PARTS * MIN_PART_ROWS` rows (or of unknown size),
    `BATCH_PARTS` such ops, one per part of the `rows` (batch-first
    tensors or `None`), that TensorFlow runs side by side, adding up their
    weight gradients. Their outputs are joined along the batch."""
    sizes = _batch_parts(rows[0])
    if sizes is None:
        return op(rows, weights, options)
    parts = [
        op(part, weights, options)
        for part in zip(*(_split_rows(t, sizes) for t in rows))
    ]
    return tuple(tf.concat(y, axis=0) for y in zip(*parts))


def scratch_rnn(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.scratch_rnn`: `forward` whose gradient is `backward`, in batch
    parts (`_in_batch_parts`)."""
    rows = (x, h0) + tuple(masks)
    weights = (kernel, recurrent_kernel, bias)
    return _in_batch_parts(_scratch_rnn, rows, weights, options)


def _scratch_rnn(rows, weights, options):
    """`scratch_rnn` on the rows of one part of the batch: one op."""
    x, h0, *masks = rows
    masks = Masks(*masks)
    kernel, recurrent_kernel, bias = weights

    @tf.custom_gradient
    def op(*inputs):
        # `stop_gradient`: no tape may record (and keep) the loop's insides;
        # the gradient is `grad`, nothing else.
        x, h0, kernel, recurrent_kernel, *maybe_bias = [
            tf.stop_gradient(t) for t in inputs
        ]
        b = maybe_bias[0] if maybe_bias else None
        hs, outputs, pre, o_last = _forward(
            x, h0, kernel, recurrent_kernel, b, masks, options
        )  # hs and pre are kept for the backward

        def grad(d_out, dh_last):
            d_out = tf.stop_gradient(d_out)
            if options.return_sequences:
                d_seq, d_last = d_out, None
            else:
                d_seq, d_last = None, d_out
            dx, dh0, dk, drk, db = backward(
                d_seq, d_last, tf.stop_gradient(dh_last), x, h0, kernel,
                recurrent_kernel, hs, pre, masks, options,
            )  # fmt: skip
            return (dx, dh0, dk, drk) + ((db,) if maybe_bias else ())

        out = outputs if options.return_sequences else o_last
        return (out, hs[:, -1]), grad

    args = (x, h0, kernel, recurrent_kernel) + (() if bias is None else (bias,))
    return op(*args)


def rnn_step(x, h_prev, kernel, recurrent_kernel, bias, options):
    """`ops.rnn_step`: one step of the book's `RNN`, its backward by hand."""

    @tf.custom_gradient
    def op(x, h_prev, kernel, recurrent_kernel, *maybe_bias):
        b = maybe_bias[0] if maybe_bias else None
        h_next, a = rnn_step_forward(
            xp, x, h_prev, kernel, recurrent_kernel, b, options
        )

        def grad(dh_next):
            dx, dh_prev, dk, drk, db = rnn_step_backward(
                xp, dh_next, x, h_prev, h_next, a, kernel, recurrent_kernel,
                options,
            )  # fmt: skip
            return (dx, dh_prev, dk, drk) + ((db,) if maybe_bias else ())

        return h_next, grad

    args = (x, h_prev, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))


# --- the LSTM -----------------------------------------------------------------
# The same loops and glue for the book's LSTM (`lstm_math`): the loops carry
# (h, c) forward and (dh, dc) backward. As for the RNN, the rest is done
# hoisted (the input projection before the forward loop and the weight
# gradients after the backward loop, as single matmuls over the N * T rows)
# or per step, inside the loops, as the book's `LSTM.forward` and
# `LSTM.backward` write them, chosen by the size of a step
# (`LSTM_PER_STEP_UNITS`, `LSTM_PER_STEP_BATCH`); and a third way for long
# sequences of small steps: the projection per step, the weight gradients
# by chunks of steps (`CHUNK_STEPS`, `_loop_ways`).

# From this many units H and batch rows N (of a batch part) on, the LSTM's
# loops do the input projection and the weight gradients step by step:
# hoisted, they need two more (N, T, 4H) temporaries (x Wx + b and dL/dA of
# every step), four times the RNN's, and at 4H columns a step's matmuls are
# big enough already at H = 32. Measured (training step, `tf.function`,
# D = 32, hoisted time / per-step time, interleaved, loaded 2-core machine):
# 1.18 at N x T x H = 256 x 200 x 256, 1.27 at 256 x 200 x 32, 0.99 and
# 1.02 at 256 x 20 x 256 and 256 x 20 x 32; but 0.75 at 32 x 200 x 256
# (parts of 16 rows: the per-step matmuls are too small).
LSTM_PER_STEP_UNITS = 32
LSTM_PER_STEP_BATCH = 128


def _lstm_ways(x, recurrent_kernel, options):
    """`_loop_ways` of the LSTM's loops on `x (N, T, D)`."""
    return _loop_ways(
        x, recurrent_kernel, LSTM_PER_STEP_UNITS, LSTM_PER_STEP_BATCH, options
    )


def _row_masks(m, T):
    """A dropout mask `(N, K)` or `(N, 4, K)` (per gate) for the `N * T`
    rows of a batch-major sequence (row n * T + t is sequence n), or
    `None`."""
    return None if m is None else tf.repeat(m, T, axis=0)


def _lstm_inputs(x, masks):
    """x as the kernel sees it `(N, T, D)` (padding zeroed, one input
    dropout mask applied), and the per-gate input masks of its rows (or
    `None`)."""
    m = masks.input_dropout
    if not lstm_math.per_gate(m):
        return sequence_inputs(xp, x, masks), None
    x = sequence_inputs(xp, x, masks._replace(input_dropout=None))
    return x, _row_masks(m, tf.shape(x)[1])


def _lstm_forward_loop(xs, h0, c0, kernel, recurrent_kernel, bias, m_in, m,
                       r, options, compiled, per_step):  # fmt: skip
    """The recurrence over `xs[:, t]`: `x_t Wx + b` `(N, T, 4H)`, or if
    `per_step` `x_t` itself `(N, T, D)`, projected inside the loop (with the
    per-gate input masks `m_in (N, 4, D)` or `None`; `kernel`, `bias` and
    `m_in` are used only then).

    Returns `(hs, cs, gates, outputs, pre, y_last)`: `(N, T, .)` each,
    `outputs` only with a mask (else `None`: they are `hs`), `pre` only for
    callable activations; `y_last` the last output `(N, H)`.
    """
    T = xs.shape[1] if options.unroll else tf.shape(xs)[1]

    def step(t, carry):
        h_prev, c_prev, *y_prev = carry
        xa_t = xs[:, t]
        if per_step:  # x_t Wx + b inside the loop, as the book's LSTM does
            xa_t = lstm_math.input_projection(xp, xa_t, kernel, bias, m_in)
        h, c, y, gates, A = lstm_math.step_forward(
            xp, xa_t, h_prev, c_prev, y_prev[0] if y_prev else None,
            recurrent_kernel, r, None if m is None else m[:, t], options,
        )  # fmt: skip
        outs = [h, c, gates] + ([y] if m is not None else [])
        outs += [A] if options.keeps_pre else []
        return ((h, c) if m is None else (h, c, y)), outs

    carry = (h0, c0) if m is None else (h0, c0, tf.zeros_like(h0))
    wide = tf.tile(h0, [1, 4])  # (N, 4H)
    templates = [h0, h0, wide] + [h0] * (m is not None)
    templates += [wide] * options.keeps_pre
    last, ys = _time_loop(step, T, carry, templates, options.unroll, compiled)
    hs, cs, gates = ys[:3]
    outputs = ys[3] if m is not None else None
    pre = ys[-1] if options.keeps_pre else None
    return hs, cs, gates, outputs, pre, last[0] if m is None else last[2]


def _lstm_backward_loop(
    d_outputs, dh_last, dc_last, d_last, x, h0, c0, hs, cs, gates, pre,
    kernel, recurrent_kernel, m_in, m, r, options, compiled, per_step,
):  # fmt: skip
    """The reverse recurrence: returns `(dAs, dh0, dc0)`, `dAs[:, t]` =
    dL/dA_t `(N, T, 4H)`; or, if `per_step` (1: per step, k > 1: by chunks
    of k steps, `_loop_ways`), the book's sums instead: `(dx, dh0, dc0, dWx,
    dWh, db)` (`x`, `h0`, `hs`, `kernel` and the per-gate input masks `m_in`
    are used only then). Either
    `d_outputs`, dL/dy_t for every t, or `d_last`, dL/dy_{T-1} alone, is
    `None`."""
    T = cs.shape[1] if options.unroll else tf.shape(cs)[1]
    chunk = int(per_step)

    def step(t, carry):
        dh, dc, dy_next, sums = carry  # from step t+1
        dA, dh_prev, dc_prev, dy_prev = lstm_math.step_backward(
            xp, dh, dc,
            None if d_outputs is None else d_outputs[:, t],  # dL/dy_t
            dy_next[0] if dy_next else None,
            gates[:, t], cs[:, t], _previous_state(cs, c0, t),
            None if pre is None else pre[:, t],
            recurrent_kernel, r, None if m is None else m[:, t], options,
        )  # fmt: skip
        dy_next = () if m is None else (dy_prev,)
        if not per_step:
            return (dh_prev, dc_prev, dy_next, sums), (dA,)
        rows = (x[:, t], _previous_state(hs, h0, t), dA)
        if chunk > 1:  # the weight gradients by chunks (`flush`)
            return (dh_prev, dc_prev, dy_next, sums), rows
        # The rest of the book's `LSTM.backward`, summed over the steps:
        dx, *grads = lstm_math.weight_gradients(xp, *rows, kernel, m_in, r)
        sums = tuple(s + g for s, g in zip(sums, grads))
        return (dh_prev, dc_prev, dy_next, sums), (dx,)

    def flush(buffers, sums):  # the chunk's x_t, h_{t-1}, dA (N, chunk, .)
        dx, *grads = lstm_math.weight_gradients(
            xp, *map(_rows, buffers), kernel,
            _row_masks(m_in, chunk), _row_masks(r, chunk),
        )  # fmt: skip
        return dx, tuple(s + g for s, g in zip(sums, grads))

    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh, dy = (dh_last if d_last is None else dh_last + d_last), ()
    else:
        dh = dh_last
        dy = (tf.zeros_like(dh_last) if d_last is None else d_last,)
    sums, templates = (), [tf.tile(dh_last, [1, 4])]  # dA (N, 4H)
    if per_step:
        sums = tuple(
            tf.zeros_like(w) for w in (kernel, recurrent_kernel, kernel[0])
        )
        templates = [x[:, 0]]  # dx (N, D)
    if chunk > 1:
        (dh0, dc0, _, _), dx, sums = _chunk_loop(
            step, T, (dh, dc_last, dy, ()), chunk, flush, sums,
            [x[:, 0], h0, tf.tile(dh_last, [1, 4])],
        )  # fmt: skip
        return (dx, dh0, dc0) + sums
    (dh0, dc0, _, sums), (ys,) = _time_loop(
        step, T, (dh, dc_last, dy, sums), templates, options.unroll,
        compiled, reverse=True,
    )  # fmt: skip
    return (ys, dh0, dc0) + sums  # per step: dx, dh0, dc0, dWx, dWh, db


def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.lstm_forward`; returns `(outputs, hs, cs, gates, pre)`."""
    hs, cs, gates, outputs, pre, _ = _lstm_forward(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options
    )
    return outputs, hs, cs, gates, pre


def _lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """`lstm_forward`; returns `(hs, cs, gates, outputs, pre, y_last)`."""
    _check_steps(x, options.unroll)
    per_step, _ = _lstm_ways(x, recurrent_kernel, options)
    x, m_rows = _lstm_inputs(x, masks)  # (N, T, D)
    if per_step:  # x_t Wx + b is computed inside the loop
        xs, weights = x, (kernel, bias, _gate_masks(masks))
    else:  # x_t Wx + b for every t at once, over the N * T rows
        N, T, D = tf.unstack(tf.shape(x))
        xa = lstm_math.input_projection(
            xp, tf.reshape(x, (-1, D)), kernel, bias, m_rows
        )
        xs = tf.reshape(xa, (N, T, tf.shape(xa)[-1]))  # -1 fails at N = 0
        weights = (None, None, None)
    args = (
        xs, h0, c0, weights[0], recurrent_kernel, *weights[1:],
        _column_mask(masks.mask), masks.recurrent_dropout,
    )  # fmt: skip
    hs, cs, gates, outputs, pre, y_last = _run_loop(
        _lstm_forward_loop, args, options, per_step
    )
    if outputs is None:  # no mask: y_t = h_t
        outputs = hs
    shape = x.shape[:2] + recurrent_kernel.shape[:1]
    for t in (hs, cs, outputs):  # the compiled loop forgets static shapes
        t.set_shape(shape)
    for t in (gates, pre):
        if t is not None:
            t.set_shape(x.shape[:2] + kernel.shape[1:])
    y_last.set_shape(h0.shape)
    return hs, cs, gates, outputs, pre, y_last


def lstm_backward(
    d_outputs, d_last, dh_last, dc_last, x, h0, c0, kernel, recurrent_kernel,
    hs, cs, gates, pre, masks, options,
):  # fmt: skip
    """`ops.lstm_backward`: either `d_outputs` (every step) or `d_last` (the
    last output alone) is `None`. Returns `(dx, dh0, dc0, dkernel,
    drecurrent_kernel, dbias)`."""
    _check_steps(x, options.unroll)
    _, per_step = _lstm_ways(x, recurrent_kernel, options)
    r = masks.recurrent_dropout
    seen, m_rows = _lstm_inputs(x, masks)  # (N, T, D), as forward
    if per_step:
        per_step_args = (seen, h0, hs, kernel, _gate_masks(masks))
    else:
        per_step_args = (None,) * 5
    x_in, h0_in, hs_in, kernel_in, m_in = per_step_args
    args = (
        d_outputs, dh_last, dc_last, d_last, x_in, h0_in, c0, hs_in, cs,
        gates, pre, kernel_in, recurrent_kernel, m_in,
        _column_mask(masks.mask), r,
    )  # fmt: skip
    results = _run_loop(_lstm_backward_loop, args, options, per_step)
    if per_step:
        dx, dh0, dc0, dkernel, drecurrent_kernel, dbias = results
        return _lstm_gradients(
            dx, dh0, dc0, dkernel, drecurrent_kernel, dbias, x, h0, c0,
            kernel, recurrent_kernel, masks, m_rows,
        )  # fmt: skip
    dAs, dh0, dc0 = results
    N, T, D = tf.unstack(tf.shape(seen))
    H = tf.shape(h0)[1]
    # The sums over t of the book's per-step weight gradients, hoisted.
    h_prev = tf.concat([h0[:, None], hs[:, :-1]], axis=1)  # h_{t-1}
    r_rows = None if r is None else _row_masks(r, T)
    dx, dkernel, drecurrent_kernel, dbias = lstm_math.weight_gradients(
        xp,
        tf.reshape(seen, (-1, D)),
        tf.reshape(h_prev, (-1, H)),
        tf.reshape(dAs, (-1, 4 * H)),
        kernel,
        m_rows,
        r_rows,
    )
    dx = tf.reshape(dx, (N, T, D))
    return _lstm_gradients(
        dx, dh0, dc0, dkernel, drecurrent_kernel, dbias, x, h0, c0, kernel,
        recurrent_kernel, masks, m_rows,
    )  # fmt: skip


def _gate_masks(masks):
    """The per-gate input dropout masks `(N, 4, D)`, or `None` (a single
    input mask is applied to x before the loops)."""
    m = masks.input_dropout
    return m if lstm_math.per_gate(m) else None


def _lstm_gradients(dx, dh0, dc0, dkernel, drecurrent_kernel, dbias, x, h0,
                    c0, kernel, recurrent_kernel, masks, m_rows):  # fmt: skip
    """The gradients, shaped, and dx through the input's own masks."""
    for t, like in ((dx, x), (dh0, h0), (dc0, c0), (dkernel, kernel)):
        t.set_shape(like.shape)
    drecurrent_kernel.set_shape(recurrent_kernel.shape)
    dbias.set_shape(kernel.shape[1:])
    if m_rows is None:
        dx = sequence_inputs_backward(dx, masks)
    return dx, dh0, dc0, dkernel, drecurrent_kernel, dbias


def scratch_lstm(x, h0, c0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.scratch_lstm`: `lstm_forward` whose gradient is `lstm_backward`,
    in batch parts (`_in_batch_parts`). Returns `(out, h_last, c_last)`."""
    rows = (x, h0, c0) + tuple(masks)
    weights = (kernel, recurrent_kernel, bias)
    return _in_batch_parts(_scratch_lstm, rows, weights, options)


def _scratch_lstm(rows, weights, options):
    """`scratch_lstm` on the rows of one part of the batch: one op."""
    x, h0, c0, *masks = rows
    masks = Masks(*masks)
    kernel, recurrent_kernel, bias = weights

    @tf.custom_gradient
    def op(*inputs):
        x, h0, c0, kernel, recurrent_kernel, *maybe_bias = [
            tf.stop_gradient(t) for t in inputs
        ]
        b = maybe_bias[0] if maybe_bias else None
        hs, cs, gates, outputs, pre, y_last = _lstm_forward(
            x, h0, c0, kernel, recurrent_kernel, b, masks, options
        )  # hs, cs, gates and pre are kept for the backward

        def grad(d_out, dh_last, dc_last):
            d_out = tf.stop_gradient(d_out)
            if options.return_sequences:
                d_seq, d_last = d_out, None
            else:
                d_seq, d_last = None, d_out
            dx, dh0, dc0, dk, drk, db = lstm_backward(
                d_seq, d_last, tf.stop_gradient(dh_last),
                tf.stop_gradient(dc_last), x, h0, c0, kernel,
                recurrent_kernel, hs, cs, gates, pre, masks, options,
            )  # fmt: skip
            return (dx, dh0, dc0, dk, drk) + ((db,) if maybe_bias else ())

        out = outputs if options.return_sequences else y_last
        return (out, hs[:, -1], cs[:, -1]), grad

    args = (x, h0, c0, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))


def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks,
              options):  # fmt: skip
    """`ops.lstm_step`: one step of the book's `LSTM`, its backward by hand.
    `masks` holds the dropout masks (constants) or `None`s."""
    m, r = masks.input_dropout, masks.recurrent_dropout

    @tf.custom_gradient
    def op(x, h_prev, c_prev, kernel, recurrent_kernel, *maybe_bias):
        b = maybe_bias[0] if maybe_bias else None
        h_next, c_next, gates, A = lstm_math.lstm_step_forward(
            xp, x, h_prev, c_prev, kernel, recurrent_kernel, b, m, r, options
        )

        def grad(dh_next, dc_next):
            dx, dh_prev, dc_prev, dk, drk, db = lstm_math.lstm_step_backward(
                xp, dh_next, dc_next, x, h_prev, c_prev, c_next, gates, A,
                kernel, recurrent_kernel, m, r, options,
            )  # fmt: skip
            grads = (dx, dh_prev, dc_prev, dk, drk)
            return grads + ((db,) if maybe_bias else ())

        return (h_next, c_next), grad

    args = (x, h_prev, c_prev, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))


# --- the GRU ------------------------------------------------------------------
# The same loops and glue for the GRU (`gru_math`), in both of Keras's forms:
# the loops carry h forward and dh backward. As for the LSTM, the rest is
# done hoisted (the input projection and the weight gradients as single
# matmuls over the N * T rows) or per step, by the size of a step, or for
# long sequences of small steps by chunks (`_loop_ways`).

# From this many units H and batch rows N (of a batch part) on, the GRU's
# loops do the input projection and the weight gradients step by step.
GRU_PER_STEP_UNITS = 32
GRU_PER_STEP_BATCH = 128


def _gru_inputs(x, masks):
    """x as the kernel sees it `(N, T, D)` (padding zeroed, one input
    dropout mask applied), and the per-gate input masks of its rows (or
    `None`)."""
    m = masks.input_dropout
    if not lstm_math.per_gate(m):
        return sequence_inputs(xp, x, masks), None
    x = sequence_inputs(xp, x, masks._replace(input_dropout=None))
    return x, _row_masks(m, tf.shape(x)[1])


def _gru_forward_loop(xs, h0, kernel, recurrent_kernel, b_x, b_h, m_in, m,
                      r, options, compiled, per_step):  # fmt: skip
    """The recurrence over `xs[:, t]`: `X_t = x_t Wx + b_x` `(N, T, 3H)`,
    or if `per_step` `x_t` itself `(N, T, D)`, projected inside the loop
    (with the per-gate input masks `m_in (N, 3, D)` or `None`; `kernel`,
    `b_x` and `m_in` are used only then).

    Returns `(hs, saved, outputs, pre, y_last)`: `(N, T, .)` each,
    `outputs` only with a mask (else `None`: they are `hs`), `pre` only for
    callable activations; `y_last` the last output `(N, H)`.
    """
    T = xs.shape[1] if options.unroll else tf.shape(xs)[1]

    def step(t, carry):
        h_prev, *y_prev = carry
        X_t = xs[:, t]
        if per_step:  # x_t Wx + b_x inside the loop, as the book's GRU does
            X_t = gru_math.input_projection(xp, X_t, kernel, b_x, m_in)
        h, y, saved, A = gru_math.step_forward(
            xp, X_t, h_prev, y_prev[0] if y_prev else None,
            recurrent_kernel, b_h, r, None if m is None else m[:, t], options,
        )  # fmt: skip
        outs = [h, saved] + ([y] if m is not None else [])
        outs += [A] if options.keeps_pre else []
        return ((h,) if m is None else (h, y)), outs

    carry = (h0,) if m is None else (h0, tf.zeros_like(h0))
    width = 4 if options.reset_after else 3  # z, r, hh (and R_h)
    templates = [h0, tf.tile(h0, [1, width])] + [h0] * (m is not None)
    templates += [tf.tile(h0, [1, 3])] * options.keeps_pre
    last, ys = _time_loop(step, T, carry, templates, options.unroll, compiled)
    hs, saved = ys[:2]
    outputs = ys[2] if m is not None else None
    pre = ys[-1] if options.keeps_pre else None
    return hs, saved, outputs, pre, last[-1]


def _gru_backward_loop(
    d_outputs, dh_last, d_last, x, h0, hs, saved, pre, kernel,
    recurrent_kernel, m_in, m, r, options, compiled, per_step,
):  # fmt: skip
    """The reverse recurrence: returns `(dXs, dh0)`, `dXs[:, t]` =
    dL/dX_t `(N, T, 3H)`; or, if `per_step` (1: per step, k > 1: by chunks
    of k steps, `_loop_ways`), the book's sums instead: `(dx, dh0, dWx, dWh,
    db_x[, db_h])` (`x`, `kernel` and the
    per-gate input masks `m_in` are used only then). Either `d_outputs`,
    dL/dy_t for every t, or `d_last`, dL/dy_{T-1} alone, is `None`."""
    T = hs.shape[1] if options.unroll else tf.shape(hs)[1]
    chunk = int(per_step)

    def step(t, carry):
        dh, dy_next, sums = carry  # from step t+1
        h_prev = _previous_state(hs, h0, t)
        dX, dh_prev, dy_prev = gru_math.step_backward(
            xp, dh,
            None if d_outputs is None else d_outputs[:, t],  # dL/dy_t
            dy_next[0] if dy_next else None,
            saved[:, t], h_prev,
            None if pre is None else pre[:, t],
            recurrent_kernel, r, None if m is None else m[:, t], options,
        )  # fmt: skip
        dy_next = () if m is None else (dy_prev,)
        if not per_step:
            return (dh_prev, dy_next, sums), (dX,)
        rows = (x[:, t], h_prev, dX, saved[:, t])
        if chunk > 1:  # the weight gradients by chunks (`flush`)
            return (dh_prev, dy_next, sums), rows
        # The rest of the book's `GRU.backward`, summed over the steps:
        dx, *grads = gru_math.weight_gradients(
            xp, *rows, kernel, m_in, r, options
        )
        sums = tuple(s + g for s, g in zip(sums, grads))  # no db_h: 3 sums
        return (dh_prev, dy_next, sums), (dx,)

    def flush(buffers, sums):  # the chunk's x_t, h_{t-1}, dX, saved
        dx, *grads = gru_math.weight_gradients(
            xp, *map(_rows, buffers), kernel, _row_masks(m_in, chunk),
            _row_masks(r, chunk), options,
        )  # fmt: skip
        return dx, tuple(s + g for s, g in zip(sums, grads))

    if m is None:  # y_{T-1} = h_{T-1}: one gradient
        dh, dy = (dh_last if d_last is None else dh_last + d_last), ()
    else:
        dh = dh_last
        dy = (tf.zeros_like(dh_last) if d_last is None else d_last,)
    sums, templates = (), [tf.tile(dh_last, [1, 3])]  # dX (N, 3H)
    if per_step:
        b = [kernel[0]] * (1 + options.reset_after)  # db_x (and db_h)
        sums = tuple(tf.zeros_like(w) for w in [kernel, recurrent_kernel] + b)
        templates = [x[:, 0]]  # dx (N, D)
    if chunk > 1:
        (dh0, _, _), dx, sums = _chunk_loop(
            step, T, (dh, dy, ()), chunk, flush, sums,
            [x[:, 0], h0, tf.tile(dh_last, [1, 3]), saved[:, 0]],
        )  # fmt: skip
        return (dx, dh0) + sums
    (dh0, _, sums), (ys,) = _time_loop(
        step, T, (dh, dy, sums), templates, options.unroll, compiled,
        reverse=True,
    )  # fmt: skip
    return (ys, dh0) + sums  # per step: dx, dh0, dWx, dWh, db_x[, db_h]


def gru_forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.gru_forward`; returns `(outputs, hs, saved, pre)`."""
    hs, saved, outputs, pre, _ = _gru_forward(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )
    return outputs, hs, saved, pre


def _gru_ways(x, recurrent_kernel, options):
    """`_loop_ways` of the GRU's loops on `x (N, T, D)`."""
    return _loop_ways(
        x, recurrent_kernel, GRU_PER_STEP_UNITS, GRU_PER_STEP_BATCH, options
    )


def _gru_forward(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`gru_forward`; returns `(hs, saved, outputs, pre, y_last)`."""
    _check_steps(x, options.unroll)
    per_step, _ = _gru_ways(x, recurrent_kernel, options)
    b_x, b_h = gru_math.split_bias(bias, options)
    x, m_rows = _gru_inputs(x, masks)  # (N, T, D)
    if per_step:  # x_t Wx + b_x is computed inside the loop
        xs, weights = x, (kernel, b_x, _gate_masks(masks))
    else:  # x_t Wx + b_x for every t at once, over the N * T rows
        N, T, D = tf.unstack(tf.shape(x))
        X = gru_math.input_projection(
            xp, tf.reshape(x, (-1, D)), kernel, b_x, m_rows
        )
        xs = tf.reshape(X, (N, T, tf.shape(X)[-1]))  # -1 fails at N = 0
        weights = (None, None, None)
    args = (
        xs, h0, weights[0], recurrent_kernel, weights[1], b_h, weights[2],
        _column_mask(masks.mask), masks.recurrent_dropout,
    )  # fmt: skip
    hs, saved, outputs, pre, y_last = _run_loop(
        _gru_forward_loop, args, options, per_step
    )
    if outputs is None:  # no mask: y_t = h_t
        outputs = hs
    shape = x.shape[:2] + recurrent_kernel.shape[:1]
    for t in (hs, outputs):  # the compiled loop forgets static shapes
        t.set_shape(shape)
    if pre is not None:
        pre.set_shape(x.shape[:2] + kernel.shape[1:])
    y_last.set_shape(h0.shape)
    return hs, saved, outputs, pre, y_last


def gru_backward(
    d_outputs, d_last, dh_last, x, h0, kernel, recurrent_kernel, bias, hs,
    saved, pre, masks, options,
):  # fmt: skip
    """`ops.gru_backward`: either `d_outputs` (every step) or `d_last` (the
    last output alone) is `None`. Returns `(dx, dh0, dkernel,
    drecurrent_kernel, dbias)`, `dbias` shaped like `bias` (or `None`)."""
    _check_steps(x, options.unroll)
    _, per_step = _gru_ways(x, recurrent_kernel, options)
    r = masks.recurrent_dropout
    seen, m_rows = _gru_inputs(x, masks)  # (N, T, D), as forward
    x_in, kernel_in, m_in = (
        (seen, kernel, _gate_masks(masks)) if per_step else (None,) * 3
    )
    args = (
        d_outputs, dh_last, d_last, x_in, h0, hs, saved, pre, kernel_in,
        recurrent_kernel, m_in, _column_mask(masks.mask), r,
    )  # fmt: skip
    results = _run_loop(_gru_backward_loop, args, options, per_step)
    if per_step:
        dx, dh0, dkernel, drecurrent_kernel, db_x, *db_h = results
        db_h = db_h[0] if db_h else None
    else:
        dXs, dh0 = results
        N, T, D = tf.unstack(tf.shape(seen))
        H = tf.shape(h0)[1]
        # The sums over t of the per-step weight gradients, hoisted.
        h_prev = tf.concat([h0[:, None], hs[:, :-1]], axis=1)  # h_{t-1}
        dx, dkernel, drecurrent_kernel, db_x, db_h = gru_math.weight_gradients(
            xp,
            tf.reshape(seen, (-1, D)),
            tf.reshape(h_prev, (-1, H)),
            tf.reshape(dXs, (-1, 3 * H)),
            tf.reshape(saved, (N * T, tf.shape(saved)[-1])),
            kernel,
            m_rows,
            None if r is None else _row_masks(r, T),
            options,
        )
        dx = tf.reshape(dx, (N, T, D))
    for t, like in ((dx, x), (dh0, h0), (dkernel, kernel)):
        t.set_shape(like.shape)
    drecurrent_kernel.set_shape(recurrent_kernel.shape)
    if m_rows is None:
        dx = sequence_inputs_backward(dx, masks)
    dbias = None
    if bias is not None:
        dbias = tf.stack([db_x, db_h]) if options.reset_after else db_x
        dbias.set_shape(bias.shape)
    return dx, dh0, dkernel, drecurrent_kernel, dbias


def scratch_gru(x, h0, kernel, recurrent_kernel, bias, masks, options):
    """`ops.scratch_gru`: `gru_forward` whose gradient is `gru_backward`, in
    batch parts (`_in_batch_parts`). Returns `(out, h_last)`."""
    rows = (x, h0) + tuple(masks)
    weights = (kernel, recurrent_kernel, bias)
    return _in_batch_parts(_scratch_gru, rows, weights, options)


def _scratch_gru(rows, weights, options):
    """`scratch_gru` on the rows of one part of the batch: one op."""
    x, h0, *masks = rows
    masks = Masks(*masks)
    kernel, recurrent_kernel, bias = weights

    @tf.custom_gradient
    def op(*inputs):
        x, h0, kernel, recurrent_kernel, *maybe_bias = [
            tf.stop_gradient(t) for t in inputs
        ]
        b = maybe_bias[0] if maybe_bias else None
        hs, saved, outputs, pre, y_last = _gru_forward(
            x, h0, kernel, recurrent_kernel, b, masks, options
        )  # hs, saved and pre are kept for the backward

        def grad(d_out, dh_last):
            d_out = tf.stop_gradient(d_out)
            if options.return_sequences:
                d_seq, d_last = d_out, None
            else:
                d_seq, d_last = None, d_out
            dx, dh0, dk, drk, db = gru_backward(
                d_seq, d_last, tf.stop_gradient(dh_last), x, h0, kernel,
                recurrent_kernel, b, hs, saved, pre, masks, options,
            )  # fmt: skip
            return (dx, dh0, dk, drk) + ((db,) if maybe_bias else ())

        out = outputs if options.return_sequences else y_last
        return (out, hs[:, -1]), grad

    args = (x, h0, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))


def gru_step(x, h_prev, kernel, recurrent_kernel, bias, masks, options):
    """`ops.gru_step`: one GRU step, its backward by hand. `masks` holds
    the dropout masks (constants) or `None`s."""
    m, r = masks.input_dropout, masks.recurrent_dropout

    @tf.custom_gradient
    def op(x, h_prev, kernel, recurrent_kernel, *maybe_bias):
        b = maybe_bias[0] if maybe_bias else None
        h_next, saved, A = gru_math.gru_step_forward(
            xp, x, h_prev, kernel, recurrent_kernel, b, m, r, options
        )

        def grad(dh_next):
            dx, dh_prev, dk, drk, db_x, db_h = gru_math.gru_step_backward(
                xp, dh_next, x, h_prev, saved, A, kernel, recurrent_kernel,
                m, r, options,
            )  # fmt: skip
            if not maybe_bias:
                return dx, dh_prev, dk, drk
            db = tf.stack([db_x, db_h]) if options.reset_after else db_x
            return dx, dh_prev, dk, drk, db

        return h_next, grad

    args = (x, h_prev, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))
