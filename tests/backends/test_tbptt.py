"""Truncated BPTT tools (tbptt.py): the book's batches, resets, perplexity.

The batches are checked against a copy of the book's loop, `fit` on them
against a hand-written loop of `train_on_batch`, and one stateful Keras
training step against the NumPy `SimpleRnnlm` in float64.
"""

import contextlib

import keras
import numpy as np
import pytest

from keras_scratch_rnn import ScratchRNN
from keras_scratch_rnn.reference import SimpleRnnlm, TimeSoftmaxWithLoss
from keras_scratch_rnn.tolerances import (
    FLOAT32_PARITY,
    FLOAT64_PARITY,
    scaled_error,
)
from keras_scratch_rnn.tools.tbptt import (
    Perplexity,
    ResetStates,
    TBPTTBatches,
    reset_rnn_states,
    tbptt_batch,
)

BACKEND = keras.backend.backend()


def _numpy(t):
    return keras.ops.convert_to_numpy(t)


SEED = 0


def book_batches(xs, ts, batch_size, time_size, iters):
    """`ch05/train_custom_loop.py`'s batches, copied loop for loop."""
    data_size = len(xs)
    jump = data_size // batch_size  # the book: (corpus_size - 1) // batch_size
    offsets = [i * jump for i in range(batch_size)]
    time_idx = 0
    for _ in range(iters):
        batch_x = np.empty((batch_size, time_size), dtype="i")
        batch_t = np.empty((batch_size, time_size), dtype="i")
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                batch_x[i, t] = xs[(offset + time_idx) % data_size]
                batch_t[i, t] = ts[(offset + time_idx) % data_size]
            time_idx += 1
        yield batch_x, batch_t


# --- tbptt_batch -------------------------------------------------------------


@pytest.mark.parametrize(
    "corpus_size, batch_size, time_size",
    [(1000, 10, 5), (101, 4, 7), (50, 1, 3), (37, 6, 6)],
)
def test_tbptt_batch_is_the_books_batch(corpus_size, batch_size, time_size):
    corpus = np.random.default_rng(SEED).integers(0, 50, size=corpus_size)
    xs, ts = corpus[:-1], corpus[1:]
    max_iters = len(xs) // (batch_size * time_size)
    iters = 3 * max_iters + 2  # three epochs and more: the index wraps
    for k, (book_x, book_t) in enumerate(
        book_batches(xs, ts, batch_size, time_size, iters)
    ):
        batch_x, batch_t = tbptt_batch(
            xs, ts, batch_size, time_size, time_idx=k * time_size
        )
        np.testing.assert_array_equal(batch_x, book_x)
        np.testing.assert_array_equal(batch_t, book_t)


def test_tbptt_batch_streams_and_wrap():
    xs = np.arange(10)
    batch_x, batch_t = tbptt_batch(xs, xs + 100, 2, 3, time_idx=0)
    np.testing.assert_array_equal(batch_x, [[0, 1, 2], [5, 6, 7]])
    np.testing.assert_array_equal(batch_t, [[100, 101, 102], [105, 106, 107]])
    batch_x, batch_t = tbptt_batch(xs, None, 2, 3, time_idx=3)
    np.testing.assert_array_equal(batch_x, [[3, 4, 5], [8, 9, 0]])
    assert batch_t is None


def test_tbptt_batch_feature_vectors_keep_dtype():
    xs = np.arange(60, dtype="float32").reshape(20, 3)  # (L, D)
    ts = np.arange(20, dtype="int64")
    batch_x, batch_t = tbptt_batch(xs, ts, 4, 2, time_idx=1)
    assert batch_x.shape == (4, 2, 3) and batch_x.dtype == np.float32
    assert batch_t.shape == (4, 2) and batch_t.dtype == np.int64
    np.testing.assert_array_equal(batch_x[2, 1], xs[2 * 5 + 1 + 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"time_size": 2.0}, "time_size"),
        ({"batch_size": 4, "time_size": 3}, "too short"),
        ({"ts": np.arange(9)}, "one target per input"),
    ],
)
def test_tbptt_batch_errors(kwargs, match):
    args = {"xs": np.arange(10), "ts": np.arange(10)}
    args.update({"batch_size": 2, "time_size": 3, "time_idx": 0}, **kwargs)
    with pytest.raises(ValueError, match=match):
        tbptt_batch(**args)
    args.pop("time_idx")
    with pytest.raises(ValueError, match=match):
        TBPTTBatches(**args)


# --- TBPTTBatches ------------------------------------------------------------


def test_tbptt_batches_index_is_the_run_time():
    corpus = np.arange(103)
    batches = TBPTTBatches(corpus[:-1], corpus[1:], batch_size=4, time_size=5)
    assert batches.steps_per_epoch == 102 // 20  # the book's max_iters
    assert batches.num_batches is None  # endless: the time index goes on
    for index in (0, 1, 5, 13):
        batch_x, batch_t = batches[index]
        want_x, want_t = tbptt_batch(
            corpus[:-1], corpus[1:], 4, 5, time_idx=5 * index
        )
        np.testing.assert_array_equal(batch_x, want_x)
        np.testing.assert_array_equal(batch_t, want_t)

    per_epoch = TBPTTBatches(corpus[:-1], corpus[1:], 4, 5, False)
    assert per_epoch.num_batches == len(list(per_epoch)) == 5
    with pytest.raises(ValueError, match="expected the targets"):
        TBPTTBatches(corpus, None, 4, 5)


def small_lm(batch_size, time_size, V=11, D=4, H=5, dtype=None):
    inputs = keras.Input(
        shape=(time_size,), batch_size=batch_size, dtype="int32"
    )
    x = keras.layers.Embedding(V, D, dtype=dtype, name="embed")(inputs)
    x = ScratchRNN(
        H, return_sequences=True, stateful=True, dtype=dtype, name="rnn"
    )(x)
    return keras.Model(inputs, keras.layers.Dense(V, dtype=dtype)(x))


def compiled(model, weights):
    model.set_weights(weights)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_fit_trains_on_the_books_batches_in_order():
    """fit(TBPTTBatches, ResetStates) = the book's loop of train_on_batch."""
    N, T, epochs = 3, 4, 4
    corpus = np.random.default_rng(SEED).integers(0, 11, size=60)
    xs, ts = corpus[:-1], corpus[1:]
    keras.utils.set_random_seed(SEED)
    weights = small_lm(N, T).get_weights()

    by_hand = compiled(small_lm(N, T), weights)
    steps = len(xs) // (N * T)
    time_idx, losses = 0, []
    for _ in range(epochs):
        reset_rnn_states(by_hand)
        epoch_losses = []
        for _ in range(steps):
            batch_x, batch_t = tbptt_batch(xs, ts, N, T, time_idx)
            time_idx += T  # goes on across epochs, and wraps
            epoch_losses.append(by_hand.train_on_batch(batch_x, batch_t))
        losses.append(np.mean(epoch_losses))
    assert time_idx > len(xs)

    fitted = compiled(small_lm(N, T), weights)
    batches = TBPTTBatches(xs, ts, N, T)
    history = fitted.fit(
        batches,
        epochs=epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        callbacks=[ResetStates()],
        verbose=0,
    )
    assert scaled_error(history.history["loss"], losses) <= FLOAT32_PARITY
    for got, want in zip(fitted.get_weights(), by_hand.get_weights()):
        assert scaled_error(got, want) <= FLOAT32_PARITY

    # Without the resets the state runs on across epochs: other weights.
    no_reset = compiled(small_lm(N, T), weights)
    no_reset.fit(
        TBPTTBatches(xs, ts, N, T),
        epochs=epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        verbose=0,
    )
    differences = [
        scaled_error(a, b)
        for a, b in zip(no_reset.get_weights(), by_hand.get_weights())
    ]
    if BACKEND == "jax":
        # Keras 3.15 on JAX: `fit` does not carry a stateful RNN's state
        # from batch to batch (SimpleRNN's neither: Keras does not track
        # `layer.states` among the variables its jitted step returns), so
        # the resets change nothing. docs/compatibility.md.
        assert max(differences) <= FLOAT32_PARITY
    else:
        assert max(differences) > 1e3 * FLOAT32_PARITY


def test_fit_without_carry_restarts_each_epoch():
    N, T, epochs = 3, 4, 2
    corpus = np.random.default_rng(SEED + 1).integers(0, 11, size=60)
    xs, ts = corpus[:-1], corpus[1:]
    keras.utils.set_random_seed(SEED)
    weights = small_lm(N, T).get_weights()

    by_hand = compiled(small_lm(N, T), weights)
    for _ in range(epochs):
        reset_rnn_states(by_hand)
        for k in range(len(xs) // (N * T)):
            by_hand.train_on_batch(*tbptt_batch(xs, ts, N, T, k * T))

    fitted = compiled(small_lm(N, T), weights)
    fitted.fit(
        TBPTTBatches(xs, ts, N, T, carry_across_epochs=False),
        epochs=epochs,
        shuffle=False,
        callbacks=[ResetStates()],
        verbose=0,
    )
    for got, want in zip(fitted.get_weights(), by_hand.get_weights()):
        assert scaled_error(got, want) <= FLOAT32_PARITY


# The float64 gradient through a model: TensorFlow's GradientTape (the ops'
# float64 gradients on JAX and PyTorch are in tests/jax and tests/torch).
if BACKEND == "tensorflow":

    def test_keras_step_is_the_books_truncated_bptt_in_float64():
        """Batch 2 after batch 1: same loss and gradients as SimpleRnnlm."""
        N, T, V, D, H = 3, 4, 11, 4, 5
        corpus = np.random.default_rng(SEED).integers(0, V, size=60)
        numpy_model = SimpleRnnlm(V, D, H, dtype="float64", seed=SEED)
        rng = np.random.default_rng(SEED + 1)
        for param in numpy_model.params:  # weights of order 1: a real test
            param[...] = rng.normal(scale=0.5, size=param.shape)
        model = small_lm(N, T, V, D, H, dtype="float64")
        model.set_weights(numpy_model.params)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, dtype="float64"
        )
        (x1, t1), (x2, t2) = (
            tbptt_batch(corpus[:-1], corpus[1:], N, T, time_idx=k * T)
            for k in range(2)
        )

        numpy_model.forward(x1, t1)
        numpy_loss = numpy_model.forward(x2, t2)
        numpy_model.backward()

        import tensorflow as tf

        model(x1)  # the state of batch 1 is kept, as a constant
        with tf.GradientTape() as tape:
            loss = loss_fn(t2, model(x2))
        grads = tape.gradient(loss, model.trainable_variables)
        assert scaled_error(loss, numpy_loss) <= FLOAT64_PARITY
        for grad, want in zip(grads, numpy_model.grads):
            assert (
                scaled_error(tf.convert_to_tensor(grad), want) <= FLOAT64_PARITY
            )


# --- reset_rnn_states and ResetStates ------------------------------------


def test_reset_rnn_states_finds_every_stateful_rnn():
    N, T, D = 2, 3, 4
    inner = keras.Sequential(
        [keras.layers.SimpleRNN(3, stateful=True, return_sequences=True)]
    )
    bidirectional = keras.layers.Bidirectional(
        ScratchRNN(2, stateful=True, return_sequences=True)
    )
    stateless = ScratchRNN(5, return_sequences=True)
    outer = ScratchRNN(3, stateful=True)
    inputs = keras.Input(shape=(T, D), batch_size=N)
    x = bidirectional(stateless(inner(inputs)))
    model = keras.Model(inputs, outer(x))
    model(np.ones((N, T, D), "float32"))

    stateful = [
        inner.layers[0],
        bidirectional.forward_layer,
        bidirectional.backward_layer,
        outer,
    ]
    assert all(np.abs(layer.states[0]).max() > 0 for layer in stateful)
    reset = reset_rnn_states(model)
    assert len(reset) == len(stateful)
    assert all(any(r is s for r in reset) for s in stateful)
    assert all(not np.any(layer.states[0]) for layer in stateful)
    assert reset_rnn_states(keras.Sequential([keras.layers.Dense(1)])) == []


def test_reset_states_callback_before_each_predict():
    N, T = 2, 3
    # Seeded: how far the carried state moves the logits depends on the
    # initial weights (unseeded, as low as 0.029 over seeds 0-199 against
    # the 1e-2 below; seed 0 gives 0.093 on TensorFlow, 0.11 on torch).
    keras.utils.set_random_seed(SEED)
    model = small_lm(N, T)
    x = np.arange(N * T).reshape(N, T) % 11
    first = model.predict(x, batch_size=N, verbose=0)
    carried = model.predict(x, batch_size=N, verbose=0)
    if BACKEND == "jax":  # predict does not carry the state (Keras 3.15)
        assert scaled_error(carried, first) <= FLOAT32_PARITY
        return
    assert scaled_error(carried, first) > 1e3 * FLOAT32_PARITY
    again = model.predict(x, batch_size=N, verbose=0, callbacks=[ResetStates()])
    np.testing.assert_allclose(again, first, rtol=0, atol=FLOAT32_PARITY)

    state = _numpy(model.get_layer("rnn").states[0]).copy()
    model.predict(
        x, batch_size=N, verbose=0, callbacks=[ResetStates(False, False)]
    )
    ran_on = _numpy(model.get_layer("rnn").states[0])
    assert scaled_error(ran_on, state) > 0  # ran on


# --- Perplexity --------------------------------------------------------------


def test_perplexity_is_exp_of_the_books_mean_loss():
    rng = np.random.default_rng(SEED)
    N, T, V = 4, 5, 9
    batches = [
        (rng.integers(0, V, size=(N, T)), rng.normal(size=(N, T, V)))
        for _ in range(3)
    ]
    metric = Perplexity()
    for labels, logits in batches:
        metric.update_state(labels, logits.astype("float32"))
    book = np.mean(
        [TimeSoftmaxWithLoss().forward(s, t) for t, s in batches]
    )  # total_loss / loss_count
    np.testing.assert_allclose(
        float(metric.result()), np.exp(book), rtol=FLOAT32_PARITY
    )

    probs = Perplexity(from_logits=False)
    labels, logits = batches[0]
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    probs.update_state(labels, softmax.astype("float32"))
    want = np.exp(TimeSoftmaxWithLoss().forward(logits, labels))
    np.testing.assert_allclose(float(probs.result()), want, rtol=FLOAT32_PARITY)

    metric.reset_state()
    assert float(metric.result()) == 1.0  # exp(0): nothing seen yet


def test_perplexity_in_float64_sums_in_float64():
    """`Perplexity(dtype="float64")` keeps its sums in float64 (they were
    float32 whatever the dtype): exp of the float64 mean of the losses
    Keras computes, to 1e-12, where float32 sums are off by about 1e-7.
    (On JAX, float64 needs JAX's x64 mode: on inside this test only.)"""
    rng = np.random.default_rng(SEED)
    N, T, V = 4, 5, 9
    batches = [
        (rng.integers(0, V, size=(N, T)), rng.normal(size=(N, T, V)))
        for _ in range(3)
    ]
    x64 = contextlib.nullcontext()
    if keras.backend.backend() == "jax":
        import jax

        x64 = jax.enable_x64(True)
    with x64:
        metric = Perplexity(dtype="float64")
        losses = []
        for labels, logits in batches:
            logits = keras.ops.convert_to_tensor(logits, "float64")
            metric.update_state(labels, logits)
            loss = keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True
            )
            losses.append(keras.ops.convert_to_numpy(loss).astype("float64"))
        dtype = keras.backend.standardize_dtype(metric.total.dtype)
        result = float(metric.result())
    assert dtype == "float64"
    want = np.exp(np.concatenate(losses).sum() / (3 * N * T))
    np.testing.assert_allclose(result, want, rtol=FLOAT64_PARITY)


def test_perplexity_sample_weight_and_config():
    rng = np.random.default_rng(SEED)
    N, T, V = 3, 4, 6
    labels = rng.integers(0, V, size=(N, T))
    logits = rng.normal(size=(N, T, V))
    weight = (rng.random((N, T)) > 0.4).astype("float32")
    metric = Perplexity()
    metric.update_state(labels, logits.astype("float32"), sample_weight=weight)
    ignored = np.where(weight > 0, labels, -1)  # the book's ignore_label
    want = np.exp(TimeSoftmaxWithLoss().forward(logits, ignored))
    np.testing.assert_allclose(
        float(metric.result()), want, rtol=FLOAT32_PARITY
    )

    config = Perplexity(from_logits=False, name="ppl").get_config()
    restored = Perplexity.from_config(config)
    assert restored.name == "ppl" and restored.from_logits is False


@pytest.mark.parametrize(
    "in_function", [False, True] if BACKEND == "tensorflow" else [False]
)
def test_stateful_on_tbptt_batches_equals_stateless_on_whole_streams(
    in_function,
):
    """Fed the batches in order, a stateful layer sees each stream whole.

    Concatenating its outputs over K batches gives what a stateless layer
    with the same weights computes on the N full streams at once.
    """
    N, T, K, D, H = 3, 4, 5, 2, 6
    rng = np.random.default_rng(7)
    xs = rng.normal(size=(N * T * K, D)).astype("float32")
    batches = TBPTTBatches(
        xs, np.zeros(len(xs)), N, T, carry_across_epochs=False
    )
    stateful = ScratchRNN(H, return_sequences=True, stateful=True)
    stateless = ScratchRNN(H, return_sequences=True)
    stateful.build((N, T, D))
    stateless.build((N, None, D))
    stateless.set_weights(stateful.get_weights())
    call = stateful
    if in_function:
        import tensorflow as tf

        call = tf.function(stateful)
    chunks = [_numpy(call(batches[k][0])) for k in range(K)]
    streams = xs.reshape(N, K * T, D)  # stream i starts at i * (L // N)
    whole = _numpy(stateless(streams))
    got = np.concatenate(chunks, axis=1)
    assert scaled_error(got, whole) <= FLOAT32_PARITY
    for k in range(1, K):  # batch k continues batch k-1, row by row
        np.testing.assert_array_equal(batches[k][0][:, 0], streams[:, k * T])
