"""The examples run (quick mode) and show what they claim."""

import argparse
import importlib.util
import pathlib
import re
import sys

import keras
import numpy as np
import pytest

from keras_scratch_rnn.tolerances import (
    RNNLM_LSTM_PERPLEXITY_RTOL,
    RNNLM_PERPLEXITY_RTOL,
    TRAINING_LOSS_RTOL,
)
from keras_scratch_rnn.tools import tbptt

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = (
    "swap_in",
    "rnnlm",
    "rnnlm_lstm",
    "digits",
    "stateful_forecast",
    "recall",
    "compare_cells",
)
PLOTTING = (
    "rnnlm",
    "rnnlm_lstm",
    "digits",
    "stateful_forecast",
    "recall",
    "compare_cells",
)


def _load(name):
    """The example as a module; its folder is on the path meanwhile, as
    when it is run (for `_quiet_tensorflow`)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_reads_as_plain_text(name, capsys):
    """The description is the docstring's title, without Markdown's `#`."""
    with pytest.raises(SystemExit) as exit_info:
        _load(name).main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    description = out.split("\n\n")[1]
    assert description[0].isupper(), description
    assert "#" not in out


@pytest.mark.parametrize("name", PLOTTING)
def test_plots_go_to_the_current_folder_not_the_docs(name):
    """A full run draws `<name>.png` here; `--quick` none unless asked; the
    committed docs/images/ figures are redrawn only by an explicit --plot."""
    module = _load(name)

    def where(**args):
        given = {"quick": False, "plot": None, "no_plot": False, **args}
        return module.plot_path(None, argparse.Namespace(**given), module.PLOT)

    assert where() == f"{name}.png"
    assert where(quick=True) is None
    assert where(quick=True, plot="x.png") == "x.png"
    assert where(no_plot=True) is None
    with pytest.raises(SystemExit):  # --plot and --no-plot exclude each other
        module.main(["--plot", "x.png", "--no-plot"])


def test_readme_names_tbptt_tools_that_exist():
    """examples/README.md's TBPTT section names functions that exist."""
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The TBPTT tools", 1)[1]
    imported = re.search(
        r"from keras_scratch_rnn.tools.tbptt import (.+)", section
    )
    names = [n.strip() for n in imported.group(1).split(",")]
    names += re.findall(r"`(\w+)\(model\)`", section)
    names += re.findall(r"`(\w+)` is the book's", section)
    assert "reset_rnn_states" in names and len(names) >= 5
    missing = [n for n in names if not hasattr(tbptt, n)]
    assert not missing, missing


@pytest.mark.slow
def test_swap_in_trains_like_simple_rnn():
    """Sequential and functional models: same losses with either layer."""
    results = _load("swap_in").main(["--quick"])
    assert set(results) == {"Sequential", "functional"}
    for losses, gap in results.values():
        assert gap <= TRAINING_LOSS_RTOL
        assert losses["ScratchRNN"][-1] < losses["ScratchRNN"][0]  # learns


def _is_small_png(path):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000


def test_rnnlm_tokenizes_like_ptb(tmp_path):
    """Lower case, numbers as N, `<eos>` per line; ids by first appearance."""
    rnnlm = _load("rnnlm")
    text = "Hello, World 42\n\n  It's 3.14 -- hello!\n"
    words = ["hello", "world", "N", "<eos>", "it's", "N", "N", "hello"]
    assert rnnlm.tokenize(text) == [*words, "<eos>"]
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    corpus, id_to_word = rnnlm.load_corpus(path)
    assert corpus.tolist() == [0, 1, 2, 3, 4, 2, 2, 0, 3]
    assert id_to_word == ["hello", "world", "N", "<eos>", "it's"]
    default, _ = rnnlm.load_corpus()  # CPython's help topics, no download
    assert len(default) > 10_000


@pytest.mark.slow
def test_rnnlm_keras_matches_the_books_numpy_code(tmp_path, capsys):
    """Quick run: equal perplexity each epoch; the plot is written."""
    plot = tmp_path / "rnnlm.png"
    results = _load("rnnlm").main(["--quick", "--plot", str(plot)])
    assert f"Saved the plot to {plot}" in capsys.readouterr().out
    numpy_ppl, keras_ppl = results["numpy"], results["keras"]
    assert len(numpy_ppl) == len(keras_ppl) == 5
    assert results["max_gap"] <= RNNLM_PERPLEXITY_RTOL
    assert numpy_ppl[-1] < 0.7 * numpy_ppl[0] < results["vocab_size"]
    for metric, ppl in zip(results["keras_metric"], keras_ppl):
        assert abs(metric - ppl) <= RNNLM_PERPLEXITY_RTOL * ppl
    assert _is_small_png(plot)


@pytest.mark.slow
def test_rnnlm_100_epochs_like_the_book(capsys):
    """The book's run: 100 epochs; the curves agree at every epoch."""
    results = _load("rnnlm").main(["--no-plot"])
    assert "No plot (--no-plot)" in capsys.readouterr().out
    assert len(results["gaps"]) == 100
    assert max(results["gaps"]) <= RNNLM_PERPLEXITY_RTOL
    assert results["numpy"][0] > 100  # epoch 1: far from memorized
    assert results["numpy"][-1] < 10  # epoch 100: the 1000 words learned


def test_rnnlm_lstm_clips_like_the_book():
    """`BookClippedSGD` applies the book's `clip_grads` (`+ 1e-6` and all),
    and leaves gradients below `max_grad` alone."""
    rnnlm_lstm = _load("rnnlm_lstm")
    rng = np.random.default_rng(0)
    for max_grad in (0.25, 100.0):  # clipped, not clipped
        grads = [rng.normal(size=(5, 3)), rng.normal(size=(3,))]
        expected = [g.copy() for g in grads]
        rnnlm_lstm.rnnlm.clip_grads(expected, max_grad)
        weights = [keras.Variable(np.zeros_like(g)) for g in grads]
        optimizer = rnnlm_lstm.BookClippedSGD(1.0, max_grad=max_grad)
        optimizer.apply(grads, weights)
        for weight, step in zip(weights, expected):
            np.testing.assert_allclose(-weight.numpy(), step, rtol=1e-12)
    assert max_grad > np.sqrt(sum(np.sum(g**2) for g in grads))


@pytest.mark.slow
def test_rnnlm_lstm_keras_matches_the_books_numpy_code(tmp_path, capsys):
    """Quick run of chapter 6's LSTM model (lr 20, clipping): equal
    perplexity each epoch, falling; the plot is written."""
    plot = tmp_path / "rnnlm_lstm.png"
    results = _load("rnnlm_lstm").main(["--quick", "--plot", str(plot)])
    assert f"Saved the plot to {plot}" in capsys.readouterr().out
    numpy_ppl, keras_ppl = results["numpy"], results["keras"]
    assert len(numpy_ppl) == len(keras_ppl) == 5
    for gap in results["gaps"]:
        assert gap <= RNNLM_LSTM_PERPLEXITY_RTOL
    assert numpy_ppl[-1] < 0.7 * numpy_ppl[0] < results["vocab_size"]
    for logged, ppl in zip(results["keras_loss"], keras_ppl):
        assert abs(logged - ppl) <= RNNLM_LSTM_PERPLEXITY_RTOL * ppl
    assert _is_small_png(plot)


@pytest.mark.slow
def test_digits_scratch_rnn_same_accuracy_as_simple_rnn(tmp_path, capsys):
    plot = tmp_path / "digits.png"
    results = _load("digits").main(["--quick", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert re.search(r"\bms / epoch", out)  # as the plot's axis
    assert not re.search(r"\bs / epoch", out)
    scratch, simple = results["ScratchRNN"], results["SimpleRNN"]
    assert results["max_gap"] <= TRAINING_LOSS_RTOL
    assert scratch["test_accuracy"][-1] > 0.6  # 10 classes: chance is 0.1
    assert abs(scratch["test_accuracy"][-1] - simple["test_accuracy"][-1]) < (
        1.5 / 450  # at most one of the 450 test images differs
    )
    assert len(scratch["seconds"]) == len(simple["seconds"]) == 3
    assert min(scratch["seconds"] + simple["seconds"]) > 0
    assert _is_small_png(plot)


@pytest.mark.slow
def test_stateful_forecast_beats_stateless_windows(tmp_path):
    plot = tmp_path / "forecast.png"
    results = _load("stateful_forecast").main(["--quick", "--plot", str(plot)])
    stateless, stateful = results["stateless"], results["stateful"]
    assert stateful["mse_clean"] < 0.7 * stateless["mse_clean"]
    assert stateful["mse"] < stateless["mse"]
    assert stateful["mse"] > results["noise_floor"]  # noise can't be forecast
    assert stateful["loss"][-1] < stateful["loss"][0]
    assert _is_small_png(plot)


def test_recall_data_hides_one_symbol_in_noise():
    """One flagged symbol `distance` steps before the query; noise elsewhere."""
    recall = _load("recall")
    x, y = recall.recall_data(5, [1, 2, 3, 4, 9], steps=10, seed=1)
    K = recall.SYMBOLS
    assert x.shape == (5, 10, K + 2) and x.dtype == "float32"
    assert y.shape == (5,) and 0 <= y.min() and y.max() < K
    flagged = np.argwhere(x[:, :, K] == 1.0)  # (sample, step)
    assert flagged.tolist() == [[0, 8], [1, 7], [2, 6], [3, 5], [4, 0]]
    for n, t in flagged:
        assert x[n, t, :K].tolist() == np.eye(K)[y[n]].tolist()
    assert (x[:, -1, K + 1] == 1).all() and (x[:, :-1, K + 1] == 0).all()
    assert (x[:, -1, :K] == 0).all()
    with pytest.raises(ValueError, match=r"expected them in \[1, 9\]"):
        recall.recall_data(2, 10, steps=10)
    d = recall.training_distances(1000, 40, seed=0)
    assert d.min() == 1 and d.max() == 40
    assert (d <= 2).sum() > (d > 20).sum() / 2  # log-uniform: many short


@pytest.mark.slow
def test_recall_lstm_remembers_where_the_rnn_forgets(tmp_path):
    """Quick run (distances 1 to 10): at 10 steps the RNN is near chance,
    the LSTM and the GRU far above; the plot is written."""
    plot = tmp_path / "recall.png"
    results = _load("recall").main(["--quick", "--plot", str(plot)])
    distances, chance = results["distances"], results["chance"]
    assert distances == [1, 2, 5, 10] and chance == 1 / 8
    rnn, lstm = results["ScratchRNN"], results["ScratchLSTM"]
    gru = results["ScratchGRU"]
    for result in (rnn, lstm, gru):
        assert list(result["accuracy"]) == distances
        assert result["loss"][-1] < result["loss"][0]
    far = distances[-1]
    assert rnn["accuracy"][1] > 3 * chance  # one step back: it recalls
    assert rnn["accuracy"][far] < 2.5 * chance  # ten steps back: it forgets
    assert lstm["accuracy"][far] > 0.8 and gru["accuracy"][far] > 0.8
    assert _is_small_png(plot)


@pytest.mark.slow
def test_compare_cells_keras_twins_train_like_ours(tmp_path):
    """Quick run with Keras's twins (RNN and LSTM): from the same weights,
    the same losses, accuracies and weight counts as ours."""
    plot = tmp_path / "compare_cells.png"
    out = _load("compare_cells").main(
        ["--quick", "--builtin", "--cells", "RNN,LSTM", "--plot", str(plot)]
    )
    results, gaps = out["results"], out["gaps"]
    assert list(results) == ["RNN", "RNN (Keras)", "LSTM", "LSTM (Keras)"]
    assert set(gaps) == {"RNN", "LSTM"}
    for per_task in gaps.values():  # two epochs' float32 round-off
        assert set(per_task) == {"digits", "recall"}
        assert max(max(g) for g in per_task.values()) <= TRAINING_LOSS_RTOL
    assert results["RNN"]["params"] == 32 * (1 + 32 + 1)  # D = 1
    assert results["LSTM"]["params"] == 4 * results["RNN"]["params"]
    for label in ("RNN", "LSTM"):
        ours, theirs = results[label], results[f"{label} (Keras)"]
        assert ours["params"] == theirs["params"]
        assert ours["digits_accuracy"] == theirs["digits_accuracy"]
        assert ours["recall_accuracy"] == theirs["recall_accuracy"]
        assert len(ours["gradient"]) == out["distances"][-1] + 1
        assert np.isfinite(ours["gradient"]).all()
        assert (ours["gradient"] > 0).all()
    assert _is_small_png(plot)


@pytest.mark.slow
def test_benchmark_quick_mode_runs():
    """`benchmarks/bench.py --quick` prints its table (no timing checks)."""
    spec = importlib.util.spec_from_file_location(
        "bench", EXAMPLES.parent / "benchmarks" / "bench.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--quick"])
    assert [(r["N"], r["T"], r["H"]) for r in rows] == bench.QUICK_GRID
    for row in rows:
        assert row["train_speedup"] > 0 and row["forward_speedup"] > 0
        assert row["last_speedup"] > 0
        assert set(row["memory"]) == {"scratch", "simple"}
        assert set(row["fit"]) == {"scratch", "simple"}
