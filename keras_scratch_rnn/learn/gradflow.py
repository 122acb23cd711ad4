# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Why truncated BPTT, and why the LSTM and the GRU: how far back in time
the gradient reaches.

The seed blog post truncates backpropagation because "the gradient becomes
0 before it reaches t = 0". This module measures it: for a loss on the last
state only, `L = <g, h_{T-1}>` with `|g| = 1`, it computes `|dL/dh_t|` for
every t with the handwritten backward of one step
(`keras_scratch_rnn.ops.rnn_step`), walking t = T-1, ..., 0 like the book's
`TimeRNN.backward`:

    dh_{t-1} = (dh_t * act'(a_t)) Wh^T

The LSTM (the book's chapter 6) is walked the same way with
`ops.lstm_step`, carrying `dh` and `dc`; besides `|dL/dh_t|` it records
`|dL/dc_t|`, the book's `ds`, whose way back has no matmul and no tanh':

    ds_t = dc_t + dh_t * o_t * act'(c_t)      dc_{t-1} = ds_t * f_t

The GRU (the book's appendix) is walked with `ops.gru_step`, carrying `dh`
alone; `h_t = z * h_{t-1} + (1 - z) * hh` (Keras's z, the book's 1 - z)
gives it a path back like the LSTM's c, next to the paths through Wh:

    dh_{t-1} = dh_t * z_t + (through z, r and hh: each a matmul by Wh^T)

The weights are drawn as Keras's default initializers draw them (the
`kernel` glorot_uniform, the bias zeros, with `unit_forget_bias` the LSTM's
forget gate's ones; the GRU in Keras's default form, `reset_after=True`),
except that `Wh = scale * Q`, Q drawn as the default `orthogonal`: scale 1
is the default, and every singular value of the RNN's Wh is `scale`, so
without the activation its norm is exactly `scale^(T-1-t)`; tanh' <= 1
only shrinks it further. `python -m keras_scratch_rnn gradflow` prints the
table; `--plot PATH` saves a PNG (matplotlib, imported only then).
"""

import collections

import numpy as np
import tensorflow as tf

from keras_scratch_rnn.learn import figures
from keras_scratch_rnn.ops import (
    gru_forward,
    gru_step,
    lstm_forward,
    lstm_step,
    rnn_forward,
    rnn_step,
)
from keras_scratch_rnn.ops.rnn_math import activate, activation_backward
from keras_scratch_rnn.ops.tensorflow import xp
from keras_scratch_rnn.terminal import Style, table, wrap

CELLS = ("rnn", "lstm", "gru")
LENGTHS = (10, 30, 100)
SCALES = (0.5, 1.0, 1.5, 3.0)
STEPS_BACK = (1, 5, 10, 20, 50)
# A norm below this fraction of its value at t = T-1 counts as vanished,
# above its inverse as exploded.
VANISHED = 1e-3
LANGUAGES = ("en", "ja")
# |dL/dh_t| and |dL/dc_t| of the LSTM, each `(T,)`, and the mean forget
# gate f over every step, unit and sample.
LSTMFlow = collections.namedtuple("LSTMFlow", "h c forget")
# |dL/dh_t| of the GRU, `(T,)`, and the mean update gate z (Keras's: the
# share of h_{t-1} that h_t keeps) over every step, unit and sample.
GRUFlow = collections.namedtuple("GRUFlow", "h update")


def glorot_uniform(rng, fan_in, fan_out):
    """As Keras's `GlorotUniform`: uniform in +-sqrt(6 / (fan_in +
    fan_out)), shape `(fan_in, fan_out)`."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def orthogonal(rng, rows, cols):
    """As Keras's `Orthogonal`: orthonormal columns (or rows, if wider than
    tall) from the QR decomposition of a normal matrix, signs fixed by R's
    diagonal."""
    q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return q.T if rows < cols else q


def problem(T, scale, units=16, features=4, batch=8, seed=0):
    """Seeded inputs and weights: `(x, h0, kernel, recurrent_kernel, b, g)`.

    All float64 NumPy arrays; `kernel` as glorot_uniform draws it,
    `recurrent_kernel = scale * Q`, Q orthogonal, `b = 0`; `g (batch,
    units)` is dL/dh_{T-1}, of norm 1.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, T, features))
    kernel = glorot_uniform(rng, features, units)
    q = orthogonal(rng, units, units)
    g = rng.normal(size=(batch, units))
    g /= np.linalg.norm(g)
    return x, np.zeros((batch, units)), kernel, scale * q, np.zeros(units), g


def lstm_problem(
    T, scale, units=16, features=4, batch=8, seed=0, unit_forget_bias=True
):
    """The LSTM's `(x, h0, c0, kernel, recurrent_kernel, b, g)`, as `problem`.

    Gates in Keras's order i, f, g, o: `kernel (features, 4 units)` as
    glorot_uniform draws it, `recurrent_kernel = scale * Q` with Q
    `(units, 4 units)` as `orthogonal` draws it (orthonormal rows), `b`
    zeros but, with `unit_forget_bias`, ones for the forget gate; `x` and
    `g` are those of `problem` with the same seed.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, T, features))
    kernel = glorot_uniform(rng, features, 4 * units)
    q = orthogonal(rng, units, 4 * units)
    g = problem(T, scale, units, features, batch, seed)[-1]  # the RNN's g
    bias = np.zeros(4 * units)
    if unit_forget_bias:
        bias[units : 2 * units] = 1.0
    zeros = np.zeros((batch, units))
    return x, zeros, zeros, kernel, scale * q, bias, g


def gru_problem(
    T, scale, units=16, features=4, batch=8, seed=0, reset_after=True,
    update_bias=0.0,
):  # fmt: skip
    """The GRU's `(x, h0, kernel, recurrent_kernel, b, g)`, as `problem`.

    Gates in Keras's order z, r, h: `kernel (features, 3 units)` as
    glorot_uniform draws it, `recurrent_kernel = scale * Q` with Q
    `(units, 3 units)` as `orthogonal` draws it (orthonormal rows), `b`
    zeros (Keras's default), `(2, 3 units)` with `reset_after`, else
    `(3 units,)`, but `update_bias` in the z block of its input row (Keras
    has no `unit_forget_bias` for the GRU: 0 is its default); `x` and `g`
    are those of `problem` with the same seed.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, T, features))
    kernel = glorot_uniform(rng, features, 3 * units)
    q = orthogonal(rng, units, 3 * units)
    g = problem(T, scale, units, features, batch, seed)[-1]  # the RNN's g
    bias = np.zeros((2, 3 * units) if reset_after else 3 * units)
    (bias[0] if reset_after else bias)[:units] = update_bias  # b_x of z
    return x, np.zeros((batch, units)), kernel, scale * q, bias, g


def gradient_norms(
    T, scale, activation="tanh", units=16, features=4, batch=8, seed=0
):
    """`|dL/dh_t|` of the RNN for t = 0..T-1 (Frobenius over the batch),
    float64.

    The forward is `ops.rnn_forward`; the backward walks the steps in
    reverse, each through the handwritten gradient of `ops.rnn_step`.

    Returns:
        A NumPy array of shape `(T,)`; the last entry is 1.
    """
    arrays = problem(T, scale, units, features, batch, seed)
    x, h0, kernel, recurrent, bias, g = (tf.constant(a) for a in arrays)
    _, hs, _ = rnn_forward(
        x, h0, kernel, recurrent, bias, activation=activation
    )
    dh = g
    norms = np.empty(T)
    for t in reversed(range(T)):
        norms[t] = float(tf.norm(dh))
        h_prev = h0 if t == 0 else hs[:, t - 1]
        with tf.GradientTape() as tape:
            tape.watch(h_prev)
            h = rnn_step(x[:, t], h_prev, kernel, recurrent, bias, activation)
        dh = tape.gradient(h, h_prev, output_gradients=dh)  # dh_{t-1}
    return norms


@tf.function(autograph=False)  # traced once per shape: 4x faster
def _lstm_step_backward(
    x, h_prev, c_prev, dh, dc, kernel, recurrent, bias, activation
):
    """dL/dh_{t-1} and dL/dc_{t-1} from dL/dh_t and the dc_t that reaches
    c_t from step t+1, by the handwritten backward of `ops.lstm_step`."""
    with tf.GradientTape() as tape:
        tape.watch([h_prev, c_prev])
        h, c = lstm_step(
            x, h_prev, c_prev, kernel, recurrent, bias, activation=activation
        )
    return tape.gradient([h, c], [h_prev, c_prev], output_gradients=[dh, dc])


def lstm_gradient_norms(
    T,
    scale=1.0,
    activation="tanh",
    units=16,
    features=4,
    batch=8,
    seed=0,
    unit_forget_bias=True,
):
    """`|dL/dh_t|` and `|dL/dc_t|` of the LSTM for t = 0..T-1, float64.

    The forward is `ops.lstm_forward`; the backward walks the steps in
    reverse, each through the handwritten gradient of `ops.lstm_step`,
    which takes dL/dh_t and the dc_t reaching c_t from step t+1 and
    returns dL/dh_{t-1} and `dc_{t-1} = ds_t * f_t`. `|dL/dc_t|` is the
    book's `ds_t = dc_t + dh_t * o_t * act'(c_t)`: everything that reaches
    c_t, also through h_t (at t = T-1 only that: the loss is on h).

    Returns:
        An `LSTMFlow(h, c, forget)`: two NumPy arrays of shape `(T,)`
        (`h[-1]` is 1) and the mean forget gate of the forward.
    """
    arrays = lstm_problem(
        T, scale, units, features, batch, seed, unit_forget_bias
    )
    x, h0, c0, kernel, recurrent, bias, g = (tf.constant(a) for a in arrays)
    _, hs, cs, gates, _ = lstm_forward(
        x, h0, c0, kernel, recurrent, bias, activation=activation
    )
    o = gates[:, :, 3 * units :]  # the output gate, Keras's order i, f, g, o
    dh, dc = g, tf.zeros_like(g)  # L is on h_{T-1}: nothing reaches c_{T-1}
    h_norms, c_norms = np.empty(T), np.empty(T)
    for t in reversed(range(T)):
        c = cs[:, t]
        ds = dc + activation_backward(
            xp, dh * o[:, t], activate(xp, c, activation), c, activation
        )  # dL/dc_t: from c_{t+1} and through h_t = o act(c_t)
        h_norms[t], c_norms[t] = float(tf.norm(dh)), float(tf.norm(ds))
        h_prev, c_prev = (h0, c0) if t == 0 else (hs[:, t - 1], cs[:, t - 1])
        weights = (kernel, recurrent, bias)
        dh, dc = _lstm_step_backward(
            x[:, t], h_prev, c_prev, dh, dc, *weights, activation
        )  # dh_{t-1}, dc_{t-1} = ds_t f_t
    forget = float(tf.reduce_mean(gates[:, :, units : 2 * units]))
    return LSTMFlow(h_norms, c_norms, forget)


@tf.function(autograph=False)  # traced once per shape and form
def _gru_step_backward(
    x, h_prev, dh, kernel, recurrent, bias, activation, reset_after
):
    """dL/dh_{t-1} from dL/dh_t, by the handwritten backward of
    `ops.gru_step` (`gru_math.step_backward`)."""
    with tf.GradientTape() as tape:
        tape.watch(h_prev)
        h = gru_step(
            x, h_prev, kernel, recurrent, bias, activation=activation,
            reset_after=reset_after,
        )  # fmt: skip
    return tape.gradient(h, h_prev, output_gradients=dh)


def gru_gradient_norms(
    T,
    scale=1.0,
    activation="tanh",
    units=16,
    features=4,
    batch=8,
    seed=0,
    reset_after=True,
    update_bias=0.0,
):
    """`|dL/dh_t|` of the GRU for t = 0..T-1, float64 (`reset_after`,
    `update_bias`: as in `gru_problem`).

    The forward is `ops.gru_forward`; the backward walks the steps in
    reverse, each through the handwritten gradient of `ops.gru_step`:
    `dh_{t-1} = dh_t * z_t` directly, plus the paths through the gates z,
    r and the candidate hh, each a matmul by a block of Wh^T.

    Returns:
        A `GRUFlow(h, update)`: a NumPy array of shape `(T,)` (`h[-1]` is
        1) and the mean update gate z (Keras's z, the share of h_{t-1}
        kept) of the forward.
    """
    arrays = gru_problem(
        T, scale, units, features, batch, seed, reset_after, update_bias
    )
    x, h0, kernel, recurrent, bias, g = (tf.constant(a) for a in arrays)
    _, hs, saved, _ = gru_forward(
        x, h0, kernel, recurrent, bias, activation=activation,
        reset_after=reset_after,
    )  # fmt: skip
    dh = g
    norms = np.empty(T)
    for t in reversed(range(T)):
        norms[t] = float(tf.norm(dh))
        h_prev = h0 if t == 0 else hs[:, t - 1]
        dh = _gru_step_backward(
            x[:, t], h_prev, dh, kernel, recurrent, bias, activation,
            reset_after,
        )  # fmt: skip  # dh_{t-1}
    update = float(tf.reduce_mean(saved[:, :, :units]))  # z, then r, hh
    return GRUFlow(norms, update)


def run(
    lengths=LENGTHS, scales=SCALES, activation="tanh", cells=CELLS,
    gru_options=None, **kwargs,
):  # fmt: skip
    """The norms of every cell for every scale and length: a list of dicts
    with `cell`, `scale`, `T` and `norms` (`|dL/dh_t|`); the LSTM's also
    `c_norms` (`|dL/dc_t|`) and `forget` (the mean forget gate), the
    GRU's `update` (the mean update gate z).

    `kwargs` (`units`, `features`, `batch`, `seed`) go to every cell,
    `gru_options` (`reset_after`, `update_bias`) to the GRU's only.
    """
    unknown = [c for c in cells if c not in CELLS]
    if unknown or not cells:
        raise ValueError(
            f"Received an invalid value for argument `cells`, expected some "
            f"of {CELLS}, got {cells!r}."
        )
    results = []
    for scale in scales:
        for T in lengths:
            for cell in cells:
                result = {"cell": cell, "scale": scale, "T": T}
                if cell == "rnn":
                    norms = gradient_norms(T, scale, activation, **kwargs)
                    result["norms"] = norms
                elif cell == "gru":
                    flow = gru_gradient_norms(
                        T, scale, activation, **kwargs, **(gru_options or {})
                    )
                    result.update(norms=flow.h, update=flow.update)
                else:
                    flow = lstm_gradient_norms(T, scale, activation, **kwargs)
                    result.update(
                        norms=flow.h, c_norms=flow.c, forget=flow.forget
                    )
                results.append(result)
    return results


def relative(norms):
    """`norms` divided by its last entry, its value at t = T-1 (the start of
    the walk back); unchanged if that is 0."""
    start = norms[-1]
    return norms / start if start else norms


def reach(norms):
    """Steps back until the norm leaves [VANISHED, 1/VANISHED] times its
    start (its value at t = T-1), or None if it never does."""
    back = relative(norms)[::-1]
    outside = np.flatnonzero((back < VANISHED) | (back > 1 / VANISHED))
    return int(outside[0]) if outside.size else None


def curves(result):
    """`(cell name, gradient name, norms)` for each curve of one result:
    the RNN's `dh`, the LSTM's `dh` and `dc`."""
    name = result["cell"].upper()
    out = [(name, "dh", result["norms"])]
    if "c_norms" in result:
        out.append((name, "dc", result["c_norms"]))
    return out


def _fmt(value):
    return f"{value:.1e}"


# The report's sentences, (English, Japanese).
TEXT = {
    "intro": (
        "|dL/dh_t| (dh){c_norms} for a loss on the last state only, "
        "L = <g, h_{{T-1}}> with |g| = 1, "
        "by the handwritten backward of one step ({ops}), walking t = T-1, "
        "..., 0; each divided by its value at t = T-1. activation="
        "{activation}, units={units}, batch={batch}; the weights as Keras's "
        "default initializers draw them{forget}{gru}, but Wh = scale * "
        "(random orthogonal matrix): scale 1 is the default.",
        "最後の状態だけにかかる損失 L = <g, h_{{T-1}}>（|g| = 1）について、"
        "|dL/dh_t|（dh）{c_norms}を、1 ステップ"
        "の手書きの逆伝播{ops}で t = T-1, ..., 0 とさかのぼって求め、"
        "それぞれ t = T-1 での値で割ったもの。activation={activation}、"
        "units={units}、batch={batch}。重みは Keras の既定の初期化子の分布"
        "から{forget}{gru}。ただし Wh = scale * (ランダムな直交行列) で、"
        "scale 1 が既定。",
    ),
    "c_norms": (
        ", and for the LSTM |dL/dc_t| (dc, the book's ds),",
        "と、LSTM では |dL/dc_t|（dc、本の ds）",
    ),
    "forget": (
        " (unit_forget_bias=True: the forget gate's bias is 1)",
        "（unit_forget_bias=True: 忘却ゲートのバイアスは 1）",
    ),
    "gru": (
        " (the GRU in Keras's default form, reset_after=True, its bias 0)",
        "（GRU は Keras の既定の形 reset_after=True、バイアスは 0）",
    ),
    "gru_form": (
        " (the GRU with reset_after={reset_after}{form}, its bias 0 but "
        "{update_bias:g} on z)",
        "（GRU は reset_after={reset_after}{form}、バイアスは z の "
        "{update_bias:g} のほか 0）",
    ),
    "book_form": (", the book's form", "、本の形"),
    "linear": (
        " Without the activation the RNN's dh would be scale^(T-1-t).",
        "活性化関数がなければ RNN の dh は scale^(T-1-t) になる。",
    ),
    "vanishes": (
        "{curve} vanishes: above {low:g} of its start up to {k} steps back",
        "{curve} は消失: 最初の値の {low:g} 倍を上回るのは {k} 時刻前まで",
    ),
    "explodes": (
        "{curve} explodes: above {high:g} times its start after {k} steps back",
        "{curve} は爆発: {k} 時刻さかのぼると最初の値の {high:g} 倍を超える",
    ),
    "clip": (
        " (clip the gradient, as in the book's 6.1.5)",
        "（本の 6.1.5 節のように勾配をクリップする）",
    ),
    "within": (
        "{curve} stays within [{low:g}, {high:g}] times its start over all "
        "{k} steps back",
        "{curve} は {k} 時刻さかのぼっても最初の値の [{low:g}, {high:g}] 倍"
        "に収まる",
    ),
    "rate": (
        ", x{rate:.2f} per step back on average",
        "、1 時刻あたり平均 {rate:.2f} 倍",
    ),
    "mean_f": (
        "Mean forget gate f = {f:.2f}",
        "忘却ゲート f の平均は {f:.2f}",
    ),
    "mean_z": (
        "Mean update gate z = {z:.2f}",
        "更新ゲート z の平均は {z:.2f}",
    ),
    "ratio": (
        "At t = 0 the {cell}'s dh is {ratio:.1e} times the RNN's",
        "t = 0 で {cell} の dh は RNN の {ratio:.1e} 倍",
    ),
    "rnn_moral": (
        "So backpropagating the RNN through 100 steps costs 100 steps of "
        "work but carries almost nothing past the first few dozen: truncated "
        "BPTT (the book's time_size blocks, stateful=True) cuts the backward "
        "there, keeps h flowing forward, and loses little.",
        "つまり RNN を 100 時刻ぶん逆伝播すると、100 時刻ぶんの計算をするのに、"
        "数十時刻より前にはほとんど何も届かない。Truncated BPTT（本の "
        "time_size ごとのブロック、stateful=True）はそこで逆伝播を切り、h "
        "は順方向に流し続けるので、失うものはわずか。",
    ),
    "lstm_moral": (
        "The LSTM's gradient also flows back through the memory cell c: "
        "dc_{{t-1}} = ds * f, an elementwise product with the forget gate, "
        "with no Wh and no tanh' (the book's 6.2): along c alone it is "
        "multiplied by f < 1 at each step, never by Wh. But before training "
        "f is near sigmoid(1) = 0.73 (unit_forget_bias=True; near 0.5 "
        "without it), so dc still shrinks by a factor near f per step: "
        "compare the factors per step above with the RNN's. Where a task "
        "needs memory, training can move f towards 1, and the gradient "
        "through c then reaches further.",
        "LSTM の勾配は記憶セル c を通っても逆向きに流れる: dc_{{t-1}} = ds * f "
        "は忘却ゲートとの要素ごとの積だけで、Wh の行列積も tanh' もない（本の "
        "6.2 節）。c だけをたどれば各時刻で掛かるのは 1 より小さい f で、Wh "
        "は掛からない。ただし学習前の f は sigmoid(1) = 0.73 付近"
        "（unit_forget_bias=True。なければ 0.5 付近）"
        "なので、dc も 1 時刻あたり f に近い倍率で縮む。上の 1 時刻あたりの"
        "倍率を RNN と比べてほしい。記憶が必要な課題では学習が f を 1 に近づけ"
        "うるので、そのとき c を通る勾配はさらに遠くまで届く。",
    ),
    "gru_moral": (
        "The GRU has such a path too, with no cell of its own: h_t = z * "
        "h_{{t-1}} + (1 - z) * hh gives dh_{{t-1}} = dh_t * z + (the paths "
        "through z, r and hh, each a matmul by Wh^T), z being Keras's "
        "update gate (the book's 1 - z): along it alone the gradient is "
        "multiplied by z at each step, never by Wh, and the paths through "
        "Wh are damped by 1 - z, r and the gates' sigmoid' (at most 1/4), "
        "so where the RNN's explodes (scale 3) the GRU's does not. But "
        "Keras starts the GRU's bias at 0 (it has no unit_forget_bias), so "
        "z is near sigmoid(0) = 0.5 before training, and the GRU's "
        "gradient shrinks faster than the RNN's (compare the factors per "
        "step above). A bias of 1 on z "
        "(z near 0.73, as unit_forget_bias makes the LSTM's f) takes it "
        "past the RNN's, near the LSTM's dc; training can move z towards 1 "
        "where a task needs memory.",
        "GRU にも同じような道がある。記憶セルはないが、h_t = z * h_{{t-1}} + "
        "(1 - z) * hh から dh_{{t-1}} = dh_t * z +（z、r、hh を通る道。どれも "
        "Wh^T との行列積）となる。z は Keras の更新ゲート（本の 1 - z）で、"
        "この道だけをたどれば各時刻で掛かるのは z で、Wh は掛からない。"
        "Wh を通る道も 1 - z、r、ゲートの sigmoid'（1/4 以下）で弱められる"
        "ので、RNN の勾配が爆発するところ（scale 3）でも GRU の勾配は爆発"
        "しない。ただし Keras は GRU のバイアスを 0 から始める"
        "（unit_forget_bias はない）ので、学習前の z は sigmoid(0) = 0.5 "
        "付近で、GRU の勾配は RNN より"
        "速く縮む（上の 1 時刻あたりの倍率を比べてほしい）。z のバイアスを 1 "
        "にすれば（z は 0.73 付近。unit_forget_bias が LSTM の f にするのと"
        "同じ）RNN より遠く、LSTM の dc に近いところまで届く。記憶が必要な"
        "課題では学習が z を 1 に近づけうる。",
    ),
}
# How sentences end and join, per language.
PERIOD = {"en": ". ", "ja": "。"}


def _t(key, lang, **values):
    return TEXT[key][LANGUAGES.index(lang)].format(**values)


def verdict(norms):
    """`(kind, k)`: `("vanishes", k)`: above VANISHED of its start up to k
    steps back; `("explodes", k)`: above 1/VANISHED times its start after
    k steps back; `("within", T - 1)`: neither."""
    k = reach(norms)
    if k is None:
        return "within", len(norms) - 1
    if relative(norms)[-1 - k] < VANISHED:
        return "vanishes", k - 1
    return "explodes", k


def rate(norms):
    """The mean factor per step back, from one step back to t = 0 (the
    geometric mean; the first step back is left out, as the LSTM's dh drops
    there once, through the gates, before dc carries it); 0 if the norm
    reaches 0."""
    T = len(norms)
    first = 1 if T > 2 else 0
    begin, end = norms[T - 1 - first], norms[0]
    if begin == 0 or end == 0:
        return 0.0
    return float(np.exp(np.log(end / begin) / (T - 1 - first)))


def _verdict_text(curve, norms, lang):
    kind, k = verdict(norms)
    low, high = VANISHED, 1 / VANISHED
    text = _t(kind, lang, curve=curve, k=k, low=low, high=high)
    text += _t("rate", lang, rate=rate(norms))
    return text + (_t("clip", lang) if kind == "explodes" else "")


def lines(
    results, activation="tanh", style=None, width=80, lang="en",
    gru_options=None, **kwargs,
):  # fmt: skip
    """The results as a terminal report: a table and what it means, in
    English or Japanese (`lang`); `gru_options` as `run` took them."""
    style = style or Style(False)
    units = kwargs.get("units", 16)
    batch = kwargs.get("batch", 8)
    cells = list(dict.fromkeys(r["cell"] for r in results))
    longest = max(r["T"] for r in results)
    steps = [k for k in STEPS_BACK if k < longest - 1]
    header = ["scale", "T", "cell"] + [f"t=T-{k + 1}" for k in steps]
    header.append("t=0")
    rows = []
    for r in results:
        T = r["T"]
        for name, gradient, norms in curves(r):
            norms = relative(norms)
            row = [f"{r['scale']:g}", str(T), f"{name} {gradient}"]
            row += [_fmt(norms[T - 1 - k]) if k < T - 1 else "" for k in steps]
            row.append(_colour(_fmt(norms[0]), norms[0], style))
            rows.append(row)
    ops = ", ".join(f"ops.{c}_step" for c in cells)
    if lang == "ja":
        ops = f"（{ops}）"
    lstm = "lstm" in cells
    intro = _t(
        "intro", lang, ops=ops, activation=activation, units=units,
        batch=batch, forget=_t("forget", lang) if lstm else "",
        c_norms=_t("c_norms", lang) if lstm else "",
        gru=_gru_text(lang, **(gru_options or {})) if "gru" in cells else "",
    )  # fmt: skip
    if "rnn" in cells:
        intro += _t("linear", lang)
    out = wrap(intro, width)
    align = ["<", ">", "<"] + [">"] * (len(header) - 3)
    out += [""] + table(header, rows, align=align, style=style)
    out.append("")
    period = PERIOD[lang]
    for scale in dict.fromkeys(r["scale"] for r in results):
        at_scale = [r for r in results if r["scale"] == scale]
        T = max(r["T"] for r in at_scale)
        by_cell = {r["cell"]: r for r in at_scale if r["T"] == T}
        sentences = []
        for cell in cells:
            r = by_cell[cell]
            sentences += [
                _verdict_text(f"{name} {gradient}", norms, lang)
                for name, gradient, norms in curves(r)
            ]
            if cell == "lstm":
                sentences.append(_t("mean_f", lang, f=r["forget"]))
            if cell == "gru":
                sentences.append(_t("mean_z", lang, z=r["update"]))
        for cell in cells:
            if cell != "rnn" and "rnn" in by_cell:
                ratio = by_cell[cell]["norms"][0] / by_cell["rnn"]["norms"][0]
                name = cell.upper()
                sentences.append(_t("ratio", lang, cell=name, ratio=ratio))
        text = f"scale {scale:g}, T = {T}: " + period.join(sentences)
        out += wrap(text + period.rstrip(), width, indent="")
    for cell in cells:
        out += [""] + wrap(_t(f"{cell}_moral", lang), width)
    return out


def _gru_text(lang, reset_after=True, update_bias=0.0):
    """The GRU's form and bias, for the report's first paragraph."""
    if reset_after and update_bias == 0:
        return _t("gru", lang)
    form = "" if reset_after else _t("book_form", lang)
    return _t(
        "gru_form", lang, reset_after=reset_after, form=form,
        update_bias=update_bias,
    )  # fmt: skip


def _colour(text, value, style):
    if value < VANISHED:
        return style(text, "blue")
    if value > 1 / VANISHED:
        return style(text, "red")
    return text


# The figure's labels, (English, Japanese).
LABELS = {
    "panel": ("Wh = {scale:g} x orthogonal", "Wh = 直交行列の {scale:g} 倍"),
    "x": (
        "steps back from the loss (T-1-t)",
        "損失からさかのぼった時刻数 (T-1-t)",
    ),
    "y_rnn": ("|dL/dh_t|", "|dL/dh_t|"),
    "y": (
        "norm / its value at t = T-1",
        "ノルム / t = T-1 での値",
    ),
    "vanished": ("vanished (< {low:g})", "消失 (< {low:g})"),
    "exploded": ("exploded (> {high:g})", "爆発 (> {high:g})"),
    "title": (
        "How far back the gradient reaches ({activation}, handwritten BPTT)",
        "勾配はどこまでさかのぼれるか（{activation}、手書きの BPTT）",
    ),
    "title_cells": (
        "How far back the gradient reaches: {cells}, T = {T} "
        "({activation}, handwritten BPTT)",
        "勾配はどこまでさかのぼれるか: {cells}、T = {T}"
        "（{activation}、手書きの BPTT）",
    ),
    "vs": (" vs ", " と "),
}


def _label(key, lang, **values):
    return LABELS[key][LANGUAGES.index(lang)].format(**values)


def plot(results, path, activation="tanh", dpi=100, lang="en"):
    """Saves the norms against the steps back (log scale) as a PNG.

    One panel per scale. One cell: one line per sequence length (the
    LSTM's dc solid, its dh dashed). Several cells: for the longest
    sequence, the RNN's dh, the LSTM's dh and dc and the GRU's dh, each
    divided by its value at t = T-1. Labels in English or Japanese
    (`lang`; Japanese needs a font with its glyphs, see
    `figures.japanese_font`). Needs matplotlib (imported here only).

    Raises:
        ValueError: `lang` is not `"en"` or `"ja"`, or it is `"ja"` and no
            Japanese font is installed.
    """
    if lang not in LANGUAGES:
        raise ValueError(
            "Received an invalid value for argument `lang`, expected one of "
            f"{LANGUAGES}, got {lang!r}."
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rc = {}
    if lang == "ja":
        font = figures.japanese_font()
        if font is None:
            raise ValueError(
                "Japanese labels need a font with Japanese glyphs, and "
                "matplotlib finds none: install one (e.g. apt-get install "
                "fonts-noto-cjk, or fonts-ipaexfont-gothic)"
            )
        rc["font.family"] = [font, "DejaVu Sans"]
    with plt.rc_context(rc):
        return _draw(plt, results, path, activation, dpi, lang)


def _draw(plt, results, path, activation, dpi, lang):
    cells = list(dict.fromkeys(r["cell"] for r in results))
    scales = list(dict.fromkeys(r["scale"] for r in results))
    longest = max(r["T"] for r in results)
    fig, axes = plt.subplots(
        1, len(scales), figsize=(3 * len(scales), 3.4), sharey=True
    )
    axes = np.atleast_1d(axes)
    colours = {"RNN": "C0", "LSTM": "C3", "GRU": "C2"}
    for ax, scale in zip(axes, scales):
        at_scale = [r for r in results if r["scale"] == scale]
        if len(cells) > 1:
            at_scale = [r for r in at_scale if r["T"] == longest]
        for i, r in enumerate(at_scale):
            for name, gradient, norms in curves(r):
                back = relative(norms)[::-1]
                if len(cells) > 1:
                    label = f"{name} |dL/{gradient}_t|"
                    colour = colours[name]
                    ls = "--" if (name, gradient) == ("LSTM", "dh") else "-"
                else:
                    label = f"T = {r['T']}"
                    if r["cell"] == "lstm":
                        label += f", {gradient}"
                    colour = f"C{i}"
                    ls = "--" if gradient == "dh" and "c_norms" in r else "-"
                ax.semilogy(
                    np.arange(r["T"]), back, ls=ls, color=colour, label=label
                )
        ax.axhspan(1e-30, VANISHED, color="#dde8f5", zorder=0)
        ax.axhspan(1 / VANISHED, 1e30, color="#f7dede", zorder=0)
        ax.set_title(_label("panel", lang, scale=scale), fontsize=10)
        ax.set_xlabel(_label("x", lang), fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(_label("y_rnn" if cells == ["rnn"] else "y", lang))
    axes[0].set_ylim(1e-20, 1e20)
    axes[0].text(2, 1e-16, _label("vanished", lang, low=VANISHED), fontsize=8)
    axes[0].text(
        2, 1e14, _label("exploded", lang, high=1 / VANISHED), fontsize=8
    )
    axes[-1].legend(loc="upper right", fontsize=7)
    if len(cells) > 1:
        names = _label("vs", lang).join(c.upper() for c in cells)
        title = _label(
            "title_cells", lang, cells=names, T=longest, activation=activation
        )
    else:
        title = _label("title", lang, activation=activation)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path
