"""What the example scripts share: where a plot goes, and epoch timing."""

import importlib.util
import time

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras


def plot_path(parser, args, default):
    """Where the plot goes (None: no plot): `--plot PATH`, else `default`
    in a full run and none in a `--quick` one, none with `--no-plot`;
    needs matplotlib if anywhere."""
    full_run = None if args.quick else default
    path = None if args.no_plot else args.plot or full_run
    if path and importlib.util.find_spec("matplotlib") is None:
        parser.error("the plot needs matplotlib (pip install matplotlib)")
    return path


class EpochTimer(keras.callbacks.Callback):
    """Seconds taken by each epoch of `fit` (validation included)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
