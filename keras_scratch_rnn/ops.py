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

Everything that does not feed the recurrence is hoisted out of the loop:
`x_t Wx + b` for all t before it, and `dWx`, `dWh`, `db`, `dx` after the
backward loop, as single matmuls over the (T * N) rows. The loop itself only
carries `h` forward and `dh` backward. Keras's dropout acts as two masks
fixed for the whole sequence: `x_t * input_dropout_mask` and
`h_{t-1} * recurrent_dropout_mask`.

Activations: `"tanh"`, `"sigmoid"`, `"relu"` and `"linear"` have their
derivative written here, computed from the step's output `y_t`. Any other
callable `(N, H) -> (N, H)` (for instance `keras.activations.gelu`, or
`softmax`) is differentiated locally, one step at a time, by a
`tf.GradientTape` around the activation alone; that needs the
pre-activations `a_t`, which the forward then keeps.

Speed: the two loops (`_forward_loop`, `_backward_loop`) are compiled by XLA
(`XLA_LOOPS`), which turns a `tf.while_loop` step from tens of
microseconds of TensorFlow overhead into a few; the hoisted matmuls stay
TensorFlow ops. Internally everything is time-major (T, N, H), so the loops
read and write whole contiguous steps. `rnn_forward` and `rnn_backward` are
for reading, testing and calling by hand; to differentiate, use
`scratch_rnn` (TensorFlow cannot autodiff through the compiled loops).
"""

import functools

import tensorflow as tf

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


def _time_major(x):
    """(N, T, ...) <-> (T, N, ...)."""
    return tf.transpose(x, [1, 0, 2])


def _time_major_mask(mask):
    """A (N, T) mask as (T, N, 1), to select whole rows of step t; or None."""
    return None if mask is None else _time_major(mask[:, :, None])


def _step_inputs(x, mask, input_dropout_mask):
    """x_t as the kernel sees it: padding zeroed, dropout applied."""
    if mask is not None:
        # A masked step never reaches the weights, so NaN or inf in padding
        # stays out of the outputs and the weight gradients.
        x = tf.where(mask[:, :, None], x, tf.zeros_like(x))
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    return x


def _time_loop(step, T, carry, num_outputs, unroll, reverse=False):
    """Runs `carry, ys = step(t, carry)` for t = 0..T-1 (or T-1..0).

    Returns the last carry and each of the `num_outputs` per-step outputs
    stacked in time order, shape (T, ...). With `unroll`, T is a Python int
    and the loop is a Python loop; else it is a `tf.while_loop`.
    """
    if unroll:
        order = range(T - 1, -1, -1) if reverse else range(T)
        ys = [[None] * T for _ in range(num_outputs)]
        for t in order:
            carry, outs = step(t, carry)
            for k, y in enumerate(outs):
                ys[k][t] = y
        return carry, tuple(tf.stack(y) for y in ys)

    element_shape = tf.nest.flatten(carry)[0].shape
    dtype = tf.nest.flatten(carry)[0].dtype
    arrays = tuple(
        tf.TensorArray(dtype, size=T, element_shape=element_shape)
        for _ in range(num_outputs)
    )

    def body(i, carry, arrays):
        t = T - 1 - i if reverse else i
        carry, outs = step(t, carry)
        arrays = tuple(ta.write(t, y) for ta, y in zip(arrays, outs))
        return i + 1, carry, arrays

    _, carry, arrays = tf.while_loop(
        lambda i, *_: i < T, body, (0, carry, arrays), maximum_iterations=T
    )
    return carry, tuple(ta.stack() for ta in arrays)


def _forward_loop(
    xw, h0, recurrent_kernel, m, r, activation, zero_output_for_mask, unroll
):
    """The recurrence, time-major: `xw[t] = x_t Wx + b`, `m[t]` (N, 1).

    Returns `(hs, outputs, pre)`, each `(T, N, H)`; `outputs` is `hs`
    without a mask, `pre` is `None` unless the activation is a callable.
    """
    T = xw.shape[0] if unroll else tf.shape(xw)[0]
    keep_pre = callable(activation)
    zeros = tf.zeros_like(h0)

    def step(t, carry):
        h_prev, o_prev = carry
        h_in = h_prev if r is None else h_prev * r
        a = xw[t] + tf.matmul(h_in, recurrent_kernel)  # a_t = x_t Wx + b + h Wh
        y = _activate(a, activation)  # y_t = act(a_t)
        if m is None:
            h = o = y
        else:
            h = tf.where(m[t], y, h_prev)  # a masked step keeps the state
            o = tf.where(m[t], y, zeros if zero_output_for_mask else o_prev)
        outs = [h] + ([o] if m is not None else []) + ([a] if keep_pre else [])
        return (h, o), outs

    num_outputs = 1 + (m is not None) + keep_pre
    _, ys = _time_loop(step, T, (h0, zeros), num_outputs, unroll)
    hs = ys[0]
    outputs = ys[1] if m is not None else hs
    pre = ys[-1] if keep_pre else None
    return hs, outputs, pre


def _backward_loop(
    d_outputs,
    dh_last,
    do_last,
    hs,
    pre,
    recurrent_kernel,
    m,
    r,
    activation,
    zero_output_for_mask,
    unroll,
):
    """The reverse recurrence; returns `(dts, dh0)`.

    `dts[t]` is the book's `dt` of step t, dL/da_t, shape `(T, N, H)`.
    `hs`, `pre` and `m` are time-major; `d_outputs` stays batch-major
    `(N, T, H)` as the caller gave it (a transposed copy would cost as much
    memory as `hs`), or is `None` when only the last output was used: its
    gradient `do_last` then starts the output carry.
    """
    T = hs.shape[0] if unroll else tf.shape(hs)[0]
    zeros = tf.zeros_like(dh_last)

    def step(t, carry):
        dh, do = carry  # dL/dh_t from step t+1; dL/do_t from o_{t+1} = o_t
        g = do if d_outputs is None else d_outputs[:, t] + do  # dL/do_t
        a_t = None if pre is None else pre[t]
        dt = _activation_backward(dh + g, hs[t], a_t, activation)
        # dt = dL/da_t = (dh_t + do_t) * act'(a_t), as h_t = o_t = y_t
        if m is None:
            dh_skip = do_prev = zeros
        else:
            dt = tf.where(m[t], dt, zeros)  # y_t is unused at a masked step
            dh_skip = tf.where(m[t], zeros, dh)  # h_t = h_{t-1} when masked
            do_prev = (
                zeros if zero_output_for_mask else tf.where(m[t], zeros, g)
            )  # o_t = o_{t-1} when masked
        dh_prev = tf.matmul(dt, recurrent_kernel, transpose_b=True)  # dt Wh^T
        if r is not None:
            dh_prev = dh_prev * r  # through h_{t-1} * r
        return (dh_prev + dh_skip, do_prev), (dt,)

    (dh0, _), (dts,) = _time_loop(
        step, T, (dh_last, do_last), 1, unroll, reverse=True
    )
    return dts, dh0


# Compile the loops with XLA (see `_loop`); `False` runs plain while loops.
XLA_LOOPS = True

_COMPILED_LOOPS = {}


def _loop(fn, activation, zero_output_for_mask, unroll):
    """`fn` with its static options bound; XLA-compiled unless `unroll`.

    XLA turns the `tf.while_loop` into a tight native loop (a few us per
    step instead of tens); one compiled function per options set, shared by
    all layers, compiled again for each new input shape.
    """
    compile_loop = XLA_LOOPS and not unroll
    key = (fn, activation, zero_output_for_mask, unroll, compile_loop)
    if key not in _COMPILED_LOOPS:
        bound = functools.partial(
            fn,
            activation=activation,
            zero_output_for_mask=zero_output_for_mask,
            unroll=unroll,
        )
        _COMPILED_LOOPS[key] = (
            bound
            if not compile_loop
            else tf.function(
                bound, jit_compile=True, reduce_retracing=True, autograph=False
            )
        )
    return _COMPILED_LOOPS[key]


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
    """`rnn_forward`, time-major results `(hs, outputs, pre)`."""
    _num_steps(x, unroll)
    x = _step_inputs(x, mask, input_dropout_mask)  # (N, T, D)
    xw = tf.tensordot(_time_major(x), kernel, axes=1)  # (T, N, H): x_t Wx
    if bias is not None:
        xw = xw + bias  # x_t Wx + b
    m = _time_major_mask(mask)  # (T, N, 1) or None
    loop = _loop(_forward_loop, activation, zero_output_for_mask, unroll)
    results = loop(xw, h0, recurrent_kernel, m, recurrent_dropout_mask)
    for t in results:  # the compiled loop forgets the static shapes
        if t is not None:
            t.set_shape(xw.shape)
    return results


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
    """`rnn_backward` on time-major `hs` and `pre`.

    Takes either `d_outputs`, dL/do_t for every t, or `d_last`, dL/do_{T-1}
    alone (the layer returned the last output only); the other is `None`.
    """
    _num_steps(x, unroll)
    D, H = tf.unstack(tf.shape(kernel))
    m = _time_major_mask(mask)  # (T, N, 1) or None
    r = recurrent_dropout_mask
    loop = _loop(_backward_loop, activation, zero_output_for_mask, unroll)
    do_last = tf.zeros_like(dh_last) if d_last is None else d_last
    dts, dh0 = loop(
        d_outputs, dh_last, do_last, hs, pre, recurrent_kernel, m, r
    )
    dts.set_shape(hs.shape)
    dh0.set_shape(h0.shape)
    # dts: (T, N, H), the book's dt of every step

    # The sums over t of the book's per-step weight gradients, hoisted.
    dts_2d = tf.reshape(dts, (-1, H))  # (T * N, H)
    h_prev = hs[:-1] if r is None else hs[:-1] * r  # h_{t-1}, t = 1..T-1
    h0_in = h0 if r is None else h0 * r
    drecurrent_kernel = tf.matmul(h0_in, dts[0], transpose_a=True) + tf.matmul(
        tf.reshape(h_prev, (-1, H)),
        tf.reshape(dts[1:], (-1, H)),
        transpose_a=True,
    )  # dWh = sum_t h_{t-1}^T dt
    x = _step_inputs(x, mask, input_dropout_mask)  # (N, T, D), as forward
    x_2d = tf.reshape(_time_major(x), (-1, D))  # (T * N, D)
    dkernel = tf.matmul(x_2d, dts_2d, transpose_a=True)  # dWx = sum x_t^T dt
    dbias = tf.reduce_sum(dts_2d, axis=0)  # db = sum_t dt
    dx = _time_major(tf.tensordot(dts, tf.transpose(kernel), axes=1))
    # dx_t = dt Wx^T
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
        unroll: Use a Python loop over a static `T` instead of an
            XLA-compiled `tf.while_loop`.

    Returns:
        `(outputs, hs, pre)`: the outputs `o_t` and the states `h_t`, both
        `(N, T, H)` (the same tensor without a mask), and the
        pre-activations `a_t` `(N, T, H)` when `activation` is a callable
        (else `None`). `hs[:, -1]` is the final state.
    """
    _check_activation(activation)
    hs, outputs, pre = _forward(
        x, h0, kernel, recurrent_kernel, bias, mask, input_dropout_mask,
        recurrent_dropout_mask, activation, zero_output_for_mask, unroll,
    )  # fmt: skip
    hs_b = _time_major(hs)
    outputs_b = hs_b if mask is None else _time_major(outputs)
    return outputs_b, hs_b, None if pre is None else _time_major(pre)


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
        d_outputs, None, dh_last, x, h0, kernel, recurrent_kernel,
        _time_major(hs), None if pre is None else _time_major(pre), mask,
        input_dropout_mask, recurrent_dropout_mask, activation,
        zero_output_for_mask, unroll,
    )  # fmt: skip


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

    Args: as `rnn_forward`, plus
        return_sequences: If `False`, return the last output `(N, H)` only;
            the backward then never builds a `(N, T, H)` output gradient.

    Returns:
        `(outputs, h_last)`: `(N, T, H)` (or `(N, H)`) and the final state
        `(N, H)`.
    """
    _check_activation(activation)
    masks = (mask, input_dropout_mask, recurrent_dropout_mask)
    static = (activation, zero_output_for_mask, unroll)

    @tf.custom_gradient
    def op(*inputs):
        # `stop_gradient`: no tape may record (and keep) the loop's insides;
        # the gradient is `grad`, nothing else.
        x, h0, kernel, recurrent_kernel, *maybe_bias = [
            tf.stop_gradient(t) for t in inputs
        ]
        b = maybe_bias[0] if maybe_bias else None
        hs, outputs, pre = _forward(
            x, h0, kernel, recurrent_kernel, b, *masks, *static
        )  # time-major, kept for the backward

        def grad(d_out, dh_last):
            d_out = tf.stop_gradient(d_out)
            d_seq, d_last = (d_out, None) if return_sequences else (None, d_out)
            dx, dh0, dk, drk, db = _backward(
                d_seq, d_last, tf.stop_gradient(dh_last), x, h0, kernel,
                recurrent_kernel, hs, pre, *masks, *static,
            )  # fmt: skip
            return (dx, dh0, dk, drk) + ((db,) if maybe_bias else ())

        out = _time_major(outputs) if return_sequences else outputs[-1]
        return (out, hs[-1]), grad

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
