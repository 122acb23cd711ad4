"""Backend-native gradients of a Keras layer, for the comparisons.

`forward_backward` runs a layer forward and differentiates a fixed scalar
loss of its outputs with the backend's own autodiff: `tf.GradientTape`,
`jax.grad` over `layer.stateless_call`, or torch autograd. The layers'
gradients are whatever they attach (the handwritten BPTT for ours), so the
same call checks ScratchRNN and differentiates SimpleRNN on every backend.
"""

import keras
import numpy as np

# How each backend runs a traced call (the first mode is always "eager").
TRACED_MODE = {"tensorflow": "tf.function", "jax": "jax.jit", "torch": None}


def modes(backend=None):
    """The modes a comparison runs in on `backend` (default: Keras's):
    eager, and traced where the backend traces (Keras trains eagerly on
    torch)."""
    traced = TRACED_MODE[backend or keras.backend.backend()]
    return ("eager",) if traced is None else ("eager", traced)


def upstream(shape, dtype="float32"):
    """A fixed, non-constant dL/do so every output element matters."""
    index = np.arange(int(np.prod(shape)), dtype="float64")
    return np.cos(1.7 * index + 0.3).reshape(shape).astype(dtype)


def outputs_and_loss(out):
    """The layer's outputs as a list, and a scalar loss reaching each."""
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    loss = 0.0
    for o in outs:
        dtype = keras.backend.standardize_dtype(o.dtype)
        dl = keras.ops.convert_to_tensor(upstream(tuple(o.shape), dtype))
        loss = loss + keras.ops.sum(o * dl)
    return outs, loss


def forward_backward(
    layer, x, h0=None, mask=None, training=False, traced=False
):
    """The layer's outputs and the gradients of `outputs_and_loss`'s loss.

    Args:
        layer: A built Keras layer taking `(x, initial_state, mask,
            training)`.
        x, h0, mask: NumPy arrays (`h0`, `mask` may be `None`); `h0` may
            be a list of states (the LSTM's `[h0, c0]`).
        training: The `training` call argument.
        traced: Run inside `tf.function` / `jax.jit` (not on torch).

    Returns:
        `(outputs, grads)`: the outputs as NumPy arrays, and a dict of NumPy
        gradients: `"d_inputs"`, `"d_initial_state"` (if `h0`; and
        `"d_initial_carry"` for a second state, the LSTM's c0), and
        `"d_" + weight.name` for each trainable weight (`None` where the
        loss does not reach it).
    """
    run = gradient_function(layer, mask, training, traced)
    outs, grads = run(x, h0)
    names = ["d_inputs"] + STATE_GRADIENTS[: len(_states(h0))]
    names += ["d_" + w.name for w in layer.trainable_weights]
    numpy = keras.ops.convert_to_numpy
    return [numpy(o) for o in outs], {
        name: None if g is None else numpy(g) for name, g in zip(names, grads)
    }


STATE_GRADIENTS = ["d_initial_state", "d_initial_carry"]


def _states(h0):
    """The initial states as a list: none, one, or the LSTM's two."""
    if h0 is None:
        return []
    return list(h0) if isinstance(h0, (list, tuple)) else [h0]


def _as_given(states, h0):
    """`states` in the form `h0` had: `None`, one tensor, or a list."""
    if h0 is None:
        return None
    return states if isinstance(h0, (list, tuple)) else states[0]


def gradient_function(layer, mask=None, training=False, traced=False):
    """`run(x, h0) -> (outputs, grads)`: one forward and backward of
    `layer`, reusable (traced once, when `traced`). `x`, `h0` (`None`, an
    array, or a list of arrays) are NumPy; the outputs and gradients
    (w.r.t. `x`, each state of `h0`, then the trainable weights) are the
    backend's tensors."""
    backend = keras.backend.backend()
    if traced and TRACED_MODE[backend] is None:
        raise ValueError(
            f"Received traced=True, but the {backend} backend runs Keras "
            "layers eagerly; expected traced=False."
        )
    make = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[backend]
    return make(layer, mask, training, traced)


def _tensorflow(layer, mask, training, traced):
    import tensorflow as tf

    def run(x, h0):
        states = _states(h0)
        with tf.GradientTape() as tape:
            tape.watch([x, *states])
            out = layer(x, initial_state=h0, mask=mask, training=training)
            outs, loss = outputs_and_loss(out)
        sources = [x, *states]
        return outs, tape.gradient(loss, sources + layer.trainable_weights)

    mask = None if mask is None else tf.constant(mask)
    traced_run = []

    def call(x, h0):
        x = tf.constant(x)
        h0 = _as_given([tf.constant(s) for s in _states(h0)], h0)
        if not traced:
            return run(x, h0)
        if not traced_run:
            # A graph per layer, traced once on purpose (and called as a
            # concrete function): a `tf.function` per layer would count as
            # retracing one function, with a warning.
            traced_run.append(tf.function(run).get_concrete_function(x, h0))
        return traced_run[0](x, h0)

    return call


def _jax(layer, mask, training, traced):
    import jax

    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_fn(trainable, x, h0):
        out, _ = layer.stateless_call(
            trainable,
            non_trainable,
            x,
            initial_state=h0,
            mask=mask,
            training=training,
        )
        outs, loss = outputs_and_loss(out)
        return loss, outs

    def run(trainable, x, h0):
        argnums = (0, 1, 2) if h0 is not None else (0, 1)
        grad_fn = jax.value_and_grad(loss_fn, argnums=argnums, has_aux=True)
        (_, outs), (d_trainable, dx, *d_h0) = grad_fn(trainable, x, h0)
        d_states = _states(d_h0[0]) if d_h0 else []
        return outs, [dx, *d_states, *d_trainable]

    if traced:
        run = jax.jit(run)

    def call(x, h0):
        trainable = [v.value for v in layer.trainable_variables]
        return run(trainable, x, h0)

    return call


def _torch(layer, mask, training, traced):
    import torch

    mask = None if mask is None else torch.tensor(mask)

    def call(x, h0):
        x = torch.tensor(x, requires_grad=True)
        states = [torch.tensor(s, requires_grad=True) for s in _states(h0)]
        weights = [v.value for v in layer.trainable_variables]
        out = layer(
            x, initial_state=_as_given(states, h0), mask=mask, training=training
        )
        outs, loss = outputs_and_loss(out)
        sources = [x, *states, *weights]
        grads = torch.autograd.grad(loss, sources, allow_unused=True)
        return [o.detach() for o in outs], list(grads)

    return call
