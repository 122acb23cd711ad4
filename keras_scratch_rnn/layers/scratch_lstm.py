"""`ScratchLSTM`: the book's `TimeLSTM` (chapter 6) as a drop-in
`keras.layers.LSTM`."""

import keras
from keras import activations

from keras_scratch_rnn.layers.base import (
    ScratchLayer,
    check_use_cudnn,
    layer_options,
    weights_as_tensors,
)
from keras_scratch_rnn.layers.scratch_lstm_cell import ScratchLSTMCell
from keras_scratch_rnn.ops import scratch_lstm


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchLSTM(ScratchLayer):
    """Long Short-Term Memory layer whose backward pass is written by hand.

    The book's `TimeLSTM` ("Deep Learning from Scratch 2", chapter 6) as a
    drop-in for `keras.layers.LSTM`: the same arguments, defaults, weights
    and results, computed by `keras_scratch_rnn.ops.scratch_lstm`. For each
    step t, with the gates side by side in `A (N, 4H)`:

        A_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
        i, f, o = recurrent_activation(A_i, A_f, A_o)   # the gates
        g = activation(A_g)                             # the candidate
        c_t = f * c_{t-1} + i * g                       # the memory cell
        h_t = o * activation(c_t)

    `kernel (D, 4H)`, `recurrent_kernel (H, 4H)` and `bias (4H,)` are the
    book's `Wx`, `Wh` and `b` with the gates in Keras's order i, f, g, o
    (the book slices f, g, i, o: `keras_scratch_rnn.reference.
    keras_to_book_lstm` converts). They live on `layer.cell` (a
    `ScratchLSTMCell`) as in LSTM, so `set_weights(lstm.get_weights())` and
    the reverse just work. The gradient is backpropagation through time
    written by hand, carrying `dh` and `dc` (`keras_scratch_rnn.ops.
    lstm_backward`), not autodiff.

    Two states, `[h, c]`, everywhere: `return_state` returns
    `(output, h, c)`, `initial_state` takes `[h0, c0]`, a stateful layer
    stores both, `reset_state(states)` takes `[h, c]`.

    Differences from LSTM, all fixes: `get_config()` keeps `seed`;
    `reset_state(states)` sets the states; a stateful call with a batch
    size other than the states' raises instead of broadcasting; NaN in
    masked padding does not reach the outputs or the weight gradients;
    bad arguments raise a `ValueError` naming the argument (a dropout rate
    outside [0, 1], which LSTM clips; a non-boolean flag; a mask that is
    not `(batch, timesteps)`...).

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function of the candidate `g` and of the
            cell's output. Default: hyperbolic tangent (`tanh`). If you pass
            `None`, no activation is applied (ie. "linear" activation:
            `a(x) = x`).
        recurrent_activation: Activation function of the gates i, f, o.
            Default: sigmoid (`sigmoid`). If you pass `None`, no activation
            is applied (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean, (default `True`), whether the layer should use a
            bias vector.
        kernel_initializer: Initializer for the `kernel` weights matrix,
            used for the linear transformation of the inputs. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel`
            weights matrix, used for the linear transformation of the
            recurrent state. Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias vector. Default:
            `"zeros"`.
        unit_forget_bias: Boolean (default `True`). If `True`, the forget
            gate's bias starts at 1 (the cell starts out remembering); the
            other gates' biases come from `bias_initializer`.
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
            linear transformation of the inputs. One mask per call, reused
            at every step, only in training. Default: 0. Outside [0, 1], a
            `ValueError`. As in LSTM, a rate of exactly 1 drops nothing.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0. With it, every gate has its own input and recurrent
            masks, as in LSTM.
        seed: Random seed for dropout: `None` or a 64-bit integer. Saved in
            the config.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last states in
            addition to the output, as `(output, h, c)`. Default: `False`.
        go_backwards: Boolean (default: `False`). If `True`, process the
            input sequence backwards and return the reversed sequence.
        stateful: Boolean (default: `False`). If `True`, the last states
            for each sample at index i in a batch will be used as initial
            states for the sample of index i in the following batch. Needs
            a static batch size.
        unroll: Boolean (default False). If `True`, the network will be
            unrolled (needs a static number of timesteps), else a symbolic
            loop will be used.
        use_cudnn: `"auto"` (default), `True` or `False`, accepted and saved
            for LSTM's sake. It chooses LSTM's cuDNN kernel on a GPU;
            ScratchLSTM always runs its own loops and handwritten backward,
            on any device, so the value changes nothing. (LSTM with
            `use_cudnn=True` raises on a machine without a GPU; ScratchLSTM
            runs.)
        zero_output_for_mask: Boolean (default: `False`). Whether masked
            timesteps output zeros instead of the previous output.

    Call arguments:
        sequences: A 3D tensor, with shape `[batch, timesteps, feature]`,
            of floats, integers or booleans (cast to the layer's dtype).
        initial_state: A list `[h0, c0]` of two tensors `(batch, units)`:
            the states before the first step. Default: zeros, or the stored
            states when `stateful`.
        mask: Binary tensor of shape `[batch, timesteps]` indicating whether
            a given timestep should be masked: `False` steps carry both
            states over.
        training: Python boolean indicating whether the layer should behave
            in training mode or in inference mode. Only relevant if
            `dropout` or `recurrent_dropout` is used.

    Returns:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences`; with `return_state`, the tuple
        `(output, final_h, final_c)`.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    lstm = ScratchLSTM(4)
    output = lstm(inputs)  # The output has shape `(32, 4)`.

    lstm = ScratchLSTM(4, return_sequences=True, return_state=True)
    # whole_seq_output has shape `(32, 10, 4)`.
    # final_memory_state and final_carry_state both have shape `(32, 4)`.
    whole_seq_output, final_memory_state, final_carry_state = lstm(inputs)

    # The same weights as a built-in LSTM give the same results.
    builtin = keras.layers.LSTM(4, return_sequences=True)
    builtin.build((None, 10, 8))
    builtin.set_weights(lstm.get_weights())
    ```
    """

    state_names = ("h", "c")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
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
        use_cudnn = check_use_cudnn(use_cudnn)
        cell = ScratchLSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            unit_forget_bias=unit_forget_bias,
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
            dtype=kwargs.get("dtype", None),
            trainable=kwargs.get("trainable", True),
            name="scratch_lstm_cell",
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
        )
        super().__init__(cell, **options, **kwargs)
        self.input_spec = [keras.layers.InputSpec(ndim=3)]
        self.use_cudnn = use_cudnn

    def _run(self, x, states, mask, dropout_masks):
        """The whole sequence as one op: `(output, h_last, c_last)`."""
        input_dropout_mask, recurrent_dropout_mask = dropout_masks
        kernel, recurrent_kernel, bias = weights_as_tensors(self.cell, x.dtype)
        h0, c0 = states
        return scratch_lstm(
            x,
            h0,
            c0,
            kernel,
            recurrent_kernel,
            bias,
            mask=mask,
            input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask,
            activation=self.cell.ops_activation,
            recurrent_activation=self.cell.ops_recurrent_activation,
            zero_output_for_mask=self.zero_output_for_mask,
            unroll=self.unroll,
            return_sequences=self.return_sequences,
        )

    def _dropout_masks(self, x, training):
        """As LSTM draws them, one per gate with `recurrent_dropout`:
        `ScratchLayer._gate_dropout_masks`."""
        return self._gate_dropout_masks(x, training)

    @classmethod
    def from_lstm(cls, layer):
        """A ScratchLSTM with the configuration, weights and states of
        `layer`.

        Args:
            layer: A `keras.layers.LSTM`, built or not.

        Returns:
            A new `ScratchLSTM` (built if `layer` was) that computes the
            same function; its name is a new one.

        Example:

        ```python
        builtin = keras.layers.LSTM(4, return_sequences=True)
        builtin(np.zeros((2, 10, 8)))
        scratch = ScratchLSTM.from_lstm(builtin)  # same outputs
        ```
        """
        return cls._from_keras(layer, keras.layers.LSTM)

    def to_lstm(self):
        """A `keras.layers.LSTM` with this layer's config, weights and
        states.

        Returns:
            A new LSTM (built if this layer is) computing the same function;
            its name is a new one.
        """
        return self._to_keras(keras.layers.LSTM)

    @property
    def unit_forget_bias(self):
        return self.cell.unit_forget_bias

    @property
    def recurrent_activation(self):
        return self.cell.recurrent_activation

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "unit_forget_bias": self.unit_forget_bias,
            "use_cudnn": self.use_cudnn,
        }
