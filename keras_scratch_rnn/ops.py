"""The book's RNN as TensorFlow ops, with a handwritten backward.

`rnn_forward` runs the recurrence of `TimeRNN.forward` over a whole sequence,
`rnn_backward` is `TimeRNN.backward`: truncated backpropagation through time,
walking the steps in reverse order. `scratch_rnn` joins the two with
`tf.custom_gradient`, so TensorFlow never differentiates through the loop.
`rnn_step` is the book's single `RNN` step with its own backward.

The forward of step t (the book's notation, batch N, features D, units H):

    a_t = x_t Wx + b + h_{t-1} Wh        # Wx = kernel, Wh = recurrent_kernel
    y_t = act(a_t)
    h_t = y_t                            # mask_t false: h_t = h_{t-1}
    o_t = y_t                            # mask_t false: o_{t-1}, or 0

The loops carry only what feeds the recurrence, `h` forward and `dh`
backward. The rest is done one of two ways, chosen by the size of a step
(`PER_STEP_UNITS`, `PER_STEP_BATCH`):
- hoisted (small H or N): `x_t Wx + b` for all t before the loop, and `dWx`,
  `dWh`, `db`, `dx` after it, as single matmuls over the (N * T) rows;
- per step (large H and N): as the book's `RNN.forward` and `RNN.backward`
  write it, each step's matmuls and weight-gradient sums inside the loops,
  the two matmuls of a step done as one: `[x_t, h_{t-1}] [Wx; Wh]`.
Keras's dropout acts as two masks fixed for the whole sequence:
`x_t * input_dropout_mask` and `h_{t-1} * recurrent_dropout_mask`.

Activations: `"tanh"`, `"sigmoid"`, `"relu"` and `"linear"` have their
derivative written here, computed from the step's output `y_t`. Any other
callable `(N, H) -> (N, H)` (for instance `keras.activations.gelu`, or
`softmax`) is differentiated locally, one step at a time, by a
`tf.GradientTape` around the activation alone; that needs the
pre-activations `a_t`, which the forward then keeps.

Speed: the two loops (`_forward_loop`, `_backward_loop`) are compiled by XLA
(`XLA_LOOPS`), which turns a `tf.while_loop` step from tens of
microseconds of TensorFlow overhead into a few and writes each step in
place; the hoisted matmuls stay TensorFlow ops. XLA compiles once per
input shape, so eager calls run the plain loop (see `_run_loop`).
Everything is batch-major
(N, T, H), as Keras gives and wants it, so no sequence is ever transposed.
Inside a `tf.function`, `scratch_rnn` cuts the batch into `BATCH_PARTS`
parts, independent recurrences that run side by side (see `BATCH_PARTS`).
`rnn_forward` and `rnn_backward` are for reading, testing and calling by
hand; to differentiate, use `scratch_rnn` (TensorFlow cannot autodiff
through the compiled loops).
"""

import functools

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

HANDWRITTEN_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


def _activate(a, activation):
    if activation == "tanh":
        return tf.tanh(a)
    if activation == "sigmoid":
        return tf.sigmoid(a)
    if activation == "relu":
        return tf.nn.relu(a)
    if activation == "linear":
        return a
    return activation(a)


def _activation_backward(dy, y, a, activation):
    """dL/da for y = act(a), given dy = dL/dy (the book's `dt`)."""
    if activation == "tanh":
        return dy * (1.0 - y * y)  # tanh'(a) = 1 - tanh(a)^2
    if activation == "sigmoid":
        return dy * y * (1.0 - y)  # sigmoid'(a) = s(a) (1 - s(a))
    if activation == "relu":
        return tf.where(y > 0, dy, tf.zeros_like(dy))  # relu'(a) = [a > 0]
    if activation == "linear":
        return dy  # a' = 1
    with tf.GradientTape() as tape:  # the activation's own local gradient
        tape.watch(a)
        y = activation(a)
    return tape.gradient(y, a, output_gradients=dy)


def _check_activation(activation):
    if activation in HANDWRITTEN_ACTIVATIONS or callable(activation):
        return
    raise ValueError(
        "Received an invalid value for argument `activation`, expected one "
        f"of {HANDWRITTEN_ACTIVATIONS} or a callable, got {activation!r}."
    )


def _num_steps(x, unroll):
    """T: a Python int when unrolling (it must be static), else a tensor."""
    if not unroll:
        return tf.shape(x)[1]
    if x.shape[1] is None:
        raise ValueError(
            "Received `unroll=True` with an unknown number of timesteps: "
            f"x.shape={tuple(x.shape)}. Unrolling needs a static T."
        )
    return x.shape[1]


def _step_inputs(x, mask, input_dropout_mask):
    """x_t as the kernel sees it: padding zeroed, dropout applied."""
    if mask is not None:
        # A masked step never reaches the weights, so NaN or inf in padding
        # stays out of the outputs and the weight gradients.
        x = tf.where(mask[:, :, None], x, tf.zeros_like(x))
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    return x


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


def _forward_loop(
    xs,
    h0,
    kernel,
    recurrent_kernel,
    bias,
    m,
    r,
    activation,
    zero_output_for_mask,
    unroll,
    compiled,
    per_step,
):
    """The recurrence: `xs[:, t]` is `x_t` if `per_step`, else `x_t Wx + b`.

    Returns `(hs, outputs, pre, o_last)`: `hs`, `outputs` and `pre` are
    `(N, T, H)`; `outputs` is `None` without a mask (they are `hs`: returning
    one buffer twice would make XLA copy it), `pre` is `None` unless the
    activation is a callable; `o_last` is the last output `(N, H)`.
    """
    T = xs.shape[1] if unroll else tf.shape(xs)[1]
    keep_pre = callable(activation)
    zeros = tf.zeros_like(h0)
    if per_step:  # both matmuls of a step as one: [x_t, h] [Wx; Wh]
        W = tf.concat([kernel, recurrent_kernel], axis=0)  # (D + H, H)

    def step(t, carry):
        h_prev = carry[0]
        h_in = h_prev if r is None else h_prev * r
        if per_step:
            a = tf.matmul(tf.concat([xs[:, t], h_in], axis=1), W)
            if bias is not None:
                a = a + bias  # a_t = x_t Wx + h_{t-1} Wh + b
        else:
            a = xs[:, t] + tf.matmul(h_in, recurrent_kernel)  # ... + h Wh
        y = _activate(a, activation)  # y_t = act(a_t)
        pre = [a] if keep_pre else []
        if m is None:
            return (y,), [y] + pre  # h_t = o_t = y_t
        h = tf.where(m[:, t], y, h_prev)  # a masked step keeps the state
        o = tf.where(m[:, t], y, zeros if zero_output_for_mask else carry[1])
        return (h, o), [h, o] + pre  # ... and repeats o_{t-1}, or 0

    carry = (h0,) if m is None else (h0, zeros)  # o_t is carried if masked
    templates = [h0] * (len(carry) + keep_pre)
    last, ys = _time_loop(step, T, carry, templates, unroll, compiled)
    hs, o_last = ys[0], last[-1]
    outputs = ys[1] if m is not None else None
    pre = ys[-1] if keep_pre else None
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
    activation,
    zero_output_for_mask,
    unroll,
    compiled,
    per_step,
):
    """The reverse recurrence.

    Returns `(dts, dh0)`, with `dts[:, t]` the book's `dt` of step t,
    dL/da_t, `(N, T, H)`; or, if `per_step`, the book's per-step sums
    instead: `(dx, dh0, dWx, dWh, db)`. Either `d_outputs`, dL/do_t for
    every t, or `d_last`, dL/do_{T-1} alone, is `None`.
    """
    T = hs.shape[1] if unroll else tf.shape(hs)[1]
    zeros = tf.zeros_like(dh_last)
    D = tf.shape(kernel)[0]  # static only at run time: the loop is shared
    if per_step:  # both matmuls of a step as one, as in the forward
        W = tf.concat([kernel, recurrent_kernel], axis=0)  # (D + H, H)

    def step(t, carry):
        dh, do, sums = carry  # dL/dh_t from step t+1; masked: dL/do_t too
        g = None if d_outputs is None else d_outputs[:, t]  # dL/do_t
        if do:  # with a mask, o_{t+1} may be o_t
            g = do[0] if g is None else g + do[0]
        a_t = None if pre is None else pre[:, t]
        dy = dh if g is None else dh + g  # dL/dy_t, as h_t = o_t = y_t
        dt = _activation_backward(dy, hs[:, t], a_t, activation)
        # dt = dL/da_t = dL/dy_t * act'(a_t)
        if m is not None:
            dt = tf.where(m[:, t], dt, zeros)  # y_t is unused at a masked step
            dh_skip = tf.where(m[:, t], zeros, dh)  # h_t = h_{t-1} if masked
            do_prev = (
                zeros if zero_output_for_mask else tf.where(m[:, t], zeros, g)
            )
            do = (do_prev,)  # o_t = o_{t-1} when masked
        if per_step:
            dxh = tf.matmul(dt, W, transpose_b=True)  # dt [Wx; Wh]^T
            dx, dh_prev = dxh[:, :D], dxh[:, D:]  # dt Wx^T, dt Wh^T
        else:
            dh_prev = tf.matmul(dt, recurrent_kernel, transpose_b=True)
            # dh_prev = dt Wh^T
        if r is not None:
            dh_prev = dh_prev * r  # through h_{t-1} * r
        if m is not None:
            dh_prev = dh_prev + dh_skip
        if not per_step:
            return (dh_prev, do, sums), (dt,)
        # The rest of the book's `RNN.backward`, summed over the steps:
        dW, db = sums
        h_in = _previous_state(hs, h0, t)
        if r is not None:
            h_in = h_in * r  # h_{t-1} as it entered Wh
        xh = tf.concat([x[:, t], h_in], axis=1)  # [x_t, h_{t-1}]
        dW = dW + tf.matmul(xh, dt, transpose_a=True)
        # [dWx; dWh] += [x_t, h_{t-1}]^T dt
        db = db + tf.reduce_sum(dt, axis=0)  # db += sum dt
        return (dh_prev, do, (dW, db)), (dx,)

    if m is None:  # o_{T-1} = h_{T-1}: one gradient
        dh, do = (dh_last if d_last is None else dh_last + d_last), ()
    else:
        do = (zeros if d_last is None else d_last,)
        dh = dh_last
    sums, templates = (), [dh_last]
    if per_step:
        sums = (tf.zeros_like(W), tf.zeros_like(recurrent_kernel[0]))
        templates = [x[:, 0]]
    (dh0, _, sums), (ys,) = _time_loop(
        step, T, (dh, do, sums), templates, unroll, compiled, reverse=True
    )
    if not per_step:
        return ys, dh0
    dW, db = sums
    return ys, dh0, dW[:D], dW[D:], db  # dx, dh0, dWx, dWh, db


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


def _run_loop(fn, args, activation, zero_output_for_mask, unroll, per_step):
    """`fn(*args)` with its static options bound, in a shared `tf.function`.

    Each function is traced once, for any shape (every dimension `None`),
    and shared by all layers. XLA compiles it (a tight native loop: a few
    us per step instead of tens), unless `unroll` or called eagerly.
    """
    options = dict(
        activation=activation,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        per_step=per_step,
    )
    if unroll:  # a Python loop, traced into the caller's graph
        return fn(*args, compiled=False, **options)
    specs = tuple(
        None if a is None else tf.TensorSpec([None] * a.shape.rank, a.dtype)
        for a in args
    )
    key = (fn, specs, *options.values())
    compiled = XLA_LOOPS and not tf.executing_eagerly()
    if (key, compiled) not in _LOOPS:
        bound = functools.partial(fn, compiled=compiled, **options)
        # A partial, not a closure: TensorFlow counts the traces of all
        # functions sharing a `__code__` together, and would warn about
        # retracing when each loop traces once.
        loop = functools.partial(_with_nones, bound, specs)
        _LOOPS[key, compiled] = tf.function(
            loop,
            input_signature=[s for s in specs if s is not None],
            jit_compile=compiled,
            autograph=False,
        )
    return _LOOPS[key, compiled](*(a for a in args if a is not None))


def _per_step(x, kernel):
    """Whether the matmuls of `x (N, T, D)` and `kernel (D, H)` go per step."""
    N, H = x.shape[0], kernel.shape[-1]
    return H >= PER_STEP_UNITS and (N is None or N >= PER_STEP_BATCH)


def _forward(
    x,
    h0,
    kernel,
    recurrent_kernel,
    bias,
    mask,
    input_dropout_mask,
    recurrent_dropout_mask,
    activation,
    zero_output_for_mask,
    unroll,
):
    """`rnn_forward`; returns `(hs, outputs, pre, o_last)`."""
    _num_steps(x, unroll)
    per_step = _per_step(x, kernel)
    x = _step_inputs(x, mask, input_dropout_mask)  # (N, T, D)
    if per_step:
        xs = x  # x_t Wx + b is computed inside the loop
    else:
        N, T, D = tf.unstack(tf.shape(x))
        xw = tf.matmul(tf.reshape(x, (-1, D)), kernel)  # (N * T, H): x_t Wx
        if bias is not None:
            xw = xw + bias  # x_t Wx + b
        xs = tf.reshape(xw, (N, T, -1))
    args = (
        xs, h0, kernel, recurrent_kernel, bias, _column_mask(mask),
        recurrent_dropout_mask,
    )  # fmt: skip
    hs, outputs, pre, o_last = _run_loop(
        _forward_loop, args, activation, zero_output_for_mask, unroll, per_step
    )
    if outputs is None:  # no mask: o_t = h_t
        outputs = hs
    shape = x.shape[:2] + kernel.shape[1:]
    for t in (hs, outputs, pre):  # the compiled loop forgets static shapes
        if t is not None:
            t.set_shape(shape)
    o_last.set_shape(h0.shape)
    return hs, outputs, pre, o_last


def _backward(
    d_outputs,
    d_last,
    dh_last,
    x,
    h0,
    kernel,
    recurrent_kernel,
    hs,
    pre,
    mask,
    input_dropout_mask,
    recurrent_dropout_mask,
    activation,
    zero_output_for_mask,
    unroll,
):
    """`rnn_backward`.

    Takes either `d_outputs`, dL/do_t for every t, or `d_last`, dL/do_{T-1}
    alone (the layer returned the last output only); the other is `None`.
    """
    _num_steps(x, unroll)
    per_step = _per_step(x, kernel)
    r = recurrent_dropout_mask
    x = _step_inputs(x, mask, input_dropout_mask)  # (N, T, D), as forward
    args = (
        d_outputs, dh_last, d_last, x, h0, hs, pre, kernel, recurrent_kernel,
        _column_mask(mask), r,
    )  # fmt: skip
    results = _run_loop(
        _backward_loop, args, activation, zero_output_for_mask, unroll,
        per_step,
    )  # fmt: skip
    if per_step:
        dx, dh0, dkernel, drecurrent_kernel, dbias = results
    else:
        dts, dh0 = results  # (N, T, H), the book's dt of every step
        N, T, D = tf.unstack(tf.shape(x))
        H = tf.shape(kernel)[1]
        # The sums over t of the book's per-step weight gradients, hoisted:
        dts_2d = tf.reshape(dts, (-1, H))  # (N * T, H), row n * T + t
        x_2d = tf.reshape(x, (-1, D))
        dkernel = tf.matmul(x_2d, dts_2d, transpose_a=True)  # dWx = sum x^T dt
        dbias = tf.reduce_sum(dts_2d, axis=0)  # db = sum dt
        dx = tf.reshape(tf.matmul(dts_2d, kernel, transpose_b=True), (N, T, D))
        # dx_t = dt Wx^T
        h_in = hs if r is None else hs * r[:, None, :]  # h_t as it enters Wh
        h0_in = h0 if r is None else h0 * r
        h_2d = tf.reshape(h_in, (-1, H))
        # dWh = sum_t h_{t-1}^T dt_t. Row k of `h_2d` is h_{t-1} of row k+1
        # of `dts_2d` (one slice, no copy), except where row k+1 starts a new
        # sequence: there h0 is h_{t-1}; that pair is taken out and put in.
        drecurrent_kernel = (
            tf.matmul(h_2d[:-1], dts_2d[1:], transpose_a=True)
            - tf.matmul(h_in[:-1, -1], dts[1:, 0], transpose_a=True)
            + tf.matmul(h0_in, dts[:, 0], transpose_a=True)
        )
    for t, like in ((dx, x), (dh0, h0), (dkernel, kernel)):
        t.set_shape(like.shape)
    drecurrent_kernel.set_shape(recurrent_kernel.shape)
    dbias.set_shape(kernel.shape[1:])
    if input_dropout_mask is not None:
        dx = dx * input_dropout_mask[:, None, :]  # through x_t * mask
    return dx, dh0, dkernel, drecurrent_kernel, dbias


def rnn_forward(
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
    """Forward pass of the book's `TimeRNN` over a whole sequence.

    Args:
        x: Inputs, shape `(N, T, D)`.
        h0: Initial state `h_{-1}`, shape `(N, H)`.
        kernel: `Wx`, shape `(D, H)`.
        recurrent_kernel: `Wh`, shape `(H, H)`.
        bias: `b`, shape `(H,)`, or `None` for no bias.
        mask: Boolean `(N, T)`, `False` at padded steps, or `None`.
        input_dropout_mask: `(N, D)` multiplier of every `x_t`, or `None`.
        recurrent_dropout_mask: `(N, H)` multiplier of every `h_{t-1}` as it
            enters `Wh`, or `None`.
        activation: One of `"tanh"`, `"sigmoid"`, `"relu"`, `"linear"`, or a
            callable mapping `(N, H)` to `(N, H)`.
        zero_output_for_mask: If `True`, masked steps output zeros; else they
            repeat the previous output (zeros before the first unmasked step).
        unroll: Use a Python loop over a static `T` instead of a
            `tf.while_loop` (XLA-compiled inside a `tf.function`).

    Returns:
        `(outputs, hs, pre)`: the outputs `o_t` and the states `h_t`, both
        `(N, T, H)` (the same tensor without a mask), and the
        pre-activations `a_t` `(N, T, H)` when `activation` is a callable
        (else `None`). `hs[:, -1]` is the final state.
    """
    _check_activation(activation)
    hs, outputs, pre, _ = _forward(
        x, h0, kernel, recurrent_kernel, bias, mask, input_dropout_mask,
        recurrent_dropout_mask, activation, zero_output_for_mask, unroll,
    )  # fmt: skip
    return outputs, hs, pre


def rnn_backward(
    d_outputs,
    dh_last,
    x,
    h0,
    kernel,
    recurrent_kernel,
    hs,
    pre=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    zero_output_for_mask=False,
    unroll=False,
):
    """Handwritten backpropagation through time, the book's `TimeRNN.backward`.

    Walks t = T-1, ..., 0 (reverse order: the gradient of h_t needs the one
    of h_{t+1} first) carrying `dh`, the gradient reaching `h_t` from the
    future, and returns the gradients of every input of `rnn_forward`.

    Args:
        d_outputs: dL/do_t for every step, `(N, T, H)`.
        dh_last: dL/dh_{T-1} from outside (the returned final state),
            `(N, H)`.
        x, h0, kernel, recurrent_kernel: As given to `rnn_forward`.
        hs: The states returned by `rnn_forward`.
        pre: The pre-activations returned by `rnn_forward` (callable
            activations only).
        mask, input_dropout_mask, recurrent_dropout_mask, activation,
        zero_output_for_mask, unroll: As given to `rnn_forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, shaped like
        `x, h0, kernel, recurrent_kernel` and `(H,)`.
    """
    _check_activation(activation)
    return _backward(
        d_outputs, None, dh_last, x, h0, kernel, recurrent_kernel, hs, pre,
        mask, input_dropout_mask, recurrent_dropout_mask, activation,
        zero_output_for_mask, unroll,
    )  # fmt: skip


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


def scratch_rnn(
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
    """`rnn_forward` whose gradient is `rnn_backward` (`tf.custom_gradient`).

    Pass tensors, not Keras variables: read the weights first (e.g.
    `tf.convert_to_tensor(layer.kernel)`); their gradients then flow back
    through that read like any input gradient. The masks are constants.

    Inside a `tf.function`, a batch of at least `BATCH_PARTS *
    MIN_PART_ROWS` rows (or of unknown size) becomes `BATCH_PARTS` such ops,
    one per part of its rows, that TensorFlow runs at the same time.

    Args: as `rnn_forward`, plus
        return_sequences: If `False`, return the last output `(N, H)` only;
            the backward then never builds a `(N, T, H)` output gradient.

    Returns:
        `(outputs, h_last)`: `(N, T, H)` (or `(N, H)`) and the final state
        `(N, H)`.
    """
    _check_activation(activation)
    rows = (x, h0, mask, input_dropout_mask, recurrent_dropout_mask)
    weights = (kernel, recurrent_kernel, bias)
    static = (activation, zero_output_for_mask, unroll, return_sequences)
    sizes = _batch_parts(x)
    if sizes is None:
        return _scratch_rnn(rows, weights, static)
    # Each part of the batch is an op of its own; TensorFlow runs them side
    # by side and adds up their weight gradients.
    parts = [
        _scratch_rnn(part, weights, static)
        for part in zip(*(_split_rows(t, sizes) for t in rows))
    ]
    outputs, h_last = (tf.concat(y, axis=0) for y in zip(*parts))
    return outputs, h_last


def _scratch_rnn(rows, weights, static):
    """`scratch_rnn` on the rows of one part of the batch: one op."""
    x, h0, *masks = rows
    kernel, recurrent_kernel, bias = weights
    *static, return_sequences = static

    @tf.custom_gradient
    def op(*inputs):
        # `stop_gradient`: no tape may record (and keep) the loop's insides;
        # the gradient is `grad`, nothing else.
        x, h0, kernel, recurrent_kernel, *maybe_bias = [
            tf.stop_gradient(t) for t in inputs
        ]
        b = maybe_bias[0] if maybe_bias else None
        hs, outputs, pre, o_last = _forward(
            x, h0, kernel, recurrent_kernel, b, *masks, *static
        )  # hs and pre are kept for the backward

        def grad(d_out, dh_last):
            d_out = tf.stop_gradient(d_out)
            d_seq, d_last = (d_out, None) if return_sequences else (None, d_out)
            dx, dh0, dk, drk, db = _backward(
                d_seq, d_last, tf.stop_gradient(dh_last), x, h0, kernel,
                recurrent_kernel, hs, pre, *masks, *static,
            )  # fmt: skip
            return (dx, dh0, dk, drk) + ((db,) if maybe_bias else ())

        out = outputs if return_sequences else o_last
        return (out, hs[:, -1]), grad

    args = (x, h0, kernel, recurrent_kernel) + (() if bias is None else (bias,))
    return op(*args)


def rnn_step(x, h_prev, kernel, recurrent_kernel, bias=None, activation="tanh"):
    """One step of the book's `RNN`, with its handwritten backward.

    Args:
        x: `x_t`, shape `(N, D)`.
        h_prev: `h_{t-1}`, shape `(N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, H)`, `Wh (H, H)`, `b (H,)`
            or `None`.
        activation: As in `rnn_forward`.

    Returns:
        `h_next = act(x Wx + h_prev Wh + b)`, shape `(N, H)`.
    """
    _check_activation(activation)

    @tf.custom_gradient
    def op(x, h_prev, kernel, recurrent_kernel, *maybe_bias):
        a = tf.matmul(x, kernel) + tf.matmul(h_prev, recurrent_kernel)
        if maybe_bias:
            a = a + maybe_bias[0]  # a = x Wx + h_prev Wh + b
        h_next = _activate(a, activation)  # h_next = act(a)

        def grad(dh_next):
            dt = _activation_backward(dh_next, h_next, a, activation)
            dx = tf.matmul(dt, kernel, transpose_b=True)  # dx = dt Wx^T
            dh_prev = tf.matmul(dt, recurrent_kernel, transpose_b=True)
            # dh_prev = dt Wh^T
            dk = tf.matmul(x, dt, transpose_a=True)  # dWx = x^T dt
            drk = tf.matmul(h_prev, dt, transpose_a=True)  # dWh = h_prev^T dt
            if not maybe_bias:
                return dx, dh_prev, dk, drk
            db = tf.reduce_sum(dt, axis=0)  # db = sum dt
            return dx, dh_prev, dk, drk, db

        return h_next, grad

    args = (x, h_prev, kernel, recurrent_kernel)
    return op(*args + (() if bias is None else (bias,)))
