"""`ScratchGRU`: the GRU (the book's appendix, in Keras's form) as a
drop-in `keras.layers.GRU`."""

import keras
from keras import activations

from keras_scratch_rnn.layers.base import (
    ScratchLayer,
    check_use_cudnn,
    layer_options,
    weights_as_tensors,
)
from keras_scratch_rnn.layers.scratch_gru_cell import ScratchGRUCell
from keras_scratch_rnn.ops import scratch_gru


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchGRU(ScratchLayer):
    """Gated Recurrent Unit whose backward pass is written by hand.

    A drop-in for `keras.layers.GRU`, in both of its forms: the same
    arguments, defaults, weights and results, computed by
    `keras_scratch_rnn.ops.scratch_gru`. For each step t, with the gates
    z, r, h side by side in `kernel (D, 3H)` and `recurrent_kernel (H, 3H)`:

        z = recurrent_activation(x_t Wx_z + h_{t-1} Wh_z + b_z)
        r = recurrent_activation(x_t Wx_r + h_{t-1} Wh_r + b_r)
        hh = activation(x_t Wx_h + r * (h_{t-1} Wh_h + b_hh))  # reset_after
        hh = activation(x_t Wx_h + (r * h_{t-1}) Wh_h + b_h)   # else
        h_t = z * h_{t-1} + (1 - z) * hh

    `reset_after=False` is the book's GRU (its z is Keras's `1 - z`, and it
    has no bias: `keras_scratch_rnn.reference.book_to_keras_gru`
    converts). The weights live on `layer.cell` (a `ScratchGRUCell`) as in
    GRU, so `set_weights(gru.get_weights())` and the reverse just work. The
    gradient is backpropagation through time written by hand, not
    autodiff.

    Differences from GRU, all fixes, as for ScratchRNN: `reset_state(states)`
    sets the state; a stateful call with a batch size other than the
    state's raises; NaN in masked padding does not reach the outputs or the
    weight gradients; bad arguments raise a `ValueError` naming the
    argument (a dropout rate outside [0, 1], which GRU clips...).

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function of the candidate `hh`. Default:
            hyperbolic tangent (`tanh`). If you pass `None`, no activation
            is applied (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function of the gates z and r.
            Default: sigmoid (`sigmoid`).
        use_bias: Boolean, (default `True`), whether the layer should use a
            bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of the weights. Default: `"glorot_uniform"`,
            `"orthogonal"`, `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        activity_regularizer: Regularizer functions. Default: `None`.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraint functions. Default: `None`.
        dropout: Float between 0 and 1. Fraction of the units to drop for the
            linear transformation of the inputs, one mask per call, only in
            training. Default: 0. Outside [0, 1], a `ValueError`. As in GRU,
            a rate of exactly 1 drops nothing.
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0. With it, every gate has its own masks, as in GRU.
        seed: Random seed for dropout: `None` or a 64-bit integer.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last state in addition
            to the output, as `(output, h)`. Default: `False`.
        go_backwards: Boolean (default `False`). If `True`, process the
            input sequence backwards and return the reversed sequence.
        stateful: Boolean (default: `False`). If `True`, the last state for
            each sample at index i in a batch will be used as the initial
            state for the sample of index i in the following batch.
        unroll: Boolean (default: `False`). If `True`, the network will be
            unrolled (needs a static number of timesteps).
        reset_after: GRU convention (whether to apply reset gate after or
            before matrix multiplication). `False` is `"before"` (the
            book's), `True` is `"after"` (default and cuDNN compatible).
        use_cudnn: `"auto"` (default), `True` or `False`, accepted and saved
            for GRU's sake; ScratchGRU always runs its own loops and
            handwritten backward, so the value changes nothing.
        zero_output_for_mask: Boolean (default: `False`). Whether masked
            timesteps output zeros instead of the previous output.

    Call arguments:
        sequences: A 3D tensor, with shape `[batch, timesteps, feature]`.
        initial_state: A tensor `(batch, units)` or a list holding one.
        mask: Binary tensor of shape `[batch, timesteps]`: `False` steps
            carry the state over.
        training: Python boolean: training mode (dropout) or inference.

    Returns:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences`; with `return_state`, `(output, final_state)`.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    gru = ScratchGRU(4)
    output = gru(inputs)  # The output has shape `(32, 4)`.

    builtin = keras.layers.GRU(4, return_sequences=True)
    builtin.build((None, 10, 8))
    builtin.set_weights(gru.get_weights())  # the same weights layout
    ```
    """

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
        reset_after=True,
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
        cell = ScratchGRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
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
            dtype=kwargs.get("dtype", None),
            trainable=kwargs.get("trainable", True),
            reset_after=reset_after,
            name="scratch_gru_cell",
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
        )
        super().__init__(cell, **options, **kwargs)
        self.input_spec = [keras.layers.InputSpec(ndim=3)]
        self.use_cudnn = use_cudnn

    def _run(self, x, states, mask, dropout_masks):
        """The whole sequence as one op: `(output, h_last)`."""
        input_dropout_mask, recurrent_dropout_mask = dropout_masks
        kernel, recurrent_kernel, bias = weights_as_tensors(self.cell, x.dtype)
        return scratch_gru(
            x,
            states[0],
            kernel,
            recurrent_kernel,
            bias,
            mask=mask,
            input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask,
            activation=self.cell.ops_activation,
            recurrent_activation=self.cell.ops_recurrent_activation,
            reset_after=self.cell.reset_after,
            zero_output_for_mask=self.zero_output_for_mask,
            unroll=self.unroll,
            return_sequences=self.return_sequences,
        )

    def _dropout_masks(self, x, training):
        """As GRU draws them, one per gate with `recurrent_dropout`:
        `ScratchLayer._gate_dropout_masks`."""
        return self._gate_dropout_masks(x, training)

    @classmethod
    def from_gru(cls, layer):
        """A ScratchGRU with the configuration, weights and state of
        `layer`.

        Args:
            layer: A `keras.layers.GRU`, built or not.

        Returns:
            A new `ScratchGRU` (built if `layer` was) that computes the same
            function; its name is a new one.
        """
        return cls._from_keras(layer, keras.layers.GRU)

    def to_gru(self):
        """A `keras.layers.GRU` with this layer's config, weights and state.

        Returns:
            A new GRU (built if this layer is) computing the same function;
            its name is a new one.
        """
        return self._to_keras(keras.layers.GRU)

    @property
    def reset_after(self):
        return self.cell.reset_after

    @property
    def recurrent_activation(self):
        return self.cell.recurrent_activation

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "reset_after": self.reset_after,
            "use_cudnn": self.use_cudnn,
        }
