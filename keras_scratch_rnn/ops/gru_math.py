"""The GRU (the book's appendix), forward and backward, written once for
every backend, in both of Keras's forms.

As `rnn_math` and `lstm_math`: each function is an equation of one step or
of the sums over the steps, with its derivative beside it, computed with
the backend's primitives `xp`. The gates sit side by side in Keras's order
z, r, h (the book's too). Keras's convention for z is the book's `1 - z`:

    X_t = x_t Wx + b_x                    # Wx = kernel (D, 3H)
    reset_after=True (Keras's default), b = [b_x, b_h] (2, 3H):
        R_t = h_{t-1} Wh + b_h            # Wh = recurrent_kernel (H, 3H)
        z = s(X_z + R_z), r = s(X_r + R_r)
        hh = act(X_h + r * R_h)
    reset_after=False (the book's GRU), b = b_x (3H,):
        z = s(X_z + h_{t-1} Wh_z), r = s(X_r + h_{t-1} Wh_r)
        hh = act(X_h + (r * h_{t-1}) Wh_h)
    h_t = z * h_{t-1} + (1 - z) * hh      # the book: (1 - z) h + z hh
    mask_t false: h_t = h_{t-1}, y_t = y_{t-1} (or 0)

s = recurrent_activation (sigmoid), act = activation (tanh). Dropout as
Keras draws it: without `recurrent_dropout` one input mask `(N, D)`; with
it, one per gate, `(N, 3, D)` and `(N, 3, H)`.
"""

import dataclasses

from keras_scratch_rnn.ops.lstm_math import (
    LSTMOptions,
    per_gate,
    project,
    project_input_gradient,
    project_weight_gradient,
)
from keras_scratch_rnn.ops.rnn_math import activate, activation_backward

GATES = ("z", "r", "h")


@dataclasses.dataclass(frozen=True)
class GRUOptions(LSTMOptions):
    """`LSTMOptions` (activation, recurrent_activation, masking, unroll,
    return_sequences) and the GRU's form.

    Attributes:
        reset_after: Whether r multiplies `h_{t-1} Wh + b_h` (Keras's
            default) or `h_{t-1}` before the matmul (the book's GRU).
    """

    reset_after: bool = True


def _gates_of(m, start, stop):
    """The per-gate dropout masks of gates `start:stop`, or `m` itself when
    it is one mask for all gates (or `None`)."""
    return m[:, start:stop] if per_gate(m) else m


def _recurrent_parts(xp, recurrent_kernel):
    """`Wh` as `(Wh_zr (H, 2H), Wh_h (H, H))`: with `reset_after=False`
    the candidate's matmul takes `r * h_{t-1}`, not `h_{t-1}`."""
    Wh_z, Wh_r, Wh_h = xp.split(recurrent_kernel, 3)
    return xp.concat([Wh_z, Wh_r]), Wh_h


def input_projection(xp, x, kernel, bias, m=None):
    """X = x Wx + b_x for rows of x (one step, or every step at once)."""
    X = project(xp, x, kernel, m, gates=3)  # x_t Wx
    if bias is not None:
        X = X + bias  # x_t Wx + b_x
    return X


def step_forward(
    xp, X_t, h_prev, y_prev, recurrent_kernel, recurrent_bias, r_mask, m_t,
    options,
):  # fmt: skip
    """One step of the GRU's forward, from `X_t = x_t Wx + b_x`.

    Returns `(h_t, y_t, saved, A_t)`: `saved` is what the backward needs,
    `z, r, hh` side by side (and `R_h` with `reset_after`), `(N, 3H)` or
    `(N, 4H)`; `A_t` the pre-activations `(N, 3H)` (for callables).
    """
    X_z, X_r, X_h = xp.split(X_t, 3)
    if options.reset_after:
        R = project(xp, h_prev, recurrent_kernel, r_mask, gates=3)  # h Wh
        if recurrent_bias is not None:
            R = R + recurrent_bias  # R = h_{t-1} Wh + b_h
        R_z, R_r, R_h = xp.split(R, 3)
    else:
        Wh_zr, Wh_h = _recurrent_parts(xp, recurrent_kernel)
        R_zr = project(xp, h_prev, Wh_zr, _gates_of(r_mask, 0, 2), gates=2)
        R_z, R_r = xp.split(R_zr, 2)  # h_{t-1} Wh_z, h_{t-1} Wh_r
    a_z, a_r = X_z + R_z, X_r + R_r
    z = activate(xp, a_z, options.recurrent_activation)  # z = s(a_z)
    r = activate(xp, a_r, options.recurrent_activation)  # r = s(a_r)
    if options.reset_after:
        a_h = X_h + r * R_h  # a_h = X_h + r (h Wh_h + b_hh)
    else:
        a_h = X_h + project(
            xp, r * h_prev, Wh_h, _gates_of(r_mask, 2, 3), gates=1
        )  # a_h = X_h + (r h_{t-1}) Wh_h
    hh = activate(xp, a_h, options.activation)  # hh = act(a_h)
    h = z * h_prev + (1.0 - z) * hh  # h_t = z h_{t-1} + (1 - z) hh
    saved = [z, r, hh] + ([R_h] if options.reset_after else [])
    saved = xp.concat(saved)
    A = xp.concat([a_z, a_r, a_h]) if options.keeps_pre else None
    if m_t is None:
        return h, h, saved, A  # y_t = h_t
    y = h
    h = xp.where(m_t, h, h_prev)  # a masked step keeps the state
    if options.zero_output_for_mask:
        y = xp.where(m_t, y, xp.zeros_like(y))  # ... and outputs 0
    else:
        y = xp.where(m_t, y, y_prev)  # ... or repeats y_{t-1}
    return h, y, saved, A


def step_backward(
    xp, dh, dy, dy_next, saved_t, h_prev, A_t, recurrent_kernel, r_mask, m_t,
    options,
):  # fmt: skip
    """One step of the GRU's backward, walking t = T-1, ..., 0.

    Args:
        dh: dL/dh_t from step t+1.
        dy: dL/dy_t from outside, or `None`.
        dy_next: dL/dy_t from step t+1 (masked runs only), or `None`.
        saved_t: As `step_forward` returned it; `h_prev` is h_{t-1}.
        A_t: The pre-activations (callable activations only), or `None`.

    Returns:
        `(dX, dh_prev, dy_prev)`: dL/dX_t `(N, 3H)` (the gates' `dt`, which
        is also dL/d(x_t Wx + b_x)), dL/dh_{t-1} and dL/dy_{t-1} (masked
        runs; else `None`).
    """
    if dy_next is not None:
        dy = dy_next if dy is None else dy + dy_next
    dh_t = dh if dy is None else dh + dy  # dL/dh_t, as y_t = h_t
    if options.reset_after:
        z, r, hh, R_h = xp.split(saved_t, 4)
    else:
        z, r, hh = xp.split(saved_t, 3)
    a_z, a_r, a_h = xp.split(A_t, 3) if A_t is not None else [None] * 3
    gate = options.recurrent_activation
    # h_t = z h_{t-1} + (1 - z) hh:
    dz = dh_t * (h_prev - hh)  # dL/dz = dh (h_{t-1} - hh)
    dhh = dh_t * (1.0 - z)  # dL/dhh = dh (1 - z)
    dh_prev = dh_t * z  # dL/dh_{t-1}, directly: dh z
    da_h = activation_backward(xp, dhh, hh, a_h, options.activation)
    # da_h = dhh act'(a_h)
    if options.reset_after:  # a_h = X_h + r R_h
        dr = da_h * R_h  # dL/dr = da_h R_h
        dR_h = da_h * r  # dL/dR_h = da_h r
    else:  # a_h = X_h + (r h_{t-1}) Wh_h
        Wh_zr, Wh_h = _recurrent_parts(xp, recurrent_kernel)
        dv = project_input_gradient(
            xp, da_h, Wh_h, _gates_of(r_mask, 2, 3), gates=1
        )  # dL/d(r h_{t-1}) = da_h Wh_h^T
        dr = dv * h_prev  # dL/dr = dv h_{t-1}
        dh_prev = dh_prev + dv * r  # dL/dh_{t-1} += dv r
    da_z = activation_backward(xp, dz, z, a_z, gate)  # dz s'(a_z)
    da_r = activation_backward(xp, dr, r, a_r, gate)  # dr s'(a_r)
    dX = xp.concat([da_z, da_r, da_h])  # dL/dX_t, X = x Wx + b_x
    if options.reset_after:  # R = h_{t-1} Wh + b_h
        dR = xp.concat([da_z, da_r, dR_h])
        dh_prev = dh_prev + project_input_gradient(
            xp, dR, recurrent_kernel, r_mask, gates=3
        )  # dh_prev += dR Wh^T
    else:
        dh_prev = dh_prev + project_input_gradient(
            xp, xp.concat([da_z, da_r]), Wh_zr, _gates_of(r_mask, 0, 2),
            gates=2,
        )  # dh_prev += [da_z, da_r] Wh_zr^T  # fmt: skip
    if m_t is None:
        return dX, dh_prev, None
    zeros = xp.zeros_like(dh)
    dX = xp.where(m_t, dX, xp.zeros_like(dX))  # the gates are unused
    dh_prev = xp.where(m_t, dh_prev, dh)  # h_t = h_{t-1} if masked
    if options.zero_output_for_mask:
        dy_prev = zeros
    else:
        dy_prev = xp.where(m_t, zeros, dy)  # y_t = y_{t-1} if masked
    return dX, dh_prev, dy_prev


def weight_gradients(
    xp, x, h_prev, dX, saved, kernel, m=None, r_mask=None, options=None
):  # fmt: skip
    """The weight gradients, from rows of `x_t`, `h_{t-1}`, `dX` and the
    saved gates, one step `(N, .)` or every step at once `(N * T, .)` (the
    sums then run over the steps too), with those rows' dropout masks.

    Returns `(dx, dWx, dWh, db_x, db_h)`: `db_h` (of Keras's bias row
    `b_h`) only with `reset_after`, else `None`.
    """
    dx = project_input_gradient(xp, dX, kernel, m, gates=3)  # dX Wx^T
    dWx = project_weight_gradient(xp, x, dX, m, gates=3)  # sum x^T dX
    db_x = xp.sum0(dX)  # sum dX
    da_z, da_r, da_h = xp.split(dX, 3)
    if options.reset_after:
        r = xp.split(saved, 4)[1]
        dR = xp.concat([da_z, da_r, da_h * r])  # dR_h = da_h r
        dWh = project_weight_gradient(xp, h_prev, dR, r_mask, gates=3)
        # dWh = sum h_{t-1}^T dR
        return dx, dWx, dWh, db_x, xp.sum0(dR)  # db_h = sum dR
    r = xp.split(saved, 3)[1]
    dWh_zr = project_weight_gradient(
        xp, h_prev, xp.concat([da_z, da_r]), _gates_of(r_mask, 0, 2),
        gates=2,
    )  # dWh_zr = sum h_{t-1}^T [da_z, da_r]  # fmt: skip
    dWh_h = project_weight_gradient(
        xp, r * h_prev, da_h, _gates_of(r_mask, 2, 3), gates=1
    )  # dWh_h = sum (r h_{t-1})^T da_h
    return dx, dWx, xp.concat([dWh_zr, dWh_h]), db_x, None


def gru_step_forward(
    xp, x, h_prev, kernel, recurrent_kernel, bias, m, r_mask, options
):
    """One GRU step. `bias`: `(2, 3H)` with `reset_after`, else `(3H,)`,
    or `None`. Returns `(h_next, saved, A)`."""
    b_x, b_h = split_bias(bias, options)
    X = input_projection(xp, x, kernel, b_x, m)  # x Wx + b_x
    h_next, _, saved, A = step_forward(
        xp, X, h_prev, None, recurrent_kernel, b_h, r_mask, None, options
    )
    return h_next, saved, A


def gru_step_backward(
    xp, dh_next, x, h_prev, saved, A, kernel, recurrent_kernel, m, r_mask,
    options,
):  # fmt: skip
    """The GRU step's backward. Returns `(dx, dh_prev, dWx, dWh, db_x,
    db_h)`."""
    dX, dh_prev, _ = step_backward(
        xp, dh_next, None, None, saved, h_prev, A, recurrent_kernel, r_mask,
        None, options,
    )  # fmt: skip
    dx, dWx, dWh, db_x, db_h = weight_gradients(
        xp, x, h_prev, dX, saved, kernel, m, r_mask, options
    )
    return dx, dh_prev, dWx, dWh, db_x, db_h


def split_bias(bias, options):
    """`(b_x, b_h)`: Keras's `(2, 3H)` bias with `reset_after`, else
    `(bias, None)`."""
    if bias is None:
        return None, None
    if options.reset_after:
        return bias[0], bias[1]
    return bias, None
