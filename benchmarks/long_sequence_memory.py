"""Peak memory of one forward+backward step on long sequences.

ScratchRNN against keras.layers.SimpleRNN (same weights), each measured in
a fresh Python process: the peak resident set size (`ru_maxrss`) after one
training step, minus the peak after imports, build and a warm-up trace on a
one-step sequence (the step is a `tf.function` with an unknown number of
timesteps, so the measured call does not trace again).

What the backward has to keep: ScratchRNN stores the states `h_t`, one
`(T, N, H)` tensor (plus the pre-activations `a_t`, another one, for
activations without a handwritten derivative such as gelu). SimpleRNN's
autodiff through the `tf.while_loop` keeps every step's intermediates.

    python benchmarks/long_sequence_memory.py            # T = 1,000 and 10,000
    python benchmarks/long_sequence_memory.py --quick    # T = 1,000 only
"""

import argparse
import json
import os
import subprocess
import sys

# No TensorFlow C++ log lines unless asked (TF_CPP_MIN_LOG_LEVEL=0).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LAYERS = ("ScratchRNN", "SimpleRNN")
SHAPE = {"N": 2, "D": 3, "H": 8}


def _max_rss_mb():
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def measure(layer_name, T, N, D, H, activation):
    """Runs in the child process: one step; returns a dict of results."""
    import time

    import keras
    import tensorflow as tf

    # Measure the package of this checkout, not an older installed copy.
    sys.path.insert(
        0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    )
    from keras_scratch_rnn import ScratchRNN
    from keras_scratch_rnn.tools.parity import default_inputs, default_weights

    cls = ScratchRNN if layer_name == "ScratchRNN" else keras.layers.SimpleRNN
    layer = cls(H, activation=activation, return_sequences=True)
    layer.build((N, None, D))
    layer.set_weights(default_weights(D, H))

    @tf.function(input_signature=[tf.TensorSpec((N, None, D), tf.float32)])
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(layer(x)))
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        return loss, grads

    step(tf.constant(default_inputs(N, 1, D, H)[0]))  # trace + warm-up
    x = tf.constant(default_inputs(N, T, D, H)[0])
    baseline = _max_rss_mb()
    start = time.perf_counter()
    loss, _ = step(x)
    float(loss)  # make sure the step has run
    seconds = time.perf_counter() - start
    return {"mb": _max_rss_mb() - baseline, "seconds": seconds}


def run_child(layer_name, T, args):
    """`measure` in a fresh interpreter; returns its dict."""
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        layer_name,
        str(T),
        f"--batch={args.batch}",
        f"--features={args.features}",
        f"--units={args.units}",
        f"--activation={args.activation}",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{layer_name} T={T} failed:\n{done.stdout}\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def stored_states_mb(T, N, H, activation):
    """ScratchRNN's store for the backward: hs (and a_t for gelu etc.)."""
    handwritten = activation in ("tanh", "sigmoid", "relu", "linear", "None")
    return (1 if handwritten else 2) * T * N * H * 4 / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T=1,000 only")
    parser.add_argument("--batch", type=int, default=SHAPE["N"])
    parser.add_argument("--features", type=int, default=SHAPE["D"])
    parser.add_argument("--units", type=int, default=SHAPE["H"])
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--child", nargs=2, metavar=("LAYER", "T"))
    args = parser.parse_args(argv)
    N, D, H = args.batch, args.features, args.units
    activation = None if args.activation == "None" else args.activation

    if args.child:
        layer_name, T = args.child[0], int(args.child[1])
        print(json.dumps(measure(layer_name, T, N, D, H, activation)))
        return 0

    lengths = (1_000,) if args.quick else (1_000, 10_000)
    print(
        f"Peak RSS growth of one forward+backward step (tf.function), "
        f"N={N} D={D} H={H}, activation={args.activation}, float32;\n"
        "each number from a fresh process (ru_maxrss after the step minus "
        "after imports, build and trace).\n"
    )
    header = (
        f"{'T':>6}  {'ScratchRNN MB':>13}  {'SimpleRNN MB':>12}  "
        f"{'Simple/Scratch':>14}  {'states (T,N,H) MB':>17}  "
        f"{'Scratch s':>9}  {'Simple s':>8}"
    )
    print(header)
    print("-" * len(header))
    for T in lengths:
        ours, ref = (run_child(name, T, args) for name in LAYERS)
        ratio = ref["mb"] / ours["mb"] if ours["mb"] > 0 else float("inf")
        print(
            f"{T:>6}  {ours['mb']:>13.1f}  {ref['mb']:>12.1f}  "
            f"{ratio:>14.1f}  "
            f"{stored_states_mb(T, N, H, args.activation):>17.2f}  "
            f"{ours['seconds']:>9.2f}  {ref['seconds']:>8.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
