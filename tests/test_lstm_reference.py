"""The NumPy ch06 LSTM reference (reference/lstm.py), all in float64.

`LSTM`, `TimeLSTM`, `TimeDropout`, `Rnnlm`, `BetterRnnlm` and
`remove_duplicate` against central differences (`numerical_gradient`), and
the book <-> `keras.layers.LSTM` weight conversion against a direct NumPy
implementation of Keras's equations.
"""

import itertools
import re

import numpy as np
import pytest

from keras_scratch_rnn.reference import (
    LSTM,
    SGD,
    BetterRnnlm,
    Rnnlm,
    TimeDropout,
    TimeLSTM,
    book_to_keras_lstm,
    keras_to_book_lstm,
    numerical_gradient,
    remove_duplicate,
)
from keras_scratch_rnn.tolerances import GRADIENT_CHECK_RTOL

SEED = 0
N, T, D, H, V = 3, 5, 4, 5, 7
EPS = 1e-6  # central-difference step
# ... of the language models: their loss (~2, a mean over N*T words) has
# gradients of ~1e-2, so round-off (~1e-16 * 2 / EPS) would use half of
# GRADIENT_CHECK_RTOL at 1e-6 (measured 6e-8); at 1e-5 both it and the
# truncation error stay below 1e-8.
LM_EPS = 1e-5
TINY = 1e-30
FORWARD_RTOL = 1e-12  # the layer vs the same equations written out
STATE_ATOL = 1e-12  # stateful chunked forward vs one forward
KERAS_EQ_ATOL = 1e-12  # book's LSTM vs Keras's equations on converted weights
CARRIED_MIN_DIFF = 1e-3  # a carried state changes the outputs at least this
# The fraction of elements TimeDropout keeps, on 10^5 draws: 1 - ratio
# within this (about 14 standard deviations).
KEEP_FRACTION_ATOL = 0.02
# The book's initial weights are random: their spread is checked on a large
# model, to this relative precision.
INIT_STD_RTOL = 0.05
# BetterRnnlm: 10 SGD steps on one batch of random words lower the loss by
# at least this (measured 0.098).
SGD_MIN_DROP = 0.05


def rel_err(a, n):
    """max|a - n| / max(max|a|, max|n|, tiny)."""
    scale = max(np.abs(a).max(), np.abs(n).max(), TINY)
    return np.abs(a - n).max() / scale


def book_sigmoid(x):
    """The book's `1 / (1 + exp(-x))`, written out."""
    return 1 / (1 + np.exp(-x))


def make_params(rng, d=D, h=H, dtype=np.float64):
    Wx = rng.normal(scale=0.5, size=(d, 4 * h)).astype(dtype)
    Wh = rng.normal(scale=0.5, size=(h, 4 * h)).astype(dtype)
    b = rng.normal(scale=0.5, size=(4 * h,)).astype(dtype)
    return Wx, Wh, b


def assert_gradients(loss, analytic, inputs, eps=EPS):
    """Each `analytic[name]` equals the central differences of `loss()`
    w.r.t. `inputs[name]` (step `eps`), to GRADIENT_CHECK_RTOL relative."""
    for name, arr in inputs.items():
        before = arr.copy()
        num = numerical_gradient(loss, arr, eps)
        np.testing.assert_array_equal(arr, before)  # restored
        err = rel_err(analytic[name], num)
        assert err <= GRADIENT_CHECK_RTOL, f"{name}: rel err {err:.2e}"


# --- LSTM step ---------------------------------------------------------------


def step_setup():
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng)
    x = rng.normal(size=(N, D))
    h_prev = rng.normal(scale=0.5, size=(N, H))
    c_prev = rng.normal(size=(N, H))
    return Wx, Wh, b, x, h_prev, c_prev, rng


def test_lstm_step_forward_equations():
    """The book's gate order f, g, i, o, and its two state equations."""
    Wx, Wh, b, x, h_prev, c_prev, _ = step_setup()
    h_next, c_next = LSTM(Wx, Wh, b).forward(x, h_prev, c_prev)

    A = x @ Wx + h_prev @ Wh + b
    f = book_sigmoid(A[:, :H])
    g = np.tanh(A[:, H : 2 * H])
    i = book_sigmoid(A[:, 2 * H : 3 * H])
    o = book_sigmoid(A[:, 3 * H :])
    c_expected = f * c_prev + g * i
    h_expected = o * np.tanh(c_expected)
    np.testing.assert_allclose(c_next, c_expected, rtol=FORWARD_RTOL)
    np.testing.assert_allclose(h_next, h_expected, rtol=FORWARD_RTOL)


def test_lstm_step_gradients():
    """dx, dh_prev, dc_prev, dWx, dWh, db of a loss using h_next and
    c_next."""
    Wx, Wh, b, x, h_prev, c_prev, rng = step_setup()
    Gh = rng.normal(size=(N, H))
    Gc = rng.normal(size=(N, H))
    layer = LSTM(Wx, Wh, b)

    def loss():
        h_next, c_next = layer.forward(x, h_prev, c_prev)
        return float(np.sum(h_next * Gh) + np.sum(c_next * Gc))

    loss()
    grads = list(layer.grads)
    dx, dh_prev, dc_prev = layer.backward(Gh, Gc)
    assert all(g is g0 for g, g0 in zip(layer.grads, grads))  # in place
    dWx, dWh, db = (g.copy() for g in layer.grads)
    analytic = {"dx": dx, "dh_prev": dh_prev, "dc_prev": dc_prev}
    analytic.update(dWx=dWx, dWh=dWh, db=db)
    inputs = {"dx": x, "dh_prev": h_prev, "dc_prev": c_prev}
    inputs.update(dWx=Wx, dWh=Wh, db=b)
    assert_gradients(loss, analytic, inputs)


def test_lstm_step_saturated_gates_stay_finite():
    """Scores of +-1000: the sigmoid does not overflow (no warning)."""
    Wx = np.zeros((1, 4 * H))
    Wx[0, ::2] = 1000.0
    Wx[0, 1::2] = -1000.0
    layer = LSTM(Wx, np.zeros((H, 4 * H)), np.zeros(4 * H))
    with np.errstate(all="raise"):
        h, c = layer.forward(np.ones((N, 1)), np.zeros((N, H)), np.ones((N, H)))
        dx, dh, dc = layer.backward(np.ones((N, H)), np.ones((N, H)))
    for arr in (h, c, dx, dh, dc, *layer.grads):
        assert np.isfinite(arr).all()


# --- TimeLSTM ----------------------------------------------------------------


def time_setup(t_steps=T):
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng)
    xs = rng.normal(size=(N, t_steps, D))
    h0 = rng.normal(scale=0.5, size=(N, H))
    c0 = rng.normal(size=(N, H))
    G = rng.normal(size=(N, t_steps, H))
    return Wx, Wh, b, xs, h0, c0, G


def test_time_lstm_forward_is_the_steps():
    Wx, Wh, b, xs, h0, c0, _ = time_setup()
    lstm = TimeLSTM(Wx, Wh, b, stateful=True)
    lstm.set_state(h0, c0)
    hs = lstm.forward(xs)
    h, c = h0, c0
    for t in range(T):
        h, c = LSTM(Wx, Wh, b).forward(xs[:, t], h, c)
        np.testing.assert_allclose(hs[:, t], h, rtol=FORWARD_RTOL)
    np.testing.assert_allclose(lstm.h, h, rtol=FORWARD_RTOL)
    np.testing.assert_allclose(lstm.c, c, rtol=FORWARD_RTOL)


def test_time_lstm_gradients():
    """dxs, dWx, dWh, db and `dh` (w.r.t. the initial h)."""
    Wx, Wh, b, xs, h0, c0, G = time_setup()
    lstm = TimeLSTM(Wx, Wh, b, stateful=True)

    def loss():
        lstm.set_state(h0, c0)
        return float(np.sum(lstm.forward(xs) * G))

    loss()
    grads = list(lstm.grads)
    dxs = lstm.backward(G)
    assert all(g is g0 for g, g0 in zip(lstm.grads, grads))  # in place
    assert dxs.shape == (N, T, D) and lstm.dh.shape == (N, H)
    dWx, dWh, db = (g.copy() for g in lstm.grads)
    analytic = {"dxs": dxs, "dWx": dWx, "dWh": dWh, "db": db, "dh": lstm.dh}
    inputs = {"dxs": xs, "dWx": Wx, "dWh": Wh, "db": b, "dh": h0}
    assert_gradients(loss, analytic, inputs)


def test_time_lstm_grads_overwritten_not_accumulated():
    Wx, Wh, b, xs, _, _, G = time_setup()
    lstm = TimeLSTM(Wx, Wh, b)
    lstm.forward(xs)
    lstm.backward(G)
    first = [g.copy() for g in lstm.grads]
    lstm.backward(2 * G)
    for g, g1 in zip(lstm.grads, first):
        np.testing.assert_allclose(g, 2 * g1, rtol=FORWARD_RTOL)


def test_time_lstm_stateful_carry_equals_one_forward():
    """h and c carried across two forward calls."""
    Wx, Wh, b, xs, _, _, _ = time_setup()
    full = TimeLSTM(Wx, Wh, b)
    hs_full = full.forward(xs)
    lstm = TimeLSTM(Wx, Wh, b, stateful=True)
    first = lstm.forward(xs[:, :2])
    hs = np.concatenate([first, lstm.forward(xs[:, 2:])], axis=1)
    np.testing.assert_allclose(hs, hs_full, rtol=0, atol=STATE_ATOL)
    np.testing.assert_allclose(lstm.c, full.c, rtol=0, atol=STATE_ATOL)


def test_time_lstm_set_state_and_reset_state():
    Wx, Wh, b, xs, h0, c0, _ = time_setup()
    fresh = TimeLSTM(Wx, Wh, b).forward(xs)
    lstm = TimeLSTM(Wx, Wh, b, stateful=True)

    lstm.set_state(h0)  # c=None: the cell state starts from zeros
    hs = lstm.forward(xs)
    h, c = h0, np.zeros((N, H))
    for t in range(T):
        h, c = LSTM(Wx, Wh, b).forward(xs[:, t], h, c)
    np.testing.assert_allclose(hs[:, -1], h, rtol=FORWARD_RTOL)

    lstm.set_state(h0, c0)
    with_c = lstm.forward(xs)
    assert np.abs(with_c - hs).max() > CARRIED_MIN_DIFF  # c0 was used

    carried = lstm.forward(xs)
    assert np.abs(carried - fresh).max() > CARRIED_MIN_DIFF
    lstm.reset_state()
    assert lstm.h is None and lstm.c is None
    np.testing.assert_array_equal(lstm.forward(xs), fresh)


def test_time_lstm_not_stateful_nothing_carries():
    Wx, Wh, b, xs, h0, c0, _ = time_setup()
    lstm = TimeLSTM(Wx, Wh, b, stateful=False)
    first = lstm.forward(xs)
    lstm.set_state(h0, c0)  # ignored when not stateful
    np.testing.assert_array_equal(lstm.forward(xs), first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_lstm_dtype_follows_input(dtype):
    rng = np.random.default_rng(SEED)
    Wx, Wh, b = make_params(rng, dtype=dtype)
    xs = rng.normal(size=(N, T, D)).astype(dtype)
    lstm = TimeLSTM(Wx, Wh, b)
    hs = lstm.forward(xs)
    dxs = lstm.backward(np.ones_like(hs))
    assert hs.dtype == dxs.dtype == lstm.dh.dtype == lstm.c.dtype == dtype
    assert all(g.dtype == dtype for g in lstm.grads)


# --- TimeDropout -------------------------------------------------------------


def test_time_dropout_train_mask_and_scale():
    ratio = 0.3
    xs = np.random.default_rng(SEED).normal(size=(10, 100, 100))
    drop = TimeDropout(ratio, rng=np.random.default_rng(1))
    assert drop.train_flg  # the book's default
    ys = drop.forward(xs)
    assert ys.dtype == xs.dtype
    expected_mask = (np.random.default_rng(1).random(xs.shape) > ratio) / (
        1 - ratio
    )
    np.testing.assert_array_equal(drop.mask, expected_mask)
    np.testing.assert_array_equal(ys, xs * expected_mask)
    kept = (drop.mask > 0).mean()
    assert abs(kept - (1 - ratio)) <= KEEP_FRACTION_ATOL

    # the same seed, the same mask; a seed works as well as a Generator
    again = TimeDropout(ratio, rng=1).forward(xs)
    np.testing.assert_array_equal(again, ys)


def test_time_dropout_default_is_the_books_np_random():
    ratio = 0.5
    xs = np.ones((N, T, D), dtype=np.float32)
    state = np.random.get_state()
    try:
        np.random.seed(SEED)
        ys = TimeDropout(ratio).forward(xs)
        np.random.seed(SEED)
        flg = np.random.rand(*xs.shape) > ratio  # the book's draw
    finally:
        np.random.set_state(state)
    assert ys.dtype == np.float32
    np.testing.assert_array_equal(ys, flg.astype(np.float32) * 2)


def test_time_dropout_identity_at_inference():
    rng = np.random.default_rng(SEED)
    xs = rng.normal(size=(N, T, D))
    G = rng.normal(size=(N, T, D))
    drop = TimeDropout(0.5, rng=rng)
    drop.forward(xs)  # a training mask, then inference
    drop.train_flg = False
    np.testing.assert_array_equal(drop.forward(xs), xs)
    np.testing.assert_array_equal(drop.backward(G), G)


def test_time_dropout_gradient():
    """Masks fixed by re-seeding: d(sum(y G))/dx = G * mask."""
    rng = np.random.default_rng(SEED)
    xs = rng.normal(size=(N, T, D))
    G = rng.normal(size=(N, T, D))
    drop = TimeDropout(0.4)

    def loss():
        drop.rng = np.random.default_rng(3)
        return float(np.sum(drop.forward(xs) * G))

    loss()
    dxs = drop.backward(G)
    np.testing.assert_array_equal(dxs, G * drop.mask)
    assert_gradients(loss, {"dxs": dxs}, {"dxs": xs})


# --- Rnnlm -------------------------------------------------------------------


def word_ids(rng, shape=(N, T)):
    ids = rng.integers(0, V, size=shape)
    ids[0, :2] = 3  # a word used twice in one batch: its gradients add up
    return ids


def randomize(params, rng):
    """Weights of order 1 (the book's are tiny), each array once: a tied
    weight's transpose view is left to follow its base."""
    done = []
    for p in params:
        if not any(np.may_share_memory(p, q) for q in done):
            p[...] = rng.normal(scale=0.5, size=p.shape)
            done.append(p)


RNNLM_NAMES = ["embed_W", "lstm_Wx", "lstm_Wh", "lstm_b", "affine_W", "b"]


def test_rnnlm_gradients():
    rng = np.random.default_rng(SEED)
    model = Rnnlm(V, D, H, rng=SEED, dtype="float64")
    randomize(model.params, rng)
    xs, ts = word_ids(rng), word_ids(rng)

    def loss():
        model.reset_state()
        return float(model.forward(xs, ts))

    loss()
    assert model.backward() is None
    analytic = dict(zip(RNNLM_NAMES, (g.copy() for g in model.grads)))
    inputs = dict(zip(RNNLM_NAMES, model.params))
    assert_gradients(loss, analytic, inputs, LM_EPS)


def test_rnnlm_structure_state_and_init():
    model = Rnnlm(V, D, H, rng=SEED)
    assert [p.shape for p in model.params] == [
        (V, D),
        (D, 4 * H),
        (H, 4 * H),
        (4 * H,),
        (H, V),
        (V,),
    ]
    assert all(p.dtype == np.float32 for p in model.params)  # book: 'f'
    assert model.lstm_layer is model.layers[1] and model.lstm_layer.stateful
    xs = np.arange(N * T).reshape(N, T) % V
    scores = model.predict(xs)
    assert scores.shape == (N, T, V)
    model.reset_state()
    first = model.forward(xs, xs)
    assert model.forward(xs, xs) != first  # h and c carried over
    model.reset_state()
    assert model.lstm_layer.h is None and model.lstm_layer.c is None
    assert model.forward(xs, xs) == first
    again = Rnnlm(V, D, H, rng=SEED).params
    assert all(np.array_equal(p, q) for p, q in zip(model.params, again))


def test_rnnlm_initial_weights_follow_the_book():
    """embed_W ~ N(0, 1/100^2), Wx ~ N(0, 1/D), Wh and affine_W ~
    N(0, 1/H), biases zero."""
    V_, D_, H_ = 400, 300, 200
    embed_W, Wx, Wh, b, affine_W, affine_b = Rnnlm(V_, D_, H_, rng=1).params
    for arr, std in (
        (embed_W, 1 / 100),
        (Wx, 1 / np.sqrt(D_)),
        (Wh, 1 / np.sqrt(H_)),
        (affine_W, 1 / np.sqrt(H_)),
    ):
        assert abs(arr.std() / std - 1) <= INIT_STD_RTOL
    assert not b.any() and not affine_b.any()


def repeating_batches(n_batches=4):
    """One stream 0 1 2 ... V-1 0 1 ..., cut into (1, T) batches."""
    stream = np.tile(np.arange(V), n_batches)[: n_batches * T + 1]
    xs = stream[:-1].reshape(-1, T)[:, None]  # (batches, 1, T)
    ts = stream[1:].reshape(-1, T)[:, None]
    return list(zip(xs, ts))


def test_rnnlm_sgd_reduces_the_loss():
    model = Rnnlm(V, D, H, rng=SEED, dtype="float64")
    optimizer = SGD(lr=1.0)
    batches = repeating_batches()

    def epoch(train):
        model.reset_state()
        total = 0.0
        for xs, ts in batches:
            total += model.forward(xs, ts)
            if train:
                model.backward()
                optimizer.update(model.params, model.grads)
        return total / len(batches)

    before = epoch(train=False)
    for _ in range(20):
        epoch(train=True)
    after = epoch(train=False)
    assert before > 0.9 * np.log(V)  # starts near chance
    assert after < 0.5 * before


# --- BetterRnnlm and remove_duplicate ----------------------------------------

BETTER_NAMES = ["embed_W", "Wx1", "Wh1", "b1", "Wx2", "Wh2", "b2", "affine_b"]
DROP_SEEDS = (11, 12, 13)  # one fixed mask stream per TimeDropout


def better_setup(dropout_ratio=0.3):
    rng = np.random.default_rng(SEED)
    model = BetterRnnlm(V, H, H, dropout_ratio, rng=SEED, dtype="float64")
    randomize(model.params, rng)
    return model, word_ids(rng), word_ids(rng)


def test_better_rnnlm_structure_and_tied_weight():
    model = BetterRnnlm(V, H, H, rng=SEED)
    embed_W = model.params[0]
    assert len(model.params) == len(model.grads) == 9
    assert model.params[7].shape == (H, V)
    assert model.params[7].base is embed_W  # the affine's W is embed_W.T
    assert model.layers[-1].params[0].base is embed_W
    assert model.grads[7] is not model.grads[0]  # two gradient arrays
    assert [d.dropout_ratio for d in model.drop_layers] == [0.5] * 3
    assert all(layer.stateful for layer in model.lstm_layers)
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == len(grads) == 8
    assert params[0] is embed_W
    assert all(
        not np.may_share_memory(p, embed_W) for p in params[1:]
    )  # the transpose is gone


def test_better_rnnlm_gradients_with_dropout():
    """Train mode, masks fixed by re-seeding each TimeDropout: after
    `remove_duplicate`, embed_W's gradient is the whole derivative w.r.t.
    the shared matrix (embedding and affine parts)."""
    model, xs, ts = better_setup()

    def loss():
        model.reset_state()
        for drop, seed in zip(model.drop_layers, DROP_SEEDS):
            drop.rng = np.random.default_rng(seed)
        return float(model.forward(xs, ts, train_flg=True))

    loss()
    assert all(d.train_flg for d in model.drop_layers)
    assert any((d.mask == 0).any() for d in model.drop_layers)  # dropout on
    model.backward()
    embed_part = model.grads[0].copy()
    params, grads = remove_duplicate(model.params, model.grads)
    analytic = dict(zip(BETTER_NAMES, (g.copy() for g in grads)))
    inputs = dict(zip(BETTER_NAMES, params))
    assert_gradients(loss, analytic, inputs, LM_EPS)

    # The embedding's own gradient alone is not the derivative; the book's
    # `remove_duplicate` adds the affine part, and leaves the inputs alone.
    shared = numerical_gradient(loss, model.params[0], LM_EPS)
    assert rel_err(embed_part, shared) > CARRIED_MIN_DIFF
    np.testing.assert_array_equal(model.grads[0], embed_part)


def test_better_rnnlm_predict_is_deterministic_without_dropout():
    model, xs, _ = better_setup(dropout_ratio=0.5)
    scores = model.predict(xs)  # train_flg=False
    assert scores.shape == (N, T, V)
    assert not any(d.train_flg for d in model.drop_layers)
    model.reset_state()
    np.testing.assert_array_equal(model.predict(xs), scores)
    model.reset_state()
    trained = model.predict(xs, train_flg=True)
    assert np.abs(trained - scores).max() > CARRIED_MIN_DIFF


def test_better_rnnlm_sgd_steps_reduce_the_loss():
    """The book's initial weights, one batch, dropout on with fixed masks:
    each SGD step on the merged gradients lowers the loss."""
    model = BetterRnnlm(V, H, H, 0.3, rng=SEED, dtype="float64")
    rng = np.random.default_rng(SEED)
    xs, ts = word_ids(rng), word_ids(rng)
    optimizer = SGD(lr=1.0)

    def loss():
        model.reset_state()
        for drop, seed in zip(model.drop_layers, DROP_SEEDS):
            drop.rng = np.random.default_rng(seed)
        return float(model.forward(xs, ts, train_flg=True))

    losses = [loss()]
    for _ in range(10):
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        optimizer.update(params, grads)
        losses.append(loss())
    np.testing.assert_array_equal(model.params[7], model.params[0].T)  # tied
    assert losses[0] > 0.99 * np.log(V)  # the book's tiny weights: chance
    assert all(b < a for a, b in itertools.pairwise(losses))
    assert losses[-1] < losses[0] - SGD_MIN_DROP


def test_better_rnnlm_needs_wordvec_size_equal_hidden_size():
    with pytest.raises(ValueError, match="wordvec_size must equal hidden"):
        BetterRnnlm(V, D, H)


def test_remove_duplicate_same_array_and_transpose():
    rng = np.random.default_rng(SEED)
    W, U = rng.normal(size=(2, 3)), rng.normal(size=(3,))
    gW, gW2, gU, gT = (rng.normal(size=s) for s in ((2, 3), (2, 3), 3, (3, 2)))
    params = [W, U, W, W.T]
    grads = [gW, gU, gW2, gT]
    before = [g.copy() for g in grads]
    merged_p, merged_g = remove_duplicate(params, grads)
    assert len(merged_p) == 2 and merged_p[0] is W and merged_p[1] is U
    np.testing.assert_allclose(merged_g[0], gW + gW2 + gT.T, rtol=1e-15)
    assert merged_g[1] is gU
    assert len(params) == 4  # the input lists and arrays are not modified
    for g, g0 in zip(grads, before):
        np.testing.assert_array_equal(g, g0)


def test_remove_duplicate_keeps_equal_but_distinct_weights():
    """Two zero matrices of transposed shapes are two weights (the book's
    value comparison would merge them)."""
    A, B = np.zeros((2, 3)), np.zeros((3, 2))
    gA, gB = np.ones((2, 3)), np.ones((3, 2))
    params, grads = remove_duplicate([A, B], [gA, gB])
    assert len(params) == 2 and params[0] is A and params[1] is B
    assert grads[0] is gA and grads[1] is gB


# --- Book <-> keras.layers.LSTM weights --------------------------------------


def keras_lstm_forward(xs, kernel, recurrent_kernel, bias):
    """keras.layers.LSTM's equations, gate order i, f, c, o, from zeros."""
    n, t_steps, _ = xs.shape
    h_units = recurrent_kernel.shape[0]
    h = np.zeros((n, h_units))
    c = np.zeros((n, h_units))
    hs = []
    for t in range(t_steps):
        z = xs[:, t] @ kernel + h @ recurrent_kernel + bias
        z0, z1, z2, z3 = np.split(z, 4, axis=1)
        i = book_sigmoid(z0)
        f = book_sigmoid(z1)
        c = f * c + i * np.tanh(z2)
        o = book_sigmoid(z3)
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1)


def test_book_to_keras_lstm_gives_the_same_h():
    Wx, Wh, b, xs, _, _, _ = time_setup()
    kernel, recurrent_kernel, bias = book_to_keras_lstm(Wx, Wh, b)
    hs_keras = keras_lstm_forward(xs, kernel, recurrent_kernel, bias)
    hs_book = TimeLSTM(Wx, Wh, b).forward(xs)
    np.testing.assert_allclose(hs_keras, hs_book, rtol=0, atol=KERAS_EQ_ATOL)
    # The blocks: Keras's i, f, c, o are the book's i, f, g, o.
    for keras_k, book_k in ((0, 2), (1, 0), (2, 1), (3, 3)):
        keras_cols = slice(keras_k * H, (keras_k + 1) * H)
        book_cols = slice(book_k * H, (book_k + 1) * H)
        np.testing.assert_array_equal(kernel[:, keras_cols], Wx[:, book_cols])
        np.testing.assert_array_equal(
            recurrent_kernel[:, keras_cols], Wh[:, book_cols]
        )
        np.testing.assert_array_equal(bias[keras_cols], b[book_cols])


def test_keras_to_book_lstm_gives_the_same_h():
    rng = np.random.default_rng(SEED)
    kernel, recurrent_kernel, bias = make_params(rng)  # as Keras's
    xs = rng.normal(size=(N, T, D))
    Wx, Wh, b = keras_to_book_lstm(kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(
        TimeLSTM(Wx, Wh, b).forward(xs),
        keras_lstm_forward(xs, kernel, recurrent_kernel, bias),
        rtol=0,
        atol=KERAS_EQ_ATOL,
    )

    # use_bias=False: bias None, the book's b zeros
    Wx0, Wh0, b0 = keras_to_book_lstm(kernel, recurrent_kernel)
    assert b0.shape == (4 * H,) and b0.dtype == kernel.dtype and not b0.any()
    np.testing.assert_allclose(
        TimeLSTM(Wx0, Wh0, b0).forward(xs),
        keras_lstm_forward(xs, kernel, recurrent_kernel, 0.0),
        rtol=0,
        atol=KERAS_EQ_ATOL,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_conversion_round_trips_exactly(dtype):
    rng = np.random.default_rng(SEED)
    book = make_params(rng, dtype=dtype)
    keras_weights = book_to_keras_lstm(*book)
    back = keras_to_book_lstm(*keras_weights)
    for original, converted, returned in zip(book, keras_weights, back):
        assert converted.dtype == returned.dtype == dtype
        assert converted is not original and returned is not original
        np.testing.assert_array_equal(returned, original)
    again = book_to_keras_lstm(*back)
    for a, k in zip(again, keras_weights):
        np.testing.assert_array_equal(a, k)
    assert not np.array_equal(keras_weights[0], book[0])  # really permuted


def _bad(shapes):
    rng = np.random.default_rng(SEED)
    return [rng.normal(size=s) for s in shapes]


GOOD = [(D, 4 * H), (H, 4 * H), (4 * H,)]
BAD_SHAPES = [
    # (argument index, replacement shape, what the message must say)
    (0, (D, 4 * H + 1), "multiple of 4"),
    (0, (D, 0), "multiple of 4"),
    (0, (4 * H,), "2 dimension"),
    (1, (H, 4 * H + 4), "must equal"),
    (1, (H + 1, 4 * H), f"({H}, {4 * H})"),
    (1, (H, 4 * H, 1), "2 dimension"),
    (2, (4 * H + 4,), "must equal"),
    (2, (1, 4 * H), "1 dimension"),
    (2, (6,), "multiple of 4"),
]


@pytest.mark.parametrize(
    "convert, names",
    [
        (book_to_keras_lstm, ("Wx", "Wh", "b")),
        (keras_to_book_lstm, ("kernel", "recurrent_kernel", "bias")),
    ],
)
@pytest.mark.parametrize("index, shape, expected", BAD_SHAPES)
def test_lstm_conversion_bad_shapes_name_the_argument(
    convert, names, index, shape, expected
):
    shapes = list(GOOD)
    shapes[index] = shape
    with pytest.raises(ValueError, match=rf"^{names[index]}\b") as info:
        convert(*_bad(shapes))
    assert expected in str(info.value)


def test_keras_to_book_lstm_bad_kernel_without_bias():
    with pytest.raises(ValueError, match=re.escape("kernel's last axis")):
        keras_to_book_lstm(np.zeros((D, 6)), np.zeros((H, 6)))
