"""`ScratchLSTMCell`: the book's one-step `LSTM` (chapter 6) as a Keras RNN
cell."""

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
from keras_scratch_rnn.ops import lstm_step


def forget_bias_initializer(cell):
    """The bias initializer of `unit_forget_bias=True`, as Keras's: the
    forget gate's H entries start at 1, the others from `bias_initializer`
    (called for i, then for g and o together)."""

    def initializer(_, *args, **kwargs):
        return keras.ops.concatenate(
            [
                cell.bias_initializer((cell.units,), *args, **kwargs),  # i
                keras.initializers.get("ones")((cell.units,), *args, **kwargs),
                cell.bias_initializer((cell.units * 2,), *args, **kwargs),
            ]
        )

    return initializer


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class ScratchLSTMCell(ScratchCell):
    """One step of the book's LSTM, with its own handwritten backward.

    A drop-in for `keras.layers.LSTMCell`: same arguments, same weights,
    same outputs. `kernel (D, 4H)`, `recurrent_kernel (H, 4H)` and
    `bias (4H,)` are the book's `Wx`, `Wh` and `b`, with the gates in
    Keras's order i, f, g (Keras's "c"), o, where the book has f, g, i, o
    (`keras_scratch_rnn.reference.keras_to_book_lstm` converts). One step:

        A = x Wx + h_prev Wh + b
        i, f, o = recurrent_activation(A_i, A_f, A_o)
        g = activation(A_g)
        c_next = f * c_prev + i * g
        h_next = o * activation(c_next)

    Its gradient is the book's `LSTM.backward`
    (`keras_scratch_rnn.ops.lstm_step`). `ScratchLSTM` keeps its weights in
    a `ScratchLSTMCell` but runs the whole sequence at once.

    Args:
        units: Positive integer, dimensionality of the output space (`H`).
        activation: Activation function of the candidate `g` and of the
            cell's output, `h = o * activation(c)`. Default: hyperbolic
            tangent (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`). `tanh`, `sigmoid`, `relu`
            and `linear` have handwritten derivatives; any other activation
            mapping `(batch, units)` to `(batch, units)` is differentiated
            locally, one step at a time.
        recurrent_activation: Activation function of the gates i, f, o.
            Default: sigmoid (`sigmoid`). If you pass `None`, no activation
            is applied (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean (default `True`), whether the layer should use a
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
            gate's bias starts at 1, so that f = sigmoid(1) = 0.73 before
            training and the cell starts out remembering; the other gates'
            biases come from `bias_initializer`. (Keras's docstring says it
            forces `bias_initializer="zeros"`; its code, as this one, uses
            `bias_initializer` for the other gates.) Recommended by
            Jozefowicz et al., 2015.
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
            linear transformation of the inputs. Default: 0. Outside
            [0, 1], a `ValueError` (Keras clips). As in Keras's LSTM, a
            rate of exactly 1 drops nothing (Keras applies a mask only for
            rates below 1).
        recurrent_dropout: Float between 0 and 1. Fraction of the units to
            drop for the linear transformation of the recurrent state.
            Default: 0. With it, each gate gets its own input and recurrent
            masks, as in Keras (its `implementation=1`).
        seed: Random seed for dropout: `None` or a 64-bit integer.

    Call arguments:
        inputs: A 2D tensor, with shape `(batch, features)`.
        states: A list of two 2D tensors `[h_prev, c_prev]`, each
            `(batch, units)`: the states from the previous time step.
        training: Python boolean indicating whether the layer should behave
            in training mode (dropout) or in inference mode.

    Returns:
        `(h_next, [h_next, c_next])`, each `(batch, units)`.

    Example:

    ```python
    inputs = np.random.random((32, 10, 8))
    rnn = keras.layers.RNN(ScratchLSTMCell(4))
    output = rnn(inputs)  # The output has shape `(32, 4)`.
    ```
    """

    gates = 4
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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        implementation = check_implementation(kwargs.pop("implementation", 2))
        recurrent_activation = get_option(
            activations.get,
            recurrent_activation,
            "recurrent_activation",
            "an activation name, function or None",
        )
        unit_forget_bias = check_flag(unit_forget_bias, "unit_forget_bias")
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
        self.unit_forget_bias = unit_forget_bias
        # Keras's rule: recurrent dropout needs the gates apart.
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 4  # one mask per gate, as Keras draws

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return forget_bias_initializer(self)
        return self.bias_initializer

    def call(self, inputs, states, training=False):
        check_training(training)
        x, (h_prev, c_prev) = self._step_inputs(inputs, states)
        m = r = None  # as Keras: masks only in training, rates below 1
        if training and 0.0 < self.dropout < 1.0:
            m = gate_masks(self.get_dropout_mask(x))  # (N, D) or (N, 4, D)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            r = gate_masks(self.get_recurrent_dropout_mask(h_prev))
        kernel, recurrent_kernel, bias = weights_as_tensors(self, x.dtype)
        h_next, c_next = lstm_step(
            x,
            h_prev,
            c_prev,
            kernel,
            recurrent_kernel,
            bias,
            input_dropout_mask=m,
            recurrent_dropout_mask=r,
            activation=self.ops_activation,
            recurrent_activation=self.ops_recurrent_activation,
        )
        return h_next, [h_next, c_next]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(
            self.recurrent_activation
        )
        config["unit_forget_bias"] = self.unit_forget_bias
        return config
