"""Swap Keras's recurrent layers and ours in whole models, weights files
included: SimpleRNN <-> ScratchRNN, LSTM <-> ScratchLSTM and GRU <->
ScratchGRU.

`ScratchRNN.from_simple_rnn` / `to_simple_rnn`, `ScratchLSTM.from_lstm`
/ `to_lstm` and `ScratchGRU.from_gru` / `to_gru` convert one layer.
`convert_model` converts every such layer of a Sequential or functional
model. `load_weights` loads a `.weights.h5` file saved from the same model
built with the other layer classes.

Why `load_weights` is needed: Keras names the entries of a weights file
after each layer's class (`layers/simple_rnn/cell/vars`, `layers/lstm/...`,
`layers/gru/...`, not the layer's name), so `model.load_weights` cannot
find SimpleRNN's weights in a model made of ScratchRNN layers, nor LSTM's
in one made of ScratchLSTM layers, nor GRU's in one of ScratchGRU layers.
Each pair stores the same variables in the same order under those
entries; renaming the entries is enough.
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
from keras_scratch_rnn.layers.scratch_gru import ScratchGRU
from keras_scratch_rnn.layers.scratch_lstm import ScratchLSTM
from keras_scratch_rnn.layers.scratch_rnn import ScratchRNN

# (Keras's class, ours): the layers that swap, each pair with the same
# weights in the same order.
_PAIRS = (
    (keras.layers.SimpleRNN, ScratchRNN),
    (keras.layers.LSTM, ScratchLSTM),
    (keras.layers.GRU, ScratchGRU),
)
# The name of each class's entries in a weights file (Keras's snake case of
# the class name, numbered `_1`, `_2`... within one parent).
_ENTRY = {
    ScratchRNN: "scratch_rnn",
    keras.layers.SimpleRNN: "simple_rnn",
    ScratchLSTM: "scratch_lstm",
    keras.layers.LSTM: "lstm",
    ScratchGRU: "scratch_gru",
    keras.layers.GRU: "gru",
}
# One layer of each class as its counterpart.
_SWAP = {
    keras.layers.SimpleRNN: ScratchRNN.from_simple_rnn,
    ScratchRNN: ScratchRNN.to_simple_rnn,
    keras.layers.LSTM: ScratchLSTM.from_lstm,
    ScratchLSTM: ScratchLSTM.to_lstm,
    keras.layers.GRU: ScratchGRU.from_gru,
    ScratchGRU: ScratchGRU.to_gru,
}


def _source_classes(to):
    """The classes `convert_model(..., to=to)` replaces."""
    if not isinstance(to, str) or to not in ("scratch", "keras", "simple"):
        raise invalid(
            "to", "'scratch' or 'keras' ('simple' is 'keras')", repr(to)
        )
    mine = 0 if to == "scratch" else 1
    return {pair[mine] for pair in _PAIRS}


def convert_model(model, to="scratch"):
    """A copy of `model` with every SimpleRNN swapped for ScratchRNN,
    every LSTM for ScratchLSTM and every GRU for ScratchGRU, or back.

    Layers inside `keras.layers.Bidirectional` and inside nested models are
    swapped too.

    Args:
        model: A Sequential or functional Keras model (a subclassed model
            cannot be cloned: convert its layers with
            `ScratchRNN.from_simple_rnn`, `ScratchLSTM.from_lstm` or
            `ScratchGRU.from_gru`).
        to: `"scratch"` (SimpleRNN -> ScratchRNN, LSTM -> ScratchLSTM,
            GRU -> ScratchGRU) or
            `"keras"` (back to Keras's layers; `"simple"` is the same).

    Returns:
        A new model with the same weights, computing the same function.

    Example:

    ```python
    fast = convert_model(model)  # every SimpleRNN is now a ScratchRNN,
    # every LSTM a ScratchLSTM, every GRU a ScratchGRU
    back = convert_model(fast, to="keras")
    ```
    """
    sources = _source_classes(to)
    if not isinstance(model, (keras.Sequential, Functional)):
        raise invalid(
            "model",
            "a Sequential or functional keras.Model (a subclassed model "
            "cannot be cloned: convert its layers one by one with "
            "ScratchRNN.from_simple_rnn or to_simple_rnn, "
            "ScratchLSTM.from_lstm or to_lstm, "
            "ScratchGRU.from_gru or to_gru)",
            type(model).__name__,
        )

    def convert(layer):
        # `type(...) in` and not isinstance: only the exact classes swap.
        if type(layer) in sources:
            return _SWAP[type(layer)](layer)
        return layer.__class__.from_config(layer.get_config())

    def clone(layer):
        if isinstance(layer, keras.layers.Bidirectional) and (
            type(layer.forward_layer) in sources
            or type(layer.backward_layer) in sources
        ):
            config = layer.get_config()
            config.pop("layer")
            config.pop("backward_layer")
            return keras.layers.Bidirectional(
                convert(layer.forward_layer),
                backward_layer=convert(layer.backward_layer),
                **config,
            )
        return convert(layer)

    converted = keras.models.clone_model(
        model, clone_function=clone, recursive=True
    )
    converted.set_weights(model.get_weights())
    return converted


def load_weights(model, filepath, **kwargs):
    """`model.load_weights` that also takes the other layer classes' file.

    A `.weights.h5` file saved from the same architecture built with
    SimpleRNN loads into the model built with ScratchRNN, one built with
    LSTM into the model built with ScratchLSTM, one built with GRU into
    the model built with ScratchGRU, and the other way round (every pair
    at once for a model that uses several). A pair of which the
    model uses both classes at once, or neither, is left as it is; a model
    with nothing to translate is passed to `model.load_weights` as it is
    (any file Keras takes).

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
    renames = []  # (the file's class, the model's class)
    for pair in _PAIRS:
        used = classes & set(pair)
        if len(used) == 1:  # else nothing to translate for this pair
            (own,) = used
            (other,) = set(pair) - used
            renames.append((other, own))
    if not renames:
        model.load_weights(filepath, **kwargs)
        return
    path = _weights_file(filepath)
    for other, own in renames:
        _check_entries(path, other, own)
    with tempfile.TemporaryDirectory() as folder:
        renamed = os.path.join(folder, "renamed.weights.h5")
        shutil.copyfile(path, renamed)
        for other, own in renames:
            _rename_entries(renamed, _ENTRY[other], _ENTRY[own])
        _load_or_restore(model, renamed, **kwargs)


def _check_entries(path, other, own):
    """Raises unless the file holds weights of `own` or `other` layers
    that can be renamed to `own`'s: not both under one parent (a file of
    a model mixing both classes), which leaves no way to tell which entry
    is which layer."""
    names = (_ENTRY[own], _ENTRY[other])
    found = _entries(path, names)
    if not found:
        raise invalid(
            "filepath",
            f"a weights file holding the weights of the model's "
            f"{own.__name__} layers (saved from the same architecture "
            f"built with {own.__name__} or {other.__name__})",
            f"{path!r}, which holds no {own.__name__} or {other.__name__} "
            "weights",
        )
    pattern = _entry_pattern(names)
    parents = {}
    for name in found:
        parent, _, leaf = name.rpartition("/")
        parents.setdefault(parent, set()).add(pattern.match(leaf).group(1))
    for parent, kinds in parents.items():
        if len(kinds) > 1:
            raise invalid(
                "filepath",
                f"a weights file saved from the same architecture built "
                f"with {own.__name__} or with {other.__name__}",
                f"{path!r}, which holds weights of both under "
                f"{parent or 'its root'!r}: saved from a model mixing the "
                "two, its entries cannot be matched to this model's "
                f"{own.__name__} layers (convert that model first with "
                "`convert_model`, then save its weights)",
            )


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
    each of `names`, in a model's `layers` list.

    Only there is an entry named after its layer's class for sure (as
    `_rnn_classes` finds them): elsewhere `lstm` may be an attribute's
    name (`self.lstm = ...` in a custom layer), which must stay as it is.
    """
    pattern = _entry_pattern(names)
    found = []

    def visit(name):
        parent, _, leaf = name.rpartition("/")
        if parent.rpartition("/")[2] == "layers" and pattern.match(leaf):
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visit(visit)
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
    """The layer classes of `_ENTRY` listed in `model.layers`, recursively
    (not those inside `Bidirectional`: their entries are named
    `forward_layer` and `backward_layer`, whatever their class)."""
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
