"""Eager calls on many sequence lengths: ScratchRNN vs SimpleRNN.

A new user often calls a layer eagerly (a notebook, a custom loop without
`tf.function`) on sequences of several lengths. Each layer gets the same
weights and the same inputs, and each new length is seen once, so nothing
is cached between the calls of one measure. The two layers run in turn
(a, b, a, b, ...) in rounds, each round on lengths not seen before, and the
script prints the total time of each round, the medians and their ratio.

- forward: `layer(x)` eagerly, one call per length;
- gradient: `tape.gradient` of a loss through the layer, eagerly, one call
  per length (forward and backward);
- repeated: the same length called again and again (what an eager custom
  training loop does).

ScratchRNN runs its plain while loop when called eagerly (XLA would
compile again for every new shape); inside `tf.function` its loops are
XLA-compiled (`benchmarks/bench.py` times that).

    python benchmarks/eager_lengths.py           # 5 rounds of 9 lengths
    python benchmarks/eager_lengths.py --quick   # 1 round
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

# Time the package of this checkout, not an older installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from keras_scratch_rnn import ScratchRNN

N, D, H = 16, 8, 32
LENGTHS = 9


def make_pair():
    layers = {
        "scratch": ScratchRNN(H, return_sequences=True),
        "simple": keras.layers.SimpleRNN(H, return_sequences=True),
    }
    for layer in layers.values():
        layer.build((None, None, D))
    layers["simple"].set_weights(layers["scratch"].get_weights())
    return layers


def forward(layer, x):
    return layer(x)


def gradient(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * y)
    return tape.gradient(loss, [x, *layer.trainable_weights])


def run(layer, fn, lengths, rng):
    start = time.perf_counter()
    for T in lengths:
        x = tf.constant(rng.normal(size=(N, T, D)).astype("float32"))
        out = fn(layer, x)
        np.asarray(out[0] if isinstance(out, list) else out)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Eager calls on many sequence lengths, side by side."
    )
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 5
    layers = make_pair()
    rng = np.random.default_rng(0)
    # Warm-up: the first eager call of each layer traces what any shape
    # shares (not what this benchmark is about).
    for layer in layers.values():
        run(layer, gradient, [3], rng)
    next_T = 5
    print(
        f"N={N}, D={D}, H={H}; {LENGTHS} new lengths per round, "
        f"{rounds} rounds, medians of the rounds' totals (s)"
    )
    print(f"{'measure':<10} {'ScratchRNN':>11} {'SimpleRNN':>10} {'ratio':>6}")
    for name, fn in (("forward", forward), ("gradient", gradient)):
        times = {"scratch": [], "simple": []}
        for _ in range(rounds):
            lengths = list(range(next_T, next_T + 3 * LENGTHS, 3))
            next_T += 3 * LENGTHS
            for key, layer in layers.items():
                times[key].append(run(layer, fn, lengths, rng))
        a, b = (float(np.median(times[k])) for k in ("scratch", "simple"))
        print(f"{name:<10} {a:>11.3f} {b:>10.3f} {a / b:>6.2f}")
    times = {"scratch": [], "simple": []}
    T = 50
    for layer in layers.values():  # warm up on this length
        run(layer, gradient, [T] * 3, rng)
    for _ in range(rounds):
        for key, layer in layers.items():
            times[key].append(run(layer, gradient, [T] * LENGTHS, rng))
    a, b = (float(np.median(times[k])) for k in ("scratch", "simple"))
    print(f"{'repeated':<10} {a:>11.3f} {b:>10.3f} {a / b:>6.2f}")
    print("ratio: ScratchRNN's time over SimpleRNN's (below 1: faster)")


if __name__ == "__main__":
    main()
