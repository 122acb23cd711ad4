"""`ScratchRNNCell`: the book's one-step `RNN` as a Keras RNN cell."""

import keras
from keras import activations, constraints, initializers, regularizers

# Keras keeps the per-call dropout-mask cache of its RNN cells in this mixin;
# `keras.layers.RNN` resets the cache of the cells that inherit from it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_scratch_rnn.layers.checks import (
    as_tensor,
    check_flag,
    check_numeric,
    check_rate,
    check_seed,
    check_training,
    check_units,
    get_option,
    invalid,
    is_float,
    refuse_strings,
    static_shape,
)
from keras_scratch_rnn.ops import BACKENDS, rnn_step

# The activations whose derivative `ops` writes by hand, by Keras function.
_HANDWRITTEN = {
    activations.tanh: "tanh",
    activations.sigmoid: "sigmoid",
    activations.relu: "relu",
    activations.linear: "linear",
}


def check_backend():
    """Refuses a Keras backend with no ops here (Keras 3 has others, such
    as OpenVINO, for inference)."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise RuntimeError(
            f"keras_scratch_rnn runs on the Keras backends {BACKENDS}, each "
            "with its own handwritten backward; expected "
            f"keras.backend.backend() to be one of them, got {backend!r}. "
            "Set the environment variable KERAS_BACKEND before importing "
            "keras."
        )


def ops_activation(activation, units):
    """The `ops` form of a Keras activation: a name, or the callable itself.

    A callable without a handwritten derivative must map `(batch, units)` to
    `(batch, units)`; that is checked here, once.
    """
    if activation in _HANDWRITTEN:
        return _HANDWRITTEN[activation]
    probe = keras.ops.zeros((1, units))
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

    The custom gradients must receive tensors, not Keras variables: the
    read is what carries each weight's gradient back to its variable.
    """
    read = [cell.kernel, cell.recurrent_kernel]
    read += [cell.bias] if cell.use_bias else []
    read = [keras.ops.cast(keras.ops.convert_to_tensor(w), dtype) for w in read]
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

    def __call__(self, sequence, states, *args, **kwargs):
        # Keras converts NumPy inputs before `call` sees them.
        refuse_strings(sequence, "sequence")
        refuse_strings(states, "states")
        return super().__call__(sequence, states, *args, **kwargs)

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
        x_shape, h_shape = static_shape(x), static_shape(h_prev)
        if x_shape is None or len(x_shape) != 2 or x_shape[-1] not in (None, D):
            raise invalid(
                "sequence",
                f"shape (batch, {D}), one step of the inputs",
                x_shape,
            )
        if (
            h_shape is None
            or len(h_shape) != 2
            or h_shape[-1] not in (None, self.units)
            or (
                None not in (h_shape[0], x_shape[0])
                and h_shape[0] != x_shape[0]
            )
        ):
            raise invalid(
                "states",
                f"shape ({x_shape[0]}, {self.units}) (batch of the "
                "sequence, units)",
                h_shape,
            )
        if not is_float(x):
            x = keras.ops.cast(x, self.compute_dtype)
        return x, keras.ops.cast(h_prev, x.dtype)

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
