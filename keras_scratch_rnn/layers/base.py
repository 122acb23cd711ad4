"""What the recurrent layers and cells share: `ScratchLayer`, the base of
`ScratchRNN` and `ScratchLSTM` (checks, states, masks, stateful calls),
`copy_built_state`, and `ScratchCell`, the base of their cells (arguments,
weights, step checks, config).

A subclass says how many states it carries (`state_names`: `("h",)` for
the RNN, `("h", "c")` for the LSTM), which dropout masks it draws
(`_dropout_masks`) and which op runs the sequence (`_run`).
"""

import numbers

import keras
import numpy as np
from keras import activations, constraints, initializers, regularizers

# Keras keeps the per-call dropout-mask cache of its RNN cells in this mixin;
# `keras.layers.RNN` resets the cache of the cells that inherit from it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_scratch_rnn.layers.checks import (
    after,
    as_tensor,
    assert_equal_at_run_time,
    check_flag,
    check_numeric,
    check_rate,
    check_seed,
    check_training,
    check_units,
    dtype_name,
    get_option,
    invalid,
    is_float,
    is_real,
    refuse_strings,
    static_shape,
)
from keras_scratch_rnn.ops import BACKENDS

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


def ops_activation(activation, units, name="activation"):
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
            f"Received an invalid value for argument `{name}`: it must "
            f"map a (batch, {units}) tensor to (batch, {units}), but calling "
            f"it failed: {error}"
        ) from error
    if shape != (1, units):
        raise ValueError(
            f"Received an invalid value for argument `{name}`: it must "
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


def layer_options(
    units,
    return_sequences,
    return_state,
    go_backwards,
    stateful,
    unroll,
    zero_output_for_mask,
    activity_regularizer,
):
    """The layer's own arguments (not its cell's), checked before anything
    is built, as keyword arguments of `keras.layers.RNN`."""
    check_backend()
    check_units(units)
    options = {
        name: check_flag(value, name)
        for name, value in (
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("stateful", stateful),
            ("unroll", unroll),
            ("zero_output_for_mask", zero_output_for_mask),
        )
    }
    options["activity_regularizer"] = get_option(
        regularizers.get,
        activity_regularizer,
        "activity_regularizer",
        "a regularizer name, instance, callable or None",
    )
    return options


def check_use_cudnn(use_cudnn):
    """LSTM's and GRU's `use_cudnn`: `"auto"`, or a boolean (NumPy's too,
    as Keras takes it)."""
    if isinstance(use_cudnn, (bool, np.bool_)):
        return bool(use_cudnn)
    if not (isinstance(use_cudnn, str) and use_cudnn == "auto"):
        raise invalid(
            "use_cudnn", "one of 'auto', True, False", repr(use_cudnn)
        )
    return use_cudnn


def check_implementation(implementation):
    """Keras's hidden `implementation` keyword: 1 (one dropout mask per
    gate, the four gates' matmuls apart) or 2 (one mask, one matmul)."""
    if (
        isinstance(implementation, bool)
        or not isinstance(implementation, numbers.Integral)
        or implementation not in (1, 2)
    ):
        raise invalid("implementation", "1 or 2", repr(implementation))
    return int(implementation)


def gate_masks(masks):
    """Keras's dropout masks as the ops take them: one `(N, K)` tensor, or
    the list of four (one per gate) stacked as `(N, 4, K)`."""
    if isinstance(masks, (list, tuple)):
        return keras.ops.stack(masks, axis=1)
    return masks


class ScratchLayer(keras.layers.RNN):
    """A `keras.layers.RNN` whose whole sequence runs as one op of
    `keras_scratch_rnn.ops`, with a handwritten backward.

    Subclasses set `state_names` and define `_dropout_masks(x, training)`
    and `_run(x, states, mask, dropout_masks)`, which returns the output
    and the final states.
    """

    state_names = ("h",)

    def __call__(self, sequences, *args, **kwargs):
        # Keras converts NumPy inputs before `call` sees them.
        refuse_strings(sequences, "sequences")
        if args:
            refuse_strings(args[0], "initial_state")
        for name in ("initial_state", "mask"):
            refuse_strings(kwargs.get(name), name)
        return super().__call__(sequences, *args, **kwargs)

    def build(self, sequences_shape, initial_state_shape=None):
        if self.stateful and sequences_shape[0] is None:
            raise ValueError(
                f"A stateful {type(self).__name__} needs a static batch "
                f"size, found sequences.shape={tuple(sequences_shape)}. "
                "Pass `batch_size=...` to `keras.Input`, or call the layer "
                "eagerly on a batch first."
            )
        super().build(sequences_shape, initial_state_shape)
        features = sequences_shape[-1]
        axes = {-1: features} if features is not None else None
        self.input_spec = [keras.layers.InputSpec(ndim=3, axes=axes)]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        check_training(training)
        sequences = check_numeric(
            as_tensor(sequences, "sequences"), "sequences"
        )
        if self.unroll and sequences.shape[1] is None:
            raise ValueError(
                "Cannot unroll a RNN if the "
                "time dimension is undefined. \n"
                "- If using a Sequential model, "
                "specify the time dimension by passing "
                "an `Input()` as your first layer.\n"
                "- If using the functional API, specify "
                "the time dimension by passing a `shape` "
                "or `batch_shape` argument to your `Input()`."
            )
        no_steps = (
            "Received an invalid value for argument `sequences`: it has no "
            "timesteps (shape {}); expected at least one, as the output is "
            "the last step's."
        )
        if sequences.shape[1] == 0:
            raise ValueError(no_steps.format(tuple(sequences.shape)))
        x = keras.ops.cast(sequences, self.compute_dtype)  # (N, T, D)
        if sequences.shape[1] is None:  # TensorFlow: T known at run time
            import tensorflow as tf

            x = after(
                tf.debugging.assert_positive(
                    tf.shape(x)[1], message=no_steps.format("(N, 0, D)")
                ),
                x,
            )
        if mask is not None:
            mask = keras.ops.cast(self._checked_mask(mask, x), "bool")  # (N, T)
        states = self._initial_state(x, initial_state)  # each (N, H)
        dropout_masks = self._dropout_masks(x, training)
        if self.go_backwards:
            x = keras.ops.flip(x, axis=1)
            mask = None if mask is None else keras.ops.flip(mask, axis=1)
        output, *last = self._run(x, states, mask, dropout_masks)
        # (N, T, H) or (N, H), and the final states (N, H)
        if self.stateful:
            for variable, state in zip(self.states, last):
                variable.assign(keras.ops.cast(state, variable.dtype))
        if self.return_state:
            return output, *last
        return output

    def _state_form(self):
        """How the states are given, for messages."""
        n = len(self.state_names)
        if n == 1:
            return "one tensor of shape (batch, units) or a list holding one"
        return f"a list of {n} tensors of shape (batch, units), {self._names}"

    @property
    def _names(self):
        return "[" + ", ".join(self.state_names) + "]"

    def _initial_state(self, x, initial_state):
        """The states before the first step (h_{-1}, and c_{-1} for the
        LSTM): given, stored (stateful) or zeros; checked against x."""
        n = len(self.state_names)
        if isinstance(initial_state, (list, tuple)):
            if len(initial_state) != n:
                raise ValueError(
                    "Received an invalid value for argument `initial_state`, "
                    f"expected {self._state_form()}, got a list of "
                    f"{len(initial_state)}."
                )
        elif initial_state is not None:
            if n != 1:
                raise ValueError(
                    "Received an invalid value for argument `initial_state`, "
                    f"expected {self._state_form()}, got one tensor."
                )
            initial_state = [initial_state]
        stored = self._check_batch_size(x) if self.stateful else None
        N = x.shape[0]
        if initial_state is None:
            if self.stateful:
                # Copies: the op may keep h0 for its backward (torch keeps
                # the very tensor), and the call overwrites the state.
                return [
                    after(stored, keras.ops.copy(keras.ops.cast(s, x.dtype)))
                    for s in self.states
                ]
            if N is None:
                N = keras.ops.shape(x)[0]
            return [
                keras.ops.zeros((N, self.cell.units), x.dtype) for _ in range(n)
            ]
        return [self._checked_state(x, s, stored) for s in initial_state]

    def _checked_state(self, x, state, stored):
        """One given initial state, checked to be `(N, units)`."""
        N = x.shape[0]
        h0 = as_tensor(state, "initial_state")
        h0 = keras.ops.cast(check_numeric(h0, "initial_state"), x.dtype)
        shape = static_shape(h0)
        if (
            shape is None
            or len(shape) != 2
            or shape[-1] not in (None, self.cell.units)
            or (None not in (shape[0], N) and shape[0] != N)
        ):
            raise ValueError(
                "Received an invalid value for argument `initial_state`, "
                f"expected shape ({N}, {self.cell.units}) (batch of the "
                f"sequences, units), got {shape}."
            )
        h0 = after(stored, h0)
        if None in (shape[0], N):  # TensorFlow: sizes known at run time
            check = assert_equal_at_run_time(
                keras.ops.shape(h0)[0],
                keras.ops.shape(x)[0],
                "`initial_state` must have one row per sequence",
            )
            h0 = after(check, h0)
        return h0

    def _checked_mask(self, mask, x):
        """`mask`, checked to be `(N, T)` of `x` (or `(N, T, 1)`, as
        Keras allows): now when both shapes are known (always, but on
        TensorFlow with sizes known at run time); else by a run-time check
        that the mask waits for, so that the check's message comes before
        any op fails on a bad mask."""
        mask = as_tensor(mask, "mask")
        if not is_real(mask):
            raise invalid(
                "mask",
                "a boolean or 0/1 numeric tensor",
                f"dtype {dtype_name(mask)}",
            )
        got = static_shape(mask)
        if got is not None and len(got) == 3 and got[-1] == 1:
            mask = mask[:, :, 0]  # (N, T, 1), which Keras takes too
            got = got[:2]
        expected = tuple(x.shape[:2])
        if got is not None and (
            len(got) != 2
            or any(None not in (g, e) and g != e for g, e in zip(got, expected))
        ):
            raise invalid(
                "mask",
                f"shape (batch, timesteps) = {expected}, as `sequences`",
                got,
            )
        if got is not None and None not in (*got, *expected):
            return mask
        import tensorflow as tf  # only TensorFlow has run-time sizes

        message = (
            "Received an invalid value for argument `mask`, expected shape "
            "(batch, timesteps) of `sequences`"
        )
        checks = []
        if got is None:
            checks.append(tf.debugging.assert_rank(mask, 2, message=message))
        check = assert_equal_at_run_time(
            tf.shape(mask), tf.shape(x)[:2], message, checks
        )
        mask = after(check, mask)
        mask.set_shape(x.shape[:2])  # what the check ensures
        return mask

    def _check_batch_size(self, x):
        """Raises now, or returns the run-time check when N is unknown."""
        expected = self.states[0].shape[0]
        if x.shape[0] is not None and x.shape[0] != expected:
            raise ValueError(self._batch_size_message(expected, x.shape[0]))
        if x.shape[0] is None:
            return assert_equal_at_run_time(
                keras.ops.shape(x)[0],
                expected,
                self._batch_size_message(expected, "another size"),
            )
        return None

    def _batch_size_message(self, expected, got):
        return (
            f"A stateful {type(self).__name__} keeps one state row per "
            f"sample, for a batch size of {expected}; it was called with a "
            f"batch of {got}. Feed batches of exactly that size (for "
            f"predict/evaluate, pass batch_size={expected} and a sample "
            "count divisible by it), or rebuild the layer for another "
            "batch size."
        )

    def reset_state(self, states=None):
        """Zeroes the stored states, or sets them to `states`.

        Args:
            states: Optional: the states the next call starts from, arrays
                `(batch, units)`: for one state (the RNN) an array or a
                list holding one; for the LSTM a list `[h, c]`. Needs
                `stateful=True` and a built layer.
        """
        if states is None:
            super().reset_state()
            return
        if not self.stateful:
            raise ValueError(
                "Received a value for argument `states`, but the layer is "
                "not stateful: only a layer built with `stateful=True` "
                "stores a state. Pass `initial_state=` to the call instead."
            )
        if self.states is None:
            raise ValueError(
                "Received a value for argument `states`, but the layer has "
                "no state yet: build it (call it once) first."
            )
        n = len(self.state_names)
        if isinstance(states, (list, tuple)):
            if len(states) != n:
                raise ValueError(
                    "Received an invalid value for argument `states`, "
                    f"expected {self._state_form()}, got a list of "
                    f"{len(states)}."
                )
        elif n == 1:
            states = [states]
        else:
            raise ValueError(
                "Received an invalid value for argument `states`, expected "
                f"{self._state_form()}, got one array."
            )
        values = []  # all checked before any is assigned
        for variable, state in zip(self.states, states):
            expected = tuple(variable.shape)
            try:
                value = np.asarray(state)
            except (TypeError, ValueError) as error:
                raise invalid(
                    "states", f"an array of shape {expected}", repr(state)[:80]
                ) from error
            if value.dtype.kind not in "biuf":
                raise invalid(
                    "states",
                    f"a real-valued array of shape {expected}",
                    f"dtype {value.dtype}",
                )
            if value.shape != expected:
                raise ValueError(
                    "Received an invalid value for argument `states`, "
                    f"expected shape {expected}, got {value.shape}."
                )
            values.append(value.astype(variable.dtype))
        for variable, value in zip(self.states, values):
            variable.assign(value)

    def reset_states(self, states=None):
        """Alias of `reset_state`."""
        self.reset_state(states)

    def _draw_dropout_mask(self, x, rate, width):
        """One dropout mask `(N, width)` from the cell's seed generator, as
        Keras's cells draw them."""
        N = x.shape[0]
        if N is None:
            N = keras.ops.shape(x)[0]
        ones = keras.ops.ones((N, width), dtype=x.dtype)
        return keras.random.dropout(ones, rate, seed=self.cell.seed_generator)

    # The cell's arguments, read through the layer as Keras's layers do.
    @property
    def units(self):
        return self.cell.units

    @property
    def activation(self):
        return self.cell.activation

    @property
    def use_bias(self):
        return self.cell.use_bias

    @property
    def kernel_initializer(self):
        return self.cell.kernel_initializer

    @property
    def recurrent_initializer(self):
        return self.cell.recurrent_initializer

    @property
    def bias_initializer(self):
        return self.cell.bias_initializer

    @property
    def kernel_regularizer(self):
        return self.cell.kernel_regularizer

    @property
    def recurrent_regularizer(self):
        return self.cell.recurrent_regularizer

    @property
    def bias_regularizer(self):
        return self.cell.bias_regularizer

    @property
    def kernel_constraint(self):
        return self.cell.kernel_constraint

    @property
    def recurrent_constraint(self):
        return self.cell.recurrent_constraint

    @property
    def bias_constraint(self):
        return self.cell.bias_constraint

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def recurrent_dropout(self):
        return self.cell.recurrent_dropout

    @property
    def seed(self):
        return self.cell.seed

    def _gate_dropout_masks(self, x, training):
        """LSTM's and GRU's dropout masks for the whole sequence: `(N, D)`
        and `None`, or with `recurrent_dropout` one per gate, `(N, G, D)`
        and `(N, G, H)` (G = `cell.gates`).

        Drawn like Keras's LSTM and GRU draw them (the same calls on the
        same seed generator, in training or not: G per kind with
        `recurrent_dropout`), so equal seeds give equal masks; used only in
        training, and, as there, only for rates below 1.
        """
        cell = self.cell
        count = cell.gates if cell.implementation == 1 else 1
        masks = []
        for rate, width in (
            (cell.dropout, x.shape[-1]),
            (cell.recurrent_dropout, cell.units),
        ):
            mask = None
            if rate > 0:
                drawn = [
                    self._draw_dropout_mask(x, rate, width)
                    for _ in range(count)
                ]
                mask = gate_masks(drawn if count > 1 else drawn[0])
            masks.append(mask if training and rate < 1 else None)
        return masks

    @classmethod
    def _from_keras(cls, layer, keras_class):
        """A layer of `cls` with the configuration, weights and states of
        `layer`, a `keras_class` (LSTM or GRU)."""
        if not isinstance(layer, keras_class):
            raise ValueError(
                "Received an invalid value for argument `layer`, expected a "
                f"keras.layers.{keras_class.__name__}, got "
                f"{type(layer).__name__}."
            )
        config = layer.get_config()
        config.pop("name")
        config["seed"] = layer.cell.seed
        config["zero_output_for_mask"] = layer.zero_output_for_mask
        config["use_cudnn"] = layer.use_cudnn  # Keras's config forgets it
        if layer.cell.implementation == 1 and not layer.recurrent_dropout:
            config["implementation"] = 1
        return copy_built_state(layer, cls.from_config(config))

    def _to_keras(self, keras_class):
        """A `keras_class` (LSTM or GRU) with this layer's config, weights
        and states."""
        config = self.get_config()
        config.pop("name")
        if self.cell.implementation == 1 and not self.recurrent_dropout:
            config["implementation"] = 1
        return copy_built_state(self, keras_class(**config))

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        """The arguments every cell's layer has (Keras's SimpleRNN config):
        the cell's (`ScratchCell.argument_config`) and the layer's own;
        ScratchLSTM and ScratchGRU add theirs."""
        base_config = super().get_config()
        del base_config["cell"]
        return {
            **base_config,
            **ScratchCell.argument_config(self.cell),
            "activity_regularizer": regularizers.serialize(
                self.activity_regularizer
            ),
        }


def copy_built_state(source, target):
    """Builds `target` like `source` and copies its weights and states."""
    if source.built:
        batch = source.states[0].shape[0] if source.stateful else None
        target.build((batch, None, source.cell.kernel.shape[0]))
        target.set_weights(source.get_weights())
        if source.stateful:
            for mine, theirs in zip(target.states, source.states):
                mine.assign(theirs)
    return target


class ScratchCell(keras.layers.Layer, DropoutRNNCell):
    """What `ScratchRNNCell` and `ScratchLSTMCell` share: the arguments
    and their checks, the weights (`gates * units` columns: 1 for the RNN,
    4 for the LSTM), the step's input checks and the config.

    Subclasses set `gates` and `state_names` and define `call`.
    """

    gates = 1
    state_names = ("h",)

    def __init__(
        self,
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
        n = len(self.state_names)
        self.state_size = units if n == 1 else [units] * n
        self.output_size = units
        self.ops_activation = ops_activation(self.activation, units)

    def __call__(self, sequence, states, *args, **kwargs):
        # Keras converts NumPy inputs before `call` sees them.
        refuse_strings(sequence, "sequence")
        refuse_strings(states, "states")
        return super().__call__(sequence, states, *args, **kwargs)

    def _bias_initializer(self):
        """The initializer of the whole bias vector."""
        return self.bias_initializer

    def _bias_shape(self):
        return (self.gates * self.units,)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _step_inputs(self, sequence, states):
        """`(x, [h_prev, ...])` checked against the weights, as float
        tensors.

        Static shapes only: a run-time check would cost every step of the
        loop that calls the cell (about 10% of a training step at N=32,
        T=100, H=32). A batch size known only at run time is not checked.
        """
        n = len(self.state_names)
        form = (
            "one tensor of shape (batch, units) or a list holding one"
            if n == 1
            else f"a list of {n} tensors of shape (batch, units), "
            "[" + ", ".join(self.state_names) + "]"
        )
        if isinstance(states, (list, tuple)):
            if len(states) != n:
                raise invalid("states", form, f"a list of {len(states)}")
        elif n == 1:
            states = [states]
        else:
            got = "None" if states is None else "one tensor"
            raise invalid("states", form, got)
        if any(state is None for state in states):
            raise invalid("states", form, None)
        x = check_numeric(as_tensor(sequence, "sequence"), "sequence")
        D = self.kernel.shape[0]
        x_shape = static_shape(x)
        if x_shape is None or len(x_shape) != 2 or x_shape[-1] not in (None, D):
            raise invalid(
                "sequence",
                f"shape (batch, {D}), one step of the inputs",
                x_shape,
            )
        if not is_float(x):
            x = keras.ops.cast(x, self.compute_dtype)
        checked = []
        for state in states:
            h_prev = check_numeric(as_tensor(state, "states"), "states")
            h_shape = static_shape(h_prev)
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
            checked.append(keras.ops.cast(h_prev, x.dtype))
        return x, checked

    def get_initial_state(self, batch_size=None):
        return [
            keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
            for _ in self.state_names
        ]

    def argument_config(self):
        """The arguments every cell has, serialized (Keras's SimpleRNNCell
        config without the Layer's own keys); the cells' layers save them
        too."""
        return {
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

    def get_config(self):
        return {**super().get_config(), **self.argument_config()}
