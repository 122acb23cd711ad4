"""Imported first by every example: TensorFlow without its C++ log lines.

The examples are programs of this project, so like its command line they
import TensorFlow through `keras_scratch_rnn.terminal.import_tensorflow_quietly`
(`TF_CPP_MIN_LOG_LEVEL=3` unless you set it; 0 shows every line). That
module is loaded from its file: `import keras_scratch_rnn` would import
TensorFlow at once, lines and all.
"""

import importlib.util
import pathlib

_package = importlib.util.find_spec("keras_scratch_rnn")  # not imported
if _package is not None:
    _spec = importlib.util.spec_from_file_location(
        "_keras_scratch_rnn_terminal",
        pathlib.Path(_package.origin).with_name("terminal.py"),
    )
    _terminal = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_terminal)
    _terminal.import_tensorflow_quietly()
