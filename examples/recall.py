"""# Recall across time: ScratchRNN forgets, ScratchLSTM remembers

A task that only memory over time can solve. Each sequence is noise
(Gaussian, standard deviation 0.5, on K = 8 channels), except one step that
shows one of K symbols (one-hot, with a "remember this" flag) and the last
step, a query flag. The target is the symbol; the distance is the number of
steps from the symbol to the query. Nothing about the symbol reaches the
query except through the recurrent state, carried across `distance` steps
of noise. Chance is 1/K = 12.5%.

The script trains ScratchRNN, ScratchLSTM and ScratchGRU (`RNN(32) ->
Dense(K)`) on the same sequences with the same budget (Adam 0.003, 6
epochs of 3000 sequences of T = 41 steps, distances from 1 to 40 drawn
log-uniformly), then tests each on 500 new sequences per distance in 1, 2,
5, 10, 20, 40. ScratchRNN names the symbol one step back 60% of the time,
two steps back 30%, and is at chance from 5 steps on: each step multiplies
its gradient by `diag(1 - h_t^2) Wh^T`, and the noise keeps that small.
The LSTM's cell state `c_t = f * c_{t-1} + i * g` is a sum, not a product
through tanh: with the forget gate near 1 and the input gate shut on noise
it carries the symbol 40 steps as well as one. The GRU's `h = z * h_prev +
(1 - z) * h_hat` is the same kind of path.

Why mixed distances: trained on distance 40 alone, the LSTM stays at chance
too (measured: 0.11 to 0.15 over 10 epochs with these settings). It starts
with a forget gate near sigmoid(1) = 0.73, and the gradient crosses 40 of
them: 0.73^40 = 3e-6. Short distances in the same batches teach it to keep
the forget gate open, and the long ones follow.

Run: `python examples/recall.py` (under a minute; the plot goes to
`recall.png` in the current folder, or `--plot PATH`), or `--quick` for a
small run and no plot. `recall_data` is the generator that
`compare_cells.py` uses too.
"""

import argparse
import pathlib
import time

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np
from _common import plot_path

from keras_scratch_rnn import ScratchGRU, ScratchLSTM, ScratchRNN

PLOT = "recall.png"  # in the current folder; docs/images/ only if asked
CELLS = {
    "ScratchRNN": ScratchRNN,
    "ScratchLSTM": ScratchLSTM,
    "ScratchGRU": ScratchGRU,
}
SYMBOLS = 8  # K; chance is 1/K
NOISE = 0.5  # standard deviation of the distractor steps
DISTANCES = (1, 2, 5, 10, 20, 40)
QUICK_DISTANCES = (1, 2, 5, 10)

"""## Data: one symbol, noise, a query

Features per step (D = K + 2): K symbol channels (one-hot at the symbol's
step, noise at every other step but the last), a "remember" flag at the
symbol's step and a query flag at the last step.
"""


def recall_data(n, distance, steps, symbols=SYMBOLS, noise=NOISE, seed=0):
    """`n` recall sequences and their targets.

    Args:
        n: Number of sequences.
        distance: Steps from the symbol to the query, an int or `n` ints,
            each in [1, steps - 1].
        steps: T, the length of every sequence.
        symbols: K, the number of symbols (chance is 1/K).
        noise: Standard deviation of the noise on the symbol channels.
        seed: Seed of the NumPy generator, or a `np.random.Generator`.

    Returns:
        `(x, y)`: float32 inputs of shape (n, T, K + 2) and int targets
        (n,) in [0, K).
    """
    rng = np.random.default_rng(seed)
    distance = np.broadcast_to(np.asarray(distance), (n,))
    if distance.min() < 1 or distance.max() > steps - 1:
        raise ValueError(
            f"Received distances from {distance.min()} to {distance.max()}, "
            f"expected them in [1, {steps - 1}] for sequences of {steps} steps."
        )
    rows = np.arange(n)
    x = np.zeros((n, steps, symbols + 2), "float32")  # (N, T, K + 2)
    x[:, :-1, :symbols] = noise * rng.standard_normal((n, steps - 1, symbols))
    y = rng.integers(0, symbols, n)  # (N,)
    shown = steps - 1 - distance  # the symbol's step
    x[rows, shown, :symbols] = 0.0
    x[rows, shown, y] = 1.0
    x[rows, shown, symbols] = 1.0  # "remember this"
    x[:, -1, symbols + 1] = 1.0  # the query
    return x, y


def training_distances(n, longest, seed=0):
    """`n` distances in [1, longest], log-uniform: as many from 1 to 2 as
    from 20 to 40, so that short recalls teach what long ones need."""
    rng = np.random.default_rng(seed)
    return np.floor(np.exp(rng.uniform(0, np.log(longest + 1), n))).astype(int)


def recall_sets(
    n_train, n_test, distances, symbols=SYMBOLS, noise=NOISE, seed=0
):
    """A training set of mixed distances up to `max(distances)` and a test
    set per distance, all of T = max(distances) + 1 steps.

    Returns `((x_train, y_train), {distance: (x_test, y_test)})`."""
    longest = max(distances)
    steps = longest + 1
    rng = np.random.default_rng(seed)
    train = recall_data(
        n_train,
        training_distances(n_train, longest, rng),
        steps,
        symbols,
        noise,
        rng,
    )
    tests = {
        d: recall_data(n_test, d, steps, symbols, noise, rng) for d in distances
    }
    return train, tests


"""## The classifier: the last state, then Dense(K)"""


def classifier(rnn_class, H, steps, features, classes):
    return keras.Sequential(
        [
            keras.Input((steps, features)),
            rnn_class(H),  # the last state h_T (N, H)
            keras.layers.Dense(classes),  # logits (N, K)
        ]
    )


def compile_model(model, lr):
    model.compile(
        optimizer=keras.optimizers.Adam(lr, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def accuracy(model, x, y):
    logits = keras.ops.convert_to_numpy(model(x, training=False))  # (N, K)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


"""## Train each cell on the same sequences, test at each distance"""


def train_cells(cells, train, tests, H, epochs, batch_size, lr, seed):
    x_train, y_train = train
    _, steps, features = x_train.shape
    results = {}
    for name, rnn_class in cells.items():
        print(f"\n{name}")
        keras.utils.set_random_seed(seed)  # the same seed for every cell
        model = compile_model(
            classifier(rnn_class, H, steps, features, features - 2), lr
        )
        start = time.perf_counter()
        history = model.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=False,
        )
        results[name] = {
            "loss": history.history["loss"],
            "accuracy": {d: accuracy(model, *tests[d]) for d in tests},
            "seconds": time.perf_counter() - start,
        }
    return results


"""## Plot: accuracy against distance"""


def plot(path, results, chance):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    for name, result in results.items():
        distances = list(result["accuracy"])
        ax1.plot(distances, list(result["accuracy"].values()), "o-", label=name)
        epochs = np.arange(1, len(result["loss"]) + 1)
        ax2.plot(epochs, result["loss"], label=name)
    label = f"chance (1/{round(1 / chance)})"
    ax1.axhline(chance, color="gray", ls=":", label=label)
    ax1.set_xscale("log")
    ax1.set_xticks(distances, [str(d) for d in distances])
    ax1.set(
        xlabel="distance (steps from the symbol to the query)",
        ylabel="test accuracy",
        ylim=(0, 1.05),
        title="recall a symbol across noise",
    )
    ax1.legend()
    ax2.set(xlabel="epoch", ylabel="training loss", title="training")
    ax2.xaxis.get_major_locator().set_params(integer=True)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"Saved the plot to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument(
        "--quick", action="store_true", help="distances up to 10, a small run"
    )
    parser.add_argument("--epochs", type=int, help="default 6 (quick: 4)")
    parser.add_argument("--train-size", type=int, help="3000 (quick: 1000)")
    parser.add_argument(
        "--test-size", type=int, default=500, help="per distance"
    )
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, help="Adam's, 0.003 (quick: 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot", metavar="PATH", help=f"the PNG (default {PLOT}; quick: none)"
    )
    plots.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 6)
    n_train = args.train_size or (1000 if args.quick else 3000)
    lr = args.lr or (0.01 if args.quick else 0.003)
    distances = QUICK_DISTANCES if args.quick else DISTANCES
    path = plot_path(parser, args, PLOT)

    train, tests = recall_sets(
        n_train, args.test_size, distances, seed=args.seed
    )
    steps = train[0].shape[1]
    print(
        f"{n_train} training sequences of {steps} steps (distances 1 to "
        f"{max(distances)}), {args.test_size} test sequences per distance; "
        f"chance {1 / SYMBOLS:.3f}"
    )
    results = train_cells(
        CELLS,
        train,
        tests,
        args.hidden_size,
        epochs,
        args.batch_size,
        lr,
        args.seed,
    )
    print(f"\nTest accuracy by distance (chance {1 / SYMBOLS:.3f})")
    print(f"{'distance':<12}" + "".join(f"{d:>7}" for d in distances))
    for name, result in results.items():
        print(
            f"{name:<12}"
            + "".join(f"{a:>7.3f}" for a in result["accuracy"].values())
            + f"   ({result['seconds']:.0f} s)"
        )

    if path:
        plot(path, results, 1 / SYMBOLS)
    else:
        reason = "--no-plot" if args.no_plot else "--quick"
        print(f"No plot ({reason}); --plot PATH draws one.")
    return {**results, "distances": list(distances), "chance": 1 / SYMBOLS}


if __name__ == "__main__":
    main()
