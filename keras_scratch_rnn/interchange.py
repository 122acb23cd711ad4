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

from keras_scratch_rnn.scratch_rnn import ScratchRNN

_ENTRY = {ScratchRNN: "scratch_rnn", keras.layers.SimpleRNN: "simple_rnn"}


def _target_classes(to):
    if to not in ("scratch", "simple"):
        raise ValueError(
            "Received an invalid value for argument `to`, expected "
            f"'scratch' or 'simple', got {to!r}."
        )
    if to == "scratch":
        return keras.layers.SimpleRNN, ScratchRNN
    return ScratchRNN, keras.layers.SimpleRNN


def convert_model(model, to="scratch"):
    """A copy of `model` with every SimpleRNN swapped for ScratchRNN.

    Layers inside `keras.layers.Bidirectional` are swapped too.

    Args:
        model: A Sequential or functional Keras model.
        to: `"scratch"` (SimpleRNN -> ScratchRNN) or `"simple"` (back).

    Returns:
        A new model with the same weights, computing the same function.

    Example:

    ```python
    fast = convert_model(model)  # every SimpleRNN is now a ScratchRNN
    ```
    """
    source, _ = _target_classes(to)

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

    converted = keras.models.clone_model(model, clone_function=clone)
    converted.set_weights(model.get_weights())
    return converted


def load_weights(model, filepath, **kwargs):
    """`model.load_weights` that also takes the other layer class's file.

    A `.weights.h5` file saved from the same architecture built with
    SimpleRNN loads into the model built with ScratchRNN, and the other way
    round. Models that use both classes at once are not supported.

    Args:
        model: The Keras model to load into.
        filepath: A `.weights.h5` file from `model.save_weights`.
        **kwargs: Passed on to `model.load_weights` (e.g. `skip_mismatch`).
    """
    classes = _rnn_classes(model)
    if len(classes) != 1:
        model.load_weights(filepath, **kwargs)
        return
    (own,) = classes
    other = (set(_ENTRY) - {own}).pop()
    with tempfile.TemporaryDirectory() as folder:
        renamed = os.path.join(folder, "renamed.weights.h5")
        shutil.copyfile(filepath, renamed)
        _rename_entries(renamed, _ENTRY[other], _ENTRY[own])
        model.load_weights(renamed, **kwargs)


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
    pattern = re.compile(rf"^{old}(_\d+)?$")
    with h5py.File(path, "r+") as f:
        groups = []
        f.visit(
            lambda name: (
                groups.append(name)
                if pattern.match(name.rsplit("/", 1)[-1])
                else None
            )
        )
        for name in sorted(groups, key=lambda n: -n.count("/")):
            parent, _, leaf = name.rpartition("/")
            suffix = pattern.match(leaf).group(1) or ""
            f.move(name, f"{parent}/{new}{suffix}" if parent else new + suffix)
