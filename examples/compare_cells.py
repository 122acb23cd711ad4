"""# RNN vs LSTM vs GRU: accuracy, parameters, time and gradient reach

ScratchRNN, ScratchLSTM and ScratchGRU, each as `cell(32) -> Dense`,
trained from the same seed with the same optimizer and epochs on two tasks:

- digits pixel by pixel: scikit-learn's 8x8 digits read one pixel per step
  (T = 64, D = 1), classified from the last state;
- long-distance recall (`recall.py`): name the symbol shown up to 40 steps
  of noise before the query (T = 41, chance 1/8).

For each cell it reports the test accuracy on both, the number of weights,
the time of an epoch and the gradient reach. Gradient reach: on 200 test
sequences of the longest recall distance, the mean over them of
|dL/dx_t| (the norm over the features of the gradient of the loss with
respect to the input at step t, through the handwritten BPTT), against
k = T - 1 - t steps back from the query; the reach is the first k where it
falls below 1% of its value at the query (k = 0), or "> 40" when it never
does within the sequence. Measured on the trained models, it says how far
back the cell still listens.

With `--builtin` each cell has a twin, Keras's SimpleRNN, LSTM or GRU
(same arguments, same weight layout), that starts from the same weights
(`set_weights`) and trains on the same batches. Their training losses
agree to float32 round-off at first (about 2e-7 after the first epoch) and
then part: on the digits ScratchRNN and SimpleRNN differ by 3e-4 at epoch
2 and 1e-2 at epoch 4. It is the training, not the layers: ScratchRNN
against itself, its initial weights scaled by 1 + 1e-7, parts as fast
(5e-4 at epoch 2, 1e-2 at epoch 3). After 30 epochs a twin is another run
of the same quality, not a copy.

Run: `python examples/compare_cells.py` (one to two minutes on 2 cores;
the figure goes to `compare_cells.png` in the current folder, or `--plot
PATH`), `--builtin` (about three minutes), or `--quick` for a short check
(2 digits epochs on a third of the images, recall up to distance 10) and
no plot.
"""

import argparse
import pathlib

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np
import recall
import tensorflow as tf
from _common import EpochTimer, plot_path
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from keras_scratch_rnn import ScratchGRU, ScratchLSTM, ScratchRNN
from keras_scratch_rnn.tolerances import TRAINING_LOSS_RTOL

PLOT = "compare_cells.png"  # in the current folder; docs/images/ if asked
# Ours, and Keras's layer of the same arguments and weights.
CELLS = {
    "RNN": (ScratchRNN, keras.layers.SimpleRNN),
    "LSTM": (ScratchLSTM, keras.layers.LSTM),
    "GRU": (ScratchGRU, keras.layers.GRU),
}
REACH_FRACTION = 1e-2  # the reach: where |dL/dx_t| falls below this of k = 0
REACH_SAMPLES = 200

"""## The two tasks

Digits: 1797 images, 8x8 pixels scaled to [0, 1], read in raster order as
64 steps of 1 pixel; a quarter held out. Recall: `recall.recall_sets`,
training distances log-uniform in [1, 40], tests at 1, 2, 5, 10, 20, 40.
"""


def digits_data(seed=0):
    digits = load_digits()
    pixels = (digits.images / 16.0).astype("float32").reshape(-1, 64, 1)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels,  # (1797, T=64, D=1)
        digits.target,
        test_size=0.25,
        random_state=seed,
        stratify=digits.target,
    )
    return (x_train, y_train), (x_test, y_test)


def epoch_seconds(seconds):
    """Median time of an epoch, leaving out the first (it traces)."""
    return float(np.median(seconds[1:] if len(seconds) > 1 else seconds))


"""## Gradient reach: |dL/dx_t| against steps back from the end

The loss is the summed cross-entropy of the batch; the tape goes through
the layer's own gradient (for ours, the handwritten BPTT).
"""


def input_gradients(model, x, y):
    """Mean over the sequences of |dL/dx_t|, indexed by steps back: (T,)."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)  # (N, K)
        loss = keras.ops.sum(
            keras.losses.sparse_categorical_crossentropy(
                y, logits, from_logits=True
            )
        )
    dx = tape.gradient(loss, x).numpy()  # (N, T, D)
    per_step = np.linalg.norm(dx, axis=-1).mean(axis=0)  # (T,)
    return per_step[::-1]  # [k] = step T - 1 - k


def reach(profile):
    """First k where profile[k] < REACH_FRACTION * profile[0], else None
    (it stays above over the whole sequence)."""
    below = np.nonzero(profile < REACH_FRACTION * profile[0])[0]
    return int(below[0]) if len(below) else None


"""## Train every cell (and its twin) on both tasks"""


def train(layer_class, H, data, classes, epochs, batch_size, lr, seed, twin):
    """Trains `layer_class(H) -> Dense(classes)` on `data`, from the seed's
    initial weights, or from `twin`'s initial weights if given. Returns the
    model, its initial weights and the history."""
    (x_train, y_train), validation = data
    keras.utils.set_random_seed(seed)  # the same seed for every cell
    model = recall.compile_model(
        recall.classifier(layer_class, H, *x_train.shape[1:], classes), lr
    )
    if twin is not None:
        model.set_weights(twin)
    initial = model.get_weights()
    timer = EpochTimer()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,  # the same batches for a twin
        validation_data=validation,
        callbacks=[timer],
    )
    return model, initial, history.history, timer.seconds


def run_cell(name, layer_class, tasks, args, twin=None):
    digits, recall_train, recall_tests = tasks
    longest = max(recall_tests)
    print(f"\n{name}: digits, pixel by pixel")
    model, digits_init, history, seconds = train(
        layer_class,
        args.hidden_size,
        digits,
        10,
        args.epochs,
        args.batch_size,
        args.lr,
        args.seed,
        twin and twin["digits_init"],
    )
    print(f"{name}: recall")
    recall_model, recall_init, recall_history, _ = train(
        layer_class,
        args.hidden_size,
        (recall_train, None),  # tested after training, at each distance
        recall.SYMBOLS,
        args.recall_epochs,
        args.batch_size,
        args.recall_lr,
        args.seed,
        twin and twin["recall_init"],
    )
    x_far, y_far = recall_tests[longest]
    profile = input_gradients(
        recall_model, x_far[:REACH_SAMPLES], y_far[:REACH_SAMPLES]
    )
    return {
        "params": model.layers[0].count_params(),
        "digits_accuracy": history["val_accuracy"],
        "digits_loss": history["loss"],
        "seconds": seconds,
        "recall_accuracy": {
            d: recall.accuracy(recall_model, *recall_tests[d])
            for d in recall_tests
        },
        "recall_loss": recall_history["loss"],
        "gradient": profile,
        "reach": reach(profile),
        "digits_init": digits_init,
        "recall_init": recall_init,
    }


def relative_gaps(a, b):
    """|a - b| / |b| per epoch, as a list."""
    a, b = np.asarray(a), np.asarray(b)
    return (np.abs(a - b) / np.maximum(np.abs(b), 1e-12)).tolist()


def describe_gaps(gaps):
    """One line per task: the first epoch's relative difference, and the
    epoch from which it exceeds TRAINING_LOSS_RTOL, if it does."""
    lines = []
    for task, per_epoch in gaps.items():
        above = [
            e for e, g in enumerate(per_epoch, 1) if g > TRAINING_LOSS_RTOL
        ]
        tail = (
            f"above {TRAINING_LOSS_RTOL:g} from epoch {above[0]}, "
            f"{per_epoch[-1]:.1e} at epoch {len(per_epoch)}"
            if above
            else f"at most {max(per_epoch):.1e} over {len(per_epoch)} epochs"
        )
        lines.append(f"{task} {per_epoch[0]:.1e} at epoch 1, {tail}")
    return "; ".join(lines)


"""## The figure: three panels"""


def plot(path, results, distances, steps):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    colors = {"RNN": "tab:blue", "LSTM": "tab:orange", "GRU": "tab:green"}
    for label, result in results.items():
        cell = label.split()[0]
        style = (
            {"ls": "--", "lw": 1}
            if label.endswith("(Keras)")
            else {"lw": 3, "alpha": 0.6}
        )
        style["color"] = colors[cell]
        epochs = np.arange(1, len(result["digits_accuracy"]) + 1)
        ax1.plot(epochs, result["digits_accuracy"], label=label, **style)
        ax2.plot(
            distances,
            [result["recall_accuracy"][d] for d in distances],
            marker="o",
            label=label,
            **style,
        )
        profile = result["gradient"] / result["gradient"][0]
        ax3.semilogy(np.arange(len(profile)), profile, label=label, **style)
    ax1.set(xlabel="epoch", ylabel="test accuracy", title="digits, 64 pixels")
    ax1.xaxis.get_major_locator().set_params(integer=True)
    ax1.legend(fontsize="small")
    ax2.axhline(1 / recall.SYMBOLS, color="gray", ls=":", label="chance")
    ax2.set_xscale("log")
    ax2.set_xticks(distances, [str(d) for d in distances])
    ax2.set(
        xlabel="distance (steps)",
        ylabel="test accuracy",
        ylim=(0, 1.05),
        title="recall across noise",
    )
    ax3.axhline(REACH_FRACTION, color="gray", ls=":")
    ax3.set(
        xlabel="steps back from the query (k)",
        ylabel="|dL/dx_t| / its value at k = 0",
        xlim=(0, steps - 1),
        title=f"gradient reach (recall, distance {steps - 1})",
    )
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"Saved the plot to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument("--quick", action="store_true", help="a small run")
    parser.add_argument(
        "--builtin",
        action="store_true",
        help="also train Keras's SimpleRNN, LSTM, GRU from the same weights",
    )
    parser.add_argument(
        "--cells", default="RNN,LSTM,GRU", help="a subset of RNN,LSTM,GRU"
    )
    parser.add_argument("--epochs", type=int, help="digits: 30 (quick: 2)")
    parser.add_argument("--lr", type=float, default=0.005, help="digits (Adam)")
    parser.add_argument(
        "--recall-epochs", type=int, help="default 6 (quick: 3)"
    )
    parser.add_argument("--recall-lr", type=float, help="0.003 (quick: 0.01)")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot", metavar="PATH", help=f"the PNG (default {PLOT}; quick: none)"
    )
    plots.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    cells = [c.strip() for c in args.cells.split(",")]
    unknown = set(cells) - set(CELLS)
    if unknown:
        parser.error(
            f"unknown cells {sorted(unknown)}; choose from {list(CELLS)}"
        )
    args.epochs = args.epochs or (2 if args.quick else 30)
    args.recall_epochs = args.recall_epochs or (3 if args.quick else 6)
    args.recall_lr = args.recall_lr or (0.01 if args.quick else 0.003)
    distances = recall.QUICK_DISTANCES if args.quick else recall.DISTANCES
    path = plot_path(parser, args, PLOT)

    digits = digits_data(args.seed)
    if args.quick:  # a third of the images
        digits = tuple((x[::3], y[::3]) for x, y in digits)
    n_train = 600 if args.quick else 3000
    n_test = 200 if args.quick else 500
    recall_train, recall_tests = recall.recall_sets(
        n_train, n_test, distances, seed=args.seed
    )
    tasks = (digits, recall_train, recall_tests)
    print(
        f"digits: {len(digits[0][0])} training and {len(digits[1][0])} test "
        f"images of 64 steps; recall: {n_train} training sequences of "
        f"{max(distances) + 1} steps, {n_test} test sequences per distance"
    )

    results, gaps = {}, {}
    for cell in cells:
        ours, keras_layer = CELLS[cell]
        results[cell] = run_cell(cell, ours, tasks, args)
        if args.builtin:
            label = f"{cell} (Keras)"
            results[label] = run_cell(
                label, keras_layer, tasks, args, twin=results[cell]
            )
            theirs, ours = results[label], results[cell]
            gaps[cell] = {
                task: relative_gaps(
                    theirs[f"{task}_loss"], ours[f"{task}_loss"]
                )
                for task in ("digits", "recall")
            }

    longest = max(distances)
    print(
        f"\n{'cell':<12} {'params':>6} {'digits acc':>10} "
        f"{f'recall acc d={longest}':>15} {'ms / epoch':>10} {'reach':>6}"
    )
    for label, result in results.items():
        shown = "-" if result["reach"] is None else result["reach"]
        shown = f"> {longest}" if result["reach"] is None else shown
        print(
            f"{label:<12} {result['params']:>6} "
            f"{result['digits_accuracy'][-1]:>10.3f} "
            f"{result['recall_accuracy'][longest]:>15.3f} "
            f"{1000 * epoch_seconds(result['seconds']):>10.0f} {shown:>6}"
        )
    print(
        "ms / epoch: digits, median of the epochs after the first. reach: "
        f"steps back from the query where |dL/dx_t| falls below "
        f"{REACH_FRACTION:g} of its value there (recall, distance {longest})."
    )
    if gaps:
        print(
            "Training losses, ours vs Keras's, relative difference per epoch:"
        )
    for cell, gap in gaps.items():
        print(f"  {cell}: {describe_gaps(gap)}")

    if path:
        plot(path, results, list(distances), longest + 1)
    else:
        reason = "--no-plot" if args.no_plot else "--quick"
        print(f"No plot ({reason}); --plot PATH draws one.")
    return {
        "results": results,
        "gaps": gaps,
        "distances": list(distances),
        "chance": 1 / recall.SYMBOLS,
    }


if __name__ == "__main__":
    main()
