"""The book's RNN as ops of the running Keras backend, with a handwritten
backward.

`rnn_forward` runs the recurrence of `TimeRNN.forward` over a whole sequence,
`rnn_backward` is `TimeRNN.backward`: truncated backpropagation through time,
walking the steps in reverse order. `scratch_rnn` joins the two as a custom
gradient, so the backend never differentiates through the loop. `rnn_step`
is the book's single `RNN` step with its own backward.

The equations are written once, in `rnn_math`; each backend module
(`tensorflow`, `jax`, `torch`) supplies the time loop, the custom-gradient
glue and its own speed tricks, and takes the backend's native tensors. The
functions here call the module of `keras.backend.backend()`.
"""

import importlib

from keras_scratch_rnn.ops.rnn_math import (
    HANDWRITTEN_ACTIVATIONS,
    Masks,
    RNNOptions,
)

__all__ = [
    "BACKENDS",
    "HANDWRITTEN_ACTIVATIONS",
    "Masks",
    "RNNOptions",
    "backend_module",
    "rnn_backward",
    "rnn_forward",
    "rnn_step",
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
