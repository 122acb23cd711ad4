"""Keras's own LSTM tests, run on ScratchLSTM.

`keras/src/layers/rnn/lstm_test.py` ships in the Keras wheel. It is loaded
here afresh, under a private module name, and its `layers` (the only way it
reaches the LSTM) is replaced by a copy of `keras.layers` in which `LSTM` and
`LSTMCell` are `ScratchLSTM` and `ScratchLSTMCell`; every other layer stays
Keras's. Its `LSTMTest` then runs unchanged: `run_layer_test` (shapes,
weight counts, config and serialization round trip, a training step, mixed
float16) and the literal expected outputs of constant-initialized layers
(both `implementation`s, `go_backwards`, `unroll`, `unit_forget_bias`,
`use_bias`, stateful, `initial_state`, masks, `zero_output_for_mask`), at
Keras's own tolerances (1e-5 absolute and relative).

Every Keras test passes; none is deselected. (`test_masking` is an xfail
of Keras's only on a GPU, for cuDNN's masks: this process has no GPU.)

A guard makes the swap checked, not assumed: during each test,
`keras.layers.LSTM`'s loop refuses to run and ScratchLSTM's runs are
counted, so a Keras release that reached its LSTM some other way fails here
instead of silently testing Keras against itself.
"""

import importlib.util
import types

import keras
import pytest
from keras.src.layers.rnn import lstm_test
from keras.src.utils import traceback_utils

from keras_scratch_rnn import ScratchLSTM, ScratchLSTMCell

pytestmark = pytest.mark.filterwarnings(
    # Keras's harness itself fits on a generator with shuffle=True
    # (`run_training_step`); the warning is about the harness, not the layer.
    "ignore:`shuffle=True` was passed, but will be ignored:UserWarning"
)

SWAPPED = {"LSTM": ScratchLSTM, "LSTMCell": ScratchLSTMCell}


def _load_swapped_suite():
    """A private copy of Keras's lstm_test module with the layers swapped
    (Keras's own module, imported by anyone else, is left untouched)."""
    spec = importlib.util.spec_from_file_location(
        "_keras_lstm_test_on_scratch_lstm", lstm_test.__file__
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = {n: getattr(keras.layers, n) for n in dir(keras.layers)}
    module.layers = types.SimpleNamespace(**{**names, **SWAPPED})
    return module


_suite = _load_swapped_suite()


class TestKerasLSTMSuiteOnScratchLSTM(_suite.LSTMTest):
    """Keras's `LSTMTest`, every test, on ScratchLSTM."""

    def setUp(self):
        # Keras's setUp turns traceback filtering off for good; other tests
        # in this worker expect Keras's default, so it is restored after.
        if traceback_utils.is_traceback_filtering_enabled():
            self.addCleanup(traceback_utils.enable_traceback_filtering)
        super().setUp()
        self.scratch_runs = 0
        run = ScratchLSTM._run

        def counted_run(layer, *args, **kwargs):
            self.scratch_runs += 1
            return run(layer, *args, **kwargs)

        def refused(layer, *args, **kwargs):
            raise AssertionError(
                "keras.layers.LSTM ran inside Keras's suite: the swap to "
                "ScratchLSTM missed a use"
            )

        for cls, name, replacement in (
            (ScratchLSTM, "_run", counted_run),
            (keras.layers.LSTM, "inner_loop", refused),
        ):
            self.addCleanup(setattr, cls, name, getattr(cls, name))
            setattr(cls, name, replacement)

    def tearDown(self):
        self.assertGreater(self.scratch_runs, 0, "ScratchLSTM never ran")
        super().tearDown()


def test_suite_is_keras_lstm_test_with_the_layers_swapped():
    """The copy holds Keras's tests (all of them collected above) and sees
    ScratchLSTM/ScratchLSTMCell under Keras's names, Keras's other layers
    unchanged."""
    tests = {n for n in dir(lstm_test.LSTMTest) if n.startswith("test_")}
    assert tests == {
        n for n in dir(TestKerasLSTMSuiteOnScratchLSTM) if n.startswith("test")
    }
    assert len(tests) >= 6
    assert _suite.layers.LSTM is ScratchLSTM
    assert _suite.layers.LSTMCell is ScratchLSTMCell
    assert _suite.layers.Dense is keras.layers.Dense
    assert lstm_test.layers.LSTM is keras.layers.LSTM  # Keras's own, intact
