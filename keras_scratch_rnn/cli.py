"""The command line: `python -m keras_scratch_rnn [COMMAND]`.

Also installed as the console script `keras-scratch-rnn`.

Without a command it runs the main job (`parity.main_job`; `--cell rnn`,
`lstm` or `gru` for one table only). Commands:

- `explain [--cell rnn|lstm|gru] [PARAM] [--lang en|ja]`: every SimpleRNN
  (LSTM, GRU) argument explained, or one of them with a live demonstration
  (`keras_scratch_rnn.learn.explain`).
- `compare [--cell rnn|lstm|gru] [LAYER ARGUMENTS ...]`: ScratchRNN
  against SimpleRNN (or ScratchLSTM against LSTM, ScratchGRU against GRU)
  for any configuration: output and gradient differences and the speed
  ratio.
- `gradflow [--cell rnn|lstm|gru|all] [--plot PATH] [--lang en|ja]`: how
  far back the gradient reaches in the RNN, the LSTM and the GRU (why
  truncated BPTT, the LSTM's memory cell and the GRU's update gate; the
  GRU in the book's form with `--no-reset-after`, a bias on z with
  `--update-bias B`).
- `docs [--check [--demos]]`: regenerates `docs/` from the same source as
  `explain`, or checks it (`--demos`: the demonstrations' output too).
- `parity`: the main job, by name.

Invalid arguments end in an argparse message and exit code 2, never a
traceback; so does a Keras backend other than TensorFlow, or a TensorFlow
that does not import, in one line. Colour only on a terminal without
`NO_COLOR`.

TensorFlow is imported only by the commands that run ScratchRNN, after
their arguments are checked (and for `explain PARAM`, after the text is
printed), so `--help`, `explain`, `docs --check` and argument errors answer
at once. It is imported without its C++ start-up log lines
(`terminal.import_tensorflow_quietly`).
"""

import argparse
import ast
import difflib
import importlib
import importlib.util
import json
import math
import os
import pathlib
import shutil
import sys

from keras_scratch_rnn.learn import explain
from keras_scratch_rnn.terminal import (
    Style,
    import_tensorflow_quietly,
    supports_colour,
    table,
    wrap,
)

PROG = "keras-scratch-rnn"
_UNSET = object()  # a layer argument the user did not type


def _width():
    return max(60, min(100, shutil.get_terminal_size((80, 24)).columns))


def _style():
    return Style(supports_colour(sys.stdout))


def _print(lines):
    print("\n".join(lines))


def _fail(message):
    """Ends the command with one line on stderr and exit code 2."""
    print(f"{PROG}: {message}", file=sys.stderr)
    raise SystemExit(2)


def _usage_error(parser, message):
    """A usage error in one line (`PROG COMMAND: error: ...`, exit code 2),
    without argparse's usage block."""
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# The layers of each cell: ours, and Keras's it stands in for.
LAYER_NAMES = {
    "rnn": ("ScratchRNN", "SimpleRNN"),
    "lstm": ("ScratchLSTM", "LSTM"),
    "gru": ("ScratchGRU", "GRU"),
}
MAIN_CELLS = {
    "rnn": ("rnn",),
    "lstm": ("lstm",),
    "gru": ("gru",),
    "all": ("rnn", "lstm", "gru"),
}


def keras_backend():
    """The backend Keras will load, found as Keras finds it, unimported.

    Returns:
        `(name, where)`: `where` names the setting (`KERAS_BACKEND`, or the
        `keras.json` that sets it); `("tensorflow", None)` by default.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    if "KERAS_HOME" in os.environ:
        folder = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        home = home if os.access(home, os.W_OK) else "/tmp"
        folder = os.path.join(home, ".keras")
    path = os.path.expanduser(os.path.join(folder, "keras.json"))
    try:
        with open(path, encoding="utf-8") as file:
            name = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        name = None
    if name:
        return name, f"the backend in {path}"
    return "tensorflow", None


BACKENDS = ("tensorflow", "jax", "torch")
INSTALL = {
    "tensorflow": "pip install tensorflow",
    "jax": "pip install 'keras-scratch-rnn[jax]'",
    "torch": "pip install torch==2.13.0+cpu --index-url "
    "https://download.pytorch.org/whl/cpu",
}


def _load_keras(args, needs="ScratchRNN needs", backends=BACKENDS):
    """Imports Keras on the backend of `--backend` (else Keras's own
    setting), or ends in one line (exit code 2). Returns the backend."""
    if getattr(args, "backend", None):
        os.environ["KERAS_BACKEND"] = args.backend
    name, where = keras_backend()
    if "keras" in sys.modules and name in BACKENDS:
        loaded = sys.modules["keras"].backend.backend()
        if loaded != name:  # a backend is loaded once per process
            _fail(
                f"{where} is {name!r}, but Keras is already loaded with the "
                f"{loaded} backend in this process."
            )
    if name not in backends:
        other = " or ".join(backends)
        _fail(
            f"{needs} the {other} backend; {where} is {name!r}. Run with "
            f"--backend {backends[0]} (or KERAS_BACKEND={backends[0]})."
        )
    try:
        if name == "tensorflow":
            import_tensorflow_quietly()
        else:
            importlib.import_module(name)
        import keras  # noqa: F401
    except ImportError as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        _fail(
            f"cannot import {name} and Keras ({reason}). Install them: "
            f"{INSTALL[name]}"
        )
    return name


# ---------------------------------------------------------------------------
# Argument types (each raises ArgumentTypeError with a clear message).


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {value}"
        )
    return value


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a float between 0 and 1, got {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {text!r}"
        )
    return value


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"expected a finite number, got {text!r}"
        )
    return value


def _int_or_none(text):
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or None, got {text!r}"
        ) from None


def _activation(text):
    if text.lower() in ("none", "linear"):
        return None if text.lower() == "none" else "linear"
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(_unknown_activation(text))
    return Spelled(text, "activations", ("name", text))


def _unknown_activation(text):
    return f"unknown activation {text!r} (e.g. tanh, relu, sigmoid, gelu, None)"


class Spelled(str):
    """A Keras object as typed on the command line (`l2`, `L2(0.01)`, JSON).

    Parsing checks only its form, without Keras; `resolve()` builds it once
    Keras is imported.

    Attributes:
        kind: `"activations"`, `"initializers"`, `"regularizers"` or
            `"constraints"`.
        form: `("name", name)`, `("call", name, args, kwargs)` or
            `("config", dict)`.
    """

    def __new__(cls, text, kind, form):
        spelled = super().__new__(cls, text)
        spelled.kind, spelled.form = kind, form
        return spelled

    def resolve(self):
        """The object for the layer; ValueError with the message if none."""
        import keras

        module = getattr(keras, self.kind)
        try:
            if self.kind == "activations":
                module.get(self.form[1])  # the layer takes the name
                return str(self)
            if self.form[0] == "call":
                _, name, args, kwargs = self.form
                return type(module.get(name))(*args, **kwargs)
            return module.get(self.form[1])
        except Exception as error:  # any bad spec ends in a message
            if self.kind == "activations":
                raise ValueError(_unknown_activation(str(self))) from None
            raise ValueError(_invalid(self.kind, str(self), error)) from None


def _invalid(kind, text, error):
    return (
        f"invalid {kind[:-1]} {text!r}: {error}. Give a name "
        f"(e.g. {_EXAMPLES[kind]}), a call such as {_CALLS[kind]}, or a "
        "Keras config as JSON"
    )


def _keras_object(kind):
    """A type for initializers/regularizers/constraints.

    Accepts a name (`l2`, `orthogonal`), a call with literal arguments
    (`L2(0.01)`, `MaxNorm(max_value=2)`, `Orthogonal(seed=1)`), or a Keras
    config as JSON; `None` for none. Only the form is checked here
    (`Spelled.resolve` looks the name up in Keras).
    """

    def parse(text):
        if text.lower() == "none":
            return None
        try:
            if text.lstrip().startswith("{"):
                config = json.loads(text)
                if not isinstance(config, dict):
                    raise ValueError("a Keras config is a JSON object")
                return Spelled(text, kind, ("config", config))
            node = ast.parse(text.strip(), mode="eval").body
            if isinstance(node, ast.Name):
                return Spelled(text, kind, ("name", node.id))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                args = [ast.literal_eval(a) for a in node.args]
                kwargs = {
                    k.arg: ast.literal_eval(k.value) for k in node.keywords
                }
                return Spelled(text, kind, ("call", node.func.id, args, kwargs))
            raise ValueError("not a name, a call or a JSON object")
        except (ValueError, SyntaxError, TypeError) as error:
            raise argparse.ArgumentTypeError(
                _invalid(kind, text, error)
            ) from None

    parse.__name__ = kind[:-1]
    return parse


_EXAMPLES = {
    "initializers": "orthogonal",
    "regularizers": "l2",
    "constraints": "non_neg",
}
_CALLS = {
    "initializers": "'Orthogonal(gain=0.5, seed=1)'",
    "regularizers": "'L2(0.01)'",
    "constraints": "'MaxNorm(max_value=2)'",
}

_METAVARS = {
    "activation": "NAME",
    "dropout": "RATE",
    "recurrent_dropout": "RATE",
    "seed": "INT",
}
_BOOLEANS = {
    "use_bias",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
}


def _use_cudnn(text):
    value = {"auto": "auto", "true": True, "false": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected auto, true or false, got {text!r}"
        )
    return value


# The gated cells' arguments that SimpleRNN lacks: (name, metavar or None
# for a flag, type, default, meaning, the cells that take it); `compare`
# refuses each for the other cells.
GATED_ARGUMENTS = (
    (
        "recurrent_activation",
        "NAME",
        _activation,
        "'sigmoid'",
        "the gates' activation: the LSTM's i, f, o = act(A_i), act(A_f), "
        "act(A_o), the GRU's z, r",
        ("lstm", "gru"),
    ),
    (
        "unit_forget_bias",
        None,
        None,
        "True",
        "LSTM: the forget gate's bias starts at 1 (f = sigmoid(1) = 0.73)",
        ("lstm",),
    ),
    (
        "reset_after",
        None,
        None,
        "True",
        "GRU: r multiplies h_{t-1} Wh + b_h, after the matmul (bias (2, "
        "3H)); --no-reset-after: r * h_{t-1} before it, as the book's GRU "
        "(bias (3H,))",
        ("gru",),
    ),
    (
        "use_cudnn",
        "auto|true|false",
        _use_cudnn,
        "'auto'",
        "LSTM's and GRU's cuDNN kernel on a GPU; ScratchLSTM and ScratchGRU "
        "accept it and always run their own loops",
        ("lstm", "gru"),
    ),
)


def _flag(name, metavar):
    """How `compare --help` spells the flag of argument `name`."""
    flag = name.replace("_", "-")
    return f"--[no-]{flag}" if metavar is None else f"--{flag}"


def _layer_type(name):
    if name == "units":
        return _positive_int
    if name == "activation":
        return _activation
    if name in ("dropout", "recurrent_dropout"):
        return _rate
    if name == "seed":
        return _int_or_none
    for kind in ("initializers", "regularizers", "constraints"):
        if name.endswith(kind[:-1]):
            return _keras_object(kind)
    raise LookupError(name)


# ---------------------------------------------------------------------------
# explain


# How `explain`'s hint names a cell's own argument.
_CELL_NOUNS = {"rnn": "a SimpleRNN", "lstm": "an LSTM", "gru": "a GRU"}


def _explain(args, parser):
    lang, width, style = args.lang, _width(), _style()
    cell = getattr(args, "cell", "rnn")
    if cell not in explain.CELLS:
        _usage_error(
            parser,
            f"explain takes one cell, --cell {', '.join(explain.CELLS)}, "
            f"not {cell!r}",
        )
    if args.param is None:
        _print(explain.overview_lines(lang, style, width, cell=cell))
        return 0
    topic = explain.resolve(args.param, cell=cell)
    if topic is None:
        names = explain.names(cell)
        typed = explain.normalize(args.param)
        others = explain.cells_knowing(args.param)
        if others:  # another cell's own argument or topic
            _usage_error(
                parser,
                f"{args.param!r} is "
                + " and ".join(f"{_CELL_NOUNS[c]} argument" for c in others)
                + ": add "
                + " or ".join(f"--cell {c}" for c in others)
                + f" (explain --cell {others[0]} {args.param})",
            )
        close = difflib.get_close_matches(typed, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        parser.error(
            f"unknown parameter {args.param!r}.{hint} Choose one of: "
            + ", ".join(names)
        )
    head, tail = explain.topic_frame(topic, lang, style, width, cell=cell)
    _print(head)
    sys.stdout.flush()  # the text first; the demonstration needs TensorFlow
    _load_keras(
        args,
        "the live demonstrations use TensorFlow's GradientTape; they need",
        ("tensorflow",),
    )
    demo, _ = explain.demo_lines(topic.name, lang)
    _print(explain.demo_block(demo) + tail)
    return 0


# ---------------------------------------------------------------------------
# compare


def _compare(args, parser):
    cell = getattr(args, "cell", "rnn")
    if cell not in LAYER_NAMES:
        _usage_error(
            parser,
            f"compare takes one cell, --cell rnn, lstm or gru, not {cell!r}",
        )
    ours, theirs = LAYER_NAMES[cell]
    names = [a.name for a in explain.ARGUMENTS if not a.call]
    names += [a[0] for a in GATED_ARGUMENTS]
    typed = {
        name: getattr(args, name)
        for name in names
        if name != "units" and getattr(args, name, None) is not _UNSET
    }
    for name, metavar, *_, takes in GATED_ARGUMENTS:
        if name in typed and cell not in takes:
            owners = " and ".join(LAYER_NAMES[c][1] for c in takes)
            cells = " or ".join(f"--cell {c}" for c in takes)
            _usage_error(
                parser,
                f"argument {_flag(name, metavar)}: an argument of {owners} "
                f"only ({theirs} has no {name}); add {cells}",
            )
    units = args.units
    if typed.get("stateful") and args.timesteps < 2:
        parser.error(
            "--stateful needs --timesteps of at least 2: the first half "
            "sets the state, the second half is compared"
        )

    backend = _load_keras(args)
    from keras_scratch_rnn.tools import parity
    from keras_scratch_rnn.tools.autodiff import TRACED_MODE

    config = {}
    for name, value in typed.items():
        try:
            config[name] = (
                value.resolve() if isinstance(value, Spelled) else value
            )
        except ValueError as error:
            parser.error(f"argument --{name.replace('_', '-')}: {error}")
    notes = []
    uses_dropout = config.get("dropout", 0) or config.get(
        "recurrent_dropout", 0
    )
    if uses_dropout and args.training and config.get("seed") is None:
        config["seed"] = 0
        notes.append(
            "No --seed given with dropout in training: using seed=0 for "
            "both layers, so that they draw the same masks."
        )

    try:
        keras_error = parity.check_config(config, units, cell=cell)
    except (ValueError, TypeError) as error:
        parser.error(f"{ours} refuses this configuration: {error}")
    if keras_error is None and config.get("use_cudnn") is True:
        keras_error = _call_error(parity.CELLS[cell][1], config, units, args)
    if keras_error:
        parser.error(
            f"keras.layers.{theirs} refuses this configuration, so there is "
            f"nothing to compare with: {keras_error}"
        )

    style = _style()
    shape = {"N": args.batch, "T": args.timesteps, "D": args.features}
    options = {
        "mask": args.mask,
        "initial_state": args.initial_state,
        "training": args.training,
    }
    traced = TRACED_MODE[backend]
    if traced is None and args.mode == "function":
        parser.error(
            f"--mode function: Keras runs layers eagerly on {backend}; "
            "use --mode eager (or both)"
        )
    modes = {"eager": [False], "function": [True], "both": [False, True]}[
        args.mode
    ]
    if traced is None:
        modes = [False]
    described = ", ".join(
        f"{k}={v}" if isinstance(v, Spelled) else f"{k}={v!r}"
        for k, v in typed.items()
    )
    described = described or "defaults"
    calls = [k for k, v in options.items() if v] or ["no call options"]
    lines = wrap(
        f"{ours} (handwritten BPTT) vs keras.layers.{theirs}, same "
        f"weights and inputs. units={units}, {described}; "
        f"call: {', '.join(calls)}. N={args.batch} T={args.timesteps} "
        f"D={args.features}, float32. Scaled difference "
        f"max|a-b| / max(1, max|b|), tolerance 1e-05.",
        _width(),
    )
    for note in notes:
        lines += wrap(note, _width())
    _print([*lines, ""])

    from keras_scratch_rnn.tolerances import FLOAT32_PARITY

    columns = {}
    for in_function in modes:
        errors = parity.compare(
            config,
            in_function=in_function,
            shape={**shape, "H": units},
            cell=cell,
            **options,
        )
        columns[traced if in_function else "eager"] = errors
    extras = parity.compare_extras(
        config,
        units,
        mask=args.mask,
        training=args.training,
        shape=shape,
        cell=cell,
    )
    activity = extras.pop("activity loss", None)
    if activity is not None and activity[1] != 0:  # Keras's layer has it
        extras["activity regularization loss"] = abs(
            activity[0] - activity[1]
        ) / max(1.0, abs(activity[1]))
        activity = None
    names = list(dict.fromkeys(k for c in columns.values() for k in c))
    header = ["check", *columns, "within"]
    rows, bad = [], 0
    for name in names:
        values = [c.get(name) for c in columns.values()]
        ok = all(v is None or v <= FLOAT32_PARITY for v in values)
        bad += not ok
        rows.append(
            [name]
            + ["" if v is None else f"{v:.1e}" for v in values]
            + [_verdict(ok, style)]
        )
    align = ["<"] + [">"] * len(columns) + ["<"]
    lines = table(header, rows, align=align, style=style)
    extra_rows = []
    for name, value in extras.items():
        ok = value <= FLOAT32_PARITY
        bad += not ok
        extra_rows.append([name, f"{value:.1e}", _verdict(ok, style)])
    lines += [""] + table(
        ["also checked (eager)", "difference", "within"],
        extra_rows,
        align=["<", ">", "<"],
        style=style,
    )
    if activity is not None:
        import keras

        lines += [""] + wrap(
            f"activity_regularizer: {ours}'s loss {activity[0]:.4g}, "
            f"{theirs}'s {activity[1]:.4g} (Keras {keras.version()}'s "
            f"{theirs} drops it; not counted as a difference).",
            _width(),
        )
    _print(lines)

    if not args.no_timing:
        timing = _timing(parity, config, units, shape, options, args, cell)
        _print(["", *timing])
    total = len(rows) + len(extra_rows)
    summary = f"{total - bad}/{total} checks within {FLOAT32_PARITY:.0e}."
    _print(["", style(summary, "green" if not bad else "red")])
    return 1 if bad else 0


def _verdict(ok, style):
    return style("yes", "green") if ok else style("NO", "red", "bold")


def _call_error(layer_class, config, units, args):
    """The error of one call of Keras's layer on zeros (LSTM's and GRU's
    `use_cudnn=True` is refused only then, without a GPU), one line; None
    if it runs."""
    import re

    import numpy as np

    zeros = np.zeros((args.batch, args.timesteps, args.features), "float32")
    try:
        layer_class(units, **config)(zeros)
    except Exception as error:  # reported, not hidden
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.startswith("Exception encountered")
        ]
        return f"{type(error).__name__}: {(lines or [''])[0]}"
    return None


def _timing(parity, config, units, shape, options, args, cell="rnn"):
    from keras_scratch_rnn.tools.autodiff import modes

    ours, theirs = LAYER_NAMES[cell]
    rows = []
    for mode in modes():
        in_function = mode != "eager"
        seconds = parity.time_pair(
            config,
            units,
            in_function=in_function,
            shape=shape,
            repeats=args.repeats,
            cell=cell,
            **options,
        )
        scratch, simple = seconds[ours], seconds[theirs]
        rows.append(
            [
                mode,
                f"{scratch * 1e3:.2f} ms",
                f"{simple * 1e3:.2f} ms",
                f"{simple / scratch:.2f}x",
            ]
        )
    return [
        f"Speed, forward + backward, median of {args.repeats} calls "
        f"(ratio > 1: {ours} is faster):",
        *table(
            ["mode", ours, theirs, f"{theirs} / {ours}"],
            rows,
            align=["<", ">", ">", ">"],
        ),
    ]


# ---------------------------------------------------------------------------
# gradflow


def _gradflow(args, parser):
    cells = MAIN_CELLS[getattr(args, "cell", "all")]
    if args.plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            parser.error(
                "--plot needs matplotlib: pip install matplotlib "
                "(it comes with the examples and test extras)"
            )
        folder = pathlib.Path(args.plot).resolve().parent
        if not folder.is_dir():
            parser.error(f"--plot: the folder {folder} does not exist")
    if any(T < 2 for T in args.lengths):
        parser.error("--lengths: every length must be at least 2")
    if "gru" not in cells and (not args.reset_after or args.update_bias):
        parser.error(
            "--no-reset-after and --update-bias are the GRU's: add --cell "
            "gru or --cell all"
        )
    if args.plot is not None and args.lang == "ja":
        from keras_scratch_rnn.learn import figures

        if figures.japanese_font() is None:
            _usage_error(
                parser,
                "--plot with --lang ja needs a font with Japanese glyphs, "
                "and matplotlib finds none: install one (e.g. apt-get "
                "install fonts-noto-cjk), or drop --lang ja",
            )

    _load_keras(
        args,
        "gradflow differentiates one step at a time with TensorFlow's "
        "GradientTape; it needs",
        ("tensorflow",),
    )
    from keras_scratch_rnn.learn import gradflow

    kwargs = {"units": args.units, "batch": args.batch, "seed": args.seed}
    gru_options = {
        "reset_after": args.reset_after,
        "update_bias": args.update_bias,
    }
    results = gradflow.run(
        args.lengths, args.scales, args.activation, cells, gru_options,
        **kwargs,
    )  # fmt: skip
    report = gradflow.lines(
        results, args.activation, _style(), _width(), args.lang,
        gru_options, **kwargs,
    )  # fmt: skip
    _print(report)
    if args.plot is not None:
        gradflow.plot(results, args.plot, args.activation, lang=args.lang)
        saved = {"en": "Saved the plot to", "ja": "図を保存しました:"}
        print(f"\n{saved[args.lang]} {args.plot}")
    return 0


# ---------------------------------------------------------------------------
# docs


def _docs(args, parser):
    if args.demos and not args.check:
        parser.error("--demos goes with --check (docs always runs them)")
    wants_figures = not (args.check or args.no_figures)
    if wants_figures and importlib.util.find_spec("matplotlib") is None:
        parser.error(
            "the figures need matplotlib: pip install matplotlib, or pass "
            "--no-figures"
        )
    from keras_scratch_rnn.learn import docs_gen

    out = pathlib.Path(args.out) if args.out else docs_gen.find_docs_dir()
    if out is None:
        _fail(
            "docs needs a checkout of the project, and there is none here or "
            f"above (the package is installed in {docs_gen.ROOT}): run it in "
            "a clone, or pass --out DIR."
        )
    if args.demos or not args.check:
        _load_keras(
            args,
            "the docs' demonstrations use TensorFlow's GradientTape; they need",
            ("tensorflow",),
        )
    if args.check:
        drifted = docs_gen.check(out, demos=args.demos)
        for path in drifted:
            print(f"out of date: {path}")
        if drifted:
            print("Regenerate with: python -m keras_scratch_rnn docs")
            return 1
        rerun = "" if args.demos else " (the demonstrations not rerun)"
        print(f"{out} is up to date{rerun}.")
        return 0
    for path in docs_gen.write(out, figures=not args.no_figures):
        print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------
# The parser.


def _main_job(args, parser):
    cells = MAIN_CELLS[getattr(args, "cell", "all")]
    _load_keras(args)
    from keras_scratch_rnn.tools import parity

    return parity.main_job(cells=cells)


MAIN_JOB_HELP = (
    "Builds ScratchRNN (the RNN of 'Deep Learning from Scratch 2' with a "
    "handwritten backward) and keras.layers.SimpleRNN with the same weights, "
    "and ScratchLSTM (the book's LSTM) and keras.layers.LSTM, ScratchGRU "
    "(the book's GRU) and keras.layers.GRU likewise, "
    "runs each pair on a built-in input for a table of parameter "
    "combinations, eagerly and traced (tf.function, jax.jit; torch runs "
    "eagerly), on the Keras backend of --backend or KERAS_BACKEND, and "
    "prints the largest output and gradient differences (--cell rnn, "
    "lstm or gru: one table only). Exits with 1 if any is above tolerance."
)


def _add_cell_option(parser, choices, default, help):
    """`--cell`; unset unless typed (like `--backend`), so that one typed
    before the command reaches it."""
    parser.add_argument(
        "--cell",
        choices=choices,
        default=argparse.SUPPRESS,
        help=f"{help} (default: {default})",
    )


def _add_backend_option(parser):
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=argparse.SUPPRESS,
        help="the Keras backend to run on (default: KERAS_BACKEND, else "
        "Keras's setting, else tensorflow)",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Without a command: the main job. "
            + MAIN_JOB_HELP
            + " The commands below explain every SimpleRNN parameter live "
            "(in English or Japanese), compare any configuration with "
            "SimpleRNN, LSTM or GRU, and show how far back the gradient "
            "reaches in each (why truncated BPTT)."
        ),
    )
    _add_backend_option(parser)
    main_cell = (
        "the main job's tables: rnn (ScratchRNN vs SimpleRNN), lstm "
        "(ScratchLSTM vs LSTM), gru (ScratchGRU vs GRU) or all"
    )
    _add_cell_option(parser, tuple(MAIN_CELLS), "all", main_cell)
    parser.set_defaults(handler=_main_job, subparser=parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = commands.add_parser(
        "parity",
        help="the main job: the parity tables vs SimpleRNN, LSTM and GRU "
        "(the default)",
        description=MAIN_JOB_HELP,
    )
    _add_backend_option(p)
    _add_cell_option(p, tuple(MAIN_CELLS), "all", main_cell)
    p.set_defaults(handler=_main_job, subparser=p)

    p = commands.add_parser(
        "explain",
        help="every SimpleRNN argument explained, live (English or Japanese)",
        description=(
            "Without PARAM: a table of every argument of SimpleRNN and "
            "ScratchRNN and of every call argument, with its default and "
            "meaning. With PARAM: where it enters h_t = act(x_t Wx + "
            "h_{t-1} Wh + b) and the handwritten backward (the code line), "
            "a small live demonstration with ScratchRNN and SimpleRNN side "
            "by side, and the mistake people most often make with it. With "
            "--cell lstm or --cell gru, the same for LSTM or GRU."
        ),
        epilog="PARAM is one of: "
        + ", ".join(explain.names())
        + "".join(
            f"; with --cell {cell} also: "
            + ", ".join(
                n for n in explain.names(cell) if n not in explain.names()
            )
            for cell in explain.CELLS[1:]
        ),
    )
    _add_cell_option(
        p,
        explain.CELLS,
        "rnn",
        "rnn (SimpleRNN's arguments), lstm (LSTM's: its own arguments, "
        "the book's gate order, and what changes for the shared ones) or "
        "gru (GRU's: its own arguments, reset_after above all, the book's z "
        "convention, and what changes for the shared ones)",
    )
    p.add_argument(
        "param",
        nargs="?",
        metavar="PARAM",
        help="an argument (e.g. go_backwards, kernel_initializer, mask) or "
        "a group (initializers, regularizers, constraints); any case, "
        "dashes or underscores (go-backwards)",
    )
    p.add_argument(
        "--lang",
        choices=explain.LANGUAGES,
        default="en",
        help="language: en (English, default) or ja (日本語)",
    )
    p.set_defaults(handler=_explain, subparser=p)

    p = commands.add_parser(
        "compare",
        help="ScratchRNN vs SimpleRNN (or ScratchLSTM vs LSTM, ScratchGRU "
        "vs GRU) for any configuration, with speed",
        description=(
            "The main job for the configuration you type: builds ScratchRNN "
            "and SimpleRNN (with --cell lstm: ScratchLSTM and "
            "keras.layers.LSTM; with --cell gru: ScratchGRU and "
            "keras.layers.GRU) with the same weights, runs both forward and "
            "backward (eagerly and traced), and prints the largest "
            "differences of the outputs and of the gradients w.r.t. inputs, "
            "initial state and weights; then the outputs with weights drawn "
            "by the initializers, the regularization losses, the weights "
            "after one SGD step (constraints), and the speed ratio. Exits "
            "with 1 if any difference is above tolerance."
        ),
        epilog=(
            "Examples: keras-scratch-rnn compare --units 8 --return-sequences "
            "--go-backwards --mask --initial-state --dropout 0.2 --training "
            "--recurrent-regularizer 'L2(0.01)'; keras-scratch-rnn compare "
            "--cell lstm --recurrent-activation hard_sigmoid "
            "--no-unit-forget-bias --mask --initial-state; keras-scratch-rnn "
            "compare --cell gru --no-reset-after --mask --initial-state"
        ),
    )
    _add_cell_option(
        p,
        tuple(LAYER_NAMES),
        "rnn",
        "rnn: ScratchRNN vs SimpleRNN; lstm: ScratchLSTM vs "
        "keras.layers.LSTM; gru: ScratchGRU vs keras.layers.GRU",
    )
    layer = p.add_argument_group(
        "layer arguments (as in SimpleRNN, LSTM and GRU)"
    )
    layer.add_argument(
        "--units", type=_positive_int, default=5, help="H (default: 5)"
    )
    for argument in explain.ARGUMENTS:
        if argument.call or argument.name == "units":
            continue
        flag = "--" + argument.name.replace("_", "-")
        meaning = argument.meaning[0]
        if argument.name in _BOOLEANS:
            layer.add_argument(
                flag,
                dest=argument.name,
                action=argparse.BooleanOptionalAction,
                default=_UNSET,
                help=f"{meaning} (default: {argument.default})",
            )
        else:
            layer.add_argument(
                flag,
                dest=argument.name,
                type=_layer_type(argument.name),
                default=_UNSET,
                metavar=_METAVARS.get(argument.name, "SPEC"),
                help=f"{meaning} (default: {argument.default})",
            )
    gated = p.add_argument_group(
        "the LSTM's and GRU's own arguments (with --cell lstm or gru)"
    )
    for name, metavar, kind, default, meaning, _ in GATED_ARGUMENTS:
        flag = "--" + name.replace("_", "-")
        if metavar is None:
            gated.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=_UNSET,
                help=f"{meaning} (default: {default})",
            )
        else:
            gated.add_argument(
                flag,
                dest=name,
                type=kind,
                default=_UNSET,
                metavar=metavar,
                help=f"{meaning} (default: {default})",
            )
    call = p.add_argument_group("call arguments")
    call.add_argument(
        "--mask", action="store_true", help="pass a mask with gaps"
    )
    call.add_argument(
        "--initial-state",
        action="store_true",
        help="pass an initial state, [h0, c0] for the LSTM (and compare "
        "its gradient)",
    )
    call.add_argument(
        "--training", action="store_true", help="training=True (dropout acts)"
    )
    data = p.add_argument_group("input and timing")
    data.add_argument("--batch", type=_positive_int, default=3, help="N (3)")
    data.add_argument(
        "--timesteps", type=_positive_int, default=6, help="T (6)"
    )
    data.add_argument("--features", type=_positive_int, default=4, help="D (4)")
    data.add_argument(
        "--mode",
        choices=("eager", "function", "both"),
        default="both",
        help="where to compare (default: both)",
    )
    data.add_argument(
        "--repeats",
        type=_positive_int,
        default=10,
        help="timed calls per layer and mode (default: 10)",
    )
    data.add_argument(
        "--no-timing", action="store_true", help="skip the speed comparison"
    )
    _add_backend_option(p)
    p.set_defaults(handler=_compare, subparser=p)

    p = commands.add_parser(
        "gradflow",
        help="how far back the gradient reaches in the RNN, the LSTM and "
        "the GRU: why truncated BPTT",
        description=(
            "For a loss on the last state only, prints |dL/dh_t| for every "
            "t (and the LSTM's |dL/dc_t|), computed by the handwritten "
            "backward walking t = T-1, ..., 0, for several sequence lengths "
            "and scales of Wh (scale times a random orthogonal matrix; the "
            "other weights as Keras's default initializers draw them, the "
            "GRU in Keras's default form, reset_after=True): the "
            "vanishing (and exploding) gradient behind the book's truncated "
            "BPTT, the LSTM's path back through its memory cell c "
            "(dc_{t-1} = ds * f) and the GRU's through its update gate "
            "(dh_{t-1} = dh_t * z + ...). Says for each how many steps back "
            "it stays above 1e-3 of its start."
        ),
    )
    _add_cell_option(
        p,
        tuple(MAIN_CELLS),
        "all",
        "rnn, lstm, gru, or all: the three side by side, in the table and "
        "the plot",
    )
    p.add_argument(
        "--lengths",
        type=_positive_int,
        nargs="+",
        default=[10, 30, 100],
        metavar="T",
        help="sequence lengths (default: 10 30 100)",
    )
    p.add_argument(
        "--scales",
        type=_positive_float,
        nargs="+",
        default=[0.5, 1.0, 1.5, 3.0],
        metavar="S",
        help="singular value of Wh (default: 0.5 1 1.5 3)",
    )
    p.add_argument(
        "--activation",
        choices=("tanh", "sigmoid", "relu", "linear"),
        default="tanh",
        help="activation; the LSTM's of g and c, the GRU's of hh, their "
        "gates stay sigmoid (default: tanh)",
    )
    p.add_argument("--units", type=_positive_int, default=16, help="H (16)")
    p.add_argument("--batch", type=_positive_int, default=8, help="N (8)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument(
        "--reset-after",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the GRU's form: --no-reset-after is the book's (default: "
        "Keras's, --reset-after)",
    )
    p.add_argument(
        "--update-bias",
        type=_finite_float,
        default=0.0,
        metavar="B",
        help="the GRU's bias of its update gate z (default 0, Keras's; 1 "
        "is what unit_forget_bias gives the LSTM's forget gate)",
    )
    p.add_argument(
        "--plot", metavar="PATH", help="also save a PNG plot (matplotlib)"
    )
    p.add_argument(
        "--lang",
        choices=explain.LANGUAGES,
        default="en",
        help="language of the text and the plot's labels: en (English, "
        "default) or ja (日本語; the plot needs a Japanese font)",
    )
    p.set_defaults(handler=_gradflow, subparser=p)

    p = commands.add_parser(
        "docs",
        help="regenerate docs/ (parameters in English and Japanese, figures)",
        description=(
            "Writes docs/parameters.md, docs/ja/parameters.md and "
            "docs/README_SECTION.md from the same source as `explain`, with "
            "the demonstrations' real output, and draws docs/images/*.png. "
            "With --check, writes nothing and exits with 1 if a Markdown "
            "file is out of date. The docs are those of a checkout (a clone "
            "of the project): the one the package runs from (an editable "
            "install), else the current folder or a parent of it; an "
            "installed package has none, so run this in a clone or pass "
            "--out."
        ),
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="the docs folder (default: docs/ of the checkout, see above)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="only check that the Markdown files are up to date: at once, "
        "everything but the demonstrations' output, read from the files",
    )
    p.add_argument(
        "--demos",
        action="store_true",
        help="with --check: also rerun the demonstrations and compare their "
        "output (imports TensorFlow, about 20 s)",
    )
    p.add_argument(
        "--no-figures", action="store_true", help="do not redraw the PNGs"
    )
    p.set_defaults(handler=_docs, subparser=p)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if "cell" in vars(args) and args.handler is _docs:
        _usage_error(
            parser,
            "--cell goes with the main job, explain, compare and gradflow, "
            "not "
            f"{args.subparser.prog.split()[-1]}",
        )
    return args.handler(args, args.subparser)
