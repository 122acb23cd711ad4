"""Truncated BPTT for Keras `fit`: the book's batches, state resets, perplexity.

"Deep Learning from Scratch 2" trains its stateful RNNs on one long series
(ch05 `train_custom_loop.py`, `RnnlmTrainer`): N parallel streams read a
series of L inputs from the offsets `i * (L // N)`, T steps at a time, and
the time index goes on from batch to batch and from epoch to epoch. A
stateful RNN thus sees each stream in order: its state carries the past
forward while the gradient stops at each block of T steps (truncated
BPTT).

- `tbptt_batch`: the book's `get_batch`, vectorized.
- `TBPTTBatches`: those batches as a `keras.utils.PyDataset` for `fit`.
- `ResetStates`: a callback that zeroes every stateful RNN at epoch start.
- `reset_rnn_states`: the same, called directly (a Keras `Model` has no
  `reset_state`).
- `Perplexity`: `exp` of the mean cross-entropy per label, as a metric.
"""

import keras
import numpy as np
from keras import ops

from keras_scratch_rnn.layers.checks import (
    check_flag,
    invalid,
    refuse_strings,
)


def tbptt_batch(xs, ts, batch_size, time_size, time_idx):
    """The book's truncated-BPTT batch at time index `time_idx`.

    Row i of the batch reads the series from offset `i * jump`, where
    `jump = len(xs) // batch_size`, so the N rows are N streams spread
    over the series; step t of the batch is time `time_idx + t` of every
    stream, wrapping around the end of the series:

        batch_x[i, t] = xs[(i * jump + time_idx + t) % len(xs)]

    The next batch of the same streams starts at `time_idx + time_size`.
    (The book computes `jump` from the corpus, `(corpus_size - 1) //
    batch_size`; with `xs = corpus[:-1]` that is `len(xs) // batch_size`.)

    Args:
        xs: inputs, an array of shape `(L, ...)`: word ids `(L,)` or
            feature vectors `(L, D)`.
        ts: targets, an array of shape `(L, ...)`, aligned with `xs`
            (`ts[k]` is what the model should output after reading
            `xs[k]`), or `None`.
        batch_size: N, the number of streams.
        time_size: T, the number of steps of one batch (the truncation).
        time_idx: the time index of the batch's first step.

    Returns:
        `(batch_x, batch_t)`: arrays of shapes `(N, T, ...)` with the
        dtypes of `xs` and `ts` (`batch_t` is `None` when `ts` is).

    Example:

    ```python
    xs = np.arange(10)  # a series of 10 values
    batch_x, batch_t = tbptt_batch(xs, xs + 100, 2, 3, time_idx=0)
    # batch_x == [[0, 1, 2], [5, 6, 7]]: two streams, from 0 and from 5
    batch_x, _ = tbptt_batch(xs, None, 2, 3, time_idx=3)
    # batch_x == [[3, 4, 5], [8, 9, 0]]: the streams go on (and wrap)
    ```
    """
    xs = _series(xs, "xs")
    data_size = len(xs)
    if ts is not None:
        ts = _series(ts, "ts")
        if len(ts) != data_size:
            raise ValueError(
                "Received an invalid value for argument `ts`, expected one "
                f"target per input ({data_size}), got {len(ts)}."
            )
    _check_sizes(data_size, batch_size, time_size)
    if isinstance(time_idx, (bool, np.bool_)) or not isinstance(
        time_idx, (int, np.integer)
    ):
        raise invalid("time_idx", "an integer", repr(time_idx))
    jump = data_size // batch_size
    offsets = np.arange(batch_size) * jump  # (N,)
    steps = time_idx + np.arange(time_size)  # (T,)
    positions = (offsets[:, None] + steps[None, :]) % data_size  # (N, T)
    batch_t = None if ts is None else ts[positions]
    return xs[positions], batch_t


def _series(values, name):
    """`values` as an array of shape `(L, ...)`, one entry per step."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:  # ragged nested lists
        raise invalid(
            name, "an array of shape (L, ...)", repr(values)[:80]
        ) from error
    if array.ndim == 0 or array.dtype == object:
        raise invalid(
            name,
            "an array of shape (L, ...), one entry per step",
            f"{repr(values)[:80]} (shape {array.shape}, dtype {array.dtype})",
        )
    return array


def _check_sizes(data_size, batch_size, time_size):
    for name, value in (("batch_size", batch_size), ("time_size", time_size)):
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, (int, np.integer))
            or value < 1
        ):
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected "
                f"a positive integer, got {value!r}."
            )
    if data_size < batch_size * time_size:
        raise ValueError(
            f"The series is too short: {data_size} steps cannot fill one "
            f"batch of batch_size * time_size = {batch_size * time_size}."
        )


class TBPTTBatches(keras.utils.PyDataset):
    """The book's truncated-BPTT batches, ready for `model.fit`.

    Batch k of a `fit` is `tbptt_batch(xs, ts, N, T, time_idx=k * T)`: the
    N streams of the series advance by T steps per batch, across epochs
    too, exactly as the book's training loop reads them. An epoch is
    `steps_per_epoch = len(xs) // (N * T)` batches (the book's
    `max_iters`), so every epoch covers the series once.

    The time index goes on across epochs, so the dataset is endless: pass
    `steps_per_epoch=batches.steps_per_epoch` to `fit`, which then keeps
    one iterator for all its epochs (a new `fit` starts again from time
    0). With `carry_across_epochs=False` every epoch starts again from time
    0 and the dataset has `steps_per_epoch` batches.

    The model should be stateful with the same batch size (e.g.
    `keras.Input(shape=(T, ...), batch_size=N)` and
    `ScratchRNN(..., stateful=True)`). Pass `shuffle=False` to `fit`: the
    order of the batches is the point (and Keras warns that it cannot
    shuffle an endless dataset).

    Args:
        xs: inputs `(L, ...)`, e.g. word ids `(L,)` or features `(L, D)`.
        ts: targets `(L, ...)` aligned with `xs`, e.g. the next word ids.
        batch_size: N, the number of streams.
        time_size: T, the steps per batch (where backprop is truncated).
        carry_across_epochs: if True (the book), the time index goes on
            from one epoch to the next; if False it restarts at 0.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    ```python
    corpus = np.array(word_ids)
    batches = TBPTTBatches(corpus[:-1], corpus[1:], batch_size=10, time_size=5)
    model.fit(
        batches,
        epochs=100,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        callbacks=[ResetStates()],
    )
    ```
    """

    def __init__(
        self, xs, ts, batch_size, time_size, carry_across_epochs=True, **kwargs
    ):
        if ts is None:
            raise ValueError(
                "Received an invalid value for argument `ts`, expected the "
                "targets, one per input, got None."
            )
        xs, ts = _series(xs, "xs"), _series(ts, "ts")
        if len(ts) != len(xs):
            raise ValueError(
                "Received an invalid value for argument `ts`, expected one "
                f"target per input ({len(xs)}), got {len(ts)}."
            )
        _check_sizes(len(xs), batch_size, time_size)
        carry_across_epochs = check_flag(
            carry_across_epochs, "carry_across_epochs"
        )
        super().__init__(**kwargs)
        self.xs = xs
        self.ts = ts
        self.batch_size = batch_size
        self.time_size = time_size
        self.carry_across_epochs = carry_across_epochs
        self.steps_per_epoch = len(self.xs) // (batch_size * time_size)

    @property
    def num_batches(self):
        # Endless, so that `fit(..., steps_per_epoch=...)` keeps one
        # iterator and batch `index` is the run's batch count. (An epoch
        # counter bumped in `on_epoch_end` would race: Keras creates the
        # next epoch's prefetching iterator before calling it.)
        if self.carry_across_epochs:
            return None
        return self.steps_per_epoch

    def __getitem__(self, index):
        """Batch `index` of the run: `(batch_x (N, T, ...), batch_t)`."""
        return tbptt_batch(
            self.xs,
            self.ts,
            self.batch_size,
            self.time_size,
            time_idx=index * self.time_size,
        )


def _walk_layers(layer):
    """`layer` and every layer inside it (models, wrappers, Bidirectional)."""
    yield layer
    inner = list(getattr(layer, "layers", None) or [])
    for name in ("layer", "forward_layer", "backward_layer"):
        sub = getattr(layer, name, None)
        if isinstance(sub, keras.layers.Layer):
            inner.append(sub)
    for sub in inner:
        yield from _walk_layers(sub)


def reset_rnn_states(model):
    """Zeroes the state of every stateful RNN layer in `model`.

    A Keras 3 `Model` has no `reset_state`; this walks the model (nested
    models, wrappers and `Bidirectional` too) and resets each
    `keras.layers.RNN` built with `stateful=True`, such as `ScratchRNN` or
    `SimpleRNN`.

    Args:
        model: a `keras.Model`, or any layer.

    Returns:
        The list of the layers that were reset.
    """
    if not isinstance(model, keras.layers.Layer):
        raise invalid("model", "a keras.Model or layer", type(model).__name__)
    reset = []
    for layer in _walk_layers(model):
        if (
            isinstance(layer, keras.layers.RNN)
            and layer.stateful
            and layer.built
            and all(r is not layer for r in reset)
        ):
            layer.reset_state()
            reset.append(layer)
    return reset


class ResetStates(keras.callbacks.Callback):
    """Zeroes the model's stateful RNNs at the start of every epoch.

    Also at the start of `evaluate` and `predict` (each reads its data
    from the start), unless `on_test=False` / `on_predict=False`.

    Args:
        on_test: also reset before `evaluate` (and validation).
        on_predict: also reset before `predict`.

    Example:

    ```python
    model.fit(batches, epochs=10, callbacks=[ResetStates()])
    ```
    """

    def __init__(self, on_test=True, on_predict=True):
        on_test = check_flag(on_test, "on_test")
        on_predict = check_flag(on_predict, "on_predict")
        super().__init__()
        self.on_test = on_test
        self.on_predict = on_predict

    def on_epoch_begin(self, epoch, logs=None):
        reset_rnn_states(self.model)

    def on_test_begin(self, logs=None):
        if self.on_test:
            reset_rnn_states(self.model)

    def on_predict_begin(self, logs=None):
        if self.on_predict:
            reset_rnn_states(self.model)


@keras.saving.register_keras_serializable(package="keras_scratch_rnn")
class Perplexity(keras.metrics.Metric):
    """`exp(mean cross-entropy)` over every label seen, the book's measure.

    The book's perplexity of an epoch is `exp(total_loss / loss_count)`, the
    exponential of the mean loss per batch; with batches of equal size this
    metric gives the same number (it averages over every label of every
    batch), shown in the progress bar and in `history`.

    Args:
        from_logits: whether `y_pred` are logits (True) or probabilities.
        name: name of the metric.
        dtype: dtype of the metric's variables.

    Example:

    ```python
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[Perplexity()],
    )
    ```
    """

    def __init__(self, from_logits=True, name="perplexity", dtype=None):
        from_logits = check_flag(from_logits, "from_logits")
        if not isinstance(name, str):
            raise invalid("name", "a string", repr(name))
        if dtype is not None and not _is_float_dtype(dtype):
            raise invalid(
                "dtype",
                "a float dtype (the metric sums losses) or None",
                repr(dtype),
            )
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _real_tensor(y_true, "y_true", "integer class ids")
        y_pred = _real_tensor(y_pred, "y_pred", "float scores", floats=True)
        losses = keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=self.from_logits
        )  # (N, T): -log y[t] per label
        losses = ops.cast(losses, self.dtype)
        if sample_weight is None:
            weights = ops.ones_like(losses)
        else:
            weights = _weights_like(sample_weight, losses)
            weights = ops.cast(
                ops.broadcast_to(weights, ops.shape(losses)), self.dtype
            )
        self.total.assign_add(ops.sum(losses * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        # total / count, or 0 before any weight (not `ops.divide_no_nan`:
        # on PyTorch, Keras 3.15 returns it in float32 whatever the dtype).
        total, count = self.total.value, self.count.value
        seen = count > 0
        count = ops.where(seen, count, ops.ones_like(count))
        return ops.exp(ops.where(seen, total / count, 0.0))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def _is_float_dtype(dtype):
    """Whether `dtype` (a dtype or a policy) computes in floats."""
    try:
        policy = keras.dtype_policies.get(dtype)
    except (TypeError, ValueError):
        return False
    return keras.backend.is_float_dtype(policy.compute_dtype)


def _real_tensor(value, name, expected, floats=False):
    """`value` as a tensor of reals (bool, integers or floats), or of
    floats only."""
    refuse_strings(value, name, expected)
    tensor = ops.convert_to_tensor(value)
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    real = dtype == "bool" or "int" in dtype or "float" in dtype
    if not (keras.backend.is_float_dtype(dtype) if floats else real):
        raise invalid(name, expected, f"dtype {dtype}")
    return tensor


def _weights_like(sample_weight, losses):
    """`sample_weight` aligned with `losses` (N, T) on the leading axes, as
    Keras aligns them: a weight per sample `(N,)` becomes `(N, 1)`, not a
    weight per step (which `broadcast_to` would make of it when N == T)."""
    weights = _real_tensor(sample_weight, "sample_weight", "numeric weights")
    given = tuple(weights.shape)
    rank, want = len(given), len(losses.shape)
    if rank == want + 1 and weights.shape[-1] == 1:
        weights = ops.squeeze(weights, axis=-1)
    for _ in range(want - rank):
        weights = ops.expand_dims(weights, axis=-1)
    shape = tuple(weights.shape)
    target = tuple(losses.shape)
    if len(shape) != len(target) or any(
        None not in (s, t) and s not in (1, t) for s, t in zip(shape, target)
    ):
        raise invalid(
            "sample_weight",
            f"weights of a shape that broadcasts to the labels' {target} "
            "(per label, or per sample)",
            f"shape {given}",
        )
    return weights
