"""# Forecasting a long series: stateless windows vs a stateful RNN

A long noisy wave: `x_t = a_t sin(t / 6) + noise`, whose amplitude `a_t`
drifts slowly between 0.5 and 1.5 and whose noise has standard deviation
0.5. The task: forecast the next value `x_{t+1}` from the values so far.

Both models are the same, `ScratchRNN(32) -> Dense(1)`, trained on the same
batches: the book's truncated-BPTT batches (`TBPTTBatches`), where 32
streams read the series 5 steps at a time. Only `stateful` differs:

- stateless: every batch starts from a zero state, so a forecast knows only
  the last T = 5 noisy values;
- stateful: the state carries over from one batch of a stream to the
  next (truncated BPTT: the gradient stops after 5 steps, but the state
  does not), so the forecast can use the whole past: it averages out the
  noise and knows the current amplitude.

On a new series the stateful model forecasts in a stream, 5 steps at a
time, with its state carried between calls, as it was trained. The
forecasts are scored against the next observed value (whose noise no model
can forecast: 0.25 is the floor) and against the noise-free next value.

Run: `python examples/stateful_forecast.py` (20 epochs, about 30 s; the
plot goes to `stateful_forecast.png` in the current folder, or `--plot
PATH`), or `--quick` for 3 epochs on a shorter series and no plot.
"""

import argparse
import pathlib

import _quiet_tensorflow  # noqa: F401 (first: TensorFlow, without log lines)
import keras
import numpy as np
from _common import plot_path

from keras_scratch_rnn import ScratchRNN
from keras_scratch_rnn.tools.tbptt import (
    ResetStates,
    TBPTTBatches,
    reset_rnn_states,
)

PLOT = "stateful_forecast.png"  # in the current folder; docs/images/ if asked
NOISE = 0.5

"""## Data: a noisy wave with a drifting amplitude"""


def make_series(length, seed):
    """`(observed, clean)`, each of shape (length,), float32.

    The period of the wave (2 pi 6, about 37.7 steps) is not a multiple of
    T: every batch starts at a multiple of T, and with a period of, say, 40
    steps and T = 5 a stateless model would learn the phase from where its
    windows start, a pattern that new data read in other windows lacks.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    phase_a, phase_x = rng.uniform(0, 2 * np.pi, size=2)
    amplitude = 1 + 0.5 * np.sin(t / 44 + phase_a)  # period ~276 steps
    clean = amplitude * np.sin(t / 6 + phase_x)  # period ~38 steps
    observed = clean + NOISE * rng.normal(size=length)
    return observed.astype("float32"), clean.astype("float32")


"""## One model, stateless or stateful

A stateful layer keeps one state per row of the batch, so its batch size
is fixed (`batch_size=N`); the stateless one takes any batch.
"""


def forecaster(stateful, batch_size=None, H=32):
    inputs = keras.Input(shape=(None, 1), batch_size=batch_size)  # (N, T, 1)
    h = ScratchRNN(H, return_sequences=True, stateful=stateful)(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(h))  # (N, T, 1)


def train(model, series, epochs, batch_size, time_size, lr):
    batches = TBPTTBatches(
        series[:-1, None], series[1:, None], batch_size, time_size
    )  # inputs x_t, targets x_{t+1}
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    history = model.fit(
        batches,
        epochs=epochs,
        steps_per_epoch=batches.steps_per_epoch,
        shuffle=False,
        callbacks=[ResetStates()],  # does nothing to the stateless one
    )
    return history.history["loss"]


"""## Forecasting a new series

The stateless model sees a sliding window of the last T values for each
forecast. The stateful one reads the series in a stream: a copy with batch
size 1 and the trained weights takes T values per call and carries its
state from call to call.
"""


def forecast_stateless(model, observed, time_size):
    """forecast[k] of observed[k + 1], from observed[k - T + 1 .. k]."""
    windows = np.lib.stride_tricks.sliding_window_view(observed, time_size)
    out = model.predict(windows[:, :, None], batch_size=256, verbose=0)
    forecast = np.full(len(observed), np.nan, dtype="float32")
    forecast[time_size - 1 :] = out[:, -1, 0]  # the last step of each window
    return forecast


def forecast_stateful(model, observed, time_size):
    """forecast[k] of observed[k + 1], from observed[0 .. k], T at a time."""
    stream = forecaster(stateful=True, batch_size=1)
    stream.set_weights(model.get_weights())
    reset_rnn_states(stream)
    chunks = []
    for start in range(0, len(observed), time_size):
        chunk = observed[None, start : start + time_size, None]  # (1, T, 1)
        chunks.append(stream.predict_on_batch(chunk)[0, :, 0])
    return np.concatenate(chunks)


def scores(forecast, observed, clean, skip):
    """Mean squared errors of the forecasts of steps skip+1 .. end."""
    k = slice(skip, len(observed) - 1)
    target = slice(skip + 1, len(observed))
    return {
        "mse": float(np.mean((forecast[k] - observed[target]) ** 2)),
        "mse_clean": float(np.mean((forecast[k] - clean[target]) ** 2)),
    }


"""## Train both, forecast, compare"""


def plot(path, observed, clean, forecasts, results, skip, steps=200):
    from matplotlib.figure import Figure

    t = np.arange(skip + 1, skip + 1 + steps)
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(t, observed[t], ".", color="0.6", ms=3, label="observed x")
    ax.plot(t, clean[t], color="k", lw=1, label="noise-free")
    for name, color in (("stateless", "tab:orange"), ("stateful", "tab:blue")):
        mse = results[name]["mse_clean"]
        ax.plot(
            t,
            forecasts[name][t - 1],
            color=color,
            lw=1.5,
            label=f"{name} forecast (MSE vs noise-free {mse:.3f})",
        )
    ax.set(xlabel="t", ylabel="x", title="one-step forecasts on a new series")
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    ax.set_ylim(-3, 3.5)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"Saved the plot to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0].removeprefix("# ")
    )
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--epochs", type=int, help="default 20 (quick: 3)")
    parser.add_argument(
        "--length", type=int, help="training steps (default 32000, quick 8000)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--time-size", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot", metavar="PATH", help=f"the PNG (default {PLOT}; quick: none)"
    )
    plots.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 20)
    path = plot_path(parser, args, PLOT)
    length = args.length or (8000 if args.quick else 32000)
    N, T = args.batch_size, args.time_size

    observed, _ = make_series(length + 1, seed=args.seed)
    test_observed, test_clean = make_series(4000, seed=args.seed + 1)
    skip = 100  # forecasts scored from step 100 on (the stateful warms up)

    keras.utils.set_random_seed(args.seed)
    models = {
        "stateless": forecaster(stateful=False),
        "stateful": forecaster(stateful=True, batch_size=N),
    }
    models["stateful"].set_weights(models["stateless"].get_weights())
    results, forecasts = {}, {}
    for name, model in models.items():
        print(f"\n{name}")
        losses = train(model, observed, epochs, N, T, args.lr)
        if name == "stateful":
            forecast = forecast_stateful(model, test_observed, T)
        else:
            forecast = forecast_stateless(model, test_observed, T)
        forecasts[name] = forecast
        results[name] = {
            "loss": losses,
            **scores(forecast, test_observed, test_clean, skip),
        }

    print(f"\n{'':<10} {'MSE vs observed':>16} {'MSE vs noise-free':>18}")
    for name, result in results.items():
        print(f"{name:<10} {result['mse']:>16.4f} {result['mse_clean']:>18.4f}")
    print(f"(the noise alone: MSE {NOISE**2:.4f} vs observed)")

    if path:
        plot(path, test_observed, test_clean, forecasts, results, skip)
    else:
        reason = "--no-plot" if args.no_plot else "--quick"
        print(f"No plot ({reason}); --plot PATH draws one.")
    return {**results, "noise_floor": NOISE**2}


if __name__ == "__main__":
    main()
