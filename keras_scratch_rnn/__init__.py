"""keras_scratch_rnn: the RNN of "Deep Learning from Scratch 2" in Keras 3.

Data flow, bottom to top (lower modules never import upper ones):

- `reference`: the book's `RNN`, `TimeRNN`, `LSTM`, `TimeLSTM` and their
  language models in NumPy, the math to trust.
- `ops`: the same forwards and handwritten backwards, each equation written
  once (`ops.rnn_math`, `ops.lstm_math`), run by each Keras backend
  (`ops.tensorflow`, `ops.jax`, `ops.torch`: the loop and the custom
  gradient).
- `layers`: Keras layers on those ops, drop-in replacements of
  `keras.layers.SimpleRNN`, `LSTM`, `GRU` and their cells.
- `tools`: truncated BPTT, model and weights conversion, and the
  side-by-side comparison with SimpleRNN (`python -m keras_scratch_rnn`).
- `learn`: `explain`, its demonstrations, `gradflow`, figures and docs.
- `cli`, `terminal`: the command line.

`import keras_scratch_rnn` imports the layers and cells, and
with them TensorFlow, so that Keras knows them when `keras.models.load_model`
reads a saved model. Only while the command line starts (`python -m
keras_scratch_rnn`, the `keras-scratch-rnn` script) are they imported on
first use instead (PEP 562), so that `--help` and `explain` answer at once.
"""

import itertools
import os
import sys

__version__ = "0.1.0"
__all__ = [
    "ScratchGRU",
    "ScratchGRUCell",
    "ScratchLSTM",
    "ScratchLSTMCell",
    "ScratchRNN",
    "ScratchRNNCell",
]

_LAZY = {
    "ScratchGRU": "keras_scratch_rnn.layers.scratch_gru",
    "ScratchGRUCell": "keras_scratch_rnn.layers.scratch_gru_cell",
    "ScratchLSTM": "keras_scratch_rnn.layers.scratch_lstm",
    "ScratchLSTMCell": "keras_scratch_rnn.layers.scratch_lstm_cell",
    "ScratchRNN": "keras_scratch_rnn.layers.scratch_rnn",
    "ScratchRNNCell": "keras_scratch_rnn.layers.scratch_rnn_cell",
}


def _command_line_is_starting():
    """`python -m keras_scratch_rnn` (not `-m` of a package that imports
    this one), or the console script `keras-scratch-rnn` (`.exe` or
    `-script.py` on Windows)."""
    program = (getattr(sys, "argv", None) or [""])[0]
    if program == "-m":  # while `-m` imports the module's packages
        argv = getattr(sys, "orig_argv", [])
        return any(
            flag == "-m" and module == "keras_scratch_rnn"
            for flag, module in itertools.pairwise(argv)
        )
    name = os.path.basename(program).lower()
    return name.removesuffix(".exe").removesuffix("-script.py") == (
        "keras-scratch-rnn"
    )


if _command_line_is_starting():

    def __getattr__(name):
        if name not in _LAZY:
            raise AttributeError(
                f"module {__name__!r} has no attribute {name!r}"
            )
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value

else:
    from keras_scratch_rnn.layers.scratch_gru import ScratchGRU
    from keras_scratch_rnn.layers.scratch_gru_cell import ScratchGRUCell
    from keras_scratch_rnn.layers.scratch_lstm import ScratchLSTM
    from keras_scratch_rnn.layers.scratch_lstm_cell import ScratchLSTMCell
    from keras_scratch_rnn.layers.scratch_rnn import ScratchRNN
    from keras_scratch_rnn.layers.scratch_rnn_cell import ScratchRNNCell
