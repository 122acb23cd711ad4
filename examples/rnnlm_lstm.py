"""# The book's ch06 LSTM language model, in NumPy and in Keras

Chapter 6 of "Deep Learning from Scratch 2" replaces chapter 5's RNN by an
LSTM: `Rnnlm` is Embedding -> stateful LSTM -> Affine -> softmax
cross-entropy, trained (`ch06/train_rnnlm.py`) with truncated BPTT on 20
streams read 35 words at a time, word vectors and state of size 100,
plain SGD with the large learning rate 20, and gradient clipping: before
each update, if the norm of all the gradients together exceeds 0.25, they
are scaled down to it.

This script trains that model twice, from the same initial weights on the
same batches:

- the book's NumPy code (`keras_scratch_rnn.reference.Rnnlm`, its
  handwritten backward, `clip_grads` and plain SGD) in the book's loop;
- a Keras model, `Embedding -> ScratchLSTM(stateful=True) -> Dense`,
  fitted with `model.fit` on `keras_scratch_rnn.tools.tbptt.TBPTTBatches`
  with an SGD that clips as the book does (see below: Keras's own
  `global_clipnorm` does not).

It reuses `examples/rnnlm.py` (chapter 5's example) for the corpus, the
NumPy training loop, the comparison and the plot; what differs is the
model, the clipping and the precision. Both run in float64 (the book:
float32), and their perplexity curves agree to 1e-6 (relative) or better
at every epoch of the default run; why float64, and why 8 epochs, is told
at the end.

Run: `python examples/rnnlm_lstm.py` (the first 10,000 words of the
bundled corpus, 8 epochs, about a minute on 2 cores; the plot goes to
`rnnlm_lstm.png` in the current folder, or `--plot PATH`), or `--quick`
(2,000 words, 5 epochs, no plot). `--corpus PATH` reads any text file,
e.g. PTB's `ptb.train.txt`.
"""

import argparse
import contextlib
import time

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np
import rnnlm  # chapter 5's example, beside this one
from _common import plot_path
from keras import ops

from keras_scratch_rnn import ScratchLSTM
from keras_scratch_rnn.reference import Rnnlm, book_to_keras_lstm
from keras_scratch_rnn.tools.tbptt import Perplexity, ResetStates, TBPTTBatches

PLOT = "rnnlm_lstm.png"  # in the current folder; docs/images/ only if asked

"""## The book's model and training loop, in NumPy

`Rnnlm` is `ch06/rnnlm.py`; the loop is `rnnlm.train_numpy` (chapter 5's
loop, vectorized batches) with `max_grad`, which calls the book's
`clip_grads` (`common/util.py`) between `backward` and the update, as the
book's `RnnlmTrainer` does:

    total_norm = sqrt(sum of grad**2 over every weight's gradient)
    rate = max_grad / (total_norm + 1e-6)
    if rate < 1: every grad *= rate

As in `rnnlm.py`, the LSTM state is reset at the start of each epoch
(the book resets it only before evaluating), and the time index goes on
across epochs.
"""

"""## Gradient clipping in Keras, as the book does

Keras optimizers take `global_clipnorm`, which scales every gradient by
`min(1, clipnorm / norm)` (`clip_by_global_norm` in
`keras/src/optimizers/base_optimizer.py`). It differs from the book's
`clip_grads` twice:

- It lacks the book's `+ 1e-6`: each clipped step is `1e-6 / norm`
  (at most 4e-6, as the norm exceeds 0.25) larger. Small, but this
  training amplifies any difference (see the end): with the book's
  formula minus the `1e-6`, the curves part by 1e-4 at epoch 3 and 9e-3
  at epoch 4 (measured, float64).
- On TensorFlow the embedding's gradient is a `tf.IndexedSlices`, one row
  per word of the batch, and Keras's `global_norm` squares those rows
  before the rows of a repeated word are added: it computes
  `sqrt(sum over occurrences |row|^2)` instead of the norm of the summed
  gradient (a word seen 3 times with the row r counts 3 |r|^2, not
  9 |r|^2). A batch of 700 words repeats most of them, so Keras clips by
  a wrong norm: with `SGD(20, global_clipnorm=0.25)` the curves differ
  by 8e-4 at epoch 1 and 1e-2 at epoch 2.

So `BookClippedSGD` clips in `apply`, before SGD's update: it makes each
gradient dense (`zeros + grad`, which adds the rows of a repeated word),
then applies the book's formula, `+ 1e-6` included.
"""


class BookClippedSGD(keras.optimizers.SGD):
    """SGD after the book's `clip_grads`: if the global norm of the dense
    gradients exceeds `max_grad`, each is scaled by
    `max_grad / (norm + 1e-6)`.

    Args:
        learning_rate: SGD's learning rate.
        max_grad: the largest global norm of the gradients.
        **kwargs: `keras.optimizers.SGD`'s other arguments.
    """

    epsilon = 1e-6  # the book's, in `max_grad / (norm + 1e-6)`

    def __init__(self, learning_rate, max_grad, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.max_grad = max_grad

    def apply(self, grads, trainable_variables=None):
        # JAX's `fit` calls `apply(grads)`: the variables it was built with
        variables = trainable_variables or self._trainable_variables
        # zeros + IndexedSlices is dense: a repeated word's rows are added
        grads = [
            ops.add(ops.zeros_like(v), g) for g, v in zip(grads, variables)
        ]
        total_norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
        rate = self.max_grad / (total_norm + self.epsilon)
        clip = rate < 1  # the book: `if rate < 1: grad *= rate`
        grads = [ops.where(clip, g * ops.cast(rate, g.dtype), g) for g in grads]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "max_grad": self.max_grad}


"""## The same model in Keras

`Embedding -> ScratchLSTM -> Dense` is `TimeEmbedding -> TimeLSTM ->
TimeAffine`. ScratchLSTM's `kernel, recurrent_kernel, bias` are the book's
`Wx, Wh, b` with the four gates' column blocks reordered from the book's
f, g, i, o to Keras's i, f, c, o (`book_to_keras_lstm`). Every layer
and the loss compute in `dtype` (float64 here: ScratchLSTM runs float64
on TensorFlow).
"""


def keras_rnnlm(V, D, H, batch_size, time_size, dtype="float32"):
    inputs = keras.Input(
        shape=(time_size,), batch_size=batch_size, dtype="int32"
    )
    x = keras.layers.Embedding(V, D, name="embed", dtype=dtype)(inputs)
    x = ScratchLSTM(  # (N, T, H)
        H, return_sequences=True, stateful=True, name="lstm", dtype=dtype
    )(x)
    logits = keras.layers.Dense(V, name="affine", dtype=dtype)(x)  # (N, T, V)
    return keras.Model(inputs, logits)


def copy_weights(numpy_model, keras_model):
    embed_W, Wx, Wh, b, affine_W, affine_b = numpy_model.params
    keras_model.get_layer("embed").set_weights([embed_W])
    keras_model.get_layer("lstm").set_weights(book_to_keras_lstm(Wx, Wh, b))
    keras_model.get_layer("affine").set_weights([affine_W, affine_b])


def train_keras(model, xs, ts, epochs, batch_size, time_size, optimizer, dtype):
    """Fits `model` as `rnnlm.train_keras` does; returns the perplexity of
    each epoch, and `exp` of Keras's logged loss.

    The perplexity is `exp` of a `SparseCategoricalCrossentropy` metric in
    `dtype`, the model's (the mean over every word of the epoch, the book's
    `total_loss / loss_count`). Keras's loss tracker (`history["loss"]`)
    sums in floatx (float32) whatever the model's dtype, and so does the
    package's `Perplexity` (its `dtype` does not reach its variables):
    both round at about 1e-7, which would hide how closely float64 runs
    agree.
    """
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, dtype=dtype
        ),
        metrics=[
            keras.metrics.SparseCategoricalCrossentropy(
                from_logits=True, dtype=dtype, name="cross_entropy"
            ),
            Perplexity(),  # for the progress bar
        ],
    )
    batches = TBPTTBatches(xs, ts, batch_size, time_size)
    history = model.fit(
        batches,
        epochs=epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        callbacks=[ResetStates()],
    )
    ppl = [float(np.exp(x)) for x in history.history["cross_entropy"]]
    return ppl, [float(np.exp(x)) for x in history.history["loss"]]


"""## Precision: why float64, and why 8 epochs

At the book's lr 20 this training is chaotic: two runs that differ only by
round-off part exponentially, by a factor of about 30 per epoch (14
batches). Measured on the default run, both in float64, the relative gap
is 2e-15 at epoch 1, 5e-14 at epoch 3, 1e-11 at epoch 5, 3e-7 at epoch
8, then 4e-4 at epoch 9 and 5e-3 at epoch 10 (`--epochs 10`). The NumPy
code against itself, with one weight matrix changed by one part in 1e12,
parts the same way (2e-3 at epoch 9): this is the dynamics of SGD at
lr 20, not a difference between the two implementations. In float32, the
book's dtype, the round-off starts near 1e-7 and the curves part past
1e-3 within 4 epochs (`--dtype float32`). Smaller rates are not chaotic
(at lr 5 a change of 1e-12 stays below 1e-12 for 15 epochs) but learn
slowly: 534 to 180 in 15 epochs, where lr 20 reaches 31.

Hence the defaults: the book's model, lr 20 and clipping; both models in
float64 (ScratchLSTM runs float64 on TensorFlow); and 8 epochs of the
first 10,000 words, where the perplexity has fallen from 531 to 132 and
the gap is still about 3e-7.

NumPy runs with one BLAS thread: the book's matrices are small (20 x 100
times 100 x 400 per step), and OpenBLAS's threads cost more than they
save (measured on 2 busy cores: 0.5 s for 5 batches with one thread,
7 to 16 s with two).
"""

"""## Train both and compare"""


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread (no-op without
    threadpoolctl, which comes with scikit-learn, the examples' extra)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument(
        "--quick", action="store_true", help="2000 words, 5 epochs"
    )
    parser.add_argument("--epochs", type=int, help="default 8 (quick: 5)")
    parser.add_argument("--corpus", help="a text file (default: CPython's)")
    parser.add_argument(
        "--corpus-size", type=int, help="words (default 10000; quick: 2000)"
    )
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--time-size", type=int, default=35)
    parser.add_argument("--wordvec-size", type=int, default=100)
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--max-grad", type=float, default=0.25)
    parser.add_argument(
        "--dtype",
        default="float64",
        choices=["float32", "float64"],
        help="of both models (the book: float32, whose round-off parts "
        "the curves past 1e-3 within 4 epochs at lr 20)",
    )
    parser.add_argument("--seed", type=int, default=0)
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot", metavar="PATH", help=f"the PNG (default {PLOT}; quick: none)"
    )
    plots.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 8)
    corpus_size = args.corpus_size or (2000 if args.quick else 10_000)
    path = plot_path(parser, args, PLOT)
    N, T = args.batch_size, args.time_size
    D, H = args.wordvec_size, args.hidden_size

    corpus, id_to_word = rnnlm.load_corpus(args.corpus)
    corpus = corpus[:corpus_size]
    V = int(corpus.max() + 1)
    xs, ts = corpus[:-1], corpus[1:]  # input words, next words
    print(
        f"corpus: {len(corpus)} words, vocabulary V = {V}: "
        f"{' '.join(id_to_word[i] for i in corpus[:12])} ..."
    )

    # The book's initial weights (float32 values, as the book draws them).
    numpy_model = Rnnlm(V, D, H, rng=args.seed, dtype=args.dtype)
    for param in numpy_model.params:
        param[...] = param.astype(np.float32)
    keras_model = keras_rnnlm(V, D, H, N, T, args.dtype)
    copy_weights(numpy_model, keras_model)

    print(f"\nNumPy ({args.dtype}), the book's training loop")
    start = time.perf_counter()
    with one_blas_thread():
        numpy_ppl = rnnlm.train_numpy(
            numpy_model, xs, ts, epochs, N, T, args.lr, max_grad=args.max_grad
        )
    numpy_seconds = time.perf_counter() - start

    print(f"\nKeras ({args.dtype}), model.fit")
    start = time.perf_counter()
    optimizer = BookClippedSGD(args.lr, max_grad=args.max_grad)
    keras_ppl, loss_ppl = train_keras(
        keras_model, xs, ts, epochs, N, T, optimizer, args.dtype
    )
    keras_seconds = time.perf_counter() - start

    gaps = rnnlm.compare(
        numpy_ppl, keras_ppl, numpy_seconds, keras_seconds, range(epochs)
    )

    if path:
        title = f"ch06 Rnnlm, first {len(corpus)} words, V = {V}"
        rnnlm.plot(path, numpy_ppl, keras_ppl, gaps, title, "ScratchLSTM")
    else:
        reason = "--no-plot" if args.no_plot else "--quick"
        print(f"No plot ({reason}); --plot PATH draws one.")
    return {
        "numpy": numpy_ppl,
        "keras": keras_ppl,
        "keras_loss": loss_ppl,
        "gaps": gaps,
        "max_gap": max(gaps),
        "vocab_size": V,
        "corpus_size": len(corpus),
        "seconds": {"numpy": numpy_seconds, "keras": keras_seconds},
    }


if __name__ == "__main__":
    main()
