"""ScratchRNN next to `keras.layers.SimpleRNN`, ScratchLSTM next to
`keras.layers.LSTM`: same weights, same inputs.

`compare` builds both layers of a `cell` ("rnn" or "lstm") from one
configuration, gives them identical weights, runs both forward and
backward on the same inputs and returns the largest (scaled) difference of
every output and every gradient. `parity_table` does that for a table of
configurations; it is the main job, `python -m keras_scratch_rnn`.
"""

import time

import keras
import numpy as np

from keras_scratch_rnn.layers.scratch_gru import ScratchGRU
from keras_scratch_rnn.layers.scratch_lstm import ScratchLSTM
from keras_scratch_rnn.layers.scratch_rnn import ScratchRNN
from keras_scratch_rnn.tolerances import FLOAT32_PARITY, scaled_error
from keras_scratch_rnn.tools.autodiff import (
    forward_backward,
    gradient_function,
    modes,
)

# The built-in default problem: batch N, timesteps T, features D, units H.
DEFAULT_SHAPE = {"N": 3, "T": 6, "D": 4, "H": 5}

# The cells: ours, Keras's, and the weight columns per unit (the gates).
CELLS = {
    "rnn": (ScratchRNN, keras.layers.SimpleRNN, 1),
    "lstm": (ScratchLSTM, keras.layers.LSTM, 4),
    "gru": (ScratchGRU, keras.layers.GRU, 3),
}

GRADIENT_NAMES = (
    "d_inputs",
    "d_initial_state",
    "d_initial_carry",
    "d_kernel",
    "d_recurrent_kernel",
    "d_bias",
)


def check_cell(cell):
    if cell not in CELLS:
        raise ValueError(
            "Received an invalid value for argument `cell`, expected one of "
            f"{tuple(CELLS)}, got {cell!r}."
        )
    return CELLS[cell]


def default_inputs(N, T, D, H, seed=0, dtype="float32", cell="rnn"):
    """The built-in inputs: `(x, mask, h0)`, no download needed.

    `x` is a seeded normal `(N, T, D)`; the mask hides the first step of
    sample 0, the last step of sample 1 and a gap in the middle of sample 2
    (the cases where masking semantics differ); `h0` is `(N, H)`, or for
    the LSTM a list `[h0, c0]`.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D)).astype(dtype)
    mask = np.ones((N, T), dtype=bool)
    mask[0, 0] = False
    mask[1 % N, T - 1] = False
    mask[2 % N, T // 3 : 2 * T // 3] = False
    h0 = (0.5 * rng.normal(size=(N, H))).astype(dtype)
    if cell == "lstm":
        h0 = [h0, rng.normal(size=(N, H)).astype(dtype)]  # [h0, c0]
    return x, mask, h0


def default_weights(
    D, H, use_bias=True, seed=1, dtype="float32", cell="rnn", bias_rows=None
):
    """`[kernel, recurrent_kernel, bias]`, nonzero bias, seeded; `(D, 4H)`
    and so on for the LSTM, `(D, 3H)` for the GRU, whose bias is
    `(bias_rows, 3H)` when `bias_rows` is given (`reset_after`: 2)."""
    gates = check_cell(cell)[2]
    rng = np.random.default_rng(seed)
    kernel = rng.normal(scale=0.6, size=(D, gates * H))
    recurrent_kernel = rng.normal(scale=0.9 / np.sqrt(H), size=(H, gates * H))
    weights = [kernel, recurrent_kernel]
    if use_bias:
        shape = (gates * H,) if bias_rows is None else (bias_rows, gates * H)
        weights.append(rng.normal(scale=0.2, size=shape))
    return [w.astype(dtype) for w in weights]


def _bias_rows(config, cell):
    """The rows of the bias of a GRU with `config` (2 with `reset_after`,
    Keras's default), or `None` (a vector)."""
    if cell == "gru" and config.get("reset_after", True):
        return 2
    return None


def reference_config(config, use_mask, initial_state=False, cell="rnn"):
    """SimpleRNN's (LSTM's) config for the reference of a ScratchRNN
    (ScratchLSTM) with `config`.

    The same config, except where Keras 3.15's SimpleRNN is inconsistent
    across its own code paths; ScratchRNN does the same on every backend
    (as SimpleRNN on TensorFlow without `unroll`), so the reference is then
    the SimpleRNN path that does it:

    - `hits_keras_unroll_bug`: the unrolled loop zeroes the wrong steps;
      the reference runs without `unroll`.
    - `hits_keras_jax_masked_start`: on JAX, the symbolic loop outputs the
      initial state (not zeros) at masked steps before the first unmasked
      one; the reference is unrolled (JAX's unrolled loop gives zeros).
    - On JAX, the unrolled loop ignores `zero_output_for_mask` (masked
      steps repeat the previous output); the reference runs without
      `unroll`.
    - On PyTorch, an unrolled SimpleRNN with a mask fails when it returns
      the last output only (`'tuple' object has no attribute 'shape'`);
      the reference runs without `unroll` (on PyTorch both are the same
      Python loop).
    - On PyTorch, a stateful LSTM's backward fails ("one of the variables
      needed for gradient computation has been modified by an inplace
      operation": Keras's torch LSTM kernel keeps the state variable's
      tensor, which the call then overwrites); the reference runs Keras's
      generic loop instead (`use_cudnn=False`), which computes the same
      function.
    """
    reference = dict(config)
    if hits_keras_unroll_bug(config, use_mask):
        reference["unroll"] = False
    if keras.backend.backend() == "torch" and use_mask:
        reference["unroll"] = False
    if (
        keras.backend.backend() == "jax"
        and use_mask
        and config.get("zero_output_for_mask", False)
    ):
        reference["unroll"] = False
    if hits_keras_jax_masked_start(config, use_mask, initial_state):
        reference["unroll"] = True
    if (
        cell in ("lstm", "gru")
        and keras.backend.backend() == "torch"
        and config.get("stateful", False)
    ):
        reference["use_cudnn"] = False
    return reference


def hits_keras_jax_masked_start(config, use_mask, initial_state):
    """Whether SimpleRNN on JAX would output the initial state at leading
    masked steps (TensorFlow's SimpleRNN and ScratchRNN output zeros)."""
    return (
        keras.backend.backend() == "jax"
        and use_mask
        and (initial_state or config.get("stateful", False))
        and not config.get("zero_output_for_mask", False)
        and not config.get("unroll", False)
    )


def hits_keras_unroll_bug(config, use_mask):
    """Whether SimpleRNN's unrolled loop would zero the wrong steps.

    With `unroll=True`, `go_backwards=True`, `zero_output_for_mask=True`
    and `return_sequences=True`, Keras (checked on 3.15) zeroes the outputs
    of a masked batch with the mask in the original time order although the
    outputs are reversed. ScratchRNN does what SimpleRNN does without
    `unroll`, so that is the reference then.
    """
    return use_mask and all(
        config.get(key, False)
        for key in (
            "unroll",
            "go_backwards",
            "zero_output_for_mask",
            "return_sequences",
        )
    )


def compare(
    config=None,
    mask=False,
    initial_state=False,
    training=False,
    in_function=False,
    shape=None,
    seed=0,
    cell="rnn",
):
    """Runs ScratchRNN and SimpleRNN (or ScratchLSTM and LSTM) side by side
    and measures differences.

    Args:
        config: Keyword arguments of both layers except `units`
            (e.g. `{"return_sequences": True, "activation": "relu"}`).
        mask: Use the built-in mask (`default_inputs`).
        initial_state: Pass the built-in initial state (and compare the
            gradients w.r.t. it).
        training: The `training` call argument (dropout acts only then).
        in_function: Run traced (`tf.function`, `jax.jit`) instead of
            eagerly; not on torch, where Keras runs eagerly.
        shape: Dict with `N, T, D, H`; default `DEFAULT_SHAPE`.
        seed: Seed of the built-in inputs.
        cell: `"rnn"` (ScratchRNN vs SimpleRNN) or `"lstm"` (ScratchLSTM
            vs LSTM).

    Returns:
        A dict: `"output"` (and `"state"` with `return_state`: the worst
        final state) and the gradients w.r.t. inputs, initial states (if
        passed: `d_initial_state`, and the LSTM's `d_initial_carry`),
        kernel, recurrent kernel and bias (if used), each the scaled error
        `max|a - b| / max(1, max|b|)` of ours against Keras's; `inf` where
        only one of the two has a gradient.
    """
    ours, theirs, _ = check_cell(cell)
    config = dict(config or {})
    shape = shape or DEFAULT_SHAPE
    N, T, D, H = (shape[k] for k in "NTDH")
    x, mask_array, h0 = default_inputs(N, T, D, H, seed, cell=cell)
    reference = reference_config(config, mask, initial_state, cell)
    warmup = None
    if config.get("stateful"):
        warmup, x = x[:, : T // 2], x[:, T // 2 :]
        mask_array = mask_array[:, T // 2 :]
    mask_array = mask_array if mask else None
    h0 = h0 if initial_state else None

    weights = default_weights(
        D, H, config.get("use_bias", True), cell=cell,
        bias_rows=_bias_rows(config, cell),
    )  # fmt: skip
    results = []
    for cls, layer_config in ((ours, config), (theirs, reference)):
        layer = cls(H, **layer_config)
        layer.build((N, None, D))
        layer.set_weights(weights)
        if warmup is not None:  # stateful: a first chunk sets the state
            layer(warmup, training=training)
        results.append(
            forward_backward(layer, x, h0, mask_array, training, in_function)
        )
    (outs, grads), (ref_outs, ref_grads) = results

    errors = {"output": scaled_error(outs[0], ref_outs[0])}
    if len(outs) > 1:
        errors["state"] = max(
            scaled_error(a, b) for a, b in zip(outs[1:], ref_outs[1:])
        )
    for name in GRADIENT_NAMES:
        g, ref = grads.get(name), ref_grads.get(name)
        if g is None and ref is None:
            continue
        if g is None or ref is None:  # one has a gradient, the other not
            errors[name] = float("inf")
        else:
            errors[name] = scaled_error(g, ref)
    return errors


# The main job's table: (label, layer config, call options).
PARITY_CASES = (
    ("default (tanh, last output)", {}, {}),
    ("return_sequences", {"return_sequences": True}, {}),
    ("return_state", {"return_sequences": True, "return_state": True}, {}),
    ("go_backwards", {"return_sequences": True, "go_backwards": True}, {}),
    ("use_bias=False", {"use_bias": False}, {}),
    ("activation=relu", {"activation": "relu"}, {}),
    ("activation=sigmoid", {"activation": "sigmoid"}, {}),
    ("activation=None (linear)", {"activation": None}, {}),
    ("activation=gelu (local grad)", {"activation": "gelu"}, {}),
    ("activation=softmax (local grad)", {"activation": "softmax"}, {}),
    ("initial_state", {"return_state": True}, {"initial_state": True}),
    ("mask", {"return_sequences": True}, {"mask": True}),
    (
        "mask + zero_output_for_mask",
        {"return_sequences": True, "zero_output_for_mask": True},
        {"mask": True},
    ),
    (
        "mask + initial_state + go_backwards",
        {"return_sequences": True, "return_state": True, "go_backwards": True},
        {"mask": True, "initial_state": True},
    ),
    ("unroll", {"return_sequences": True, "unroll": True}, {"mask": True}),
    ("stateful (2nd chunk)", {"stateful": True, "return_state": True}, {}),
    (
        "dropout=0.3, seed=7 (training)",
        {"dropout": 0.3, "seed": 7, "return_sequences": True},
        {"training": True},
    ),
    (
        "recurrent_dropout=0.3, seed=7 (training)",
        {"recurrent_dropout": 0.3, "seed": 7, "return_sequences": True},
        {"training": True},
    ),
    (
        "everything at once",
        {
            "return_sequences": True,
            "return_state": True,
            "go_backwards": True,
            "activation": "relu",
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "seed": 3,
            "zero_output_for_mask": True,
        },
        {"mask": True, "initial_state": True, "training": True},
    ),
)


# The LSTM's table: the same arguments, and those SimpleRNN lacks.
LSTM_CASES = (
    ("default (tanh/sigmoid, last output)", {}, {}),
    ("return_sequences", {"return_sequences": True}, {}),
    (
        "return_state (h and c)",
        {"return_sequences": True, "return_state": True},
        {},
    ),
    ("go_backwards", {"return_sequences": True, "go_backwards": True}, {}),
    ("use_bias=False", {"use_bias": False}, {}),
    ("activation=relu", {"activation": "relu"}, {}),
    ("recurrent_activation=tanh", {"recurrent_activation": "tanh"}, {}),
    ("activation=None (linear)", {"activation": None}, {}),
    (
        "gelu, hard_sigmoid gates (local grads)",
        {"activation": "gelu", "recurrent_activation": "hard_sigmoid"},
        {},
    ),
    (
        "initial_state [h0, c0]",
        {"return_state": True},
        {"initial_state": True},
    ),
    ("mask", {"return_sequences": True}, {"mask": True}),
    (
        "mask + zero_output_for_mask",
        {"return_sequences": True, "zero_output_for_mask": True},
        {"mask": True},
    ),
    (
        "mask + initial_state + go_backwards",
        {"return_sequences": True, "return_state": True, "go_backwards": True},
        {"mask": True, "initial_state": True},
    ),
    ("unroll", {"return_sequences": True, "unroll": True}, {"mask": True}),
    ("stateful (2nd chunk)", {"stateful": True, "return_state": True}, {}),
    (
        "dropout=0.3, seed=7 (training)",
        {"dropout": 0.3, "seed": 7, "return_sequences": True},
        {"training": True},
    ),
    (
        "recurrent_dropout=0.3, seed=7 (per gate)",
        {"recurrent_dropout": 0.3, "seed": 7, "return_sequences": True},
        {"training": True},
    ),
    (
        "everything at once",
        {
            "return_sequences": True,
            "return_state": True,
            "go_backwards": True,
            "recurrent_activation": "tanh",
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "seed": 3,
            "zero_output_for_mask": True,
        },
        {"mask": True, "initial_state": True, "training": True},
    ),
)

# The GRU's table: the LSTM's cases (one state), in both of its forms.
GRU_CASES = tuple(
    (label.replace(" (h and c)", ""), config, options)
    for label, config, options in LSTM_CASES
    if "c0" not in label
) + (
    ("initial_state", {"return_state": True}, {"initial_state": True}),
    ("reset_after=False (the book's form)", {"reset_after": False}, {}),
    (
        "reset_after=False + mask + dropout (training)",
        {
            "reset_after": False,
            "return_sequences": True,
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "seed": 5,
        },
        {"mask": True, "training": True},
    ),
)

CASES = {"rnn": PARITY_CASES, "lstm": LSTM_CASES, "gru": GRU_CASES}


def parity_table(cases=None, run_modes=None, cell="rnn"):
    """Compares every case of `cell` (default: its table) in every mode
    (default: eager, and traced where the backend traces); returns a list
    of result rows."""
    check_cell(cell)
    backend = keras.backend.backend()
    rows = []
    for label, config, options in cases or CASES[cell]:
        for mode in run_modes or modes():
            errors = compare(
                config, in_function=mode != "eager", cell=cell, **options
            )
            output = max(errors[k] for k in ("output", "state") if k in errors)
            grads = max(errors[k] for k in GRADIENT_NAMES if k in errors)
            rows.append(
                {
                    "cell": cell,
                    "case": label,
                    "backend": backend,
                    "mode": mode,
                    "output": output,
                    "gradients": grads,
                    "ok": max(output, grads) <= FLOAT32_PARITY,
                }
            )
    return rows


def format_table(rows):
    """The rows as an aligned text table."""
    width = max(len(r["case"]) for r in rows)
    lines = [
        f"{'cell':<5} {'configuration':<{width}}  {'backend':<10}  "
        f"{'mode':<11}  {'output':>8}  {'gradients':>9}  within",
        "-" * (width + 65),
    ]
    for r in rows:
        lines.append(
            f"{r.get('cell', 'rnn'):<5} {r['case']:<{width}}  "
            f"{r['backend']:<10}  {r['mode']:<11}  {r['output']:>8.1e}  "
            f"{r['gradients']:>9.1e}  {'yes' if r['ok'] else 'NO'}"
        )
    return "\n".join(lines)


def main_job(cells=tuple(CELLS)):
    """Prints the parity table of `cells` (default: every cell's); returns 0
    if every row is within tolerance."""
    shape = DEFAULT_SHAPE
    pairs = {
        "rnn": "ScratchRNN vs keras.layers.SimpleRNN (cell rnn)",
        "lstm": "ScratchLSTM vs keras.layers.LSTM (cell lstm)",
        "gru": "ScratchGRU vs keras.layers.GRU (cell gru)",
    }
    print(
        ",\n".join(pairs[cell] for cell in cells) + ":\nhandwritten BPTT vs "
        "Keras's autodiff: same weights, same inputs, "
        f"N={shape['N']} T={shape['T']} D={shape['D']} H={shape['H']}, "
        "float32.\nColumns are the largest scaled difference "
        "max|a-b| / max(1, max|b|) of the outputs (and final\nstates) and "
        "of the gradients w.r.t. inputs, initial states, kernel, "
        f"recurrent_kernel and bias;\ntolerance {FLOAT32_PARITY:.0e}.\n"
    )
    start = time.perf_counter()
    rows = [row for cell in cells for row in parity_table(cell=cell)]
    print(format_table(rows))
    bad = [r for r in rows if not r["ok"]]
    print(
        f"\n{len(rows) - len(bad)}/{len(rows)} comparisons within "
        f"{FLOAT32_PARITY:.0e} ({time.perf_counter() - start:.1f} s)."
    )
    return 1 if bad else 0


# ---------------------------------------------------------------------------
# `python -m keras_scratch_rnn compare`: any configuration the user types.


def check_config(config, units, cell="rnn"):
    """Builds both layers of `cell` from `config`; returns Keras's layer's
    error or None.

    Our layer's own error is raised (the CLI turns it into a usage
    message); a configuration that only Keras refuses returns that
    message, so the caller can say so.
    """
    ours, theirs, _ = check_cell(cell)
    ours(units, **config)
    try:
        theirs(units, **config)
    except Exception as error:  # reported, not hidden
        return f"{type(error).__name__}: {error}"
    return None


def _scalar(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


def _regularization(layer, x, mask, training):
    """The regularization losses of one call of `layer`.

    Returns `(weight_losses, activity_loss)`, floats: the sum of the weight
    regularizers' penalties, and the rest of `layer.losses`.
    """
    out = layer(x, mask=mask, training=training)
    out = out[0] if isinstance(out, (list, tuple)) else out
    weight_losses = 0.0
    for regularizer, weight in (
        (layer.cell.kernel_regularizer, layer.cell.kernel),
        (layer.cell.recurrent_regularizer, layer.cell.recurrent_kernel),
        (layer.cell.bias_regularizer, layer.cell.bias),
    ):
        if regularizer is not None and weight is not None:
            weight_losses += _scalar(regularizer(weight))
    total = sum(_scalar(v) for v in layer.losses)
    return weight_losses, total - weight_losses


def compare_extras(
    config,
    units=DEFAULT_SHAPE["H"],
    mask=False,
    training=False,
    shape=None,
    seed=0,
    learning_rate=0.1,
    cell="rnn",
):
    """What `compare` does not cover: initializers, regularizers, constraints.

    Three checks, each ScratchRNN against SimpleRNN:

    - `"output (initializer weights)"`: ScratchRNN draws its weights with
      the configured initializers, SimpleRNN receives a copy; the outputs
      are compared (the initializers' shapes and order must agree).
    - `"regularization losses"`: the losses of the weight regularizers
      after a call. `activity_regularizer` is reported apart in
      `"activity loss"` (ScratchRNN's; SimpleRNN of Keras 3.15 drops it).
    - `"weights after one SGD step"`: one `keras.optimizers.SGD` step on the
      same loss, so the constraints act.

    Args:
        config: Layer keyword arguments except `units` (as in `compare`).
        units: `H`.
        mask, training, seed: As in `compare`.
        shape: Dict with `N, T, D` (`H` is `units`); default `DEFAULT_SHAPE`.
        learning_rate: Of the SGD step.
        cell: `"rnn"` or `"lstm"` (then ScratchLSTM against LSTM).

    Returns:
        A dict of scaled errors; `"activity loss"` is a pair
        `(ScratchRNN's, SimpleRNN's)` when `activity_regularizer` is set.
    """
    config = dict(config or {})
    shape = {**DEFAULT_SHAPE, **(shape or {}), "H": units}
    N, T, D, H = (shape[k] for k in "NTDH")
    x, mask_array, _ = default_inputs(N, T, D, H, seed)
    mask_array = mask_array if mask else None
    x = keras.ops.convert_to_tensor(x)
    mask_tensor = None
    if mask_array is not None:
        mask_tensor = keras.ops.convert_to_tensor(mask_array)
    reference = reference_config(config, mask, cell=cell)

    keras.utils.set_random_seed(seed)
    ours, theirs, _ = check_cell(cell)
    scratch = ours(H, **config)
    simple = theirs(H, **reference)
    batch = N if config.get("stateful") else None
    for layer in (scratch, simple):
        layer.build((batch, None, D))
    simple.set_weights(scratch.get_weights())

    errors = {}
    outs = []
    for layer in (scratch, simple):
        out = layer(x, mask=mask_tensor, training=training)
        out = out[0] if isinstance(out, (list, tuple)) else out
        outs.append(keras.ops.convert_to_numpy(out))
    errors["output (initializer weights)"] = scaled_error(outs[0], outs[1])

    if config.get("stateful"):
        for layer in (scratch, simple):
            layer.reset_state()
    scratch_losses = _regularization(scratch, x, mask_tensor, training)
    simple_losses = _regularization(simple, x, mask_tensor, training)
    if any(
        config.get(f"{k}_regularizer") is not None
        for k in ("kernel", "recurrent", "bias")
    ):
        errors["regularization losses"] = scaled_error(
            scratch_losses[0], simple_losses[0]
        )
    if config.get("activity_regularizer") is not None:
        errors["activity loss"] = (scratch_losses[1], simple_losses[1])

    if config.get("stateful"):
        for layer in (scratch, simple):
            layer.reset_state()
    x = keras.ops.convert_to_numpy(x)
    for layer in (scratch, simple):
        optimizer = keras.optimizers.SGD(learning_rate)
        run = gradient_function(layer, mask_array, training)
        _, grads = run(x, None)
        weights = layer.trainable_weights
        grads = [keras.ops.convert_to_tensor(g) for g in grads[1:]]
        optimizer.apply_gradients(zip(grads, weights))
    errors["weights after one SGD step"] = max(
        scaled_error(a, b)
        for a, b in zip(scratch.get_weights(), simple.get_weights())
    )
    return errors


def time_pair(
    config,
    units=DEFAULT_SHAPE["H"],
    mask=False,
    initial_state=False,
    training=False,
    in_function=True,
    shape=None,
    seed=0,
    repeats=10,
    cell="rnn",
):
    """Seconds per forward + backward call of ScratchRNN and SimpleRNN (or,
    with `cell="lstm"`, ScratchLSTM and LSTM).

    Both layers get the same weights and inputs; the first call (tracing)
    is not timed; the median of `repeats` calls is returned.

    Returns:
        `{"ScratchRNN": seconds, "SimpleRNN": seconds}` (or with the LSTM
        layers' class names).
    """
    config = dict(config or {})
    shape = {**DEFAULT_SHAPE, **(shape or {}), "H": units}
    N, T, D, H = (shape[k] for k in "NTDH")
    x, mask_array, h0 = default_inputs(N, T, D, H, seed, cell=cell)
    mask_array = mask_array if mask else None
    h0 = h0 if initial_state else None
    weights = default_weights(
        D, H, config.get("use_bias", True), cell=cell,
        bias_rows=_bias_rows(config, cell),
    )  # fmt: skip
    seconds = {}
    for cls in check_cell(cell)[:2]:
        layer = cls(H, **config)
        layer.build((N, None, D))
        layer.set_weights(weights)
        run = gradient_function(layer, mask_array, training, in_function)
        run(x, h0)  # trace / warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            _, grads = run(x, h0)
            keras.ops.convert_to_numpy(grads[0])  # wait for the result
            times.append(time.perf_counter() - start)
        seconds[cls.__name__] = float(np.median(times))
    return seconds
