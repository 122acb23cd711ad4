"""Tests of the TensorFlow LSTM ops (`keras_scratch_rnn.ops`: `scratch_lstm`,
`lstm_forward`, `lstm_backward`, `lstm_step`).

The ground truths: TF autodiff through a Python loop of
`lstm_math.step_forward` (the handwritten backward, the loops, the batch
parts and the hoisted weight gradients against the forward's own math);
`keras.layers.LSTM` (the forward, independently); central differences.

Every gradient case runs eagerly and inside a `tf.function`, where the
loops are XLA-compiled and a batch of `BATCH_PARTS * MIN_PART_ROWS` rows or
more is cut into parts: N = 20 makes both parts run. The traced functions
are cached (`_traced`), and every case uses the same shapes, so the loops
each options tuple compiles are shared by the tests that use it.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_scratch_rnn.ops import (
    LSTMOptions,
    lstm_backward,
    lstm_forward,
    lstm_math,
    lstm_step,
    scratch_lstm,
)
from keras_scratch_rnn.ops import tensorflow as tf_ops
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    GRADIENT_CHECK_RTOL,
    scaled_error,
)

SEED = 0
N, T, D, H = 20, 5, 3, 4
EPS = 1e-6  # central-difference step
KEEP = 0.7  # keep probability of the Keras-style dropout masks
XP = tf_ops.xp
MODES = ("eager", "function")
INPUT_NAMES = ("x", "h0", "c0", "kernel", "recurrent_kernel", "bias")
LOSS_NAMES = ("G", "G_h", "G_c")  # upstream gradients of out, h_last, c_last

# One worker runs the whole file (pytest-xdist): the cases share the loops
# that each options tuple compiles (XLA, most of the file's time), which
# two workers would each compile again.
pytestmark = pytest.mark.xdist_group("lstm_ops")

# A traced call cuts N = 20 into two parts of 10 rows: both run.
assert N >= tf_ops.BATCH_PARTS * tf_ops.MIN_PART_ROWS


def _make_mask():
    """(N, T): random, plus in each half of the batch (each batch part) a
    row masked at its last step only, one at its first step, one fully
    masked and one fully unmasked; other rows masked last too."""
    rng = np.random.default_rng(SEED + 3)
    mask = rng.random((N, T)) < 0.7
    for start in (0, N // 2):
        mask[start] = [True] * (T - 1) + [False]  # last step masked
        mask[start + 1] = [False] + [True] * (T - 1)  # first step masked
        mask[start + 2] = False  # every step
        mask[start + 3] = True  # none
        mask[start + 4, -2:] = [True, False]  # masked last after unmasked
    return mask


MASK = _make_mask()
assert (~MASK[: N // 2, -1]).any() and (~MASK[N // 2 :, -1]).any()
assert MASK[:, -1].any()


# --- helpers -----------------------------------------------------------------


def make_inputs(seed=SEED, dtype=np.float64, n=N, return_sequences=True):
    """Random inputs, non-zero states and bias, and upstream gradients of
    the three outputs: G (out), G_h (h_last), G_c (c_last)."""
    rng = np.random.default_rng(seed)
    arrays = dict(
        x=rng.normal(size=(n, T, D)),
        h0=rng.normal(scale=0.5, size=(n, H)),
        c0=rng.normal(scale=0.5, size=(n, H)),
        kernel=rng.normal(scale=0.5, size=(D, 4 * H)),
        recurrent_kernel=rng.normal(scale=0.5, size=(H, 4 * H)),
        bias=rng.normal(scale=0.5, size=(4 * H,)),
        G=rng.normal(size=(n, T, H) if return_sequences else (n, H)),
        G_h=rng.normal(size=(n, H)),
        G_c=rng.normal(size=(n, H)),
    )
    return {k: v.astype(dtype) for k, v in arrays.items()}


def dropout_mask(shape, seed, dtype=np.float64):
    """A Keras-style inverted-dropout mask (0 or 1 / KEEP) with a 0."""
    rng = np.random.default_rng(seed)
    m = (rng.random(shape) < KEEP) / KEEP
    m.flat[0] = 0.0
    return m.astype(dtype)


# Dropout masks by kind: one for every gate ("row") or one per gate.
DROPOUT_SHAPES = {"row": (), "gate": (4,)}


def make_options(dtype=np.float64, n=N, mask=False, input_dropout=None,
                 recurrent_dropout=None, **options):  # fmt: skip
    """Keyword arguments of the ops, the masks as tensors (`n` rows)."""
    if mask:
        options["mask"] = tf.constant(MASK[:n])
    if input_dropout:
        shape = (n, *DROPOUT_SHAPES[input_dropout], D)
        options["input_dropout_mask"] = tf.constant(
            dropout_mask(shape, SEED + 1, dtype)
        )
    if recurrent_dropout:
        shape = (n, *DROPOUT_SHAPES[recurrent_dropout], H)
        options["recurrent_dropout_mask"] = tf.constant(
            dropout_mask(shape, SEED + 2, dtype)
        )
    return options


def tensors(arrays, use_bias=True):
    t = {k: tf.constant(v) for k, v in arrays.items()}
    if not use_bias:
        t["bias"] = None
    return t


def loop_lstm(
    x,
    h0,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
    unroll=False,
    return_sequences=True,
):
    """`scratch_lstm`'s forward as a plain Python loop of
    `lstm_math.step_forward` (TF autodiff differentiates it)."""
    options = LSTMOptions(
        activation=activation,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        return_sequences=return_sequences,
        recurrent_activation=recurrent_activation,
    )
    h, c = h0, c0
    y = tf.zeros_like(h0) if mask is not None else None
    outputs = []
    for t in range(x.shape[1]):
        xa = lstm_math.input_projection(
            XP, x[:, t], kernel, bias, input_dropout_mask
        )
        m_t = None if mask is None else mask[:, t, None]
        h, c, y, _, _ = lstm_math.step_forward(
            XP, xa, h, c, y, recurrent_kernel, recurrent_dropout_mask, m_t,
            options,
        )  # fmt: skip
        outputs.append(y)
    out = tf.stack(outputs, axis=1) if return_sequences else outputs[-1]
    return out, h, c


def loss_and_grads(lstm_fn, x, h0, c0, kernel, recurrent_kernel, bias, G,
                   G_h, G_c, **kw):  # fmt: skip
    """(out, h_last, c_last) and the gradients of every input of
    sum(out G) + sum(h_last G_h) + sum(c_last G_c)."""
    params = [x, h0, c0, kernel, recurrent_kernel]
    if bias is not None:
        params.append(bias)
    with tf.GradientTape() as tape:
        tape.watch(params)
        out, h_last, c_last = lstm_fn(
            x, h0, c0, kernel, recurrent_kernel, bias, **kw
        )
        loss = (
            tf.reduce_sum(out * G)
            + tf.reduce_sum(h_last * G_h)
            + tf.reduce_sum(c_last * G_c)
        )
    return out, h_last, c_last, tape.gradient(loss, params)


_TRACED = {}


def _traced(key, fn):
    """One `tf.function` per `key`, shared by every test that uses it."""
    if key not in _TRACED:
        _TRACED[key] = tf.function(fn, autograph=False)
    return _TRACED[key]


def run_scratch(mode, key, args, options):
    """`loss_and_grads(scratch_lstm, ...)`, eagerly or traced. The static
    options are bound (`key` names them); the masks are traced inputs."""
    static = {k: v for k, v in options.items() if not tf.is_tensor(v)}
    masks = {k: v for k, v in options.items() if tf.is_tensor(v)}
    fn = functools.partial(loss_and_grads, scratch_lstm, **static)
    if mode == "function":
        fn = _traced((key, tuple(sorted(masks))), fn)
    return fn(*args, **masks)


def assert_close(actual, expected, tol, name=""):
    err = scaled_error(actual, expected)
    assert err <= tol, f"{name}: scaled error {err:.2e} > {tol:.0e}"


def assert_results_close(got, want, tol, n_params):
    out, h_last, c_last, grads = got
    assert_close(out, want[0], tol, "out")
    assert_close(h_last, want[1], tol, "h_last")
    assert_close(c_last, want[2], tol, "c_last")
    assert len(grads) == len(want[3]) == n_params
    for name, g, w in zip(INPUT_NAMES, grads, want[3]):
        assert g is not None, f"d{name} is None"
        assert_close(g, w, tol, f"d{name}")


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), np.finfo(np.float64).tiny)
    return float(np.abs(a - n).max() / scale)


# --- 1. scratch_lstm gradients vs autodiff of lstm_math (float64) ------------

# Name -> options (see `make_options`; `use_bias=False` drops the bias).
CASES = {
    "plain": {},
    "mask": dict(mask=True),
    "mask-zero_out": dict(mask=True, zero_output_for_mask=True),
    "last": dict(return_sequences=False),
    "last-mask": dict(mask=True, return_sequences=False),
    "last-mask-zero_out": dict(
        mask=True, return_sequences=False, zero_output_for_mask=True
    ),
    "input_dropout": dict(input_dropout="row"),
    "per_gate_dropout": dict(input_dropout="gate", recurrent_dropout="gate"),
    "recurrent_dropout": dict(recurrent_dropout="row"),
    "mixed_dropout-mask": dict(
        mask=True, input_dropout="gate", recurrent_dropout="row"
    ),
    "no_bias": dict(use_bias=False),
    "relu-tanh": dict(activation="relu", recurrent_activation="tanh"),
    "softsign-elu": dict(
        activation=tf.nn.softsign, recurrent_activation=tf.nn.elu
    ),
    "softsign-mask-dropout": dict(
        activation=tf.nn.softsign,
        mask=True,
        input_dropout="row",
        recurrent_dropout="row",
    ),
    "unroll": dict(unroll=True),
    "unroll-everything": dict(
        unroll=True,
        mask=True,
        zero_output_for_mask=True,
        input_dropout="gate",
        recurrent_dropout="gate",
        use_bias=False,
        activation=tf.nn.elu,
        recurrent_activation="relu",
        return_sequences=False,
    ),
}


def _case_args(name, **overrides):
    """(args, options, n_params) of case `name`."""
    config = {**CASES[name], **overrides}
    use_bias = config.pop("use_bias", True)
    a = make_inputs(return_sequences=config.get("return_sequences", True))
    t = tensors(a, use_bias)
    args = [t[k] for k in (*INPUT_NAMES, *LOSS_NAMES)]
    return args, make_options(**config), 5 + use_bias


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_scratch_lstm_gradients_match_autodiff(name, mode):
    """Handwritten BPTT of the LSTM equals TF autodiff of the same math,
    with random upstream gradients on out, h_last and c_last."""
    args, options, n_params = _case_args(name)
    got = run_scratch(mode, name, args, options)
    want = loss_and_grads(loop_lstm, *args, **options)
    assert_results_close(got, want, FLOAT64_PARITY, n_params)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name", ["mask", "last-mask-zero_out", "mixed_dropout-mask", "no_bias",
             "softsign-mask-dropout", "unroll-everything"],
)  # fmt: skip
def test_per_step_loops_match_autodiff(name, mode, monkeypatch):
    """The same with the loops' other way: the input projection and the
    weight gradients per step inside the loops (from LSTM_PER_STEP_UNITS
    units and LSTM_PER_STEP_BATCH rows of a part on; here from 1)."""
    monkeypatch.setattr(tf_ops, "LSTM_PER_STEP_UNITS", 1)
    monkeypatch.setattr(tf_ops, "LSTM_PER_STEP_BATCH", 1)
    args, options, n_params = _case_args(name)
    got = run_scratch(mode, ("per_step", name), args, options)
    want = loss_and_grads(loop_lstm, *args, **options)
    assert_results_close(got, want, FLOAT64_PARITY, n_params)


def use_chunks(monkeypatch, steps=2):
    """Makes compiled backward loops sum the weight gradients by chunks of
    `steps` steps from any T on (`CHUNK_MIN_STEPS`, `CHUNK_STEPS`); T = 5
    makes a short last chunk."""
    monkeypatch.setattr(tf_ops, "CHUNK_MIN_STEPS", 1)
    monkeypatch.setattr(tf_ops, "CHUNK_STEPS", steps)


@pytest.mark.parametrize(
    "name", ["plain", "last-mask-zero_out", "mixed_dropout-mask",
             "per_gate_dropout", "no_bias", "softsign-mask-dropout"],
)  # fmt: skip
def test_chunked_loops_match_autodiff(name, monkeypatch):
    """The same with the compiled loops' third way, for long sequences: the
    input projection per step, the weight gradients by chunks of steps
    (here 2, then 2, then a short one of 1, walking back)."""
    use_chunks(monkeypatch)
    args, options, n_params = _case_args(name)
    got = run_scratch("function", ("chunks", name), args, options)
    want = loss_and_grads(loop_lstm, *args, **options)
    assert_results_close(got, want, FLOAT64_PARITY, n_params)
    ways = {
        (key[0].__name__, key[-2])
        for key in tf_ops._LOOPS
        if key[-1] and key[0].__name__.startswith("_lstm")
    }
    assert ("_lstm_backward_loop", 2) in ways  # (loop, per_step) compiled
    assert ("_lstm_forward_loop", True) in ways


def test_traced_cases_compile_their_loops():
    """Inside a `tf.function` the LSTM loops are XLA-compiled (the cases
    above exercise that path, not the plain one)."""
    args, options, _ = _case_args("mask")
    run_scratch("function", "mask", args, options)
    compiled = {
        key[0].__name__
        for key in tf_ops._LOOPS
        if key[-1] and key[0].__name__.startswith("_lstm")
    }
    assert compiled == {"_lstm_forward_loop", "_lstm_backward_loop"}


@pytest.mark.parametrize("rows", [17, 1])
def test_unknown_batch_size(rows):
    """Traced with an unknown N (an `input_signature` with None), the batch
    is cut into parts at run time (17 rows: 8 + 9; 1 row: an empty part);
    the mask and per-gate dropout masks are cut with it."""
    a = make_inputs(n=rows)
    t = tensors(a)
    masks = make_options(
        n=rows, mask=True, input_dropout="gate", recurrent_dropout="gate"
    )
    batch_names = ("x", "h0", "c0", *LOSS_NAMES)
    weight_names = ("kernel", "recurrent_kernel", "bias")

    def fn(x, h0, c0, G, G_h, G_c, mask, input_dropout_mask,
           recurrent_dropout_mask, *weights):  # fmt: skip
        return loss_and_grads(
            scratch_lstm, x, h0, c0, *weights, G, G_h, G_c, mask=mask,
            input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask,
        )  # fmt: skip

    inputs = [t[k] for k in batch_names] + list(masks.values())
    signature = [tf.TensorSpec((None, *v.shape[1:]), v.dtype) for v in inputs]
    weights = [t[k] for k in weight_names]
    signature += [tf.TensorSpec(w.shape, w.dtype) for w in weights]
    if "unknown_batch" not in _TRACED:
        _TRACED["unknown_batch"] = tf.function(
            fn, input_signature=signature, autograph=False
        )
    got = _TRACED["unknown_batch"](*inputs, *weights)
    want = loss_and_grads(
        loop_lstm, t["x"], t["h0"], t["c0"], *weights, t["G"], t["G_h"],
        t["G_c"], **masks,
    )  # fmt: skip
    assert got[0].shape == (rows, T, H)
    assert_results_close(got, want, FLOAT64_PARITY, 6)


# --- 2. float32 forward parity with keras.layers.LSTM ------------------------


@functools.cache
def _keras_lstm(go_backwards):
    """A built `keras.layers.LSTM` (float32), shared by the parity tests."""
    layer = keras.layers.LSTM(
        H, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    layer.build((None, T, D))
    return layer


@pytest.mark.parametrize(
    "masked, go_backwards, initial_state",
    [
        (False, False, False),
        (True, False, False),
        (False, True, False),
        (True, True, False),
        (False, False, True),
        (True, True, True),
    ],
    ids=["plain", "mask", "backwards", "mask-backwards", "initial_state",
         "mask-backwards-initial_state"],
)  # fmt: skip
def test_forward_matches_keras_lstm(masked, go_backwards, initial_state):
    """The same weights (a random non-zero bias) give Keras's outputs and
    final states; go_backwards is scratch_lstm on flipped inputs."""
    a = make_inputs(seed=SEED + 5, dtype=np.float32)
    layer = _keras_lstm(go_backwards)
    layer.set_weights([a["kernel"], a["recurrent_kernel"], a["bias"]])
    x = tf.constant(a["x"])
    mask = tf.constant(MASK) if masked else None
    if initial_state:
        h0, c0 = tf.constant(a["h0"]), tf.constant(a["c0"])
        want = layer(x, mask=mask, initial_state=[h0, c0])
    else:  # Keras's own zero states
        h0 = c0 = tf.zeros((N, H), tf.float32)
        want = layer(x, mask=mask)

    if go_backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    got = scratch_lstm(
        x, h0, c0, tf.constant(a["kernel"]),
        tf.constant(a["recurrent_kernel"]), tf.constant(a["bias"]), mask=mask,
    )  # fmt: skip
    for name, g, w in zip(("outputs", "h_last", "c_last"), got, want):
        assert g.dtype == tf.float32, f"{name}: {g.dtype}"
        assert_close(g, w, FLOAT32_PARITY, name)


# --- 3. lstm_step vs autodiff of lstm_math.lstm_step_forward -----------------


def _step_loss_and_grads(step_fn, x, h_prev, c_prev, kernel,
                         recurrent_kernel, bias, G_h, G_c):  # fmt: skip
    params = [x, h_prev, c_prev, kernel, recurrent_kernel, bias]
    with tf.GradientTape() as tape:
        tape.watch(params)
        h_next, c_next = step_fn(
            x, h_prev, c_prev, kernel, recurrent_kernel, bias
        )
        loss = tf.reduce_sum(h_next * G_h) + tf.reduce_sum(c_next * G_c)
    return h_next, c_next, tape.gradient(loss, params)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "dropout, recurrent_activation",
    [(None, "sigmoid"), ("row", "sigmoid"), ("gate", "sigmoid"),
     ("gate", tf.nn.elu)],
    ids=lambda v: str(getattr(v, "__name__", v)),
)  # fmt: skip
def test_lstm_step_matches_autodiff(dropout, recurrent_activation, mode):
    """lstm_step's handwritten backward equals autodiff of its forward
    equations, with and without (per-gate) dropout masks."""
    t = tensors(make_inputs())
    masks = make_options(input_dropout=dropout, recurrent_dropout=dropout)
    m = masks.get("input_dropout_mask")
    r = masks.get("recurrent_dropout_mask")
    options = LSTMOptions(recurrent_activation=recurrent_activation)

    def scratch(x, h, c, k, rk, b):
        return lstm_step(
            x, h, c, k, rk, b, input_dropout_mask=m, recurrent_dropout_mask=r,
            recurrent_activation=recurrent_activation,
        )  # fmt: skip

    def autodiff(x, h, c, k, rk, b):
        h_next, c_next, _, _ = lstm_math.lstm_step_forward(
            XP, x, h, c, k, rk, b, m, r, options
        )
        return h_next, c_next

    args = [t["x"][:, 0], t["h0"], t["c0"], t["kernel"],
            t["recurrent_kernel"], t["bias"], t["G_h"], t["G_c"]]  # fmt: skip
    fn = functools.partial(_step_loss_and_grads, scratch)
    if mode == "function":
        fn = tf.function(fn, autograph=False)
    got = fn(*args)
    want = _step_loss_and_grads(autodiff, *args)
    assert_close(got[0], want[0], FLOAT64_PARITY, "h_next")
    assert_close(got[1], want[1], FLOAT64_PARITY, "c_next")
    for name, g, w in zip(INPUT_NAMES, got[2], want[2]):
        assert_close(g, w, FLOAT64_PARITY, f"d{name}")


# --- 4. the public lstm_forward and lstm_backward ----------------------------


@pytest.mark.parametrize("name", ["plain", "softsign-mask-dropout",
                                  "mixed_dropout-mask"])  # fmt: skip
def test_lstm_forward_backward_match_scratch_lstm(name):
    """lstm_backward on lstm_forward's results gives scratch_lstm's
    gradient (d_outputs, dh_last and dc_last all non-zero)."""
    args, options, _ = _case_args(name)
    x, h0, c0, kernel, rk, bias, G, G_h, G_c = args
    outputs, hs, cs, gates, pre = lstm_forward(
        x, h0, c0, kernel, rk, bias, **options
    )
    assert (pre is None) == (name != "softsign-mask-dropout")
    grads = lstm_backward(
        G, G_h, G_c, x, h0, c0, kernel, rk, hs, cs, gates, pre, **options
    )
    want = run_scratch("eager", name, args, options)
    assert_close(outputs, want[0], FLOAT64_PARITY, "outputs")
    assert_close(hs[:, -1], want[1], FLOAT64_PARITY, "h_last")
    assert_close(cs[:, -1], want[2], FLOAT64_PARITY, "c_last")
    for k, g, w in zip(INPUT_NAMES, grads, want[3]):
        assert_close(g, w, FLOAT64_PARITY, f"d{k}")


def test_lstm_forward_gates_in_keras_order():
    """gates[:, t] are i, f, g, o of A_t = x_t Wx + b + h_{t-1} Wh, computed
    here directly: g = tanh(A_g) third; and c_t, h_t follow from them."""
    a = make_inputs()
    t = tensors(a)
    _, hs, cs, gates, pre = lstm_forward(*(t[k] for k in INPUT_NAMES))
    assert pre is None and gates.shape == (N, T, 4 * H)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c = a["h0"], a["c0"]
    for step in range(T):
        A = a["x"][:, step] @ a["kernel"] + a["bias"]
        A = A + h @ a["recurrent_kernel"]
        A_i, A_f, A_g, A_o = np.split(A, 4, axis=-1)
        i, f, g, o = np.split(gates[:, step].numpy(), 4, axis=-1)
        assert_close(i, sig(A_i), FLOAT64_PARITY, f"i_{step}")
        assert_close(f, sig(A_f), FLOAT64_PARITY, f"f_{step}")
        assert_close(g, np.tanh(A_g), FLOAT64_PARITY, f"g_{step}")
        assert_close(o, sig(A_o), FLOAT64_PARITY, f"o_{step}")
        c = sig(A_f) * c + sig(A_i) * np.tanh(A_g)
        h = sig(A_o) * np.tanh(c)
        assert_close(cs[:, step], c, FLOAT64_PARITY, f"c_{step}")
        assert_close(hs[:, step], h, FLOAT64_PARITY, f"h_{step}")


# --- 5. NaN in masked padding ------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["mask", "mixed_dropout-mask"])
def test_nan_padding_stays_out(name, mode):
    """NaN in x at masked steps reaches neither the outputs nor any weight
    gradient: the results equal those of zero padding; dx is 0 there."""
    args, options, _ = _case_args(name)
    x = args[0].numpy()
    x_nan = x.copy()
    x_nan[~MASK] = np.nan
    x_zero = x.copy()
    x_zero[~MASK] = 0.0
    results = {}
    for label, value in (("nan", x_nan), ("zero", x_zero)):
        results[label] = run_scratch(
            mode, name, [tf.constant(value), *args[1:]], options
        )
    out, h_last, c_last, grads = results["nan"]
    for value in (out, h_last, c_last, *grads):
        assert np.all(np.isfinite(value))
    dx = grads[0].numpy()
    assert np.all(dx[~MASK] == 0.0)
    assert np.any(dx[MASK] != 0.0)
    clean = results["zero"]
    for k, g, w in zip(("out", "h_last", "c_last", *INPUT_NAMES),
                       (out, h_last, c_last, *grads),
                       (*clean[:3], *clean[3])):  # fmt: skip
        np.testing.assert_array_equal(g, w, err_msg=k)


# --- 6. central differences --------------------------------------------------

# A few entries of each weight, at least one in every gate's columns.
ENTRIES = {
    "kernel": [(0, 0), (1, H + 1), (2, 2 * H + 2), (0, 3 * H + 3), (2, 1)],
    "recurrent_kernel": [(0, 1), (3, H), (1, 2 * H + 3), (2, 4 * H - 1)],
}


@pytest.mark.parametrize("weight", list(ENTRIES))
@pytest.mark.parametrize("name", ["mask", "mixed_dropout-mask"])
def test_central_differences(name, weight):
    """scratch_lstm's gradient w.r.t. a few weight entries equals the
    central differences of the loss (float64, eps 1e-6)."""
    args, options, _ = _case_args(name)
    index = INPUT_NAMES.index(weight)
    values = args[index].numpy()
    G, G_h, G_c = args[-3:]

    def loss(w):
        call = list(args[:6])
        call[index] = tf.constant(w)
        out, h_last, c_last = scratch_lstm(*call, **options)
        return float(
            tf.reduce_sum(out * G)
            + tf.reduce_sum(h_last * G_h)
            + tf.reduce_sum(c_last * G_c)
        )

    grads = run_scratch("eager", name, args, options)[3]
    analytic = np.array([grads[index].numpy()[e] for e in ENTRIES[weight]])
    numeric = []
    for e in ENTRIES[weight]:
        plus, minus = values.copy(), values.copy()
        plus[e] += EPS
        minus[e] -= EPS
        numeric.append((loss(plus) - loss(minus)) / (2 * EPS))
    assert np.all(analytic != 0.0)
    err = rel_err(analytic, np.array(numeric))
    assert err <= GRADIENT_CHECK_RTOL, f"d{weight}: rel err {err:.2e}"


# --- 7. bad options ----------------------------------------------------------


def test_bad_recurrent_activation_raises():
    with pytest.raises(ValueError, match="`recurrent_activation`"):
        LSTMOptions(recurrent_activation="nope")
    with pytest.raises(ValueError, match="argument `activation`"):
        LSTMOptions(activation="nope")


@pytest.mark.parametrize(
    "op", [lstm_forward, scratch_lstm, lstm_step], ids=lambda f: f.__name__
)
def test_public_ops_reject_bad_recurrent_activation(op):
    t = tensors(make_inputs())
    x = t["x"][:, 0] if op is lstm_step else t["x"]
    args = (x, t["h0"], t["c0"], t["kernel"], t["recurrent_kernel"])
    with pytest.raises(ValueError, match="`recurrent_activation`"):
        op(*args, recurrent_activation="nope")
