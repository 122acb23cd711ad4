"""The book's LSTM (chapter 6), forward and backward, written once for every
backend.

As `rnn_math` does for the RNN: each function is an equation of the book's
`LSTM` (one step) or of the sums of `TimeLSTM`, with its derivative beside
it, computed with the backend's primitives `xp` (those of `rnn_math`, plus
`split(a, 4)` and `concat(parts)` along the last axis).

The forward of step t (batch N, features D, units H). The four gates sit
side by side in `A (N, 4H)`, in Keras's order i, f, g, o (Keras calls the
book's `g` "c"; the book orders them f, g, i, o: `keras_to_book_lstm`
converts the weights):

    A_t = x_t Wx + b + h_{t-1} Wh      # Wx = kernel (D, 4H), Wh (H, 4H)
    i = s(A_i), f = s(A_f), o = s(A_o) # s = recurrent_activation (sigmoid)
    g = act(A_g)                       # act = activation (tanh)
    c_t = f * c_{t-1} + i * g          # the memory cell
    h_t = o * act(c_t)                 # = the output y_t
    mask_t false: h_t = h_{t-1}, c_t = c_{t-1}, y_t = y_{t-1} (or 0)

Dropout, as Keras draws it: without `recurrent_dropout`, one input mask
`(N, D)` multiplies every x_t; with it (Keras's `implementation=1`), every
gate has its own masks, `(N, 4, D)` for x_t and `(N, 4, H)` for h_{t-1},
fixed for the whole sequence. `project` and its two gradients take either.
"""

import dataclasses
from typing import Any

from keras_scratch_rnn.ops.rnn_math import (
    HANDWRITTEN_ACTIVATIONS,
    RNNOptions,
    activate,
    activation_backward,
)

GATES = ("i", "f", "g", "o")  # their order in A, Keras's (i, f, c, o)
BOOK_GATES = ("f", "g", "i", "o")  # the book's order


@dataclasses.dataclass(frozen=True)
class LSTMOptions(RNNOptions):
    """`RNNOptions` and the gates' activation.

    Attributes:
        activation: Of the candidate `g` and of the cell's output,
            `act(c_t)`. As `RNNOptions.activation`.
        recurrent_activation: Of the gates i, f, o: `"sigmoid"` (default),
            `"tanh"`, `"relu"`, `"linear"` or a callable.
    """

    recurrent_activation: Any = "sigmoid"

    def __post_init__(self):
        super().__post_init__()
        activation = self.recurrent_activation
        if activation in HANDWRITTEN_ACTIVATIONS or callable(activation):
            return
        raise ValueError(
            "Received an invalid value for argument `recurrent_activation`, "
            f"expected one of {HANDWRITTEN_ACTIVATIONS} or a callable, got "
            f"{activation!r}."
        )

    @property
    def keeps_pre(self):
        """Whether the forward keeps `A_t`: only callable activations need
        it for their backward."""
        return callable(self.activation) or callable(self.recurrent_activation)


def per_gate(m):
    """Whether the dropout mask `m` has one row of masks per gate."""
    return m is not None and len(m.shape) == 3


def project(xp, v, W, m, gates=4):
    """v W for rows of v `(rows, K)`, as the gates see v: through the
    dropout mask `m` (`None`, `(rows, K)`, or `(rows, gates, K)`, one per
    gate of the `gates` whose columns `W` holds side by side).
    Returns `(rows, gates * H)`."""
    if m is None:
        return xp.matmul(v, W)  # v W
    if not per_gate(m):
        return xp.matmul(v * m, W)  # (v * m) W
    return xp.concat(
        [
            xp.matmul(v * m[:, k], W_k)
            for k, W_k in enumerate(xp.split(W, gates))
        ]
    )  # gate k: (v * m_k) W_k


def project_input_gradient(xp, dA, W, m, gates=4):
    """dL/dv of `project`: dA W^T, through the masks."""
    if m is None:
        return xp.matmul_tb(dA, W)  # dv = dA W^T
    if not per_gate(m):
        return xp.matmul_tb(dA, W) * m  # dv = (dA W^T) * m
    parts = zip(xp.split(dA, gates), xp.split(W, gates))
    dv = None
    for k, (dA_k, W_k) in enumerate(parts):
        dv_k = xp.matmul_tb(dA_k, W_k) * m[:, k]  # dv = sum_k (dA_k W_k^T) m_k
        dv = dv_k if dv is None else dv + dv_k
    return dv


def project_weight_gradient(xp, v, dA, m, gates=4):
    """dL/dW of `project`, summed over the rows: v^T dA, v through the
    masks."""
    if m is None:
        return xp.matmul_ta(v, dA)  # dW = v^T dA
    if not per_gate(m):
        return xp.matmul_ta(v * m, dA)  # dW = (v * m)^T dA
    return xp.concat(
        [
            xp.matmul_ta(v * m[:, k], dA_k)  # dW_k = (v * m_k)^T dA_k
            for k, dA_k in enumerate(xp.split(dA, gates))
        ]
    )


def input_projection(xp, x, kernel, bias, m=None):
    """x Wx + b for rows of x (one step, or every step at once)."""
    xa = project(xp, x, kernel, m)  # x_t Wx
    if bias is not None:
        xa = xa + bias  # x_t Wx + b
    return xa


def step_forward(
    xp, xa_t, h_prev, c_prev, y_prev, recurrent_kernel, r, m_t, options
):
    """One step of `TimeLSTM.forward`, from `xa_t = x_t Wx + b`.

    `m_t` is the step's mask `(N, 1)` or `None`; `y_prev` the previous
    output (masked runs only); `r` the recurrent dropout mask or `None`.
    Returns `(h_t, c_t, y_t, gates, A_t)`: `gates` are i, f, g, o side by
    side `(N, 4H)`, kept for the backward with `c_t`.
    """
    A = xa_t + project(xp, h_prev, recurrent_kernel, r)  # A = xWx + b + hWh
    a_i, a_f, a_g, a_o = xp.split(A, 4)
    i = activate(xp, a_i, options.recurrent_activation)  # i = s(A_i)
    f = activate(xp, a_f, options.recurrent_activation)  # f = s(A_f)
    g = activate(xp, a_g, options.activation)  # g = act(A_g)
    o = activate(xp, a_o, options.recurrent_activation)  # o = s(A_o)
    c = f * c_prev + i * g  # c_t = f c_{t-1} + i g
    h = o * activate(xp, c, options.activation)  # h_t = o act(c_t)
    gates = xp.concat([i, f, g, o])
    if m_t is None:
        return h, c, h, gates, A  # y_t = h_t
    c = xp.where(m_t, c, c_prev)  # a masked step keeps both states
    y = h
    h = xp.where(m_t, h, h_prev)
    if options.zero_output_for_mask:
        y = xp.where(m_t, y, xp.zeros_like(y))  # ... and outputs 0
    else:
        y = xp.where(m_t, y, y_prev)  # ... or repeats y_{t-1}
    return h, c, y, gates, A


def step_backward(
    xp, dh, dc, dy, dy_next, gates_t, c_t, c_prev, A_t, recurrent_kernel,
    r, m_t, options,
):  # fmt: skip
    """One step of `TimeLSTM.backward`, walking t = T-1, ..., 0.

    Args:
        dh, dc: dL/dh_t and dL/dc_t from step t+1 (the book's `dh`, `dc`).
        dy: dL/dy_t from outside (the layer's output gradient), or `None`.
        dy_next: dL/dy_t from step t+1 (masked runs only: there y_{t+1}
            may be y_t), or `None`.
        gates_t, c_t: As `step_forward` returned them; `c_prev` is
            c_{t-1}.
        A_t: The pre-activations (callable activations only), or `None`.
        m_t: The step's mask `(N, 1)`, or `None`.

    Returns:
        `(dA, dh_prev, dc_prev, dy_prev)`: dL/dA_t `(N, 4H)` (the four
        gates' `dt`), dL/dh_{t-1}, dL/dc_{t-1} and dL/dy_{t-1} (masked
        runs; else `None`).
    """
    if dy_next is not None:
        dy = dy_next if dy is None else dy + dy_next
    dh_t = dh if dy is None else dh + dy  # dL/dh_t, as y_t = h_t
    i, f, g, o = xp.split(gates_t, 4)
    tanh_c = activate(xp, c_t, options.activation)  # act(c_t), recomputed
    do = dh_t * tanh_c  # h_t = o act(c_t): dL/do = dh act(c_t)
    ds = dc + activation_backward(
        xp, dh_t * o, tanh_c, c_t, options.activation
    )  # dL/dc_t = dc + dh o act'(c_t): from c_{t+1} and from h_t
    dc_prev = ds * f  # c_t = f c_{t-1} + i g: dc_prev = ds f
    di = ds * g  # dL/di = ds g
    df = ds * c_prev  # dL/df = ds c_{t-1}
    dg = ds * i  # dL/dg = ds i
    a_i, a_f, a_g, a_o = xp.split(A_t, 4) if A_t is not None else [None] * 4
    gate = options.recurrent_activation
    dA = xp.concat(
        [
            activation_backward(xp, di, i, a_i, gate),  # di s'(A_i)
            activation_backward(xp, df, f, a_f, gate),  # df s'(A_f)
            activation_backward(xp, dg, g, a_g, options.activation),
            activation_backward(xp, do, o, a_o, gate),  # do s'(A_o)
        ]
    )  # dA = dL/dA_t, the gates' dt side by side; dg act'(A_g) third
    dh_prev = project_input_gradient(xp, dA, recurrent_kernel, r)
    # dh_prev = dA Wh^T (through the recurrent dropout masks)
    if m_t is None:
        return dA, dh_prev, dc_prev, None
    zeros = xp.zeros_like(dh)
    dA = xp.where(m_t, dA, xp.zeros_like(dA))  # the gates are unused
    dh_prev = xp.where(m_t, dh_prev, dh)  # h_t = h_{t-1} if masked
    dc_prev = xp.where(m_t, dc_prev, dc)  # c_t = c_{t-1} if masked
    if options.zero_output_for_mask:
        dy_prev = zeros
    else:
        dy_prev = xp.where(m_t, zeros, dy)  # y_t = y_{t-1} if masked
    return dA, dh_prev, dc_prev, dy_prev


def weight_gradients(xp, x, h_prev, dA, kernel, m=None, r=None):
    """The rest of the book's `LSTM.backward`: rows of `x_t`, `h_{t-1}` and
    `dA`, one step `(N, .)` or every step at once `(N * T, .)` (the sums
    then run over the steps too), with the dropout masks of those rows.

    Returns `(dx, dWx, dWh, db)`.
    """
    dx = project_input_gradient(xp, dA, kernel, m)  # dx = dA Wx^T
    dWx = project_weight_gradient(xp, x, dA, m)  # dWx = sum x^T dA
    dWh = project_weight_gradient(xp, h_prev, dA, r)  # dWh = sum h_prev^T dA
    db = xp.sum0(dA)  # db = sum dA
    return dx, dWx, dWh, db


def lstm_step_forward(
    xp, x, h_prev, c_prev, kernel, recurrent_kernel, bias, m, r, options
):
    """The book's `LSTM.forward`, one step. Returns `(h_next, c_next,
    gates, A)`, `A` kept only for callable activations, else `None`."""
    xa = input_projection(xp, x, kernel, bias, m)  # x Wx + b
    h_next, c_next, _, gates, A = step_forward(
        xp, xa, h_prev, c_prev, None, recurrent_kernel, r, None, options
    )
    return h_next, c_next, gates, A if options.keeps_pre else None


def lstm_step_backward(
    xp, dh_next, dc_next, x, h_prev, c_prev, c_next, gates, A, kernel,
    recurrent_kernel, m, r, options,
):  # fmt: skip
    """The book's `LSTM.backward`, one step, from `dh_next`, `dc_next`.

    Returns `(dx, dh_prev, dc_prev, dWx, dWh, db)`.
    """
    dA, dh_prev, dc_prev, _ = step_backward(
        xp, dh_next, dc_next, None, None, gates, c_next, c_prev, A,
        recurrent_kernel, r, None, options,
    )  # fmt: skip
    dx, dWx, dWh, db = weight_gradients(xp, x, h_prev, dA, kernel, m, r)
    return dx, dh_prev, dc_prev, dWx, dWh, db
