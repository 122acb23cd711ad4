"""Why truncated BPTT: how far back in time the gradient reaches.

The seed blog post truncates backpropagation because "the gradient becomes
0 before it reaches t = 0". This module measures it: for a loss on the last
state only, `L = <g, h_{T-1}>` with `|g| = 1`, it computes `|dL/dh_t|` for
every t with the handwritten backward of one step
(`keras_scratch_rnn.ops.rnn_step`), walking t = T-1, ..., 0 like the book's
`TimeRNN.backward`:

    dh_{t-1} = (dh_t * act'(a_t)) Wh^T

`Wh = scale * Q` with Q a random orthogonal matrix, so every singular value
of Wh is `scale`: without the activation the norm is exactly
`scale^(T-1-t)`; tanh' <= 1 only shrinks it further. `python -m
keras_scratch_rnn gradflow` prints the table; `--plot PATH` saves a PNG
(matplotlib, imported only then).
"""

import numpy as np
import tensorflow as tf

from keras_scratch_rnn.ops import rnn_forward, rnn_step
from keras_scratch_rnn.terminal import Style, table, wrap

LENGTHS = (10, 30, 100)
SCALES = (0.5, 1.0, 1.5, 3.0)
STEPS_BACK = (1, 2, 5, 10, 20, 50)
# |dL/dh_t| below this (relative to |dL/dh_{T-1}| = 1) counts as vanished,
# above its inverse as exploded.
VANISHED = 1e-3


def problem(T, scale, units=16, features=4, batch=8, seed=0):
    """Seeded inputs and weights: `(x, h0, kernel, recurrent_kernel, b, g)`.

    All float64 NumPy arrays; `recurrent_kernel = scale * Q`, Q orthogonal;
    `g (batch, units)` is dL/dh_{T-1}, of norm 1.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, T, features))
    kernel = rng.normal(scale=1 / np.sqrt(features), size=(features, units))
    q, _ = np.linalg.qr(rng.normal(size=(units, units)))
    g = rng.normal(size=(batch, units))
    g /= np.linalg.norm(g)
    return x, np.zeros((batch, units)), kernel, scale * q, np.zeros(units), g


def gradient_norms(
    T, scale, activation="tanh", units=16, features=4, batch=8, seed=0
):
    """`|dL/dh_t|` for t = 0..T-1 (Frobenius over the batch), float64.

    The forward is `ops.rnn_forward`; the backward walks the steps in
    reverse, each through the handwritten gradient of `ops.rnn_step`.

    Returns:
        A NumPy array of shape `(T,)`; the last entry is 1.
    """
    arrays = problem(T, scale, units, features, batch, seed)
    x, h0, kernel, recurrent, bias, g = (tf.constant(a) for a in arrays)
    _, hs, _ = rnn_forward(
        x, h0, kernel, recurrent, bias, activation=activation
    )
    dh = g
    norms = np.empty(T)
    for t in reversed(range(T)):
        norms[t] = float(tf.norm(dh))
        h_prev = h0 if t == 0 else hs[:, t - 1]
        with tf.GradientTape() as tape:
            tape.watch(h_prev)
            h = rnn_step(x[:, t], h_prev, kernel, recurrent, bias, activation)
        dh = tape.gradient(h, h_prev, output_gradients=dh)  # dh_{t-1}
    return norms


def run(lengths=LENGTHS, scales=SCALES, activation="tanh", **kwargs):
    """`gradient_norms` for every scale and length: a list of dicts."""
    return [
        {
            "scale": scale,
            "T": T,
            "norms": gradient_norms(T, scale, activation, **kwargs),
        }
        for scale in scales
        for T in lengths
    ]


def reach(norms):
    """Steps back until the norm leaves [VANISHED, 1/VANISHED], or None."""
    back = norms[::-1]
    outside = np.flatnonzero((back < VANISHED) | (back > 1 / VANISHED))
    return int(outside[0]) if outside.size else None


def _fmt(value):
    return f"{value:.1e}"


def lines(results, activation="tanh", style=None, width=80, **kwargs):
    """The results as a terminal report: a table and what it means."""
    style = style or Style(False)
    units = kwargs.get("units", 16)
    batch = kwargs.get("batch", 8)
    steps = [k for k in STEPS_BACK if k < max(r["T"] for r in results)]
    header = ["scale", "T", "t=T-1"] + [f"t=T-{k + 1}" for k in steps]
    header.append("t=0")
    rows = []
    for r in results:
        norms, T = r["norms"], r["T"]
        cells = [f"{r['scale']:g}", str(T), _fmt(norms[-1])]
        cells += [_fmt(norms[T - 1 - k]) if k < T else "" for k in steps]
        cells.append(_colour(_fmt(norms[0]), norms[0], style))
        rows.append(cells)
    out = wrap(
        f"|dL/dh_t| for a loss on the last state only, L = <g, h_{{T-1}}> "
        f"with |g| = 1, by the handwritten backward (ops.rnn_step), walking "
        f"t = T-1, ..., 0. activation={activation}, units={units}, "
        f"batch={batch}; Wh = scale * (random orthogonal matrix), so "
        f"without the activation the norm would be scale^(T-1-t).",
        width,
    )
    out += [""] + table(header, rows, align=["<"] + [">"] * (len(header) - 1),
                        style=style)  # fmt: skip
    out.append("")
    for scale in dict.fromkeys(r["scale"] for r in results):
        longest = max(
            (r for r in results if r["scale"] == scale), key=lambda r: r["T"]
        )
        k = reach(longest["norms"])
        if k is None:
            verdict = (
                f"stays within [{VANISHED:g}, {1 / VANISHED:g}] over all "
                f"{longest['T']} steps"
            )
        elif longest["norms"][-1 - k] < VANISHED:
            verdict = (
                f"vanishes: below {VANISHED:g} after {k} steps back, so "
                "steps further back barely learn from this loss"
            )
        else:
            verdict = (
                f"explodes: above {1 / VANISHED:g} after {k} steps back "
                "(clip the gradient, as in the book's 6.1.5)"
            )
        out += wrap(f"scale {scale:g}: {verdict}.", width, indent="")
    out += [""] + wrap(
        "So backpropagating through 100 steps costs 100 steps of work but "
        "carries almost nothing past the first few dozen: truncated BPTT "
        "(the book's time_size blocks, stateful=True) cuts the backward "
        "there, keeps h flowing forward, and loses little.",
        width,
    )
    return out


def _colour(text, value, style):
    if value < VANISHED:
        return style(text, "blue")
    if value > 1 / VANISHED:
        return style(text, "red")
    return text


def plot(results, path, activation="tanh", dpi=100):
    """Saves `|dL/dh_t|` against the steps back (log scale) as a PNG.

    One panel per scale, one line per sequence length. Needs matplotlib
    (imported here only).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = list(dict.fromkeys(r["scale"] for r in results))
    fig, axes = plt.subplots(
        1, len(scales), figsize=(3 * len(scales), 3.2), sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, scale in zip(axes, scales):
        for r in (r for r in results if r["scale"] == scale):
            back = r["norms"][::-1]
            ax.semilogy(np.arange(r["T"]), back, label=f"T = {r['T']}")
        ax.axhspan(1e-30, VANISHED, color="#dde8f5", zorder=0)
        ax.axhspan(1 / VANISHED, 1e30, color="#f7dede", zorder=0)
        ax.set_title(f"Wh = {scale:g} x orthogonal")
        ax.set_xlabel("steps back from the loss (T-1-t)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("|dL/dh_t|")
    axes[0].set_ylim(1e-20, 1e20)
    axes[0].text(2, 1e-16, f"vanished (< {VANISHED:g})", fontsize=8)
    axes[0].text(2, 1e14, f"exploded (> {1 / VANISHED:g})", fontsize=8)
    axes[-1].legend(loc="upper right", fontsize=8)
    fig.suptitle(
        f"How far back the gradient reaches ({activation}, handwritten BPTT)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path
