# ruff: noqa: RUF001 (Japanese output uses full-width punctuation)
"""The command line: every subcommand, its --help, and its error paths."""

import importlib.util
import io
import logging
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import keras_scratch_rnn
from keras_scratch_rnn import cli, reference, terminal
from keras_scratch_rnn.learn import explain, gradflow
from keras_scratch_rnn.ops import tensorflow as tf_ops
from keras_scratch_rnn.terminal import (
    Style,
    native_log_filter,
    supports_colour,
)
from keras_scratch_rnn.tolerances import GRADFLOW_RTOL
from keras_scratch_rnn.tools import parity

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("parity", "explain", "compare", "gradflow", "docs")
# `python -X importtime` prints one line per module: "... | tensorflow".
IMPORTED = re.compile(r"^import time:.*\|\s*(\S+)$", re.M)
# What TensorFlow's C++ side prints at start-up unless silenced.
NATIVE_LOG = re.compile(
    r"^[IWEF]\d{4} |absl::InitializeLog|cudart_stub|cpu_feature_guard|"
    r"oneDNN custom operations|cuInit|To enable the following instructions",
    re.M,
)


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _shell(*argv, importtime=False, **env):
    """`python -m keras_scratch_rnn ARGV` in a fresh process, run in the
    checkout (so it is this package), with `env` added (a None value unsets
    it): the CompletedProcess."""
    merged = {**os.environ, **env}
    merged = {k: v for k, v in merged.items() if v is not None}
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "keras_scratch_rnn", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=merged,
        cwd=ROOT,
    )


def _imported(stderr):
    """The modules a `-X importtime` run imported, top-level names."""
    return {name.split(".")[0] for name in IMPORTED.findall(stderr)}


def _messages(stderr):
    """stderr without the `-X importtime` lines."""
    return [ln for ln in stderr.splitlines() if not ln.startswith("import ")]


def test_no_command_runs_the_main_job(monkeypatch):
    """The three cells' tables by default (the README's quickstart), one
    with --cell, before the command or after `parity`."""
    seen = []
    monkeypatch.setattr(
        parity, "main_job", lambda cells=None: seen.append(cells) or 42
    )
    assert cli.main([]) == 42
    assert cli.main(["parity"]) == 42
    assert cli.main(["--cell", "rnn"]) == 42
    assert cli.main(["parity", "--cell", "lstm"]) == 42
    assert cli.main(["--cell", "all", "parity"]) == 42
    assert cli.main(["--cell", "gru"]) == 42
    every = ("rnn", "lstm", "gru")
    assert seen == [every, every, ("rnn",), ("lstm",), every, ("gru",)]


def test_main_job_prints_every_cells_table(monkeypatch, capsys):
    """The main job end to end on a small selection (the full tables take
    minutes): one case per cell, the GRU's in the book's form
    (reset_after=False); the three pairs named, a row per cell and mode,
    exit code 0."""
    small = {cell: cases[:1] for cell, cases in parity.CASES.items()}
    small["gru"] = [c for c in parity.GRU_CASES if "book" in c[0]]
    monkeypatch.setattr(parity, "CASES", small)
    code, out, _ = _run([], capsys)
    assert code == 0, out
    for pair in (
        "ScratchRNN vs keras.layers.SimpleRNN (cell rnn),",
        "ScratchLSTM vs keras.layers.LSTM (cell lstm),",
        "ScratchGRU vs keras.layers.GRU (cell gru):",
    ):
        assert pair in out, pair
    rows = re.findall(
        r"^(rnn|lstm|gru) +(.+?) +tensorflow +(eager|tf\.function) +\S+ +"
        r"\S+ +yes$",
        out,
        re.M,
    )
    cells = [(cell, mode) for cell, _, mode in rows]
    assert cells == [
        (cell, mode)
        for cell in ("rnn", "lstm", "gru")
        for mode in ("eager", "tf.function")
    ], out
    assert rows[-1][1] == "reset_after=False (the book's form)"
    assert re.search(r"^6/6 comparisons within 1e-05 \(", out, re.M), out


def test_console_script_and_module_share_main():
    from keras_scratch_rnn import __main__

    assert __main__.main is cli.main


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help(command, capsys):
    argv = [command, "--help"] if command else ["--help"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert out.startswith(f"usage: keras-scratch-rnn {command or ''}".strip())
    if command is None:
        for name in SUBCOMMANDS:
            assert name in out


BAD_ARGUMENTS = [
    (["nonsense"], "invalid choice"),
    (["explain", "go_backward"], "Did you mean go_backwards"),
    (
        ["explain", "return_sequence"],
        "Did you mean return_sequences, return_state? Choose",
    ),
    (["docs", "--demos"], "--demos goes with --check"),
    (["explain", "units", "--lang", "fr"], "invalid choice"),
    (["compare", "--units", "0"], "expected a positive integer, got 0"),
    (["compare", "--units", "many"], "expected a positive integer"),
    (["compare", "--dropout", "1.5"], "between 0 and 1"),
    (["compare", "--activation", "nonsense"], "unknown activation"),
    (["compare", "--activation", "glu"], "ScratchRNN refuses"),
    (["compare", "--recurrent-regularizer", "L2(oops)"], "invalid regularizer"),
    (["compare", "--kernel-constraint", "nonsense"], "invalid constraint"),
    (["compare", "--seed", "x"], "expected an integer or None"),
    (["compare", "--stateful", "--timesteps", "1"], "at least 2"),
    (["compare", "--return-sequences=yes"], "ignored explicit argument"),
    (["compare", "--cell", "all"], "invalid choice: 'all'"),
    (
        ["compare", "--cell", "lstm", "--use-cudnn", "maybe"],
        "expected auto, true or false, got 'maybe'",
    ),
    (
        ["compare", "--cell", "lstm", "--recurrent-activation", "nonsense"],
        "unknown activation",
    ),
    (
        ["compare", "--cell", "gru", "--use-cudnn", "maybe"],
        "expected auto, true or false, got 'maybe'",
    ),
    (
        ["compare", "--cell", "gru", "--reset-after=no"],
        "ignored explicit argument 'no'",
    ),
    (["compare", "--cell", "gru", "--activation", "glu"], "ScratchGRU refuses"),
    (["gradflow", "--cell", "cnn"], "invalid choice: 'cnn'"),
    (["gradflow", "--lang", "fr"], "invalid choice: 'fr'"),
    (["--cell", "cnn"], "invalid choice: 'cnn'"),
    (["gradflow", "--lengths", "1"], "at least 2"),
    (["gradflow", "--scales", "-1"], "positive number"),
    (["gradflow", "--plot", "/no/such/folder/g.png"], "does not exist"),
]


@pytest.mark.parametrize(
    "argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS]
)
def test_invalid_arguments_get_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "error:" in err and message in err, err
    assert "Traceback" not in err


FAST = [
    (["--help"], 0, "usage: keras-scratch-rnn"),
    (["explain"], 0, "zero_output_for_mask"),
    (["explain", "nonsense"], 2, "unknown parameter 'nonsense'"),
    (["compare", "--units", "0"], 2, "expected a positive integer, got 0"),
    (["compare", "--unit-forget-bias"], 2, "add --cell lstm"),
    (["compare", "--cell", "lstm", "--reset-after"], 2, "add --cell gru"),
    (["docs", "--check"], 0, "is up to date"),
]


@pytest.mark.parametrize(
    "argv, code, text", FAST, ids=[" ".join(a) for a, _, _ in FAST]
)
def test_quick_commands_never_import_tensorflow(argv, code, text):
    """Help, the overview, argument errors, docs --check: no TensorFlow
    (each in about 0.4 s instead of 7). Also from a shell: exit code 2
    without traceback, no colour with NO_COLOR."""
    result = _shell(*argv, importtime=True, NO_COLOR="1")
    messages = "\n".join(_messages(result.stderr))
    assert result.returncode == code, messages
    assert text in result.stdout + messages
    assert "keras_scratch_rnn" in _imported(result.stderr)
    assert not {"tensorflow", "keras"} & _imported(result.stderr)
    assert "Traceback" not in messages
    assert "\x1b[" not in result.stdout


@pytest.mark.parametrize(
    "argv, backend",
    [
        ([], "openvino"),
        (["compare", "--kernel-initializer", "orthogonal"], "openvino"),
        (["explain", "units"], "jax"),
        (["gradflow"], "torch"),
        (["docs", "--out", "{tmp}"], "jax"),
    ],
    ids=lambda v: " ".join(v) or "main job" if isinstance(v, list) else v,
)
def test_a_backend_a_command_cannot_use_is_one_line(argv, backend, tmp_path):
    """A Keras backend with no ops here (OpenVINO), or another backend
    than TensorFlow for the commands that use TensorFlow's GradientTape:
    one line, exit code 2, and neither the backend nor TensorFlow
    imported. `explain PARAM` prints its text first, which needs neither."""
    argv = [a.format(tmp=tmp_path) for a in argv]
    result = _shell(*argv, importtime=True, KERAS_BACKEND=backend)
    messages = _messages(result.stderr)
    assert result.returncode == 2
    assert len(messages) == 1, messages
    assert messages[0].startswith("keras-scratch-rnn: ")
    assert f"KERAS_BACKEND is '{backend}'" in messages[0]
    assert messages[0].endswith(
        "Run with --backend tensorflow (or KERAS_BACKEND=tensorflow)."
    )
    assert not {"tensorflow", "keras", "jax", "torch"} & _imported(
        result.stderr
    )
    if argv[:1] == ["explain"]:
        assert result.stdout.startswith("units (default: (required))")
        assert "Where it enters" in result.stdout
    assert not list(tmp_path.iterdir())  # docs wrote nothing


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_compare_runs_on_another_backend(backend, cell):
    """`--backend` picks the backend before Keras loads: the comparison
    runs there (traced with jax.jit on JAX; PyTorch runs eagerly), for the
    GRU too (its gradient there is the backend's own, tools/autodiff)."""
    result = _shell(
        "--backend", backend, "compare", "--cell", cell, "--no-timing",
        "--units", "3", "--mask", "--initial-state",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    ours, theirs = cli.LAYER_NAMES[cell]
    assert result.stdout.startswith(f"{ours} (handwritten BPTT) vs ")
    assert f"keras.layers.{theirs}," in result.stdout.replace("\n", " ")
    assert "d_initial_state" in result.stdout
    assert "NO" not in result.stdout.split()
    expected = {"jax": ["eager", "jax.jit"], "torch": ["eager"]}[backend]
    for mode in expected:
        assert mode in result.stdout
    assert "tf.function" not in result.stdout


def test_tensorflow_commands_print_no_log_lines():
    """A command that imports TensorFlow and compiles with XLA prints none
    of TensorFlow's C++ start-up lines (absl's banner, cudart_stub,
    cpu_feature_guard, cuInit, XLA's) nor a retracing warning."""
    result = _shell(
        "compare", "--no-timing", "--mode", "function", "--units", "2",
        TF_CPP_MIN_LOG_LEVEL=None,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LOG.search(result.stderr), result.stderr
    assert "retracing" not in result.stderr, result.stderr


def test_native_log_filter_keeps_what_the_level_lets_through():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called "
        "are written to STDERR\n"
        "I0000 00:00:1796071659.748238    4888 cudart_stub.cc:31] no cuda\n"
        "I0000 00:00:1796071659.836078    4888 cpu_feature_guard.cc:227] CPU\n"
        "To enable the following instructions: AVX2 FMA\n"
        "E0000 00:00:1796071665.328137    4888 cuda_platform.cc:52] cuInit\n"
        "F0000 00:00:1796071665.328137    4888 x.cc:1] fatal\n"
        "a line of its own\n"
    )
    lines = text.splitlines(keepends=True)
    assert native_log_filter(text, 0) == text
    assert native_log_filter(text, 2) == "".join(lines[4:])
    assert native_log_filter(text, 3) == "".join(lines[5:])
    assert native_log_filter(lines[6], 3) == lines[6]


def test_stderr_filter_without_a_temporary_folder(monkeypatch):
    """No writable temporary folder: the filter steps aside (no error, no
    file descriptor left open)."""
    import tempfile

    def refuse():
        raise OSError("read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    before = len(os.listdir("/proc/self/fd"))
    with terminal.native_stderr_filtered(3):
        pass
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    "program, orig_argv, lazy",
    [
        ("-m", ["python", "-m", "keras_scratch_rnn"], True),
        ("-m", ["python", "-X", "importtime", "-m", "keras_scratch_rnn"], True),
        ("-m", ["python", "-m", "other_package"], False),  # imports us
        ("/usr/local/bin/keras-scratch-rnn", [], True),
        ("KERAS-SCRATCH-RNN.EXE", [], True),
        ("keras-scratch-rnn-script.py", [], True),
        ("/usr/bin/pytest", [], False),
        ("examples/digits.py", [], False),
        ("", [], False),
    ],
)
def test_layers_load_lazily_only_while_the_command_line_starts(
    program, orig_argv, lazy, monkeypatch
):
    """The package imports its layers (hence registers them with Keras)
    unless our command line is starting: then on first use. Another
    package run with `-m` that imports this one gets them registered."""
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    spec = importlib.util.spec_from_file_location(
        "package_copy", keras_scratch_rnn.__file__
    )
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setattr(sys, "argv", [program])
    spec.loader.exec_module(copy)
    assert ("ScratchRNN" not in vars(copy)) == lazy
    assert copy.ScratchRNN is keras_scratch_rnn.ScratchRNN
    assert copy.ScratchRNNCell is keras_scratch_rnn.ScratchRNNCell
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        copy.nothing  # noqa: B018
    assert "ScratchRNN" in vars(keras_scratch_rnn)  # imported by pytest


def test_main_job_traces_each_layer_once_without_warnings():
    """One graph per layer, traced on purpose: no retracing warning."""
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        rows = parity.parity_table(parity.PARITY_CASES[:3], ("tf.function",))
    finally:
        logger.removeHandler(handler)
    assert all(row["ok"] for row in rows)
    ours = [
        m
        for m in messages
        if "retracing" in m
        # ops.py's compiled loops: fixed there, not here.
        and not re.search(r"_(forward|backward|run)_loop", m)
    ]
    assert not ours, ours


def test_a_tensorflow_that_does_not_import_is_one_line(monkeypatch, capsys):
    def broken():
        raise ImportError("No module named 'tensorflow'\nmore detail")

    monkeypatch.setattr(cli, "import_tensorflow_quietly", broken)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err == (
        "keras-scratch-rnn: cannot import tensorflow and Keras (No module "
        "named 'tensorflow'). Install them: pip install tensorflow\n"
    )


def test_the_backend_in_keras_json_counts_too(tmp_path, monkeypatch, capsys):
    (tmp_path / "keras.json").write_text('{"backend": "openvino"}')
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert cli.keras_backend()[0] == "openvino"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"the backend in {tmp_path / 'keras.json'} is 'openvino'" in err
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # it wins over the file
    assert cli.keras_backend() == ("tensorflow", "KERAS_BACKEND")
    (tmp_path / "keras.json").unlink()
    monkeypatch.delenv("KERAS_BACKEND")
    assert cli.keras_backend() == ("tensorflow", None)


def test_explain_overview(capsys):
    code, out, _ = _run(["explain"], capsys)
    assert code == 0
    for name in ("units", "zero_output_for_mask", "initial_state", "training"):
        assert f"\n{name} " in out
    assert "\x1b[" not in out  # captured output is not a terminal


def test_explain_one_parameter_in_japanese(capsys):
    code, out, _ = _run(["explain", "return_state", "--lang", "ja"], capsys)
    assert code == 0
    assert "return_state（既定値: False）" in out
    assert "よくある間違い" in out and "tuple, 2" in out
    assert "return output, *last" in out  # the code line it points at


def test_explain_accepts_an_argument_of_a_group(capsys):
    code, out, _ = _run(["explain", "recurrent_constraint"], capsys)
    assert code == 0
    assert out.startswith("constraints\n")
    assert "recurrent_constraint" in out and "NonNeg" in out


@pytest.mark.parametrize("param", ["go-backwards", "Go_Backwards", "UNITS"])
def test_explain_prints_the_text_before_the_demonstration(
    param, monkeypatch, capsys
):
    """Dashes (as `compare` spells flags) and any case are accepted; the
    text is out before the demonstration (which needs TensorFlow) runs."""
    printed = []

    def demo_lines(topic_name, lang):
        printed.append(capsys.readouterr().out)
        return ["(the demonstration)"], None

    monkeypatch.setattr(explain, "demo_lines", demo_lines)
    code, out, _ = _run(["explain", param], capsys)
    name = explain.normalize(param)
    assert code == 0
    assert printed[0].startswith(f"{name} (default: ")
    assert (
        printed[0]
        .rstrip()
        .endswith("Live: ScratchRNN and SimpleRNN side by side")
    )
    assert out.startswith("  (the demonstration)\n\nThe common mistake\n")


def test_colour_only_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert supports_colour(Tty())
    assert not supports_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not supports_colour(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not supports_colour(Tty())
    assert Style(True)("x", "red") == "\x1b[31mx\x1b[0m"
    assert Style(False)("x", "red") == "x"


def test_compare_any_configuration(capsys):
    argv = [
        "compare",
        "--units", "3",
        "--return-sequences", "--return-state", "--go-backwards",
        "--mask", "--initial-state", "--training",
        "--dropout", "0.2", "--recurrent-dropout", "0.1",
        "--recurrent-regularizer", "L2(0.01)",
        "--activity-regularizer", "l2",
        "--recurrent-constraint", "non_neg",
        "--kernel-initializer", "Orthogonal(seed=1)",
        "--repeats", "2",
    ]  # fmt: skip
    code, out, _ = _run(argv, capsys)
    assert code == 0, out
    for row in (
        "output",
        "state",
        "d_initial_state",
        "d_recurrent_kernel",
        "output (initializer weights)",
        "regularization losses",
        "weights after one SGD step",
    ):
        assert f"\n{row} " in out, row
    assert "using seed=0" in out
    assert "activity_regularizer: ScratchRNN's loss" in out
    assert "SimpleRNN / ScratchRNN" in out
    ratios = [float(r) for r in re.findall(r"(\d+\.\d+)x", out)]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    assert "NO" not in out.split()


def test_compare_reports_a_difference(monkeypatch, capsys):
    """A handwritten dWh off by 1% makes `compare` fail (exit code 1)."""
    monkeypatch.setattr(tf_ops, "backward", _wrapped(tf_ops.backward))
    code, out, _ = _run(
        ["compare", "--return-sequences", "--mode", "eager", "--no-timing"],
        capsys,
    )
    assert code == 1
    assert "NO" in out.split()


def _wrapped(backward):
    def wrong(*args, **kwargs):
        dx, dh0, dk, drk, db = backward(*args, **kwargs)
        return dx, dh0, dk, drk * 1.01, db

    return wrong


def test_compare_lstm_any_configuration(capsys):
    """`compare --cell lstm`: ScratchLSTM against keras.layers.LSTM, with
    the LSTM's own arguments and both initial states."""
    argv = [
        "compare", "--cell", "lstm",
        "--units", "3",
        "--return-sequences", "--return-state", "--go-backwards",
        "--mask", "--initial-state", "--training",
        "--dropout", "0.2", "--recurrent-dropout", "0.1",
        "--recurrent-regularizer", "L2(0.01)",
        "--activity-regularizer", "l2",
        "--recurrent-activation", "hard_sigmoid",
        "--no-unit-forget-bias", "--use-cudnn", "false",
        "--repeats", "2",
    ]  # fmt: skip
    code, out, _ = _run(argv, capsys)
    assert code == 0, out
    assert out.startswith(
        "ScratchLSTM (handwritten BPTT) vs keras.layers.LSTM, same weights"
    )
    assert "recurrent_activation=hard_sigmoid" in out
    assert "unit_forget_bias=False" in out and "use_cudnn=False" in out
    for row in (
        "output",
        "state",
        "d_initial_state",
        "d_initial_carry",  # the gradient w.r.t. c0
        "d_recurrent_kernel",
        "regularization losses",
        "weights after one SGD step",
        "activity regularization loss",  # LSTM keeps it: a checked row
    ):
        assert f"\n{row} " in out, row
    assert "SimpleRNN" not in out
    assert "LSTM / ScratchLSTM" in out
    ratios = [float(r) for r in re.findall(r"(\d+\.\d+)x", out)]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    assert "NO" not in out.split()
    assert re.search(r"^12/12 checks within 1e-05\.$", out, re.M), out


def test_compare_lstm_reports_a_difference(monkeypatch, capsys):
    """A handwritten LSTM dWh off by 1% makes `compare --cell lstm` fail."""

    def wrong(*args, **kwargs):
        dx, dh0, dc0, dk, drk, db = backward(*args, **kwargs)
        return dx, dh0, dc0, dk, drk * 1.01, db

    backward = tf_ops.lstm_backward
    monkeypatch.setattr(tf_ops, "lstm_backward", wrong)
    argv = ["compare", "--cell", "lstm", "--mode", "eager", "--no-timing"]
    code, out, _ = _run(argv, capsys)
    assert code == 1
    assert re.search(r"^d_recurrent_kernel .* NO$", out, re.M), out


def test_compare_gru_any_configuration(capsys):
    """`compare --cell gru`: ScratchGRU against keras.layers.GRU, with the
    GRU's own arguments, in the book's form (--no-reset-after)."""
    argv = [
        "compare", "--cell", "gru",
        "--units", "3",
        "--return-sequences", "--return-state", "--go-backwards",
        "--mask", "--initial-state", "--training",
        "--dropout", "0.2", "--recurrent-dropout", "0.1",
        "--recurrent-regularizer", "L2(0.01)",
        "--activity-regularizer", "l2",
        "--recurrent-activation", "hard_sigmoid",
        "--no-reset-after", "--use-cudnn", "false",
        "--repeats", "2",
    ]  # fmt: skip
    code, out, _ = _run(argv, capsys)
    assert code == 0, out
    assert out.startswith(
        "ScratchGRU (handwritten BPTT) vs keras.layers.GRU, same weights"
    )
    assert "recurrent_activation=hard_sigmoid" in out
    assert "reset_after=False" in out and "use_cudnn=False" in out
    for row in (
        "output",
        "state",
        "d_initial_state",
        "d_recurrent_kernel",
        "d_bias",
        "regularization losses",
        "weights after one SGD step",
        "activity regularization loss",  # GRU keeps it: a checked row
    ):
        assert f"\n{row} " in out, row
    assert "d_initial_carry" not in out and "LSTM" not in out
    assert "GRU / ScratchGRU" in out
    ratios = [float(r) for r in re.findall(r"(\d+\.\d+)x", out)]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    assert "NO" not in out.split()
    assert re.search(r"^11/11 checks within 1e-05\.$", out, re.M), out


def test_compare_gru_reports_a_difference(monkeypatch, capsys):
    """A handwritten GRU dWh off by 1% makes `compare --cell gru` fail, in
    Keras's default form (reset_after=True)."""

    def wrong(*args, **kwargs):
        dx, dh0, dk, drk, db = backward(*args, **kwargs)
        return dx, dh0, dk, drk * 1.01, db

    backward = tf_ops.gru_backward
    monkeypatch.setattr(tf_ops, "gru_backward", wrong)
    argv = ["compare", "--cell", "gru", "--mode", "eager", "--no-timing"]
    code, out, _ = _run(argv, capsys)
    assert code == 1
    assert re.search(r"^d_recurrent_kernel .* NO$", out, re.M), out
    assert re.search(r"^d_kernel .* yes$", out, re.M), out


GATED_ONLY = [
    ("rnn", "--recurrent-activation=tanh", "--cell lstm or --cell gru"),
    ("rnn", "--unit-forget-bias", "--cell lstm"),
    ("rnn", "--no-unit-forget-bias", "--cell lstm"),
    ("rnn", "--use-cudnn=auto", "--cell lstm or --cell gru"),
    ("rnn", "--reset-after", "--cell gru"),
    ("lstm", "--no-reset-after", "--cell gru"),
    ("gru", "--unit-forget-bias", "--cell lstm"),
]


@pytest.mark.parametrize(
    "cell, flag, cells", GATED_ONLY, ids=[f"{c} {f}" for c, f, _ in GATED_ONLY]
)
def test_a_gated_cells_argument_for_another_cell_is_one_line(
    cell, flag, cells, capsys
):
    """SimpleRNN has no recurrent_activation, unit_forget_bias, reset_after
    or use_cudnn, the GRU no unit_forget_bias, the LSTM no reset_after: one
    line on stderr naming the flag, the layer that lacks it and the cells
    that take it, exit 2, before Keras loads."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "--cell", cell, flag])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1, err
    name = flag.split("=")[0].removeprefix("--").removeprefix("no-")
    assert err.startswith("keras-scratch-rnn compare: error: argument --")
    assert name in err and err.rstrip().endswith(f"add {cells}"), err
    lacking = cli.LAYER_NAMES[cell][1]
    assert f"({lacking} has no {name.replace('-', '_')})" in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--cell", "all", "compare"], "compare takes one cell"),
        (["--cell", "all", "explain"], "explain takes one cell"),
        (["--cell", "rnn", "docs", "--check"], "not docs"),
    ],
)
def test_cell_where_it_does_not_apply_is_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cell_before_the_command_reaches_compare(cell, monkeypatch, capsys):
    """`--cell lstm compare` is `compare --cell lstm`, as `--backend`."""
    seen = []
    monkeypatch.setattr(
        parity,
        "check_config",
        lambda config, units, cell: seen.append(cell) or "stop here",
    )
    with pytest.raises(SystemExit):
        cli.main(["--cell", cell, "compare", "--no-timing"])
    assert seen == [cell]
    theirs = cli.LAYER_NAMES[cell][1]
    assert f"keras.layers.{theirs} refuses" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_use_cudnn_true_without_a_gpu_is_refused(cell, capsys):
    """keras.layers.LSTM(use_cudnn=True) and GRU's raise when called
    without a GPU (ScratchLSTM and ScratchGRU run): nothing to compare
    with, one message."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("LSTM and GRU run use_cudnn=True with a GPU")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "--cell", cell, "--use-cudnn", "true"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    theirs = cli.LAYER_NAMES[cell][1]
    assert f"keras.layers.{theirs} refuses this configuration" in err
    assert "use_cudnn=True was specified" in err
    assert "\x1b[" not in err and "Traceback" not in err


def test_gradflow_table_and_plot(tmp_path, capsys):
    path = tmp_path / "gradflow.png"
    argv = ["gradflow", "--cell", "rnn", "--lengths", "5", "40"]
    argv += ["--scales", "0.5", "3", "--plot", str(path)]
    code, out, _ = _run(argv, capsys)
    assert code == 0
    assert "scale 0.5, T = 40: RNN dh vanishes" in out
    assert "scale 3, T = 40: RNN dh explodes" in out
    assert "LSTM" not in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 200_000


def test_gradflow_norms_are_the_books_backward():
    """The norms equal those of the NumPy reference's RNN.backward loop."""
    T, scale = 12, 0.9
    norms = gradflow.gradient_norms(T, scale)
    x, _, kernel, recurrent, bias, g = gradflow.problem(T, scale)
    rnn = reference.TimeRNN(kernel, recurrent, bias)
    rnn.forward(x)
    dh, expected = g, []
    for t in reversed(range(T)):
        expected.append(np.linalg.norm(dh))
        _, dh = rnn.layers[t].backward(dh)
    np.testing.assert_allclose(norms, expected[::-1], rtol=GRADFLOW_RTOL)
    assert norms[-1] == pytest.approx(1.0)
    assert norms[0] < norms[-1]


def test_gradflow_linear_norm_is_scale_power():
    """Without the activation, |dL/dh_t| is exactly scale^(T-1-t)."""
    T, scale = 8, 0.5
    norms = gradflow.gradient_norms(T, scale, activation="linear")
    np.testing.assert_allclose(
        norms, scale ** np.arange(T - 1, -1, -1), rtol=GRADFLOW_RTOL
    )


def test_docs_check_from_the_command_line(tmp_path, capsys):
    code, out, _ = _run(["docs", "--check", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert "out of date" in out and "parameters.md" in out


@pytest.mark.parametrize("command", ["gradflow", "docs"])
def test_missing_matplotlib_is_a_clear_message(
    command, tmp_path, monkeypatch, capsys
):
    import importlib.util

    argv = {
        "gradflow": ["gradflow", "--plot", str(tmp_path / "g.png")],
        "docs": ["docs", "--out", str(tmp_path)],
    }[command]

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "matplotlib" in err and "Traceback" not in err


def test_explain_an_lstm_argument_needs_cell_lstm(capsys):
    """An LSTM-only argument without `--cell lstm`: a one-line hint, no
    TensorFlow; with it, the topic (text only: no demonstration run)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explain", "unit_forget_bias"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        "add --cell lstm (explain --cell lstm unit_forget_bias)"
    ), err
    assert cli.main(["--cell", "lstm", "explain"]) == 0
    overview = capsys.readouterr().out
    assert "unit_forget_bias" in overview and "recurrent_activation" in overview
