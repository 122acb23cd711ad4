# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Every SimpleRNN/ScratchRNN argument explained, in English and Japanese.

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
"""

import ast
import dataclasses
import pathlib

from keras_scratch_rnn.terminal import Style, table, wrap

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "ja")
EQUATION = "h_t = act(x_t Wx + h_{t-1} Wh + b)"


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


def function_source(file, function, root=PACKAGE_DIR):
    """The source of `function` (`name` or `Class.method`) in `file`.

    Args:
        file: Path of a Python file, relative to `root`.
        function: A function, class, or `Class.method` defined in it.
        root: Folder of `file`; default the package's.

    Raises:
        LookupError: If the file has no such function.
    """
    source = (pathlib.Path(root) / file).read_text(encoding="utf-8")
    nodes = ast.parse(source).body
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

    Each text is an `(en, ja)` pair.
    """

    name: str
    summary: tuple
    forward: tuple
    forward_refs: tuple
    backward: tuple
    backward_refs: tuple
    mistake: tuple


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
                    _LAYER,
                    "ScratchRNN.__init__",
                    "activity_regularizer=activity_regularizer,",
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
# Lookup.


def topic_names():
    return list(TOPICS)


def argument_names():
    return [a.name for a in ARGUMENTS]


def names():
    """Every name `resolve` knows, topics first, each once."""
    return list(dict.fromkeys(topic_names() + argument_names()))


def normalize(name):
    """`Go-Backwards` -> `go_backwards`: any case, dashes as on the CLI."""
    return name.strip().lower().replace("-", "_")


def resolve(name):
    """The topic explaining `name` (a topic or an argument name), or None.

    Any case, and dashes for underscores (`go-backwards`, as `compare`
    spells it) are accepted.
    """
    name = normalize(name)
    if name in TOPICS:
        return TOPICS[name]
    for argument in ARGUMENTS:
        if argument.name == name:
            return TOPICS[argument.topic]
    return None


def arguments_of(topic):
    return [a for a in ARGUMENTS if a.topic == topic.name]


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
    "backward": (
        "In the handwritten backward (BPTT)",
        "手書きの逆伝播（BPTT）では",
    ),
    "demo": (
        "Live: ScratchRNN and SimpleRNN side by side",
        "実演: ScratchRNN と SimpleRNN を並べて実行",
    ),
    "mistake": ("The common mistake", "よくある間違い"),
    "more": (
        "Details and a live demonstration: explain PARAM, e.g. "
        "`python -m keras_scratch_rnn explain go_backwards`.",
        "詳しい説明と実演: explain PARAM。例: "
        "`python -m keras_scratch_rnn explain go_backwards`",
    ),
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


def overview_rows(lang, call):
    return [
        [a.name, _default(a, lang), pick(a.meaning, lang)]
        for a in ARGUMENTS
        if a.call == call
    ]


def overview_lines(lang="en", style=None, width=80):
    """The table of every argument with its default and meaning."""
    style = style or Style(False)
    header = [label(k, lang) for k in ("argument", "default", "meaning")]
    lines = [style(EQUATION, "bold"), ""]
    for key, call in (("layer_args", False), ("call_args", True)):
        lines.append(style(label(key, lang), "bold", "cyan"))
        lines += table(
            header, overview_rows(lang, call), style=style, width=width
        )
        lines.append("")
    lines += wrap(label("more", lang), width)
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
    """Runs the demonstration of a topic; returns `(lines, report)`."""
    from keras_scratch_rnn.learn import demos  # keeps the overview light

    report = demos.run(topic_name)
    return _demo_lines(report, lang), report


def _ref_lines(refs, style, indent="  "):
    lines = []
    for ref in refs:
        lines.append(indent + style(f"{ref.path} · {ref.function}", "dim"))
        lines.append(indent + "    " + style(ref.code, "green"))
    return lines


def topic_lines(topic, lang="en", style=None, width=80, report=None):
    """A topic for the terminal; runs its demonstration unless `report`.

    Returns:
        `(lines, report)`.
    """
    head, tail = topic_frame(topic, lang, style, width)
    if report is None:
        demo, report = demo_lines(topic.name, lang)
    else:
        demo = _demo_lines(report, lang)
    return [*head, *demo_block(demo), *tail], report


def demo_block(demo):
    """A demonstration's lines, indented under their heading."""
    return ["  " + line if line else line for line in demo]


def topic_frame(topic, lang="en", style=None, width=80):
    """A topic for the terminal around its demonstration: `(head, tail)`.

    Needs no TensorFlow: the command line prints `head` (which ends with
    the demonstration's heading) before it runs the demonstration.
    """
    style = style or Style(False)
    grouped = arguments_of(topic)
    if len(grouped) > 1:
        title = topic.name
    else:
        title = pick(_LABELS["title"], lang).format(
            name=topic.name, default=_default(grouped[0], lang)
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
    for key, text, refs in (
        ("forward", topic.forward, topic.forward_refs),
        ("backward", topic.backward, topic.backward_refs),
    ):
        lines += ["", style(label(key, lang), "bold", "cyan")]
        lines += wrap(pick(text, lang), width, indent="  ")
        lines += _ref_lines(refs, style)
    lines += ["", style(label("demo", lang), "bold", "cyan")]
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


def topic_markdown(topic, lang, report):
    """A topic as a Markdown section, with the demonstration's output."""
    out = [f"## `{topic.name}`", "", pick(topic.summary, lang), ""]
    out += md_table(
        [label(k, lang) for k in ("argument", "default", "meaning")],
        [
            [
                f"`{a.name}`",
                f"`{_default(a, lang)}`" if a.default else _default(a, lang),
                pick(a.meaning, lang),
            ]
            for a in arguments_of(topic)
        ],
    )
    for key, text, refs in (
        ("forward", topic.forward, topic.forward_refs),
        ("backward", topic.backward, topic.backward_refs),
    ):
        out += ["", f"**{label(key, lang)}**", "", pick(text, lang)]
        if refs:
            out += ["", *_md_refs(refs)]
    command = f"python -m keras_scratch_rnn explain {topic.name}"
    if lang == "ja":
        command += " --lang ja"
    out += [
        "",
        f"**{label('demo', lang)}** (`{command}`)",
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
    "EQUATION",
    "TOPICS",
    "Argument",
    "CodeRef",
    "Topic",
    "code_ref_exists",
    "demo_lines",
    "names",
    "overview_lines",
    "resolve",
    "topic_frame",
    "topic_lines",
    "topic_markdown",
]
