"""The examples run (quick mode) and show what they claim."""

import importlib.util
import pathlib

import pytest

from keras_scratch_rnn.tolerances import (
    RNNLM_PERPLEXITY_RTOL,
    TRAINING_LOSS_RTOL,
)

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def test_rnnlm_keras_matches_the_books_numpy_code(tmp_path):
    """Quick run: equal perplexity each epoch; the plot is written."""
    plot = tmp_path / "rnnlm.png"
    results = _load("rnnlm").main(["--quick", "--plot", str(plot)])
    numpy_ppl, keras_ppl = results["numpy"], results["keras"]
    assert len(numpy_ppl) == len(keras_ppl) == 5
    assert results["max_gap"] <= RNNLM_PERPLEXITY_RTOL
    assert numpy_ppl[-1] < 0.7 * numpy_ppl[0] < results["vocab_size"]
    for metric, ppl in zip(results["keras_metric"], keras_ppl):
        assert abs(metric - ppl) <= RNNLM_PERPLEXITY_RTOL * ppl
    assert _is_small_png(plot)


@pytest.mark.slow
def test_rnnlm_100_epochs_like_the_book():
    """The book's run: 100 epochs; the curves agree at every epoch."""
    results = _load("rnnlm").main(["--no-plot"])
    assert len(results["gaps"]) == 100
    assert max(results["gaps"]) <= RNNLM_PERPLEXITY_RTOL
    assert results["numpy"][0] > 100  # epoch 1: far from memorized
    assert results["numpy"][-1] < 10  # epoch 100: the 1000 words learned


@pytest.mark.slow
def test_digits_scratch_rnn_same_accuracy_as_simple_rnn(tmp_path):
    plot = tmp_path / "digits.png"
    results = _load("digits").main(["--quick", "--plot", str(plot)])
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
