# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Every SimpleRNN/ScratchRNN argument explained, in English and Japanese,
and every LSTM/ScratchLSTM and GRU/ScratchGRU one.

The explanations are data (`ARGUMENTS`, `TOPICS`) rendered two ways from the
same source: for the terminal (`python -m keras_scratch_rnn explain
[PARAM]`) and as Markdown (`docs/parameters.md`, `docs/ja/parameters.md`,
written by `keras_scratch_rnn.learn.docs_gen`). A topic groups the arguments
that work alike (the three initializers are one topic) and tells:

- where it enters the equation `h_t = act(x_t Wx + h_{t-1} Wh + b)`, and
  in the handwritten backward, pointing at the code line (`CodeRef`): the
  equation in `ops/rnn_math.py` where there is one, else the TensorFlow
  loop (`ops/tensorflow.py`) or the layer;
- a live demonstration, ScratchRNN beside SimpleRNN
  (`keras_scratch_rnn.learn.demos`, run when shown);
- the mistake people most often make with it.

Each `CodeRef` quotes a short line of the named function; the tests check
that the line is still there, so the explanations cannot silently drift
from the code.

The LSTM (`cell="lstm"` in `arguments`, `topics`, `names`, `resolve`,
`overview_lines`, `topic_frame`, `topic_lines`; the default `"rnn"` is
SimpleRNN, as before): every shared topic has an `LSTM_NOTES` entry on
what changes for an LSTM (two states, four gates, per-gate dropout...);
the arguments SimpleRNN lacks (`LSTM_ARGUMENTS`: `recurrent_activation`,
`unit_forget_bias`, `use_cudnn`) and the book's gate order
(`gate_order`) are topics of their own (`LSTM_TOPICS`), each with a
demonstration of ScratchLSTM beside keras.layers.LSTM (`demos.LSTM_DEMOS`)
and code pointers into `ops/lstm_math.py`, the layer and its cell, and
the book's `reference/lstm.py`.

The GRU (`cell="gru"`) likewise: `GRU_NOTES` on every shared topic (three
blocks, one state, the bias's two forms...), `GRU_ARGUMENTS`
(`recurrent_activation`, `reset_after`, `use_cudnn`) and the book's z
convention (`z_convention`) as `GRU_TOPICS`, demonstrated by ScratchGRU
beside keras.layers.GRU (`demos.GRU_DEMOS`), pointing into
`ops/gru_math.py`, its layer and cell, and the book's `reference/gru.py`.
The GRU's own `recurrent_activation` and `use_cudnn` topics are named
`gru_recurrent_activation` and `gru_use_cudnn`, as topic names are unique
across the cells; they are shown, and resolved, under their arguments'
names.
"""

import ast
import dataclasses
import functools
import pathlib

from keras_scratch_rnn.terminal import Style, table, wrap

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "ja")
EQUATION = "h_t = act(x_t Wx + h_{t-1} Wh + b)"
# The cells `explain` knows: SimpleRNN/ScratchRNN, LSTM/ScratchLSTM and
# GRU/ScratchGRU.
CELLS = ("rnn", "lstm", "gru")
# The LSTM's step (lstm_math), gates side by side in Keras's order.
LSTM_EQUATIONS = (
    "A_t = x_t Wx + h_{t-1} Wh + b = [A_i A_f A_g A_o]",
    "i, f, o = s(A_i), s(A_f), s(A_o)    g = act(A_g)",
    "c_t = f * c_{t-1} + i * g    h_t = o * act(c_t)",
)
LSTM_EQUATION = "c_t = f * c_{t-1} + i * g, h_t = o * act(c_t)"
# The GRU's step (gru_math), in Keras's convention, both forms.
GRU_EQUATIONS = (
    "z = s(x_t Wx_z + h_{t-1} Wh_z + b_z)  "
    " r = s(x_t Wx_r + h_{t-1} Wh_r + b_r)",
    "hh = act(x_t Wx_h + r * (h_{t-1} Wh_h + b_hh))   reset_after=True",
    "hh = act(x_t Wx_h + (r * h_{t-1}) Wh_h + b_h)    reset_after=False",
    "h_t = z * h_{t-1} + (1 - z) * hh   (the book: (1 - z) h_{t-1} + z hh)",
)
GRU_EQUATION = "h_t = z * h_{t-1} + (1 - z) * hh"


@dataclasses.dataclass(frozen=True)
class CodeRef:
    """A line of code inside a function of the package, quoted.

    Attributes:
        file: Path inside `keras_scratch_rnn/` (e.g. `"ops/rnn_math.py"`).
        function: Function or `Class.method` holding the line.
        code: The quoted code, whitespace-insensitive.
    """

    file: str
    function: str
    code: str

    @property
    def path(self):
        return f"keras_scratch_rnn/{self.file}"


@functools.lru_cache(maxsize=64)
def _parsed(path, stamp):
    """`(source, ast)` of a file, parsed once per version (`stamp`: its
    modification time and size)."""
    del stamp  # part of the cache key only
    source = pathlib.Path(path).read_text(encoding="utf-8")
    return source, ast.parse(source)


def function_source(file, function, root=PACKAGE_DIR):
    """The source of `function` (`name` or `Class.method`) in `file`.

    Args:
        file: Path of a Python file, relative to `root`.
        function: A function, class, or `Class.method` defined in it.
        root: Folder of `file`; default the package's.

    Raises:
        LookupError: If the file has no such function.
    """
    path = pathlib.Path(root) / file
    stat = path.stat()
    source, tree = _parsed(str(path), (stat.st_mtime_ns, stat.st_size))
    nodes = tree.body
    node = None
    for part in function.split("."):
        node = next(
            (
                n
                for n in nodes
                if isinstance(
                    n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                )
                and n.name == part
            ),
            None,
        )
        if node is None:
            raise LookupError(f"{file} has no {function}")
        nodes = node.body
    return ast.get_source_segment(source, node)


def _squash(text):
    return " ".join(text.split())


def code_in_function(code, file, function, root=PACKAGE_DIR):
    """Whether `code` (whitespace-insensitive) is inside `function`."""
    try:
        source = function_source(file, function, root)
    except (LookupError, OSError, SyntaxError):
        return False
    return _squash(code) in _squash(source)


def code_ref_exists(ref):
    """Whether `ref.code` is still a part of `ref.function` in `ref.file`."""
    return code_in_function(ref.code, ref.file, ref.function)


@dataclasses.dataclass(frozen=True)
class Argument:
    """One constructor or call argument.

    Attributes:
        name: As in `SimpleRNN(...)` or `layer(x, ...)`.
        default: Its default, as Python source (`None` if required).
        topic: The `Topic` that explains it.
        meaning: One line, `(en, ja)`.
        call: True for a call argument.
    """

    name: str
    default: str
    topic: str
    meaning: tuple
    call: bool = False


@dataclasses.dataclass(frozen=True)
class Topic:
    """The explanation of one argument or group of arguments.

    Each text is an `(en, ja)` pair. `cell` is `"rnn"` for the topics that
    SimpleRNN, LSTM and GRU share (`TOPICS`; `LSTM_NOTES` and `GRU_NOTES`
    say what changes for an LSTM and a GRU), `"lstm"` for the LSTM's own
    (`LSTM_TOPICS`), `"gru"` for the GRU's own (`GRU_TOPICS`).
    """

    name: str
    summary: tuple
    forward: tuple
    forward_refs: tuple
    backward: tuple
    backward_refs: tuple
    mistake: tuple
    cell: str = "rnn"


def _args(topic, rows, call=False):
    return [Argument(n, d, topic, m, call) for n, d, m in rows]


# Every argument of SimpleRNN/ScratchRNN (keys of `get_config()` without
# the base keys `name`, `dtype`, `trainable`, plus `seed`), then the call
# arguments. Order: the constructor's signature, then `call`'s.
ARGUMENTS = (
    _args(
        "units",
        [
            (
                "units",
                None,
                (
                    "H: the size of the hidden state h_t and of each output.",
                    "H: 隠れ状態 h_t と各出力の次元数。",
                ),
            )
        ],
    )
    + _args(
        "activation",
        [
            (
                "activation",
                "'tanh'",
                (
                    "act in h_t = act(a_t), at every step; None is linear.",
                    "各時刻の h_t = act(a_t) に使う関数 act。"
                    "None は恒等関数（線形）。",
                ),
            )
        ],
    )
    + _args(
        "use_bias",
        [
            (
                "use_bias",
                "True",
                (
                    "Whether b is added (one b shared by every step).",
                    "バイアス b を足すか（b は全時刻で共通）。",
                ),
            )
        ],
    )
    + _args(
        "initializers",
        [
            (
                "kernel_initializer",
                "'glorot_uniform'",
                ("How the first Wx is drawn.", "Wx の初期値の決め方。"),
            ),
            (
                "recurrent_initializer",
                "'orthogonal'",
                (
                    "How the first Wh is drawn (orthogonal: norm-keeping).",
                    "Wh の初期値の決め方（直交行列: ノルムを保つ）。",
                ),
            ),
            (
                "bias_initializer",
                "'zeros'",
                ("How the first b is drawn.", "b の初期値の決め方。"),
            ),
        ],
    )
    + _args(
        "regularizers",
        [
            (
                "kernel_regularizer",
                "None",
                (
                    "Penalty on Wx, added to the loss.",
                    "Wx への罰則項。損失に加わる。",
                ),
            ),
            (
                "recurrent_regularizer",
                "None",
                (
                    "Penalty on Wh, added to the loss.",
                    "Wh への罰則項。損失に加わる。",
                ),
            ),
            (
                "bias_regularizer",
                "None",
                (
                    "Penalty on b, added to the loss.",
                    "b への罰則項。損失に加わる。",
                ),
            ),
            (
                "activity_regularizer",
                "None",
                (
                    "Penalty on the layer's output, added to the loss.",
                    "レイヤの出力への罰則項。損失に加わる。",
                ),
            ),
        ],
    )
    + _args(
        "constraints",
        [
            (
                "kernel_constraint",
                "None",
                (
                    "Projection of Wx after each optimizer update.",
                    "オプティマイザの更新ごとに Wx を射影する。",
                ),
            ),
            (
                "recurrent_constraint",
                "None",
                (
                    "Projection of Wh after each optimizer update.",
                    "オプティマイザの更新ごとに Wh を射影する。",
                ),
            ),
            (
                "bias_constraint",
                "None",
                (
                    "Projection of b after each optimizer update.",
                    "オプティマイザの更新ごとに b を射影する。",
                ),
            ),
        ],
    )
    + _args(
        "dropout",
        [
            (
                "dropout",
                "0.0",
                (
                    "Share of input features dropped; one mask per sequence.",
                    "入力の特徴量を落とす割合。マスクは系列ごとに 1 つ。",
                ),
            )
        ],
    )
    + _args(
        "recurrent_dropout",
        [
            (
                "recurrent_dropout",
                "0.0",
                (
                    "Share of h_{t-1} dropped on its way into Wh.",
                    "Wh に入る h_{t-1} を落とす割合。",
                ),
            )
        ],
    )
    + _args(
        "return_sequences",
        [
            (
                "return_sequences",
                "False",
                (
                    "Return every o_t (N, T, H), not only the last (N, H).",
                    "最後の出力 (N, H) だけでなく"
                    "全時刻の o_t (N, T, H) を返す。",
                ),
            )
        ],
    )
    + _args(
        "return_state",
        [
            (
                "return_state",
                "False",
                (
                    "Also return the final state: a tuple (output, h).",
                    "最終状態も返す。戻り値はタプル (出力, h)。",
                ),
            )
        ],
    )
    + _args(
        "go_backwards",
        [
            (
                "go_backwards",
                "False",
                (
                    "Read from the last step to the first; output stays so.",
                    "最後の時刻から逆順に読む。出力も逆順のまま。",
                ),
            )
        ],
    )
    + _args(
        "stateful",
        [
            (
                "stateful",
                "False",
                (
                    "Start each batch from the last state of the previous.",
                    "前のバッチの最終状態から次のバッチを始める。",
                ),
            )
        ],
    )
    + _args(
        "unroll",
        [
            (
                "unroll",
                "False",
                (
                    "Unroll the time loop in the graph (needs a fixed T).",
                    "時間方向のループをグラフ上に展開する（T の固定が必要）。",
                ),
            )
        ],
    )
    + _args(
        "seed",
        [
            (
                "seed",
                "None",
                (
                    "Seed of the dropout masks.",
                    "ドロップアウトマスクの乱数の seed。",
                ),
            )
        ],
    )
    + _args(
        "zero_output_for_mask",
        [
            (
                "zero_output_for_mask",
                "False",
                (
                    "Masked steps output 0 instead of the previous output.",
                    "マスクされた時刻は直前の出力の代わりに 0 を出す。",
                ),
            )
        ],
    )
    + _args(
        "initial_state",
        [
            (
                "initial_state",
                "None",
                (
                    "h_{-1}, the state before the first step (zeros).",
                    "最初の時刻の前の状態 h_{-1}（既定は 0）。",
                ),
            )
        ],
        call=True,
    )
    + _args(
        "mask",
        [
            (
                "mask",
                "None",
                (
                    "Boolean (N, T): False steps are skipped, state kept.",
                    "真偽値 (N, T)。False の時刻は飛ばし、状態を保つ。",
                ),
            )
        ],
        call=True,
    )
    + _args(
        "training",
        [
            (
                "training",
                "None",
                (
                    "Training mode: dropout acts only when True. None takes "
                    "the enclosing call's mode (True in fit()), else False.",
                    "学習モード。True のときだけドロップアウトが働く。None は"
                    "外側の呼び出しのモード（fit() の中では True）、なければ "
                    "False。",
                ),
            )
        ],
        call=True,
    )
)

_OPS, _MATH, _LAYER, _CELL, _REF = (
    "ops/tensorflow.py",
    "ops/rnn_math.py",
    "layers/scratch_rnn.py",
    "layers/scratch_rnn_cell.py",
    "reference/rnn.py",
)
_BASE = "layers/base.py"  # what ScratchRNN shares with ScratchLSTM

TOPICS = {
    topic.name: topic
    for topic in (
        Topic(
            "units",
            summary=(
                "H, the size of the hidden state h_t and of every output.",
                "隠れ状態 h_t（と各出力）の次元数 H。",
            ),
            forward=(
                "H is the width of every term: Wx is (D, H), Wh is (H, H), b "
                "is (H,), so h_t and the output have H units. Nothing "
                "depends on T: the same weights serve every step.",
                "H は各項の幅です。Wx は (D, H)、Wh は (H, H)、b は (H,) "
                "なので、"
                "h_t と出力は H 次元になります。T にはよらず、同じ重みを全時刻"
                "で使います。",
            ),
            forward_refs=(
                CodeRef(_MATH, "input_projection", "xw = xp.matmul(x, kernel)"),
                CodeRef(
                    _MATH,
                    "step_forward",
                    "a = xw_t + xp.matmul(h_in, recurrent_kernel)",
                ),
                CodeRef(
                    _BASE,
                    "ScratchCell.build",
                    "shape=(self.units, self.gates * self.units),",
                ),
            ),
            backward=(
                "The weight gradients have the weights' shapes: they are sums "
                "over the T steps of x_t^T dt (D, H) and h_{t-1}^T dt (H, H), "
                "as in the book's TimeRNN, which adds up the grads of its T "
                "RNN layers.",
                "重みの勾配は重みと同じ形です。T 時刻分の x_t^T dt (D, H) と "
                "h_{t-1}^T dt (H, H) の和で、本の TimeRNN が T 個の RNN "
                "レイヤの "
                "grads を足し合わせるのと同じです。",
            ),
            backward_refs=(
                CodeRef(_MATH, "weight_gradients", "dWx = xp.matmul_ta(x, dt)"),
                CodeRef(
                    _MATH, "weight_gradients", "dWh = xp.matmul_ta(h_in, dt)"
                ),
                CodeRef(_REF, "TimeRNN.backward", "grads[i] += grad"),
            ),
            mistake=(
                "Taking units for the number of time steps, or for the "
                "number of RNN boxes in the unrolled picture. Those T boxes "
                "are one cell with one set of weights; units is the width of "
                "h. T comes from the data and may change from batch to "
                "batch.",
                "units を時刻数や、展開図に並ぶ RNN の箱の数と取り違えること。"
                "展開図の T 個の箱は 1 組の重みを共有する同じセルで、units は "
                "h の幅です。T はデータで決まり、バッチごとに変わってもかまい"
                "ません。",
            ),
        ),
        Topic(
            "activation",
            summary=(
                "act in h_t = act(a_t): default tanh, None means linear.",
                "h_t = act(a_t) の活性化関数 act。既定は tanh、None "
                "なら恒等関数"
                "（線形）。",
            ),
            forward=(
                "Applied to a_t = x_t Wx + h_{t-1} Wh + b at every step, "
                "inside the recurrence: it shapes the state handed to the "
                "next step, not only the output.",
                "毎時刻 a_t = x_t Wx + h_{t-1} Wh + b に掛かります。再帰の内側"
                "なので、出力だけでなく次の時刻に渡す隠れ状態も変えます。",
            ),
            forward_refs=(
                CodeRef(
                    _MATH,
                    "step_forward",
                    "y = activate(xp, a, options.activation)",
                ),
                CodeRef(_REF, "RNN.forward", "h_next = np.tanh(t)"),
            ),
            backward=(
                "dt = dL/da_t = dh_t * act'(a_t). For tanh, act' = 1 - h_t^2 "
                "is "
                "computed from the kept output, as in the book; sigmoid, relu "
                "and linear are written by hand too. Any other activation is "
                "differentiated locally, by the backend's autodiff around the "
                "activation alone (a GradientTape in TensorFlow).",
                "dt = dL/da_t = dh_t * act'(a_t)。tanh なら本と同じく、保存して"
                "おいた出力から act' = 1 - h_t^2 と計算します。sigmoid・relu・"
                "linear の微分も手書きです。それ以外の活性化関数は、"
                "活性化関数だけをバックエンドの自動微分（TensorFlow なら "
                "GradientTape）で局所的に微分します。",
            ),
            backward_refs=(
                CodeRef(
                    _MATH,
                    "step_backward",
                    "dt = activation_backward(xp, dy, y_t, a_t, "
                    "options.activation)",
                ),
                CodeRef(
                    _MATH, "activation_backward", "return dy * (1.0 - y * y)"
                ),
                CodeRef(
                    _MATH,
                    "activation_backward",
                    "return xp.local_vjp(activation, a, dy)",
                ),
                CodeRef(_REF, "RNN.backward", "dt = dh_next * (1 - h_next**2)"),
            ),
            mistake=(
                "Thinking the activation acts once, after the layer, like an "
                "Activation after a Dense. It acts inside the loop at every "
                "step: with activation=None the state follows a linear "
                "recurrence that explodes or vanishes like the powers of Wh, "
                "and relu can die (h and its gradient stay 0 for the rest of "
                "the sequence). Keep tanh unless you have a reason.",
                "Dense の後に Activation を置くのと同じように、活性化関数が"
                "レイヤの最後に 1 回だけ掛かると思うこと。実際はループの内側で"
                "毎時刻掛かります。activation=None では隠れ状態が線形の漸化式に"
                "なり、Wh のべき乗のように発散または消失します。relu は一度 0 "
                "に"
                "なると、系列の残りで h も勾配も 0 のままになることがあります。"
                "特に理由がなければ tanh のままにしましょう。",
            ),
        ),
        Topic(
            "use_bias",
            summary=(
                "Whether b is added; one b is shared by every step.",
                "バイアス b を足すかどうか。b は全時刻で共通。",
            ),
            forward=(
                "The + b term, added to x_t Wx (for small layers for all t "
                "at once, before the loop): the same b at every step. The "
                "weights are [kernel, recurrent_kernel, bias], or two arrays "
                "without it.",
                "式の + b の項で、x_t Wx に足します（小さなレイヤではループの"
                "前に全時刻分をまとめて）。どの時刻でも同じ b です。重みは "
                "[kernel, "
                "recurrent_kernel, bias] の 3 つで、バイアスなしなら 2 "
                "つです。",
            ),
            forward_refs=(
                CodeRef(_MATH, "input_projection", "xw = xw + bias"),
                CodeRef(_BASE, "ScratchCell.build", "if self.use_bias:"),
            ),
            backward=(
                "db = sum over t and n of dt: the book's per-step db, summed "
                "over time as well because b is shared.",
                "db = Σ_t Σ_n dt。本の 1 時刻分の db を、b が全時刻で共有されて"
                "いるので時間方向にも足し合わせたものです。",
            ),
            backward_refs=(
                CodeRef(_MATH, "weight_gradients", "db = xp.sum0(dt)"),
                CodeRef(_REF, "RNN.backward", "db = dt.sum(axis=0)"),
            ),
            mistake=(
                "Writing b_t (the seed post's formula has W_{x_t} and b_t): "
                "the weights and the bias are the same at every step. And "
                "moving weights between layers whose use_bias differs: "
                "set_weights fails, 3 arrays against 2.",
                "b_t と書いてしまうこと（元記事の式には W_{x_t} や b_t が"
                "あります）。重みもバイアスも全時刻で同じです。また use_bias の"
                "違うレイヤの間で重みを移そうとすると、配列の数が 3 と 2 で"
                "合わず、set_weights が失敗します。",
            ),
        ),
        Topic(
            "initializers",
            summary=(
                "How Wx, Wh and b get their first values when built.",
                "レイヤの構築時に Wx、Wh、b の初期値をどう決めるか。",
            ),
            forward=(
                "Nowhere in the equation: they only give Wx, Wh and b their "
                "first values, in build(). The default orthogonal Wh has every "
                "singular value 1, so h_{t-1} Wh keeps the length of h.",
                "式には現れません。build() で Wx・Wh・b に最初の値を与えるだけ"
                "です。既定の直交行列の Wh は特異値がすべて 1 なので、"
                "h_{t-1} Wh は h の長さを保ちます。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE,
                    "ScratchCell.build",
                    "initializer=self.kernel_initializer,",
                ),
                CodeRef(
                    _BASE,
                    "ScratchCell.build",
                    "initializer=self.recurrent_initializer,",
                ),
            ),
            backward=(
                "Not in the backward. But through Wh they set how fast dh "
                "shrinks or grows going back in time, dh_{t-1} = dt Wh^T "
                "(see `python -m keras_scratch_rnn gradflow`).",
                "逆伝播には現れません。ただし Wh を通じて、時間をさかのぼる"
                "ときに dh がどれだけ速く縮む（または膨らむ）かを決めます: "
                "dh_{t-1} = dt Wh^T（`python -m keras_scratch_rnn gradflow` を"
                "参照）。",
            ),
            backward_refs=(
                CodeRef(
                    _MATH,
                    "step_backward",
                    "dh_prev = xp.matmul_tb(dt, recurrent_kernel)",
                ),
            ),
            mistake=(
                "Expecting two layers built with the same initializer name "
                "to start equal: without a seed each draws its own weights. "
                "To compare or reproduce, copy the weights (set_weights) or "
                "pass seeded initializers. Initializers act only at build: "
                "set_weights overrides them.",
                "同じ名前の初期化子で作った 2 つのレイヤが同じ初期値になると"
                "思うこと。seed がなければそれぞれ別の値を引きます。比較や再現"
                "には重みをコピーする（set_weights）か、seed 付きの初期化子を"
                "渡します。初期化子が働くのは build のときだけで、set_weights "
                "で上書きされます。",
            ),
        ),
        Topic(
            "regularizers",
            summary=(
                "Penalties added to the loss (layer.losses), not to h_t.",
                "h_t ではなく損失に加える罰則項（layer.losses）。",
            ),
            forward=(
                "Nowhere in h_t: each regularizer puts a term such as "
                "0.01 * sum(Wh^2) in layer.losses, which fit() adds to the "
                "loss. activity_regularizer penalizes the layer's output.",
                "h_t の式には現れません。各正則化は 0.01 * sum(Wh^2) のような"
                "項を layer.losses に入れ、fit() がそれを損失に足します。"
                "activity_regularizer はレイヤの出力に罰則を掛けます。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE,
                    "ScratchCell.build",
                    "regularizer=self.recurrent_regularizer,",
                ),
                CodeRef(
                    _BASE,
                    "layer_options",
                    'options["activity_regularizer"] = get_option(',
                ),
            ),
            backward=(
                "Not in the handwritten backward: the gradient of a penalty "
                "(2 * 0.01 * Wh for L2(0.01)) is autodiff of that separate "
                "term, added to the BPTT gradient of the data loss.",
                "手書きの逆伝播には含まれません。罰則項の勾配（L2(0.01) なら "
                "2 * 0.01 * Wh）はその項だけを自動微分したもので、データの損失"
                "の BPTT 勾配に足されます。",
            ),
            backward_refs=(),
            mistake=(
                "Writing a custom training loop and forgetting to add "
                "sum(model.losses) to the loss: the regularizers then do "
                "nothing. Also, SimpleRNN of Keras 3.15 accepts "
                "activity_regularizer and silently drops it; ScratchRNN "
                "applies it.",
                "自作の学習ループで sum(model.losses) を損失に足し忘れること。"
                "正則化が何もしなくなります。また Keras 3.15 の SimpleRNN は "
                "activity_regularizer を受け取っても黙って捨てます。"
                "ScratchRNN は適用します。",
            ),
        ),
        Topic(
            "constraints",
            summary=(
                "Projections of Wx, Wh, b after each optimizer update.",
                "オプティマイザの更新のたびに Wx・Wh・b に掛ける射影。",
            ),
            forward=(
                "Nowhere in the forward: the optimizer applies the constraint "
                "to the variable after every update (NonNeg sets negative "
                "entries to 0, MaxNorm rescales columns).",
                "順伝播には現れません。オプティマイザが更新のたびに変数へ適用"
                "します（NonNeg は負の要素を 0 にし、MaxNorm は列のノルムを"
                "縮めます）。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE,
                    "ScratchCell.build",
                    "constraint=self.recurrent_constraint,",
                ),
            ),
            backward=(
                "Not in the backward either: the gradients are those of the "
                "unconstrained weights; the updated values are projected.",
                "逆伝播にも現れません。勾配は制約なしの重みについて計算し、"
                "更新後の値を射影します。",
            ),
            backward_refs=(),
            mistake=(
                "Expecting the constraint to hold from the start or right "
                "after set_weights: it is applied only after optimizer "
                "updates, so initial or loaded weights may break it.",
                "最初から、あるいは set_weights の直後から制約が満たされると"
                "思うこと。制約が適用されるのはオプティマイザの更新後だけなので、"
                "初期値や読み込んだ重みは制約を破っていることがあります。",
            ),
        ),
        Topic(
            "dropout",
            summary=(
                "Share of input features zeroed in training; one mask per "
                "sequence.",
                "学習時に入力の特徴量を 0 にする割合。マスクは系列ごとに 1 "
                "つ。",
            ),
            forward=(
                "x_t becomes x_t * m_x before Wx: (x_t * m_x) Wx. The mask m_x "
                "(N, D) holds 0 or 1/(1 - rate); it is drawn once per call, "
                "reused at every step, and used only with training=True.",
                "x_t は Wx の前で x_t * m_x になります: (x_t * m_x) Wx。マスク "
                "m_x (N, D) の値は 0 か 1/(1 - rate) で、呼び出しごとに 1 回"
                "だけ引かれ、全時刻で使い回されます。使われるのは "
                "training=True のときだけです。",
            ),
            forward_refs=(
                CodeRef(
                    _MATH,
                    "sequence_inputs",
                    "x = x * masks.input_dropout[:, None, :]",
                ),
                CodeRef(
                    _BASE,
                    "ScratchLayer._draw_dropout_mask",
                    "return keras.random.dropout(",
                ),
            ),
            backward=(
                "dx_t = (dt Wx^T) * m_x: the dropped features get no "
                "gradient, and dWx sums (x_t * m_x)^T dt.",
                "dx_t = (dt Wx^T) * m_x。落とされた特徴量には勾配が流れず、"
                "dWx は (x_t * m_x)^T dt の和になります。",
            ),
            backward_refs=(
                CodeRef(
                    _MATH,
                    "sequence_inputs_backward",
                    "dx = dx * masks.input_dropout[:, None, :]",
                ),
            ),
            mistake=(
                "Expecting a new mask at each time step, as a Dropout layer "
                "placed before the RNN would draw. The RNN's dropout uses one "
                "mask per sequence (variational dropout), so a dropped "
                "feature is missing for the whole sequence. It does nothing "
                "in predict() or in a plain call.",
                "時刻ごとに新しいマスクが引かれると思うこと（RNN の前に置いた "
                "Dropout レイヤならそうなります）。RNN の dropout は系列ごとに "
                "1 つのマスク（変分ドロップアウト）なので、落とされた特徴量は"
                "系列全体で欠けます。また predict() や普通の呼び出しでは何も"
                "しません。",
            ),
        ),
        Topic(
            "recurrent_dropout",
            summary=(
                "Share of h_{t-1} zeroed on its way into Wh, in training.",
                "学習時、Wh に入る直前の隠れ状態 h_{t-1} を 0 にする割合。",
            ),
            forward=(
                "h_{t-1} Wh becomes (h_{t-1} * m_h) Wh. The mask m_h (N, H) is "
                "drawn once per call and reused at every step. The state h_t "
                "itself and the outputs are not masked.",
                "h_{t-1} Wh が (h_{t-1} * m_h) Wh になります。マスク m_h (N, "
                "H) "
                "は呼び出しごとに 1 回だけ引かれ、全時刻で使い回されます。"
                "隠れ状態 h_t そのものや出力にはマスクは掛かりません。",
            ),
            forward_refs=(
                CodeRef(
                    _MATH,
                    "recurrent_input",
                    "return h_prev if r is None else h_prev * r",
                ),
            ),
            backward=(
                "dh_{t-1} = (dt Wh^T) * m_h, and dWh sums (h_{t-1} * m_h)^T "
                "dt.",
                "dh_{t-1} = (dt Wh^T) * m_h、dWh は (h_{t-1} * m_h)^T dt の和"
                "です。",
            ),
            backward_refs=(
                CodeRef(_MATH, "step_backward", "dh_prev = dh_prev * r"),
                CodeRef(
                    _MATH, "weight_gradients", "dWh = xp.matmul_ta(h_in, dt)"
                ),
            ),
            mistake=(
                "Expecting it to thin out the returned outputs or states, or "
                "a fresh mask at every step. The same units of h are cut out "
                "of the recurrence for the whole sequence, so a high rate "
                "removes those units' long-range memory for that sample.",
                "返ってくる出力や状態が間引かれる、あるいは時刻ごとに新しい"
                "マスクになると思うこと。系列全体を通して同じユニットが再帰から"
                "切り離されるので、割合を高くすると、そのサンプルではそれらの"
                "ユニットによる長期の記憶が失われます。",
            ),
        ),
        Topic(
            "seed",
            summary=(
                "Seed of the dropout masks (ScratchRNN saves it in its "
                "config).",
                "ドロップアウトマスクの乱数の seed（ScratchRNN は config に"
                "保存）。",
            ),
            forward=(
                "Not in the equation: it seeds the generator that draws m_x "
                "and m_h; each call draws the next masks from it.",
                "式には現れません。m_x と m_h を引く乱数生成器の seed です。"
                "呼び出しのたびに、そこから次のマスクを引きます。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE,
                    "ScratchCell.__init__",
                    "self.seed_generator = keras.random.SeedGenerator(seed)",
                ),
                CodeRef(
                    _BASE,
                    "ScratchLayer._draw_dropout_mask",
                    "ones, rate, seed=self.cell.seed_generator",
                ),
            ),
            backward=(
                "The masks are constants for the backward; the seed only "
                "decides which masks they are.",
                "逆伝播ではマスクは定数です。seed はどのマスクになるかを"
                "決めるだけです。",
            ),
            backward_refs=(),
            mistake=(
                "Thinking the seed fixes one mask: it fixes the sequence of "
                "masks, and each call draws the next. And SimpleRNN's "
                "get_config() (Keras 3.15) leaves the seed out, so a reloaded "
                "SimpleRNN draws other masks.",
                "seed で 1 つのマスクが固定されると思うこと。固定されるのは"
                "マスクの列で、呼び出しのたびに次のマスクが引かれます。また "
                "Keras 3.15 の SimpleRNN の get_config() には seed が入らない"
                "ので、読み込み直した SimpleRNN は別のマスクを引きます。",
            ),
        ),
        Topic(
            "return_sequences",
            summary=(
                "Return o_t for every t, (N, T, H), not only the last, (N, H).",
                "最後の出力 (N, H) だけでなく、全時刻の o_t (N, T, H) を返す。",
            ),
            forward=(
                "After the loop: all o_t, or o_{T-1} only. With a mask, "
                "o_{T-1} is the output of the last unmasked step.",
                "ループの後で、全時刻の o_t か o_{T-1} だけを返します。マスクが"
                "あれば、o_{T-1} はマスクされていない最後の時刻の出力です。",
            ),
            forward_refs=(
                CodeRef(
                    _OPS,
                    "_scratch_rnn",
                    "out = outputs if options.return_sequences else o_last",
                ),
            ),
            backward=(
                "It decides which dL/do_t arrive: all of them, or only "
                "dL/do_{T-1} (the others are 0, so the backward adds "
                "dL/do_{T-1} to the gradient of h_{T-1}, or with a mask starts "
                "its output carry with it, and reads nothing else). "
                "Going back in time, the gradient reaching o_t is added to "
                "the dh coming from the future: the book's dhs[:, t, :] + dh.",
                "どの dL/do_t が届くかを決めます。全時刻分か、dL/do_{T-1} だけ"
                "か（残りは 0 なので、逆伝播は dL/do_{T-1} を h_{T-1} の勾配に"
                "足すか、マスクがあれば出力側の勾配をそこから始め、ほかは読み"
                "ません）です。時間をさかのぼるとき、o_t に"
                "届いた勾配を未来から来た dh に足します。本の "
                "dhs[:, t, :] + dh です。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS,
                    "_backward_loop",
                    "None if d_outputs is None else d_outputs[:, t]",
                ),
                CodeRef(
                    _MATH, "step_backward", "dy = dh if g is None else dh + g"
                ),
                CodeRef(
                    _OPS,
                    "_backward_loop",
                    "dh, do = (dh_last if d_last is None else dh_last + "
                    "d_last), ()",
                ),
                CodeRef(
                    _REF,
                    "TimeRNN.backward",
                    "dx, dh = layer.backward(dhs[:, t, :] + dh)",
                ),
            ),
            mistake=(
                "Stacking RNN layers without return_sequences=True on every "
                "layer but the last: the next layer needs a (N, T, H) "
                "sequence. And with padded batches, taking the last output "
                "for the padding's: it is the last real step's.",
                "RNN レイヤを積むとき、最後以外の層に return_sequences=True を"
                "付け忘れること。次の層には (N, T, H) の系列が必要です。また"
                "パディングしたバッチで、最後の出力をパディング部分のものと"
                "思うこと。実際にはマスクされていない最後の時刻の出力です。",
            ),
        ),
        Topic(
            "return_state",
            summary=(
                "Also return the final state: the tuple (output, h_{T-1}).",
                "最終状態も返す。戻り値はタプル (出力, h_{T-1})。",
            ),
            forward=(
                "After the loop: the last state h_{T-1} is returned beside "
                "the output.",
                "ループの後で、最後の状態 h_{T-1} を出力と一緒に返します。",
            ),
            forward_refs=(
                CodeRef(_BASE, "ScratchLayer.call", "return output, *last"),
            ),
            backward=(
                "A gradient arriving at the returned state is the dh the "
                "reverse loop starts from at step T-1. The book's TimeRNN "
                "has no such input: its dh starts at 0.",
                "返した状態に届いた勾配が、逆向きのループが時刻 T-1 で使う dh "
                "の初期値になります。本の TimeRNN にはこの入力がなく、dh = 0 "
                "から始まります。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS,
                    "_backward_loop",
                    "step, T, (dh, do, sums), templates, options.unroll, "
                    "compiled, reverse=True",
                ),
                CodeRef(_REF, "TimeRNN.backward", "dh = 0"),
            ),
            mistake=(
                "Passing the result straight to the next layer: it is a tuple "
                "(output, state), so unpack it, output, h = layer(x). "
                "SimpleRNN has one state (LSTM has two, h and c).",
                "戻り値をそのまま次の層に渡すこと。タプル (出力, 状態) なので "
                "output, h = layer(x) と分けて受け取ります。SimpleRNN の状態は"
                " 1 つです（LSTM は h と c の 2 つ）。",
            ),
        ),
        Topic(
            "go_backwards",
            summary=(
                "Read from the last step to the first; the output stays "
                "reversed.",
                "系列を最後の時刻から逆順に読む。出力も逆順のまま。",
            ),
            forward=(
                "x (and the mask) are reversed in time before the loop, so "
                "step t reads x_{T-1-t}. The outputs are not reversed back.",
                "ループの前に x（とマスク）を時間方向に反転するので、時刻 t は "
                "x_{T-1-t} を読みます。出力は元の順に戻しません。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE, "ScratchLayer.call", "x = keras.ops.flip(x, axis=1)"
                ),
            ),
            backward=(
                "The BPTT loop itself is unchanged: it runs on the reversed "
                "sequence. The reversal's own gradient puts dx back in the "
                "input's order.",
                "BPTT のループ自体は変わらず、反転した系列に対して動きます。"
                "反転そのものの勾配が dx を入力の順序に戻します。",
            ),
            backward_refs=(),
            mistake=(
                "Assuming output[:, t] belongs to input step t: it belongs to "
                "step T-1-t. Flip it yourself (keras.ops.flip(output, axis=1)) "
                "or use keras.layers.Bidirectional, which flips the backward "
                "layer's output for you.",
                "output[:, t] が入力の時刻 t に対応すると思うこと。実際は時刻 "
                "T-1-t に対応します。自分で反転する（keras.ops.flip(output, "
                "axis=1)）か、逆向きの層の出力を反転してくれる "
                "keras.layers.Bidirectional を使いましょう。",
            ),
        ),
        Topic(
            "stateful",
            summary=(
                "Carry the last state of batch k into batch k+1, row i to "
                "row i.",
                "バッチ k の最終状態をバッチ k+1 の初期状態にする（i 行目から "
                "i 行目へ）。",
            ),
            forward=(
                "h_{-1} of a call is the stored h_{T-1} of the previous call, "
                "row by row, instead of zeros. The layer keeps it in a "
                "non-trainable variable until reset_state().",
                "呼び出しの h_{-1} は、0 ではなく前の呼び出しで保存した "
                "h_{T-1} です（行ごと）。"
                "レイヤはこれを学習対象外の変数に保持し、"
                "reset_state() を呼ぶまで持ち続けます。",
            ),
            forward_refs=(
                CodeRef(
                    _BASE,
                    "ScratchLayer.call",
                    "variable.assign(keras.ops.cast(state, variable.dtype))",
                ),
                CodeRef(
                    _BASE,
                    "ScratchLayer._initial_state",
                    "after(stored, keras.ops.copy(keras.ops.cast(s, x.dtype)))",
                ),
                CodeRef(
                    _REF,
                    "TimeRNN.forward",
                    "if not self.stateful or self.h is None:",
                ),
            ),
            backward=(
                "The stored state is a constant for the backward, so the "
                "gradient stops at the batch boundary. This is the book's "
                "Truncated BPTT: h flows forward across blocks, gradients "
                "stay inside one block.",
                "保存した状態は逆伝播では定数なので、勾配はバッチの境界で止まり"
                "ます。これが本の Truncated BPTT です。h はブロックをまたいで"
                "順方向に流れ、勾配は 1 つのブロックの中にとどまります。",
            ),
            backward_refs=(CodeRef(_REF, "TimeRNN.backward", "dh = 0"),),
            mistake=(
                "Feeding shuffled or unrelated batches. Row i of each batch "
                "must continue row i of the previous batch (the book reads "
                "the corpus at batch_size offsets, jump = (len - 1) // "
                "batch_size), with shuffle=False and a fixed batch size "
                "(drop the remainder). Reset the state between epochs or "
                "unrelated sequences: Keras 3 models have no reset_states(), "
                "so call reset_state() on each stateful layer.",
                "シャッフルしたバッチや互いに無関係なバッチを流すこと。各バッチ"
                "の i 行目は前のバッチの i 行目の続きでなければなりません（本で"
                "はコーパスを batch_size 個のオフセット、jump = (len - 1) // "
                "batch_size ずつずらして読みます）。shuffle=False にし、バッチ"
                "サイズを固定します（端数は捨てます）。"
                "エポックの間や無関係な系列"
                "の間では状態をリセットします。Keras 3 のモデルには "
                "reset_states() がないので、stateful な各層の reset_state() を"
                "呼びます。",
            ),
        ),
        Topic(
            "unroll",
            summary=(
                "A Python loop over a fixed T instead of a symbolic while "
                "loop.",
                "記号的な while ループの代わりに、固定の T で Python のループ"
                "として展開する。",
            ),
            forward=(
                "It changes how the loop over t is built, not what it "
                "computes: T copies of the step in the graph instead of a "
                "symbolic loop (on TensorFlow a tf.while_loop, which "
                "ScratchRNN compiles with XLA inside tf.function). T must be "
                "known.",
                "時間方向のループの作り方が変わるだけで、計算結果は変わり"
                "ません。記号的なループ（TensorFlow では tf.while_loop で、"
                "ScratchRNN は tf.function の中ではこれを XLA でコンパイル"
                "します）の代わりに、グラフ上にステップを T 個並べます。T が"
                "決まっている必要があります。",
            ),
            forward_refs=(
                CodeRef(
                    _OPS,
                    "_time_loop",
                    "order = range(T - 1, -1, -1) if reverse else range(T)",
                ),
                CodeRef(
                    _OPS, "_time_loop", "_, carry, buffers = tf.while_loop("
                ),
                CodeRef(
                    _OPS,
                    "_run_loop",
                    "if options.unroll:  # a Python loop, traced into the "
                    "caller's graph",
                ),
            ),
            backward=(
                "The reverse loop of the backward is unrolled the same way.",
                "逆伝播の逆向きのループも同じように展開されます。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS,
                    "_backward_loop",
                    "step, T, (dh, do, sums), templates, options.unroll, "
                    "compiled, reverse=True",
                ),
            ),
            mistake=(
                "Expecting other results, or a cure for vanishing gradients: "
                "the numbers are the same. Unrolling trades memory and "
                "compile time for speed on short sequences, and fails when T "
                "is unknown (None).",
                "結果が変わる、あるいは勾配消失が治ると思うこと。値は同じです。"
                "展開はメモリとコンパイル時間を払って短い系列を速くするだけで、"
                "T が不明（None）だとエラーになります。",
            ),
        ),
        Topic(
            "zero_output_for_mask",
            summary=(
                "Masked steps output 0 instead of the previous output.",
                "マスクされた時刻で、直前の出力の代わりに 0 を出力する。",
            ),
            forward=(
                "At a masked step o_t = 0 instead of o_{t-1}. The state is "
                "carried either way, h_t = h_{t-1}.",
                "マスクされた時刻で o_{t-1} の代わりに o_t = 0 とします。状態は"
                "どちらでも引き継がれます（h_t = h_{t-1}）。",
            ),
            forward_refs=(
                CodeRef(
                    _MATH,
                    "step_forward",
                    "o = xp.where(m_t, y, xp.zeros_like(y))",
                ),
                CodeRef(_MATH, "step_forward", "o = xp.where(m_t, y, o_prev)"),
            ),
            backward=(
                "Without it, the gradient reaching a masked o_t flows on to "
                "o_{t-1}, of which it was a copy; with it, that gradient "
                "stops.",
                "これがなければ、マスクされた o_t に届いた勾配は、"
                "そのコピー元の"
                " o_{t-1} へ流れます。あれば、その勾配はそこで止まります。",
            ),
            backward_refs=(
                CodeRef(_MATH, "step_backward", "do_prev = zeros"),
                CodeRef(
                    _MATH, "step_backward", "do_prev = xp.where(m_t, zeros, g)"
                ),
            ),
            mistake=(
                "Expecting it to reset the state: only the output is zeroed, "
                "the state is carried. With return_sequences=False, a sample "
                "whose last step is masked then returns zeros, not its last "
                "real output.",
                "状態がリセットされると思うこと。0 になるのは出力だけで、状態は"
                "引き継がれます。また return_sequences=False のとき、最後の"
                "時刻がマスクされたサンプルは、最後の実際の出力ではなく 0 を"
                "返します。",
            ),
        ),
        Topic(
            "initial_state",
            summary=(
                "h_{-1}, the state before the first step; zeros by default.",
                "最初の時刻の前の状態 h_{-1}。既定は 0。",
            ),
            forward=(
                "It is the h_{t-1} of the first step: "
                "h_0 = act(x_0 Wx + h_{-1} Wh + b).",
                "最初の時刻の h_{t-1} です: h_0 = act(x_0 Wx + h_{-1} Wh + "
                "b)。",
            ),
            forward_refs=(
                CodeRef(
                    _OPS,
                    "_forward_loop",
                    "carry = (h0,) if m is None else (h0, tf.zeros_like(h0))",
                ),
            ),
            backward=(
                "The reverse loop ends with dL/dh_{-1} = dt_0 Wh^T, returned "
                "as the gradient of initial_state (the book's TimeRNN.dh). "
                "That is how an encoder gets its gradient from a decoder in "
                "seq2seq.",
                "逆向きのループは dL/dh_{-1} = dt_0 Wh^T で終わり、これが "
                "initial_state の勾配として返ります（本の TimeRNN.dh）。"
                "seq2seq でエンコーダがデコーダから勾配を受け取るのはこの経路"
                "です。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS,
                    "backward",
                    "return dx, dh0, dkernel, drecurrent_kernel, dbias",
                ),
                CodeRef(_REF, "TimeRNN.backward", "self.dh = dh"),
            ),
            mistake=(
                "Passing a vector (units,) or a state for another batch size: "
                "it must be (batch, units), one row per sequence. Pass it by "
                "keyword, layer(x, initial_state=h). On a stateful layer it "
                "replaces the stored state for that call.",
                "形 (units,) のベクトルや、バッチサイズの違う状態を渡すこと。"
                "形は (batch, units) で、系列ごとに 1 行です。"
                "layer(x, initial_state=h) のようにキーワードで渡します。"
                "stateful な層では、その呼び出しに限り保存した状態の代わりに"
                "使われます。",
            ),
        ),
        Topic(
            "mask",
            summary=(
                "Boolean (N, T): False steps are skipped and carry the state.",
                "真偽値の (N, T)。False の時刻は飛ばされ、状態が引き継がれる。",
            ),
            forward=(
                "At a masked step h_t = h_{t-1} and o_t = o_{t-1} (or 0): the "
                "step is skipped. Padding never reaches Wx.",
                "マスクされた時刻では h_t = h_{t-1}、o_t = o_{t-1}（または 0）"
                "となり、その時刻は飛ばされます。パディングは Wx "
                "に届きません。",
            ),
            forward_refs=(
                CodeRef(_MATH, "step_forward", "h = xp.where(m_t, y, h_prev)"),
                CodeRef(
                    _MATH,
                    "sequence_inputs",
                    "x = xp.where(masks.mask[:, :, None], x, xp.zeros_like(x))",
                ),
            ),
            backward=(
                "At a masked step dt = 0 (the step's result is unused) and dh "
                "passes straight on to h_{t-1}; x_t gets no gradient.",
                "マスクされた時刻では dt = 0（その時刻の計算結果は使われない）"
                "で、dh はそのまま h_{t-1} へ渡ります。x_t "
                "には勾配が流れません。",
            ),
            backward_refs=(
                CodeRef(
                    _MATH, "step_backward", "dt = xp.where(m_t, dt, zeros)"
                ),
                CodeRef(
                    _MATH,
                    "step_backward",
                    "dh_prev = xp.where(m_t, dh_prev, dh)",
                ),
            ),
            mistake=(
                "Expecting the state to be reset to zero at padding, or "
                "padding to be harmless without a mask. The mask comes from "
                "keras.layers.Masking or Embedding(mask_zero=True), or is "
                "passed as mask=; over masked steps the state is carried.",
                "パディングの位置で状態が 0 にリセットされる、あるいはマスク"
                "なしでもパディングは無害だと思うこと。マスクは "
                "keras.layers.Masking や Embedding(mask_zero=True) が作るか、"
                "mask= で渡します。マスクされた時刻では状態が引き継がれます。",
            ),
        ),
        Topic(
            "training",
            summary=(
                "Training mode: dropout and recurrent_dropout act only when "
                "True.",
                "学習モードかどうか。dropout と recurrent_dropout は True の"
                "ときだけ働く。",
            ),
            forward=(
                "It decides whether m_x and m_h are used; with False (or a "
                "plain call) the equation has no masks.",
                "m_x と m_h を使うかどうかを決めます。False（または普通の"
                "呼び出し）なら式にマスクは入りません。",
            ),
            forward_refs=(
                CodeRef(
                    _LAYER,
                    "ScratchRNN._dropout_masks",
                    "masks.append(mask if training else None)",
                ),
            ),
            backward=(
                "Without masks the gradients pass unmasked too.",
                "マスクがなければ、勾配もマスクなしで流れます。",
            ),
            backward_refs=(),
            mistake=(
                "In a custom training loop, calling model(x) without "
                "training=True: dropout then never acts. fit() sets it for "
                "you; predict() and evaluate() use False.",
                "自作の学習ループで training=True を付けずに model(x) を呼ぶ"
                "こと。ドロップアウトが一度も働きません。fit() は自動で設定し、"
                "predict() と evaluate() は False を使います。",
            ),
        ),
    )
}

# ---------------------------------------------------------------------------
# The LSTM (ScratchLSTM, keras.layers.LSTM): the arguments SimpleRNN lacks,
# each a topic with its demonstration, the book's gate order, and for every
# shared topic a note on what changes in an LSTM.

# The backend-independent ops (their TensorFlow loops, `_OPS`, change
# more often than these).
_OPS_API = "ops/__init__.py"
_LSTM_MATH, _LSTM_LAYER, _LSTM_CELL, _LSTM_REF = (
    "ops/lstm_math.py",
    "layers/scratch_lstm.py",
    "layers/scratch_lstm_cell.py",
    "reference/lstm.py",
)

# The arguments of LSTM/ScratchLSTM that SimpleRNN/ScratchRNN lacks.
LSTM_ARGUMENTS = (
    _args(
        "recurrent_activation",
        [
            (
                "recurrent_activation",
                "'sigmoid'",
                (
                    "s of the gates i, f, o: each gate a share in (0, 1).",
                    "ゲート i・f・o の活性化関数 s。各ゲートは (0, 1) の割合。",
                ),
            )
        ],
    )
    + _args(
        "unit_forget_bias",
        [
            (
                "unit_forget_bias",
                "True",
                (
                    "Start the forget gate's bias at 1: f = 0.73, not 0.5.",
                    "忘却ゲートのバイアスを 1 から始める。f は 0.5 でなく "
                    "0.73。",
                ),
            )
        ],
    )
    + _args(
        "use_cudnn",
        [
            (
                "use_cudnn",
                "'auto'",
                (
                    "Let LSTM use cuDNN; ScratchLSTM saves it, never uses it.",
                    "LSTM に cuDNN を使わせるか。ScratchLSTM は保存するだけ。",
                ),
            )
        ],
    )
)

# The one-line meanings that read otherwise for an LSTM and for a GRU alike
# (a dropout mask per gate; the outputs are h_t, not SimpleRNN's o_t).
_GATED_MEANINGS = {
    "dropout": (
        "Share of input features dropped; a mask per gate with "
        "recurrent_dropout.",
        "入力の特徴量を落とす割合。recurrent_dropout があればゲートごとの"
        "マスク。",
    ),
    "recurrent_dropout": (
        "Share of h_{t-1} dropped on its way into Wh; a mask per gate.",
        "Wh に入る h_{t-1} を落とす割合。マスクはゲートごと。",
    ),
    "return_sequences": (
        "Return every h_t (N, T, H), not only the last (N, H).",
        "最後の出力 (N, H) だけでなく全時刻の h_t (N, T, H) を返す。",
    ),
}

# The one-line meanings that read otherwise for an LSTM.
LSTM_MEANINGS = {
    "units": (
        "H: the size of h_t, of the memory cell c_t, and of each output.",
        "H: h_t と記憶セル c_t、各出力の次元数。",
    ),
    "activation": (
        "act of the candidate g and of c's output, h = o act(c).",
        "候補 g と、c の出力 h = o act(c) に使う関数 act。",
    ),
    "use_bias": (
        "Whether b (4H,), one block per gate, is added.",
        "b (4H,)（ゲートごとに 1 ブロック）を足すか。",
    ),
    "kernel_initializer": (
        "How the first Wx (D, 4H) is drawn.",
        "Wx (D, 4H) の初期値の決め方。",
    ),
    "recurrent_initializer": (
        "How the first Wh (H, 4H) is drawn (orthogonal rows).",
        "Wh (H, 4H) の初期値の決め方（行が正規直交）。",
    ),
    "bias_initializer": (
        "How the first b is drawn (f's block: unit_forget_bias).",
        "b の初期値の決め方（f のブロックは unit_forget_bias）。",
    ),
    **_GATED_MEANINGS,
    "return_state": (
        "Also return the final states: a tuple (output, h, c).",
        "最終状態も返す。戻り値はタプル (出力, h, c)。",
    ),
    "stateful": (
        "Start each batch from the last [h, c] of the previous.",
        "前のバッチの最終状態 [h, c] から次のバッチを始める。",
    ),
    "initial_state": (
        "[h_{-1}, c_{-1}], the states before the first step (zeros).",
        "最初の時刻の前の状態 [h_{-1}, c_{-1}]（既定は 0）。",
    ),
    "mask": (
        "Boolean (N, T): False steps are skipped, h and c kept.",
        "真偽値 (N, T)。False の時刻は飛ばし、h と c を保つ。",
    ),
}

# The arguments of ScratchLSTM/LSTM in their signature's order, then the
# call's.
LSTM_ORDER = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "use_cudnn",
    "zero_output_for_mask",
    "initial_state",
    "mask",
    "training",
)

LSTM_TOPICS = {
    topic.name: topic
    for topic in (
        Topic(
            "recurrent_activation",
            summary=(
                "s, the activation of the gates i, f, o: default sigmoid, so "
                "each gate is a share between 0 and 1.",
                "ゲート i・f・o の活性化関数 s。既定は sigmoid で、各ゲートは "
                "0 と 1 の間の割合になる。",
            ),
            forward=(
                "A_t holds the four gates' pre-activations side by side; "
                "i = s(A_i), f = s(A_f), o = s(A_o) say how much of the "
                "candidate g enters c, how much of c_{t-1} stays, and how "
                "much of act(c_t) leaves as h_t. activation (tanh) acts on g "
                "and on c instead. None is linear.",
                "A_t には 4 つのゲートの活性化前の値が並んでいます。"
                "i = s(A_i)、f = s(A_f)、o = s(A_o) は、候補 g のどれだけを c "
                "に入れるか、c_{t-1} のどれだけを残すか、act(c_t) のどれだけを"
                " h_t として出すかを決めます。g と c には代わりに activation"
                "（tanh）が掛かります。None は恒等関数（線形）です。",
            ),
            forward_refs=(
                CodeRef(
                    _LSTM_MATH,
                    "step_forward",
                    "i = activate(xp, a_i, options.recurrent_activation)",
                ),
                CodeRef(
                    _LSTM_MATH,
                    "step_forward",
                    "f = activate(xp, a_f, options.recurrent_activation)",
                ),
                CodeRef(
                    _LSTM_MATH,
                    "step_forward",
                    "o = activate(xp, a_o, options.recurrent_activation)",
                ),
                CodeRef(_LSTM_REF, "LSTM.forward", "f = sigmoid(A[:, :H])"),
            ),
            backward=(
                "Each gate's part of dA is its gradient times s'(A): for "
                "sigmoid s' = s (1 - s), computed from the kept gate as in "
                "the book (di *= i * (1 - i)). tanh, relu and linear are "
                "handwritten too; any other activation is differentiated "
                "locally, by the backend's autodiff.",
                "dA の各ゲートの部分は、そのゲートの勾配に s'(A) を掛けたもの"
                "です。sigmoid なら s' = s (1 - s) で、本と同じく保存しておいた"
                "ゲートの値から計算します（di *= i * (1 - i)）。tanh・relu・"
                "linear の微分も手書きで、それ以外の活性化関数はバックエンドの"
                "自動微分で局所的に微分します。",
            ),
            backward_refs=(
                CodeRef(
                    _LSTM_MATH,
                    "step_backward",
                    "activation_backward(xp, di, i, a_i, gate)",
                ),
                CodeRef(
                    _MATH,
                    "activation_backward",
                    "return dy * y * (1.0 - y)",
                ),
                CodeRef(_LSTM_REF, "LSTM.backward", "di *= i * (1 - i)"),
            ),
            mistake=(
                "Setting it to tanh (or relu) like activation, or taking it "
                "for the output's activation. The gates are meant as shares "
                "between 0 and 1: a tanh gate can be negative and flip the "
                "sign of what it lets through, and at A = 0 it is shut (0) "
                "where sigmoid is half open (0.5); a relu gate has no upper "
                "bound, so c can grow without limit. The output's activation "
                "is activation. keras LSTM's cuDNN kernel also needs sigmoid "
                "(see use_cudnn).",
                "activation と同じつもりで tanh（や relu）にすること、あるいは"
                "出力の活性化関数だと思うこと。ゲートは 0 と 1 の間の割合として"
                "働くものです。tanh のゲートは負になり、通すものの符号を反転"
                "させます。A = 0 では sigmoid なら半分開く（0.5）ところが、"
                "tanh では閉じます（0）。relu のゲートには上限がなく、c が"
                "際限なく大きくなりえます。出力の活性化関数は activation です。"
                "また keras の LSTM の cuDNN カーネルは sigmoid でなければ使え"
                "ません（use_cudnn を参照）。",
            ),
            cell="lstm",
        ),
        Topic(
            "unit_forget_bias",
            summary=(
                "Start the forget gate's bias at 1, so f = sigmoid(1) = 0.73 "
                "instead of 0.5.",
                "忘却ゲートのバイアスの初期値を 1 にする。f は 0.5 ではなく "
                "sigmoid(1) = 0.73 から始まる。",
            ),
            forward=(
                "Only at build: b (4H,) gets the blocks i from "
                "bias_initializer, f ones, g and o from bias_initializer. "
                "With x and h near 0 early in training, f = s(b_f), so "
                "c_t = f * c_{t-1} + i * g keeps 73% of c per step instead of "
                "50%: the cell starts out remembering (Jozefowicz et al., "
                "2015).",
                "build のときだけ働きます。b (4H,) のブロックは、i が "
                "bias_initializer、f が 1、g と o が bias_initializer から"
                "決まります。学習の初めに x と h が 0 に近ければ f = s(b_f) "
                "なので、c_t = f * c_{t-1} + i * g は 1 時刻ごとに c の 50% で"
                "はなく 73% を残します。セルは最初から記憶を保つ側に置かれます"
                "（Jozefowicz ら, 2015）。",
            ),
            forward_refs=(
                CodeRef(
                    _LSTM_CELL,
                    "forget_bias_initializer",
                    'keras.initializers.get("ones")((cell.units,), *args, '
                    "**kwargs),",
                ),
                CodeRef(
                    _LSTM_CELL,
                    "ScratchLSTMCell._bias_initializer",
                    "return forget_bias_initializer(self)",
                ),
                CodeRef(_LSTM_MATH, "step_forward", "c = f * c_prev + i * g"),
            ),
            backward=(
                "Not in the backward. But f is also the factor of the "
                "gradient along c, dc_prev = ds * f: with f = 0.73 the "
                "gradient reaching c_{t-k} shrinks like 0.73^k, not 0.5^k.",
                "逆伝播には現れません。ただし f は c に沿った勾配の係数でも"
                "あります（dc_prev = ds * f）。f = 0.73 なら c_{t-k} に届く"
                "勾配は 0.5^k ではなく 0.73^k で小さくなります。",
            ),
            backward_refs=(
                CodeRef(_LSTM_MATH, "step_backward", "dc_prev = ds * f"),
                CodeRef(_LSTM_REF, "LSTM.backward", "dc_prev = ds * f"),
            ),
            mistake=(
                "Expecting f to stay near 1, or the setting to survive "
                "set_weights: it is only an initial value, trained like any "
                "weight, and set_weights replaces it (the book's Rnnlm starts "
                "every bias at 0, so its weights, converted with "
                "book_to_keras_lstm, start from f = 0.5). And it overrides "
                "bias_initializer for the f block only: to start the forget "
                "bias elsewhere, pass unit_forget_bias=False and your own "
                "bias_initializer.",
                "f が 1 近くのまま保たれる、あるいはこの設定が set_weights の"
                "後も残ると思うこと。これは初期値にすぎず、ほかの重みと同じく"
                "学習され、set_weights で置き換わります（本の Rnnlm は"
                "バイアスをすべて 0 から始めるので、その重みを "
                "book_to_keras_lstm で変換して入れると f = 0.5 から始まり"
                "ます）。また bias_initializer を上書き"
                "するのは f のブロックだけです。忘却ゲートのバイアスを別の値"
                "から始めたいときは、unit_forget_bias=False にして自分の "
                "bias_initializer を渡します。",
            ),
            cell="lstm",
        ),
        Topic(
            "use_cudnn",
            summary=(
                "'auto', True or False: whether keras LSTM may run NVIDIA's "
                "cuDNN kernel. ScratchLSTM accepts and saves it, and never "
                "uses cuDNN.",
                "'auto'・True・False。keras の LSTM が NVIDIA の cuDNN "
                "カーネルを使ってよいか。ScratchLSTM は受け取って保存するが、"
                "cuDNN は使わない。",
            ),
            forward=(
                "Not in the equations: it picks an implementation, not a "
                "result. keras LSTM with 'auto' runs cuDNN when there is a "
                "GPU and the configuration allows it (tanh, sigmoid, "
                "use_bias, no recurrent_dropout, no unroll), else its own "
                "loop; True demands cuDNN and raises otherwise. ScratchLSTM "
                "always runs its own loops, on any device.",
                "式には現れません。選ぶのは実装で、結果ではありません。keras "
                "の LSTM は 'auto' なら、GPU があり設定が許せば（tanh、"
                "sigmoid、use_bias、recurrent_dropout なし、unroll なし）"
                "cuDNN を使い、そうでなければ自前のループを使います。True は "
                "cuDNN を必須とし、使えなければエラーです。ScratchLSTM は"
                "どのデバイスでも常に自前のループで計算します。",
            ),
            forward_refs=(
                CodeRef(
                    _LSTM_LAYER,
                    "ScratchLSTM.__init__",
                    "self.use_cudnn = use_cudnn",
                ),
                CodeRef(
                    _LSTM_LAYER, "ScratchLSTM._run", "return scratch_lstm("
                ),
            ),
            backward=(
                "ScratchLSTM's gradient is always its handwritten BPTT "
                "(lstm_backward), whatever the value; cuDNN would bring a "
                "backward of its own.",
                "値が何であっても、ScratchLSTM の勾配は常に手書きの BPTT"
                "（lstm_backward）です。cuDNN を使えば、逆伝播も cuDNN "
                "自身のものになります。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS_API,
                    "scratch_lstm",
                    "return backend_module().scratch_lstm(",
                ),
                CodeRef(
                    _LSTM_MATH,
                    "lstm_step_backward",
                    "dx, dWx, dWh, db = weight_gradients(xp, x, h_prev, dA, "
                    "kernel, m, r)",
                ),
            ),
            mistake=(
                "Passing use_cudnn=True to keras LSTM on a machine without a "
                "GPU, or together with recurrent_dropout (or tanh gates, or "
                "unroll): it raises ValueError at the first call, while "
                "'auto' falls back silently. And keras LSTM's get_config() "
                "(Keras 3.15) forgets the value; ScratchLSTM.from_lstm and "
                "get_config keep it.",
                "GPU のないマシンで、あるいは recurrent_dropout（や tanh の"
                "ゲート、unroll）と一緒に、keras の LSTM に use_cudnn=True を"
                "渡すこと。最初の呼び出しで ValueError になります。'auto' なら"
                "黙って自前のループに切り替わります。また keras の LSTM の "
                "get_config()（Keras 3.15）は値を忘れます。ScratchLSTM の "
                "from_lstm と get_config は保存します。",
            ),
            cell="lstm",
        ),
        Topic(
            "gate_order",
            summary=(
                "The book packs the four gates as f, g, i, o; Keras as i, f, "
                "c, o, where Keras's c is the book's g. book_to_keras_lstm "
                "converts.",
                "本は 4 つのゲートを f, g, i, o の順に並べ、Keras は i, f, c, "
                "o の順に並べる（Keras の c は本の g）。book_to_keras_lstm で"
                "変換する。",
            ),
            forward=(
                "Wx (D, 4H), Wh (H, 4H) and b (4H,) hold the four gates' "
                "weights side by side in column blocks of H. The book slices "
                "A as f = A[:, :H], g = A[:, H:2H], i = A[:, 2H:3H], "
                "o = A[:, 3H:]; ScratchLSTM and keras LSTM split it as i, f, "
                "g, o. The equations are the same; only the columns move.",
                "Wx (D, 4H)、Wh (H, 4H)、b (4H,) には 4 つのゲートの重みが H "
                "列ずつのブロックとして横に並んでいます。本は A を "
                "f = A[:, :H]、g = A[:, H:2H]、i = A[:, 2H:3H]、o = A[:, 3H:] "
                "と切り出し、ScratchLSTM と keras の LSTM は i, f, g, o の順に"
                "分けます。式は同じで、列の位置が違うだけです。",
            ),
            forward_refs=(
                CodeRef(_LSTM_REF, "LSTM.forward", "f = sigmoid(A[:, :H])"),
                CodeRef(
                    _LSTM_REF, "LSTM.forward", "g = np.tanh(A[:, H : 2 * H])"
                ),
                CodeRef(
                    _LSTM_MATH,
                    "step_forward",
                    "a_i, a_f, a_g, a_o = xp.split(A, 4)",
                ),
                CodeRef(
                    _LSTM_REF,
                    "book_to_keras_lstm",
                    "return tuple(_permute_blocks(a, _KERAS_FROM_BOOK) for a "
                    "in (Wx, Wh, b))",
                ),
            ),
            backward=(
                "The book stacks the gates' gradients in its order, "
                "dA = hstack(df, dg, di, do); lstm_math concatenates them in "
                "Keras's, i, f, g, o. So dWx = x^T dA comes out in each one's "
                "own order, and book_to_keras_lstm converts the book's "
                "gradients as it converts its weights.",
                "本はゲートの勾配を自分の順序で dA = hstack(df, dg, di, do) と"
                "並べ、lstm_math は Keras の順序 i, f, g, o で連結します。"
                "したがって dWx = x^T dA はそれぞれの順序で得られ、本の勾配は"
                "重みと同じく book_to_keras_lstm で変換できます。",
            ),
            backward_refs=(
                CodeRef(
                    _LSTM_REF,
                    "LSTM.backward",
                    "dA = np.hstack((df, dg, di, do))",
                ),
                CodeRef(
                    _LSTM_MATH,
                    "step_backward",
                    "activation_backward(xp, di, i, a_i, gate)",
                ),
            ),
            mistake=(
                "Copying the book's Wx, Wh, b into a Keras LSTM (or the "
                "reverse) without reordering: the shapes match, so nothing "
                "complains, but each gate gets another gate's weights (Keras's "
                "input gate gets the book's forget gate) and the outputs are "
                "wrong. Use book_to_keras_lstm and keras_to_book_lstm. "
                "PyTorch's nn.LSTM orders i, f, g, o like Keras, but stores "
                "the weights transposed, (4H, D), with two biases.",
                "本の Wx, Wh, b を並べ替えずに Keras の LSTM にコピーすること"
                "（逆向きも同じ）。形は合うので何のエラーも出ませんが、各ゲート"
                "に別のゲートの重みが入り（Keras の入力ゲートに本の忘却ゲート"
                "の重み）、出力が誤ります。book_to_keras_lstm と "
                "keras_to_book_lstm を使いましょう。PyTorch の nn.LSTM は "
                "Keras と同じ i, f, g, o の順ですが、重みは転置 (4H, D) で、"
                "バイアスが 2 つあります。",
            ),
            cell="lstm",
        ),
    )
}


@dataclasses.dataclass(frozen=True)
class Note:
    """What changes for an LSTM in a SimpleRNN topic: `text` `(en, ja)`
    and the code lines (`CodeRef`) that show it."""

    text: tuple
    refs: tuple = ()


LSTM_NOTES = {
    "units": Note(
        (
            "Four gates side by side: kernel is (D, 4H), recurrent_kernel "
            "(H, 4H), bias (4H,), so an LSTM has 4 (D H + H H + H) "
            "parameters, four times a SimpleRNN of the same units. H is the "
            "width of both states, h and c.",
            "4 つのゲートが横に並ぶので、kernel は (D, 4H)、recurrent_kernel "
            "は (H, 4H)、bias は (4H,) です。パラメータ数は "
            "4 (D H + H H + H) で、同じ units の SimpleRNN の 4 倍です。H は "
            "2 つの状態 h と c の両方の幅です。",
        ),
        (
            CodeRef(_LSTM_CELL, "ScratchLSTMCell", "gates = 4"),
            CodeRef(
                _LSTM_MATH,
                "step_forward",
                "a_i, a_f, a_g, a_o = xp.split(A, 4)",
            ),
        ),
    ),
    "activation": Note(
        (
            "It acts twice per step: on the candidate, g = act(A_g), and on "
            "the cell's output, h_t = o * act(c_t). The gates i, f, o use "
            "recurrent_activation instead. With None both are linear, "
            "h_t = o * c_t, and c can grow without bound. The backward "
            "differentiates both places.",
            "1 時刻に 2 回掛かります。候補 g = act(A_g) と、セルの出力 "
            "h_t = o * act(c_t) です。ゲート i・f・o には代わりに "
            "recurrent_activation が掛かります。None ではどちらも線形になり "
            "h_t = o * c_t で、c は際限なく大きくなりえます。逆伝播は両方の"
            "箇所を微分します。",
        ),
        (
            CodeRef(
                _LSTM_MATH,
                "step_forward",
                "g = activate(xp, a_g, options.activation)",
            ),
            CodeRef(
                _LSTM_MATH,
                "step_forward",
                "h = o * activate(xp, c, options.activation)",
            ),
            CodeRef(
                _LSTM_MATH,
                "step_backward",
                "tanh_c = activate(xp, c_t, options.activation)",
            ),
        ),
    ),
    "use_bias": Note(
        (
            "b is (4H,), one block per gate in the order i, f, g, o; "
            "unit_forget_bias starts the f block at 1. keras LSTM's cuDNN "
            "kernel needs use_bias=True (see use_cudnn).",
            "b は (4H,) で、ゲートごとに i, f, g, o の順に 1 ブロックずつ"
            "です。unit_forget_bias は f のブロックを 1 から始めます。keras "
            "の LSTM の cuDNN カーネルには use_bias=True が必要です"
            "（use_cudnn を参照）。",
        ),
        (CodeRef(_LSTM_MATH, "input_projection", "xa = xa + bias"),),
    ),
    "initializers": Note(
        (
            "They draw the four gates' blocks at once. Orthogonal makes the "
            "rows of the whole (H, 4H) recurrent_kernel orthonormal, so no "
            "gate's (H, H) block is orthogonal by itself (its singular values "
            "are below 1). bias_initializer draws b, but with "
            "unit_forget_bias=True (the default) the forget gate's block "
            "starts at 1 instead.",
            "4 つのゲートのブロックをまとめて引きます。Orthogonal は (H, 4H) "
            "の recurrent_kernel 全体の行を正規直交にするので、ゲートごとの "
            "(H, H) ブロックは単独では直交行列になりません（特異値は 1 未満）。"
            "b は bias_initializer が引きますが、unit_forget_bias=True"
            "（既定）なら忘却ゲートのブロックだけは 1 から始まります。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchCell.build",
                "shape=(self.units, self.gates * self.units),",
            ),
            CodeRef(
                _LSTM_CELL,
                "ScratchLSTMCell._bias_initializer",
                "return forget_bias_initializer(self)",
            ),
        ),
    ),
    "regularizers": Note(
        (
            "The same, on the wider weights: recurrent_regularizer penalizes "
            "all four gates' blocks of Wh (H, 4H) together. "
            "activity_regularizer penalizes the output h, not c. Unlike "
            "SimpleRNN, keras LSTM (Keras 3.15) does apply "
            "activity_regularizer, as ScratchLSTM does.",
            "幅の広い重みに同じように掛かります。recurrent_regularizer は "
            "Wh (H, 4H) の 4 つのゲートのブロックをまとめて罰します。"
            "activity_regularizer が罰するのは出力 h で、c ではありません。"
            "SimpleRNN と違い、keras の LSTM（Keras 3.15）は "
            "activity_regularizer を適用します。ScratchLSTM も同じです。",
        ),
        (
            CodeRef(
                _BASE,
                "layer_options",
                'options["activity_regularizer"] = get_option(',
            ),
        ),
    ),
    "constraints": Note(
        (
            "The same, on the whole arrays (D, 4H), (H, 4H) and (4H,) after "
            "each update: MaxNorm(axis=0) rescales each of the 4H columns, "
            "that is each unit of each gate separately.",
            "更新のたびに配列 (D, 4H)・(H, 4H)・(4H,) 全体に同じように"
            "掛かります。MaxNorm(axis=0) は 4H 個の列、つまり各ゲートの各"
            "ユニットを別々に縮めます。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchCell.build",
                "constraint=self.recurrent_constraint,",
            ),
        ),
    ),
    "dropout": Note(
        (
            "Without recurrent_dropout one mask (N, D) multiplies x_t before "
            "all four gates. With recurrent_dropout (Keras's implementation "
            "1) each gate gets its own input mask, (N, 4, D): gate k sees "
            "(x_t * m_k) Wx_k. And dropout=1.0 drops nothing in an LSTM "
            "(keras LSTM applies masks only for rates below 1, and so does "
            "ScratchLSTM), while SimpleRNN with 1.0 zeroes every input.",
            "recurrent_dropout がなければ、1 つのマスク (N, D) が 4 つの"
            "ゲートすべての前で x_t に掛かります。recurrent_dropout があると"
            "（Keras の implementation 1）、ゲートごとに別の入力マスク "
            "(N, 4, D) を使い、ゲート k は (x_t * m_k) Wx_k を計算します。"
            "また LSTM では dropout=1.0 は何も落としません（keras の LSTM は"
            "割合が 1 未満のときだけマスクを掛け、ScratchLSTM も同じです）。"
            "SimpleRNN では 1.0 ですべての入力が 0 になります。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer._gate_dropout_masks",
                "masks.append(mask if training and rate < 1 else None)",
            ),
            CodeRef(
                _LSTM_MATH,
                "project",
                "xp.matmul(v * m[:, k], W_k)",
            ),
        ),
    ),
    "recurrent_dropout": Note(
        (
            "h_{t-1} is masked on its way into Wh with one mask per gate, "
            "(N, 4, H), fixed for the sequence: recurrent_dropout switches "
            "the layer to Keras's implementation 1 (the four gates' matmuls "
            "apart) and draws four masks per kind. c is never masked; in the "
            "backward each gate's share of dh_prev passes through its own "
            "mask. As for dropout, a rate of 1.0 drops nothing.",
            "h_{t-1} は Wh に入る前に、ゲートごとに別のマスク (N, 4, H) を"
            "掛けられます。マスクは系列を通して固定です。recurrent_dropout が"
            "あるとレイヤは Keras の implementation 1（4 つのゲートの行列積を"
            "別々に計算）に切り替わり、種類ごとに 4 つのマスクを引きます。c "
            "にマスクは掛かりません。逆伝播では dh_prev の各ゲートの分が"
            "それぞれのマスクを通ります。dropout と同じく、割合 1.0 は何も"
            "落としません。",
        ),
        (
            CodeRef(
                _LSTM_CELL,
                "ScratchLSTMCell.__init__",
                "self.implementation = 1 if self.recurrent_dropout else "
                "implementation",
            ),
            CodeRef(
                _LSTM_MATH,
                "step_forward",
                "A = xa_t + project(xp, h_prev, recurrent_kernel, r)",
            ),
            CodeRef(
                _LSTM_MATH,
                "project_input_gradient",
                "dv_k = xp.matmul_tb(dA_k, W_k) * m[:, k]",
            ),
        ),
    ),
    "seed": Note(
        (
            "The same generator. With dropout and recurrent_dropout both set "
            "it draws eight masks per call (four of each kind), as keras "
            "LSTM does, so equal seeds give equal masks. Unlike SimpleRNN's, "
            "keras LSTM's get_config() keeps the seed.",
            "乱数生成器は同じです。dropout と recurrent_dropout の両方がある"
            "と、keras の LSTM と同じく呼び出しごとに 8 つのマスク（種類ごとに"
            " 4 つ）を引くので、同じ seed なら同じマスクになります。SimpleRNN "
            "と違い、keras の LSTM の get_config() は seed を保存します。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer._gate_dropout_masks",
                "self._draw_dropout_mask(x, rate, width)",
            ),
        ),
    ),
    "return_sequences": Note(
        (
            "The same: h_t for every t, (N, T, H), or the last one. c_t is "
            "never an output; only return_state gives the last c.",
            "同じです。全時刻の h_t (N, T, H) か、最後の 1 つを返します。c_t "
            "は出力にはならず、最後の c は return_state でだけ得られます。",
        ),
        (
            CodeRef(
                _LSTM_LAYER,
                "ScratchLSTM._run",
                "return_sequences=self.return_sequences,",
            ),
        ),
    ),
    "return_state": Note(
        (
            "Two states: the result is a tuple of three, (output, h_{T-1}, "
            "c_{T-1}), so output, h, c = layer(x). h is the last output; c "
            "is the memory cell. A gradient arriving at the returned c is "
            "where the reverse loop's dc starts.",
            "状態が 2 つあるので、戻り値は 3 つ組のタプル (出力, h_{T-1}, "
            "c_{T-1}) です: output, h, c = layer(x)。h は最後の出力、c は"
            "記憶セルです。返した c に届いた勾配が、逆向きのループの dc の"
            "初期値になります。",
        ),
        (
            CodeRef(_BASE, "ScratchLayer.call", "return output, *last"),
            CodeRef(
                _OPS_API,
                "lstm_backward",
                "d_outputs, None, dh_last, dc_last, x, h0, c0, kernel,",
            ),
        ),
    ),
    "go_backwards": Note(
        (
            "The same: x is flipped before the loop, and h and c both run "
            "over the reversed sequence.",
            "同じです。ループの前に x を反転し、h と c はどちらも反転した系列"
            "の上を進みます。",
        ),
        (CodeRef(_BASE, "ScratchLayer.call", "x = keras.ops.flip(x, axis=1)"),),
    ),
    "stateful": Note(
        (
            "Two stored states: layer.states is [h, c]; both carry into the "
            "next batch, reset_state() zeroes both and reset_state([h, c]) "
            "sets them. The book's TimeLSTM carries both as well "
            "(set_state(h, c)), and its backward too stops at the block "
            "boundary.",
            "保存する状態は 2 つで、layer.states は [h, c] です。両方が次の"
            "バッチに引き継がれ、reset_state() は両方を 0 にし、"
            "reset_state([h, c]) は両方を設定します。本の TimeLSTM も両方を"
            "引き継ぎ（set_state(h, c)）、その逆伝播もやはりブロックの境界で"
            "止まります。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer.call",
                "for variable, state in zip(self.states, last):",
            ),
            CodeRef(
                _LSTM_REF,
                "TimeLSTM.forward",
                "if not self.stateful or self.c is None:",
            ),
        ),
    ),
    "unroll": Note(
        (
            "The same: the numbers do not change. In keras LSTM, unroll=True "
            "also rules out the cuDNN kernel (see use_cudnn).",
            "同じです。値は変わりません。keras の LSTM では unroll=True だと "
            "cuDNN カーネルも使えません（use_cudnn を参照）。",
        ),
        (CodeRef(_LSTM_LAYER, "ScratchLSTM._run", "unroll=self.unroll,"),),
    ),
    "zero_output_for_mask": Note(
        (
            "The same, for the output only: at a masked step both h and c "
            "are carried, and y_t is 0 instead of y_{t-1}.",
            "同じく出力だけに効きます。マスクされた時刻では h と c の両方が"
            "引き継がれ、y_t は y_{t-1} の代わりに 0 になります。",
        ),
        (
            CodeRef(
                _LSTM_MATH,
                "step_forward",
                "y = xp.where(m_t, y, xp.zeros_like(y))",
            ),
        ),
    ),
    "initial_state": Note(
        (
            "A list of two, [h_{-1}, c_{-1}], each (batch, units); a single "
            "tensor raises ValueError. Its gradient is the pair (dh0, dc0): "
            "the reverse loop carries dc beside dh. The book's TimeLSTM "
            "starts c from zeros and keeps only dh (TimeLSTM.dh).",
            "[h_{-1}, c_{-1}] の 2 つからなるリストで、それぞれ "
            "(batch, units) です。テンソルを 1 つだけ渡すと ValueError です。"
            "勾配は (dh0, dc0) の組で、逆向きのループは dh と並べて dc を"
            "運びます。本の TimeLSTM は c を 0 から始め、dh だけを保存します"
            "（TimeLSTM.dh）。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer._initial_state",
                "return [self._checked_state(x, s, stored) for s in "
                "initial_state]",
            ),
            CodeRef(
                _LSTM_MATH,
                "lstm_step_backward",
                "return dx, dh_prev, dc_prev, dWx, dWh, db",
            ),
            CodeRef(_LSTM_REF, "TimeLSTM.backward", "self.dh = dh"),
        ),
    ),
    "mask": Note(
        (
            "A masked step keeps both states, h_t = h_{t-1} and "
            "c_t = c_{t-1}. In the backward its dA is 0, and dh and dc pass "
            "straight on to step t-1.",
            "マスクされた時刻は 2 つの状態をどちらも保ちます: "
            "h_t = h_{t-1}、c_t = c_{t-1}。逆伝播ではその時刻の dA は 0 で、"
            "dh と dc はそのまま時刻 t-1 へ渡ります。",
        ),
        (
            CodeRef(_LSTM_MATH, "step_forward", "c = xp.where(m_t, c, c_prev)"),
            CodeRef(
                _LSTM_MATH,
                "step_backward",
                "dA = xp.where(m_t, dA, xp.zeros_like(dA))",
            ),
            CodeRef(
                _LSTM_MATH,
                "step_backward",
                "dc_prev = xp.where(m_t, dc_prev, dc)",
            ),
        ),
    ),
    "training": Note(
        (
            "The same: the masks act only in training. Like keras LSTM, "
            "ScratchLSTM draws its masks at every call, in inference too, so "
            "that the seed generator advances alike and equal seeds keep "
            "giving equal masks.",
            "同じです。マスクが働くのは学習時だけです。keras の LSTM と同じく"
            "、ScratchLSTM は推論時も呼び出しのたびにマスクを引くので、乱数"
            "生成器が同じように進み、同じ seed なら同じマスクが続きます。",
        ),
        (
            CodeRef(
                _LSTM_CELL,
                "ScratchLSTMCell.call",
                "if training and 0.0 < self.dropout < 1.0:",
            ),
        ),
    ),
}

# ---------------------------------------------------------------------------
# The GRU (ScratchGRU, keras.layers.GRU): the arguments SimpleRNN lacks,
# each a topic with its demonstration, the book's z convention, and for
# every shared topic a note on what changes in a GRU. The GRU's own
# `recurrent_activation` and `use_cudnn` topics are named
# `gru_recurrent_activation` and `gru_use_cudnn` (the LSTM's own have the
# plain names); their arguments keep the plain names, so `explain --cell
# gru recurrent_activation` finds them.

_GRU_MATH, _GRU_LAYER, _GRU_CELL, _GRU_REF = (
    "ops/gru_math.py",
    "layers/scratch_gru.py",
    "layers/scratch_gru_cell.py",
    "reference/gru.py",
)

# The arguments of GRU/ScratchGRU that SimpleRNN/ScratchRNN lacks.
GRU_ARGUMENTS = (
    _args(
        "gru_recurrent_activation",
        [
            (
                "recurrent_activation",
                "'sigmoid'",
                (
                    "s of the gates z and r: each a share in (0, 1).",
                    "ゲート z・r の活性化関数 s。各ゲートは (0, 1) の割合。",
                ),
            )
        ],
    )
    + _args(
        "reset_after",
        [
            (
                "reset_after",
                "True",
                (
                    "r after the matmul, r * (h Wh + b_h), bias (2, 3H); "
                    "False: the book's.",
                    "r を行列積の後に掛ける: r * (h Wh + b_h)、bias (2, 3H)。"
                    "False は本の形。",
                ),
            )
        ],
    )
    + _args(
        "gru_use_cudnn",
        [
            (
                "use_cudnn",
                "'auto'",
                (
                    "Let GRU use cuDNN; ScratchGRU saves it, never uses it.",
                    "GRU に cuDNN を使わせるか。ScratchGRU は保存するだけ。",
                ),
            )
        ],
    )
)

# The one-line meanings that read otherwise for a GRU.
GRU_MEANINGS = {
    "activation": (
        "act of the candidate hh; the gates use recurrent_activation.",
        "候補 hh の活性化関数 act。ゲートには recurrent_activation。",
    ),
    "use_bias": (
        "Whether b, (2, 3H) or (3H,) by reset_after, is added.",
        "b（reset_after により (2, 3H) か (3H,)）を足すか。",
    ),
    "kernel_initializer": (
        "How the first Wx (D, 3H) is drawn.",
        "Wx (D, 3H) の初期値の決め方。",
    ),
    "recurrent_initializer": (
        "How the first Wh (H, 3H) is drawn (orthogonal rows).",
        "Wh (H, 3H) の初期値の決め方（行が正規直交）。",
    ),
    "bias_initializer": (
        "How the first b is drawn (both rows with reset_after).",
        "b の初期値の決め方（reset_after なら 2 行とも）。",
    ),
    **_GATED_MEANINGS,
}

# The arguments of ScratchGRU/GRU in their signature's order, then the
# call's.
GRU_ORDER = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "reset_after",
    "use_cudnn",
    "zero_output_for_mask",
    "initial_state",
    "mask",
    "training",
)

GRU_TOPICS = {
    topic.name: topic
    for topic in (
        Topic(
            "gru_recurrent_activation",
            summary=(
                "s, the activation of the gates z and r: default sigmoid, so "
                "each gate is a share between 0 and 1 and h_t a weighted "
                "average of h_{t-1} and the candidate.",
                "ゲート z・r の活性化関数 s。既定は sigmoid で、各ゲートは 0 と"
                " 1 の間の割合になり、h_t は h_{t-1} と候補の加重平均になる。",
            ),
            forward=(
                "z = s(x_t Wx_z + h_{t-1} Wh_z + b_z) says how much of h_{t-1} "
                "stays (Keras's convention; the book's z says how much of the "
                "candidate enters), r = s(...) how much of h_{t-1} the "
                "candidate hh sees. activation (tanh) acts on hh instead. "
                "None is linear.",
                "z = s(x_t Wx_z + h_{t-1} Wh_z + b_z) は h_{t-1} のどれだけを"
                "残すか（Keras の約束。本の z は候補のどれだけを入れるか）、"
                "r = s(...) は候補 hh が h_{t-1} のどれだけを見るかを決めます。"
                "hh には代わりに activation（tanh）が掛かります。None は恒等"
                "関数（線形）です。",
            ),
            forward_refs=(
                CodeRef(
                    _GRU_MATH,
                    "step_forward",
                    "z = activate(xp, a_z, options.recurrent_activation)",
                ),
                CodeRef(
                    _GRU_MATH,
                    "step_forward",
                    "r = activate(xp, a_r, options.recurrent_activation)",
                ),
                CodeRef(
                    _GRU_MATH,
                    "step_forward",
                    "h = z * h_prev + (1.0 - z) * hh",
                ),
                CodeRef(
                    _GRU_REF,
                    "GRU.forward",
                    "z = sigmoid(x @ Wxz + h_prev @ Whz)",
                ),
            ),
            backward=(
                "Each gate's gradient is multiplied by s'(a): for sigmoid "
                "s' = s (1 - s), from the kept gate as in the book "
                "(dt = dz * z * (1 - z)). tanh, relu and linear are "
                "handwritten too; any other activation is differentiated "
                "locally, by the backend's autodiff.",
                "各ゲートの勾配には s'(a) が掛かります。sigmoid なら "
                "s' = s (1 - s) で、本と同じく保存しておいたゲートの値から計算"
                "します（dt = dz * z * (1 - z)）。tanh・relu・linear の微分も"
                "手書きで、それ以外の活性化関数はバックエンドの自動微分で局所的"
                "に微分します。",
            ),
            backward_refs=(
                CodeRef(
                    _GRU_MATH,
                    "step_backward",
                    "da_z = activation_backward(xp, dz, z, a_z, gate)",
                ),
                CodeRef(
                    _GRU_MATH,
                    "step_backward",
                    "da_r = activation_backward(xp, dr, r, a_r, gate)",
                ),
                CodeRef(_GRU_REF, "GRU.backward", "dt = dz * z * (1 - z)"),
            ),
            mistake=(
                "Setting it to tanh like activation. z is meant as a share: "
                "h_t = z h_{t-1} + (1 - z) hh is a weighted average only for "
                "z in (0, 1). A tanh gate reaches -1, so 1 - z reaches 2 and "
                "h leaves the range (-1, 1) that tanh keeps it in; at a "
                "pre-activation of 0 it is 0 where sigmoid is 0.5, and h_{t-1} "
                "is forgotten at once. keras GRU's cuDNN kernel also needs "
                "sigmoid (see gru_use_cudnn).",
                "activation と同じつもりで tanh にすること。z は割合として働く"
                "ものです。h_t = z h_{t-1} + (1 - z) hh が加重平均になるのは z "
                "が (0, 1) にあるときだけです。tanh "
                "のゲートは -1 まで下がるので "
                "1 - z は 2 まで上がり、h は tanh が保つ範囲 (-1, 1) の外に"
                "出ます。活性化前の値が 0 のとき、sigmoid なら 0.5 のところが "
                "tanh では 0 になり、h_{t-1} "
                "は一度に忘れられます。また keras の"
                " GRU の cuDNN カーネルは sigmoid でなければ使えません"
                "（gru_use_cudnn を参照）。",
            ),
            cell="gru",
        ),
        Topic(
            "reset_after",
            summary=(
                "Where the reset gate r multiplies: True (Keras's default) "
                "after the matmul, r * (h_{t-1} Wh_h + b_hh), with a bias "
                "(2, 3H); False before it, (r * h_{t-1}) Wh_h, as the book "
                "does, with a bias (3H,). Two different functions.",
                "リセットゲート r を掛ける場所。True（Keras の既定）は行列積の"
                "後で r * (h_{t-1} Wh_h + b_hh)、bias は (2, 3H)。False は"
                "本と同じく行列積の前で (r * h_{t-1}) Wh_h、bias は (3H,)。"
                "2 つは別の関数。",
            ),
            forward=(
                "Only the candidate changes. With True, R = h_{t-1} Wh + b_h "
                "is one matmul for all three gates and "
                "hh = act(x Wx_h + b_xh + r * R_h): r scales each unit of the "
                "product, and the bias has two rows, b_x (added to x Wx) and "
                "b_h (added to h Wh, inside r's product). With False, "
                "hh = act(x Wx_h + (r * h_{t-1}) Wh_h + b_h): r scales "
                "h_{t-1} first, so the candidate needs its own matmul, and "
                "the bias is one row. z and r are the same in both.",
                "変わるのは候補だけです。True では R = h_{t-1} Wh + b_h を 3 つ"
                "のゲートまとめて 1 回の行列積で求め、"
                "hh = act(x Wx_h + b_xh + r * R_h) とします。r は積の各ユニット"
                "に掛かり、バイアスは 2 行で、b_x は x Wx に、b_h は h Wh に"
                "（r の積の内側で）足されます。False では "
                "hh = act(x Wx_h + (r * h_{t-1}) Wh_h + b_h) で、r が先に "
                "h_{t-1} に掛かるので候補には別の行列積が要り、バイアスは 1 行"
                "です。z と r はどちらでも同じです。",
            ),
            forward_refs=(
                CodeRef(_GRU_MATH, "step_forward", "a_h = X_h + r * R_h"),
                CodeRef(
                    _GRU_MATH,
                    "step_forward",
                    "xp, r * h_prev, Wh_h, _gates_of(r_mask, 2, 3), gates=1",
                ),
                CodeRef(_GRU_MATH, "split_bias", "return bias[0], bias[1]"),
                CodeRef(
                    _GRU_CELL,
                    "ScratchGRUCell._bias_shape",
                    "return (2, 3 * self.units)",
                ),
                CodeRef(
                    _GRU_REF,
                    "GRU.forward",
                    "h_hat = np.tanh(x @ Wxh + (r * h_prev) @ Whh)",
                ),
            ),
            backward=(
                "The gradient of r differs. With True, a_h = X_h + r R_h "
                "gives dr = da_h * R_h and dR_h = da_h * r, and one matmul, "
                "dR Wh^T, carries all three gates back to h_{t-1}. With "
                "False, dv = da_h Wh_h^T is the gradient of r * h_{t-1}: "
                "dr = dv * h_{t-1}, and h_{t-1} gets dv * r besides, as in "
                "the book (dhr = dt @ Whh.T, dh_prev += r * dhr).",
                "r の勾配が違います。True では a_h = X_h + r R_h から "
                "dr = da_h * R_h、dR_h = da_h * r となり、1 回の行列積 "
                "dR Wh^T で 3 つのゲートまとめて h_{t-1} に戻します。False では"
                " dv = da_h Wh_h^T が r * h_{t-1} の勾配で、dr = dv * h_{t-1}、"
                "さらに h_{t-1} には dv * r が加わります。本と同じです"
                "（dhr = dt @ Whh.T、dh_prev += r * dhr）。",
            ),
            backward_refs=(
                CodeRef(_GRU_MATH, "step_backward", "dr = da_h * R_h"),
                CodeRef(_GRU_MATH, "step_backward", "dR_h = da_h * r"),
                CodeRef(_GRU_MATH, "step_backward", "dr = dv * h_prev"),
                CodeRef(
                    _GRU_MATH, "step_backward", "dh_prev = dh_prev + dv * r"
                ),
                CodeRef(_GRU_REF, "GRU.backward", "dh_prev += r * dhr"),
            ),
            mistake=(
                "Taking the two forms for one layer: loading weights trained "
                "with one into the other (set_weights refuses the bias shape, "
                "but with use_bias=False the shapes match and the outputs "
                "silently change), or expecting the book's weights to fit "
                "Keras's default. The book's GRU is reset_after=False; "
                "keras_to_book_gru refuses reset_after=True. And only "
                "reset_after=True runs on cuDNN: keras GRU with "
                "reset_after=False and use_cudnn=True raises on any machine.",
                "2 つの形を同じレイヤだと思うこと。一方で学習した重みを"
                "もう一方に読み込む（set_weights はバイアスの形で拒みますが、"
                "use_bias=False なら形が合い、出力が黙って変わります）、"
                "あるいは本の重みが Keras の既定の形に合うと思うことです。本の "
                "GRU は reset_after=False で、keras_to_book_gru は "
                "reset_after=True を拒みます。また cuDNN で動くのは "
                "reset_after=True だけで、keras の GRU を reset_after=False と"
                " use_cudnn=True で使うと、どのマシンでもエラーになります。",
            ),
            cell="gru",
        ),
        Topic(
            "gru_use_cudnn",
            summary=(
                "'auto', True or False: whether keras GRU may run NVIDIA's "
                "cuDNN kernel. ScratchGRU accepts and saves it, and never "
                "uses cuDNN.",
                "'auto'・True・False。keras の GRU が NVIDIA の cuDNN "
                "カーネルを使ってよいか。ScratchGRU は受け取って保存するが、"
                "cuDNN は使わない。",
            ),
            forward=(
                "Not in the equations: it picks an implementation, not a "
                "result. keras GRU with 'auto' runs cuDNN when there is a GPU "
                "and the configuration allows it (tanh, sigmoid, use_bias, "
                "reset_after=True, no recurrent_dropout, no unroll), else its "
                "own loop; True demands cuDNN and raises otherwise. "
                "ScratchGRU always runs its own loops, on any device.",
                "式には現れません。選ぶのは実装で、結果ではありません。keras "
                "の GRU は 'auto' なら、GPU があり設定が許せば（tanh、sigmoid、"
                "use_bias、reset_after=True、recurrent_dropout なし、unroll "
                "なし）cuDNN を使い、そうでなければ自前のループを使います。"
                "True は cuDNN を必須とし、使えなければエラーです。ScratchGRU "
                "はどのデバイスでも常に自前のループで計算します。",
            ),
            forward_refs=(
                CodeRef(
                    _GRU_LAYER,
                    "ScratchGRU.__init__",
                    "self.use_cudnn = use_cudnn",
                ),
                CodeRef(_GRU_LAYER, "ScratchGRU._run", "return scratch_gru("),
            ),
            backward=(
                "ScratchGRU's gradient is always its handwritten BPTT "
                "(gru_backward), whatever the value; cuDNN would bring a "
                "backward of its own.",
                "値が何であっても、ScratchGRU の勾配は常に手書きの BPTT"
                "（gru_backward）です。cuDNN を使えば、逆伝播も cuDNN 自身の"
                "ものになります。",
            ),
            backward_refs=(
                CodeRef(
                    _OPS_API,
                    "scratch_gru",
                    "return backend_module().scratch_gru(",
                ),
                CodeRef(
                    _GRU_MATH,
                    "gru_step_backward",
                    "return dx, dh_prev, dWx, dWh, db_x, db_h",
                ),
            ),
            mistake=(
                "Passing use_cudnn=True to keras GRU on a machine without a "
                "GPU, or with reset_after=False (the book's form), "
                "recurrent_dropout, a tanh gate or unroll: it raises "
                "ValueError at the first call, while 'auto' falls back "
                "silently. And keras GRU's get_config() (Keras 3.15) forgets "
                "the value; ScratchGRU.from_gru and get_config keep it.",
                "GPU のないマシンで、あるいは reset_after=False（本の形）、"
                "recurrent_dropout、tanh のゲート、unroll と一緒に、keras の "
                "GRU に use_cudnn=True を渡すこと。最初の呼び出しで ValueError "
                "になります。'auto' なら黙って自前のループに切り替わります。"
                "また keras の GRU の get_config()（Keras "
                "3.15）は値を忘れます。"
                "ScratchGRU の from_gru と get_config は保存します。",
            ),
            cell="gru",
        ),
        Topic(
            "z_convention",
            summary=(
                "The book computes h = (1 - z) h_{t-1} + z hh, Keras "
                "h = z h_{t-1} + (1 - z) hh: Keras's z is the book's 1 - z. "
                "book_to_keras_gru negates the z columns; a bias and "
                "reset_after=True have no book form.",
                "本は h = (1 - z) h_{t-1} + z hh、Keras は "
                "h = z h_{t-1} + (1 - z) hh を計算する。Keras の z は本の "
                "1 - z。book_to_keras_gru は z の列の符号を反転する。バイアスと"
                " reset_after=True は本の形にならない。",
            ),
            forward=(
                "Both pack Wx (D, 3H) and Wh (H, 3H) as z, r, h in column "
                "blocks of H. Since 1 - s(a) = s(-a), the book's z = s(a) "
                "is Keras's 1 - z when Keras's pre-activation is -a: negating "
                "the z columns of Wx and Wh (and a zero bias, as the book has "
                "none) makes ScratchGRU(reset_after=False) compute the book's "
                "TimeGRU exactly. The conversion is its own inverse.",
                "どちらも Wx (D, 3H) と Wh (H, 3H) を z, r, h の順に H 列ずつの"
                "ブロックとして並べます。1 - s(a) = "
                "s(-a) なので、Keras の活性化"
                "前の値が -a なら、本の z = s(a) は Keras の 1 - z になります。"
                "Wx と Wh の z の列の符号を反転し（本にはバイアスがないので"
                "バイアスは 0）、ScratchGRU(reset_after=False) "
                "に入れると、本の "
                "TimeGRU とまったく同じ計算になります。"
                "この変換は 2 回行うと元に"
                "戻ります。",
            ),
            forward_refs=(
                CodeRef(
                    _GRU_REF,
                    "GRU.forward",
                    "h_next = (1 - z) * h_prev + z * h_hat",
                ),
                CodeRef(
                    _GRU_MATH,
                    "step_forward",
                    "h = z * h_prev + (1.0 - z) * hh",
                ),
                CodeRef(_GRU_REF, "_negate_z", "W[:, :H] = -W[:, :H]"),
                CodeRef(
                    _GRU_REF,
                    "book_to_keras_gru",
                    "return _negate_z(Wx, H), _negate_z(Wh, H), bias",
                ),
            ),
            backward=(
                "The book's dh_hat = dh_next * z and dh_prev = dh_next * "
                "(1 - z) are gru_math's dhh = dh (1 - z) and dh_prev = dh z, "
                "z read the other way; dz changes sign with it (the book's "
                "dh_next * (h_hat - h_prev), gru_math's dh (h_{t-1} - hh)). "
                "So the gradients of the z columns are negated too, and "
                "book_to_keras_gru converts the book's gradients as it "
                "converts its weights.",
                "本の dh_hat = dh_next * z と dh_prev = dh_next * (1 - z) は、"
                "z を逆に読んだ gru_math の dhh = dh (1 - z) と dh_prev = dh z "
                "です。dz もそれに合わせて符号が変わります（本は "
                "dh_next * (h_hat - h_prev)、gru_math は dh (h_{t-1} - hh)）。"
                "したがって z の列の勾配も符号が反転し、本の勾配は重みと同じく "
                "book_to_keras_gru で変換できます。",
            ),
            backward_refs=(
                CodeRef(_GRU_REF, "GRU.backward", "dh_hat = dh_next * z"),
                CodeRef(
                    _GRU_REF, "GRU.backward", "dh_prev = dh_next * (1 - z)"
                ),
                CodeRef(_GRU_MATH, "step_backward", "dhh = dh_t * (1.0 - z)"),
                CodeRef(
                    _GRU_MATH, "step_backward", "dz = dh_t * (h_prev - hh)"
                ),
            ),
            mistake=(
                "Copying the book's Wx, Wh into a Keras GRU as they are: the "
                "shapes fit (with a zero bias), nothing complains, and every "
                "step keeps the wrong share of h_{t-1}. Or converting the "
                "other way a GRU with reset_after=True (Keras's default) or a "
                "trained bias: no book weights compute that function, and "
                "keras_to_book_gru raises instead of returning something "
                "close. Use book_to_keras_gru into "
                "ScratchGRU(reset_after=False). PyTorch's nn.GRU keeps z of "
                "h_{t-1} like Keras, h' = (1 - z) n + z h, but orders its "
                "blocks r, z, n, applies r after the matmul (as "
                "reset_after=True) and stores the weights transposed, "
                "(3H, D).",
                "本の Wx, Wh をそのまま Keras の GRU にコピーすること。形は合い"
                "（バイアスは 0）、何のエラーも出ず、各時刻で h_{t-1} を残す"
                "割合が逆になります。あるいは reset_after=True（Keras の既定）"
                "や学習済みのバイアスを持つ GRU "
                "を本の形に変換しようとすること。"
                "その関数を計算する本の重みはなく、keras_to_book_gru は近い値を"
                "返す代わりに ValueError を出します。book_to_keras_gru で変換"
                "して ScratchGRU(reset_after=False) に入れましょう。PyTorch の "
                "nn.GRU は Keras と同じく h_{t-1} の z を残します"
                "（h' = (1 - z) n + z h）が、ブロックの順序は r, z, n で、r は"
                "行列積の後に掛け（reset_after=True と同じ）、重みは転置した "
                "(3H, D) で持ちます。",
            ),
            cell="gru",
        ),
    )
}

GRU_NOTES = {
    "units": Note(
        (
            "Three blocks side by side, z, r, h: kernel is (D, 3H), "
            "recurrent_kernel (H, 3H), and the bias (2, 3H) with "
            "reset_after=True (the default) or (3H,) with False. So a GRU "
            "has 3 (D H + H H) + 6H parameters, or 3 (D H + H H + H): three "
            "times a SimpleRNN's weights, three quarters of an LSTM's. H is "
            "the width of its one state h.",
            "z, r, h の 3 つのブロックが横に並ぶので、kernel は (D, 3H)、"
            "recurrent_kernel は (H, 3H)、bias は reset_after=True（既定）なら "
            "(2, 3H)、False なら (3H,) です。パラメータ数は "
            "3 (D H + H H) + 6H、または 3 (D H + H H + H) で、重みは "
            "SimpleRNN の 3 倍、LSTM の 4 分の 3 です。H は唯一の状態 h の幅"
            "です。",
        ),
        (
            CodeRef(_GRU_CELL, "ScratchGRUCell", "gates = 3"),
            CodeRef(
                _GRU_MATH, "step_forward", "X_z, X_r, X_h = xp.split(X_t, 3)"
            ),
        ),
    ),
    "activation": Note(
        (
            "It acts once per step, on the candidate: hh = act(a_h). The "
            "gates z and r use recurrent_activation. h_t = z h_{t-1} + "
            "(1 - z) hh is then a weighted average, so with tanh and "
            "sigmoid gates h stays in (-1, 1); with None the candidate is "
            "linear and h can grow without bound.",
            "1 時刻に 1 回、候補に掛かります: hh = act(a_h)。ゲート z と r "
            "には recurrent_activation が掛かります。h_t = z h_{t-1} + "
            "(1 - z) hh は加重平均なので、tanh と sigmoid のゲートなら h は "
            "(-1, 1) に収まります。None では候補が線形になり、h は際限なく"
            "大きくなりえます。",
        ),
        (
            CodeRef(
                _GRU_MATH,
                "step_forward",
                "hh = activate(xp, a_h, options.activation)",
            ),
            CodeRef(
                _GRU_MATH,
                "step_backward",
                "da_h = activation_backward(xp, dhh, hh, a_h, "
                "options.activation)",
            ),
        ),
    ),
    "use_bias": Note(
        (
            "With reset_after=True b has two rows: b_x, added to x Wx, and "
            "b_h, added to h_{t-1} Wh; for z and r only their sum counts, "
            "while the candidate's b_h is scaled by r. With False, one "
            "(3H,). The book's GRU has no bias at all. keras GRU's cuDNN "
            "kernel needs use_bias=True (see gru_use_cudnn).",
            "reset_after=True では b は 2 行です。b_x は x Wx に、b_h は "
            "h_{t-1} Wh に足されます。z と r では 2 つの和だけが効きますが、"
            "候補の b_h には r が掛かります。False では (3H,) の 1 つです。本"
            "の GRU にはバイアスがまったくありません。keras の GRU の cuDNN "
            "カーネルには use_bias=True が必要です（gru_use_cudnn を参照）。",
        ),
        (
            CodeRef(_GRU_MATH, "input_projection", "X = X + bias"),
            CodeRef(_GRU_MATH, "step_forward", "R = R + recurrent_bias"),
            CodeRef(_GRU_MATH, "split_bias", "return bias[0], bias[1]"),
        ),
    ),
    "initializers": Note(
        (
            "They draw the three blocks at once. Orthogonal makes the rows "
            "of the whole (H, 3H) recurrent_kernel orthonormal, so no "
            "gate's (H, H) block is orthogonal by itself (its singular "
            "values are below 1). bias_initializer draws the whole bias, "
            "both rows with reset_after=True; the GRU has no "
            "unit_forget_bias.",
            "3 つのブロックをまとめて引きます。Orthogonal は (H, 3H) の "
            "recurrent_kernel 全体の行を正規直交にするので、ゲートごとの "
            "(H, H) ブロックは単独では直交行列になりません（特異値は 1 未満）。"
            "bias_initializer はバイアス全体を引きます（reset_after=True なら "
            "2 行とも）。GRU に unit_forget_bias はありません。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchCell.build",
                "shape=(self.units, self.gates * self.units),",
            ),
            CodeRef(
                _GRU_CELL,
                "ScratchGRUCell._bias_shape",
                "return (2, 3 * self.units)",
            ),
        ),
    ),
    "regularizers": Note(
        (
            "The same, on the wider weights: recurrent_regularizer "
            "penalizes the three blocks of Wh (H, 3H) together, "
            "bias_regularizer both rows of a (2, 3H) bias. Unlike "
            "SimpleRNN, keras GRU (Keras 3.15) does apply "
            "activity_regularizer, as ScratchGRU does.",
            "幅の広い重みに同じように掛かります。recurrent_regularizer は "
            "Wh (H, 3H) の 3 つのブロックをまとめて、bias_regularizer は "
            "(2, 3H) のバイアスの 2 行とも罰します。SimpleRNN と違い、keras "
            "の GRU（Keras 3.15）は activity_regularizer を適用します。"
            "ScratchGRU も同じです。",
        ),
        (
            CodeRef(
                _BASE,
                "layer_options",
                'options["activity_regularizer"] = get_option(',
            ),
        ),
    ),
    "constraints": Note(
        (
            "The same, on the whole arrays (D, 3H), (H, 3H) and the bias "
            "after each update: MaxNorm(axis=0) rescales each of the 3H "
            "columns of the kernels, that is each unit of each gate "
            "separately.",
            "更新のたびに配列 (D, 3H)・(H, 3H) とバイアス全体に同じように"
            "掛かります。MaxNorm(axis=0) はカーネルの 3H 個の列、つまり各"
            "ゲートの各ユニットを別々に縮めます。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchCell.build",
                "constraint=self.recurrent_constraint,",
            ),
        ),
    ),
    "dropout": Note(
        (
            "Without recurrent_dropout one mask (N, D) multiplies x_t before "
            "all three gates. With recurrent_dropout (Keras's implementation "
            "1) each gate gets its own input mask, (N, 3, D). As in the "
            "LSTM, dropout=1.0 drops nothing (keras GRU applies masks only "
            "for rates below 1, and so does ScratchGRU), while SimpleRNN "
            "with 1.0 zeroes every input.",
            "recurrent_dropout がなければ、1 つのマスク (N, D) が 3 つの"
            "ゲートすべての前で x_t に掛かります。recurrent_dropout があると"
            "（Keras の implementation 1）、ゲートごとに別の入力マスク "
            "(N, 3, D) を使います。LSTM と同じく dropout=1.0 は何も落としま"
            "せん（keras の GRU は割合が 1 未満のときだけマスクを掛け、"
            "ScratchGRU も同じです）。SimpleRNN では 1.0 ですべての入力が 0 "
            "になります。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer._gate_dropout_masks",
                "masks.append(mask if training and rate < 1 else None)",
            ),
            CodeRef(
                _GRU_MATH,
                "input_projection",
                "X = project(xp, x, kernel, m, gates=3)",
            ),
        ),
    ),
    "recurrent_dropout": Note(
        (
            "h_{t-1} is masked on its way into Wh with one mask per gate, "
            "(N, 3, H), fixed for the sequence: recurrent_dropout switches "
            "the layer to Keras's implementation 1 and draws three masks per "
            "kind. With reset_after=False the candidate's mask multiplies "
            "r * h_{t-1}. In the backward each gate's share of dh_prev "
            "passes through its own mask. A rate of 1.0 drops nothing.",
            "h_{t-1} は Wh に入る前に、ゲートごとに別のマスク (N, 3, H) を"
            "掛けられます。マスクは系列を通して固定です。recurrent_dropout が"
            "あるとレイヤは Keras の implementation 1 に切り替わり、種類"
            "ごとに 3 つのマスクを引きます。reset_after=False では候補の"
            "マスクは r * h_{t-1} に掛かります。逆伝播では dh_prev の各ゲート"
            "の分がそれぞれのマスクを通ります。割合 1.0 は何も落としません。",
        ),
        (
            CodeRef(
                _GRU_CELL,
                "ScratchGRUCell.__init__",
                "self.implementation = 1 if self.recurrent_dropout else "
                "implementation",
            ),
            CodeRef(
                _GRU_CELL,
                "ScratchGRUCell.__init__",
                "self.dropout_mask_count = 3",
            ),
            CodeRef(
                _GRU_MATH,
                "step_forward",
                "xp, r * h_prev, Wh_h, _gates_of(r_mask, 2, 3), gates=1",
            ),
        ),
    ),
    "seed": Note(
        (
            "The same generator. With dropout and recurrent_dropout both set "
            "it draws six masks per call (three of each kind), as keras GRU "
            "does, so equal seeds give equal masks. Unlike SimpleRNN's, "
            "keras GRU's get_config() keeps the seed.",
            "乱数生成器は同じです。dropout と recurrent_dropout の両方がある"
            "と、keras の GRU と同じく呼び出しごとに 6 つのマスク（種類ごとに"
            " 3 つ）を引くので、同じ seed なら同じマスクになります。SimpleRNN "
            "と違い、keras の GRU の get_config() は seed を保存します。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer._gate_dropout_masks",
                "self._draw_dropout_mask(x, rate, width)",
            ),
        ),
    ),
    "return_sequences": Note(
        (
            "The same: h_t for every t, (N, T, H), or the last one. The "
            "output is the state, as in SimpleRNN.",
            "同じです。全時刻の h_t (N, T, H) か、最後の 1 つを返します。"
            "SimpleRNN と同じく、出力は状態そのものです。",
        ),
        (
            CodeRef(
                _GRU_LAYER,
                "ScratchGRU._run",
                "return_sequences=self.return_sequences,",
            ),
        ),
    ),
    "return_state": Note(
        (
            "One state, as in SimpleRNN: the result is (output, h_{T-1}), "
            "two items, where an LSTM returns three; h is the last output.",
            "SimpleRNN と同じく状態は 1 つで、戻り値は (出力, h_{T-1}) の 2 "
            "つです（LSTM は 3 つ）。h は最後の出力です。",
        ),
        (CodeRef(_BASE, "ScratchLayer.call", "return output, *last"),),
    ),
    "go_backwards": Note(
        (
            "The same: x is flipped before the loop, and h runs over the "
            "reversed sequence.",
            "同じです。ループの前に x を反転し、h は反転した系列の上を"
            "進みます。",
        ),
        (CodeRef(_BASE, "ScratchLayer.call", "x = keras.ops.flip(x, axis=1)"),),
    ),
    "stateful": Note(
        (
            "One stored state, as in SimpleRNN: layer.states is [h]. The "
            "book's TimeGRU carries h the same way (set_state(h)), and its "
            "backward too stops at the block boundary.",
            "SimpleRNN と同じく保存する状態は 1 つで、layer.states は [h] "
            "です。本の TimeGRU も同じように h を引き継ぎ（set_state(h)）、"
            "その逆伝播もやはりブロックの境界で止まります。",
        ),
        (
            CodeRef(
                _BASE,
                "ScratchLayer.call",
                "for variable, state in zip(self.states, last):",
            ),
            CodeRef(
                _GRU_REF,
                "TimeGRU.forward",
                "if not self.stateful or self.h is None:",
            ),
        ),
    ),
    "unroll": Note(
        (
            "The same: the numbers do not change. In keras GRU, unroll=True "
            "also rules out the cuDNN kernel (see gru_use_cudnn).",
            "同じです。値は変わりません。keras の GRU では unroll=True だと "
            "cuDNN カーネルも使えません（gru_use_cudnn を参照）。",
        ),
        (CodeRef(_GRU_LAYER, "ScratchGRU._run", "unroll=self.unroll,"),),
    ),
    "zero_output_for_mask": Note(
        (
            "The same: at a masked step h is carried, and y_t is 0 instead "
            "of y_{t-1}.",
            "同じです。マスクされた時刻では h が引き継がれ、y_t は y_{t-1} の"
            "代わりに 0 になります。",
        ),
        (
            CodeRef(
                _GRU_MATH,
                "step_forward",
                "y = xp.where(m_t, y, xp.zeros_like(y))",
            ),
        ),
    ),
    "initial_state": Note(
        (
            "One tensor h_{-1} (batch, units), or a list holding it, as in "
            "SimpleRNN. Its gradient dh0 is what the reverse loop holds "
            "after step 0; the book's TimeGRU keeps it as TimeGRU.dh.",
            "SimpleRNN と同じく、テンソル h_{-1} (batch, units) 1 つか、それを"
            "入れたリストです。勾配 dh0 は逆向きのループが時刻 0 を終えた"
            "ときに持っている値で、本の TimeGRU は TimeGRU.dh として保存"
            "します。",
        ),
        (
            CodeRef(
                _GRU_MATH,
                "gru_step_backward",
                "return dx, dh_prev, dWx, dWh, db_x, db_h",
            ),
            CodeRef(_GRU_REF, "TimeGRU.backward", "self.dh = dh"),
        ),
    ),
    "mask": Note(
        (
            "A masked step keeps h_t = h_{t-1}. In the backward its dX (the "
            "three gates' gradient) is 0, and dh passes straight on to step "
            "t-1.",
            "マスクされた時刻は h_t = h_{t-1} を保ちます。逆伝播ではその時刻"
            "の dX（3 つのゲートの勾配）は 0 で、dh はそのまま時刻 t-1 へ"
            "渡ります。",
        ),
        (
            CodeRef(_GRU_MATH, "step_forward", "h = xp.where(m_t, h, h_prev)"),
            CodeRef(
                _GRU_MATH,
                "step_backward",
                "dX = xp.where(m_t, dX, xp.zeros_like(dX))",
            ),
            CodeRef(
                _GRU_MATH,
                "step_backward",
                "dh_prev = xp.where(m_t, dh_prev, dh)",
            ),
        ),
    ),
    "training": Note(
        (
            "The same: the masks act only in training. Like keras GRU, "
            "ScratchGRU draws its masks at every call, in inference too, so "
            "that the seed generator advances alike.",
            "同じです。マスクが働くのは学習時だけです。keras の GRU と同じく"
            "、ScratchGRU は推論時も呼び出しのたびにマスクを引くので、乱数"
            "生成器が同じように進みます。",
        ),
        (
            CodeRef(
                _GRU_CELL,
                "ScratchGRUCell.call",
                "if training and 0.0 < self.dropout < 1.0:",
            ),
        ),
    ),
}

# ---------------------------------------------------------------------------
# Lookup. `cell` is "rnn" (SimpleRNN/ScratchRNN, the default), "lstm"
# (LSTM/ScratchLSTM: the shared arguments with LSTM_MEANINGS, and the LSTM's
# own) or "gru" (GRU/ScratchGRU: with GRU_MEANINGS, and the GRU's own).

# Per gated cell: its own arguments, meanings, order, topics and notes.
_GATED = {
    "lstm": (LSTM_ARGUMENTS, LSTM_MEANINGS, LSTM_ORDER, LSTM_TOPICS),
    "gru": (GRU_ARGUMENTS, GRU_MEANINGS, GRU_ORDER, GRU_TOPICS),
}
NOTES = {"lstm": LSTM_NOTES, "gru": GRU_NOTES}


def check_cell(cell):
    """`cell` if it is one of `CELLS`, else ValueError."""
    if cell not in CELLS:
        raise ValueError(
            f"Received an invalid value for argument `cell`, expected one of "
            f"{CELLS}, got {cell!r}."
        )
    return cell


def arguments(cell="rnn"):
    """Every argument of the cell's layer, in its signature's order, then
    the call arguments: `ARGUMENTS` for "rnn"; for "lstm" (or "gru") those
    with the LSTM's (GRU's) meanings and `LSTM_ARGUMENTS`
    (`GRU_ARGUMENTS`), in `LSTM_ORDER` (`GRU_ORDER`)."""
    if check_cell(cell) == "rnn":
        return list(ARGUMENTS)
    own, meanings, order, _ = _GATED[cell]
    by_name = {a.name: a for a in ARGUMENTS + own}
    return [
        dataclasses.replace(
            by_name[name],
            meaning=meanings.get(name, by_name[name].meaning),
        )
        for name in order
    ]


def topics(cell="rnn"):
    """`{name: Topic}` of the cell: `TOPICS` for "rnn"; for "lstm" (or
    "gru") the topics of its arguments in their order, then `gate_order`
    (`z_convention`)."""
    if check_cell(cell) == "rnn":
        return dict(TOPICS)
    every = all_topics()
    found = {a.topic: every[a.topic] for a in arguments(cell)}
    for name, topic in _GATED[cell][3].items():  # those of no argument
        found.setdefault(name, topic)
    return found


def all_topics():
    """Every topic of any cell: `TOPICS`, `LSTM_TOPICS`, `GRU_TOPICS`."""
    return {**TOPICS, **LSTM_TOPICS, **GRU_TOPICS}


def topic_names(cell="rnn"):
    return list(topics(cell))


def argument_names(cell="rnn"):
    return [a.name for a in arguments(cell)]


def names(cell="rnn"):
    """Every name `resolve` knows for `cell`, topics first, each once."""
    return list(dict.fromkeys(topic_names(cell) + argument_names(cell)))


def normalize(name):
    """`Go-Backwards` -> `go_backwards`: any case, dashes as on the CLI."""
    return name.strip().lower().replace("-", "_")


def resolve(name, cell="rnn"):
    """The topic explaining `name` (a topic or an argument name) for
    `cell` ("rnn", "lstm" or "gru"), or None.

    Any case, and dashes for underscores (`go-backwards`, as `compare`
    spells it) are accepted. A cell's own names (`unit_forget_bias`,
    `gate_order`, `reset_after`...) resolve only with that `cell`; with
    `cell="gru"`, `recurrent_activation` is the GRU's.
    """
    name = normalize(name)
    found = topics(cell)
    if name in found:
        return found[name]
    for argument in arguments(cell):
        if argument.name == name:
            return found[argument.topic]
    return None


def cells_knowing(name):
    """The cells whose `resolve` knows `name`, in `CELLS`' order."""
    return [cell for cell in CELLS if resolve(name, cell) is not None]


def _cell_of(topic, cell):
    """The cell a topic is shown for: a cell's own topic always its own."""
    return topic.cell if topic.cell != "rnn" else check_cell(cell)


def arguments_of(topic, cell="rnn"):
    cell = _cell_of(topic, cell)
    return [a for a in arguments(cell) if a.topic == topic.name]


def cell_note(topic, cell):
    """The `Note` on what changes for an LSTM or a GRU (`cell`), or None:
    shown for a shared topic (a cell's own topics need none)."""
    if topic.cell != "rnn" or check_cell(cell) == "rnn":
        return None
    return NOTES[cell].get(topic.name)


def lstm_note(topic, cell="lstm"):
    """The `Note` on what changes for an LSTM, or None: shown for a shared
    topic with `cell="lstm"` (LSTM topics need none)."""
    return cell_note(topic, cell) if cell == "lstm" else None


# ---------------------------------------------------------------------------
# Rendering.

_LABELS = {
    "layer_args": ("Layer arguments", "レイヤの引数"),
    "call_args": (
        "Call arguments: layer(x, initial_state=..., mask=..., training=...)",
        "呼び出しの引数: layer(x, initial_state=..., mask=..., training=...)",
    ),
    "argument": ("argument", "引数"),
    "default": ("default", "既定値"),
    "meaning": ("meaning", "意味"),
    "required": ("(required)", "（必須）"),
    "title": ("{name} (default: {default})", "{name}（既定値: {default}）"),
    "forward": (f"Where it enters {EQUATION}", f"式 {EQUATION} のどこに入るか"),
    "forward_lstm": (
        f"Where it enters the LSTM: {LSTM_EQUATION}",
        f"LSTM の式 {LSTM_EQUATION} のどこに入るか",
    ),
    "backward": (
        "In the handwritten backward (BPTT)",
        "手書きの逆伝播（BPTT）では",
    ),
    "forward_gru": (
        f"Where it enters the GRU: {GRU_EQUATION}",
        f"GRU の式 {GRU_EQUATION} のどこに入るか",
    ),
    "lstm_note": (
        "For an LSTM (ScratchLSTM, keras.layers.LSTM)",
        "LSTM では（ScratchLSTM、keras.layers.LSTM）",
    ),
    "gru_note": (
        "For a GRU (ScratchGRU, keras.layers.GRU)",
        "GRU では（ScratchGRU、keras.layers.GRU）",
    ),
    "demo": (
        "Live: ScratchRNN and SimpleRNN side by side",
        "実演: ScratchRNN と SimpleRNN を並べて実行",
    ),
    "demo_lstm": (
        "Live: ScratchLSTM and LSTM side by side",
        "実演: ScratchLSTM と LSTM を並べて実行",
    ),
    "demo_gate_order": (
        "Live: the book's TimeLSTM, ScratchLSTM and LSTM side by side",
        "実演: 本の TimeLSTM、ScratchLSTM、LSTM を並べて実行",
    ),
    "demo_gru": (
        "Live: ScratchGRU and GRU side by side",
        "実演: ScratchGRU と GRU を並べて実行",
    ),
    "demo_z_convention": (
        "Live: the book's TimeGRU, ScratchGRU and GRU side by side",
        "実演: 本の TimeGRU、ScratchGRU、GRU を並べて実行",
    ),
    "mistake": ("The common mistake", "よくある間違い"),
    "more": (
        "Details and a live demonstration: explain PARAM, e.g. "
        "`python -m keras_scratch_rnn explain go_backwards`.",
        "詳しい説明と実演: explain PARAM。例: "
        "`python -m keras_scratch_rnn explain go_backwards`",
    ),
    "lstm_symbols": (
        "s = recurrent_activation (sigmoid), act = activation (tanh); "
        "Wx = kernel (D, 4H), Wh = recurrent_kernel (H, 4H), b = bias (4H,).",
        "s = recurrent_activation（sigmoid）、act = activation（tanh）。"
        "Wx = kernel (D, 4H)、Wh = recurrent_kernel (H, 4H)、b = bias (4H,)。",
    ),
    "gate_order_hint": (
        "The book orders the gates f, g, i, o, Keras i, f, c (= g), o: "
        "explain --cell lstm gate_order.",
        "ゲートの順序は本が f, g, i, o、Keras が i, f, c (= g), o: "
        "explain --cell lstm gate_order。",
    ),
    "more_lstm": (
        "Details and a live demonstration, ScratchLSTM beside LSTM for the "
        "LSTM's own arguments: explain --cell lstm PARAM, e.g. "
        "`python -m keras_scratch_rnn explain --cell lstm unit_forget_bias`.",
        "詳しい説明と実演（LSTM 固有の引数は ScratchLSTM と LSTM を並べて"
        "実行）: explain --cell lstm PARAM。例: "
        "`python -m keras_scratch_rnn explain --cell lstm unit_forget_bias`",
    ),
    "gru_symbols": (
        "s = recurrent_activation (sigmoid), act = activation (tanh); "
        "Wx = kernel (D, 3H), Wh = recurrent_kernel (H, 3H), b = bias: "
        "(2, 3H) = [b_x, b_h] with reset_after=True, else (3H,).",
        "s = recurrent_activation（sigmoid）、act = activation（tanh）。"
        "Wx = kernel (D, 3H)、Wh = recurrent_kernel (H, 3H)、b = bias: "
        "reset_after=True なら (2, 3H) = [b_x, b_h]、False なら (3H,)。",
    ),
    "z_convention_hint": (
        "Keras's z is the book's 1 - z, and the book's GRU is "
        "reset_after=False with no bias: explain --cell gru z_convention.",
        "Keras の z は本の 1 - z で、本の GRU はバイアスのない "
        "reset_after=False: explain --cell gru z_convention。",
    ),
    "more_gru": (
        "Details and a live demonstration, ScratchGRU beside GRU for the "
        "GRU's own arguments: explain --cell gru PARAM, e.g. "
        "`python -m keras_scratch_rnn explain --cell gru reset_after`.",
        "詳しい説明と実演（GRU 固有の引数は ScratchGRU と GRU を並べて"
        "実行）: explain --cell gru PARAM。例: "
        "`python -m keras_scratch_rnn explain --cell gru reset_after`",
    ),
}

# Per gated cell: (its equations, its symbols' label, its hint's label,
# its "more" label).
_OVERVIEW = {
    "lstm": (LSTM_EQUATIONS, "lstm_symbols", "gate_order_hint", "more_lstm"),
    "gru": (GRU_EQUATIONS, "gru_symbols", "z_convention_hint", "more_gru"),
}


def pick(pair, lang):
    if isinstance(pair, str):
        return pair
    return pair[LANGUAGES.index(lang)]


def label(key, lang):
    return pick(_LABELS[key], lang)


def _default(argument, lang):
    if argument.default is None:
        return label("required", lang)
    return argument.default


def _forward_label(topic):
    """A shared topic's text is about the RNN's equation (its LSTM or GRU
    note follows); an LSTM (GRU) topic's about the LSTM's (GRU's)."""
    return "forward" if topic.cell == "rnn" else f"forward_{topic.cell}"


def demo_label(topic):
    """The `_LABELS` key of a topic's demonstration heading."""
    if topic.name in ("gate_order", "z_convention"):
        return f"demo_{topic.name}"
    return "demo" if topic.cell == "rnn" else f"demo_{topic.cell}"


def topic_title(topic, cell="rnn"):
    """The name a topic is shown under: its argument's, if it has one
    (`recurrent_activation` for `gru_recurrent_activation`), else its own."""
    grouped = arguments_of(topic, cell)
    return grouped[0].name if len(grouped) == 1 else topic.name


def overview_rows(lang, call, cell="rnn"):
    return [
        [a.name, _default(a, lang), pick(a.meaning, lang)]
        for a in arguments(cell)
        if a.call == call
    ]


def overview_lines(lang="en", style=None, width=80, cell="rnn"):
    """The table of every argument with its default and meaning; with
    `cell="lstm"` (`"gru"`), LSTM's (GRU's) under its equations."""
    style = style or Style(False)
    header = [label(k, lang) for k in ("argument", "default", "meaning")]
    if check_cell(cell) == "rnn":
        lines = [style(EQUATION, "bold"), ""]
    else:
        equations, symbols, hint, more = _OVERVIEW[cell]
        lines = [style(line, "bold") for line in equations]
        lines += [*wrap(label(symbols, lang), width), ""]
    for key, call in (("layer_args", False), ("call_args", True)):
        lines.append(style(label(key, lang), "bold", "cyan"))
        lines += table(
            header, overview_rows(lang, call, cell), style=style, width=width
        )
        lines.append("")
    if cell == "rnn":
        lines += wrap(label("more", lang), width)
    else:
        lines += [*wrap(label(hint, lang), width), ""]
        lines += wrap(label(more, lang), width)
    return lines


def _demo_lines(report, lang):
    """The demonstration's output as plain lines (identical everywhere)."""
    lines = []
    for block in report.blocks:
        if lines:
            lines.append("")
        if block[0] == "text":
            lines += wrap(pick(block[1], lang), 78)
        else:
            _, header, rows, align = block
            lines += table(
                [pick(c, lang) for c in header],
                [[pick(c, lang) for c in row] for row in rows],
                align=align,
            )
    return lines


def demo_lines(topic_name, lang="en"):
    """Runs the demonstration of a topic (of any cell: a shared topic's is
    ScratchRNN beside SimpleRNN, an LSTM topic's ScratchLSTM beside LSTM, a
    GRU topic's ScratchGRU beside GRU); returns `(lines, report)`."""
    from keras_scratch_rnn.learn import demos  # keeps the overview light

    report = demos.run(topic_name)
    return _demo_lines(report, lang), report


def _ref_lines(refs, style, indent="  "):
    lines = []
    for ref in refs:
        lines.append(indent + style(f"{ref.path} · {ref.function}", "dim"))
        lines.append(indent + "    " + style(ref.code, "green"))
    return lines


def topic_lines(
    topic, lang="en", style=None, width=80, report=None, cell="rnn"
):
    """A topic for the terminal; runs its demonstration unless `report`.
    With `cell="lstm"` (`"gru"`), a shared topic gains its LSTM (GRU) note.

    Returns:
        `(lines, report)`.
    """
    head, tail = topic_frame(topic, lang, style, width, cell)
    if report is None:
        demo, report = demo_lines(topic.name, lang)
    else:
        demo = _demo_lines(report, lang)
    return [*head, *demo_block(demo), *tail], report


def demo_block(demo):
    """A demonstration's lines, indented under their heading."""
    return ["  " + line if line else line for line in demo]


def topic_frame(topic, lang="en", style=None, width=80, cell="rnn"):
    """A topic for the terminal around its demonstration: `(head, tail)`.

    Needs no TensorFlow: the command line prints `head` (which ends with
    the demonstration's heading) before it runs the demonstration. With
    `cell="lstm"` (`"gru"`) a shared topic's arguments read as LSTM's
    (GRU's) and its note (`LSTM_NOTES`, `GRU_NOTES`) follows the backward;
    a cell's own topic is shown the same for any `cell`.
    """
    style = style or Style(False)
    grouped = arguments_of(topic, cell)
    if len(grouped) != 1:
        title = topic.name
    else:
        title = pick(_LABELS["title"], lang).format(
            name=grouped[0].name, default=_default(grouped[0], lang)
        )
    lines = [style(title, "bold"), *wrap(pick(topic.summary, lang), width)]
    if len(grouped) > 1:
        lines += [
            "  " + line
            for line in table(
                [label(k, lang) for k in ("argument", "default", "meaning")],
                [
                    [a.name, _default(a, lang), pick(a.meaning, lang)]
                    for a in grouped
                ],
                width=width - 2,
            )
        ]
    sections = [
        (_forward_label(topic), topic.forward, topic.forward_refs),
        ("backward", topic.backward, topic.backward_refs),
    ]
    note = cell_note(topic, cell)
    if note is not None:
        sections.append((f"{cell}_note", note.text, note.refs))
    for key, text, refs in sections:
        lines += ["", style(label(key, lang), "bold", "cyan")]
        lines += wrap(pick(text, lang), width, indent="  ")
        lines += _ref_lines(refs, style)
    lines += ["", style(label(demo_label(topic), lang), "bold", "cyan")]
    tail = ["", style(label("mistake", lang), "bold", "yellow")]
    tail += wrap(pick(topic.mistake, lang), width, indent="  ")
    return lines, tail


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append(
            "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
        )
    return lines


def _md_code(text):
    return f"`{text}`"


def _md_refs(refs):
    return [
        f"- `{ref.path}` · `{ref.function}`: {_md_code(ref.code)}"
        for ref in refs
    ]


def explain_command(topic, lang="en"):
    """The command line that shows `topic`."""
    command = "python -m keras_scratch_rnn explain"
    if topic.cell != "rnn":
        command += f" --cell {topic.cell}"
    command += f" {topic_title(topic)}"
    if lang == "ja":
        command += " --lang ja"
    return command


def topic_markdown(topic, lang, report):
    """A topic as a Markdown section, with the demonstration's output.

    The docs cover every layer: a shared topic's section ends its
    explanation with the LSTM note and the GRU note, as `explain --cell
    lstm` and `explain --cell gru` show them.
    """
    out = [f"## `{topic.name}`", "", pick(topic.summary, lang), ""]
    grouped = arguments_of(topic)
    if grouped:
        out += md_table(
            [label(k, lang) for k in ("argument", "default", "meaning")],
            [
                [
                    f"`{a.name}`",
                    f"`{_default(a, lang)}`"
                    if a.default
                    else _default(a, lang),
                    pick(a.meaning, lang),
                ]
                for a in grouped
            ],
        )
        out.append("")
    sections = [
        (_forward_label(topic), topic.forward, topic.forward_refs),
        ("backward", topic.backward, topic.backward_refs),
    ]
    for cell in NOTES:
        note = cell_note(topic, cell)
        if note is not None:
            sections.append((f"{cell}_note", note.text, note.refs))
    for key, text, refs in sections:
        out += [f"**{label(key, lang)}**", "", pick(text, lang), ""]
        if refs:
            out += [*_md_refs(refs), ""]
    out += [
        f"**{label(demo_label(topic), lang)}** "
        f"(`{explain_command(topic, lang)}`)",
        "",
        "```text",
        *_demo_lines(report, lang),
        "```",
        "",
        f"**{label('mistake', lang)}**",
        "",
        pick(topic.mistake, lang),
        "",
    ]
    return out


__all__ = [
    "ARGUMENTS",
    "CELLS",
    "EQUATION",
    "GRU_ARGUMENTS",
    "GRU_EQUATIONS",
    "GRU_NOTES",
    "GRU_TOPICS",
    "LSTM_ARGUMENTS",
    "LSTM_EQUATIONS",
    "LSTM_NOTES",
    "LSTM_TOPICS",
    "TOPICS",
    "Argument",
    "CodeRef",
    "Note",
    "Topic",
    "all_topics",
    "arguments",
    "cell_note",
    "code_ref_exists",
    "demo_lines",
    "names",
    "overview_lines",
    "resolve",
    "topic_frame",
    "topic_lines",
    "topic_markdown",
    "topics",
]
