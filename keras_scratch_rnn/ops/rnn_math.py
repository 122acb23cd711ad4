"""The book's RNN, forward and backward, written once for every backend.

Each function here is an equation of the book's `RNN` (one step) or of the
sums of `TimeRNN`, with its derivative beside it. They compute with `xp`, a
small namespace of array primitives that each backend supplies
(`keras_scratch_rnn.ops.tensorflow`, `.jax`, `.torch`): `matmul(a, b)`,
`matmul_tb(a, b)` (a b^T), `matmul_ta(a, b)` (a^T b), `where`, `zeros_like`,
`sum0` (the sum over rows), `tanh`, `sigmoid`, `relu` and
`local_vjp(fn, a, dy)` (the gradient of `fn` alone, for activations with no
handwritten derivative). The backends add only the time loop, the
custom-gradient glue and their speed tricks.

The forward of step t (batch N, features D, units H):

    a_t = x_t Wx + b + h_{t-1} Wh        # Wx = kernel, Wh = recurrent_kernel
    y_t = act(a_t)
    h_t = y_t                            # mask_t false: h_t = h_{t-1}
    o_t = y_t                            # mask_t false: o_{t-1}, or 0

Keras's dropout acts as two masks fixed for the whole sequence:
`x_t * input_dropout_mask` and `h_{t-1} * recurrent_dropout_mask`.
"""

import dataclasses
from typing import Any, NamedTuple

HANDWRITTEN_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


@dataclasses.dataclass(frozen=True)
class RNNOptions:
    """The static options of a call: they choose the code, not the numbers.

    Attributes:
        activation: `"tanh"`, `"sigmoid"`, `"relu"`, `"linear"` (derivative
            written here), or a callable `(N, H) -> (N, H)` (differentiated
            locally, one step at a time).
        zero_output_for_mask: If `True`, masked steps output zeros; else
            they repeat the previous output (zeros before the first
            unmasked step).
        unroll: A Python loop over a static T instead of a symbolic loop.
        return_sequences: Return every output `(N, T, H)`; else the last
            one `(N, H)`, and the backward builds no `(N, T, H)` gradient.
    """

    activation: Any = "tanh"
    zero_output_for_mask: bool = False
    unroll: bool = False
    return_sequences: bool = True

    def __post_init__(self):
        activation = self.activation
        if activation in HANDWRITTEN_ACTIVATIONS or callable(activation):
            return
        raise ValueError(
            "Received an invalid value for argument `activation`, expected "
            f"one of {HANDWRITTEN_ACTIVATIONS} or a callable, got "
            f"{activation!r}."
        )

    @property
    def keeps_pre(self):
        """Whether the forward keeps the pre-activations `a_t`: only a
        callable activation needs them for its backward."""
        return callable(self.activation)


class Masks(NamedTuple):
    """The per-call masks, tensors or `None`: `mask (N, T)` (boolean,
    `False` at padded steps), `input_dropout (N, D)` and
    `recurrent_dropout (N, H)` (multipliers, fixed for every step)."""

    mask: Any = None
    input_dropout: Any = None
    recurrent_dropout: Any = None


def activate(xp, a, activation):
    """y = act(a)."""
    if activation == "tanh":
        return xp.tanh(a)
    if activation == "sigmoid":
        return xp.sigmoid(a)
    if activation == "relu":
        return xp.relu(a)
    if activation == "linear":
        return a
    return activation(a)


def activation_backward(xp, dy, y, a, activation):
    """dL/da for y = act(a), given dy = dL/dy (the book's `dt`)."""
    if activation == "tanh":
        return dy * (1.0 - y * y)  # tanh'(a) = 1 - tanh(a)^2
    if activation == "sigmoid":
        return dy * y * (1.0 - y)  # sigmoid'(a) = s(a) (1 - s(a))
    if activation == "relu":
        return xp.where(y > 0, dy, xp.zeros_like(dy))  # relu'(a) = [a > 0]
    if activation == "linear":
        return dy  # a' = 1
    return xp.local_vjp(activation, a, dy)  # the activation's own gradient


def input_projection(xp, x, kernel, bias):
    """x Wx + b for rows of x: one step `(N, D)`, or every step at once
    `(N * T, D)` (the backends hoist it out of the loop that way)."""
    xw = xp.matmul(x, kernel)  # x_t Wx
    if bias is not None:
        xw = xw + bias  # x_t Wx + b
    return xw


def recurrent_input(h_prev, r):
    """h_{t-1} as it enters Wh: through the recurrent dropout mask `r`."""
    return h_prev if r is None else h_prev * r


def step_forward(xp, xw_t, h_prev, o_prev, recurrent_kernel, r, m_t, options):
    """One step of `TimeRNN.forward`, from `xw_t = x_t Wx + b`.

    `m_t` is the step's mask `(N, 1)` or `None`; `o_prev` the previous
    output (masked runs only). Returns `(h_t, o_t, a_t)`.
    """
    h_in = recurrent_input(h_prev, r)
    a = xw_t + xp.matmul(h_in, recurrent_kernel)  # a_t = x_t Wx + b + h Wh
    y = activate(xp, a, options.activation)  # y_t = act(a_t)
    if m_t is None:
        return y, y, a  # h_t = o_t = y_t
    h = xp.where(m_t, y, h_prev)  # a masked step keeps the state
    if options.zero_output_for_mask:
        o = xp.where(m_t, y, xp.zeros_like(y))  # ... and outputs 0
    else:
        o = xp.where(m_t, y, o_prev)  # ... or repeats o_{t-1}
    return h, o, a


def step_backward(xp, dh, g, do, y_t, a_t, recurrent_kernel, r, m_t, options):
    """One step of `TimeRNN.backward`, walking t = T-1, ..., 0.

    Args:
        dh: dL/dh_t from step t+1 (the book's `dh`).
        g: dL/do_t from outside (the layer's output gradient), or `None`.
        do: dL/do_t from step t+1 (masked runs only: there o_{t+1} may be
            o_t), or `None`.
        y_t, a_t: The step's output and pre-activation (`a_t` only for a
            callable activation, else `None`).
        m_t: The step's mask `(N, 1)`, or `None`.

    Returns:
        `(dt, dh_prev, do_prev)`: dL/da_t (the book's `dt`), dL/dh_{t-1},
        and dL/do_{t-1} (masked runs; else `None`).
    """
    if do is not None:
        g = do if g is None else g + do
    dy = dh if g is None else dh + g  # dL/dy_t, as h_t = o_t = y_t
    dt = activation_backward(xp, dy, y_t, a_t, options.activation)
    # dt = dL/da_t = dL/dy_t * act'(a_t)
    dh_prev = xp.matmul_tb(dt, recurrent_kernel)  # dh_prev = dt Wh^T
    if r is not None:
        dh_prev = dh_prev * r  # through h_{t-1} * r
    if m_t is None:
        return dt, dh_prev, None
    zeros = xp.zeros_like(dt)
    dt = xp.where(m_t, dt, zeros)  # y_t is unused at a masked step
    dh_prev = xp.where(m_t, dh_prev, dh)  # h_t = h_{t-1} if masked
    if options.zero_output_for_mask:
        do_prev = zeros
    else:
        do_prev = xp.where(m_t, zeros, g)  # o_t = o_{t-1} if masked
    return dt, dh_prev, do_prev


def weight_gradients(xp, x, h_in, dt, kernel):
    """The rest of the book's `RNN.backward`: rows of `x_t`, `h_{t-1}` (as
    it entered Wh) and `dt`, one step `(N, .)` or every step at once
    `(N * T, .)`, where the sums run over the steps too.

    Returns `(dx, dWx, dWh, db)`.
    """
    dx = xp.matmul_tb(dt, kernel)  # dx_t = dt Wx^T
    dWx = xp.matmul_ta(x, dt)  # dWx = sum x_t^T dt
    dWh = xp.matmul_ta(h_in, dt)  # dWh = sum h_{t-1}^T dt
    db = xp.sum0(dt)  # db = sum dt
    return dx, dWx, dWh, db


def sequence_inputs(xp, x, masks):
    """x_t as the kernel sees it, `(N, T, D)`: padding zeroed (so NaN or inf
    in padding never reaches the outputs or the weight gradients), then
    `x_t * input_dropout_mask`."""
    if masks.mask is not None:
        x = xp.where(masks.mask[:, :, None], x, xp.zeros_like(x))
    if masks.input_dropout is not None:
        x = x * masks.input_dropout[:, None, :]
    return x


def sequence_inputs_backward(dx, masks):
    """dL/dx from dL/d(x_t as the kernel saw it): through `x_t * mask`
    (padded steps already get 0: their dt is 0)."""
    if masks.input_dropout is not None:
        dx = dx * masks.input_dropout[:, None, :]
    return dx


def rnn_step_forward(xp, x, h_prev, kernel, recurrent_kernel, bias, options):
    """The book's `RNN.forward`, one step: `h_next = act(x Wx + h_prev Wh +
    b)`. Returns `(h_next, a)`, `a` kept only for a callable activation
    (its backward needs it), else `None`."""
    xw = input_projection(xp, x, kernel, bias)  # x Wx + b
    h_next, _, a = step_forward(
        xp, xw, h_prev, None, recurrent_kernel, None, None, options
    )  # h_next = act(x Wx + b + h_prev Wh)
    return h_next, a if options.keeps_pre else None


def rnn_step_backward(
    xp, dh_next, x, h_prev, h_next, a, kernel, recurrent_kernel, options
):
    """The book's `RNN.backward`, one step, from `dh_next` = dL/dh_next.

    Returns `(dx, dh_prev, dWx, dWh, db)`.
    """
    dt, dh_prev, _ = step_backward(
        xp, dh_next, None, None, h_next, a, recurrent_kernel, None, None,
        options,
    )  # fmt: skip
    # dt = dh_next * act'(a), dh_prev = dt Wh^T
    dx, dWx, dWh, db = weight_gradients(xp, x, h_prev, dt, kernel)
    # dx = dt Wx^T, dWx = x^T dt, dWh = h_prev^T dt, db = sum dt
    return dx, dh_prev, dWx, dWh, db
