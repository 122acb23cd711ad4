"""Argument checks shared by the layers: each bad value raises a
`ValueError` that names the argument and what was expected, before any
state changes. They work on every backend."""

import numbers

import keras
import numpy as np


def invalid(name, expected, got):
    """The house error: which argument, what was expected, what came."""
    return ValueError(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}, got {got}."
    )


def check_units(units):
    if (
        isinstance(units, bool)
        or not isinstance(units, numbers.Integral)
        or units <= 0
    ):
        raise invalid("units", "a positive integer", repr(units))
    return int(units)


def check_flag(value, name):
    """`value` as a Python bool: a boolean, or the integer 0 or 1 (which
    SimpleRNN takes too). Anything else is refused: a string such as
    `"False"` would otherwise count as true, `None` as false."""
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, numbers.Integral) and value in (0, 1)
    ):
        return bool(value)
    raise invalid(name, "a boolean", repr(value))


def check_rate(rate, name):
    """A dropout rate: a real number in [0, 1], else a ValueError.

    SimpleRNN clips a rate into [0, 1]; a rate outside is always a mistake
    (`dropout=2` would drop everything), and SimpleRNN's saved configs hold
    clipped rates, so refusing costs no drop-in loading.
    """
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise invalid(name, "a float between 0 and 1", repr(rate))
    if not 0.0 <= rate <= 1.0:  # NaN fails too
        raise invalid(name, "a float between 0 and 1", repr(rate))
    return float(rate)


_INT64 = (-(2**63), 2**63 - 1)


def check_seed(seed):
    """`None` or an integer that fits the int64 seed of TensorFlow's
    stateless ops; NumPy integers become Python ints (JSON configs)."""
    if seed is None:
        return None
    if (
        isinstance(seed, (bool, np.bool_))
        or not isinstance(seed, numbers.Integral)
        or not _INT64[0] <= seed <= _INT64[1]
    ):
        raise invalid("seed", "None or a 64-bit integer", repr(seed))
    return int(seed)


def get_option(getter, value, name, what):
    """`getter(value)` (Keras's `initializers.get` and the like), with the
    argument named in the error: Keras's own message does not say which of
    the three initializers (or regularizers, constraints) it could not read.
    `None` passes (for an initializer, Keras then uses `"glorot_uniform"`,
    as SimpleRNN does)."""
    try:
        return getter(value)
    except (ValueError, TypeError) as error:
        raise invalid(name, what, repr(value)) from error


def dtype_name(tensor):
    """Keras's name of a tensor's dtype (`"float32"`, `"int64"`,
    `"bool"`...), or the backend's own name for one Keras does not know
    (strings, complex numbers)."""
    try:
        return keras.backend.standardize_dtype(tensor.dtype)
    except (ValueError, TypeError):
        return getattr(tensor.dtype, "name", str(tensor.dtype))


def is_real(tensor):
    """Whether `tensor` holds floats, integers or booleans."""
    return dtype_name(tensor).startswith(
        ("float", "bfloat", "int", "uint", "bool")
    )


def is_float(tensor):
    return dtype_name(tensor).startswith(("float", "bfloat"))


def check_numeric(tensor, name):
    """Refuses a tensor that cannot be cast to float: strings, complex
    numbers (the cast would drop the imaginary part), and the like."""
    if not is_real(tensor):
        raise invalid(
            name,
            REAL,
            f"dtype {dtype_name(tensor)}",
        )
    return tensor


REAL = "a real-valued tensor (float, integer or boolean)"


def refuse_strings(value, name, expected=REAL):
    """Raises for strings (or NumPy object arrays) given where numbers go,
    before anything converts them: Keras converts a layer's NumPy inputs
    itself, and on JAX and PyTorch that fails with a message naming no
    argument. Lists and tuples are searched; tensors pass."""
    if isinstance(value, (list, tuple)):
        for item in value:
            refuse_strings(item, name, expected)
    elif isinstance(value, (str, bytes)):
        raise invalid(name, expected, "dtype string")
    elif isinstance(value, np.ndarray) and value.dtype.kind in "USO":
        kind = "object" if value.dtype.kind == "O" else "string"
        raise invalid(name, expected, f"dtype {kind}")


def as_tensor(value, name):
    """`value` as a tensor of the backend (a variable is read); a value the
    backend cannot hold raises a ValueError naming the argument."""
    refuse_strings(value, name)
    try:
        return keras.ops.convert_to_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise invalid(name, "a tensor or array", repr(value)[:80]) from error


def static_shape(tensor):
    """The shape as a tuple (`None` for a size known only when it runs, on
    TensorFlow), or `None` if even the rank is unknown."""
    shape = tensor.shape
    if getattr(shape, "rank", 0) is None:  # a TensorShape of unknown rank
        return None
    return tuple(shape)


def after(check, t):
    """`t`, computed only once the run-time `check` passed (`None`: no
    check). Without this, a TensorFlow graph may run an op that fails on
    the bad input before the check that explains it. Only TensorFlow has
    sizes known only at run time: the other backends' checks are static."""
    if check is None:
        return t
    import tensorflow as tf

    with tf.control_dependencies([check]):
        return tf.identity(t)


def assert_equal_at_run_time(got, expected, message, checks=()):
    """A TensorFlow assertion that `got == expected` (run-time sizes), run
    after `checks`."""
    import tensorflow as tf

    with tf.control_dependencies(list(checks)):
        return tf.debugging.assert_equal(got, expected, message=message)


def check_training(training):
    """`None` or a Python boolean: a string such as `"False"` is true."""
    if training is not None and not isinstance(training, (bool, np.bool_)):
        raise invalid("training", "a boolean or None", repr(training))
