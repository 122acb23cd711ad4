"""NumPy reference GRU from "Deep Learning from Scratch 2", appendix C.

`GRU` and `TimeGRU` (common/time_layers.py), with the book's equations,
names and block order z, r, h. Two differences from the book: the weights
and their gradients live in `params = [Wx, Wh]` and `grads = [dWx, dWh]`,
the gradients written in place (the API of the book's other layers; the
book's GRU keeps `self.Wx`, `self.dWx`, ... as attributes and assigns new
gradient arrays); and, as in `reference/rnn.py` and `reference/lstm.py`,
the dtype follows the inputs (`np.result_type`) instead of the book's
hard-coded `'f'` (float32), so float64 works end to end, e.g. for gradient
checks.

The book's GRU has no bias. It packs the three blocks' weights side by side
in the order z, r, h (update gate, reset gate, candidate) and computes
`h_next = (1 - z) h_prev + z h_hat`. `keras.layers.GRU` packs the same
order but computes `h = z h_prev + (1 - z) hh`: its z is the book's
`1 - z`. Since `1 - sigmoid(a) = sigmoid(-a)`, the book's GRU is a Keras GRU
with `reset_after=False` (the reset gate multiplies `h_prev` before the
matmul, as in the book), a zero bias and the z columns negated, in both
`kernel` and `recurrent_kernel`. Keras's default `reset_after=True`
multiplies `h_prev Wh + b_h` after the matmul: a different function, which
the book's weights cannot express. `book_to_keras_gru` and
`keras_to_book_gru` convert.
"""

import numpy as np

from keras_scratch_rnn.reference.lstm import sigmoid


def _blocks(W, H):
    """The three column blocks z, r, h (each of width H) of `W` (., 3H)."""
    return W[:, :H], W[:, H : 2 * H], W[:, 2 * H :]


class GRU:
    """One GRU step, the book's block order z, r, h, no bias.

    `z = sigmoid(x Wxz + h_prev Whz)` (update gate), `r = sigmoid(x Wxr +
    h_prev Whr)` (reset gate), `h_hat = tanh(x Wxh + (r * h_prev) Whh)`
    (candidate), `h_next = (1 - z) * h_prev + z * h_hat`. The sigmoid is
    the overflow-safe one of `reference/lstm.py`.

    Args:
        Wx: input weights of z, r, h side by side, shape (D, 3H).
        Wh: recurrent weights, shape (H, 3H).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> layer = GRU(rng.normal(size=(4, 15)), rng.normal(size=(5, 15)))
        >>> layer.forward(np.ones((3, 4)), np.zeros((3, 5))).shape
        (3, 5)
    """

    def __init__(self, Wx, Wh):
        self.params = [Wx, Wh]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh)]
        self.cache = None

    def forward(self, x, h_prev):
        """Args: x (N, D), h_prev (N, H). Returns: h_next (N, H)."""
        Wx, Wh = self.params
        H = Wh.shape[0]
        Wxz, Wxr, Wxh = _blocks(Wx, H)  # (D, H) each
        Whz, Whr, Whh = _blocks(Wh, H)  # (H, H) each
        z = sigmoid(x @ Wxz + h_prev @ Whz)  # update gate  (N, H)
        r = sigmoid(x @ Wxr + h_prev @ Whr)  # reset gate  (N, H)
        h_hat = np.tanh(x @ Wxh + (r * h_prev) @ Whh)  # candidate  (N, H)
        h_next = (1 - z) * h_prev + z * h_hat  # Keras: z h_prev + (1 - z) hh
        self.cache = (x, h_prev, z, r, h_hat)
        return h_next

    def backward(self, dh_next):
        """Args: dh_next (N, H). Returns: (dx (N, D), dh_prev (N, H)).

        Writes dWx, dWh (blocks z, r, h) into `self.grads` in place.
        """
        Wx, Wh = self.params
        H = Wh.shape[0]
        Wxz, Wxr, Wxh = _blocks(Wx, H)
        Whz, Whr, Whh = _blocks(Wh, H)
        x, h_prev, z, r, h_hat = self.cache

        dh_hat = dh_next * z  # dh_next/dh_hat = z
        dh_prev = dh_next * (1 - z)  # direct path: dh_next/dh_prev = 1 - z

        # candidate: h_hat = tanh(a_h), a_h = x Wxh + (r h_prev) Whh
        dt = dh_hat * (1 - h_hat**2)  # tanh'(a_h) = 1 - h_hat^2  (N, H)
        dWhh = (r * h_prev).T @ dt  # dWhh = (r h_prev)^T dt  (H, H)
        dhr = dt @ Whh.T  # dL/d(r h_prev) = dt Whh^T  (N, H)
        dWxh = x.T @ dt  # dWxh = x^T dt  (D, H)
        dx = dt @ Wxh.T  # dx = dt Wxh^T  (N, D)
        dh_prev += r * dhr  # through r h_prev: d/dh_prev = r

        # update gate: z = sigmoid(a_z), a_z = x Wxz + h_prev Whz
        dz = dh_next * h_hat - dh_next * h_prev  # dh_next/dz = h_hat - h_prev
        dt = dz * z * (1 - z)  # sigmoid'(a_z) = z (1 - z)
        dWhz = h_prev.T @ dt  # dWhz = h_prev^T dt  (H, H)
        dh_prev += dt @ Whz.T  # through a_z: dt Whz^T
        dWxz = x.T @ dt  # dWxz = x^T dt  (D, H)
        dx += dt @ Wxz.T  # through a_z: dt Wxz^T

        # reset gate: r = sigmoid(a_r), a_r = x Wxr + h_prev Whr
        dr = dhr * h_prev  # d(r h_prev)/dr = h_prev
        dt = dr * r * (1 - r)  # sigmoid'(a_r) = r (1 - r)
        dWhr = h_prev.T @ dt  # dWhr = h_prev^T dt  (H, H)
        dh_prev += dt @ Whr.T  # through a_r: dt Whr^T
        dWxr = x.T @ dt  # dWxr = x^T dt  (D, H)
        dx += dt @ Wxr.T  # through a_r: dt Wxr^T

        self.grads[0][...] = np.hstack((dWxz, dWxr, dWxh))  # (D, 3H)
        self.grads[1][...] = np.hstack((dWhz, dWhr, dWhh))  # (H, 3H)
        return dx, dh_prev


class TimeGRU:
    """T GRU steps sharing `Wx, Wh`, with truncated BPTT.

    Unlike the book (dtype `'f'`), `hs`, `dxs` and the zero initial state
    take the dtype of the inputs, so float64 works end to end.

    Args:
        Wx, Wh: as in `GRU`.
        stateful: if True, the last hidden state of one `forward` is the
            initial state of the next (until `reset_state`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> gru = TimeGRU(rng.normal(size=(4, 15)), rng.normal(size=(5, 15)))
        >>> gru.forward(np.ones((3, 6, 4))).shape
        (3, 6, 5)
    """

    def __init__(self, Wx, Wh, stateful=False):
        self.params = [Wx, Wh]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh)]
        self.layers = None
        self.h, self.dh = None, None
        self.stateful = stateful

    def forward(self, xs):
        """Args: xs (N, T, D). Returns: hs (N, T, H), dtype of the inputs."""
        Wx, Wh = self.params
        N, T, D = xs.shape  # noqa: RUF059 (book's unpacking)
        H = Wh.shape[0]
        dtype = np.result_type(xs, Wx, Wh)  # book: 'f'
        self.layers = []
        hs = np.empty((N, T, H), dtype=dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=dtype)
        for t in range(T):
            layer = GRU(*self.params)
            self.h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        """Backprop through the T steps of the last `forward`.

        Loops `for t in reversed(range(T))`, carrying `dh` back in time;
        stops at the block boundary (truncated BPTT). `self.dh` is the
        gradient w.r.t. the initial state.

        Args:
            dhs: (N, T, H) gradient of the loss w.r.t. `hs`.

        Returns:
            dxs: (N, T, D). Writes dWx, dWh into `self.grads` in place.
        """
        Wx, Wh = self.params  # noqa: RUF059 (book's unpacking)
        N, T, H = dhs.shape  # noqa: RUF059 (book's unpacking)
        D = Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=np.result_type(dhs, Wx))  # book: 'f'
        dh = 0
        grads = [0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            # dh: from the output hs[t] and from step t + 1
            dx, dh = layer.backward(dhs[:, t, :] + dh)
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


# --- The book's weights <-> keras.layers.GRU's -------------------------------
#
# Both pack the blocks z, r, h side by side in column blocks of H. Keras
# (`reset_after=False`) computes `z = sigmoid(x kernel_z + h rk_z + b_z)`,
# `r = sigmoid(x kernel_r + h rk_r + b_r)`, `hh = tanh(x kernel_h +
# (r h) rk_h + b_h)`, `h = z h_prev + (1 - z) hh`: the book's equations
# with z replaced by 1 - z, i.e. its pre-activation negated
# (1 - sigmoid(a) = sigmoid(-a)), and a bias the book does not have.


def _gate_width(names, arrays):
    """Checks that both are 2-D with the same last axis 3H (H > 0) and that
    the second is (H, 3H); returns H."""
    for name, arr in zip(names, arrays):
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must have 2 dimensions, got shape {arr.shape}."
            )
        width = arr.shape[-1]
        if width == 0 or width % 3:
            raise ValueError(
                f"{name}'s last axis must be 3H, a positive multiple of 3 "
                f"(the blocks z, r, h side by side), got shape {arr.shape}."
            )
    width = arrays[0].shape[-1]
    if arrays[1].shape[-1] != width:
        raise ValueError(
            f"{names[1]}'s last axis must equal {names[0]}'s ({width} = "
            f"3H), got shape {arrays[1].shape}."
        )
    H = width // 3
    if arrays[1].shape[0] != H:
        raise ValueError(
            f"{names[1]} must have shape (H, 3H) = ({H}, {width}), "
            f"got shape {arrays[1].shape}."
        )
    return H


def _negate_z(W, H):
    """A copy of `W` (., 3H) with its z block (the first H columns)
    negated; exact, and its own inverse."""
    W = W.copy()
    W[:, :H] = -W[:, :H]
    return W


def book_to_keras_gru(Wx, Wh):
    """The book's GRU weights as `keras.layers.GRU(reset_after=False)`'s.

    Negates the z block (the first H columns) of both matrices, as Keras's
    z is the book's `1 - z`; the other values are copied exactly. The bias
    is zeros: the book's GRU has none.

    Args:
        Wx: the book's input weights, shape (D, 3H).
        Wh: the book's recurrent weights, shape (H, 3H).

    Returns:
        (kernel (D, 3H), recurrent_kernel (H, 3H), bias (3H,) zeros), new
        arrays of the weights' dtypes (the bias of their common dtype), for
        `keras.layers.GRU(H, reset_after=False).set_weights([...])`.

    Raises:
        ValueError: a shape is not as above (the message names it).

    Example:
        >>> Wx = np.arange(1.0, 4.0).repeat(2)[None]  # blocks z=1 r=2 h=3
        >>> kernel, rk, bias = book_to_keras_gru(Wx, np.ones((2, 6)))
        >>> kernel.tolist(), rk[0].tolist()  # Keras's z = the book's 1 - z
        ([[-1.0, -1.0, 2.0, 2.0, 3.0, 3.0]], [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
        >>> bias.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    Wx, Wh = np.asarray(Wx), np.asarray(Wh)
    H = _gate_width(("Wx", "Wh"), (Wx, Wh))
    bias = np.zeros(3 * H, dtype=np.result_type(Wx, Wh))
    return _negate_z(Wx, H), _negate_z(Wh, H), bias


def keras_to_book_gru(kernel, recurrent_kernel, bias=None, reset_after=False):
    """`keras.layers.GRU`'s weights as the book's `GRU(Wx, Wh)`.

    Exists only for a Keras GRU that computes the book's function:
    `reset_after=False` (Keras's default is True) and no bias or a zero
    one. Negates the z block (the first H columns) of both matrices; the
    other values are copied exactly.

    Args:
        kernel: Keras's input weights, shape (D, 3H).
        recurrent_kernel: Keras's recurrent weights, shape (H, 3H).
        bias: Keras's bias, shape (3H,), all zeros; or None
            (`use_bias=False`).
        reset_after: the Keras layer's `reset_after`; only False converts.

    Returns:
        (Wx (D, 3H), Wh (H, 3H)), new arrays of the same dtypes.

    Raises:
        ValueError, the message naming the argument: `reset_after` is True
        (Keras multiplies the reset gate into `h_prev Wh + b_h`, after the
        matmul; the book into `h_prev`, before it: no book weights give
        that function); `bias` has shape (2, 3H) (the layout of
        `reset_after=True`) or any shape but (3H,), or is not all zeros
        (the book's GRU has no bias); a weight's shape is not as above.

    Example:
        >>> kernel = np.arange(1.0, 4.0).repeat(2)[None]  # z=1 r=2 h=3
        >>> rk = np.ones((2, 6))
        >>> Wx, Wh = keras_to_book_gru(kernel, rk, np.zeros(6))
        >>> Wx.tolist()  # the book's z = Keras's 1 - z
        [[-1.0, -1.0, 2.0, 2.0, 3.0, 3.0]]
        >>> try:
        ...     keras_to_book_gru(kernel, rk, reset_after=True)
        ... except ValueError as error:  # Keras's default: no book weights
        ...     print(str(error).split(":")[0])
        reset_after=True
    """
    if reset_after:
        raise ValueError(
            "reset_after=True: Keras then applies the reset gate after the "
            "recurrent matmul, r * (h_prev Wh + b_h), where the book's GRU "
            "applies it before, (r * h_prev) Wh: a different function, which "
            "no book weights express. Only a keras.layers.GRU with "
            "reset_after=False converts."
        )
    kernel = np.asarray(kernel)
    recurrent_kernel = np.asarray(recurrent_kernel)
    H = _gate_width(("kernel", "recurrent_kernel"), (kernel, recurrent_kernel))
    if bias is not None:
        bias = np.asarray(bias)
        if bias.ndim == 2:
            raise ValueError(
                f"bias of shape {bias.shape} is the (2, 3H) layout of "
                "reset_after=True (input and recurrent biases), a different "
                "function from the book's GRU; reset_after=False has a "
                "(3H,) bias."
            )
        if bias.shape != (3 * H,):
            raise ValueError(
                f"bias must have shape (3H,) = ({3 * H},), got shape "
                f"{bias.shape}."
            )
        if np.any(bias):
            raise ValueError(
                "bias must be all zeros (or None): the book's GRU has no "
                f"bias, got {np.count_nonzero(bias)} non-zero value(s), max "
                f"|bias| = {np.max(np.abs(bias))}."
            )
    return _negate_z(kernel, H), _negate_z(recurrent_kernel, H)
