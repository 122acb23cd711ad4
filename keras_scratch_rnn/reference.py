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
