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
