"""Keras's own GRU tests, run on ScratchGRU.

`keras/src/layers/rnn/gru_test.py` ships in the Keras wheel. It is loaded
here afresh, under a private module name, and its `layers` (the only way it
reaches the GRU) is replaced by a copy of `keras.layers` in which `GRU` and
`GRUCell` are `ScratchGRU` and `ScratchGRUCell`; every other layer stays
Keras's. Its `GRUTest` then runs unchanged: `run_layer_test` (shapes,
weight counts, config and serialization round trip, a training step, mixed
float16, dropout and recurrent dropout in training, regularizer losses) and
the literal expected outputs of constant-initialized layers (`go_backwards`,
`unroll`, `reset_after=False`, `use_bias=False`, stateful and
`reset_state`, `initial_state`, `return_state`, masks,
`zero_output_for_mask`), at Keras's own tolerances (1e-5 absolute and
relative where it gives them, else its defaults), and a stateful layer
called inside a `tf.function` with a symbolic batch size. (Keras's
`test_correctness` is parametrized by `implementation` but never passes it
to the layer: both cases run the default.)

None is deselected. `test_torch_cudnn_dispatch_fires` is skipped by Keras
itself outside the torch backend (this process is TensorFlow's, and the
test is about Keras's own cuDNN dispatch, which ScratchGRU has not).
`test_legacy_implementation_argument` passes: ScratchGRU takes Keras's
legacy `implementation=0` (run as 2), as GRU does.

A guard makes the swap checked, not assumed: during each test,
`keras.layers.GRU`'s loop refuses to run and ScratchGRU's runs are
counted, so a Keras release that reached its GRU some other way fails here
instead of silently testing Keras against itself.
"""

import importlib.util
import types

import keras
import pytest
from keras.src.layers.rnn import gru_test
from keras.src.utils import traceback_utils

from keras_scratch_rnn import ScratchGRU, ScratchGRUCell

pytestmark = pytest.mark.filterwarnings(
    # Keras's harness itself fits on a generator with shuffle=True
    # (`run_training_step`); the warning is about the harness, not the layer.
    "ignore:`shuffle=True` was passed, but will be ignored:UserWarning"
)

SWAPPED = {"GRU": ScratchGRU, "GRUCell": ScratchGRUCell}


def _load_swapped_suite():
    """A private copy of Keras's gru_test module with the layers swapped
    (Keras's own module, imported by anyone else, is left untouched)."""
    spec = importlib.util.spec_from_file_location(
        "_keras_gru_test_on_scratch_gru", gru_test.__file__
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = {n: getattr(keras.layers, n) for n in dir(keras.layers)}
    module.layers = types.SimpleNamespace(**{**names, **SWAPPED})
    return module


_suite = _load_swapped_suite()


class TestKerasGRUSuiteOnScratchGRU(_suite.GRUTest):
    """Keras's `GRUTest`, every test, on ScratchGRU."""

    def setUp(self):
        # Keras's setUp turns traceback filtering off for good; other tests
        # in this worker expect Keras's default, so it is restored after.
        if traceback_utils.is_traceback_filtering_enabled():
            self.addCleanup(traceback_utils.enable_traceback_filtering)
        super().setUp()
        self.scratch_runs = 0
        self.must_run = True
        run = ScratchGRU._run

        def counted_run(layer, *args, **kwargs):
            self.scratch_runs += 1
            return run(layer, *args, **kwargs)

        def refused(layer, *args, **kwargs):
            raise AssertionError(
                "keras.layers.GRU ran inside Keras's suite: the swap to "
                "ScratchGRU missed a use"
            )

        for cls, name, replacement in (
            (ScratchGRU, "_run", counted_run),
            (keras.layers.GRU, "inner_loop", refused),
        ):
            self.addCleanup(setattr, cls, name, getattr(cls, name))
            setattr(cls, name, replacement)

    def tearDown(self):
        if self.must_run:
            self.assertGreater(self.scratch_runs, 0, "ScratchGRU never ran")
        super().tearDown()


def test_suite_is_keras_gru_test_with_the_layers_swapped():
    """The copy holds Keras's tests (all of them collected above) and sees
    ScratchGRU/ScratchGRUCell under Keras's names, Keras's other layers
    unchanged."""
    tests = {n for n in dir(gru_test.GRUTest) if n.startswith("test_")}
    assert tests == {
        n for n in dir(TestKerasGRUSuiteOnScratchGRU) if n.startswith("test")
    }
    assert len(tests) >= 6
    assert _suite.layers.GRU is ScratchGRU
    assert _suite.layers.GRUCell is ScratchGRUCell
    assert _suite.layers.Dense is keras.layers.Dense
    assert gru_test.layers.GRU is keras.layers.GRU  # Keras's own, intact
