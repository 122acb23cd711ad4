# ruff: noqa: RUF001 (Japanese output uses full-width punctuation)
"""The command line: every subcommand, its --help, and its error paths."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_scratch_rnn import cli, gradflow, ops, parity, reference
from keras_scratch_rnn.terminal import Style, supports_colour
from keras_scratch_rnn.tolerances import GRADFLOW_RTOL

SUBCOMMANDS = ("parity", "explain", "compare", "gradflow", "docs")


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_no_command_runs_the_main_job(monkeypatch):
    monkeypatch.setattr(parity, "main_job", lambda: 42)
    assert cli.main([]) == 42
    assert cli.main(["parity"]) == 42


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


def test_invalid_arguments_from_a_shell_exit_2_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "keras_scratch_rnn", "compare", "--units", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "expected a positive integer, got 0" in result.stderr
    assert "Traceback" not in result.stderr


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
    assert "return output, h_last" in out  # the code line it points at


def test_explain_accepts_an_argument_of_a_group(capsys):
    code, out, _ = _run(["explain", "recurrent_constraint"], capsys)
    assert code == 0
    assert out.startswith("constraints\n")
    assert "recurrent_constraint" in out and "NonNeg" in out


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
    monkeypatch.setattr(ops, "_backward", _wrapped(ops._backward))
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


def test_gradflow_table_and_plot(tmp_path, capsys):
    path = tmp_path / "gradflow.png"
    argv = ["gradflow", "--lengths", "5", "40", "--scales", "0.5", "3"]
    code, out, _ = _run([*argv, "--plot", str(path)], capsys)
    assert code == 0
    assert "scale 0.5: vanishes" in out and "scale 3: explodes" in out
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


def test_module_runs_with_env_without_colour():
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "keras_scratch_rnn", "explain"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0
    assert "zero_output_for_mask" in result.stdout
    assert "\x1b[" not in result.stdout


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
