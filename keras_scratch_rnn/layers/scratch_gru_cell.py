"""`ScratchGRUCell`: the GRU step (the book's appendix, in Keras's form) as
a Keras RNN cell."""

import keras
from keras import activations

from keras_scratch_rnn.layers.base import (
    ScratchCell,
    check_implementation,
    gate_masks,
    ops_activation,
    weights_as_tensors,
)
from keras_scratch_rnn.layers.checks import (
    check_flag,
    check_training,
    get_option,
)
from keras_scratch_rnn.ops import gru_step


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchGRUCell(ScratchCell):
    """One GRU step, with its own handwritten backward.

    A drop-in for `keras.layers.GRUCell`: same arguments, same weights,
    same outputs. `kernel (D, 3H)` and `recurrent_kernel (H, 3H)` hold the
    gates z, r, h side by side, as the book's `Wx`, `Wh` do; the bias is
    `(2, 3H)` (input and recurrent biases) with `reset_after=True`, else
    `(3H,)`. One step:

        z = recurrent_activation(x Wx_z + h_prev Wh_z + b_z)
        r = recurrent_activation(x Wx_r + h_prev Wh_r + b_r)
        hh = activation(x Wx_h + r * (h_prev Wh_h + b_hh))  # reset_after
        hh = activation(x Wx_h + (r * h_prev) Wh_h + b_h)   # the book's
        h_next = z * h_prev + (1 - z) * hh

    Keras's z is the book's `1 - z`
    (`keras_scratch_rnn.reference.keras_to_book_gru` converts where a
    conversion exists). Its gradient is written by hand
    (`keras_scratch_rnn.ops.gru_step`).

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function of the candidate `hh`. Default:
            hyperbolic tangent (`tanh`). If you pass `None`, no activation
            is applied (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function of the gates z and r.
            Default: sigmoid (`sigmoid`).
        use_bias: Boolean, (default `True`), whether the layer should use a
            bias vector.
        kernel_initializer: Initializer for the `kernel` weights matrix.
            Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel`
            weights matrix. Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias vector. Default:
            `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizer functions of the weights. Default: `None`.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraint functions of the weights. Default: `None`.
        dropout: Float between 0 and 1. Fraction of the units to drop for
            the linear transformation of the inputs. Default: 0. Outside
            [0, 1], a `ValueError`. As in Keras's GRU, a rate of exactly 1
            drops nothing.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0. With it, each gate gets its own masks, as in Keras.
        reset_after: GRU convention (whether to apply reset gate after or
            before matrix multiplication). `False` is `"before"` (the
            book's GRU), `True` is `"after"` (default and cuDNN
            compatible).
        seed: Random seed for dropout: `None` or a 64-bit integer.

    Call arguments:
        inputs: A 2D tensor, with shape `(batch, features)`.
        states: A 2D tensor with shape `(batch, units)`, or a list holding
            it: the state from the previous time step.
        training: Python boolean indicating whether the layer should behave
            in training mode (dropout) or in inference mode.

    Returns:
        `(h_next, new_state)`, each `(batch, units)`; `new_state` is a list
        when `states` was one.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    rnn = keras.layers.RNN(ScratchGRUCell(4))
    output = rnn(inputs)  # The output has shape `(32, 4)`.
    ```
    """

    gates = 3
    state_names = ("h",)

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        implementation = kwargs.pop("implementation", 2)
        if implementation == 0 and not isinstance(implementation, bool):
            implementation = 2  # Keras's legacy value, which GRU runs as 2
        implementation = check_implementation(implementation)
        recurrent_activation = get_option(
            activations.get,
            recurrent_activation,
            "recurrent_activation",
            "an activation name, function or None",
        )
        reset_after = check_flag(reset_after, "reset_after")
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            dropout,
            recurrent_dropout,
            seed,
            **kwargs,
        )
        self.recurrent_activation = recurrent_activation
        self.ops_recurrent_activation = ops_activation(
            recurrent_activation, self.units, "recurrent_activation"
        )
        self.reset_after = reset_after
        # Keras's rule: recurrent dropout needs the gates apart.
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 3  # one mask per gate, as Keras draws

    def _bias_shape(self):
        if self.reset_after:  # input and recurrent biases
            return (2, 3 * self.units)
        return (3 * self.units,)

    def call(self, inputs, states, training=False):
        check_training(training)
        x, (h_prev,) = self._step_inputs(inputs, states)
        m = r = None  # as Keras: masks only in training, rates below 1
        if training and 0.0 < self.dropout < 1.0:
            m = gate_masks(self.get_dropout_mask(x))  # (N, D) or (N, 3, D)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            r = gate_masks(self.get_recurrent_dropout_mask(h_prev))
        kernel, recurrent_kernel, bias = weights_as_tensors(self, x.dtype)
        h_next = gru_step(
            x,
            h_prev,
            kernel,
            recurrent_kernel,
            bias,
            input_dropout_mask=m,
            recurrent_dropout_mask=r,
            activation=self.ops_activation,
            recurrent_activation=self.ops_recurrent_activation,
            reset_after=self.reset_after,
        )
        new_state = [h_next] if isinstance(states, (list, tuple)) else h_next
        return h_next, new_state

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(
            self.recurrent_activation
        )
        config["reset_after"] = self.reset_after
        return config
