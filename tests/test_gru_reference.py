"""The NumPy appendix C GRU reference (reference/gru.py), all in float64.

`GRU` and `TimeGRU` against the equations written out and against central
differences (`numerical_gradient`); the book <-> `keras.layers.GRU` weight
conversion against a direct NumPy implementation of Keras's equations
(no Keras here), its z convention, and the conversions it refuses.
"""

import re

import numpy as np
import pytest

from keras_scratch_rnn.reference import (
    GRU,
    TimeGRU,
    book_to_keras_gru,
    keras_to_book_gru,
    numerical_gradient,
)
from keras_scratch_rnn.tolerances import GRADIENT_CHECK_RTOL

SEED = 0
N, T, D, H = 3, 5, 4, 5
EPS = 1e-6  # central-difference step
TINY = 1e-30
FORWARD_RTOL = 1e-12  # the layer vs the same equations written out
STATE_ATOL = 1e-12  # stateful chunked forward vs one forward
KERAS_EQ_ATOL = 1e-12  # book's GRU vs Keras's equations on converted weights
CARRIED_MIN_DIFF = 1e-3  # a changed state or convention changes h this much


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|, tiny)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), TINY)
    return np.abs(a - n).max() / scale


def book_sigmoid(x):
    """The book's `1 / (1 + exp(-x))`, written out."""
    return 1 / (1 + np.exp(-x))


def make_params(rng, d=D, h=H, dtype=np.float64):
    Wx = rng.normal(scale=0.5, size=(d, 3 * h)).astype(dtype)
    Wh = rng.normal(scale=0.5, size=(h, 3 * h)).astype(dtype)
    return Wx, Wh


def assert_gradients(loss, analytic, inputs, eps=EPS):
    """Each `analytic[name]` equals the central differences of `loss()`
    w.r.t. `inputs[name]` (step `eps`), to GRADIENT_CHECK_RTOL relative."""
    for name, arr in inputs.items():
        before = arr.copy()
        num = numerical_gradient(loss, arr, eps)
        np.testing.assert_array_equal(arr, before)  # restored
        err = rel_err(analytic[name], num)
        assert err <= GRADIENT_CHECK_RTOL, f"{name}: rel err {err:.2e}"


def gru_step(x, h_prev, Wx, Wh, *, keras_z=False):
    """The book's GRU step written out (blocks z, r, h, no bias);
    `keras_z=True` mixes with Keras's `z h_prev + (1 - z) h_hat` instead of
    the book's `(1 - z) h_prev + z h_hat`."""
    Wxz, Wxr, Wxh = np.split(Wx, 3, axis=1)
    Whz, Whr, Whh = np.split(Wh, 3, axis=1)
    z = book_sigmoid(x @ Wxz + h_prev @ Whz)
    r = book_sigmoid(x @ Wxr + h_prev @ Whr)
    h_hat = np.tanh(x @ Wxh + (r * h_prev) @ Whh)
    if keras_z:
        return z * h_prev + (1 - z) * h_hat
    return (1 - z) * h_prev + z * h_hat


# --- GRU step ----------------------------------------------------------------


def step_setup():
    rng = np.random.default_rng(SEED)
    Wx, Wh = make_params(rng)
    x = rng.normal(size=(N, D))
    h_prev = rng.normal(scale=0.5, size=(N, H))
    return Wx, Wh, x, h_prev, rng


def test_gru_step_forward_equations():
    """The book's block order z, r, h and `h = (1 - z) h_prev + z h_hat`."""
    Wx, Wh, x, h_prev, _ = step_setup()
    layer = GRU(Wx, Wh)
    h_next = layer.forward(x, h_prev)
    expected = gru_step(x, h_prev, Wx, Wh)
    np.testing.assert_allclose(h_next, expected, rtol=FORWARD_RTOL)
    assert len(layer.params) == 2 and layer.params[0] is Wx  # no bias
    assert layer.params[1] is Wh


def test_gru_step_gradients():
    """dx, dh_prev, dWx, dWh of `sum(h_next * G)`."""
    Wx, Wh, x, h_prev, rng = step_setup()
    G = rng.normal(size=(N, H))
    layer = GRU(Wx, Wh)

    def loss():
        return float(np.sum(layer.forward(x, h_prev) * G))

    loss()
    grads = list(layer.grads)
    dx, dh_prev = layer.backward(G)
    assert all(g is g0 for g, g0 in zip(layer.grads, grads))  # in place
    assert dx.shape == (N, D) and dh_prev.shape == (N, H)
    dWx, dWh = (g.copy() for g in layer.grads)
    analytic = {"dx": dx, "dh_prev": dh_prev, "dWx": dWx, "dWh": dWh}
    inputs = {"dx": x, "dh_prev": h_prev, "dWx": Wx, "dWh": Wh}
    assert_gradients(loss, analytic, inputs)


def test_gru_step_saturated_gates_stay_finite():
    """Scores of +-1000: the sigmoid does not overflow (no warning)."""
    Wx = np.zeros((1, 3 * H))
    Wx[0, ::2] = 1000.0
    Wx[0, 1::2] = -1000.0
    layer = GRU(Wx, np.zeros((H, 3 * H)))
    with np.errstate(all="raise"):
        h = layer.forward(np.ones((N, 1)), np.ones((N, H)))
        dx, dh = layer.backward(np.ones((N, H)))
    for arr in (h, dx, dh, *layer.grads):
        assert np.isfinite(arr).all()


# --- TimeGRU -----------------------------------------------------------------


def time_setup(t_steps=T):
    rng = np.random.default_rng(SEED)
    Wx, Wh = make_params(rng)
    xs = rng.normal(size=(N, t_steps, D))
    h0 = rng.normal(scale=0.5, size=(N, H))
    G = rng.normal(size=(N, t_steps, H))
    return Wx, Wh, xs, h0, G


def test_time_gru_forward_is_the_steps():
    Wx, Wh, xs, h0, _ = time_setup()
    gru = TimeGRU(Wx, Wh, stateful=True)
    gru.set_state(h0)
    hs = gru.forward(xs)
    h = h0
    for t in range(T):
        h = gru_step(xs[:, t], h, Wx, Wh)
        np.testing.assert_allclose(hs[:, t], h, rtol=FORWARD_RTOL)
    np.testing.assert_allclose(gru.h, h, rtol=FORWARD_RTOL)


def test_time_gru_gradients():
    """dxs, dWx, dWh and `dh` (w.r.t. the initial h), through reversed
    time."""
    Wx, Wh, xs, h0, G = time_setup()
    gru = TimeGRU(Wx, Wh, stateful=True)

    def loss():
        gru.set_state(h0)
        return float(np.sum(gru.forward(xs) * G))

    loss()
    grads = list(gru.grads)
    dxs = gru.backward(G)
    assert all(g is g0 for g, g0 in zip(gru.grads, grads))  # in place
    assert dxs.shape == (N, T, D) and gru.dh.shape == (N, H)
    dWx, dWh = (g.copy() for g in gru.grads)
    analytic = {"dxs": dxs, "dWx": dWx, "dWh": dWh, "dh": gru.dh}
    inputs = {"dxs": xs, "dWx": Wx, "dWh": Wh, "dh": h0}
    assert_gradients(loss, analytic, inputs)


def test_time_gru_grads_overwritten_not_accumulated():
    Wx, Wh, xs, _, G = time_setup()
    gru = TimeGRU(Wx, Wh)
    gru.forward(xs)
    gru.backward(G)
    first = [g.copy() for g in gru.grads]
    gru.backward(2 * G)
    for g, g1 in zip(gru.grads, first):
        np.testing.assert_allclose(g, 2 * g1, rtol=FORWARD_RTOL)


def test_time_gru_stateful_carry_equals_one_forward():
    """h carried across two forward calls."""
    Wx, Wh, xs, _, _ = time_setup()
    full = TimeGRU(Wx, Wh)
    hs_full = full.forward(xs)
    gru = TimeGRU(Wx, Wh, stateful=True)
    first = gru.forward(xs[:, :2])
    hs = np.concatenate([first, gru.forward(xs[:, 2:])], axis=1)
    np.testing.assert_allclose(hs, hs_full, rtol=0, atol=STATE_ATOL)
    np.testing.assert_allclose(gru.h, full.h, rtol=0, atol=STATE_ATOL)


def test_time_gru_set_state_and_reset_state():
    Wx, Wh, xs, h0, _ = time_setup()
    fresh = TimeGRU(Wx, Wh).forward(xs)
    gru = TimeGRU(Wx, Wh, stateful=True)

    gru.set_state(h0)
    hs = gru.forward(xs)
    assert np.abs(hs - fresh).max() > CARRIED_MIN_DIFF  # h0 was used
    h = h0
    for t in range(T):
        h = gru_step(xs[:, t], h, Wx, Wh)
    np.testing.assert_allclose(hs[:, -1], h, rtol=FORWARD_RTOL)

    carried = gru.forward(xs)
    assert np.abs(carried - fresh).max() > CARRIED_MIN_DIFF
    gru.reset_state()
    assert gru.h is None
    np.testing.assert_array_equal(gru.forward(xs), fresh)


def test_time_gru_not_stateful_nothing_carries():
    Wx, Wh, xs, h0, _ = time_setup()
    gru = TimeGRU(Wx, Wh, stateful=False)
    first = gru.forward(xs)
    gru.set_state(h0)  # ignored when not stateful
    np.testing.assert_array_equal(gru.forward(xs), first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_gru_dtype_follows_input(dtype):
    rng = np.random.default_rng(SEED)
    Wx, Wh = make_params(rng, dtype=dtype)
    xs = rng.normal(size=(N, T, D)).astype(dtype)
    gru = TimeGRU(Wx, Wh)
    hs = gru.forward(xs)
    dxs = gru.backward(np.ones_like(hs))
    assert hs.dtype == dxs.dtype == gru.dh.dtype == gru.h.dtype == dtype
    assert all(g.dtype == dtype for g in gru.grads)


# --- Book <-> keras.layers.GRU weights ---------------------------------------


def keras_gru_forward(xs, kernel, recurrent_kernel, bias, reset_after=False):
    """keras.layers.GRU's equations (keras/src/layers/rnn/gru.py), blocks
    z, r, h, from zeros. `reset_after=False`: bias (3H,), the reset gate on
    h_prev before the matmul; True: bias (2, 3H) (input, recurrent), the
    reset gate on `h_prev rk_h + b_h` after it."""
    n, t_steps, _ = xs.shape
    units = recurrent_kernel.shape[0]
    bias = np.asarray(bias, dtype=np.float64)
    if reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros(3 * units)
    b_z, b_r, b_h = np.split(input_bias, 3)
    rb_z, rb_r, rb_h = np.split(recurrent_bias, 3)
    k_z, k_r, k_h = np.split(kernel, 3, axis=1)
    rk_z, rk_r, rk_h = np.split(recurrent_kernel, 3, axis=1)
    h = np.zeros((n, units))
    hs = []
    for t in range(t_steps):
        x = xs[:, t]
        z = book_sigmoid(x @ k_z + b_z + h @ rk_z + rb_z)
        r = book_sigmoid(x @ k_r + b_r + h @ rk_r + rb_r)
        if reset_after:
            recurrent_h = r * (h @ rk_h + rb_h)
        else:
            recurrent_h = (r * h) @ rk_h
        hh = np.tanh(x @ k_h + b_h + recurrent_h)
        h = z * h + (1 - z) * hh  # Keras's z: the book's 1 - z
        hs.append(h)
    return np.stack(hs, axis=1)


def test_book_to_keras_gru_gives_the_same_h():
    Wx, Wh, xs, _, _ = time_setup()
    kernel, recurrent_kernel, bias = book_to_keras_gru(Wx, Wh)
    assert bias.shape == (3 * H,) and bias.dtype == Wx.dtype
    assert not bias.any()  # the book has no bias
    hs_keras = keras_gru_forward(xs, kernel, recurrent_kernel, bias)
    hs_book = TimeGRU(Wx, Wh).forward(xs)
    np.testing.assert_allclose(hs_keras, hs_book, rtol=0, atol=KERAS_EQ_ATOL)
    # The blocks: z negated (1 - sigmoid(a) = sigmoid(-a)), r and h as is.
    for keras_w, book_w in ((kernel, Wx), (recurrent_kernel, Wh)):
        np.testing.assert_array_equal(keras_w[:, :H], -book_w[:, :H])
        np.testing.assert_array_equal(keras_w[:, H:], book_w[:, H:])


def test_keras_to_book_gru_gives_the_same_h():
    rng = np.random.default_rng(SEED)
    kernel, recurrent_kernel = make_params(rng)  # as Keras's
    xs = rng.normal(size=(N, T, D))
    hs_keras = keras_gru_forward(xs, kernel, recurrent_kernel, np.zeros(3 * H))
    for bias in (None, np.zeros(3 * H)):  # use_bias=False, or a zero bias
        Wx, Wh = keras_to_book_gru(kernel, recurrent_kernel, bias)
        np.testing.assert_allclose(
            TimeGRU(Wx, Wh).forward(xs), hs_keras, rtol=0, atol=KERAS_EQ_ATOL
        )


def test_the_z_conventions_differ():
    """Unconverted, the book's weights in Keras's equations give another h:
    Keras mixes `z h_prev + (1 - z) hh`, the book `(1 - z) h_prev + z
    h_hat`. Written out with the book's z, Keras's mixing is exactly what
    the unconverted weights compute."""
    Wx, Wh, xs, _, _ = time_setup()
    hs_book = TimeGRU(Wx, Wh).forward(xs)
    hs_raw = keras_gru_forward(xs, Wx, Wh, np.zeros(3 * H))
    assert np.abs(hs_raw - hs_book).max() > CARRIED_MIN_DIFF
    h = np.zeros((N, H))
    for t in range(T):
        h = gru_step(xs[:, t], h, Wx, Wh, keras_z=True)
        np.testing.assert_allclose(hs_raw[:, t], h, rtol=0, atol=KERAS_EQ_ATOL)


def test_reset_after_true_is_another_function():
    """Keras's default `reset_after=True`, even with a zero bias and the
    converted weights, does not compute the book's h: hence the refusal."""
    Wx, Wh, xs, _, _ = time_setup()
    kernel, recurrent_kernel, _ = book_to_keras_gru(Wx, Wh)
    hs_book = TimeGRU(Wx, Wh).forward(xs)
    hs_after = keras_gru_forward(
        xs, kernel, recurrent_kernel, np.zeros((2, 3 * H)), reset_after=True
    )
    assert np.abs(hs_after - hs_book).max() > CARRIED_MIN_DIFF


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gru_conversion_round_trips_exactly(dtype):
    rng = np.random.default_rng(SEED)
    book = make_params(rng, dtype=dtype)
    book[0][0, 0] = 0.0  # a zero negates to -0.0 and back to 0.0
    kernel, recurrent_kernel, bias = book_to_keras_gru(*book)
    keras_weights = (kernel, recurrent_kernel)
    assert bias.dtype == dtype
    back = keras_to_book_gru(kernel, recurrent_kernel, bias)
    for original, converted, returned in zip(book, keras_weights, back):
        assert converted.dtype == returned.dtype == dtype
        assert converted is not original and returned is not original
        np.testing.assert_array_equal(returned, original)
        assert not np.array_equal(converted, original)  # really negated
    assert not np.signbit(back[0][0, 0])
    again = book_to_keras_gru(*back)
    for a, k in zip(again, (kernel, recurrent_kernel, bias)):
        np.testing.assert_array_equal(a, k)


# --- Refused conversions and bad shapes --------------------------------------


def test_keras_to_book_gru_refuses_reset_after_true():
    rng = np.random.default_rng(SEED)
    kernel, recurrent_kernel = make_params(rng)
    for bias in (None, np.zeros((2, 3 * H))):
        with pytest.raises(ValueError, match=r"^reset_after\b") as info:
            keras_to_book_gru(kernel, recurrent_kernel, bias, reset_after=True)
        assert "different function" in str(info.value)


@pytest.mark.parametrize(
    "bias, expected",
    [
        (np.zeros((2, 3 * H)), "reset_after=True"),  # even all zeros
        (np.ones((2, 3 * H)), "reset_after=True"),
        (np.full(3 * H, 1e-3), "no bias"),
        (np.eye(1, 3 * H, 2 * H)[0], "1 non-zero"),  # one value, h block
        (np.full(3 * H, np.nan), "no bias"),
        (np.zeros(3 * H + 3), f"({3 * H},)"),
        (np.zeros(()), f"({3 * H},)"),
    ],
)
def test_keras_to_book_gru_refuses_a_bias(bias, expected):
    rng = np.random.default_rng(SEED)
    kernel, recurrent_kernel = make_params(rng)
    with pytest.raises(ValueError, match=r"^bias\b") as info:
        keras_to_book_gru(kernel, recurrent_kernel, bias)
    assert expected in str(info.value)


def _arrays(shapes):
    rng = np.random.default_rng(SEED)
    return [rng.normal(size=s) for s in shapes]


GOOD = [(D, 3 * H), (H, 3 * H)]
BAD_SHAPES = [
    # (argument index, replacement shape, what the message must say)
    (0, (D, 3 * H + 1), "multiple of 3"),
    (0, (D, 0), "multiple of 3"),
    (0, (3 * H,), "2 dimensions"),
    (1, (H, 3 * H + 3), "must equal"),
    (1, (H + 1, 3 * H), f"({H}, {3 * H})"),
    (1, (H, 3 * H, 1), "2 dimensions"),
    (1, (H, 4 * H), "multiple of 3"),
]


@pytest.mark.parametrize(
    "convert, names",
    [
        (book_to_keras_gru, ("Wx", "Wh")),
        (keras_to_book_gru, ("kernel", "recurrent_kernel")),
    ],
)
@pytest.mark.parametrize("index, shape, expected", BAD_SHAPES)
def test_gru_conversion_bad_shapes_name_the_argument(
    convert, names, index, shape, expected
):
    shapes = list(GOOD)
    shapes[index] = shape
    with pytest.raises(ValueError, match=rf"^{names[index]}\b") as info:
        convert(*_arrays(shapes))
    assert expected in str(info.value)


def test_keras_to_book_gru_a_lstm_kernel_is_named():
    """An LSTM's (D, 4H) kernel is not a GRU's (D, 3H)."""
    with pytest.raises(ValueError, match=re.escape("kernel's last axis")):
        keras_to_book_gru(np.zeros((D, 8)), np.zeros((2, 8)))
