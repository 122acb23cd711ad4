"""NumPy reference LSTM from "Deep Learning from Scratch 2", chapter 6.

`LSTM`, `TimeLSTM` and `TimeDropout` (common/time_layers.py), `Rnnlm`
(ch06/rnnlm.py), `BetterRnnlm` (ch06/better_rnnlm.py) and
`remove_duplicate` (common/trainer.py), with the book's API, names and gate
order. As in `reference/rnn.py`, the dtype follows the inputs
(`np.result_type`) instead of the book's hard-coded `'f'` (float32), so
float64 works end to end, e.g. for gradient checks.

The book packs the four gates' weights side by side in the order
f, g, i, o (forget, new cell value, input, output); `keras.layers.LSTM`
packs them in the order i, f, c, o (its c is the book's g).
`book_to_keras_lstm` and `keras_to_book_lstm` permute the column blocks.
"""

import numpy as np

from keras_scratch_rnn.reference.rnn import (
    TimeAffine,
    TimeEmbedding,
    TimeSoftmaxWithLoss,
)


def sigmoid(x):
    """`1 / (1 + exp(-x))`, computed as `(1 + tanh(x / 2)) / 2`.

    The same function as the book's, but `exp` never overflows (the book's
    form warns for x < -88 in float32 and x < -709 in float64).
    """
    return 0.5 * (1 + np.tanh(0.5 * x))


class LSTM:
    """One LSTM step, the book's gate order f, g, i, o.

    `A = x Wx + h_prev Wh + b` is cut into four (N, H) blocks: `f =
    sigmoid(A[:, :H])`, `g = tanh(A[:, H:2H])`, `i = sigmoid(A[:, 2H:3H])`,
    `o = sigmoid(A[:, 3H:])`; then `c_next = f * c_prev + g * i` and
    `h_next = o * tanh(c_next)`.

    Args:
        Wx: input weights of the four gates side by side, shape (D, 4H).
        Wh: recurrent weights, shape (H, 4H).
        b: bias, shape (4H,).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> layer = LSTM(rng.normal(size=(4, 20)),
        ...              rng.normal(size=(5, 20)), np.zeros(20))
        >>> h, c = layer.forward(np.ones((3, 4)), np.zeros((3, 5)),
        ...                      np.zeros((3, 5)))
        >>> h.shape, c.shape
        ((3, 5), (3, 5))
    """

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        """Args: x (N, D), h_prev (N, H), c_prev (N, H).

        Returns: (h_next (N, H), c_next (N, H)).
        """
        Wx, Wh, b = self.params
        N, H = h_prev.shape  # noqa: RUF059 (book's unpacking)
        A = x @ Wx + h_prev @ Wh + b  # A = x Wx + h_prev Wh + b  (N, 4H)
        f = sigmoid(A[:, :H])  # forget gate  (N, H)
        g = np.tanh(A[:, H : 2 * H])  # new cell value  (N, H)
        i = sigmoid(A[:, 2 * H : 3 * H])  # input gate  (N, H)
        o = sigmoid(A[:, 3 * H :])  # output gate  (N, H)
        c_next = f * c_prev + g * i  # c = f c_prev + g i  (N, H)
        h_next = o * np.tanh(c_next)  # h = o tanh(c)  (N, H)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        """Args: dh_next (N, H), dc_next (N, H).

        Returns: (dx (N, D), dh_prev (N, H), dc_prev (N, H)). Writes dWx,
        dWh, db into `self.grads` in place.
        """
        Wx, Wh, b = self.params  # noqa: RUF059 (book's unpacking)
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c_next = np.tanh(c_next)
        # ds = dL/dc = dc_next + dh_next * o * tanh'(c)  (both paths to c)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next**2)  # (N, H)
        dc_prev = ds * f  # dc_prev = ds f  (N, H)
        di = ds * g  # dL/di = ds g
        df = ds * c_prev  # dL/df = ds c_prev
        do = dh_next * tanh_c_next  # dL/do = dh_next tanh(c)
        dg = ds * i  # dL/dg = ds i
        di *= i * (1 - i)  # sigmoid'(a) = i (1 - i)
        df *= f * (1 - f)  # sigmoid'(a) = f (1 - f)
        do *= o * (1 - o)  # sigmoid'(a) = o (1 - o)
        dg *= 1 - g**2  # tanh'(a) = 1 - g^2
        dA = np.hstack((df, dg, di, do))  # same order f, g, i, o  (N, 4H)
        dWh = h_prev.T @ dA  # dWh = h_prev^T dA  (H, 4H)
        dWx = x.T @ dA  # dWx = x^T dA  (D, 4H)
        db = dA.sum(axis=0)  # db = sum_n dA  (4H,)
        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        dx = dA @ Wx.T  # dx = dA Wx^T  (N, D)
        dh_prev = dA @ Wh.T  # dh_prev = dA Wh^T  (N, H)
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """T LSTM steps sharing `Wx, Wh, b`, with truncated BPTT.

    Unlike the book (dtype `'f'`), `hs`, `dxs` and the zero initial states
    take the dtype of the inputs, so float64 works end to end.

    Args:
        Wx, Wh, b: as in `LSTM`.
        stateful: if True, the last `h` and `c` of one `forward` are the
            initial states of the next (until `reset_state`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> lstm = TimeLSTM(rng.normal(size=(4, 20)),
        ...                 rng.normal(size=(5, 20)), np.zeros(20))
        >>> lstm.forward(np.ones((3, 6, 4))).shape
        (3, 6, 5)
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h, self.c = None, None
        self.dh = None
        self.stateful = stateful

    def forward(self, xs):
        """Args: xs (N, T, D). Returns: hs (N, T, H), dtype of the inputs."""
        Wx, Wh, b = self.params
        N, T, D = xs.shape  # noqa: RUF059 (book's unpacking)
        H = Wh.shape[0]
        dtype = np.result_type(xs, Wx, Wh, b)  # book: 'f'
        self.layers = []
        hs = np.empty((N, T, H), dtype=dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype=dtype)
        for t in range(T):
            layer = LSTM(*self.params)
            self.h, self.c = layer.forward(xs[:, t, :], self.h, self.c)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        """Backprop through the T steps of the last `forward`.

        Loops `for t in reversed(range(T))`, carrying `dh` and `dc` back in
        time; stops at the block boundary (truncated BPTT). `self.dh` is
        the gradient w.r.t. the initial `h` (the book keeps no `dc`).

        Args:
            dhs: (N, T, H) gradient of the loss w.r.t. `hs`.

        Returns:
            dxs: (N, T, D). Writes dWx, dWh, db into `self.grads` in place.
        """
        Wx, Wh, b = self.params  # noqa: RUF059 (book's unpacking)
        N, T, H = dhs.shape  # noqa: RUF059 (book's unpacking)
        D = Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=np.result_type(dhs, Wx))  # book: 'f'
        dh, dc = 0, 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            # dh: from the output hs[t] and from step t + 1; dc: from t + 1
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad  # shared weights: sum over steps
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs

    def set_state(self, h, c=None):
        """Set the initial states (N, H); used by `forward` if stateful.

        `c=None` starts the cell state from zeros (as the book).
        """
        self.h, self.c = h, c

    def reset_state(self):
        """Forget both states: the next `forward` starts from zeros."""
        self.h, self.c = None, None


def _generator(rng):
    """None (the book's global `np.random`), or a `np.random.Generator`
    (a seed makes one)."""
    return None if rng is None else np.random.default_rng(rng)


class TimeDropout:
    """Inverted dropout at every step: in training, each element is kept
    with probability `1 - dropout_ratio` and scaled by
    `1 / (1 - dropout_ratio)`; at inference (`train_flg = False`) the
    identity.

    Args:
        dropout_ratio: probability of zeroing an element.
        rng: None draws the mask with the book's `np.random.rand`; a
            `np.random.Generator` (or a seed) draws it with `rng.random`,
            for reproducibility. Kept as `self.rng`.

    Example:
        >>> drop = TimeDropout(0.5, rng=np.random.default_rng(0))
        >>> sorted(set(drop.forward(np.ones((2, 3, 4))).ravel().tolist()))
        [0.0, 2.0]
        >>> drop.train_flg = False
        >>> drop.forward(np.ones((1, 1, 2))).tolist()
        [[[1.0, 1.0]]]
    """

    def __init__(self, dropout_ratio=0.5, *, rng=None):
        self.params, self.grads = [], []
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self.train_flg = True
        self.rng = _generator(rng)

    def forward(self, xs):
        """Args: xs (N, T, D). Returns: xs * mask (training) or xs."""
        if self.train_flg:
            if self.rng is None:
                u = np.random.rand(*xs.shape)  # the book's draw
            else:
                u = self.rng.random(xs.shape)
            flg = u > self.dropout_ratio  # kept with prob. 1 - ratio
            scale = 1 / (1.0 - self.dropout_ratio)
            dtype = xs.dtype if xs.dtype.kind == "f" else np.dtype("f")
            self.mask = flg.astype(dtype) * dtype.type(scale)  # book: float32
            return xs * self.mask  # y = x mask
        self.mask = None  # inference: the identity
        return xs

    def backward(self, dout):
        """Args: dout like the last `forward`'s output. Returns: dxs.

        `dx = dout * mask`, the mask of the last training `forward`; after
        an inference `forward`, `dx = dout` (the book would reuse a stale
        mask there).
        """
        if self.mask is None:
            return dout  # dy/dx = 1
        return dout * self.mask  # dy/dx = mask


def _init_weights(rng, dtype):
    """Returns `rn(shape, divisor)`: `randn(*shape) / divisor` in `dtype`,
    drawn with the book's global `np.random.randn` if `rng` is None, else
    with `rng.standard_normal` (`rng` a Generator or a seed)."""
    rng = _generator(rng)

    def rn(shape, divisor):
        if rng is None:
            w = np.random.randn(*shape)  # the book's draw
        else:
            w = rng.standard_normal(shape)
        return (w / divisor).astype(dtype)

    return rn


class Rnnlm:
    """The book's ch06 language model: Embedding, stateful LSTM, Affine.

    `TimeEmbedding -> TimeLSTM(stateful=True) -> TimeAffine ->
    TimeSoftmaxWithLoss`, with the book's initial weights: `embed_W =
    randn(V, D) / 100`, `lstm_Wx = randn(D, 4H) / sqrt(D)`, `lstm_Wh =
    randn(H, 4H) / sqrt(H)`, `affine_W = randn(H, V) / sqrt(H)`, biases
    zero.

    Args:
        vocab_size: V, the number of word ids.
        wordvec_size: D, the size of a word vector.
        hidden_size: H, the size of the LSTM state.
        rng: None draws the weights with the book's `np.random.randn`; a
            `np.random.Generator` (or a seed) with its `standard_normal`.
        dtype: dtype of the weights (the book: float32); float64 works.

    Example:
        >>> model = Rnnlm(vocab_size=8, wordvec_size=4, hidden_size=5, rng=0)
        >>> xs = np.array([[0, 1, 2], [3, 4, 5]])  # (N, T) word ids
        >>> loss = model.forward(xs, ts=xs + 1)  # next word ids
        >>> _ = model.backward()  # fills model.grads
        >>> [p.shape for p in model.params]
        [(8, 4), (4, 20), (5, 20), (20,), (5, 8), (8,)]
    """

    def __init__(
        self,
        vocab_size=10000,
        wordvec_size=100,
        hidden_size=100,
        *,
        rng=None,
        dtype="float32",
    ):
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _init_weights(rng, dtype)
        embed_W = rn((V, D), 100)
        lstm_Wx = rn((D, 4 * H), np.sqrt(D))
        lstm_Wh = rn((H, 4 * H), np.sqrt(H))
        lstm_b = np.zeros(4 * H, dtype=dtype)
        affine_W = rn((H, V), np.sqrt(H))
        affine_b = np.zeros(V, dtype=dtype)

        self.layers = [
            TimeEmbedding(embed_W),
            TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True),
            TimeAffine(affine_W, affine_b),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layer = self.layers[1]
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs):
        """Args: xs (N, T) word ids. Returns: scores (N, T, V)."""
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs, ts):
        """Args: xs, ts (N, T) word ids and next word ids. Returns: loss."""
        score = self.predict(xs)
        return self.loss_layer.forward(score, ts)

    def backward(self, dout=1):
        """Backprop the last `forward`'s loss; fills `self.grads` in place."""
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self):
        """Forget the LSTM state: the next `forward` starts from zeros."""
        self.lstm_layer.reset_state()


class BetterRnnlm:
    """The book's ch06 improved model: two LSTM layers, dropout, weight
    tying.

    `TimeEmbedding -> TimeDropout -> TimeLSTM -> TimeDropout -> TimeLSTM ->
    TimeDropout -> TimeAffine -> TimeSoftmaxWithLoss`, both LSTMs stateful.
    The affine layer's weight is `embed_W.T`, a view of the embedding's
    weight (weight tying), so it needs `wordvec_size == hidden_size`. As in
    the book, `params` lists the tied weight twice (`embed_W` first,
    `embed_W.T` eighth) and `grads` holds a separate gradient for each: apply
    an optimizer to `remove_duplicate(model.params, model.grads)`, which
    adds the two (as the book's `Trainer` does).

    Initial weights as the book: `embed_W = randn(V, D) / 100`, `Wx1 =
    randn(D, 4H) / sqrt(D)`, `Wh1, Wx2, Wh2 = randn(H, 4H) / sqrt(H)`,
    biases zero.

    Args:
        vocab_size: V, the number of word ids.
        wordvec_size: D, the size of a word vector (must equal H).
        hidden_size: H, the size of both LSTM states.
        dropout_ratio: of each of the three `TimeDropout` layers.
        rng: None draws the weights with the book's `np.random.randn` and
            the dropout masks with `np.random.rand`; a `np.random.Generator`
            (or a seed) draws both from that generator.
        dtype: dtype of the weights (the book: float32); float64 works.

    Raises:
        ValueError: if `wordvec_size != hidden_size`.

    Example:
        >>> model = BetterRnnlm(8, 5, 5, rng=0)
        >>> xs = np.array([[0, 1, 2], [3, 4, 5]])  # (N, T) word ids
        >>> loss = model.forward(xs, ts=xs + 1)  # dropout on
        >>> _ = model.backward()
        >>> params, grads = remove_duplicate(model.params, model.grads)
        >>> len(model.params), len(params)
        (9, 8)
        >>> model.predict(xs).shape  # dropout off
        (2, 3, 8)
    """

    def __init__(
        self,
        vocab_size=10000,
        wordvec_size=650,
        hidden_size=650,
        dropout_ratio=0.5,
        *,
        rng=None,
        dtype="float32",
    ):
        V, D, H = vocab_size, wordvec_size, hidden_size
        if D != H:
            raise ValueError(
                "BetterRnnlm ties the affine weight to the embedding "
                f"(affine W = embed_W.T), so wordvec_size must equal "
                f"hidden_size; got wordvec_size={D}, hidden_size={H}."
            )
        rng = _generator(rng)
        rn = _init_weights(rng, dtype)
        embed_W = rn((V, D), 100)
        lstm_Wx1 = rn((D, 4 * H), np.sqrt(D))
        lstm_Wh1 = rn((H, 4 * H), np.sqrt(H))
        lstm_b1 = np.zeros(4 * H, dtype=dtype)
        lstm_Wx2 = rn((H, 4 * H), np.sqrt(H))
        lstm_Wh2 = rn((H, 4 * H), np.sqrt(H))
        lstm_b2 = np.zeros(4 * H, dtype=dtype)
        affine_b = np.zeros(V, dtype=dtype)

        self.layers = [
            TimeEmbedding(embed_W),
            TimeDropout(dropout_ratio, rng=rng),
            TimeLSTM(lstm_Wx1, lstm_Wh1, lstm_b1, stateful=True),
            TimeDropout(dropout_ratio, rng=rng),
            TimeLSTM(lstm_Wx2, lstm_Wh2, lstm_b2, stateful=True),
            TimeDropout(dropout_ratio, rng=rng),
            TimeAffine(embed_W.T, affine_b),  # weight tying
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layers = [self.layers[2], self.layers[4]]
        self.drop_layers = [self.layers[1], self.layers[3], self.layers[5]]
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs, train_flg=False):
        """Args: xs (N, T) word ids; train_flg: dropout on if True.

        Returns: scores (N, T, V).
        """
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs, ts, train_flg=True):
        """Args: xs, ts (N, T) word ids and next word ids; train_flg:
        dropout on if True. Returns: the loss."""
        score = self.predict(xs, train_flg)
        return self.loss_layer.forward(score, ts)

    def backward(self, dout=1):
        """Backprop the last `forward`'s loss; fills `self.grads` in place
        (the tied weight's two parts separately: see `remove_duplicate`)."""
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self):
        """Forget both LSTMs' states."""
        for layer in self.lstm_layers:
            layer.reset_state()


def remove_duplicate(params, grads):
    """Merge shared weights: one entry per weight, their gradients added.

    The book's `common/trainer.py`. A weight listed twice (`params[i] is
    params[j]`) keeps its first entry with `grads[i] + grads[j]`; a weight
    listed also as its transpose (weight tying, `BetterRnnlm`) keeps its
    first entry with `grads[i] + grads[j].T`.

    Two differences from the book: a transposed pair is merged only if the
    two arrays overlap in memory (`np.may_share_memory`; the book compares
    only values, so two distinct weights that happen to be equal
    transposes, e.g. both zero, would be merged and one never updated);
    and the input lists and arrays are not modified (the book adds into
    `grads[i]` in place, so calling it twice adds twice).

    Args:
        params: list of weight arrays (a model's `params`).
        grads: list of their gradients, same order.

    Returns:
        (params, grads): new lists without the duplicates.

    Example:
        >>> W = np.ones((2, 3))
        >>> params, grads = remove_duplicate([W, W.T], [W, 2 * W.T])
        >>> len(params), params[0] is W, grads[0].tolist()
        (1, True, [[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]])
    """
    params, grads = list(params), list(grads)  # copy the lists
    while True:
        find_flg = False
        L = len(params)
        for i in range(L - 1):
            for j in range(i + 1, L):
                if params[i] is params[j]:  # the same weight twice
                    grads[i] = grads[i] + grads[j]  # book: += in place
                    find_flg = True
                elif (
                    params[i].ndim == 2
                    and params[j].ndim == 2
                    and params[i].T.shape == params[j].shape
                    and np.may_share_memory(params[i], params[j])
                    and np.all(params[i].T == params[j])
                ):  # weight tying: one is the other's transpose
                    grads[i] = grads[i] + grads[j].T  # book: += in place
                    find_flg = True
                if find_flg:
                    params.pop(j)
                    grads.pop(j)
                    break
            if find_flg:
                break
        if not find_flg:
            break
    return params, grads


# --- The book's weights <-> keras.layers.LSTM's ------------------------------
#
# Both pack the four gates' weights side by side in column blocks of H:
# the book f, g, i, o; Keras i, f, c, o (c = the book's g). Keras computes
# `z = x kernel + h recurrent_kernel + bias`, `i = sigmoid(z0)`,
# `f = sigmoid(z1)`, `c = f c_prev + i tanh(z2)`, `o = sigmoid(z3)`,
# `h = o tanh(c)`: the book's equations with the blocks reordered.

_BOOK_FROM_KERAS = (1, 2, 0, 3)  # book block k = Keras block [k]: f g i o
_KERAS_FROM_BOOK = (2, 0, 1, 3)  # Keras block k = book block [k]: i f c o


def _gate_width(names, arrays, ndims):
    """Checks ranks and the last axis (4H, equal for all); returns 4H."""
    for name, arr, ndim in zip(names, arrays, ndims):
        if arr.ndim != ndim:
            raise ValueError(
                f"{name} must have {ndim} dimension(s), got shape {arr.shape}."
            )
        width = arr.shape[-1]
        if width == 0 or width % 4:
            raise ValueError(
                f"{name}'s last axis must be 4H, a positive multiple of 4 "
                f"(the four gates side by side), got shape {arr.shape}."
            )
    width = arrays[0].shape[-1]
    for name, arr in zip(names[1:], arrays[1:]):
        if arr.shape[-1] != width:
            raise ValueError(
                f"{name}'s last axis must equal {names[0]}'s ({width} = "
                f"4H), got shape {arr.shape}."
            )
    recurrent, H = names[1], width // 4
    if arrays[1].shape[0] != H:
        raise ValueError(
            f"{recurrent} must have shape (H, 4H) = ({H}, {width}), "
            f"got shape {arrays[1].shape}."
        )
    return width


def _permute_blocks(arr, order):
    """Column blocks of width H (last axis 4H) in the given order."""
    blocks = np.split(arr, 4, axis=-1)
    return np.concatenate([blocks[k] for k in order], axis=-1)


def book_to_keras_lstm(Wx, Wh, b):
    """The book's LSTM weights as `keras.layers.LSTM`'s.

    Reorders the gate blocks from the book's f, g, i, o to Keras's
    i, f, c, o; the values are copied exactly.

    Args:
        Wx: the book's input weights, shape (D, 4H).
        Wh: the book's recurrent weights, shape (H, 4H).
        b: the book's bias, shape (4H,).

    Returns:
        (kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)), new arrays
        of the same dtypes, for `keras.layers.LSTM(H).set_weights([...])`.

    Raises:
        ValueError: a shape is not as above (the message names it).

    Example:
        >>> H = 2
        >>> Wx = np.repeat(np.arange(4.0), H)[None]  # blocks f=0 g=1 i=2 o=3
        >>> kernel, _, _ = book_to_keras_lstm(Wx, np.zeros((H, 4 * H)),
        ...                                   np.zeros(4 * H))
        >>> kernel.tolist()  # blocks i, f, c, o
        [[2.0, 2.0, 0.0, 0.0, 1.0, 1.0, 3.0, 3.0]]
    """
    Wx, Wh, b = (np.asarray(a) for a in (Wx, Wh, b))
    _gate_width(("Wx", "Wh", "b"), (Wx, Wh, b), (2, 2, 1))
    return tuple(_permute_blocks(a, _KERAS_FROM_BOOK) for a in (Wx, Wh, b))


def keras_to_book_lstm(kernel, recurrent_kernel, bias=None):
    """`keras.layers.LSTM`'s weights as the book's `LSTM(Wx, Wh, b)`.

    Reorders the gate blocks from Keras's i, f, c, o to the book's
    f, g, i, o; the values are copied exactly.

    Args:
        kernel: Keras's input weights, shape (D, 4H).
        recurrent_kernel: Keras's recurrent weights, shape (H, 4H).
        bias: Keras's bias, shape (4H,), or None (`use_bias=False`): the
            book's `b` is then zeros.

    Returns:
        (Wx (D, 4H), Wh (H, 4H), b (4H,)), new arrays of the same dtypes
        (`b` of the weights' dtype when `bias` is None).

    Raises:
        ValueError: a shape is not as above (the message names it).

    Example:
        >>> H = 2
        >>> kernel = np.repeat(np.arange(4.0), H)[None]  # i=0 f=1 c=2 o=3
        >>> Wx, Wh, b = keras_to_book_lstm(kernel, np.zeros((H, 4 * H)))
        >>> Wx.tolist()  # blocks f, g, i, o
        [[1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 3.0, 3.0]]
        >>> b.shape, bool(b.any())  # no Keras bias: zeros
        ((8,), False)
    """
    kernel = np.asarray(kernel)
    recurrent_kernel = np.asarray(recurrent_kernel)
    if bias is None:
        dtype = np.result_type(kernel, recurrent_kernel)
        bias = np.zeros(kernel.shape[-1] if kernel.ndim else 0, dtype=dtype)
    bias = np.asarray(bias)
    names = ("kernel", "recurrent_kernel", "bias")
    arrays = (kernel, recurrent_kernel, bias)
    _gate_width(names, arrays, (2, 2, 1))
    return tuple(_permute_blocks(a, _BOOK_FROM_KERAS) for a in arrays)
