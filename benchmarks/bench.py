"""ScratchRNN vs keras.layers.SimpleRNN (ScratchLSTM vs LSTM, ScratchGRU vs
GRU): speed and memory, side by side.

Every number comes from one run of this script: both layers get the same
weights and inputs, and their timings are interleaved (a, b, a, b, ...) so
that a noisy machine slows both alike. Medians and ratios are printed,
never absolute targets.

For each grid point (N, T, H; D = 32):
- train: one training step inside `tf.function` (GradientTape over a loss,
  gradients w.r.t. the input and the weights; no XLA requested by the
  caller) of a layer with `return_sequences=True`, with the fraction of the
  matmul roofline it reaches (6 N T (D + H) H FLOPs over the peak matmul
  speed measured here);
- last: the same step with `return_sequences=False` (the loss sees the
  last output only; SimpleRNN then skips stacking its outputs);
- forward: the forward pass alone inside `tf.function`;
- fit: `model.fit` epochs per second on a small Sequential model;
- memory: peak memory that training steps allocate on top of what is
  already allocated (weights, inputs), as counted by TensorFlow's CPU
  allocator, each layer in a fresh process.

Run: `python benchmarks/bench.py` (a few minutes on 2 cores), or
`python benchmarks/bench.py --quick` for a tiny grid (seconds).

`--cell lstm` does all of it for ScratchLSTM against keras.layers.LSTM
instead, `--cell gru` for ScratchGRU against keras.layers.GRU (both with
their defaults: reset_after=True); the default, `--cell rnn`, is ScratchRNN
against SimpleRNN. The same grid, steps, interleaving and columns; the
reference's columns are headed "keras" instead of "simple", and the
roofline counts the gates' matmuls, 6 N T (D + H) GH FLOPs (G = 4 for the
LSTM, 3 for the GRU).

`--backend jax` or `--backend torch` runs both layers on that Keras backend
instead (KERAS_BACKEND is set before Keras is imported) and times, at the
same grid points, interleaved in the same way:
- train: one training step (forward and backward of a layer with
  `return_sequences=True`, loss sum(y * y), gradients w.r.t. the input and
  the weights), traced where the backend traces: `jax.jit` of `jax.grad`
  over `layer.stateless_call` on JAX; eagerly with `torch.autograd.grad` on
  torch, as Keras trains there;
- forward: the forward pass alone (`jax.jit`; on torch eagerly under
  `torch.no_grad()`, as Keras predicts there).
The last-output step, the roofline, fit and memory are TensorFlow's only.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# No TensorFlow C++ log lines unless asked (TF_CPP_MIN_LOG_LEVEL=0).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

# Time the package of this checkout, not an older installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

D = 32
GRID = [(N, T, H) for N in (32, 256) for T in (20, 200) for H in (32, 256)]
QUICK_GRID = [(4, 5, 8)]
BACKENDS = ("tensorflow", "jax", "torch")

# Set by `load_backend`, once the arguments have chosen the backend: Keras
# picks its backend (KERAS_BACKEND) when it is first imported.
keras = None
tf = None  # TensorFlow, on the tensorflow backend only
# {"scratch": ScratchRNN, "simple": keras.layers.SimpleRNN}, or with
# `--cell lstm` {"scratch": ScratchLSTM, "keras": keras.layers.LSTM}: ours
# first, then the reference (`REF`, the key of its columns).
LAYERS = {}
CELL = "rnn"
REF = "simple"
GATES = 1  # weight columns per unit: 4 LSTM, 3 GRU (the roofline's FLOPs)
CELLS = ("rnn", "lstm", "gru")


def _import_tensorflow_quietly():
    """TensorFlow without its C++ start-up lines, as the command line and
    the examples import it (`terminal.py` loaded from its file:
    `import keras_scratch_rnn` would import Keras, and TensorFlow, first)."""
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "keras_scratch_rnn")
    spec = importlib.util.spec_from_file_location(
        "_keras_scratch_rnn_terminal", os.path.join(path, "terminal.py")
    )
    terminal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(terminal)
    try:
        terminal.import_tensorflow_quietly()
    except ImportError:  # no TensorFlow: nothing to quiet
        pass


def load_backend(backend="tensorflow", cell="rnn"):
    """Imports Keras on `backend` (and TensorFlow for its path), and the
    two layers of `cell` ("rnn", "lstm" or "gru") into `LAYERS`. Keras is
    imported once per process: if it already is, on another backend, this
    raises."""
    global keras, tf, CELL, REF, GATES
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend
        _import_tensorflow_quietly()  # Keras imports it on every backend
    import keras as keras_module

    if keras_module.backend.backend() != backend:
        raise RuntimeError(
            f"Keras is already imported on the {keras_module.backend.backend()}"
            f" backend in this process; expected {backend}. Run the script "
            "in a new process."
        )
    keras = keras_module
    if backend == "tensorflow":
        import tensorflow

        tf = tensorflow
    from keras_scratch_rnn.tools.parity import CELLS as PARITY_CELLS

    ours, theirs, GATES = PARITY_CELLS[cell]
    CELL, REF = cell, "simple" if cell == "rnn" else "keras"
    LAYERS.clear()
    LAYERS.update({"scratch": ours, REF: theirs})


def names():
    """The class names of our layer and of the reference."""
    return LAYERS["scratch"].__name__, LAYERS[REF].__name__


def training_step(layer, x):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, *layer.trainable_weights])

    return step


def forward_pass(layer, x):
    @tf.function
    def forward(x):
        return layer(x)

    return forward


def make_pair(N, T, H, seed=0, return_sequences=True):
    """Both layers, identical weights, and an input."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D)).astype("float32")
    x = tf.constant(x) if tf is not None else keras.ops.convert_to_tensor(x)
    pair = {}
    for name, cls in LAYERS.items():
        layer = cls(H, return_sequences=return_sequences)
        layer.build(x.shape)
        pair[name] = layer
    pair[REF].set_weights(pair["scratch"].get_weights())
    return pair, x


# Short steps are timed in more rounds, for about MIN_SECONDS per measure
# (at most MAX_REPS rounds): their medians are the noisiest.
MIN_SECONDS = 1.0
MAX_REPS = 41


def interleaved_medians(functions, reps, min_seconds=0.0):
    """Median seconds of each zero-argument function, timed alternately:
    `reps` rounds, or more if they take less than `min_seconds`."""
    for f in functions.values():  # warm-up: tracing, compilation
        f()
    start = time.perf_counter()
    for f in functions.values():
        f()
    one_round = time.perf_counter() - start
    reps = max(reps, min(MAX_REPS, int(min_seconds / one_round)))
    times = {name: [] for name in functions}
    for _ in range(reps):
        for name, f in functions.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def _run(fn, x):
    return lambda: tf.nest.map_structure(lambda t: t.numpy(), fn(x))


def time_steps(N, T, H, reps, min_seconds):
    pair, x = make_pair(N, T, H)
    train = interleaved_medians(
        {k: _run(training_step(v, x), x) for k, v in pair.items()},
        reps,
        min_seconds,
    )
    forward = interleaved_medians(
        {k: _run(forward_pass(v, x), x) for k, v in pair.items()},
        reps,
        min_seconds,
    )
    pair, x = make_pair(N, T, H, return_sequences=False)
    last = interleaved_medians(
        {k: _run(training_step(v, x), x) for k, v in pair.items()},
        reps,
        min_seconds,
    )
    return train, forward, last


def time_fit(N, T, H, epochs, batches=4):
    """Epochs per second of `model.fit` for both layers, interleaved."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N * batches, T, D)).astype("float32")
    y = rng.normal(size=(N * batches, 1)).astype("float32")
    models = {}
    for name, cls in LAYERS.items():
        model = keras.Sequential(
            [keras.Input((T, D)), cls(H), keras.layers.Dense(1)]
        )
        model.compile(optimizer="sgd", loss="mse")
        models[name] = model
    models[REF].set_weights(models["scratch"].get_weights())

    def one_epoch(model):
        return lambda: model.fit(x, y, batch_size=N, epochs=1, verbose=0)

    seconds = interleaved_medians(
        {k: one_epoch(m) for k, m in models.items()}, epochs
    )
    return {k: 1.0 / s for k, s in seconds.items()}


def per_step_overhead_us(reps, N=4, H=8, lengths=(100, 1000)):
    """Training-step time per extra timestep at a tiny size, in us."""
    times = {}
    for T in lengths:
        rng = np.random.default_rng(2)
        x = tf.constant(rng.normal(size=(N, T, 4)).astype("float32"))
        fns = {}
        for name, cls in LAYERS.items():
            layer = cls(H, return_sequences=True)
            layer.build(x.shape)
            fns[name] = _run(training_step(layer, x), x)
        times[T] = interleaved_medians(fns, reps)
    short, long = lengths
    return {
        k: (times[long][k] - times[short][k]) / (long - short) * 1e6
        for k in LAYERS
    }


def matmul_peak_gflops(size=2048, reps=7):
    """The best float32 matmul speed seen here: a peak, so the best run."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        matmul().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def training_peak_mb(name, N, T, H, steps=3):
    """Peak memory of training steps above what was already allocated (MB).

    Needs `TF_CPU_ALLOCATOR_USE_BFC=true` in the environment (before
    TensorFlow starts) so that TensorFlow counts its CPU allocations. One
    step first (tracing, compilation), then the peak over `steps` more.
    """
    pair, x = make_pair(N, T, H)
    step = training_step(pair[name], x)
    [g.numpy() for g in step(x)]
    tf.config.experimental.reset_memory_stats("CPU:0")
    base = tf.config.experimental.get_memory_info("CPU:0")["current"]
    for _ in range(steps):
        [g.numpy() for g in step(x)]
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    return (peak - base) / 2**20


def peak_memory_mb(name, N, T, H):
    """`training_peak_mb` in a fresh process, so that layers don't mix."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import bench; "
        f"bench.load_backend('tensorflow', {CELL!r}); "
        f"print(json.dumps(bench.training_peak_mb({name!r}, {N}, {T}, {H})))"
    )
    env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- JAX and torch (--backend) ------------------------------------------------


def jax_steps(layer, x):
    """`(train, forward)`: zero-argument calls of `layer` on `x` under
    `jax.jit`, each waiting for its result. `train` is the gradient of
    sum(y * y) w.r.t. the weights and the input, by `jax.grad` over
    `layer.stateless_call` (as Keras trains on JAX)."""
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def forward(trainable, x):
        return layer.stateless_call(trainable, non_trainable, x)[0]

    def loss(trainable, x):
        y = forward(trainable, x)
        return jnp.sum(y * y)

    gradients = jax.jit(jax.grad(loss, argnums=(0, 1)))
    outputs = jax.jit(forward)
    return (
        lambda: jax.block_until_ready(gradients(trainable, x)),
        lambda: jax.block_until_ready(outputs(trainable, x)),
    )


def torch_steps(layer, x):
    """`(train, forward)`: zero-argument eager calls of `layer` on `x`.
    `train` is the gradient of sum(y * y) w.r.t. the input and the weights
    by `torch.autograd.grad` (Keras trains eagerly on torch); `forward`
    runs under `torch.no_grad()`, as Keras predicts."""
    import torch

    weights = [v.value for v in layer.trainable_variables]
    x_grad = x.detach().clone().requires_grad_()

    def train():
        y = layer(x_grad)
        return torch.autograd.grad(torch.sum(y * y), [x_grad, *weights])

    def forward():
        with torch.no_grad():
            return layer(x)

    return train, forward


NATIVE_STEPS = {"jax": jax_steps, "torch": torch_steps}
NATIVE_DESCRIPTION = {
    "jax": (
        "train = jax.jit(jax.grad) over layer.stateless_call; "
        "forward = jax.jit(layer.stateless_call)."
    ),
    "torch": (
        "train = eager call and torch.autograd.grad (Keras trains eagerly "
        "on torch); forward = eager call under torch.no_grad()."
    ),
}


def time_native_steps(backend, N, T, H, reps, min_seconds):
    """Median seconds of the training step and the forward pass of both
    layers on the JAX or torch backend, each measure interleaved."""
    pair, x = make_pair(N, T, H)
    steps = {k: NATIVE_STEPS[backend](v, x) for k, v in pair.items()}
    train = interleaved_medians(
        {k: s[0] for k, s in steps.items()}, reps, min_seconds
    )
    forward = interleaved_medians(
        {k: s[1] for k, s in steps.items()}, reps, min_seconds
    )
    return train, forward


def backend_version(backend):
    if backend == "jax":
        import jax

        return f"JAX {jax.__version__}"
    import torch

    return f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values))))


def main_native(args, grid, reps):
    """`main` on the JAX or torch backend: training step and forward."""
    print(
        f"{backend_version(args.backend)}, Keras {keras.__version__} "
        f"(backend {keras.backend.backend()}), {os.cpu_count()} CPU cores; "
        f"D={D}; medians of {reps} or more interleaved runs (up to "
        f"{MAX_REPS} for short steps).\n"
        "train = forward + backward, return_sequences=True, loss "
        "sum(y * y), gradients w.r.t. the input and the weights; "
        f"{NATIVE_DESCRIPTION[args.backend]}\n"
        f"speed-up = {names()[1]} time / {names()[0]} time (> 1: "
        f"{names()[0]} faster).\n"
        "Not measured on this backend (TensorFlow only): last-output step, "
        "roofline, fit, memory.\n"
    )
    header = (
        f"{'N':>4} {'T':>4} {'H':>4} | {'train ms':>9} {REF:>8} "
        f"{'speed-up':>8} | {'fwd ms':>7} {REF:>7} {'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for N, T, H in grid:
        train, forward = time_native_steps(
            args.backend, N, T, H, reps, 0.0 if args.quick else MIN_SECONDS
        )
        row = {
            "backend": args.backend,
            "N": N,
            "T": T,
            "H": H,
            "train": train,
            "forward": forward,
            "train_speedup": train[REF] / train["scratch"],
            "forward_speedup": forward[REF] / forward["scratch"],
        }
        rows.append(row)
        print(
            f"{N:4d} {T:4d} {H:4d} | {train['scratch'] * 1e3:9.2f} "
            f"{train[REF] * 1e3:8.2f} {row['train_speedup']:8.2f} | "
            f"{forward['scratch'] * 1e3:7.2f} "
            f"{forward[REF] * 1e3:7.2f} {row['forward_speedup']:8.2f}",
            flush=True,
        )
    print()
    for key, what in (
        ("train_speedup", "training step"),
        ("forward_speedup", "forward"),
    ):
        speedups = [r[key] for r in rows]
        print(
            f"{what}: geometric-mean speed-up {geometric_mean(speedups):.2f}"
            f", slowest point {min(speedups):.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-fit", action="store_true")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="tensorflow",
        help="Keras backend to run both layers on (default tensorflow; "
        "jax and torch time the training step and the forward only)",
    )
    parser.add_argument(
        "--cell",
        choices=CELLS,
        default="rnn",
        help="rnn: ScratchRNN vs SimpleRNN (default); lstm: ScratchLSTM vs "
        "keras.layers.LSTM; gru: ScratchGRU vs keras.layers.GRU (both "
        "with reset_after=True, Keras's default)",
    )
    args = parser.parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID
    reps = args.reps or (3 if args.quick else 9)
    # Only now: KERAS_BACKEND is read on import.
    load_backend(args.backend, args.cell)
    if args.backend != "tensorflow":
        return main_native(args, grid, reps)

    peak = matmul_peak_gflops(256 if args.quick else 2048)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPU cores; D={D}; medians of {reps} or more "
        f"interleaved runs (up to {MAX_REPS} for short steps); matmul peak "
        f"here {peak:.0f} GFLOP/s.\n"
        f"speed-up = {names()[1]} time / {names()[0]} time (> 1: "
        f"{names()[0]} faster); roofline = share of that matmul peak.\n"
    )
    header = (
        f"{'N':>4} {'T':>4} {'H':>4} | {'train ms':>9} {REF:>8} "
        f"{'speed-up':>8} {'roofline':>8} | {'last':>8} | {'fwd ms':>7} "
        f"{REF:>7} {'speed-up':>8} | {'fit ep/s':>8} {REF:>7} | "
        f"{'mem MB':>7} {REF:>7}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for N, T, H in grid:
        train, forward, last = time_steps(
            N, T, H, reps, 0.0 if args.quick else MIN_SECONDS
        )
        flops = 6 * N * T * (D + H) * GATES * H  # 4H columns: LSTM, 3H: GRU
        row = {
            "N": N,
            "T": T,
            "H": H,
            "train": train,
            "forward": forward,
            "train_speedup": train[REF] / train["scratch"],
            "forward_speedup": forward[REF] / forward["scratch"],
            "last": last,
            "last_speedup": last[REF] / last["scratch"],
            "roofline": flops / train["scratch"] / 1e9 / peak,
        }
        fit = None if args.no_fit else time_fit(N, T, H, max(3, reps // 2))
        row["fit"] = fit
        memory = None
        if not args.no_memory:
            memory = {k: peak_memory_mb(k, N, T, H) for k in LAYERS}
        row["memory"] = memory
        rows.append(row)
        fit_text = (
            f"{fit['scratch']:8.2f} {fit[REF]:7.2f}"
            if fit
            else f"{'-':>8} {'-':>7}"
        )
        mem_text = (
            f"{memory['scratch']:7.1f} {memory[REF]:7.1f}"
            if memory
            else f"{'-':>7} {'-':>7}"
        )
        print(
            f"{N:4d} {T:4d} {H:4d} | {train['scratch'] * 1e3:9.2f} "
            f"{train[REF] * 1e3:8.2f} {row['train_speedup']:8.2f} "
            f"{row['roofline']:8.1%} | {row['last_speedup']:8.2f} | "
            f"{forward['scratch'] * 1e3:7.2f} "
            f"{forward[REF] * 1e3:7.2f} {row['forward_speedup']:8.2f} "
            f"| {fit_text} | {mem_text}",
            flush=True,
        )
    overhead = per_step_overhead_us(
        reps, lengths=(20, 120) if args.quick else (100, 1000)
    )
    print(
        "\nper-timestep cost of a training step at tiny size (N=4, D=4, "
        f"H=8; slope between two lengths T): {names()[0]} "
        f"{overhead['scratch']:.1f} us, {names()[1]} {overhead[REF]:.1f} us\n"
    )
    for key, what in (
        ("train_speedup", "training step"),
        ("last_speedup", "training step, last output only"),
        ("forward_speedup", "forward"),
    ):
        speedups = [r[key] for r in rows]
        geomean = float(np.exp(np.mean(np.log(speedups))))
        print(
            f"{what}: geometric-mean speed-up {geomean:.2f}, slowest point "
            f"{min(speedups):.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
