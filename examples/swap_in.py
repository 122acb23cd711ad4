"""# ScratchRNN where SimpleRNN was: Sequential and functional models

ScratchRNN takes SimpleRNN's arguments and weights, so a model using
`keras.layers.SimpleRNN` can switch to the handwritten backward by changing
one name. This script trains the same small model twice, from the same
initial weights, once with each layer, and shows the two runs agree.

The task: read a noisy sine wave for 20 steps, predict the next value.

Run: `python examples/swap_in.py` (or `--quick` for a few seconds' check).
"""

import argparse

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np

from keras_scratch_rnn import ScratchRNN

"""## Data: windows of a noisy sine wave"""


def make_data(samples, T=20, seed=0):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 2 * np.pi, size=(samples, 1))
    t = start + 0.3 * np.arange(T + 1)
    wave = np.sin(t) + 0.05 * rng.normal(size=t.shape)
    x = wave[:, :T, None].astype("float32")  # (N, T, 1)
    y = wave[:, T:].astype("float32")  # (N, 1): the next value
    return x, y


"""## The model, with either recurrent layer"""


def sequential_model(rnn_class, T=20):
    return keras.Sequential(
        [
            keras.Input((T, 1)),
            rnn_class(16, return_sequences=True),
            rnn_class(16),
            keras.layers.Dense(1),
        ]
    )


def functional_model(rnn_class, T=20):
    """The same with the functional API, masking and a returned state."""
    inputs = keras.Input((T, 1))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    sequence, state = rnn_class(16, return_sequences=True, return_state=True)(
        masked
    )
    last = rnn_class(16)(sequence, initial_state=state)
    return keras.Model(inputs, keras.layers.Dense(1)(last))


"""## Train both from the same initial weights"""


def train_both(build, x, y, epochs):
    scratch, simple = build(ScratchRNN), build(keras.layers.SimpleRNN)
    simple.set_weights(scratch.get_weights())  # identical starting point
    losses = {}
    for name, model in (("ScratchRNN", scratch), ("SimpleRNN", simple)):
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        history = model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False)
        losses[name] = history.history["loss"]
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument(
        "--seed", type=int, default=0, help="of the data and initial weights"
    )
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # the same run every time
    x, y = make_data(128 if args.quick else 1024, seed=args.seed)
    epochs = 2 if args.quick else 10
    results = {}
    for label, build in (
        ("Sequential", sequential_model),
        ("functional", functional_model),
    ):
        print(f"\n{label} model")
        losses = train_both(build, x, y, epochs)
        gap = max(
            abs(a - b) / max(abs(b), 1e-12)
            for a, b in zip(losses["ScratchRNN"], losses["SimpleRNN"])
        )
        print(
            f"{label}: final loss ScratchRNN {losses['ScratchRNN'][-1]:.5f}, "
            f"SimpleRNN {losses['SimpleRNN'][-1]:.5f}; largest relative "
            f"difference over {epochs} epochs: {gap:.1e}"
        )
        results[label] = (losses, gap)
    return results


if __name__ == "__main__":
    main()
