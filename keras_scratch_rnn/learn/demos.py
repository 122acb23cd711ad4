# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Live demonstrations of every SimpleRNN parameter, ScratchRNN beside it,
of every LSTM parameter SimpleRNN lacks, ScratchLSTM beside LSTM, and of
every GRU parameter SimpleRNN lacks, ScratchGRU beside GRU.

Each `demo_<topic>(report)` builds ScratchRNN and keras.layers.SimpleRNN
(for the LSTM's topics, `LSTM_DEMOS`: ScratchLSTM and keras.layers.LSTM,
or their cells; for the GRU's, `GRU_DEMOS`: ScratchGRU and
keras.layers.GRU) with the same small weights, runs both right then, and
writes to `report` what it saw: bilingual sentences, aligned tables, the
scaled differences between the two layers (`Report.same`) and named facts
(`Report.fact`) that the tests assert. The weights are chosen so that the
numbers can be followed by hand; most demos use the "accumulator"

    units=1, activation=None, kernel=[[1]], recurrent_kernel=[[0.5]], b=0
    h_t = x_t + 0.5 h_{t-1}

whose values are exact in float32, so the printed output is the same on
every machine. `keras_scratch_rnn.learn.explain` renders the reports in English
or Japanese, for the terminal and for the docs.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_scratch_rnn.layers.scratch_gru import ScratchGRU
from keras_scratch_rnn.layers.scratch_gru_cell import ScratchGRUCell
from keras_scratch_rnn.layers.scratch_lstm import ScratchLSTM
from keras_scratch_rnn.layers.scratch_lstm_cell import ScratchLSTMCell
from keras_scratch_rnn.layers.scratch_rnn import ScratchRNN
from keras_scratch_rnn.reference.gru import (
    TimeGRU,
    book_to_keras_gru,
    keras_to_book_gru,
)
from keras_scratch_rnn.reference.lstm import (
    Rnnlm,
    TimeLSTM,
    book_to_keras_lstm,
    keras_to_book_lstm,
)
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error

# The accumulator: h_t = x_t + 0.5 h_{t-1} (kernel, recurrent_kernel, bias).
ACCUMULATOR = ([[1.0]], [[0.5]], [0.0])
ACCUMULATOR_CONFIG = {"activation": None}
# x = 1, 2, 3, 4 for one sample: h = 1, 2.5, 4.25, 6.125.
COUNTING = np.arange(1.0, 5.0, dtype="float32").reshape(1, 4, 1)
CLASSES = (ScratchRNN, keras.layers.SimpleRNN)
LSTM_CLASSES = (ScratchLSTM, keras.layers.LSTM)
LSTM_CELLS = (ScratchLSTMCell, keras.layers.LSTMCell)
GRU_CLASSES = (ScratchGRU, keras.layers.GRU)
GRU_CELLS = (ScratchGRUCell, keras.layers.GRUCell)
# What `Report.finish` says it compared: `(en, ja)`.
RNN_COMPARED = ("ScratchRNN vs SimpleRNN", "ScratchRNN と SimpleRNN")
LSTM_COMPARED = ("ScratchLSTM vs LSTM", "ScratchLSTM と LSTM")
GRU_COMPARED = ("ScratchGRU vs GRU", "ScratchGRU と GRU")


class Report:
    """What a demonstration shows (in two languages) and the facts it proves.

    Blocks are `("text", (en, ja))` or `("table", header, rows, align)`;
    a cell is a string or an `(en, ja)` pair. `compared` names the layers
    that `same` compares, `(en, ja)`, for the closing sentence.
    """

    def __init__(self, compared=RNN_COMPARED):
        self.blocks = []
        self.facts = {}
        self.differences = []
        self.compared = compared

    def say(self, en, ja):
        self.blocks.append(("text", (en, ja)))

    def table(self, header, rows, align=None):
        self.blocks.append(("table", list(header), [list(r) for r in rows]))
        self.blocks[-1] += (align,)

    def fact(self, name, value):
        """Records a claim the tests assert; returns `value`."""
        self.facts[name] = value
        return value

    def same(self, scratch, simple):
        """Records the scaled difference of ScratchRNN's and SimpleRNN's
        (or of the two layers `compared` names)."""
        error = scaled_error(scratch, simple)
        self.differences.append(error)
        return error

    def finish(self):
        """Closes with the agreement of the two layers (also a fact)."""
        n = len(self.differences)
        agree = self.fact(
            "agree", n > 0 and max(self.differences) <= FLOAT32_PARITY
        )
        verdict = ("agree", "一致") if agree else ("DIFFER", "不一致")
        self.say(
            f"{self.compared[0]}: {n} compared arrays "
            f"{verdict[0]} within {FLOAT32_PARITY:.0e} (scaled).",
            f"{self.compared[1]}: 比較した {n} 個の配列は "
            f"{FLOAT32_PARITY:.0e} 以内で{verdict[1]}（スケール済み誤差）。",
        )


def num(value, digits=3):
    """A number with fixed decimals (never "-0.000")."""
    text = f"{float(value):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def vec(values, digits=3):
    """`[1.000 2.500]` for a 1-D array."""
    return "[" + " ".join(num(v, digits) for v in np.ravel(values)) + "]"


def shape(array):
    return str(tuple(int(d) for d in np.shape(array)))


def yes_no(flag):
    return ("yes", "はい") if flag else ("no", "いいえ")


def _numpy(out):
    if isinstance(out, (list, tuple)):
        return tuple(np.asarray(o) for o in out)
    return np.asarray(out)


def pair(units, weights, input_shape, classes=CLASSES, **config):
    """ScratchRNN and SimpleRNN (or `classes`: `LSTM_CLASSES`,
    `LSTM_CELLS`) built with `config` and the same weights."""
    layers = []
    for cls in classes:
        layer = cls(units, **config)
        layer.build(input_shape)
        layer.set_weights([np.asarray(w, "float32") for w in weights])
        layers.append(layer)
    return layers


def accumulators(**config):
    """`h_t = x_t + 0.5 h_{t-1}` as ScratchRNN and SimpleRNN (D = 1)."""
    batch = 2 if config.get("stateful") else None
    return pair(
        1, ACCUMULATOR, (batch, None, 1), **ACCUMULATOR_CONFIG, **config
    )


def run_both(layers, x, **call):
    """Calls both layers on `x`; returns (ScratchRNN's, SimpleRNN's)."""
    return tuple(_numpy(layer(x, **call)) for layer in layers)


def steps(label, values):
    """A table row: label, then one cell per time step."""
    return [label, *(num(v) for v in np.ravel(values))]


def step_header(first, T, name="h"):
    return [first, *(f"{name}_{t}" for t in range(T))]


def _layer_rows(label, outs):
    return [
        [label, "ScratchRNN", *steps("", outs[0])[1:]],
        [label, "SimpleRNN", *steps("", outs[1])[1:]],
    ]


def _grad(layer, x, sources=None, **call):
    """d sum(outputs) / d x (and other sources) through `layer`."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        for s in sources or ():
            tape.watch(s)
        out = layer(x, **call)
        out = out[0] if isinstance(out, (list, tuple)) else out
        loss = tf.reduce_sum(out)
    grads = tape.gradient(loss, [x, *(sources or ())])
    return [None if g is None else np.asarray(g) for g in grads]


# ---------------------------------------------------------------------------
# One demonstration per topic.


def demo_units(r):
    D = 2
    rows = []
    for units in (1, 3):
        shapes = []
        for cls in CLASSES:
            layer = cls(units)
            x = np.zeros((2, 4, D), "float32")
            out = np.asarray(layer(x))
            seq = np.asarray(cls(units, return_sequences=True)(x))
            kernel, recurrent, bias = layer.get_weights()
            shapes.append([np.shape(w) for w in (kernel, recurrent, bias)])
            rows.append(
                [
                    str(units),
                    cls.__name__,
                    shape(kernel),
                    shape(recurrent),
                    shape(bias),
                    str(layer.count_params()),
                    shape(out),
                    shape(seq),
                ]
            )
            r.fact(f"params_{units}_{cls.__name__}", layer.count_params())
            r.fact(f"output_shape_{units}_{cls.__name__}", np.shape(out))
            r.fact(f"sequence_shape_{units}_{cls.__name__}", np.shape(seq))
        r.same(
            [d for s in shapes[0] for d in s], [d for s in shapes[1] for d in s]
        )
    r.say(
        f"Input x: (N, T, D) = (2, 4, {D}). Weights: kernel Wx (D, H), "
        "recurrent_kernel Wh (H, H), bias b (H,), with H = units.",
        f"入力 x の形は (N, T, D) = (2, 4, {D})。重みは kernel Wx (D, H)、"
        "recurrent_kernel Wh (H, H)、bias b (H,) で、H = units です。",
    )
    r.table(
        [
            "units",
            ("layer", "レイヤ"),
            "kernel",
            "recurrent_kernel",
            "bias",
            ("params", "パラメータ数"),
            ("output", "出力"),
            "return_sequences",
        ],
        rows,
        align=["<", "<", "<", "<", "<", ">", "<", "<"],
    )
    layer = ScratchRNN(3)
    counts = []
    for T in (4, 50):
        layer(np.zeros((2, T, D), "float32"))
        counts.append(layer.count_params())
    r.fact("params_independent_of_T", counts[0] == counts[1] == 18)
    r.say(
        f"The same layer on T = 4 and T = 50 steps: {counts[0]} and "
        f"{counts[1]} parameters. D*H + H*H + H = 2*3 + 3*3 + 3 = 18, "
        "whatever T is: one set of weights is shared by every step.",
        f"同じレイヤを T = 4 と T = 50 の系列に使っても、パラメータ数は "
        f"{counts[0]} と {counts[1]}。D*H + H*H + H = 2*3 + 3*3 + 3 = 18 "
        "で T によりません。すべての時刻が 1 組の重みを共有しています。",
    )


def demo_activation(r):
    T = 6
    x = np.array([1.0, -2.0, 0, 0, 0, 0], "float32").reshape(1, T, 1)
    weights = ([[1.0]], [[1.5]], [0.0])
    rows, grads = [], {}
    for activation in (None, "tanh", "relu"):
        layers = pair(
            1,
            weights,
            (None, None, 1),
            activation=activation,
            return_sequences=True,
        )
        outs = run_both(layers, x)
        r.same(*outs)
        name = "None" if activation is None else activation
        rows += _layer_rows(name, outs)
        last = pair(1, weights, (None, None, 1), activation=activation)
        g = [_grad(layer, x)[0][0, 0, 0] for layer in last]
        r.same(g[0], g[1])
        grads[name] = g[0]
        r.fact(f"outputs_{name}", outs[0].ravel().tolist())
    r.say(
        "x = 1, -2, 0, 0, 0, 0 with kernel = 1, recurrent_kernel = 1.5, "
        "b = 0: h_t = act(x_t + 1.5 h_{t-1}).",
        "x = 1, -2, 0, 0, 0, 0、kernel = 1、recurrent_kernel = 1.5、b = 0: "
        "h_t = act(x_t + 1.5 h_{t-1})。",
    )
    r.table(
        ["activation", ("layer", "レイヤ"), *step_header("", T)[1:]],
        rows,
        align=["<", "<"] + [">"] * T,
    )
    r.table(
        [
            "activation",
            (
                "d h_5 / d x_0 (handwritten BPTT)",
                "d h_5 / d x_0 （手書きの BPTT）",
            ),
        ],
        [[name, num(g)] for name, g in grads.items()],
        align=["<", ">"],
    )  # fmt: skip
    r.say(
        "Without an activation the state grows like 1.5^t (it explodes); "
        "tanh keeps it in (-1, 1); relu cuts it to 0 once a_t < 0, and "
        "then the gradient is 0 too.",
        "活性化関数なしでは隠れ状態が 1.5^t で増え続けます（発散）。tanh は "
        "(-1, 1) に収め、relu は a_t < 0 になった時点で 0 に切り、その先の"
        "勾配も 0 になります。",
    )
    linear = np.array(r.facts["outputs_None"])
    r.fact("linear_explodes", abs(linear[-1]) > 1)
    r.fact("tanh_bounded", max(abs(v) for v in r.facts["outputs_tanh"]) < 1)
    r.fact("linear_gradient", float(grads["None"]))
    r.fact("relu_dead_gradient", float(grads["relu"]) == 0.0)


def demo_use_bias(r):
    x = np.zeros((1, 4, 1), "float32")
    rows = []
    for use_bias in (True, False):
        weights = ACCUMULATOR[:2] + (([0.25],) if use_bias else ())
        layers = pair(
            1,
            weights,
            (None, None, 1),
            use_bias=use_bias,
            return_sequences=True,
            **ACCUMULATOR_CONFIG,
        )
        outs = run_both(layers, x)
        r.same(*outs)
        n = len(layers[0].get_weights())
        r.fact(f"num_weights_{use_bias}", n)
        r.fact(f"outputs_{use_bias}", outs[0].ravel().tolist())
        rows += [
            [str(use_bias), cls.__name__, str(n), *steps("", o)[1:]]
            for cls, o in zip(CLASSES, outs)
        ]
    r.say(
        "x = 0 at every step, kernel = 1, recurrent_kernel = 0.5, b = 0.25.",
        "全時刻で x = 0、kernel = 1、recurrent_kernel = 0.5、b = 0.25。",
    )
    r.table(
        ["use_bias", ("layer", "レイヤ"), ("weights", "重みの数")]
        + step_header("", 4)[1:],
        rows,
        align=["<", "<", ">"] + [">"] * 4,
    )
    r.say(
        "The same b is added at every step (b, not b_t): 0.25, then "
        "0.25 + 0.5 * 0.25, ... Without a bias, zero inputs keep h at 0.",
        "同じ b が毎時刻に足されます（b_t ではなく b）。0.25、次に "
        "0.25 + 0.5 * 0.25、… となります。バイアスなしでは入力 0 のまま h も "
        "0 です。",
    )
    with_bias = ScratchRNN(1)
    with_bias.build((None, None, 1))
    errors = []
    for cls in CLASSES:
        layer = cls(1, use_bias=False)
        layer.build((None, None, 1))
        try:
            layer.set_weights(with_bias.get_weights())
        except ValueError:
            errors.append(True)
    r.fact("set_weights_mismatch_raises", errors == [True, True])
    r.say(
        "Loading the 3 weights of a use_bias=True layer into a "
        f"use_bias=False one raises ValueError: "
        f"{yes_no(len(errors) == 2)[0]} (both layers).",
        "use_bias=True のレイヤの 3 個の重みを use_bias=False のレイヤに "
        f"set_weights すると ValueError になるか: {yes_no(len(errors) == 2)[1]}"
        "（両レイヤとも）。",
    )


def demo_initializers(r):
    D, H = 2, 3
    limit = np.sqrt(6.0 / (D + H))
    rows, weights = [], []
    for cls in CLASSES:
        layer = cls(
            H,
            kernel_initializer=keras.initializers.GlorotUniform(seed=0),
            recurrent_initializer=keras.initializers.Orthogonal(seed=0),
        )
        layer.build((None, None, D))
        kernel, recurrent, bias = layer.get_weights()
        weights.append(layer.get_weights())
        singular = np.linalg.svd(recurrent, compute_uv=False)
        rows.append(
            [
                cls.__name__,
                num(np.max(np.abs(kernel))),
                vec(singular),
                vec(bias),
            ]
        )
        r.fact(f"orthogonal_{cls.__name__}", np.allclose(singular, 1, 1e-5))
        r.fact(f"glorot_bound_{cls.__name__}", np.max(np.abs(kernel)) <= limit)
    for a, b in zip(*weights):
        r.same(a, b)
    r.say(
        f"D = {D}, units = {H}; seeded initializers GlorotUniform(seed=0) "
        "and Orthogonal(seed=0), the defaults' classes.",
        f"D = {D}、units = {H}。既定と同じ種類の初期化子に seed を指定: "
        "GlorotUniform(seed=0) と Orthogonal(seed=0)。",
    )
    r.table(
        [
            ("layer", "レイヤ"),
            (
                f"max|kernel| (limit {num(limit)})",
                f"max|kernel| (上限 {num(limit)})",
            ),
            (
                "singular values of recurrent_kernel",
                "recurrent_kernel の特異値",
            ),
            "bias",
        ],
        rows,
    )
    unseeded = [ScratchRNN(H), ScratchRNN(H)]
    for layer in unseeded:
        layer.build((None, None, D))
    differ = not np.allclose(
        unseeded[0].get_weights()[0], unseeded[1].get_weights()[0]
    )
    r.fact("unseeded_layers_differ", differ)
    r.say(
        "Every singular value of the orthogonal recurrent_kernel is 1: "
        "h Wh keeps the length of h, so the gradient through Wh neither "
        "shrinks nor grows (see `gradflow`). Two layers built with the "
        "default (unseeded) initializers get different weights: "
        f"{yes_no(differ)[0]}.",
        "直交行列で初期化した recurrent_kernel の特異値はすべて 1 です。"
        "h Wh は h の長さを変えないので、Wh を通る勾配は縮みも膨らみも"
        "しません（`gradflow` を参照）。seed なしの既定の初期化子で作った 2 "
        "つの"
        f"レイヤの重みは異なるか: {yes_no(differ)[1]}。",
    )


def demo_regularizers(r):
    x = np.array([1.0, 2.0], "float32").reshape(1, 2, 1)
    weights = ([[1.0, -1.0]], 0.5 * np.eye(2), [0.0, 0.0])
    rows = []
    penalties = {}
    for cls in CLASSES:
        plain = cls(2, activation=None)
        layer = cls(
            2,
            activation=None,
            recurrent_regularizer=keras.regularizers.L2(0.01),
            activity_regularizer=keras.regularizers.L2(0.1),
        )
        for each in (plain, layer):
            each.build((None, None, 1))
            each.set_weights([np.asarray(w, "float32") for w in weights])
        out = np.asarray(layer(x))
        r.same(out, np.asarray(plain(x)))
        total = float(sum(float(v) for v in layer.losses))
        recurrent = float(
            layer.cell.recurrent_regularizer(layer.cell.recurrent_kernel)
        )
        activity = total - recurrent
        penalties[cls.__name__] = (recurrent, activity)
        rows.append(
            [
                cls.__name__,
                vec(out),
                num(recurrent),
                num(activity) if activity else ("(dropped)", "（無視される）"),
                num(total),
            ]
        )
    r.same(penalties["ScratchRNN"][0], penalties["SimpleRNN"][0])
    r.fact("scratch_penalties", penalties["ScratchRNN"])
    r.fact("simple_penalties", penalties["SimpleRNN"])
    r.say(
        "units = 2, activation = None, kernel = [1, -1], "
        "recurrent_kernel = 0.5 I; x = 1, 2. recurrent_regularizer = L2(0.01),"
        " activity_regularizer = L2(0.1).",
        "units = 2、activation = None、kernel = [1, -1]、"
        "recurrent_kernel = 0.5 I、x = 1, 2。recurrent_regularizer = "
        "L2(0.01)、activity_regularizer = L2(0.1)。",
    )
    r.table(
        [
            ("layer", "レイヤ"),
            ("output (as without)", "出力（正則化なしと同じ）"),
            ("Wh penalty", "Wh の罰則"),
            ("output penalty", "出力の罰則"),
            "sum(layer.losses)",
        ],
        rows,
        align=["<", "<", ">", ">", ">"],
    )
    r.say(
        "0.005 = 0.01 * sum(Wh^2) = 0.01 * (0.25 + 0.25); "
        "1.250 = 0.1 * sum(o^2) = 0.1 * (2.5^2 + 2.5^2). The output is "
        "unchanged: a regularizer only adds a term to the loss. SimpleRNN "
        "(Keras 3.15) accepts activity_regularizer and drops it.",
        "0.005 = 0.01 * sum(Wh^2) = 0.01 * (0.25 + 0.25)、"
        "1.250 = 0.1 * sum(o^2) = 0.1 * (2.5^2 + 2.5^2)。出力は変わりません。"
        "正則化は損失に項を足すだけです。SimpleRNN（Keras 3.15）は "
        "activity_regularizer を受け取りますが、黙って捨てます。",
    )


def demo_constraints(r):
    x = np.array([1.0, 2.0], "float32").reshape(1, 2, 1)
    weights = ([[1.0, 1.0]], [[0.5, -0.5], [-0.5, 0.5]], [0.0, 0.0])
    rows = []
    after = []
    for cls in CLASSES:
        layer = cls(
            2, activation=None, recurrent_constraint=keras.constraints.NonNeg()
        )
        layer.build((None, None, 1))
        layer.set_weights([np.asarray(w, "float32") for w in weights])
        before = layer.get_weights()[1]
        out = np.asarray(layer(x))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x))
        grads = tape.gradient(loss, layer.trainable_weights)
        keras.optimizers.SGD(0.1).apply_gradients(
            zip(grads, layer.trainable_weights)
        )
        updated = layer.get_weights()[1]
        after.append(updated)
        rows.append([cls.__name__, vec(before), vec(out), vec(updated)])
        r.fact(f"negative_before_{cls.__name__}", float(before.min()) < 0)
        r.fact(f"non_negative_after_{cls.__name__}", float(updated.min()) >= 0)
    r.same(after[0], after[1])
    r.say(
        "recurrent_constraint = NonNeg(); set_weights puts negative entries "
        "in recurrent_kernel; then one SGD step (learning rate 0.1) on "
        "sum(output).",
        "recurrent_constraint = NonNeg()。set_weights で recurrent_kernel に"
        "負の値を入れ、sum（出力） に対して SGD を 1 ステップ（学習率 0.1）。",
    )
    r.table(
        [
            ("layer", "レイヤ"),
            ("Wh after set_weights", "set_weights 直後の Wh"),
            ("output", "出力"),
            ("Wh after one SGD step", "SGD 1 ステップ後の Wh"),
        ],
        rows,
    )
    r.say(
        "The constraint did not act on set_weights nor in the forward: the "
        "negative weights were used. It acts after each optimizer update, "
        "which projects Wh back to Wh >= 0.",
        "制約は set_weights でも順伝播でも働かず、負の重みがそのまま使われ"
        "ました。オプティマイザの更新のたびに働き、Wh を Wh >= 0 "
        "に射影します。",
    )


def _mask_rows(outs, samples, name="o"):
    rows = []
    for n in range(samples):
        for t in range(outs[0].shape[1]):
            rows.append(
                [str(n), f"{name}_{t}", vec(outs[0][n, t]), vec(outs[1][n, t])]
            )
    return rows


def demo_dropout(r):
    x = np.ones((2, 3, 4), "float32")
    weights = (np.eye(4), np.zeros((4, 4)), np.zeros(4))
    layers = pair(
        4,
        weights,
        (None, None, 4),
        activation=None,
        dropout=0.5,
        seed=7,
        return_sequences=True,
    )
    outs = run_both(layers, x, training=True)
    r.same(*outs)
    inference = run_both(layers, x, training=False)
    r.same(*inference)
    r.say(
        "units = D = 4, kernel = I, recurrent_kernel = 0, activation = None, "
        "so o_t = x_t * (input dropout mask); x = 1 everywhere. dropout = "
        "0.5, seed = 7, training=True.",
        "units = D = 4、kernel = I、recurrent_kernel = 0、activation = None "
        "なので o_t = x_t * （入力のドロップアウトマスク）。x はすべて 1。"
        "dropout = 0.5、seed = 7、training=True。",
    )
    r.table(
        [("sample", "サンプル"), ("step", "時刻"), "ScratchRNN", "SimpleRNN"],
        _mask_rows(outs, 2),
    )
    masks = outs[0]
    reused = all(
        np.array_equal(masks[n, t], masks[n, 0])
        for n in range(2)
        for t in range(3)
    )
    r.fact("mask_reused_over_time", reused)
    r.fact("mask_values", sorted({float(v) for v in masks.ravel()}))
    r.fact("samples_differ", not np.array_equal(masks[0, 0], masks[1, 0]))
    r.fact("inference_is_identity", np.array_equal(inference[0], x))
    r.say(
        "Each sample has one mask, the same at every step (values 0 or "
        "1 / (1 - 0.5) = 2). With training=False the output is x itself: "
        f"{yes_no(np.array_equal(inference[0], x))[0]}.",
        "マスクはサンプルごとに 1 つで、すべての時刻で同じです（値は 0 か "
        "1 / (1 - 0.5) = 2）。training=False なら出力は x そのものか: "
        f"{yes_no(np.array_equal(inference[0], x))[1]}。",
    )


def demo_recurrent_dropout(r):
    x = np.ones((1, 4, 4), "float32")
    weights = (np.eye(4), np.eye(4), np.zeros(4))
    layers = pair(
        4,
        weights,
        (None, None, 4),
        activation=None,
        recurrent_dropout=0.5,
        seed=7,
        return_sequences=True,
    )
    outs = run_both(layers, x, training=True)
    r.same(*outs)
    r.say(
        "units = D = 4, kernel = I, recurrent_kernel = I, activation = None: "
        "h_t = x_t + (h_{t-1} * m_h); x = 1 everywhere. recurrent_dropout = "
        "0.5, seed = 7, training=True.",
        "units = D = 4、kernel = I、recurrent_kernel = I、activation = None: "
        "h_t = x_t + (h_{t-1} * m_h)。x はすべて 1。recurrent_dropout = 0.5、"
        "seed = 7、training=True。",
    )
    r.table(
        [("step", "時刻"), "ScratchRNN", "SimpleRNN"],
        [row[1:] for row in _mask_rows(outs, 1, "h")],
    )
    h = outs[0][0]
    dropped = h[-1] == 1.0
    kept = ~dropped
    r.fact("some_dropped_some_kept", bool(dropped.any() and kept.any()))
    r.fact("dropped_units_stay_1", bool(np.all(h[:, dropped] == 1.0)))
    r.fact(
        "kept_units_grow",
        bool(np.allclose(h[:, kept].T, [1.0, 3.0, 7.0, 15.0])),
    )
    r.fact("first_output_not_dropped", bool(np.all(h[0] == 1.0)))
    r.say(
        "The units whose m_h is 0 stay at 1 at every step (the mask is the "
        "same each step); the kept ones get 1 + 2 h_{t-1}: 1, 3, 7, 15. "
        "h_0 = 1 everywhere: the mask hits h_{t-1} on its way into Wh, not "
        "the output.",
        "m_h が 0 のユニットは全時刻で 1 のまま（毎時刻同じマスク）、残った"
        "ユニットは 1 + 2 h_{t-1} で 1, 3, 7, 15 と増えます。h_0 はすべて 1: "
        "マスクが掛かるのは Wh に入る h_{t-1} で、出力ではありません。",
    )


def _first_mask(layer, x):
    return np.asarray(layer(x, training=True))  # (N, units): the mask


def demo_seed(r):
    x = np.ones((2, 1, 4), "float32")
    weights = (np.eye(4), np.zeros((4, 4)), np.zeros(4))

    def layer(cls, seed):
        layer = cls(4, activation=None, dropout=0.5, seed=seed)
        layer.build((None, None, 4))
        layer.set_weights([np.asarray(w, "float32") for w in weights])
        return layer

    a, b = layer(ScratchRNN, 7), layer(ScratchRNN, 7)
    simple = layer(keras.layers.SimpleRNN, 7)
    first_a, first_b = _first_mask(a, x), _first_mask(b, x)
    first_simple = _first_mask(simple, x)
    second_a = _first_mask(a, x)
    r.same(first_a, first_simple)
    rows = [
        [("ScratchRNN(seed=7), 1st call", "ScratchRNN(seed=7) 1 回目"),
         vec(first_a[0])],
        [("another ScratchRNN(seed=7), 1st call",
          "別の ScratchRNN(seed=7) 1 回目"), vec(first_b[0])],
        [("SimpleRNN(seed=7), 1st call", "SimpleRNN(seed=7) 1 回目"),
         vec(first_simple[0])],
        [("ScratchRNN(seed=7), 2nd call", "ScratchRNN(seed=7) 2 回目"),
         vec(second_a[0])],
    ]  # fmt: skip
    r.say(
        "dropout = 0.5 with kernel = I, so the output of one step is the "
        "dropout mask of sample 0 (training=True).",
        "dropout = 0.5、kernel = I なので、1 ステップの出力がサンプル 0 の"
        "ドロップアウトマスクそのものです（training=True）。",
    )
    r.table([("layer and call", "レイヤと呼び出し"), ("mask", "マスク")], rows)
    r.fact("same_seed_same_mask", np.array_equal(first_a, first_b))
    r.fact("scratch_equals_simple", np.array_equal(first_a, first_simple))
    r.fact("next_call_new_mask", not np.array_equal(first_a, second_a))
    scratch_seed = ScratchRNN.from_config(a.get_config()).seed
    simple_seed = keras.layers.SimpleRNN.from_config(
        simple.get_config()
    ).cell.seed
    r.fact("scratch_config_keeps_seed", scratch_seed == 7)
    r.fact("simple_config_loses_seed", simple_seed is None)
    r.table(
        [
            ("layer", "レイヤ"),
            "'seed' in get_config()",
            ("seed after from_config", "from_config 後の seed"),
        ],
        [
            ["ScratchRNN", yes_no("seed" in a.get_config()), str(scratch_seed)],
            [
                "SimpleRNN",
                yes_no("seed" in simple.get_config()),
                str(simple_seed),
            ],
        ],
    )
    r.say(
        "The seed fixes the sequence of masks, not one mask: each call draws "
        "the next one. SimpleRNN's config (Keras 3.15) has no seed, so a "
        "reloaded SimpleRNN draws other masks; ScratchRNN keeps it.",
        "seed が固定するのはマスクの「列」で、1 つのマスクではありません。"
        "呼び出しのたびに次のマスクを引きます。SimpleRNN（Keras 3.15）の "
        "config には seed がないため、読み込み直した SimpleRNN は別のマスクを"
        "引きます。ScratchRNN は seed を保存します。",
    )


def demo_return_sequences(r):
    rows = []
    for return_sequences in (False, True):
        layers = accumulators(return_sequences=return_sequences)
        outs = run_both(layers, COUNTING)
        r.same(*outs)
        r.fact(f"shape_{return_sequences}", np.shape(outs[0]))
        for cls, out in zip(CLASSES, outs):
            rows.append(
                [str(return_sequences), cls.__name__, shape(out), vec(out)]
            )
    r.fact("last_is_sequence_end", rows[0][3] == "[6.125]")
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4 を入力。",
    )
    r.table(
        [
            "return_sequences",
            ("layer", "レイヤ"),
            ("shape", "形"),
            ("values", "値"),
        ],
        rows,
    )
    layers = accumulators()
    mask = np.array([[True, True, True, False]])
    masked = run_both(layers, COUNTING, mask=mask)
    r.same(*masked)
    r.fact("masked_last_output", float(masked[0].ravel()[0]))
    stacked_error = False
    try:
        ScratchRNN(1)(ScratchRNN(1)(COUNTING))
    except ValueError:
        stacked_error = True
    r.fact("stacking_needs_sequences", stacked_error)
    r.say(
        "With the last step masked, return_sequences=False returns "
        f"{vec(masked[0])}, the output of the last unmasked step (h_2), "
        "not of step T-1. Stacking ScratchRNN(1)(ScratchRNN(1)(x)) without "
        "return_sequences=True on the first layer raises ValueError "
        f"(expected ndim=3): {yes_no(stacked_error)[0]}.",
        "最後の時刻をマスクすると、return_sequences=False は "
        f"{vec(masked[0])} を返します。時刻 T-1 ではなく、マスクされていない"
        "最後の時刻（h_2）の出力です。1 層目に return_sequences=True "
        "を付けずに "
        "ScratchRNN(1)(ScratchRNN(1)(x)) と積むと ValueError（ndim=3 が必要）"
        "になるか: "
        f"{yes_no(stacked_error)[1]}。",
    )


def demo_return_state(r):
    rows = []
    for return_sequences in (False, True):
        layers = accumulators(
            return_state=True, return_sequences=return_sequences
        )
        outs = run_both(layers, COUNTING)
        for a, b in zip(*outs):
            r.same(a, b)
        for cls, out in zip(CLASSES, outs):
            rows.append(
                [
                    str(return_sequences),
                    cls.__name__,
                    f"{type(out).__name__}, {len(out)}",
                    f"{shape(out[0])} {vec(out[0])}",
                    f"{shape(out[1])} {vec(out[1])}",
                ]
            )
        r.fact(f"tuple_{return_sequences}", isinstance(outs[0], tuple))
        r.fact(f"length_{return_sequences}", len(outs[0]))
        r.fact(
            f"state_is_last_output_{return_sequences}",
            float(outs[0][1].ravel()[0]) == float(outs[0][0].ravel()[-1]),
        )
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4 with return_state=True.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4、"
        "return_state=True。",
    )
    r.table(
        [
            "return_sequences",
            ("layer", "レイヤ"),
            ("type, length", "型, 長さ"),
            ("output", "出力"),
            ("state", "状態"),
        ],
        rows,
    )
    layers = accumulators(return_state=True, zero_output_for_mask=True)
    mask = np.array([[True, True, True, False]])
    outs = run_both(layers, COUNTING, mask=mask)
    for a, b in zip(*outs):
        r.same(a, b)
    out, state = outs[0]
    r.fact(
        "masked_output_zero_state_kept", (float(out[0, 0]), float(state[0, 0]))
    )
    r.say(
        "A tuple (output, state): unpack it, `output, h = layer(x)`. The state "
        "is h_{T-1}, the last output. With the last step masked and "
        f"zero_output_for_mask=True they differ: output {vec(out)}, "
        f"state {vec(state)} (carried from step 2).",
        "戻り値はタプル (出力, 状態) なので `output, h = layer(x)` と分けて"
        "受け取ります。状態は h_{T-1}、つまり最後の出力です。最後の時刻を"
        "マスクし zero_output_for_mask=True にすると両者は異なります: 出力 "
        f"{vec(out)}、状態 {vec(state)}（時刻 2 から引き継いだ値）。",
    )


def demo_go_backwards(r):
    rows = []
    outs = {}
    for go_backwards in (False, True):
        layers = accumulators(go_backwards=go_backwards, return_sequences=True)
        outs[go_backwards] = run_both(layers, COUNTING)
        r.same(*outs[go_backwards])
        for cls, out in zip(CLASSES, outs[go_backwards]):
            rows.append([str(go_backwards), cls.__name__, *steps("", out)[1:]])
    forward_on_reversed = run_both(
        accumulators(return_sequences=True), COUNTING[:, ::-1]
    )
    backwards = outs[True][0].ravel()
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4 を入力。",
    )
    r.table(
        ["go_backwards", ("layer", "レイヤ"), "o[0]", "o[1]", "o[2]", "o[3]"],
        rows,
        align=["<", "<", ">", ">", ">", ">"],
    )
    r.fact(
        "equals_forward_on_reversed_input",
        np.array_equal(outs[True][0], forward_on_reversed[0]),
    )
    r.fact("first_output_is_last_input", float(backwards[0]) == 4.0)
    flipped_back = backwards[::-1]
    r.fact(
        "flipped_back_differs_from_forward",
        not np.array_equal(flipped_back, outs[False][0].ravel()),
    )
    r.say(
        f"o[0] = {num(backwards[0])} is x_3 = 4 alone: the layer read x_3 "
        "first and the output stays in that reversed order (the layer equals "
        "a forward one on x[:, ::-1]). Flipping it back gives "
        f"{vec(flipped_back)}, still not the forward {vec(outs[False][0])}: "
        "each step summarises the future, not the past.",
        f"o[0] = {num(backwards[0])} は x_3 = 4 だけから計算された値です。"
        "レイヤは x_3 から読み、出力はその逆順のまま返ります（x[:, ::-1] に"
        "順方向のレイヤを使うのと同じ）。時間方向に反転し直すと "
        f"{vec(flipped_back)} で、順方向の {vec(outs[False][0])} とは違います。"
        "各時刻の値は過去ではなく未来の要約だからです。",
    )


def demo_stateful(r):
    x = np.zeros((2, 4, 1), "float32")
    x[0, :, 0] = [1, 2, 3, 4]
    x[1, :, 0] = [0, 0, 0, 1]
    whole = run_both(accumulators(return_sequences=True), x)
    r.same(*whole)
    layers = accumulators(stateful=True, return_sequences=True)
    first = run_both(layers, x[:, :2])
    state = np.asarray(layers[0].states[0])
    second = run_both(layers, x[:, 2:])
    r.same(*first)
    r.same(*second)
    chunks = np.concatenate([first[0], second[0]], axis=1)
    for layer in layers:
        layer.reset_state()
    run_both(layers, x[:, :2])  # chunk 1 again, then chunk 2 rows swapped
    swapped = run_both(layers, x[::-1, 2:])
    r.same(*swapped)
    r.say(
        "h_t = x_t + 0.5 h_{t-1}, stateful=True, batch of 2: sample 0 is "
        "x = 1, 2, 3, 4, sample 1 is 0, 0, 0, 1, fed as two chunks of 2 "
        "steps.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、stateful=True、バッチサイズ 2。"
        "サンプル 0 は "
        "x = 1, 2, 3, 4、サンプル 1 は 0, 0, 0, 1 で、2 時刻ずつ 2 回に分けて"
        "入力します。",
    )
    rows = []
    for n in range(2):
        rows.append(
            [
                str(n),
                ("whole sequence", "系列全体"),
                *steps("", whole[0][n])[1:],
            ]
        )
        rows.append(
            [str(n), ("two chunks", "2 回に分割"), *steps("", chunks[n])[1:]]
        )
        rows.append(
            [
                str(n),
                ("rows swapped in chunk 2", "2 回目で行を入れ替え"),
                "",
                "",
                *steps("", swapped[0][n])[1:],
            ]
        )
    r.table(
        [("sample", "サンプル"), ("run", "実行")] + step_header("", 4)[1:],
        rows,
        align=["<", "<"] + [">"] * 4,
    )
    r.fact("chunks_equal_whole", np.array_equal(chunks, whole[0]))
    r.fact("state_after_chunk_1", state.ravel().tolist())
    r.fact(
        "swapped_rows_differ", not np.array_equal(swapped[0], whole[0][:, 2:])
    )

    layer = accumulators(stateful=True)[0]
    layer(x[:, :2])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        layer(xt[:, :2])
        loss = tf.reduce_sum(layer(xt[:, 2:]))
    grad = np.asarray(tape.gradient(loss, xt))
    truncated = bool(np.all(grad[:, :2] == 0) and np.any(grad[:, 2:] != 0))
    r.fact("gradient_stops_at_chunk", truncated)

    wrong_batch = False
    try:
        layer(np.zeros((3, 2, 1), "float32"))
    except ValueError:
        wrong_batch = True
    r.fact("other_batch_size_raises", wrong_batch)
    model = keras.Sequential(
        [keras.Input((None, 1), batch_size=2), ScratchRNN(1, stateful=True)]
    )
    no_model_reset = not hasattr(model, "reset_states") and not hasattr(
        model, "reset_state"
    )
    r.fact("model_has_no_reset_states", no_model_reset)
    chunks_equal = r.facts["chunks_equal_whole"]
    r.say(
        f"Chunks = whole sequence: {yes_no(chunks_equal)[0]}. The state after "
        f"chunk 1 is {vec(state)}: row i continues row i, "
        "so swapping the rows of chunk 2 gives other numbers. "
        "The gradient of chunk 2 does not reach chunk 1 (truncated BPTT): "
        f"{yes_no(truncated)[0]}. A batch of 3 raises ValueError: "
        f"{yes_no(wrong_batch)[0]}. keras.Model has reset_states: "
        f"{yes_no(not no_model_reset)[0]}.",
        "2 回に分けた結果は系列全体と同じか: "
        f"{yes_no(chunks_equal)[1]}。1 回目の後の状態は {vec(state)} です。"
        "i 行目は前のバッチの i 行目の続きなので、2 回目で行を入れ替えると"
        "別の値になります。2 回目の勾配が 1 回目に届かないか（Truncated "
        f"BPTT）: {yes_no(truncated)[1]}。バッチサイズ 3 で呼ぶと "
        f"ValueError になるか: {yes_no(wrong_batch)[1]}。keras.Model に "
        f"reset_states があるか: {yes_no(not no_model_reset)[1]}。",
    )


def demo_unroll(r):
    rows = []
    outs = {}
    for unroll in (False, True):
        layers = accumulators(unroll=unroll, return_sequences=True)
        outs[unroll] = run_both(layers, COUNTING)
        r.same(*outs[unroll])
        for cls, out in zip(CLASSES, outs[unroll]):
            rows.append([str(unroll), cls.__name__, *steps("", out)[1:]])
    r.same(outs[True][0], outs[False][0])
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4 を入力。",
    )
    r.table(
        ["unroll", ("layer", "レイヤ")] + step_header("", 4)[1:],
        rows,
        align=["<", "<"] + [">"] * 4,
    )
    r.fact("same_numbers", np.array_equal(outs[True][0], outs[False][0]))
    layer = accumulators(unroll=True)[0]
    unknown = tf.TensorSpec((None, None, 1), tf.float32)
    raised = False
    try:
        tf.function(layer, input_signature=[unknown]).get_concrete_function()
    except ValueError:
        raised = True
    r.fact("unknown_T_raises", raised)
    r.say(
        "Same numbers with and without unroll. In a tf.function whose "
        "input has T = None, unroll=True raises ValueError: "
        f"{yes_no(raised)[0]}.",
        "unroll の有無で値は同じです。T = None の入力をとる tf.function の中"
        f"では unroll=True が ValueError になるか: {yes_no(raised)[1]}。",
    )


def demo_zero_output_for_mask(r):
    mask = np.array([[True, False, True, False]])
    rows = []
    results = {}
    for zero in (False, True):
        layers = accumulators(
            zero_output_for_mask=zero, return_sequences=True, return_state=True
        )
        outs = run_both(layers, COUNTING, mask=mask)
        for a, b in zip(*outs):
            r.same(a, b)
        results[zero] = outs[0]
        for cls, (out, state) in zip(CLASSES, outs):
            rows.append(
                [str(zero), cls.__name__, *steps("", out)[1:], vec(state)]
            )
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4 with mask = [True, False, "
        "True, "
        "False] (steps 1 and 3 masked).",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4、mask = [True, "
        "False, True, False]"
        "（時刻 1 と 3 をマスク）。",
    )
    r.table(
        ["zero_output_for_mask", ("layer", "レイヤ"), "o_0", "o_1", "o_2",
         "o_3", ("final state", "最終状態")],
        rows,
        align=["<", "<", ">", ">", ">", ">", "<"],
    )  # fmt: skip
    r.fact("repeats_previous", results[False][0].ravel().tolist())
    r.fact("zeros", results[True][0].ravel().tolist())
    r.fact(
        "state_same_either_way",
        np.array_equal(results[False][1], results[True][1]),
    )
    last = run_both(
        accumulators(zero_output_for_mask=True), COUNTING, mask=mask
    )
    r.same(*last)
    r.fact("last_output_zero", float(last[0].ravel()[0]) == 0.0)
    r.say(
        "Masked steps repeat the previous output, or output 0; the state "
        "is carried either way (3.500 = 3 + 0.5 * 1). With "
        f"return_sequences=False the output is {vec(last[0])}: zeros, "
        "because the last step is masked.",
        "マスクされた時刻は直前の出力を繰り返すか、0 を出力します。どちらでも"
        "状態は引き継がれます（3.500 = 3 + 0.5 * 1）。return_sequences=False "
        f"の出力は {vec(last[0])}。最後の時刻がマスクされているので 0 です。",
    )


def demo_initial_state(r):
    h0 = np.array([[2.0]], "float32")
    layers = accumulators(return_sequences=True)
    zero_start = run_both(layers, COUNTING)
    given = run_both(layers, COUNTING, initial_state=h0)
    r.same(*zero_start)
    r.same(*given)
    dh0 = []
    for layer in layers:
        h0_tensor = tf.constant(h0)
        dh0.append(
            _grad(layer, COUNTING, [h0_tensor], initial_state=h0_tensor)[1]
        )
    r.same(dh0[0], dh0[1])
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4, from h_{-1} = 0 and from "
        "h_{-1} = 2.",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4。h_{-1} = 0 と "
        "h_{-1} = 2 から開始。",
    )
    rows = []
    for label, outs in (("None", zero_start), ("[[2.0]]", given)):
        for cls, out in zip(CLASSES, outs):
            rows.append([label, cls.__name__, *steps("", out)[1:]])
    r.table(
        ["initial_state", ("layer", "レイヤ")] + step_header("", 4)[1:],
        rows,
        align=["<", "<"] + [">"] * 4,
    )
    r.fact("difference", (given[0] - zero_start[0]).ravel().tolist())
    r.fact("dh0", float(dh0[0].ravel()[0]))
    raised = False
    try:
        layers[0](COUNTING, initial_state=np.array([2.0], "float32"))
    except ValueError:
        raised = True
    r.fact("vector_state_raises", raised)
    r.say(
        "h_{-1} = 2 adds 2 * 0.5^(t+1) to h_t: 1, 0.5, 0.25, 0.125. "
        "d sum(h) / d h_{-1} = "
        f"{num(dh0[0].ravel()[0], 4)} (= 0.5 + 0.25 + 0.125 + 0.0625, "
        "the book's TimeRNN.dh) in both layers. A state of shape (units,) "
        f"instead of (batch, units) raises ValueError: {yes_no(raised)[0]}.",
        "h_{-1} = 2 は h_t に 2 * 0.5^(t+1)、すなわち 1, 0.5, 0.25, 0.125 を"
        "加えます。d sum(h) / d h_{-1} = "
        f"{num(dh0[0].ravel()[0], 4)}（= 0.5 + 0.25 + 0.125 + 0.0625、本の "
        "TimeRNN.dh）で両レイヤ同じ。形が (batch, units) ではなく (units,) の"
        f"状態を渡すと ValueError になるか: {yes_no(raised)[1]}。",
    )


def demo_mask(r):
    mask = np.array([[True, True, False, True]])
    layers = accumulators(return_sequences=True, return_state=True)
    outs = run_both(layers, COUNTING, mask=mask)
    for a, b in zip(*outs):
        r.same(a, b)
    plain = run_both(accumulators(return_sequences=True), COUNTING)
    grads = [
        _grad(layer, COUNTING, mask=tf.constant(mask))[0] for layer in layers
    ]
    r.same(grads[0], grads[1])
    r.say(
        "h_t = x_t + 0.5 h_{t-1} on x = 1, 2, 3, 4 with mask = [True, True, "
        "False, "
        "True].",
        "h_t = x_t + 0.5 h_{t-1} となる重みで、x = 1, 2, 3, 4、mask = [True, "
        "True, False, True]。",
    )
    rows = [
        [("no mask", "マスクなし"), "ScratchRNN", *steps("", plain[0])[1:]],
        [("mask", "マスクあり"), "ScratchRNN", *steps("", outs[0][0])[1:]],
        [("mask", "マスクあり"), "SimpleRNN", *steps("", outs[1][0])[1:]],
        [("d sum(o) / d x_t, mask", "d sum(o) / d x_t、マスクあり"),
         "ScratchRNN", *steps("", grads[0])[1:]],
        [("d sum(o) / d x_t, mask", "d sum(o) / d x_t、マスクあり"),
         "SimpleRNN", *steps("", grads[1])[1:]],
    ]  # fmt: skip
    r.table(
        [("quantity", "量"), ("layer", "レイヤ"), "t=0", "t=1", "t=2", "t=3"],
        rows,
        align=["<", "<", ">", ">", ">", ">"],
    )
    o = outs[0][0].ravel()
    r.fact("state_carried", float(o[2]) == float(o[1]))
    r.fact("after_gap", float(o[3]))
    r.fact("masked_input_gradient_zero", float(grads[0].ravel()[2]) == 0.0)
    r.say(
        "At the masked step the state is carried (h_2 = h_1 = 2.500, not 0), "
        "and step 3 continues from it: 4 + 0.5 * 2.5 = 5.250. x_2 gets no "
        "gradient.",
        "マスクされた時刻では状態が引き継がれ（h_2 = h_1 = 2.500。0 には"
        "なりません）、時刻 3 はそこから続きます: 4 + 0.5 * 2.5 = 5.250。"
        "x_2 には勾配が流れません。",
    )


def demo_training(r):
    x = np.ones((1, 2, 4), "float32")
    weights = (np.eye(4), np.zeros((4, 4)), np.zeros(4))
    layers = pair(
        4, weights, (None, None, 4), activation=None, dropout=0.5, seed=7
    )
    rows = []
    results = {}
    for label, call in (
        ("layer(x)", {}),
        ("training=False", {"training": False}),
        ("training=True", {"training": True}),
    ):
        outs = run_both(layers, x, **call)
        r.same(*outs)
        results[label] = outs[0]
        rows.append([label, vec(outs[0]), vec(outs[1])])
    r.say(
        "dropout = 0.5, seed = 7, kernel = I, activation = None: the output "
        "shows the dropout mask; x = 1.",
        "dropout = 0.5、seed = 7、kernel = I、activation = None なので出力に"
        "ドロップアウトマスクが見えます。x はすべて 1。",
    )
    r.table([("call", "呼び出し"), "ScratchRNN", "SimpleRNN"], rows)
    r.fact("default_is_inference", np.array_equal(results["layer(x)"], x[:, 0]))
    r.fact(
        "training_drops",
        not np.array_equal(results["training=True"], x[:, 0]),
    )
    r.say(
        "Called directly, the layer runs in inference mode: no dropout. "
        "fit() passes training=True; a custom training loop must pass it.",
        "レイヤを直接呼ぶと推論モードになり、ドロップアウトは掛かりません。"
        "fit() は training=True を渡しますが、自作の学習ループでは自分で"
        "渡す必要があります。",
    )


# ---------------------------------------------------------------------------
# The LSTM: one demonstration per argument that SimpleRNN lacks, and one for
# the gate order; ScratchLSTM (or ScratchLSTMCell) beside keras's LSTM (or
# LSTMCell).


def gate_blocks(values, digits=0):
    """`0 | 1 | 0 | 0`: a (4H,) vector cut into the gates i, f, g, o."""
    blocks = np.split(np.ravel(values), 4)
    return " | ".join(vec(b, digits)[1:-1] for b in blocks)


def _lstm_weights(D, H, seed=0, scale=0.5):
    """Small random LSTM weights `(D, 4H), (H, 4H), (4H,)` in float32."""
    rng = np.random.default_rng(seed)
    shapes = ((D, 4 * H), (H, 4 * H), (4 * H,))
    return [(scale * rng.standard_normal(s)).astype("float32") for s in shapes]


def _cell_steps(r, cells, x, name, states):
    """Runs the scratch cell and the Keras one (`cells`, recurrent_activation
    `name`) one step at a time over `x` (1, T, 1). `states` names the
    cell's states (`("h", "c")`, `("h",)`): all start at 0 and the last is
    recorded at each step. Facts: the gates at -2 and 0 (`gates_{name}`)
    and the scratch cell's values (`c_{name}`, `h_{name}`). Returns the
    table's rows and the scratch cell's values."""
    rows, runs = [], []
    for cell in cells:
        state = [np.zeros((1, 1), "float32")] * len(states)
        values = []
        for t in range(x.shape[1]):
            _, state = cell(x[:, t], state)
            values.append(float(np.asarray(state[-1])[0, 0]))
        gate = np.asarray(cell.recurrent_activation(tf.constant([-2.0, 0.0])))
        runs.append(values)
        rows.append(
            [name, type(cell).__name__, num(gate[0]), num(gate[1]),
             *(num(v) for v in values)]
        )  # fmt: skip
    r.same(runs[0], runs[1])
    r.fact(f"gates_{name}", [float(v) for v in gate])
    r.fact(f"{states[-1]}_{name}", runs[0])
    return rows, runs[0]


def _cell_steps_table(r, rows, T, state):
    """The table of `_cell_steps`' rows: the gates at -2 and 0, then the
    state `state` at each of the T steps."""
    r.table(
        [("gates", "ゲート"), ("cell", "セル"), "s(-2)", "s(0)",
         *step_header("", T, state)[1:]],
        rows,
        align=["<", "<", ">", ">"] + [">"] * T,
    )  # fmt: skip


def demo_recurrent_activation(r):
    xs = (-2.0, -2.0, 0.0, 0.0)
    x = np.array(xs, "float32").reshape(1, len(xs), 1)
    weights = ([[1.0, 1.0, 1.0, 1.0]], [[0.0] * 4], [0.0] * 4)  # A = x_t
    rows = []
    for name in ("sigmoid", "tanh"):
        cells = pair(
            1, weights, (None, 1), LSTM_CELLS, recurrent_activation=name
        )
        cell_rows, cs = _cell_steps(r, cells, x, name, ("h", "c"))
        rows += cell_rows
        layers = pair(
            1,
            weights,
            (None, None, 1),
            LSTM_CLASSES,
            recurrent_activation=name,
            return_sequences=True,
            return_state=True,
        )
        outs = run_both(layers, x)
        for a, b in zip(*outs):
            r.same(a, b)
        r.fact(
            f"layer_c_is_cell_c_{name}",
            abs(float(outs[0][2].ravel()[0]) - cs[-1]) <= FLOAT32_PARITY,
        )
    r.say(
        "units = 1, kernel = 1 for every gate, recurrent_kernel = 0, b = 0: "
        "A = x_t for all four gates, so i = f = o = s(x_t) with s = "
        "recurrent_activation, and g = tanh(x_t). x = -2, -2, 0, 0, run "
        "step by step with the cells to see the state c_t.",
        "units = 1、全ゲートの kernel = 1、recurrent_kernel = 0、b = 0 なので"
        " 4 つのゲートすべてで A = x_t となり、s = recurrent_activation として "
        "i = f = o = s(x_t)、g = tanh(x_t) です。x = -2, -2, 0, 0 をセルで 1 "
        "時刻ずつ計算し、状態 c_t を見ます。",
    )
    _cell_steps_table(r, rows, len(xs), "c")
    c_sig, c_tanh = r.facts["c_sigmoid"], r.facts["c_tanh"]
    r.fact("sigmoid_keeps_sign_of_g", all(v < 0 for v in c_sig))
    r.fact("sigmoid_halves_at_zero", c_sig[3] == 0.5 * c_sig[2])
    r.fact("tanh_flips_sign_of_g", c_tanh[0] > 0)
    r.fact("tanh_wipes_at_zero", c_tanh[2] == c_tanh[3] == 0.0)
    r.say(
        "sigmoid gates are shares in (0, 1): c_t keeps the sign of g "
        f"(-0.964) and at x = 0 each gate is half open, so c halves: "
        f"{num(c_sig[2])} -> {num(c_sig[3])}. tanh gates go negative: the "
        f"input gate -0.964 turns g = -0.964 into c_0 = +{num(c_tanh[0])}, "
        "the forget gate -0.964 carries c_0 into c_1 with its sign flipped "
        f"(c_1 = {num(c_tanh[1])}), and at x = 0 every gate is 0, shut: c is "
        "wiped at once. The layers, run on the whole sequence, end with the "
        "cells' c_3.",
        "sigmoid のゲートは (0, 1) の割合です。c_t は g（-0.964）と同じ符号の"
        "ままで、x = 0 では各ゲートが半分開くので c は半分になります: "
        f"{num(c_sig[2])} -> {num(c_sig[3])}。tanh のゲートは負になります。"
        f"入力ゲート -0.964 が g = -0.964 を c_0 = +{num(c_tanh[0])} に変え、"
        "忘却ゲート -0.964 は c_0 の符号を反転して c_1 に渡し"
        f"（c_1 = {num(c_tanh[1])}）、x = 0 では全ゲートが 0 で閉じるので、c は"
        "一度に消えます。系列全体で実行したレイヤも、最後はセルと同じ c_3 に"
        "なります。",
    )


def demo_unit_forget_bias(r):
    T = 10
    x = np.zeros((1, T, 1), "float32")
    rows = []
    for flag in (True, False):
        per = []
        for cls in LSTM_CLASSES:
            layer = cls(
                1,
                unit_forget_bias=flag,
                kernel_initializer="zeros",
                recurrent_initializer="zeros",
                return_state=True,
            )
            layer.build((None, None, 1))
            bias = layer.get_weights()[2]
            f = float(np.asarray(layer.cell.recurrent_activation(bias[1:2]))[0])
            h0 = tf.zeros((1, 1))
            c0 = tf.ones((1, 1))
            with tf.GradientTape() as tape:
                tape.watch(c0)
                _, _, c = layer(x, initial_state=[h0, c0])
            grad = float(np.asarray(tape.gradient(c, c0)).ravel()[0])
            c = float(np.asarray(c).ravel()[0])
            per.append((bias, c, grad))
            rows.append(
                [str(flag), cls.__name__, gate_blocks(bias), num(f),
                 num(c, 4), num(grad, 4)]
            )  # fmt: skip
        for a, b in zip(*per):
            r.same(a, b)
        r.fact(f"bias_{flag}", per[0][0].tolist())
        r.fact(f"f_{flag}", f)
        r.fact(f"c_{flag}", per[0][1])
        r.fact(f"dc_{flag}", per[0][2])
    book = Rnnlm(8, 4, 3, rng=0).lstm_layer.params[2]
    r.fact("book_bias_zero", not np.any(book))
    r.say(
        "units = 1, kernel = recurrent_kernel = 0, so A = b; x = 0 for 10 "
        "steps from h_{-1} = 0, c_{-1} = 1. Then i g = s(b_i) tanh(0) = 0 "
        "and c_t = f c_{t-1}: c_9 = f^10, and d c_9 / d c_{-1} = f^10 too "
        "(the backward's dc_prev = ds * f, ten times).",
        "units = 1、kernel = recurrent_kernel = 0 なので A = b。h_{-1} = 0、"
        "c_{-1} = 1 から x = 0 を 10 時刻入力します。i g = s(b_i) tanh(0) = 0 "
        "なので c_t = f c_{t-1} となり、c_9 = f^10、d c_9 / d c_{-1} も f^10 "
        "です（逆伝播の dc_prev = ds * f を 10 回）。",
    )
    r.table(
        ["unit_forget_bias", ("layer", "レイヤ"),
         ("b: i | f | g | o", "b: i | f | g | o"), "f", "c_9",
         "dc_9/dc_{-1}"],
        rows,
        align=["<", "<", "<", ">", ">", ">"],
    )  # fmt: skip
    half = np.log(0.5) / np.log(r.facts["f_True"])
    r.fact("half_life_steps", float(half))
    r.say(
        "With unit_forget_bias=True (the default) the forget gate's bias "
        f"starts at 1: f = sigmoid(1) = {num(r.facts['f_True'])}, so c keeps "
        f"{100 * r.facts['c_True']:.1f}% after 10 steps and halves only every "
        f"{half:.1f} steps. With False, f = sigmoid(0) = 0.500: c halves at "
        f"every step and {100 * r.facts['c_False']:.1f}% is left. The "
        "gradient reaching c_{-1} shrinks by the same factors. The book's "
        "Rnnlm starts every bias at 0 (f = 0.5): "
        f"{yes_no(r.facts['book_bias_zero'])[0]}.",
        "unit_forget_bias=True（既定）では忘却ゲートのバイアスが 1 から始まり、"
        f"f = sigmoid(1) = {num(r.facts['f_True'])} なので、c は 10 時刻後も "
        f"{100 * r.facts['c_True']:.1f}% 残り、半分になるのは "
        f"{half:.1f} 時刻ごとです。False では f = sigmoid(0) = 0.500 で、c は"
        f"毎時刻半分になり、残るのは {100 * r.facts['c_False']:.1f}% です。"
        "c_{-1} に届く勾配も同じ割合で小さくなります。本の Rnnlm はすべての"
        f"バイアスを 0 から始めるか（f = 0.5）: "
        f"{yes_no(r.facts['book_bias_zero'])[1]}。",
    )


def _error_name(call):
    """The exception `call()` raises (its class name), or None."""
    try:
        call()
    except Exception as error:  # any error is shown
        return type(error).__name__
    return None


def _use_cudnn_values(r, weights, x, classes):
    """Runs the scratch layer and the Keras one (`classes`, the same
    `weights`) on `x` with use_cudnn 'auto', True and False, each
    against the Keras layer's own loop (use_cudnn=False). Returns the
    table's rows, the Keras loop's output and, by value, the error the
    Keras layer raised (None where it ran)."""
    D, H = x.shape[-1], len(weights[1])  # recurrent_kernel: (H, G H)
    plain = pair(H, weights, (None, None, D), classes, use_cudnn=False)
    reference = np.asarray(plain[1](x))  # the keras layer, its own loop
    rows, scratch_outs, raised = [], [], {}
    for value in ("auto", True, False):
        scratch, builtin = pair(
            H, weights, (None, None, D), classes, use_cudnn=value
        )
        out = np.asarray(scratch(x))
        scratch_outs.append(out)
        r.same(out, reference)
        result = []
        error = _error_name(
            lambda layer=builtin, kept=result: kept.append(layer(x))
        )
        raised[value] = error
        if error is None:
            r.same(out, np.asarray(result[0]))
        rows.append(
            [repr(value), vec(out), error or vec(np.asarray(result[0]))]
        )
    r.fact(
        "scratch_same_for_every_value",
        all(np.array_equal(o, scratch_outs[0]) for o in scratch_outs),
    )
    r.fact("keras_true_raises", raised[True] == "ValueError")
    r.fact("keras_auto_runs", raised["auto"] is None)
    return rows, reference, raised


def _use_cudnn_tables(r, rows, classes):
    """Says whether this machine has a GPU, shows `rows` (from
    `_use_cudnn_values`, units = 2, D = 2), then what `get_config` and
    `from_config` keep of use_cudnn=True in the scratch layer and the Keras
    one (`classes`)."""
    gpu = r.fact("gpu", bool(tf.config.list_physical_devices("GPU")))
    scratch_class, keras_class = classes
    mine, name = scratch_class.__name__, keras_class.__name__
    if gpu:
        machine = (
            f"This machine has a GPU: keras {name} may run cuDNN with 'auto' "
            "and True.",
            f"このマシンには GPU があります。keras の {name} は 'auto' と True "
            "で cuDNN を使えます。",
        )
    else:
        machine = (
            "This machine has no GPU (tf.config.list_physical_devices('GPU') "
            f"is empty), so keras {name} has no cuDNN to run.",
            "このマシンには GPU がありません"
            f"（tf.config.list_physical_devices('GPU') が空）。keras の {name} "
            "が使える cuDNN はありません。",
        )
    r.say(
        f"units = 2, D = 2, the same seeded weights everywhere. {machine[0]}",
        f"units = 2、D = 2、すべて同じ seed 付きの重み。{machine[1]}",
    )
    r.table(["use_cudnn", mine, name], rows)
    config = scratch_class(2, use_cudnn=True).get_config()
    builtin = keras_class(2, use_cudnn=True)
    reloaded = keras_class.from_config(builtin.get_config()).use_cudnn
    scratch_reloaded = scratch_class.from_config(config).use_cudnn
    r.fact("scratch_config_keeps_use_cudnn", scratch_reloaded is True)
    r.fact("keras_config_loses_use_cudnn", reloaded == "auto")
    r.table(
        [("layer(use_cudnn=True)", "レイヤ(use_cudnn=True)"),
         "'use_cudnn' in get_config()",
         ("use_cudnn after from_config", "from_config 後の use_cudnn")],
        [[mine, yes_no("use_cudnn" in config), repr(scratch_reloaded)],
         [name, yes_no("use_cudnn" in builtin.get_config()),
          repr(reloaded)]],
    )  # fmt: skip


def demo_use_cudnn(r):
    D, H = 2, 2
    x = np.linspace(-1.0, 1.0, 6, dtype="float32").reshape(1, 3, D)
    weights = _lstm_weights(D, H)
    rows, reference, raised = _use_cudnn_values(r, weights, x, LSTM_CLASSES)
    scratch, builtin = pair(
        H, weights, (None, None, D), LSTM_CLASSES, use_cudnn=True,
        recurrent_dropout=0.5,
    )  # fmt: skip
    dropout_out = np.asarray(scratch(x))
    r.same(dropout_out, reference)  # inference: no dropout
    dropout_error = _error_name(lambda: builtin(x))
    rows.append(
        ["True, recurrent_dropout=0.5", vec(dropout_out), dropout_error or "-"]
    )
    r.fact("keras_recurrent_dropout_raises", dropout_error == "ValueError")
    _use_cudnn_tables(r, rows, LSTM_CLASSES)
    true_raises = raised[True] == "ValueError"
    r.say(
        "ScratchLSTM gives the same numbers, bit for bit, for all three "
        "values: it never calls cuDNN; its own loops and handwritten "
        "backward run on any device. keras LSTM with use_cudnn=True raises "
        f"ValueError on this machine: {yes_no(true_raises)[0]}; with "
        "recurrent_dropout it raises on any machine (cuDNN has no recurrent "
        "dropout). keras LSTM's get_config() (Keras 3.15) leaves use_cudnn "
        "out, so a reloaded LSTM has 'auto'; ScratchLSTM keeps it.",
        "ScratchLSTM は 3 つの値のどれでも、ビット単位で同じ値を出します。"
        "cuDNN は一度も呼ばず、自前のループと手書きの逆伝播がどのデバイスでも"
        "動きます。keras の LSTM は use_cudnn=True でこのマシンでは "
        f"ValueError になるか: {yes_no(true_raises)[1]}。recurrent_dropout "
        "があると、どのマシンでも ValueError です（cuDNN には再帰の"
        "ドロップアウトがありません）。keras の LSTM の get_config()"
        "（Keras 3.15）には use_cudnn が入らないので、読み込み直した LSTM は "
        "'auto' になります。ScratchLSTM は保存します。",
    )


def _sum_gradients(layer, x):
    """sum(outputs) and its gradients w.r.t. x, kernel, recurrent_kernel,
    bias, through `layer`."""
    x = tf.constant(x)
    cell = layer.cell
    sources = [x, cell.kernel, cell.recurrent_kernel, cell.bias]
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        loss = tf.reduce_sum(out)
    return np.asarray(out), [
        np.asarray(g) for g in tape.gradient(loss, sources)
    ]


def _against_book_table(r, rows):
    """The table of the book's layer's last output beside those of the
    layers its weights went into, and their largest gaps to the book's."""
    r.table(
        [("weights in", "重みの入れ先"),
         ("h_{T-1}, sample 0", "サンプル 0 の h_{T-1}"),
         ("max|h - book|", "max|h - 本|"), ("max|dW - book|", "max|dW - 本|")],
        rows,
        align=["<", "<", ">", ">"],
    )  # fmt: skip


def demo_gate_order(r):
    r.compared = (
        "the book's TimeLSTM vs ScratchLSTM vs LSTM",
        "本の TimeLSTM・ScratchLSTM・LSTM",
    )
    H = 1
    labelled = np.repeat(np.arange(4.0), H)[None]  # book: f=0 g=1 i=2 o=3
    zeros = (np.zeros((H, 4 * H)), np.zeros(4 * H))
    kernel, _, _ = book_to_keras_lstm(labelled, *zeros)
    back = keras_to_book_lstm(kernel, *zeros)[0]
    r.fact("labelled_kernel", kernel.ravel().tolist())
    r.fact("round_trip", np.array_equal(back, labelled))
    r.say(
        "The columns of Wx (D, 4H) are four blocks of H, one per gate. "
        "Numbering the book's blocks 0, 1, 2, 3 (H = 1) and converting with "
        "book_to_keras_lstm shows where each one goes:",
        "Wx (D, 4H) の列は、ゲートごとに H 列ずつの 4 つのブロックです。"
        "本のブロックに 0, 1, 2, 3 と番号を付け（H = 1）、book_to_keras_lstm "
        "で変換すると、それぞれの行き先が分かります:",
    )
    r.table(
        [("column block", "列ブロック"), "0", "1", "2", "3"],
        [[("the book's Wx: gate", "本の Wx: ゲート"), "f", "g", "i", "o"],
         [("value", "値"), *(num(v, 0) for v in labelled.ravel())],
         [("Keras's kernel: gate", "Keras の kernel: ゲート"), "i", "f",
          "c (= g)", "o"],
         [("value", "値"), *(num(v, 0) for v in kernel.ravel())]],
        align=["<", ">", ">", ">", ">"],
    )  # fmt: skip
    N, T, D, H = 2, 5, 3, 2
    Wx, Wh, b = _lstm_weights(D, H, seed=1)
    xs = np.random.default_rng(2).standard_normal((N, T, D)).astype("float32")
    book = TimeLSTM(Wx, Wh, b)
    hs = book.forward(xs)
    dxs = book.backward(np.ones_like(hs))  # d sum(hs)
    book_grads = book_to_keras_lstm(*book.grads)  # to Keras's order
    converted = book_to_keras_lstm(Wx, Wh, b)
    layers = pair(
        H, converted, (None, None, D), LSTM_CLASSES, return_sequences=True
    )
    rows = [[("the book's TimeLSTM", "本の TimeLSTM"), vec(hs[0, -1]), "-",
             "-"]]  # fmt: skip
    results = []
    for layer, label in zip(
        layers,
        (("ScratchLSTM, converted", "ScratchLSTM、変換あり"),
         ("LSTM, converted", "LSTM、変換あり")),
    ):  # fmt: skip
        out, (dx, *grads) = _sum_gradients(layer, xs)
        results.append((out, dx, grads))
        r.same(out, hs)
        r.same(dx, dxs)
        for mine, books in zip(grads, book_grads):
            r.same(mine, books)
        worst = max(
            float(np.max(np.abs(g - bg))) for g, bg in zip(grads, book_grads)
        )
        rows.append(
            [label, vec(out[0, -1]), num(np.max(np.abs(out - hs))), num(worst)]
        )
    for a, b_ in zip(results[0][2], results[1][2]):
        r.same(a, b_)
    raw = ScratchLSTM(H, return_sequences=True)
    raw.build((None, None, D))
    raw.set_weights([Wx, Wh, b])  # the book's order, as it is
    unconverted = np.asarray(raw(xs))
    gap = float(np.max(np.abs(unconverted - hs)))
    r.fact("unconverted_gap", gap)
    rows.append(
        [("ScratchLSTM, unconverted", "ScratchLSTM、変換なし"),
         vec(unconverted[0, -1]), num(gap), "-"]
    )  # fmt: skip
    r.say(
        f"Random weights in the book's order (D = {D}, H = {H}), the book's "
        f"TimeLSTM on x (N = {N}, T = {T}), then the same weights converted "
        "with book_to_keras_lstm in ScratchLSTM and LSTM. The gradients are "
        "those of sum(h): the book's TimeLSTM.backward, converted the same "
        "way, against ScratchLSTM's handwritten backward and LSTM's "
        "autodiff.",
        f"本の順序のランダムな重み（D = {D}、H = {H}）で本の TimeLSTM を x"
        f"（N = {N}、T = {T}）に適用し、同じ重みを book_to_keras_lstm で変換"
        "して ScratchLSTM と LSTM に入れます。勾配は sum(h) のもので、本の "
        "TimeLSTM.backward の勾配を同じく変換したものを、ScratchLSTM の手書き"
        "の逆伝播、LSTM の自動微分と比べます。",
    )
    _against_book_table(r, rows)
    r.say(
        "Converted, the three agree in the forward and in the gradients (the "
        "book's dA = hstack(df, dg, di, do) is ScratchLSTM's dA, columns "
        "moved). Copied as they are, the weights fit (same shapes) and "
        f"nothing complains, but the outputs are off by up to {num(gap)}: "
        "Keras's input gate got the book's forget gate's weights, and so on.",
        "変換すれば 3 つは順伝播でも勾配でも一致します（本の "
        "dA = hstack(df, dg, di, do) は列を並べ替えた ScratchLSTM の dA "
        "です）。変換せずにそのまま入れると、形は合うので何のエラーも出ません"
        f"が、出力は最大 {num(gap)} ずれます。Keras の入力ゲートに本の忘却"
        "ゲートの重みが入る、といった具合です。",
    )


LSTM_DEMOS = {
    "recurrent_activation": demo_recurrent_activation,
    "unit_forget_bias": demo_unit_forget_bias,
    "use_cudnn": demo_use_cudnn,
    "gate_order": demo_gate_order,
}


# ---------------------------------------------------------------------------
# The GRU (ScratchGRU beside keras.layers.GRU): the arguments SimpleRNN
# lacks, and the book's z convention (its TimeGRU beside both).


def _gru_weights(D, H, seed=0, scale=0.5, reset_after=True):
    """Small random GRU weights `(D, 3H), (H, 3H)` and a zero bias
    (`(2, 3H)` with `reset_after`, else `(3H,)`), in float32."""
    rng = np.random.default_rng(seed)
    kernel, recurrent = (
        (scale * rng.standard_normal(s)).astype("float32")
        for s in ((D, 3 * H), (H, 3 * H))
    )
    bias = np.zeros((2, 3 * H) if reset_after else (3 * H,), "float32")
    return [kernel, recurrent, bias]


def demo_reset_after(r):
    T, D, H = 4, 2, 2
    x = np.linspace(-1.0, 1.0, T * D, dtype="float32").reshape(1, T, D)
    rows, last = [], {}
    for flag in (True, False):
        weights = _gru_weights(D, H, seed=3, scale=1.0, reset_after=flag)
        layers = pair(
            H, weights, (None, None, D), GRU_CLASSES, reset_after=flag
        )
        results = [_sum_gradients(layer, x) for layer in layers]
        r.same(results[0][0], results[1][0])
        for a, b in zip(results[0][1], results[1][1]):
            r.same(a, b)
        last[flag] = results[0][0]
        for layer, (out, _) in zip(layers, results):
            rows.append(
                [str(flag), type(layer).__name__,
                 shape(layer.get_weights()[2]), str(layer.count_params()),
                 vec(out[0])]
            )  # fmt: skip
        r.fact(f"bias_shape_{flag}", np.shape(layers[0].get_weights()[2]))
        r.fact(f"params_{flag}", layers[0].count_params())
    gap = float(np.max(np.abs(last[True] - last[False])))
    r.fact("forms_differ_by", gap)
    r.say(
        f"units = {H}, D = {D}, the same seeded kernel and recurrent_kernel "
        "in both forms and a zero bias, so the forms differ only in where r "
        f"multiplies; x = {T} steps from -1 to 1. Gradients of sum(h) "
        "(ScratchGRU's handwritten backward against GRU's autodiff) are "
        "compared too.",
        f"units = {H}、D = {D}。両方の形で同じ seed 付きの kernel と "
        "recurrent_kernel を使い、バイアスは 0 なので、違いは r を掛ける場所"
        f"だけです。x は -1 から 1 までの {T} 時刻。sum(h) の勾配"
        "（ScratchGRU の手書きの逆伝播と GRU の自動微分）も比べます。",
    )
    r.table(
        ["reset_after", ("layer", "レイヤ"), ("bias shape", "bias の形"),
         ("parameters", "パラメータ数"), "h_{T-1}"],
        rows,
        align=["<", "<", "<", ">", "<"],
    )  # fmt: skip
    one = {}
    for flag in (True, False):
        weights = _gru_weights(1, 1, seed=4, scale=1.0, reset_after=flag)
        layers = pair(1, weights, (None, None, 1), GRU_CLASSES,
                      reset_after=flag)  # fmt: skip
        outs = run_both(layers, x[:, :, :1])
        r.same(*outs)
        one[flag] = outs[0]
    r.fact("one_unit_no_bias_same", np.array_equal(one[True], one[False]))
    mismatch = {}
    for cls in GRU_CLASSES:
        layer = cls(H, reset_after=True)
        layer.build((None, None, D))
        mismatch[cls.__name__] = _error_name(
            lambda layer=layer: layer.set_weights(
                _gru_weights(D, H, reset_after=False)
            )
        )
    raises = r.fact(
        "set_weights_across_forms_raises",
        all(e == "ValueError" for e in mismatch.values()),
    )
    coincide = yes_no(r.facts["one_unit_no_bias_same"])
    r.say(
        "reset_after=True (the default) computes hh = act(x Wx_h + r * "
        "(h_{t-1} Wh_h + b_hh)): r scales each unit of h_{t-1} Wh_h after "
        "the matmul, and the bias has two rows, b_x and b_h. "
        "reset_after=False computes hh = act(x Wx_h + (r * h_{t-1}) Wh_h + "
        "b_h): r scales h_{t-1} before the matmul, as the book does, and "
        "the bias is one (3H,). The same kernels give outputs up to "
        f"{num(gap)} apart: two different functions, and ScratchGRU "
        "equals GRU in each. "
        "With one unit and no bias the two coincide, r (h w) = (r h) w: "
        f"{coincide[0]}. Weights of one form do not load into the other: "
        "set_weights raises ValueError (the bias shapes differ): "
        f"{yes_no(raises)[0]}.",
        "reset_after=True（既定）は hh = act(x Wx_h + r * (h_{t-1} Wh_h + "
        "b_hh)) を計算します。r は行列積の後で h_{t-1} Wh_h の各ユニットに"
        "掛かり、バイアスは b_x と b_h の 2 行です。reset_after=False は "
        "hh = act(x Wx_h + (r * h_{t-1}) Wh_h + b_h) を計算します。r は本と"
        "同じく行列積の前に h_{t-1} に掛かり、バイアスは (3H,) の 1 つです。"
        f"同じ kernel でも出力は最大 {num(gap)} 違います。2 つは別の関数で、"
        "ScratchGRU はどちらの形でも GRU と一致します。ユニットが 1 つで"
        "バイアスがなければ r (h w) = (r h) w なので 2 つは一致するか: "
        f"{coincide[1]}。一方の形の重みはもう一方に読み込めず、set_weights "
        "は ValueError になるか（バイアスの形が違う）: "
        f"{yes_no(raises)[1]}。",
    )


def demo_gru_recurrent_activation(r):
    xs = (-2.0, -2.0, 0.0, 0.0)
    x = np.array(xs, "float32").reshape(1, len(xs), 1)
    weights = ([[1.0, 1.0, 1.0]], [[0.0] * 3], np.zeros((2, 3)))  # a = x_t
    rows = []
    for name in ("sigmoid", "tanh"):
        cells = pair(
            1, weights, (None, 1), GRU_CELLS, recurrent_activation=name
        )
        cell_rows, hs = _cell_steps(r, cells, x, name, ("h",))
        rows += cell_rows
        layers = pair(
            1, weights, (None, None, 1), GRU_CLASSES,
            recurrent_activation=name, return_sequences=True,
        )  # fmt: skip
        outs = run_both(layers, x)
        r.same(*outs)
        r.fact(
            f"layer_is_cell_{name}",
            scaled_error(outs[0].ravel(), hs) <= FLOAT32_PARITY,
        )
    r.say(
        "units = 1, kernel = 1 for every gate, recurrent_kernel = 0, b = 0: "
        "each gate's pre-activation is x_t, so z = r = s(x_t) with s = "
        "recurrent_activation, and hh = tanh(x_t). x = -2, -2, 0, 0, run "
        "step by step with the cells; Keras's step is "
        "h_t = z h_{t-1} + (1 - z) hh.",
        "units = 1、全ゲートの kernel = 1、recurrent_kernel = 0、b = 0 なので"
        "各ゲートの活性化前の値は x_t です。s = recurrent_activation として "
        "z = r = s(x_t)、hh = tanh(x_t) です。x = -2, -2, 0, 0 をセルで 1 "
        "時刻ずつ計算します。Keras の式は h_t = z h_{t-1} + (1 - z) hh です。",
    )
    _cell_steps_table(r, rows, len(xs), "h")
    h_sig, h_tanh = r.facts["h_sigmoid"], r.facts["h_tanh"]
    r.fact("sigmoid_stays_in_range", all(abs(v) < 1 for v in h_sig))
    r.fact("sigmoid_halves_at_zero", h_sig[3] == 0.5 * h_sig[2])
    r.fact("tanh_leaves_range", abs(h_tanh[0]) > 1)
    r.fact("tanh_wipes_at_zero", h_tanh[2] == h_tanh[3] == 0.0)
    r.say(
        "With sigmoid, z is a share in (0, 1) and h_t a weighted average of "
        "h_{t-1} and hh, so h stays in (-1, 1); at x = 0, z = 0.5 and hh = 0, "
        f"so h halves: {num(h_sig[2])} -> {num(h_sig[3])}. With tanh, "
        "z = -0.964 gives 1 - z = 1.964: h_0 = 1.964 * tanh(-2) = "
        f"{num(h_tanh[0])}, outside what tanh can output, and at x = 0, "
        "z = 0 keeps nothing of h_{t-1}: h is wiped at once. The layers, run "
        "on the whole sequence, give the cells' h.",
        "sigmoid なら z は (0, 1) の割合で、h_t は h_{t-1} と hh の加重平均"
        "なので h は (-1, 1) に収まります。x = 0 では z = 0.5、hh = 0 なので "
        f"h は半分になります: {num(h_sig[2])} -> {num(h_sig[3])}。tanh では "
        "z = -0.964 から 1 - z = 1.964 となり、h_0 = 1.964 * tanh(-2) = "
        f"{num(h_tanh[0])} と tanh が出せる範囲の外に出ます。x = 0 では z = 0 "
        "で h_{t-1} を何も残さないので、h は一度に消えます。系列全体で実行した"
        "レイヤも、セルと同じ h になります。",
    )


def demo_gru_use_cudnn(r):
    D, H = 2, 2
    x = np.linspace(-1.0, 1.0, 6, dtype="float32").reshape(1, 3, D)
    weights = _gru_weights(D, H)
    weights[2] = np.full_like(weights[2], 0.1)
    rows, _, raised = _use_cudnn_values(r, weights, x, GRU_CLASSES)
    before = _gru_weights(D, H, reset_after=False)
    scratch, builtin = pair(
        H, before, (None, None, D), GRU_CLASSES, use_cudnn=True,
        reset_after=False,
    )  # fmt: skip
    before_out = np.asarray(scratch(x))
    plain = pair(H, before, (None, None, D), GRU_CLASSES, reset_after=False)
    r.same(before_out, np.asarray(plain[1](x)))
    before_error = _error_name(lambda: builtin(x))
    rows.append(
        ["True, reset_after=False", vec(before_out), before_error or "-"]
    )
    r.fact("keras_reset_before_raises", before_error == "ValueError")
    _use_cudnn_tables(r, rows, GRU_CLASSES)
    true_raises = raised[True] == "ValueError"
    r.say(
        "ScratchGRU gives the same numbers, bit for bit, for all three "
        "values, in both forms: it never calls cuDNN. keras GRU with "
        f"use_cudnn=True raises ValueError on this machine: "
        f"{yes_no(true_raises)[0]}; with reset_after=False (the book's "
        "form) it raises on any machine, as cuDNN has only the "
        "reset_after=True form. keras GRU's get_config() (Keras 3.15) "
        "leaves use_cudnn out, so a reloaded GRU has 'auto'; ScratchGRU "
        "keeps it.",
        "ScratchGRU は 3 つの値のどれでも、どちらの形でも、ビット単位で同じ"
        "値を出します。cuDNN は一度も呼びません。keras の GRU は "
        "use_cudnn=True でこのマシンでは ValueError になるか: "
        f"{yes_no(true_raises)[1]}。reset_after=False（本の形）では、どの"
        "マシンでも ValueError です（cuDNN には reset_after=True の形しか"
        "ありません）。keras の GRU の get_config()（Keras 3.15）には "
        "use_cudnn が入らないので、読み込み直した GRU は 'auto' になります。"
        "ScratchGRU は保存します。",
    )


def demo_z_convention(r):
    r.compared = (
        "the book's TimeGRU vs ScratchGRU vs GRU",
        "本の TimeGRU・ScratchGRU・GRU",
    )
    # One step by hand: x = 1, h_prev = 1, a_z = 1, r unused, hh = tanh(-1).
    Wx = np.array([[1.0, 0.0, -1.0]])  # the book's blocks z, r, h
    Wh = np.zeros((1, 3))
    kernel, recurrent, bias = book_to_keras_gru(Wx, Wh)
    r.fact("negated_kernel", kernel.ravel().tolist())
    x1 = np.ones((1, 1, 1), "float32")
    h0 = np.ones((1, 1), "float32")
    book = TimeGRU(Wx.astype("float32"), Wh.astype("float32"), stateful=True)
    book.set_state(h0)
    h_book = float(book.forward(x1)[0, 0, 0])
    rows = [[("the book's GRU", "本の GRU"), "[1 0 -1]",
             num(1 / (1 + np.exp(-1.0))), "1 - z", num(h_book)]]  # fmt: skip
    one_step = {}
    for weights, label, z_word in (
        ((Wx, Wh, bias), ("Keras, the same Wx", "Keras、同じ Wx"), "z"),
        ((kernel, recurrent, bias),
         ("Keras, z negated", "Keras、z を反転"), "z"),
    ):  # fmt: skip
        layers = pair(1, weights, (None, None, 1), GRU_CLASSES,
                      reset_after=False)  # fmt: skip
        outs = run_both(layers, x1, initial_state=h0)
        r.same(*outs)
        h = float(outs[0].ravel()[0])
        z = 1 / (1 + np.exp(-float(weights[0][0, 0])))
        one_step[label[0]] = h
        rows.append([label, vec(weights[0], 0), num(z), z_word, num(h)])
    r.same(h_book, one_step["Keras, z negated"])
    r.fact("book_one_step", h_book)
    r.fact("same_wx_one_step", one_step["Keras, the same Wx"])
    r.fact("negated_one_step", one_step["Keras, z negated"])
    r.say(
        "One step by hand, units = 1: x = 1, h_{t-1} = 1, the book's "
        "Wx = [z: 1, r: 0, h: -1], Wh = 0, so the update gate's "
        "pre-activation is 1 and hh = tanh(-1) = -0.762. The book keeps "
        "(1 - z) of h_{t-1}, Keras keeps z of it.",
        "units = 1 で 1 時刻を手で追います。x = 1、h_{t-1} = 1、本の "
        "Wx = [z: 1, r: 0, h: -1]、Wh = 0 なので、更新ゲートの活性化前の値は "
        "1、hh = tanh(-1) = -0.762 です。本は h_{t-1} の (1 - z) を残し、"
        "Keras は z を残します。",
    )
    r.table(
        [("step", "計算"), "Wx / kernel", "z",
         ("share of h_{t-1}", "h_{t-1} の割合"), "h_t"],
        rows,
        align=["<", "<", ">", "<", ">"],
    )  # fmt: skip
    N, T, D, H = 2, 5, 3, 2
    rng = np.random.default_rng(5)
    Wx = (0.5 * rng.standard_normal((D, 3 * H))).astype("float32")
    Wh = (0.5 * rng.standard_normal((H, 3 * H))).astype("float32")
    xs = rng.standard_normal((N, T, D)).astype("float32")
    book = TimeGRU(Wx, Wh)
    hs = book.forward(xs)
    dxs = book.backward(np.ones_like(hs))  # d sum(hs)
    book_grads = book_to_keras_gru(*book.grads)[:2]  # dWx, dWh as Keras's
    converted = book_to_keras_gru(Wx, Wh)
    layers = pair(H, converted, (None, None, D), GRU_CLASSES,
                  reset_after=False, return_sequences=True)  # fmt: skip
    rows = [[("the book's TimeGRU", "本の TimeGRU"), vec(hs[0, -1]), "-",
             "-"]]  # fmt: skip
    for layer, label in zip(
        layers,
        (("ScratchGRU, converted", "ScratchGRU、変換あり"),
         ("GRU, converted", "GRU、変換あり")),
    ):  # fmt: skip
        out, (dx, dk, drk, _) = _sum_gradients(layer, xs)
        r.same(out, hs)
        r.same(dx, dxs)
        r.same(dk, book_grads[0])
        r.same(drk, book_grads[1])
        worst = max(
            float(np.max(np.abs(g - bg)))
            for g, bg in zip((dk, drk), book_grads)
        )
        rows.append(
            [label, vec(out[0, -1]), num(np.max(np.abs(out - hs))), num(worst)]
        )
    raw = ScratchGRU(H, reset_after=False, return_sequences=True)
    raw.build((None, None, D))
    raw.set_weights([Wx, Wh, np.zeros(3 * H, "float32")])  # not negated
    unconverted = np.asarray(raw(xs))
    gap = float(np.max(np.abs(unconverted - hs)))
    r.fact("unconverted_gap", gap)
    rows.append(
        [("ScratchGRU, z not negated", "ScratchGRU、z を反転せず"),
         vec(unconverted[0, -1]), num(gap), "-"]
    )  # fmt: skip
    r.say(
        f"Random weights of the book's GRU (D = {D}, H = {H}), its TimeGRU "
        f"on x (N = {N}, T = {T}); the same weights converted with "
        "book_to_keras_gru (z columns negated, zero bias) in ScratchGRU and "
        "GRU, reset_after=False. The gradients are those of sum(h): the "
        "book's TimeGRU.backward, converted the same way, against "
        "ScratchGRU's handwritten backward and GRU's autodiff.",
        f"本の GRU のランダムな重み（D = {D}、H = {H}）で TimeGRU を x"
        f"（N = {N}、T = {T}）に適用し、同じ重みを book_to_keras_gru で変換"
        "して（z の列の符号を反転、バイアス 0）reset_after=False の "
        "ScratchGRU と GRU に入れます。勾配は sum(h) のもので、本の "
        "TimeGRU.backward の勾配を同じく変換したものを、ScratchGRU の手書きの"
        "逆伝播、GRU の自動微分と比べます。",
    )
    _against_book_table(r, rows)
    refused = {}
    nonzero = np.full(3 * H, 0.1, "float32")
    for key, call in (
        ("bias", lambda: keras_to_book_gru(*converted[:2], nonzero)),
        ("reset_after", lambda: keras_to_book_gru(
            *converted[:2], reset_after=True)),
        ("bias_2_rows", lambda: keras_to_book_gru(
            *converted[:2], np.zeros((2, 3 * H)))),
    ):  # fmt: skip
        refused[key] = _error_name(call)
    r.fact("bias_refused", refused["bias"] == "ValueError")
    r.fact("reset_after_refused", refused["reset_after"] == "ValueError")
    r.fact("two_row_bias_refused", refused["bias_2_rows"] == "ValueError")
    r.table(
        [("keras_to_book_gru(kernel, recurrent_kernel, ...)",
          "keras_to_book_gru(kernel, recurrent_kernel, ...)"),
         ("result", "結果")],
        [["bias = 0.1", refused["bias"] or "-"],
         ["reset_after=True", refused["reset_after"] or "-"],
         [("bias of shape (2, 3H)", "形 (2, 3H) の bias"),
          refused["bias_2_rows"] or "-"]],
    )  # fmt: skip
    r.say(
        "Since 1 - s(a) = s(-a), negating the z columns turns Keras's z "
        "into the book's 1 - z: converted, the three agree in the forward "
        "and in the gradients. Copied as they are, the weights fit and "
        f"nothing complains, but the outputs are off by up to {num(gap)}: "
        "each step keeps the wrong share of h_{t-1}. Nothing converts the "
        "other way for a non-zero bias (the book's GRU has none) or for "
        "reset_after=True, Keras's default: keras_to_book_gru raises "
        "ValueError.",
        "1 - s(a) = s(-a) なので、z の列の符号を反転すると Keras の z が本の "
        "1 - z になります。変換すれば 3 つは順伝播でも勾配でも一致します。"
        "変換せずにそのまま入れると、形は合うので何のエラーも出ませんが、"
        f"出力は最大 {num(gap)} ずれます。各時刻で h_{{t-1}} を残す割合が"
        "逆になるからです。0 でないバイアス（本の GRU にはバイアスがない）と"
        "、Keras の既定の reset_after=True は本の形に変換できず、"
        "keras_to_book_gru は ValueError を出します。",
    )


GRU_DEMOS = {
    "gru_recurrent_activation": demo_gru_recurrent_activation,
    "reset_after": demo_reset_after,
    "gru_use_cudnn": demo_gru_use_cudnn,
    "z_convention": demo_z_convention,
}


DEMOS = {
    "units": demo_units,
    "activation": demo_activation,
    "use_bias": demo_use_bias,
    "initializers": demo_initializers,
    "regularizers": demo_regularizers,
    "constraints": demo_constraints,
    "dropout": demo_dropout,
    "recurrent_dropout": demo_recurrent_dropout,
    "seed": demo_seed,
    "return_sequences": demo_return_sequences,
    "return_state": demo_return_state,
    "go_backwards": demo_go_backwards,
    "stateful": demo_stateful,
    "unroll": demo_unroll,
    "zero_output_for_mask": demo_zero_output_for_mask,
    "initial_state": demo_initial_state,
    "mask": demo_mask,
    "training": demo_training,
}


def run(topic):
    """Runs the demonstration of `topic` (a SimpleRNN topic, `DEMOS`, an
    LSTM one, `LSTM_DEMOS`, or a GRU one, `GRU_DEMOS`); returns its finished
    `Report`."""
    if topic in LSTM_DEMOS:
        report = Report(LSTM_COMPARED)
        LSTM_DEMOS[topic](report)
    elif topic in GRU_DEMOS:
        report = Report(GRU_COMPARED)
        GRU_DEMOS[topic](report)
    else:
        report = Report()
        DEMOS[topic](report)
    report.finish()
    return report
