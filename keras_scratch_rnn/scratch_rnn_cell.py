"""`ScratchRNNCell`: the book's one-step `RNN` as a Keras RNN cell."""

import numbers

import keras
import tensorflow as tf
from keras import activations, constraints, initializers, regularizers

# Keras keeps the per-call dropout-mask cache of its RNN cells in this mixin;
# `keras.layers.RNN` resets the cache of the cells that inherit from it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_scratch_rnn.ops import rnn_step

# The activations whose derivative `ops` writes by hand, by Keras function.
_HANDWRITTEN = {
    activations.tanh: "tanh",
    activations.sigmoid: "sigmoid",
    activations.relu: "relu",
    activations.linear: "linear",
}


def check_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "keras_scratch_rnn needs the TensorFlow backend: its backward is "
            "a `tf.custom_gradient`. Expected keras.backend.backend() == "
            f"'tensorflow', got {keras.backend.backend()!r}. Set the "
            "environment variable KERAS_BACKEND=tensorflow before importing "
            "keras."
        )


def check_units(units):
    if (
        isinstance(units, bool)
        or not isinstance(units, numbers.Integral)
        or units <= 0
    ):
        raise ValueError(
            "Received an invalid value for argument `units`, "
            f"expected a positive integer, got {units!r}."
        )
    return int(units)


def ops_activation(activation, units):
    """The `ops` form of a Keras activation: a name, or the callable itself.

    A callable without a handwritten derivative must map `(batch, units)` to
    `(batch, units)`; that is checked here, once.
    """
    if activation in _HANDWRITTEN:
        return _HANDWRITTEN[activation]
    probe = tf.zeros((1, units))
    try:
        shape = tuple(keras.ops.shape(activation(probe)))
    except Exception as error:
        raise ValueError(
            "Received an invalid value for argument `activation`: it must "
            f"map a (batch, {units}) tensor to (batch, {units}), but calling "
            f"it failed: {error}"
        ) from error
    if shape != (1, units):
        raise ValueError(
            "Received an invalid value for argument `activation`: it must "
            f"map a (batch, {units}) tensor to (batch, {units}), got shape "
            f"{shape} for input shape (1, {units})."
        )
    return activation


def clip_rate(rate, name):
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a "
            f"float between 0 and 1, got {rate!r}."
        ) from None
    return min(1.0, max(0.0, rate))


def weights_as_tensors(cell, dtype):
    """`(kernel, recurrent_kernel, bias or None)` read as `dtype` tensors.

    `tf.custom_gradient` must receive tensors, not Keras variables: the read
    is what carries each weight's gradient back to its variable.
    """
    read = [cell.kernel, cell.recurrent_kernel]
    read += [cell.bias] if cell.use_bias else []
    read = [tf.cast(tf.convert_to_tensor(w), dtype) for w in read]
    return read[0], read[1], read[2] if cell.use_bias else None


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchRNNCell(keras.layers.Layer, DropoutRNNCell):
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
            linear transformation of the inputs. Default: 0.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0.
        seed: Random seed for dropout.

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
        check_backend()
        units = check_units(units)
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = clip_rate(dropout, "dropout")
        self.recurrent_dropout = clip_rate(
            recurrent_dropout, "recurrent_dropout"
        )
        self.state_size = self.units
        self.output_size = self.units
        self.ops_activation = ops_activation(self.activation, units)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def call(self, sequence, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        dp_mask = self.get_dropout_mask(sequence)
        rec_dp_mask = self.get_recurrent_dropout_mask(h_prev)
        x = sequence
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

    def get_initial_state(self, batch_size=None):
        return [
            keras.ops.zeros(
                (batch_size, self.state_size), dtype=self.compute_dtype
            )
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        base_config = super().get_config()
        return {**base_config, **config}
