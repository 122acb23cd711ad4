"""NumPy reference RNN from "Deep Learning from Scratch 2", time_layers.py.

`RNN` and `TimeRNN` keep the book's API exactly (`params`, `grads`,
`forward`, `backward`, `set_state`, `reset_state`). One difference from the
book: the dtype follows the inputs (`np.result_type`) instead of the
hard-coded `'f'` (float32), so float64 works end to end, e.g. for
gradient checks.

Note: the blog post this project started from loops `for t in range(T)`
(forward in time) in `TimeRNN.backward`. That is a bug: `dh` from step t+1
is not yet known at step t, and the gradients come out with relative error
~1. The book loops `for t in reversed(range(T))`. Truncated BPTT means
backward stops at the block boundary, while `h` is carried forward to the
next block as a plain array when `stateful=True`.
"""

import numpy as np


class RNN:
    """One RNN step: `h_next = tanh(h_prev @ Wh + x @ Wx + b)`.

    Args:
        Wx: input weights, shape (D, H).
        Wh: recurrent weights, shape (H, H).
        b: bias, shape (H,).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> layer = RNN(rng.normal(size=(4, 5)), np.eye(5), np.zeros(5))
        >>> layer.forward(np.ones((3, 4)), np.zeros((3, 5))).shape
        (3, 5)
    """

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        """Args: x (N, D), h_prev (N, H). Returns: h_next (N, H)."""
        Wx, Wh, b = self.params
        t = h_prev @ Wh + x @ Wx + b  # t = h_prev Wh + x Wx + b  (N, H)
        h_next = np.tanh(t)  # (N, H)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        """Args: dh_next (N, H). Returns: (dx (N, D), dh_prev (N, H)).

        Writes dWx, dWh, db into `self.grads` in place.
        """
        Wx, Wh, b = self.params  # noqa: RUF059 (book's unpacking)
        x, h_prev, h_next = self.cache
        # dt = dh_next * tanh'(t) = dh_next * (1 - h_next^2)
        dt = dh_next * (1 - h_next**2)  # (N, H)
        db = dt.sum(axis=0)  # db = sum_n dt  (H,)
        dWh = h_prev.T @ dt  # dWh = h_prev^T dt  (H, H)
        dh_prev = dt @ Wh.T  # dh_prev = dt Wh^T  (N, H)
        dWx = x.T @ dt  # dWx = x^T dt  (D, H)
        dx = dt @ Wx.T  # dx = dt Wx^T  (N, D)
        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        return dx, dh_prev


class TimeRNN:
    """T RNN steps sharing `Wx, Wh, b`, with truncated BPTT.

    Unlike the book (dtype `'f'`), `hs`, `dxs` and the zero initial state
    take the dtype of the inputs, so float64 works end to end.

    Args:
        Wx, Wh, b: as in `RNN`.
        stateful: if True, the last hidden state of one `forward` is the
            initial state of the next (until `reset_state`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> rnn = TimeRNN(rng.normal(size=(4, 5)), np.eye(5), np.zeros(5))
        >>> rnn.forward(np.ones((3, 6, 4))).shape
        (3, 6, 5)
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h, self.dh = None, None
        self.stateful = stateful

    def forward(self, xs):
        """Args: xs (N, T, D). Returns: hs (N, T, H), dtype of the inputs."""
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        D, H = Wx.shape  # noqa: RUF059
        dtype = np.result_type(xs, Wx, Wh, b)  # book: 'f'
        self.layers = []
        hs = np.empty((N, T, H), dtype=dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=dtype)
        for t in range(T):
            layer = RNN(*self.params)
            self.h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        """Backprop through the T steps of the last `forward`.

        Loops `for t in reversed(range(T))` like the book; the blog post
        this project started from looped `for t in range(T)`, a bug giving
        gradients with relative error ~1. Stops at the block boundary
        (truncated BPTT); `self.dh` is the gradient w.r.t. the initial state.

        Args:
            dhs: (N, T, H) gradient of the loss w.r.t. `hs`.

        Returns:
            dxs: (N, T, D). Writes dWx, dWh, db into `self.grads` in place.
        """
        Wx, Wh, b = self.params  # noqa: RUF059
        N, T, H = dhs.shape
        D, H = Wx.shape  # noqa: RUF059
        dxs = np.empty((N, T, D), dtype=np.result_type(dhs, Wx))  # book: 'f'
        dh = 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)  # dh flows back in time
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad  # shared weights: sum over steps
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs

    def set_state(self, h):
        """Set the initial state (N, H); used by `forward` if stateful."""
        self.h = h

    def reset_state(self):
        """Forget the state: the next `forward` starts from zeros."""
        self.h = None


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of a scalar `f()` w.r.t. every element of `x`.

    Args:
        f: zero-argument callable returning a float; reads `x` in place.
        x: array perturbed in place (each value is restored afterwards).
        eps: step size.

    Returns:
        Array like `x`: `(f(x + eps) - f(x - eps)) / (2 eps)` per element.
    """
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        f_plus = f()
        x[idx] = orig - eps
        f_minus = f()
        x[idx] = orig  # restore
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


# --- The ch05 RNN language model ---------------------------------------------
#
# `TimeEmbedding`, `TimeAffine`, `TimeSoftmaxWithLoss` (common/time_layers.py),
# `SimpleRnnlm` (ch05/simple_rnnlm.py) and `SGD` (common/optimizer.py), with the
# book's API. As above, the dtype follows the inputs and weights (the book
# hard-codes 'f'); `SimpleRnnlm` takes the dtype of its weights as an argument.


class TimeEmbedding:
    """T embedding lookups sharing the word vectors `W`.

    Vectorized: `W[xs]` equals the book's loop of T `Embedding` layers, and
    `np.add.at` sums the gradient of a word that appears more than once.

    Args:
        W: word vectors, shape (V, D).

    Example:
        >>> embed = TimeEmbedding(np.arange(6.0).reshape(3, 2))
        >>> embed.forward(np.array([[2, 0]])).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, xs):
        """Args: xs (N, T) word ids. Returns: (N, T, D), dtype of `W`."""
        (W,) = self.params
        self.idx = xs
        return W[xs]  # out[n, t] = W[xs[n, t]]  (N, T, D)

    def backward(self, dout):
        """Args: dout (N, T, D). Returns: None (ids have no gradient).

        Writes dW into `self.grads` in place.
        """
        dW = self.grads[0]
        dW[...] = 0
        np.add.at(dW, self.idx, dout)  # dW[v] = sum over (n, t) with id v
        return None


class TimeAffine:
    """One affine map `xs @ W + b` applied at every step.

    Args:
        W: weights, shape (H, V).
        b: bias, shape (V,).

    Example:
        >>> affine = TimeAffine(np.ones((4, 3)), np.zeros(3))
        >>> affine.forward(np.ones((2, 5, 4))).shape
        (2, 5, 3)
    """

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        """Args: x (N, T, H). Returns: (N, T, V)."""
        N, T, H = x.shape
        W, b = self.params
        rx = x.reshape(N * T, H)  # (N*T, H)
        out = rx @ W + b  # (N*T, V)
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout):
        """Args: dout (N, T, V). Returns: dx (N, T, H).

        Writes dW, db into `self.grads` in place.
        """
        x = self.x
        N, T, H = x.shape
        W, b = self.params  # noqa: RUF059 (book's unpacking)
        dout = dout.reshape(N * T, -1)  # (N*T, V)
        rx = x.reshape(N * T, -1)  # (N*T, H)
        db = dout.sum(axis=0)  # db = sum_n dout  (V,)
        dW = rx.T @ dout  # dW = x^T dout  (H, V)
        dx = dout @ W.T  # dx = dout W^T  (N*T, H)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx.reshape(N, T, H)


class TimeSoftmaxWithLoss:
    """Softmax cross-entropy at every step, averaged over the N*T labels.

    Labels equal to `ignore_label` (-1) add nothing to the loss or to the
    gradient and are not counted in the average. The log-softmax is
    computed as `x - max - log(sum(exp(x - max)))`, which equals the book's
    `log(softmax(x))` without underflow.

    Example:
        >>> loss = TimeSoftmaxWithLoss()
        >>> float(loss.forward(np.zeros((2, 3, 4)), np.zeros((2, 3), int)))
        1.3862943611198906
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None
        self.ignore_label = -1

    def forward(self, xs, ts):
        """Args: xs (N, T, V) scores, ts (N, T) labels. Returns: the loss."""
        N, T, V = xs.shape
        if ts.ndim == 3:  # one-hot labels
            ts = ts.argmax(axis=2)
        mask = ts != self.ignore_label  # (N, T)
        xs = xs.reshape(N * T, V)
        ts = ts.reshape(N * T)
        mask = mask.reshape(N * T)
        shifted = xs - xs.max(axis=1, keepdims=True)  # (N*T, V)
        log_ys = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        ys = np.exp(log_ys)  # softmax(xs)  (N*T, V)
        ls = log_ys[np.arange(N * T), np.where(mask, ts, 0)]  # (N*T,)
        ls = ls * mask  # ignored labels: no loss
        count = mask.sum(dtype=ls.dtype)  # labels not ignored
        loss = -ls.sum() / count  # L = -(1 / count) sum log y[t]
        self.cache = (ts, ys, mask, (N, T, V))
        return loss

    def backward(self, dout=1):
        """Args: dout, dL of the loss. Returns: dxs (N, T, V)."""
        ts, ys, mask, (N, T, V) = self.cache
        dx = ys.copy()  # dL/dx = (y - onehot(t)) / count
        dx[np.arange(N * T), np.where(mask, ts, 0)] -= 1
        dx *= dout
        dx /= mask.sum(dtype=dx.dtype)
        dx *= mask[:, np.newaxis]  # ignored labels: no gradient
        return dx.reshape(N, T, V)


class SimpleRnnlm:
    """The book's ch05 language model: Embedding, stateful RNN, Affine.

    `TimeEmbedding -> TimeRNN(stateful=True) -> TimeAffine ->
    TimeSoftmaxWithLoss`, with the book's initial weights: `embed_W =
    randn(V, D) / 100`, `rnn_Wx = randn(D, H) / sqrt(D)`, `rnn_Wh = randn(H,
    H) / sqrt(H)`, `affine_W = randn(H, V) / sqrt(H)`, biases zero.

    Args:
        vocab_size: V, the number of word ids.
        wordvec_size: D, the size of a word vector.
        hidden_size: H, the size of the RNN state.
        dtype: dtype of the weights (the book: float32); float64 works.
        seed: seed of the `np.random.default_rng` drawing the weights, or
            a `np.random.Generator`.

    Example:
        >>> model = SimpleRnnlm(vocab_size=8, wordvec_size=4, hidden_size=5)
        >>> xs = np.array([[0, 1, 2], [3, 4, 5]])  # (N, T) word ids
        >>> loss = model.forward(xs, ts=xs + 1)  # next word ids
        >>> _ = model.backward()  # fills model.grads
        >>> [p.shape for p in model.params]
        [(8, 4), (4, 5), (5, 5), (5,), (5, 8), (8,)]
    """

    def __init__(
        self, vocab_size, wordvec_size, hidden_size, dtype="float32", seed=0
    ):
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = np.random.default_rng(seed).standard_normal
        embed_W = (rn((V, D)) / 100).astype(dtype)
        rnn_Wx = (rn((D, H)) / np.sqrt(D)).astype(dtype)
        rnn_Wh = (rn((H, H)) / np.sqrt(H)).astype(dtype)
        rnn_b = np.zeros(H, dtype=dtype)
        affine_W = (rn((H, V)) / np.sqrt(H)).astype(dtype)
        affine_b = np.zeros(V, dtype=dtype)

        self.layers = [
            TimeEmbedding(embed_W),
            TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=True),
            TimeAffine(affine_W, affine_b),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.rnn_layer = self.layers[1]
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs, ts):
        """Args: xs, ts (N, T) word ids and next word ids. Returns: loss."""
        for layer in self.layers:
            xs = layer.forward(xs)
        return self.loss_layer.forward(xs, ts)

    def backward(self, dout=1):
        """Backprop the last `forward`'s loss; fills `self.grads` in place."""
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self):
        """Forget the RNN state: the next `forward` starts from zeros."""
        self.rnn_layer.reset_state()


class SGD:
    """Stochastic gradient descent: `param -= lr * grad`, in place.

    Args:
        lr: learning rate.
    """

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        """Updates each array of `params` in place by its gradient."""
        for param, grad in zip(params, grads):
            param -= self.lr * grad
