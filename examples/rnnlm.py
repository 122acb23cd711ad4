"""# A word language model: the book's ch05 RNNLM, in NumPy and in Keras

Chapter 5 of "Deep Learning from Scratch 2" trains `SimpleRnnlm`
(Embedding -> stateful RNN -> Affine -> softmax cross-entropy) on the first
1000 words of the Penn Treebank with truncated BPTT: 10 streams read the
corpus 5 words at a time, the RNN state carries over from one batch to
the next, and the gradient stops at each block of 5 words. Its perplexity
falls from about 400 (epoch 1) to about 5 (epoch 100).

This script trains that model twice, from the same initial weights on the
same batches:

- the book's NumPy code (`keras_scratch_rnn.reference.SimpleRnnlm`, its
  handwritten backward and plain SGD) in the book's training loop;
- a Keras model, `Embedding -> ScratchRNN(stateful=True) -> Dense`, fitted
  with `model.fit` on `keras_scratch_rnn.tools.tbptt.TBPTTBatches`.

The two perplexity curves agree to about 1e-6 (relative) at every epoch.

The corpus needs no download: by default it is the text of Python's own
help topics (`pydoc_data.topics`), lower-cased and split into words like
PTB (numbers become `N`, each line ends with `<eos>`). `--corpus PATH`
reads any text file instead.

Run: `python examples/rnnlm.py` (100 epochs, about 15 s; the plot goes to
`rnnlm.png` in the current folder, or `--plot PATH`), or `--quick` for 5
epochs and no plot.
"""

import argparse
import pathlib
import re
import time

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np
from _common import plot_path

from keras_scratch_rnn import ScratchRNN
from keras_scratch_rnn.reference import SGD, SimpleRnnlm
from keras_scratch_rnn.tools.tbptt import (
    Perplexity,
    ResetStates,
    TBPTTBatches,
    tbptt_batch,
)

PLOT = "rnnlm.png"  # in the current folder; docs/images/ only if asked

"""## The corpus: word ids, as the book's PTB loader makes them"""


def tokenize(text):
    """Lower-cased words of `text`, PTB style: `N` for numbers, `<eos>`
    at the end of each non-empty line."""
    words = []
    for line in text.lower().splitlines():
        line_words = re.findall(r"[a-z]+(?:'[a-z]+)?|[0-9]+", line)
        if line_words:
            words += [re.sub(r"^[0-9]+$", "N", w) for w in line_words]
            words.append("<eos>")
    return words


def default_text():
    """The help topics shipped with CPython (`help("assert")` etc.)."""
    from pydoc_data.topics import topics

    return "\n".join(topics.values())


def load_corpus(path=None):
    """`corpus` (word ids in order of first appearance), `id_to_word`.

    The book's `preprocess`: ids are given in order of first appearance,
    so the first `k` words use the ids `0 .. max(corpus[:k])`.
    """
    if path is None:
        text = default_text()
    else:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    word_to_id = {}
    corpus = [word_to_id.setdefault(w, len(word_to_id)) for w in tokenize(text)]
    return np.array(corpus), list(word_to_id)


"""## The book's model and training loop, in NumPy

`ch05/train_custom_loop.py`, with the batches of `tbptt_batch` (the book's
loop, vectorized) and one change: the RNN state is reset at the start of
each epoch, as the Keras run does with `ResetStates`. The time index goes
on across epochs, as in the book.
"""


def clip_grads(grads, max_norm):
    """The book's gradient clipping (`common/util.py`), in place: if the
    norm of all gradients together exceeds `max_norm`, every gradient is
    multiplied by `max_norm / (total_norm + 1e-6)`. Chapter 5 does not
    clip; chapter 6 (`examples/rnnlm_lstm.py`) does."""
    total_norm = np.sqrt(sum(np.sum(grad**2) for grad in grads))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            grad *= rate


def train_numpy(
    model, xs, ts, epochs, batch_size, time_size, lr, max_grad=None
):
    """Trains `model` in place; returns the perplexity of each epoch.

    `max_grad`: if given, the gradients are clipped to that global norm
    (`clip_grads`) before each update, as chapter 6's trainer does.
    """
    optimizer = SGD(lr)
    max_iters = len(xs) // (batch_size * time_size)
    time_idx = 0
    ppl_list = []
    for epoch in range(epochs):
        model.reset_state()
        total_loss, loss_count = 0.0, 0
        for _ in range(max_iters):
            batch_x, batch_t = tbptt_batch(
                xs, ts, batch_size, time_size, time_idx
            )
            time_idx += time_size
            loss = model.forward(batch_x, batch_t)
            model.backward()
            if max_grad is not None:
                clip_grads(model.grads, max_grad)
            optimizer.update(model.params, model.grads)
            total_loss += loss
            loss_count += 1
        ppl = float(np.exp(total_loss / loss_count))
        print(f"| epoch {epoch + 1} | perplexity {ppl:.2f}")
        ppl_list.append(ppl)
    return ppl_list


"""## The same model in Keras

`Embedding -> ScratchRNN -> Dense` is `TimeEmbedding -> TimeRNN ->
TimeAffine`: `Embedding`'s table is `embed_W`, ScratchRNN's `kernel,
recurrent_kernel, bias` are `Wx, Wh, b`, `Dense`'s `kernel, bias` are
`affine_W, affine_b`. `SparseCategoricalCrossentropy(from_logits=True)`
averages over the N*T words of a batch, like `TimeSoftmaxWithLoss`.
"""


def keras_rnnlm(V, D, H, batch_size, time_size):
    inputs = keras.Input(
        shape=(time_size,), batch_size=batch_size, dtype="int32"
    )
    x = keras.layers.Embedding(V, D, name="embed")(inputs)  # (N, T, D)
    x = ScratchRNN(H, return_sequences=True, stateful=True, name="rnn")(x)
    logits = keras.layers.Dense(V, name="affine")(x)  # (N, T, V)
    return keras.Model(inputs, logits)


def copy_weights(numpy_model, keras_model):
    embed_W, Wx, Wh, b, affine_W, affine_b = numpy_model.params
    keras_model.get_layer("embed").set_weights([embed_W])
    keras_model.get_layer("rnn").set_weights([Wx, Wh, b])
    keras_model.get_layer("affine").set_weights([affine_W, affine_b])


def train_keras(model, xs, ts, epochs, batch_size, time_size, lr):
    """Fits `model`; returns the perplexity of each epoch, and the metric's.

    Keras logs the mean of the batch losses of an epoch, the book's
    `total_loss / loss_count`, so `exp(loss)` is the book's perplexity;
    the `Perplexity` metric in the progress bar gives the same number.
    """
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[Perplexity()],
    )
    batches = TBPTTBatches(xs, ts, batch_size, time_size)
    history = model.fit(
        batches,
        epochs=epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        callbacks=[ResetStates()],
    )
    ppl = [float(np.exp(loss)) for loss in history.history["loss"]]
    return ppl, [float(p) for p in history.history["perplexity"]]


"""## Train both and compare"""


def plot(path, numpy_ppl, keras_ppl, gaps, title, layer="ScratchRNN"):
    from matplotlib.figure import Figure

    epochs = np.arange(1, len(numpy_ppl) + 1)
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, numpy_ppl, lw=3, alpha=0.5, label="NumPy (the book)")
    ax1.plot(epochs, keras_ppl, "k--", lw=1, label=f"Keras + {layer}")
    ax1.set(xlabel="epoch", ylabel="perplexity", yscale="log", title=title)
    ax1.legend()
    ax2.semilogy(epochs, gaps, ".-")
    ax2.set(
        xlabel="epoch",
        ylabel="|Keras - NumPy| / NumPy",
        title="relative difference",
    )
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"Saved the plot to {path}")


def compare(numpy_ppl, keras_ppl, numpy_seconds, keras_seconds, shown=None):
    """Prints the two curves side by side (at the epochs `shown`, 0-based;
    default: the first, every tenth and the last) and returns the relative
    difference of each epoch, `|Keras - NumPy| / NumPy`."""
    epochs = len(numpy_ppl)
    gaps = [abs(k - n) / n for k, n in zip(keras_ppl, numpy_ppl)]
    print(f"\n{'epoch':>5}  {'NumPy':>10}  {'Keras':>10}  {'rel. diff':>9}")
    if shown is None:
        shown = {0, *range(9, epochs, max(1, epochs // 10)), epochs - 1}
    for e in sorted(shown):
        print(
            f"{e + 1:>5}  {numpy_ppl[e]:>10.3f}  {keras_ppl[e]:>10.3f}  "
            f"{gaps[e]:>9.1e}"
        )
    print(
        f"Largest relative difference over {epochs} epochs: {max(gaps):.1e}"
        f" (NumPy {numpy_seconds:.1f} s, Keras {keras_seconds:.1f} s)"
    )
    return gaps


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument("--quick", action="store_true", help="5 epochs")
    parser.add_argument("--epochs", type=int, help="default 100 (quick: 5)")
    parser.add_argument("--corpus", help="a text file (default: CPython's)")
    parser.add_argument("--corpus-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--time-size", type=int, default=5)
    parser.add_argument("--wordvec-size", type=int, default=100)
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument(
        "--dtype",
        default="float64",
        choices=["float32", "float64"],
        help="of the NumPy model (the book: float32); Keras runs float32",
    )
    parser.add_argument("--seed", type=int, default=0)
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot", metavar="PATH", help=f"the PNG (default {PLOT}; quick: none)"
    )
    plots.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 100)
    path = plot_path(parser, args, PLOT)
    N, T = args.batch_size, args.time_size
    D, H = args.wordvec_size, args.hidden_size

    corpus, id_to_word = load_corpus(args.corpus)
    corpus = corpus[: args.corpus_size]
    V = int(corpus.max() + 1)
    xs, ts = corpus[:-1], corpus[1:]  # input words, next words
    print(
        f"corpus: {len(corpus)} words, vocabulary V = {V}: "
        f"{' '.join(id_to_word[i] for i in corpus[:12])} ..."
    )

    # The book's initial weights, drawn in float32 (as the book does), so
    # that the float64 NumPy run and the float32 Keras run start equal.
    numpy_model = SimpleRnnlm(V, D, H, dtype=args.dtype, seed=args.seed)
    for param in numpy_model.params:
        param[...] = param.astype(np.float32)
    keras_model = keras_rnnlm(V, D, H, N, T)
    copy_weights(numpy_model, keras_model)

    print(f"\nNumPy ({args.dtype}), the book's training loop")
    start = time.perf_counter()
    numpy_ppl = train_numpy(numpy_model, xs, ts, epochs, N, T, args.lr)
    numpy_seconds = time.perf_counter() - start

    print("\nKeras (float32), model.fit")
    start = time.perf_counter()
    keras_ppl, metric_ppl = train_keras(
        keras_model, xs, ts, epochs, N, T, args.lr
    )
    keras_seconds = time.perf_counter() - start

    gaps = compare(numpy_ppl, keras_ppl, numpy_seconds, keras_seconds)

    if path:
        title = f"RNNLM, first {len(corpus)} words, V = {V}"
        plot(path, numpy_ppl, keras_ppl, gaps, title)
    else:
        reason = "--no-plot" if args.no_plot else "--quick"
        print(f"No plot ({reason}); --plot PATH draws one.")
    return {
        "numpy": numpy_ppl,
        "keras": keras_ppl,
        "keras_metric": metric_ppl,
        "gaps": gaps,
        "max_gap": max(gaps),
        "vocab_size": V,
        "corpus_size": len(corpus),
        "seconds": {"numpy": numpy_seconds, "keras": keras_seconds},
    }


if __name__ == "__main__":
    main()
