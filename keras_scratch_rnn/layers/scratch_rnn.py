"""`ScratchRNN`: the book's `TimeRNN` as a drop-in `keras.layers.SimpleRNN`."""

import keras

from keras_scratch_rnn.layers.base import (
    ScratchLayer,
    copy_built_state,
    layer_options,
)
from keras_scratch_rnn.layers.scratch_rnn_cell import (
    ScratchRNNCell,
    weights_as_tensors,
)
from keras_scratch_rnn.ops import scratch_rnn


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchRNN(ScratchLayer):
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
        options = layer_options(
            units,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            unroll,
            zero_output_for_mask,
            activity_regularizer,
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
        super().__init__(cell, **options, **kwargs)
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

    def _run(self, x, states, mask, dropout_masks):
        """The whole sequence as one op: `(output, h_last)`."""
        input_dropout_mask, recurrent_dropout_mask = dropout_masks
        kernel, recurrent_kernel, bias = weights_as_tensors(self.cell, x.dtype)
        return scratch_rnn(
            x,
            states[0],  # h0 (N, H)
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

    def _dropout_masks(self, x, training):
        """One input and one recurrent dropout mask for the whole sequence.

        Drawn like SimpleRNN draws them (the same calls on the same seed
        generator, in training or not), so equal seeds give equal masks;
        used only in training.
        """
        masks = []
        for rate, width in (
            (self.cell.dropout, x.shape[-1]),
            (self.cell.recurrent_dropout, self.cell.units),
        ):
            mask = None
            if rate > 0:
                mask = self._draw_dropout_mask(x, rate, width)
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
        return copy_built_state(layer, cls.from_config(config))

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
        return copy_built_state(self, keras.layers.SimpleRNN(**config))
