"""`ScratchRNNCell`: the book's one-step `RNN` as a Keras RNN cell."""

import keras

from keras_scratch_rnn.layers.base import (
    ScratchCell,
    check_backend,
    ops_activation,
    weights_as_tensors,
)
from keras_scratch_rnn.layers.checks import check_training
from keras_scratch_rnn.ops import rnn_step

__all__ = [
    "ScratchRNNCell",
    "check_backend",
    "ops_activation",
    "weights_as_tensors",
]


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchRNNCell(ScratchCell):
    """One step of the book's RNN, with its own handwritten backward.

    A drop-in for `keras.layers.SimpleRNNCell`: same arguments, same weights
    (`kernel` = `Wx`, `recurrent_kernel` = `Wh`, `bias` = `b`), same outputs.
    One step computes `h_next = activation(x Wx + h_prev Wh + b)`; its
    gradient is the book's `RNN.backward` (`keras_scratch_rnn.ops.rnn_step`).
    `ScratchRNN` keeps its weights in a `ScratchRNNCell` but runs the whole
    sequence at once (`keras_scratch_rnn.ops.scratch_rnn`).

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function to use. Default: hyperbolic tangent
            (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`). `tanh`, `sigmoid`, `relu`
            and `linear` have handwritten derivatives; any other activation
            mapping `(batch, units)` to `(batch, units)` is differentiated
            locally, one step at a time.
        use_bias: Boolean (default `True`), whether the layer uses a bias.
        kernel_initializer: Initializer for the `kernel` weights matrix,
            used for the linear transformation of the inputs. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel`
            weights matrix, used for the linear transformation of the
            recurrent state. Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias vector. Default: `"zeros"`.
        kernel_regularizer: Regularizer function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_regularizer: Regularizer function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_regularizer: Regularizer function applied to the bias vector.
            Default: `None`.
        kernel_constraint: Constraint function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_constraint: Constraint function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_constraint: Constraint function applied to the bias vector.
            Default: `None`.
        dropout: Float between 0 and 1. Fraction of the units to drop for the
            linear transformation of the inputs. Default: 0. A rate outside
            [0, 1] raises a `ValueError` (SimpleRNN silently clips it: a
            clipped `dropout=2` drops every input, a mistake better caught;
            SimpleRNN's saved configs hold clipped rates, so they still
            load). A rate of exactly 1 is accepted and acts as in
            SimpleRNN: in training the inputs are all dropped.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0. Outside [0, 1], a `ValueError`, as for `dropout`.
        seed: Random seed for dropout: `None` or a 64-bit integer.

    Call arguments:
        sequence: A 2D tensor, with shape `(batch, features)`.
        states: A 2D tensor with shape `(batch, units)`, or a list holding
            it: the state from the previous time step.
        training: Python boolean indicating whether the layer should behave
            in training mode (dropout) or in inference mode.

    Returns:
        `(output, new_state)`: both the new state `h_next`, shape
        `(batch, units)`; `new_state` is a list when `states` was one.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    rnn = keras.layers.RNN(ScratchRNNCell(4))
    output = rnn(inputs)  # The output has shape `(32, 4)`.
    ```
    """

    def __init__(
        self,
        units,
        activation="tanh",
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
        seed=None,
        **kwargs,
    ):
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

    def call(self, sequence, states, training=False):
        check_training(training)
        x, (h_prev,) = self._step_inputs(sequence, states)  # (N, D), (N, H)
        dp_mask = self.get_dropout_mask(x)
        rec_dp_mask = self.get_recurrent_dropout_mask(h_prev)
        if training and dp_mask is not None:
            x = x * dp_mask
        if training and rec_dp_mask is not None:
            h_prev = h_prev * rec_dp_mask
        kernel, recurrent_kernel, bias = weights_as_tensors(self, x.dtype)
        h_next = rnn_step(
            x, h_prev, kernel, recurrent_kernel, bias, self.ops_activation
        )
        new_state = [h_next] if isinstance(states, (list, tuple)) else h_next
        return h_next, new_state
