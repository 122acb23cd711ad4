"""The book's RNN and LSTM as ops of the running Keras backend, with a
handwritten backward.

`rnn_forward` runs the recurrence of `TimeRNN.forward` over a whole
sequence, `rnn_backward` is `TimeRNN.backward`: truncated backpropagation
through time, walking the steps in reverse order. `scratch_rnn` joins the
two as a custom gradient, so the backend never differentiates through the
loop. `rnn_step` is the book's single `RNN` step with its own backward. The
LSTM of the book's chapter 6 has the same four: `lstm_forward`,
`lstm_backward`, `scratch_lstm`, `lstm_step`; the GRU of its appendix too
(`gru_forward`, `gru_backward`, `scratch_gru`, `gru_step`, in both of
Keras's forms).

The equations are written once, in `rnn_math`, `lstm_math` and
`gru_math`; each backend
module
(`tensorflow`, `jax`, `torch`) supplies the time loop, the custom-gradient
glue and its own speed tricks, and takes the backend's native tensors. The
functions here call the module of `keras.backend.backend()`.
"""

import importlib

from keras_scratch_rnn.ops.gru_math import GRUOptions
from keras_scratch_rnn.ops.lstm_math import LSTMOptions
from keras_scratch_rnn.ops.rnn_math import (
    HANDWRITTEN_ACTIVATIONS,
    Masks,
    RNNOptions,
)

__all__ = [
    "BACKENDS",
    "HANDWRITTEN_ACTIVATIONS",
    "GRUOptions",
    "LSTMOptions",
    "Masks",
    "RNNOptions",
    "backend_module",
    "gru_backward",
    "gru_forward",
    "gru_step",
    "lstm_backward",
    "lstm_forward",
    "lstm_step",
    "rnn_backward",
    "rnn_forward",
    "rnn_step",
    "scratch_gru",
    "scratch_lstm",
    "scratch_rnn",
]

BACKENDS = ("tensorflow", "jax", "torch")


def backend_module(name=None):
    """The ops module of backend `name` (default: Keras's backend)."""
    if name is None:
        import keras

        name = keras.backend.backend()
    if name not in BACKENDS:
        raise ValueError(
            "Received an invalid value for argument `name`, expected one of "
            f"{BACKENDS}, got {name!r}."
        )
    return importlib.import_module(f"keras_scratch_rnn.ops.{name}")


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
        unroll: Use a Python loop over a static `T` instead of the backend's
            symbolic loop.

    Returns:
        `(outputs, hs, pre)`: the outputs `o_t` and the states `h_t`, both
        `(N, T, H)` (the same tensor without a mask), and the
        pre-activations `a_t` `(N, T, H)` when `activation` is a callable
        (else `None`). `hs[:, -1]` is the final state.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = RNNOptions(activation, zero_output_for_mask, unroll)
    return backend_module().forward(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


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
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = RNNOptions(activation, zero_output_for_mask, unroll)
    return backend_module().backward(
        d_outputs, None, dh_last, x, h0, kernel, recurrent_kernel, hs, pre,
        masks, options,
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
    """`rnn_forward` whose gradient is `rnn_backward`: a custom gradient of
    the backend (`tf.custom_gradient`, `jax.custom_vjp`,
    `torch.autograd.Function`).

    Pass tensors, not Keras variables: read the weights first (e.g.
    `keras.ops.convert_to_tensor(layer.kernel)`); their gradients then flow
    back through that read like any input gradient. The masks are constants.

    Args: as `rnn_forward`, plus
        return_sequences: If `False`, return the last output `(N, H)` only;
            the backward then never builds a `(N, T, H)` output gradient.

    Returns:
        `(outputs, h_last)`: `(N, T, H)` (or `(N, H)`) and the final state
        `(N, H)`.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = RNNOptions(
        activation, zero_output_for_mask, unroll, return_sequences
    )
    return backend_module().scratch_rnn(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


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
    options = RNNOptions(activation)
    return backend_module().rnn_step(
        x, h_prev, kernel, recurrent_kernel, bias, options
    )


def _lstm_options(
    activation, recurrent_activation, zero_output_for_mask, unroll,
    return_sequences=True,
):  # fmt: skip
    return LSTMOptions(
        activation=activation,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        return_sequences=return_sequences,
        recurrent_activation=recurrent_activation,
    )


def lstm_forward(
    x,
    h0,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
    unroll=False,
):
    """Forward pass of the book's `TimeLSTM` over a whole sequence.

    The gates sit side by side in Keras's order i, f, g (Keras's "c"), o:
    `kernel` is `keras.layers.LSTM`'s (`keras_to_book_lstm` converts to the
    book's f, g, i, o).

    Args:
        x: Inputs, shape `(N, T, D)`.
        h0, c0: Initial states `h_{-1}`, `c_{-1}`, shape `(N, H)`.
        kernel: `Wx`, shape `(D, 4H)`.
        recurrent_kernel: `Wh`, shape `(H, 4H)`.
        bias: `b`, shape `(4H,)`, or `None` for no bias.
        mask: Boolean `(N, T)`, `False` at padded steps, or `None`.
        input_dropout_mask: Multiplier of every `x_t`: `(N, D)`, or
            `(N, 4, D)`, one per gate (Keras's LSTM with
            `recurrent_dropout`), or `None`.
        recurrent_dropout_mask: Multiplier of every `h_{t-1}` as it enters
            `Wh`: `(N, H)` or `(N, 4, H)`, or `None`.
        activation: Of the candidate `g` and of `c_t` in `h_t = o act(c_t)`:
            one of `"tanh"`, `"sigmoid"`, `"relu"`, `"linear"`, or a
            callable mapping `(N, H)` to `(N, H)`.
        recurrent_activation: Of the gates i, f, o; the same choices.
        zero_output_for_mask: If `True`, masked steps output zeros; else they
            repeat the previous output (zeros before the first unmasked step).
        unroll: Use a Python loop over a static `T`.

    Returns:
        `(outputs, hs, cs, gates, pre)`: the outputs `y_t`, the states
        `h_t` (the same tensor without a mask) and `c_t`, `(N, T, H)` each;
        the gates i, f, g, o after their activations `(N, T, 4H)`; the
        pre-activations `A_t` `(N, T, 4H)` for callable activations (else
        `None`).
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _lstm_options(
        activation, recurrent_activation, zero_output_for_mask, unroll
    )
    return backend_module().lstm_forward(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options
    )


def lstm_backward(
    d_outputs,
    dh_last,
    dc_last,
    x,
    h0,
    c0,
    kernel,
    recurrent_kernel,
    hs,
    cs,
    gates,
    pre=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
    unroll=False,
):
    """Handwritten backpropagation through time, the book's
    `TimeLSTM.backward`: walks t = T-1, ..., 0 carrying `dh` and `dc`.

    Args:
        d_outputs: dL/dy_t for every step, `(N, T, H)`.
        dh_last, dc_last: dL/dh_{T-1}, dL/dc_{T-1} from outside, `(N, H)`.
        x, h0, c0, kernel, recurrent_kernel: As given to `lstm_forward`.
        hs, cs, gates, pre: As returned by `lstm_forward`.
        mask, input_dropout_mask, recurrent_dropout_mask, activation,
        recurrent_activation, zero_output_for_mask, unroll: As given to
            `lstm_forward`.

    Returns:
        `(dx, dh0, dc0, dkernel, drecurrent_kernel, dbias)`.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _lstm_options(
        activation, recurrent_activation, zero_output_for_mask, unroll
    )
    return backend_module().lstm_backward(
        d_outputs, None, dh_last, dc_last, x, h0, c0, kernel,
        recurrent_kernel, hs, cs, gates, pre, masks, options,
    )  # fmt: skip


def scratch_lstm(
    x,
    h0,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
    unroll=False,
    return_sequences=True,
):
    """`lstm_forward` whose gradient is `lstm_backward`, as a custom
    gradient of the backend. Pass tensors, not Keras variables.

    Args: as `lstm_forward`, plus
        return_sequences: If `False`, return the last output `(N, H)` only.

    Returns:
        `(outputs, h_last, c_last)`: `(N, T, H)` (or `(N, H)`) and the final
        states `(N, H)`.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _lstm_options(
        activation, recurrent_activation, zero_output_for_mask, unroll,
        return_sequences,
    )  # fmt: skip
    return backend_module().scratch_lstm(
        x, h0, c0, kernel, recurrent_kernel, bias, masks, options
    )


def lstm_step(
    x,
    h_prev,
    c_prev,
    kernel,
    recurrent_kernel,
    bias=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
):
    """One step of the book's `LSTM`, with its handwritten backward.

    Args:
        x: `x_t`, shape `(N, D)`.
        h_prev, c_prev: `h_{t-1}`, `c_{t-1}`, shape `(N, H)`.
        kernel, recurrent_kernel, bias: `Wx (D, 4H)`, `Wh (H, 4H)`,
            `b (4H,)` or `None`, gates in Keras's order i, f, g, o.
        input_dropout_mask, recurrent_dropout_mask: As in `lstm_forward`.
        activation, recurrent_activation: As in `lstm_forward`.

    Returns:
        `(h_next, c_next)`, shape `(N, H)` each.
    """
    masks = Masks(None, input_dropout_mask, recurrent_dropout_mask)
    options = _lstm_options(activation, recurrent_activation, False, False)
    return backend_module().lstm_step(
        x, h_prev, c_prev, kernel, recurrent_kernel, bias, masks, options
    )


def _gru_options(
    activation, recurrent_activation, reset_after, zero_output_for_mask,
    unroll, return_sequences=True,
):  # fmt: skip
    return GRUOptions(
        activation=activation,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        return_sequences=return_sequences,
        recurrent_activation=recurrent_activation,
        reset_after=reset_after,
    )


def gru_forward(
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
):
    """Forward pass of the GRU over a whole sequence, in Keras's form.

    The gates sit side by side in the order z, r, h, and `h_t = z * h_{t-1}
    + (1 - z) * hh` (Keras's convention; the book's z is Keras's `1 - z`).

    Args:
        x: Inputs, shape `(N, T, D)`.
        h0: Initial state `h_{-1}`, shape `(N, H)`.
        kernel: `Wx`, shape `(D, 3H)`.
        recurrent_kernel: `Wh`, shape `(H, 3H)`.
        bias: `(2, 3H)` (input and recurrent biases) with `reset_after`,
            else `(3H,)`; or `None`.
        mask: Boolean `(N, T)`, `False` at padded steps, or `None`.
        input_dropout_mask: Multiplier of every `x_t`: `(N, D)`, or
            `(N, 3, D)`, one per gate, or `None`.
        recurrent_dropout_mask: Multiplier of every `h_{t-1}` as it enters
            `Wh`: `(N, H)` or `(N, 3, H)`, or `None`.
        activation: Of the candidate `hh`; `"tanh"`, `"sigmoid"`,
            `"relu"`, `"linear"`, or a callable `(N, H) -> (N, H)`.
        recurrent_activation: Of the gates z, r; the same choices.
        reset_after: `True`: `hh = act(X_h + r * (h_{t-1} Wh_h + b_h))`;
            `False`: `hh = act(X_h + (r * h_{t-1}) Wh_h)` (the book's).
        zero_output_for_mask, unroll: As in `rnn_forward`.

    Returns:
        `(outputs, hs, saved, pre)`: the outputs `y_t` and the states `h_t`,
        `(N, T, H)` (the same tensor without a mask); what the backward
        needs, `z, r, hh` (and `h_{t-1} Wh_h + b_h` with `reset_after`)
        side by side, `(N, T, 3H)` or `(N, T, 4H)`; the pre-activations
        `(N, T, 3H)` for callable activations, else `None`.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _gru_options(
        activation, recurrent_activation, reset_after, zero_output_for_mask,
        unroll,
    )  # fmt: skip
    return backend_module().gru_forward(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


def gru_backward(
    d_outputs,
    dh_last,
    x,
    h0,
    kernel,
    recurrent_kernel,
    hs,
    saved,
    pre=None,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
    zero_output_for_mask=False,
    unroll=False,
):
    """Handwritten backpropagation through time for the GRU.

    Args:
        d_outputs: dL/dy_t for every step, `(N, T, H)`.
        dh_last: dL/dh_{T-1} from outside, `(N, H)`.
        x, h0, kernel, recurrent_kernel, bias: As given to `gru_forward`
            (`bias` only tells whether there is one, and its form).
        hs, saved, pre: As returned by `gru_forward`.
        mask, input_dropout_mask, recurrent_dropout_mask, activation,
        recurrent_activation, reset_after, zero_output_for_mask, unroll:
            As given to `gru_forward`.

    Returns:
        `(dx, dh0, dkernel, drecurrent_kernel, dbias)`, `dbias` shaped like
        `bias` (`None` without one).
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _gru_options(
        activation, recurrent_activation, reset_after, zero_output_for_mask,
        unroll,
    )  # fmt: skip
    return backend_module().gru_backward(
        d_outputs, None, dh_last, x, h0, kernel, recurrent_kernel, bias, hs,
        saved, pre, masks, options,
    )  # fmt: skip


def scratch_gru(
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
    """`gru_forward` whose gradient is `gru_backward`, as a custom gradient
    of the backend. Pass tensors, not Keras variables.

    Args: as `gru_forward`, plus
        return_sequences: If `False`, return the last output `(N, H)` only.

    Returns:
        `(outputs, h_last)`.
    """
    masks = Masks(mask, input_dropout_mask, recurrent_dropout_mask)
    options = _gru_options(
        activation, recurrent_activation, reset_after, zero_output_for_mask,
        unroll, return_sequences,
    )  # fmt: skip
    return backend_module().scratch_gru(
        x, h0, kernel, recurrent_kernel, bias, masks, options
    )


def gru_step(
    x,
    h_prev,
    kernel,
    recurrent_kernel,
    bias=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
):
    """One GRU step (Keras's form), with its handwritten backward.

    Args:
        x: `x_t`, shape `(N, D)`.
        h_prev: `h_{t-1}`, shape `(N, H)`.
        kernel, recurrent_kernel, bias: As in `gru_forward`.
        input_dropout_mask, recurrent_dropout_mask, activation,
        recurrent_activation, reset_after: As in `gru_forward`.

    Returns:
        `h_next`, shape `(N, H)`.
    """
    masks = Masks(None, input_dropout_mask, recurrent_dropout_mask)
    options = _gru_options(
        activation, recurrent_activation, reset_after, False, False
    )
    return backend_module().gru_step(
        x, h_prev, kernel, recurrent_kernel, bias, masks, options
    )
