"""The examples run (quick mode) and show what they claim."""

import importlib.util
import pathlib

import pytest

from keras_scratch_rnn.tolerances import TRAINING_LOSS_RTOL

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
