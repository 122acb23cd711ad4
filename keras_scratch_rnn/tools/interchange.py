"""Swap SimpleRNN and ScratchRNN in whole models, weights files included.

`ScratchRNN.from_simple_rnn` and `ScratchRNN.to_simple_rnn` convert one
layer. `convert_model` converts every such layer of a Sequential or
functional model. `load_weights` loads a `.weights.h5` file saved from the
same model built with the other layer class.

Why `load_weights` is needed: Keras names the entries of a weights file
after each layer's class (`layers/simple_rnn/cell/vars`, not the layer's
name), so `model.load_weights` cannot find SimpleRNN's weights in a model
made of ScratchRNN layers. Both layers store the same variables in the same
order under those entries; renaming the entries is enough.
"""

import os
import re
import shutil
import tempfile

import h5py
import keras

# `keras.models.clone_model` takes Sequential and functional models only;
# there is no public name for the latter.
from keras.src.models.functional import Functional

from keras_scratch_rnn.layers.checks import invalid
from keras_scratch_rnn.layers.scratch_rnn import ScratchRNN

_ENTRY = {ScratchRNN: "scratch_rnn", keras.layers.SimpleRNN: "simple_rnn"}


def _target_classes(to):
    if not isinstance(to, str) or to not in ("scratch", "simple"):
        raise invalid("to", "'scratch' or 'simple'", repr(to))
    if to == "scratch":
        return keras.layers.SimpleRNN, ScratchRNN
    return ScratchRNN, keras.layers.SimpleRNN


def convert_model(model, to="scratch"):
    """A copy of `model` with every SimpleRNN swapped for ScratchRNN.

    Layers inside `keras.layers.Bidirectional` and inside nested models are
    swapped too.

    Args:
        model: A Sequential or functional Keras model (a subclassed model
            cannot be cloned: convert its layers with
            `ScratchRNN.from_simple_rnn`).
        to: `"scratch"` (SimpleRNN -> ScratchRNN) or `"simple"` (back).

    Returns:
        A new model with the same weights, computing the same function.

    Example:

    ```python
    fast = convert_model(model)  # every SimpleRNN is now a ScratchRNN
    ```
    """
    source, _ = _target_classes(to)
    if not isinstance(model, (keras.Sequential, Functional)):
        raise invalid(
            "model",
            "a Sequential or functional keras.Model (a subclassed model "
            "cannot be cloned: convert its layers one by one with "
            "ScratchRNN.from_simple_rnn or to_simple_rnn)",
            type(model).__name__,
        )

    def swap(layer):
        if to == "scratch":
            return ScratchRNN.from_simple_rnn(layer)
        return layer.to_simple_rnn()

    def clone(layer):
        # `type(...) is` and not isinstance: only the exact classes swap.
        if type(layer) is source:
            return swap(layer)
        if isinstance(layer, keras.layers.Bidirectional) and (
            type(layer.forward_layer) is source
        ):
            return keras.layers.Bidirectional(
                swap(layer.forward_layer),
                merge_mode=layer.merge_mode,
                backward_layer=swap(layer.backward_layer),
                name=layer.name,
            )
        return layer.__class__.from_config(layer.get_config())

    converted = keras.models.clone_model(
        model, clone_function=clone, recursive=True
    )
    converted.set_weights(model.get_weights())
    return converted


def load_weights(model, filepath, **kwargs):
    """`model.load_weights` that also takes the other layer class's file.

    A `.weights.h5` file saved from the same architecture built with
    SimpleRNN loads into the model built with ScratchRNN, and the other way
    round. Models that use both classes at once, or neither, are passed to
    `model.load_weights` as they are (any file Keras takes).

    The file is checked first (it exists, is a weights file, holds weights
    for the model's RNN layers); if Keras still fails to load it, the
    model's weights are put back as they were (Keras loads the layers it
    can before it raises).

    Args:
        model: The Keras model to load into.
        filepath: A `.weights.h5` file from `model.save_weights`.
        **kwargs: Passed on to `model.load_weights` (e.g. `skip_mismatch`).

    Raises:
        ValueError: if `model` is not a model, or `filepath` is not a
            `.weights.h5` file holding the weights of this model's layers.
        FileNotFoundError: if there is no file at `filepath`.
    """
    if not isinstance(model, keras.Model):
        raise invalid("model", "a keras.Model", type(model).__name__)
    classes = _rnn_classes(model)
    if len(classes) != 1:  # nothing to translate: Keras's own loading
        model.load_weights(filepath, **kwargs)
        return
    path = _weights_file(filepath)
    (own,) = classes
    other = (set(_ENTRY) - {own}).pop()
    if not _entries(path, (_ENTRY[own], _ENTRY[other])):
        raise invalid(
            "filepath",
            f"a weights file holding the weights of the model's "
            f"{own.__name__} layers (saved from the same architecture "
            f"built with {own.__name__} or {other.__name__})",
            f"{path!r}, which holds no {own.__name__} or {other.__name__} "
            "weights",
        )
    with tempfile.TemporaryDirectory() as folder:
        renamed = os.path.join(folder, "renamed.weights.h5")
        shutil.copyfile(path, renamed)
        _rename_entries(renamed, _ENTRY[other], _ENTRY[own])
        _load_or_restore(model, renamed, **kwargs)


def _weights_file(filepath):
    """`filepath` as a str, checked to be an existing `.weights.h5` file."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise invalid(
            "filepath", "a path to a .weights.h5 file", repr(filepath)
        )
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5"):
        raise invalid(
            "filepath",
            "a .weights.h5 file, as written by `model.save_weights` (a "
            ".keras file holds a whole model: load it with "
            "`keras.saving.load_model`, then use `convert_model`)",
            repr(path),
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "Received an invalid value for argument `filepath`, expected "
            f"an existing .weights.h5 file, got {path!r}: no such file."
        )
    if not h5py.is_hdf5(path):
        raise invalid(
            "filepath",
            "a .weights.h5 file, as written by `model.save_weights`",
            f"{path!r}, which is not an HDF5 file",
        )
    return path


def _entry_pattern(names):
    return re.compile(rf"^({'|'.join(names)})(_\d+)?$")


def _entries(path, names):
    """The groups of the h5 file at `path` named `name` or `name_K`, for
    each of `names`."""
    pattern = _entry_pattern(names)
    found = []
    with h5py.File(path, "r") as f:
        f.visit(
            lambda name: (
                found.append(name)
                if pattern.match(name.rsplit("/", 1)[-1])
                else None
            )
        )
    return found


def _load_or_restore(model, path, **kwargs):
    """`model.load_weights(path)`, or no change at all if it raises."""
    variables = list(model.weights)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    saved = [v.numpy() for v in variables]
    try:
        model.load_weights(path, **kwargs)
    except Exception as error:
        for variable, value in zip(variables, saved):
            variable.assign(value)
        if isinstance(error, ValueError):
            raise ValueError(
                "Received an invalid value for argument `filepath`: its "
                f"weights do not fit the model, which is unchanged. {error}"
            ) from error
        raise


def _rnn_classes(model):
    """The layer classes of `_ENTRY` listed in `model.layers`, recursively."""
    found = set()
    for layer in getattr(model, "layers", ()):
        if type(layer) in _ENTRY:
            found.add(type(layer))
        found |= _rnn_classes(layer)
    return found


def _rename_entries(path, old, new):
    """Renames every group `old` or `old_K` of an h5 file to `new(_K)`."""
    pattern = _entry_pattern((old,))
    groups = _entries(path, (old,))
    with h5py.File(path, "r+") as f:
        for name in sorted(groups, key=lambda n: -n.count("/")):
            parent, _, leaf = name.rpartition("/")
            suffix = pattern.match(leaf).group(2) or ""
            f.move(name, f"{parent}/{new}{suffix}" if parent else new + suffix)
