"""The JAX layer's structure: its gradient is the custom_vjp."""

import keras
import numpy as np

from keras_scratch_rnn import ScratchRNN

N, T, D, H = 16, 6, 4, 5


def _data(seed=0):
    x = np.random.default_rng(seed).normal(size=(N, T, D))
    return x.astype("float32"), None


def test_jax_layer_jaxpr_holds_a_custom_vjp():
    import jax

    layer = ScratchRNN(H, return_sequences=True)
    x, _ = _data()
    layer.build(x.shape)
    trainable = [v.value for v in layer.trainable_variables]

    fixed = [v.value for v in layer.non_trainable_variables]

    def forward(trainable, x):
        return layer.stateless_call(trainable, fixed, x)[0]

    jaxpr = str(jax.make_jaxpr(forward)(trainable, x))
    assert "custom_vjp" in jaxpr
    simple = keras.layers.SimpleRNN(H, return_sequences=True)
    simple.build(x.shape)
    simple_fixed = [v.value for v in simple.non_trainable_variables]
    assert "custom_vjp" not in str(
        jax.make_jaxpr(
            lambda w, x: simple.stateless_call(w, simple_fixed, x)[0]
        )([v.value for v in simple.trainable_variables], x)
    )


def test_float64_layer_matches_the_books_numpy_code():
    """In float64 (JAX's x64 mode), ScratchRNN's outputs and its gradients
    (jax.grad over stateless_call, the custom_vjp) equal the book's NumPy
    TimeRNN. SimpleRNN cannot run float64 on JAX in Keras 3.15 (its scan
    carry is cast to float32): docs/compatibility.md."""
    import jax

    from keras_scratch_rnn.reference import TimeRNN
    from keras_scratch_rnn.tolerances import FLOAT64_PARITY, scaled_error

    rng = np.random.default_rng(1)
    x, G = rng.normal(size=(3, T, D)), rng.normal(size=(3, T, H))
    with jax.enable_x64(True):
        layer = ScratchRNN(H, return_sequences=True, dtype="float64")
        layer.build(x.shape)
        weights = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(weights, x):
            y = layer.stateless_call(weights, fixed, x)[0]
            return (y * G).sum(), y

        (_, y), (d_weights, dx) = jax.value_and_grad(
            loss, argnums=(0, 1), has_aux=True
        )(weights, x)
        assert y.dtype == np.float64
        book = TimeRNN(*(np.asarray(w) for w in weights))
        assert scaled_error(y, book.forward(x)) <= FLOAT64_PARITY
        assert scaled_error(dx, book.backward(G)) <= FLOAT64_PARITY
        for got, want in zip(d_weights, book.grads):
            assert scaled_error(got, want) <= FLOAT64_PARITY
