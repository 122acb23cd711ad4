"""`ScratchRNN`: the book's `TimeRNN` as a drop-in `keras.layers.SimpleRNN`."""

import keras
import numpy as np
from keras import activations, constraints, initializers, regularizers

from keras_scratch_rnn.layers.checks import (
    after,
    as_tensor,
    assert_equal_at_run_time,
    check_flag,
    check_numeric,
    check_training,
    check_units,
    dtype_name,
    get_option,
    invalid,
    is_real,
    refuse_strings,
    static_shape,
)
from keras_scratch_rnn.layers.scratch_rnn_cell import (
    ScratchRNNCell,
    check_backend,
    weights_as_tensors,
)
from keras_scratch_rnn.ops import scratch_rnn


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchRNN(keras.layers.RNN):
    """Fully-connected RNN whose backward pass is written by hand.

    The book's `TimeRNN` ("Deep Learning from Scratch 2") as a drop-in for
    `keras.layers.SimpleRNN`: the same arguments, defaults, weights and
    results, computed by `keras_scratch_rnn.ops.scratch_rnn`. For each step t:

        h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)

    `kernel`, `recurrent_kernel` and `bias` are the book's `Wx (D, H)`,
    `Wh (H, H)` and `b (H,)`; they live on `layer.cell` (a `ScratchRNNCell`)
    in SimpleRNN's order, so `set_weights(simple_rnn.get_weights())` and the
    reverse just work. The gradient is backpropagation through time written
    by hand (`keras_scratch_rnn.ops.rnn_backward`), not autodiff.

    Differences from SimpleRNN, all fixes: `get_config()` keeps `seed`;
    `reset_state(states)` sets the state; a stateful call with a batch size
    other than the state's raises instead of broadcasting; NaN in masked
    padding does not reach the outputs or the weight gradients. Every
    argument is checked before TensorFlow sees it and before any state
    changes: a bad value (a dropout rate outside [0, 1], a non-boolean flag,
    a mask that is not `(batch, timesteps)`, string inputs...) raises a
    `ValueError` naming the argument, where SimpleRNN clips, guesses or
    fails inside a TensorFlow op.

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function to use. Default: hyperbolic tangent
            (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
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
        activity_regularizer: Regularizer function applied to the output of
            the layer (its "activation"). Default: `None`.
        kernel_constraint: Constraint function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_constraint: Constraint function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_constraint: Constraint function applied to the bias vector.
            Default: `None`.
        dropout: Float between 0 and 1. Fraction of the units to drop for the
            linear transformation of the inputs. One mask per call, reused at
            every step, only in training. Default: 0. A rate outside [0, 1]
            raises a `ValueError`, where SimpleRNN silently clips it: a
            clipped `dropout=2` drops every input and the training output is
            all zeros, a mistake better caught at once; configs saved by
            SimpleRNN hold clipped rates, so they still load. A rate of
            exactly 1 is accepted and acts as in SimpleRNN: in training the
            inputs are all dropped.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state. One
            mask per call, reused at every step. Default: 0. Outside [0, 1],
            a `ValueError`, as for `dropout`.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last state in addition
            to the output, as a tuple `(output, state)`. Default: `False`.
        go_backwards: Boolean (default: `False`). If `True`, process the
            input sequence backwards and return the reversed sequence (the
            output is not reversed back).
        stateful: Boolean (default: `False`). If `True`, the last state for
            each sample at index i in a batch will be used as the initial
            state for the sample of index i in the following batch. Needs a
            static batch size.
        unroll: Boolean (default: `False`). If `True`, the network will be
            unrolled (needs a static number of timesteps), else a symbolic
            loop will be used.
        seed: Random seed for dropout: `None` or a 64-bit integer. Saved in
            the config.
        zero_output_for_mask: Boolean (default: `False`). Whether masked
            timesteps output zeros instead of the previous output.

    Call arguments:
        sequences: A 3D tensor, with shape `[batch, timesteps, feature]`,
            of floats, integers or booleans (cast to the layer's dtype).
        initial_state: A tensor `(batch, units)` or a list holding one: the
            state before the first step. Default: zeros, or the stored state
            when `stateful`.
        mask: Binary tensor of shape `[batch, timesteps]` indicating whether
            a given timestep should be masked. An individual `True` entry
            indicates that the corresponding timestep should be utilized,
            while a `False` entry indicates that the corresponding timestep
            should be ignored: the state is carried over it. Booleans, or
            numbers 0/1; its shape must be `sequences.shape[:2]` (or that
            with a last axis of 1, as SimpleRNN allows).
        training: Python boolean indicating whether the layer should behave
            in training mode or in inference mode. Only relevant if
            `dropout` or `recurrent_dropout` is used.

    Returns:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences`; with `return_state`, the tuple
        `(output, final_state)`.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    rnn = ScratchRNN(4)
    output = rnn(inputs)  # The output has shape `(32, 4)`.

    rnn = ScratchRNN(4, return_sequences=True, return_state=True)
    # whole_sequence_output has shape `(32, 10, 4)`.
    # final_state has shape `(32, 4)`.
    whole_sequence_output, final_state = rnn(inputs)

    # The same weights as a built-in SimpleRNN give the same results.
    simple = keras.layers.SimpleRNN(4, return_sequences=True)
    simple.build((None, 10, 8))
    simple.set_weights(rnn.get_weights())
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        zero_output_for_mask=False,
        **kwargs,
    ):
        check_backend()
        check_units(units)
        return_sequences = check_flag(return_sequences, "return_sequences")
        return_state = check_flag(return_state, "return_state")
        go_backwards = check_flag(go_backwards, "go_backwards")
        stateful = check_flag(stateful, "stateful")
        unroll = check_flag(unroll, "unroll")
        zero_output_for_mask = check_flag(
            zero_output_for_mask, "zero_output_for_mask"
        )
        activity_regularizer = get_option(
            regularizers.get,
            activity_regularizer,
            "activity_regularizer",
            "a regularizer name, instance, callable or None",
        )
        cell = ScratchRNNCell(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype", None),
            trainable=kwargs.get("trainable", True),
            name="scratch_rnn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

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
                "A stateful ScratchRNN needs a static batch size, found "
                f"sequences.shape={tuple(sequences_shape)}. Pass "
                "`batch_size=...` to `keras.Input`, or call the layer "
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
        h0 = self._initial_state(x, initial_state)  # (N, H)
        input_dropout_mask, recurrent_dropout_mask = self._dropout_masks(
            x, training
        )
        if self.go_backwards:
            x = keras.ops.flip(x, axis=1)
            mask = None if mask is None else keras.ops.flip(mask, axis=1)
        kernel, recurrent_kernel, bias = weights_as_tensors(self.cell, x.dtype)
        output, h_last = scratch_rnn(
            x,
            h0,
            kernel,
            recurrent_kernel,
            bias,
            mask=mask,
            input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask,
            activation=self.cell.ops_activation,
            zero_output_for_mask=self.zero_output_for_mask,
            unroll=self.unroll,
            return_sequences=self.return_sequences,
        )  # (N, T, H) or (N, H), and (N, H)
        if self.stateful:
            self.states[0].assign(keras.ops.cast(h_last, self.states[0].dtype))
        if self.return_state:
            return output, h_last
        return output

    def _initial_state(self, x, initial_state):
        """h_{-1}: given, stored (stateful) or zeros; checked against x."""
        if isinstance(initial_state, (list, tuple)):
            if len(initial_state) != 1:
                raise ValueError(
                    "Received an invalid value for argument `initial_state`, "
                    "expected one tensor of shape (batch, units) or a list "
                    f"holding one, got a list of {len(initial_state)}."
                )
            initial_state = initial_state[0]
        stored = self._check_batch_size(x) if self.stateful else None
        N = x.shape[0]
        if initial_state is None:
            if self.stateful:
                # A copy: the op may keep h0 for its backward (torch keeps
                # the very tensor), and the call overwrites the state.
                h0 = keras.ops.copy(keras.ops.cast(self.states[0], x.dtype))
                return after(stored, h0)
            if N is None:
                N = keras.ops.shape(x)[0]
            return keras.ops.zeros((N, self.cell.units), x.dtype)
        h0 = as_tensor(initial_state, "initial_state")
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
        SimpleRNN allows): now when both shapes are known (always, but on
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
            mask = mask[:, :, 0]  # (N, T, 1), which SimpleRNN takes too
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

    @staticmethod
    def _batch_size_message(expected, got):
        return (
            "A stateful ScratchRNN keeps one state row per sample, for a "
            f"batch size of {expected}; it was called with a batch of {got}. "
            "Feed batches of exactly that size (for predict/evaluate, pass "
            f"batch_size={expected} and a sample count divisible by it), or "
            "rebuild the layer for another batch size."
        )

    def _dropout_masks(self, x, training):
        """One input and one recurrent dropout mask for the whole sequence.

        Drawn like SimpleRNN draws them (the same calls on the same seed
        generator, in training or not), so equal seeds give equal masks;
        used only in training.
        """
        N = x.shape[0]
        if N is None:
            N = keras.ops.shape(x)[0]
        masks = []
        for rate, width in (
            (self.cell.dropout, x.shape[-1]),
            (self.cell.recurrent_dropout, self.cell.units),
        ):
            mask = None
            if rate > 0:
                ones = keras.ops.ones((N, width), dtype=x.dtype)
                mask = keras.random.dropout(
                    ones, rate, seed=self.cell.seed_generator
                )
            masks.append(mask if training else None)
        return masks

    @classmethod
    def from_simple_rnn(cls, layer):
        """A ScratchRNN with the configuration, weights and state of `layer`.

        Args:
            layer: A `keras.layers.SimpleRNN`, built or not.

        Returns:
            A new `ScratchRNN` (built if `layer` was) that computes the same
            function; its name is a new one.

        Example:

        ```python
        simple = keras.layers.SimpleRNN(4, return_sequences=True)
        simple(np.zeros((2, 10, 8)))
        scratch = ScratchRNN.from_simple_rnn(simple)  # same outputs
        ```
        """
        if not isinstance(layer, keras.layers.SimpleRNN):
            raise ValueError(
                "Received an invalid value for argument `layer`, expected a "
                f"keras.layers.SimpleRNN, got {type(layer).__name__}."
            )
        config = layer.get_config()
        config.pop("name")
        config["seed"] = layer.cell.seed  # SimpleRNN's config forgets it
        return _copy_built_state(layer, cls.from_config(config))

    def to_simple_rnn(self):
        """A `keras.layers.SimpleRNN` with this layer's config and weights.

        Returns:
            A new SimpleRNN (built if this layer is) computing the same
            function; its name is a new one.

        Raises:
            ValueError: if this layer has an `activity_regularizer`, which
                SimpleRNN would silently drop.
        """
        if self.activity_regularizer is not None:
            raise ValueError(
                "Cannot copy this layer to a SimpleRNN: it has an "
                "`activity_regularizer`, which keras.layers.SimpleRNN "
                "accepts but ignores, so the copy would train without it. "
                "Set `layer.activity_regularizer = None` first to convert "
                "without it."
            )
        config = self.get_config()
        config.pop("name")
        return _copy_built_state(self, keras.layers.SimpleRNN(**config))

    def reset_state(self, states=None):
        """Zeroes the stored state, or sets it to `states`.

        Args:
            states: Optional array `(batch, units)`, or a list holding one:
                the state the next call starts from. Needs `stateful=True`
                and a built layer.
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
        if isinstance(states, (list, tuple)):
            if len(states) != 1:
                raise ValueError(
                    "Received an invalid value for argument `states`, "
                    "expected one array or a list holding one, got a list "
                    f"of {len(states)}."
                )
            states = states[0]
        expected = tuple(self.states[0].shape)
        try:
            value = np.asarray(states)
        except (TypeError, ValueError) as error:
            raise invalid(
                "states", f"an array of shape {expected}", repr(states)[:80]
            ) from error
        if value.dtype.kind not in "biuf":
            raise invalid(
                "states",
                f"a real-valued array of shape {expected}",
                f"dtype {value.dtype}",
            )
        if value.shape != expected:
            raise ValueError(
                "Received an invalid value for argument `states`, expected "
                f"shape {expected}, got {value.shape}."
            )
        self.states[0].assign(value.astype(self.states[0].dtype))

    def reset_states(self, states=None):
        """Alias of `reset_state`."""
        self.reset_state(states)

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
            "activity_regularizer": regularizers.serialize(
                self.activity_regularizer
            ),
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
        del base_config["cell"]
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _copy_built_state(source, target):
    """Builds `target` like `source` and copies its weights and state."""
    if source.built:
        batch = source.states[0].shape[0] if source.stateful else None
        target.build((batch, None, source.cell.kernel.shape[0]))
        target.set_weights(source.get_weights())
        if source.stateful:
            target.states[0].assign(source.states[0])
    return target
