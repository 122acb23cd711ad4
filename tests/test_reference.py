"""Tests of the NumPy reference RNN / TimeRNN (book API), all in float64."""

import numpy as np
import pytest

from keras_scratch_rnn.reference import RNN, TimeRNN, numerical_gradient

SEED = 0
N, T, D, H = 3, 6, 4, 5
EPS = 1e-6  # central-difference step
GRAD_RTOL = 1e-7  # analytic vs numerical gradient, relative error
STATE_ATOL = 1e-12  # stateful chunked forward vs one forward
BUG_MIN_RELERR = 1e-2  # forward-order backward must be at least this wrong
TINY = 1e-30


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|, tiny)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), TINY)
    return np.abs(a - n).max() / scale


def make_params(rng, dtype=np.float64):
    Wx = rng.normal(scale=0.5, size=(D, H)).astype(dtype)
    Wh = rng.normal(scale=0.5, size=(H, H)).astype(dtype)
    b = rng.normal(scale=0.1, size=(H,)).astype(dtype)
    return Wx, Wh, b


def time_setup(t_steps=T):
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng)
    xs = rng.normal(size=(N, t_steps, D))
    h0 = rng.normal(scale=0.5, size=(N, H))
    G = rng.normal(size=(N, t_steps, H))
    return Wx, Wh, b, xs, h0, G


# --- RNN step ----------------------------------------------------------------


def test_rnn_step_gradients():
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng)
    x = rng.normal(size=(N, D))
    h_prev = rng.normal(scale=0.5, size=(N, H))
    G = rng.normal(size=(N, H))
    layer = RNN(Wx, Wh, b)

    def loss():
        return float(np.sum(layer.forward(x, h_prev) * G))

    loss()
    dx, dh_prev = layer.backward(G)
    dWx, dWh, db = (g.copy() for g in layer.grads)

    analytic = {"dx": dx, "dh_prev": dh_prev, "dWx": dWx, "dWh": dWh}
    analytic["db"] = db
    inputs = {"dx": x, "dh_prev": h_prev, "dWx": Wx, "dWh": Wh, "db": b}
    for name, arr in inputs.items():
        before = arr.copy()
        num = numerical_gradient(loss, arr, EPS)
        np.testing.assert_array_equal(arr, before)  # restored
        err = rel_err(analytic[name], num)
        assert err <= GRAD_RTOL, f"{name}: rel err {err:.2e}"


def test_rnn_step_forward_formula():
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng)
    x = rng.normal(size=(N, D))
    h_prev = rng.normal(size=(N, H))
    h_next = RNN(Wx, Wh, b).forward(x, h_prev)
    np.testing.assert_allclose(h_next, np.tanh(h_prev @ Wh + x @ Wx + b))


# --- TimeRNN -----------------------------------------------------------------


def test_time_rnn_gradients():
    Wx, Wh, b, xs, h0, G = time_setup()
    rnn = TimeRNN(Wx, Wh, b, stateful=True)

    def loss():
        rnn.set_state(h0)
        return float(np.sum(rnn.forward(xs) * G))

    loss()
    dxs = rnn.backward(G)
    dWx, dWh, db = (g.copy() for g in rnn.grads)
    analytic = {"dxs": dxs, "dWx": dWx, "dWh": dWh, "db": db, "dh": rnn.dh}
    inputs = {"dxs": xs, "dWx": Wx, "dWh": Wh, "db": b, "dh": h0}
    for name, arr in inputs.items():
        num = numerical_gradient(loss, arr, EPS)
        err = rel_err(analytic[name], num)
        assert err <= GRAD_RTOL, f"{name}: rel err {err:.2e}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_input(dtype):
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng, dtype)
    xs = rng.normal(size=(N, T, D)).astype(dtype)
    rnn = TimeRNN(Wx, Wh, b)
    hs = rnn.forward(xs)
    dxs = rnn.backward(np.ones_like(hs))
    assert hs.dtype == dtype
    assert dxs.dtype == dtype
    assert rnn.dh.dtype == dtype
    assert all(g.dtype == dtype for g in rnn.grads)

    layer = RNN(Wx, Wh, b)
    h_next = layer.forward(xs[:, 0], np.zeros((N, H), dtype))
    dx, dh_prev = layer.backward(np.ones_like(h_next))
    assert h_next.dtype == dx.dtype == dh_prev.dtype == dtype


def test_stateful_carry_equals_one_forward():
    Wx, Wh, b, xs, _, _ = time_setup()
    full = TimeRNN(Wx, Wh, b).forward(xs)
    rnn = TimeRNN(Wx, Wh, b, stateful=True)
    hs = np.concatenate([rnn.forward(xs[:, :3]), rnn.forward(xs[:, 3:])], 1)
    np.testing.assert_allclose(hs, full, rtol=0, atol=STATE_ATOL)


def test_reset_state_starts_from_zeros():
    Wx, Wh, b, xs, _, _ = time_setup()
    fresh = TimeRNN(Wx, Wh, b).forward(xs)
    rnn = TimeRNN(Wx, Wh, b, stateful=True)
    rnn.forward(xs)
    carried = rnn.forward(xs)
    assert np.abs(carried - fresh).max() > 1e-3  # state really carried
    rnn.reset_state()
    assert rnn.h is None
    np.testing.assert_allclose(rnn.forward(xs), fresh, rtol=0, atol=0)


def test_not_stateful_nothing_carries():
    Wx, Wh, b, xs, h0, _ = time_setup()
    rnn = TimeRNN(Wx, Wh, b, stateful=False)
    first = rnn.forward(xs)
    rnn.set_state(h0)  # ignored when not stateful
    np.testing.assert_array_equal(rnn.forward(xs), first)
    np.testing.assert_array_equal(first[:, 0], np.tanh(xs[:, 0] @ Wx + b))


def test_truncated_bptt_stops_at_chunk_boundary():
    Wx, Wh, b, xs, _, G = time_setup()
    G2 = G[:, 3:]
    rnn = TimeRNN(Wx, Wh, b, stateful=True)
    rnn.forward(xs[:, :3])
    h_mid = rnn.h  # carried forward as a plain array
    assert type(h_mid) is np.ndarray
    rnn.forward(xs[:, 3:])
    dxs2 = rnn.backward(G2)
    assert dxs2.shape == (N, 3, D)  # only the second chunk's steps

    # Chunk 2 alone, started from h_mid treated as a constant.
    ref = TimeRNN(Wx, Wh, b, stateful=True)

    def loss2():
        ref.set_state(h_mid)
        return float(np.sum(ref.forward(xs[:, 3:]) * G2))

    assert rel_err(rnn.dh, numerical_gradient(loss2, h_mid, EPS)) <= GRAD_RTOL
    num_dWh = numerical_gradient(loss2, Wh, EPS)
    assert rel_err(rnn.grads[1], num_dWh) <= GRAD_RTOL

    # Full BPTT (through chunk 1 too) differs, so truncation is real.
    def loss2_full():
        return float(np.sum(TimeRNN(Wx, Wh, b).forward(xs)[:, 3:] * G2))

    full_dWh = numerical_gradient(loss2_full, Wh, EPS)
    assert rel_err(rnn.grads[1], full_dWh) > BUG_MIN_RELERR


def forward_order_backward(rnn, dhs):
    """The blog post's bug: `for t in range(T)` instead of reversed."""
    grads = [0, 0, 0]
    dh = 0
    for t in range(dhs.shape[1]):
        layer = rnn.layers[t]
        _, dh = layer.backward(dhs[:, t, :] + dh)
        for i, grad in enumerate(layer.grads):
            grads[i] += grad
    return grads


def test_seed_bug_forward_order_backward_is_wrong():
    Wx, Wh, b, xs, _, G = time_setup()
    rnn = TimeRNN(Wx, Wh, b)

    def loss():
        return float(np.sum(rnn.forward(xs) * G))

    num_dWh = numerical_gradient(loss, Wh, EPS)
    loss()
    buggy_dWh = forward_order_backward(rnn, G)[1]
    rnn.backward(G)
    assert rel_err(buggy_dWh, num_dWh) > BUG_MIN_RELERR
    assert rel_err(rnn.grads[1], num_dWh) <= GRAD_RTOL


def test_grads_written_in_place():
    Wx, Wh, b, xs, h0, G = time_setup()
    rnn = TimeRNN(Wx, Wh, b)
    grads = list(rnn.grads)
    rnn.forward(xs)
    rnn.backward(G)
    first = [g.copy() for g in grads]
    rnn.backward(2 * G)
    assert all(g is g0 for g, g0 in zip(rnn.grads, grads))
    for g, g1 in zip(grads, first):  # overwritten, not accumulated
        np.testing.assert_allclose(g, 2 * g1, rtol=1e-12)

    layer = RNN(Wx, Wh, b)
    step_grads = list(layer.grads)
    layer.forward(xs[:, 0], h0)
    layer.backward(G[:, 0])
    assert all(g is g0 for g, g0 in zip(layer.grads, step_grads))
    assert all(np.abs(g).max() > 0 for g in step_grads)


def test_numerical_gradient_helper():
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    before = x.copy()
    num = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_array_equal(x, before)
    assert num.shape == x.shape
    assert rel_err(num, 3 * before**2) <= GRAD_RTOL
