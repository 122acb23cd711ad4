"""The NumPy ch05 RNNLM (reference.py): gradients against central differences.

`TimeEmbedding`, `TimeAffine`, `TimeSoftmaxWithLoss`, `SimpleRnnlm` and
`SGD`, in float64, against `numerical_gradient`.
"""

import numpy as np
import pytest

from keras_scratch_rnn.reference import (
    SGD,
    SimpleRnnlm,
    TimeAffine,
    TimeEmbedding,
    TimeSoftmaxWithLoss,
    numerical_gradient,
)
from keras_scratch_rnn.tolerances import GRADIENT_CHECK_RTOL

SEED = 0
N, T, V, D, H = 3, 4, 7, 5, 6
EPS = 1e-6  # central-difference step
TINY = 1e-30
# The book's initial weights are random: their spread is checked on a large
# model, to this relative precision.
INIT_STD_RTOL = 0.05


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|, tiny)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), TINY)
    return np.abs(a - n).max() / scale


def word_ids(rng, shape=(N, T)):
    ids = rng.integers(0, V, size=shape)
    ids[0, :2] = 3  # a word used twice in one batch: its gradients add up
    return ids


# --- TimeEmbedding -----------------------------------------------------------


def test_time_embedding_forward_and_gradient():
    rng = np.random.default_rng(SEED)
    W = rng.normal(size=(V, D))
    xs = word_ids(rng)
    G = rng.normal(size=(N, T, D))
    embed = TimeEmbedding(W)

    def loss():
        return float(np.sum(embed.forward(xs) * G))

    out = embed.forward(xs)
    assert out.shape == (N, T, D)
    np.testing.assert_array_equal(out[1, 2], W[xs[1, 2]])
    assert embed.backward(G) is None  # word ids have no gradient
    dW = embed.grads[0].copy()
    assert np.abs(dW[3]).max() > 0
    assert rel_err(dW, numerical_gradient(loss, W, EPS)) <= GRADIENT_CHECK_RTOL


def test_time_embedding_grads_overwritten_not_accumulated():
    rng = np.random.default_rng(SEED)
    embed = TimeEmbedding(rng.normal(size=(V, D)))
    xs = word_ids(rng)
    G = rng.normal(size=(N, T, D))
    grad = embed.grads[0]
    embed.forward(xs)
    embed.backward(G)
    first = grad.copy()
    embed.backward(G)
    assert embed.grads[0] is grad
    np.testing.assert_array_equal(grad, first)


# --- TimeAffine --------------------------------------------------------------


def test_time_affine_gradients():
    rng = np.random.default_rng(SEED)
    W = rng.normal(size=(H, V))
    b = rng.normal(size=(V,))
    x = rng.normal(size=(N, T, H))
    G = rng.normal(size=(N, T, V))
    affine = TimeAffine(W, b)

    def loss():
        return float(np.sum(affine.forward(x) * G))

    out = affine.forward(x)
    np.testing.assert_allclose(out[2, 1], x[2, 1] @ W + b, rtol=1e-12)
    dx = affine.backward(G)
    dW, db = (g.copy() for g in affine.grads)
    for name, analytic, arr in (("dx", dx, x), ("dW", dW, W), ("db", db, b)):
        err = rel_err(analytic, numerical_gradient(loss, arr, EPS))
        assert err <= GRADIENT_CHECK_RTOL, f"{name}: rel err {err:.2e}"


# --- TimeSoftmaxWithLoss -----------------------------------------------------


def test_softmax_loss_is_mean_cross_entropy():
    rng = np.random.default_rng(SEED)
    xs = rng.normal(size=(N, T, V))
    ts = word_ids(rng)
    loss = TimeSoftmaxWithLoss().forward(xs, ts)
    log_probs = xs - np.log(np.exp(xs).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, ts[..., None], axis=2)
    np.testing.assert_allclose(loss, -picked.mean(), rtol=1e-12)


def test_softmax_loss_gradient():
    rng = np.random.default_rng(SEED)
    xs = rng.normal(scale=2.0, size=(N, T, V))
    ts = word_ids(rng)
    layer = TimeSoftmaxWithLoss()

    def loss():
        return float(layer.forward(xs, ts))

    loss()
    dxs = layer.backward()
    assert dxs.shape == (N, T, V)
    err = rel_err(dxs, numerical_gradient(loss, xs, EPS))
    assert err <= GRADIENT_CHECK_RTOL
    loss()
    np.testing.assert_allclose(layer.backward(dout=2.5), 2.5 * dxs, rtol=1e-12)


def test_softmax_loss_large_scores_stay_finite():
    """Scores of 1000: log(softmax) computed without underflow."""
    xs = np.zeros((1, 2, 3))
    xs[0, :, 0] = 1000.0
    ts = np.array([[0, 1]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    np.testing.assert_allclose(loss, 500.0, rtol=1e-12)  # (0 + 1000) / 2
    assert np.isfinite(layer.backward()).all()


def test_softmax_loss_ignore_label_and_one_hot():
    rng = np.random.default_rng(SEED)
    xs = rng.normal(size=(N, T, V))
    ts = word_ids(rng)
    ignored = ts.copy()
    ignored[1, 1:] = -1  # the book's ignore_label

    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ignored)
    dxs = layer.backward()
    keep = ignored != -1
    log_probs = xs - np.log(np.exp(xs).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, ts[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(loss, -picked[keep].mean(), rtol=1e-12)
    np.testing.assert_array_equal(dxs[~keep], 0.0)

    def loss_fn():
        return float(layer.forward(xs, ignored))

    assert rel_err(dxs, numerical_gradient(loss_fn, xs, EPS)) <= (
        GRADIENT_CHECK_RTOL
    )

    one_hot = np.eye(V)[ts]  # (N, T, V) labels give the same loss
    np.testing.assert_allclose(
        TimeSoftmaxWithLoss().forward(xs, one_hot),
        TimeSoftmaxWithLoss().forward(xs, ts),
        rtol=1e-12,
    )


# --- SimpleRnnlm -------------------------------------------------------------


def rnnlm_setup():
    """A float64 model with weights of order 1, and two batches of words."""
    rng = np.random.default_rng(SEED)
    model = SimpleRnnlm(V, D, H, dtype="float64", seed=SEED)
    for param in model.params:
        param[...] = rng.normal(scale=0.5, size=param.shape)
    batches = [(word_ids(rng), word_ids(rng)) for _ in range(2)]
    return model, batches


NAMES = ["embed_W", "rnn_Wx", "rnn_Wh", "rnn_b", "affine_W", "affine_b"]


def test_simple_rnnlm_gradients():
    model, [(xs, ts), _] = rnnlm_setup()

    def loss():
        model.reset_state()
        return float(model.forward(xs, ts))

    loss()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    for name, grad, param in zip(NAMES, analytic, model.params):
        err = rel_err(grad, numerical_gradient(loss, param, EPS))
        assert err <= GRADIENT_CHECK_RTOL, f"{name}: rel err {err:.2e}"


def test_simple_rnnlm_truncated_bptt_on_the_second_batch():
    """Batch 2 starts from batch 1's last state, held constant."""
    model, [(xs1, ts1), (xs2, ts2)] = rnnlm_setup()
    model.forward(xs1, ts1)
    h_carried = model.rnn_layer.h.copy()
    assert np.abs(h_carried).max() > 0.1  # a real state is carried

    def loss2():
        model.rnn_layer.set_state(h_carried)
        return float(model.forward(xs2, ts2))

    loss2()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    for name, grad, param in zip(NAMES, analytic, model.params):
        err = rel_err(grad, numerical_gradient(loss2, param, EPS))
        assert err <= GRADIENT_CHECK_RTOL, f"{name}: rel err {err:.2e}"

    model.reset_state()
    fresh = model.forward(xs2, ts2)
    assert abs(fresh - loss2()) > 1e-3  # the carried state matters


def test_simple_rnnlm_structure_and_reset():
    model = SimpleRnnlm(V, D, H, seed=SEED)
    assert [p.shape for p in model.params] == [
        (V, D),
        (D, H),
        (H, H),
        (H,),
        (H, V),
        (V,),
    ]
    assert model.rnn_layer.stateful
    assert all(g.shape == p.shape for g, p in zip(model.grads, model.params))
    for layer in model.layers:  # the model's lists are the layers' arrays
        for p in layer.params:
            assert any(p is q for q in model.params)
    xs = np.arange(N * T).reshape(N, T) % V
    first = model.forward(xs, xs)
    assert model.forward(xs, xs) != first  # the state carried over
    model.reset_state()
    assert model.rnn_layer.h is None
    assert model.forward(xs, xs) == first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simple_rnnlm_dtype(dtype):
    model = SimpleRnnlm(V, D, H, dtype=dtype, seed=SEED)
    xs = np.arange(N * T).reshape(N, T) % V
    loss = model.forward(xs, xs)
    dout = model.backward()
    assert dout is None
    assert np.asarray(loss).dtype == dtype
    assert all(p.dtype == dtype for p in model.params)
    assert all(g.dtype == dtype for g in model.grads)
    assert model.rnn_layer.h.dtype == dtype


def test_simple_rnnlm_initial_weights_follow_the_book():
    """embed_W ~ N(0, 1/100^2), Wx ~ N(0, 1/D), Wh and affine_W ~ N(0, 1/H),
    biases zero; the same seed gives the same weights."""
    V_, D_, H_ = 400, 300, 200
    model = SimpleRnnlm(V_, D_, H_, seed=1)
    embed_W, Wx, Wh, b, affine_W, affine_b = model.params
    for arr, std in (
        (embed_W, 1 / 100),
        (Wx, 1 / np.sqrt(D_)),
        (Wh, 1 / np.sqrt(H_)),
        (affine_W, 1 / np.sqrt(H_)),
    ):
        assert abs(arr.std() / std - 1) <= INIT_STD_RTOL
    assert not b.any() and not affine_b.any()
    again = SimpleRnnlm(V_, D_, H_, seed=1).params
    assert all(np.array_equal(p, q) for p, q in zip(model.params, again))
    other = SimpleRnnlm(V_, D_, H_, seed=2).params
    assert not np.array_equal(other[0], embed_W)


def test_sgd_updates_in_place():
    rng = np.random.default_rng(SEED)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    before = [p.copy() for p in params]
    arrays = list(params)
    SGD(lr=0.1).update(params, grads)
    assert all(p is a for p, a in zip(params, arrays))  # same arrays
    for p, p0, g in zip(params, before, grads):
        np.testing.assert_allclose(p, p0 - 0.1 * g, rtol=1e-15)


def test_simple_rnnlm_learns_a_repeating_sentence():
    """SGD on the book's model: the loss of a memorizable stream falls."""
    model = SimpleRnnlm(V, D, H, dtype="float64", seed=SEED)
    optimizer = SGD(lr=0.5)
    stream = np.tile(np.arange(V), 6)[: 8 * T + 1]  # 0 1 2 ... 6 0 1 ...
    xs, ts = stream[:-1].reshape(-1, T)[None], stream[1:].reshape(-1, T)[None]
    losses = []
    for _ in range(30):
        model.reset_state()
        total = 0.0
        for k in range(xs.shape[1]):  # one stream, T words per batch
            total += model.forward(xs[:, k], ts[:, k])
            model.backward()
            optimizer.update(model.params, model.grads)
        losses.append(total / xs.shape[1])
    assert losses[0] > 0.9 * np.log(V)  # starts near chance
    assert losses[-1] < 0.1 * losses[0]
