"""`ScratchRNNCell`: the book's one-step `RNN` as a Keras RNN cell."""

import numbers

import keras
import numpy as np
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


def invalid(name, expected, got):
    """The house error: which argument, what was expected, what came."""
    return ValueError(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}, got {got}."
    )


def check_units(units):
    if (
        isinstance(units, bool)
        or not isinstance(units, numbers.Integral)
        or units <= 0
    ):
        raise invalid("units", "a positive integer", repr(units))
    return int(units)


def check_flag(value, name):
    """`value` as a Python bool: a boolean, or the integer 0 or 1 (which
    SimpleRNN takes too). Anything else is refused: a string such as
    `"False"` would otherwise count as true, `None` as false."""
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, numbers.Integral) and value in (0, 1)
    ):
        return bool(value)
    raise invalid(name, "a boolean", repr(value))


def check_rate(rate, name):
    """A dropout rate: a real number in [0, 1], else a ValueError.

    SimpleRNN clips a rate into [0, 1]; a rate outside is always a mistake
    (`dropout=2` would drop everything), and SimpleRNN's saved configs hold
    clipped rates, so refusing costs no drop-in loading.
    """
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise invalid(name, "a float between 0 and 1", repr(rate))
    if not 0.0 <= rate <= 1.0:  # NaN fails too
        raise invalid(name, "a float between 0 and 1", repr(rate))
    return float(rate)


_INT64 = (-(2**63), 2**63 - 1)


def check_seed(seed):
    """`None` or an integer that fits the int64 seed of TensorFlow's
    stateless ops; NumPy integers become Python ints (JSON configs)."""
    if seed is None:
        return None
    if (
        isinstance(seed, (bool, np.bool_))
        or not isinstance(seed, numbers.Integral)
        or not _INT64[0] <= seed <= _INT64[1]
    ):
        raise invalid("seed", "None or a 64-bit integer", repr(seed))
    return int(seed)


def get_option(getter, value, name, what):
    """`getter(value)` (Keras's `initializers.get` and the like), with the
    argument named in the error: Keras's own message does not say which of
    the three initializers (or regularizers, constraints) it could not read.
    `None` passes (for an initializer, Keras then uses `"glorot_uniform"`,
    as SimpleRNN does)."""
    try:
        return getter(value)
    except (ValueError, TypeError) as error:
        raise invalid(name, what, repr(value)) from error


def check_numeric(tensor, name):
    """Refuses a tensor TensorFlow cannot cast to float: strings, complex
    numbers (the cast would drop the imaginary part), and the like."""
    dtype = tensor.dtype
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
        raise invalid(
            name,
            "a real-valued tensor (float, integer or boolean)",
            f"dtype {dtype.name}",
        )
    return tensor


def as_tensor(value, name):
    """`value` as a tensor; a value TensorFlow cannot hold raises a
    ValueError naming the argument."""
    if isinstance(value, tf.Tensor):  # not a variable: reads it
        return value
    try:
        return tf.convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise invalid(name, "a tensor or array", repr(value)[:80]) from error


def check_training(training):
    """`None` or a Python boolean: a string such as `"False"` is true."""
    if training is not None and not isinstance(training, (bool, np.bool_)):
        raise invalid("training", "a boolean or None", repr(training))


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
        check_backend()
        units = check_units(units)
        activation = get_option(
            activations.get,
            activation,
            "activation",
            "an activation name, function or None",
        )
        use_bias = check_flag(use_bias, "use_bias")
        given = {
            "initializer": (
                initializers.get,
                "an initializer name, instance or callable",
                (kernel_initializer, recurrent_initializer, bias_initializer),
            ),
            "regularizer": (
                regularizers.get,
                "a regularizer name, instance, callable or None",
                (kernel_regularizer, recurrent_regularizer, bias_regularizer),
            ),
            "constraint": (
                constraints.get,
                "a constraint name, instance, callable or None",
                (kernel_constraint, recurrent_constraint, bias_constraint),
            ),
        }
        options = {
            f"{weight}_{kind}": get_option(
                getter, value, f"{weight}_{kind}", what
            )
            for kind, (getter, what, values) in given.items()
            for weight, value in zip(("kernel", "recurrent", "bias"), values)
        }
        dropout = check_rate(dropout, "dropout")
        recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        seed = check_seed(seed)
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.units = units
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = options["kernel_initializer"]
        self.recurrent_initializer = options["recurrent_initializer"]
        self.bias_initializer = options["bias_initializer"]
        self.kernel_regularizer = options["kernel_regularizer"]
        self.recurrent_regularizer = options["recurrent_regularizer"]
        self.bias_regularizer = options["bias_regularizer"]
        self.kernel_constraint = options["kernel_constraint"]
        self.recurrent_constraint = options["recurrent_constraint"]
        self.bias_constraint = options["bias_constraint"]
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
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
        check_training(training)
        x, h_prev = self._step_inputs(sequence, states)  # (N, D), (N, H)
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

    def _step_inputs(self, sequence, states):
        """`(x, h_prev)` checked against the weights, as float tensors.

        Static shapes only: a run-time check would cost every step of the
        loop that calls the cell (about 10% of a training step at N=32,
        T=100, H=32). A batch size known only at run time is not checked.
        """
        if isinstance(states, (list, tuple)):
            if len(states) != 1:
                raise invalid(
                    "states",
                    "one tensor of shape (batch, units) or a list holding one",
                    f"a list of {len(states)}",
                )
            states = states[0]
        if states is None:
            raise invalid("states", "a tensor of shape (batch, units)", None)
        x = check_numeric(as_tensor(sequence, "sequence"), "sequence")
        h_prev = check_numeric(as_tensor(states, "states"), "states")
        D = self.kernel.shape[0]
        if x.shape.rank != 2 or x.shape[-1] not in (None, D):
            raise invalid(
                "sequence",
                f"shape (batch, {D}), one step of the inputs",
                tuple(x.shape),
            )
        if (
            h_prev.shape.rank != 2
            or h_prev.shape[-1] not in (None, self.units)
            or (
                None not in (h_prev.shape[0], x.shape[0])
                and h_prev.shape[0] != x.shape[0]
            )
        ):
            raise invalid(
                "states",
                f"shape ({x.shape[0]}, {self.units}) (batch of the "
                "sequence, units)",
                tuple(h_prev.shape),
            )
        if not x.dtype.is_floating:
            x = tf.cast(x, self.compute_dtype)
        return x, tf.cast(h_prev, x.dtype)

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
