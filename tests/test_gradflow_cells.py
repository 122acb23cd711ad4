"""`gradflow` for the LSTM and the GRU: how far back their gradients
reach, next to the RNN's (the book's chapter 6 argument, and its appendix's
GRU, measured)."""

import re

import numpy as np
import pytest

from keras_scratch_rnn import cli, reference
from keras_scratch_rnn.learn import figures, gradflow
from keras_scratch_rnn.tolerances import GRADFLOW_RTOL

PNG = b"\x89PNG\r\n\x1a\n"
# T = 101: t = 0 is 100 steps back from the loss on h_{T-1}.
T_100_BACK = 101
# With the standard initializers (glorot_uniform kernel, orthogonal
# recurrent kernel, zero bias, unit_forget_bias=True), |dL/dh_0| of the LSTM
# is at least this many times the RNN's, 100 steps back (measured 1.4e4 to
# 5.6e5 over seeds 0-9: the LSTM shrinks by about 0.79 per step, the RNN
# by about 0.72).
LSTM_OVER_RNN = 1e3
# ... and unit_forget_bias=True makes it this many times larger than
# unit_forget_bias=False (f near 0.73 instead of 0.5; measured 1.4e13 to
# 4.7e13).
FORGET_BIAS_GAIN = 1e10
# With Keras's default GRU (reset_after=True, zero bias: z near 0.5), |dL/dh_0|
# of the GRU is at most this fraction of the RNN's, 100 steps back (measured
# 1.4e-5 to 1.1e-6 over seeds 0-9: the GRU shrinks by about 0.62 per step,
# the RNN by about 0.72).
GRU_UNDER_RNN = 1e-3
# ... and with a bias of 1 on z (z near 0.73, as unit_forget_bias makes the
# LSTM's f) at least this many times the RNN's (measured 1.7e3 to 1.6e5 over
# seeds 0-5), its factor per step within GRU_RATE_NEAR_LSTM of the LSTM's dc
# (measured 0.78-0.80 against 0.81-0.84: 0.015 to 0.049 below).
UPDATE_BIAS_OVER_RNN = 1e3
GRU_RATE_NEAR_LSTM = 0.06
SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_gradient_reaches_further_than_the_rnns(seed):
    """The book's argument: through c (dc_prev = ds * f: no matmul, no
    tanh') the gradient survives longer. Before training it still vanishes
    (f is near 0.73), but 100 steps back the LSTM's |dL/dh_t| is more than
    LSTM_OVER_RNN times the RNN's, and its |dL/dc_t| stays above 1e-3 of its
    start for more steps than the RNN's |dL/dh_t|."""
    rnn = gradflow.gradient_norms(T_100_BACK, 1.0, seed=seed)
    lstm = gradflow.lstm_gradient_norms(T_100_BACK, 1.0, seed=seed)
    assert rnn[-1] == pytest.approx(1.0) == lstm.h[-1]
    assert lstm.h[0] > LSTM_OVER_RNN * rnn[0], (lstm.h[0], rnn[0])
    assert lstm.c[0] > LSTM_OVER_RNN * rnn[0]
    rnn_kind, rnn_reach = gradflow.verdict(rnn)
    c_kind, c_reach = gradflow.verdict(lstm.c)
    assert rnn_kind == c_kind == "vanishes"  # both, before training
    assert c_reach >= rnn_reach + 5, (c_reach, rnn_reach)
    assert gradflow.rate(lstm.c) > gradflow.rate(rnn) + 0.03


def test_unit_forget_bias_is_what_keeps_it():
    """Without unit_forget_bias the forget gate starts near 0.5, and the
    LSTM's gradient 100 steps back is FORGET_BIAS_GAIN times smaller, below
    the RNN's: the LSTM's advantage at initialization is the forget bias."""
    with_bias = gradflow.lstm_gradient_norms(T_100_BACK, 1.0)
    without = gradflow.lstm_gradient_norms(
        T_100_BACK, 1.0, unit_forget_bias=False
    )
    rnn = gradflow.gradient_norms(T_100_BACK, 1.0)
    sigmoid_1 = 1 / (1 + np.exp(-1))
    assert with_bias.forget == pytest.approx(sigmoid_1, abs=0.02)
    assert without.forget == pytest.approx(0.5, abs=0.02)
    assert with_bias.h[0] > FORGET_BIAS_GAIN * without.h[0]
    assert without.h[0] < rnn[0]


def test_the_path_through_c_does_not_explode():
    """Wh = 3 x orthogonal: the RNN's gradient explodes (over 1e3 times its
    start); the LSTM's, which goes back through c multiplied by f < 1 and
    never by Wh, grows only where dh feeds ds (measured 2.2 times its
    start at most) and then shrinks."""
    T = 40
    rnn = gradflow.gradient_norms(T, 3.0)
    lstm = gradflow.lstm_gradient_norms(T, 3.0)
    assert gradflow.verdict(rnn)[0] == "explodes"
    for norms in (lstm.h, lstm.c):
        assert gradflow.verdict(norms)[0] != "explodes"
        assert gradflow.relative(norms).max() < 10


def test_lstm_norms_are_the_books_backward():
    """|dL/dh_t| and |dL/dc_t| (the book's ds) equal those of the NumPy
    reference's LSTM.backward loop (chapter 6), in float64."""
    T, scale = 12, 0.9
    flow = gradflow.lstm_gradient_norms(T, scale)
    x, _, _, kernel, recurrent, bias, g = gradflow.lstm_problem(T, scale)
    lstm = reference.TimeLSTM(
        *reference.keras_to_book_lstm(kernel, recurrent, bias)
    )
    lstm.forward(x)
    dh, dc = g, np.zeros_like(g)
    h_norms, c_norms = [], []
    for t in reversed(range(T)):
        layer = lstm.layers[t]
        *_, o, c_next = layer.cache
        ds = dc + dh * o * (1 - np.tanh(c_next) ** 2)  # as LSTM.backward
        h_norms.append(np.linalg.norm(dh))
        c_norms.append(np.linalg.norm(ds))
        _, dh, dc = layer.backward(dh, dc)
    np.testing.assert_allclose(flow.h, h_norms[::-1], rtol=GRADFLOW_RTOL)
    np.testing.assert_allclose(flow.c, c_norms[::-1], rtol=GRADFLOW_RTOL)
    forget = np.mean([layer.cache[4] for layer in lstm.layers])
    assert flow.forget == pytest.approx(forget, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_kerass_default_gru_vanishes_faster_than_the_rnn(seed):
    """Keras starts the GRU's bias at 0, so its update gate z is near 0.5:
    along the direct path dh_{t-1} = dh_t * z the gradient halves at each
    step, and in all |dL/dh_t| shrinks faster than the RNN's, 100 steps
    back less than GRU_UNDER_RNN times it."""
    rnn = gradflow.gradient_norms(T_100_BACK, 1.0, seed=seed)
    gru = gradflow.gru_gradient_norms(T_100_BACK, 1.0, seed=seed)
    assert gru.h[-1] == pytest.approx(1.0)
    assert gru.update == pytest.approx(0.5, abs=0.01)
    assert gru.h[0] < GRU_UNDER_RNN * rnn[0], (gru.h[0], rnn[0])
    assert gradflow.rate(gru.h) < gradflow.rate(rnn) - 0.05
    gru_kind, gru_reach = gradflow.verdict(gru.h)
    assert gru_kind == gradflow.verdict(rnn)[0] == "vanishes"
    assert gru_reach < gradflow.verdict(rnn)[1]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_bias_on_z_makes_the_gru_reach_as_the_lstm(seed):
    """A bias of 1 on z (z near sigmoid(1) = 0.73, the LSTM's f with
    unit_forget_bias): 100 steps back the GRU's |dL/dh_t| is more than
    UPDATE_BIAS_OVER_RNN times the RNN's, stays above 1e-3 of its start for
    more steps, and shrinks per step nearly as the LSTM's |dL/dc_t|."""
    rnn = gradflow.gradient_norms(T_100_BACK, 1.0, seed=seed)
    lstm = gradflow.lstm_gradient_norms(T_100_BACK, 1.0, seed=seed)
    gru = gradflow.gru_gradient_norms(
        T_100_BACK, 1.0, seed=seed, update_bias=1.0
    )
    assert gru.update == pytest.approx(1 / (1 + np.exp(-1)), abs=0.02)
    assert gru.h[0] > UPDATE_BIAS_OVER_RNN * rnn[0], (gru.h[0], rnn[0])
    assert gradflow.verdict(gru.h)[1] > gradflow.verdict(rnn)[1]
    rate, lstm_rate = gradflow.rate(gru.h), gradflow.rate(lstm.c)
    assert lstm_rate - GRU_RATE_NEAR_LSTM < rate < lstm_rate, (rate, lstm_rate)


def test_the_grus_gradient_does_not_explode():
    """Wh = 3 x orthogonal: the RNN's gradient explodes; the GRU's, whose
    paths through Wh are damped by 1 - z, r and sigmoid', never rises above
    its start (measured: its start is its largest value) and vanishes."""
    T = 40
    rnn = gradflow.gradient_norms(T, 3.0)
    gru = gradflow.gru_gradient_norms(T, 3.0)
    assert gradflow.verdict(rnn)[0] == "explodes"
    assert gradflow.verdict(gru.h)[0] != "explodes"
    assert gradflow.relative(gru.h).max() == 1.0


def test_gru_norms_are_the_books_backward():
    """Where the book's GRU is Keras's (reset_after=False, zero bias, z
    negated): |dL/dh_t| equals that of the NumPy reference's GRU.backward
    loop (the appendix), and the mean z is 1 minus the book's, in float64."""
    T, scale = 12, 0.9
    flow = gradflow.gru_gradient_norms(T, scale, reset_after=False)
    x, _, kernel, recurrent, bias, g = gradflow.gru_problem(
        T, scale, reset_after=False
    )
    assert bias.shape == (3 * 16,) and not bias.any()
    gru = reference.TimeGRU(
        *reference.keras_to_book_gru(kernel, recurrent, bias)
    )
    gru.forward(x)
    dh, h_norms = g, []
    for t in reversed(range(T)):
        h_norms.append(np.linalg.norm(dh))
        _, dh = gru.layers[t].backward(dh)
    np.testing.assert_allclose(flow.h, h_norms[::-1], rtol=GRADFLOW_RTOL)
    book_z = np.mean([layer.cache[2] for layer in gru.layers])
    assert flow.update == pytest.approx(1 - book_z, rel=1e-12)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_norms_are_kerass_gru_autodiff(reset_after):
    """In both forms and with a bias on z (where no book weights exist for
    reset_after=True), |dL/dh_t| equals TensorFlow's autodiff through
    keras.layers.GRUCell, step by step, in float64."""
    import keras
    import tensorflow as tf

    T, scale, H = 12, 0.9, 16
    flow = gradflow.gru_gradient_norms(
        T, scale, reset_after=reset_after, update_bias=0.5
    )
    x, h, kernel, recurrent, bias, g = gradflow.gru_problem(
        T, scale, reset_after=reset_after, update_bias=0.5
    )
    cell = keras.layers.GRUCell(H, reset_after=reset_after, dtype="float64")
    cell.build((None, x.shape[-1]))
    cell.set_weights([kernel, recurrent, bias])
    x, h, states = tf.constant(x), tf.constant(h), []
    with tf.GradientTape() as tape:
        for t in range(T):
            h, _ = cell(x[:, t], [h])
            tape.watch(h)
            states.append(h)  # h_t
        loss = tf.reduce_sum(g * h)
    norms = [float(tf.norm(d)) for d in tape.gradient(loss, states)]
    np.testing.assert_allclose(flow.h, norms, rtol=GRADFLOW_RTOL)


def test_problems_draw_as_kerass_default_initializers():
    """Scale 1 is SimpleRNN's, LSTM's and GRU's default initialization:
    kernel within glorot_uniform's limit, recurrent kernel with orthonormal
    rows (orthogonal), zero bias but the LSTM's forget gate's ones (and the
    GRU's z's `update_bias`), in the GRU's layout of either form."""
    H, D = 16, 4
    x, h0, kernel, recurrent, bias, g = gradflow.problem(7, 1.0)
    assert np.abs(kernel).max() <= np.sqrt(6 / (D + H))
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(H), atol=1e-12)
    assert not bias.any() and not h0.any()
    assert np.linalg.norm(g) == pytest.approx(1.0)
    lx, lh0, lc0, lkernel, lrecurrent, lbias, lg = gradflow.lstm_problem(7, 2.0)
    np.testing.assert_array_equal(lx, x)  # the same inputs and g as the RNN
    np.testing.assert_array_equal(lg, g)
    assert lkernel.shape == (D, 4 * H) and lrecurrent.shape == (H, 4 * H)
    assert np.abs(lkernel).max() <= np.sqrt(6 / (D + 4 * H))
    np.testing.assert_allclose(
        lrecurrent @ lrecurrent.T, 4 * np.eye(H), atol=1e-12
    )  # scale 2: rows of norm 2
    np.testing.assert_array_equal(
        lbias, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)]
    )
    assert not lh0.any() and not lc0.any()
    gx, gh0, gkernel, grecurrent, gbias, gg = gradflow.gru_problem(7, 2.0)
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gg, g)
    assert gkernel.shape == (D, 3 * H) and grecurrent.shape == (H, 3 * H)
    assert np.abs(gkernel).max() <= np.sqrt(6 / (D + 3 * H))
    np.testing.assert_allclose(
        grecurrent @ grecurrent.T, 4 * np.eye(H), atol=1e-12
    )
    assert gbias.shape == (2, 3 * H) and not gbias.any() and not gh0.any()
    z_only = np.r_[np.full(H, 1.5), np.zeros(2 * H)]
    bias = gradflow.gru_problem(7, 1.0, update_bias=1.5)[4]  # reset_after
    np.testing.assert_array_equal(bias[0], z_only)  # b_x of z only
    assert not bias[1].any()
    bias = gradflow.gru_problem(7, 1.0, reset_after=False, update_bias=1.5)[4]
    np.testing.assert_array_equal(bias, z_only)


def test_verdict_and_rate_count_from_the_start():
    """Relative to the value at t = T-1, whatever it is: a norm halving at
    each step back from 3 is above 1e-3 of its start for 9 steps."""
    norms = 3 * 0.5 ** np.arange(14, -1, -1)  # t = 0..14, 3 at t = T-1
    assert gradflow.verdict(norms) == ("vanishes", 9)
    assert gradflow.rate(norms) == pytest.approx(0.5)
    assert gradflow.verdict(2.0 ** np.arange(0, 15)) == ("vanishes", 9)
    assert gradflow.verdict(2.0 ** np.arange(14, -1, -1)) == ("explodes", 10)
    assert gradflow.verdict(np.ones(5)) == ("within", 4)


def _reach(out, curve):
    """The steps back `curve` stays above 1e-3 of its start, as printed."""
    match = re.search(
        rf"{curve} vanishes: above 0\.001 of its start up to (\d+) steps",
        out.replace("\n", " "),
    )
    assert match, (curve, out)
    return int(match[1])


def test_cli_prints_every_cell_and_draws_them(tmp_path, capsys):
    """`gradflow` (default --cell all): a row per cell and gradient, how
    far back each stays above 1e-3 of its start, the ratios at t = 0, the
    mean gates, and one figure with the three cells."""
    path = tmp_path / "gradflow.png"
    argv = ["gradflow", "--lengths", "5", str(T_100_BACK), "--scales", "1"]
    assert cli.main([*argv, "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    text = out.replace("\n", " ")  # the sentences, unwrapped
    for curve in ("RNN dh", "LSTM dh", "LSTM dc", "GRU dh"):
        assert re.search(rf"^1 +{T_100_BACK} +{curve} ", out, re.M), curve
    assert _reach(out, "LSTM dc") >= _reach(out, "RNN dh") + 5
    assert _reach(out, "GRU dh") < _reach(out, "RNN dh")
    ratio = re.search(r"At t = 0 the LSTM's dh is (\S+) times the RNN's", text)
    assert ratio and float(ratio[1]) > LSTM_OVER_RNN
    ratio = re.search(r"At t = 0 the GRU's dh is (\S+) times the RNN's", text)
    assert ratio and float(ratio[1]) < GRU_UNDER_RNN
    assert "Mean forget gate f = 0.73" in text
    assert "Mean update gate z = 0.50" in text
    assert "truncated BPTT" in text and "dc_{t-1} = ds * f" in text
    assert "dh_{t-1} = dh_t * z + (the paths through z, r and hh" in text
    assert "ops.rnn_step, ops.lstm_step, ops.gru_step" in text
    assert "reset_after=True" in text
    assert out.rstrip().endswith(f"Saved the plot to {path}")
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) < 250_000


def test_cli_one_cell(capsys):
    argv = ["gradflow", "--lengths", "30", "--scales", "1", "--units", "8"]
    assert cli.main([*argv, "--cell", "lstm"]) == 0
    out = capsys.readouterr().out
    assert "LSTM dh" in out and "LSTM dc" in out
    assert "RNN dh" not in out and "At t = 0" not in out
    assert "units=8" in out
    assert cli.main([*argv, "--cell", "rnn"]) == 0
    out = capsys.readouterr().out
    assert "RNN dh" in out and "LSTM" not in out and "GRU" not in out
    assert cli.main([*argv, "--cell", "gru"]) == 0
    out = capsys.readouterr().out
    assert "GRU dh" in out and "Mean update gate z" in out
    rows = re.findall(r"^1 +30 +(\w+ \w+) ", out, re.M)
    assert rows == ["GRU dh"], rows  # its moral names the others
    assert "At t = 0" not in out and "ops.gru_step" in out


def test_cli_gru_form_and_update_bias(capsys):
    """`--no-reset-after --update-bias 1`: the book's form with a bias of 1
    on z, said in the report, its numbers those of `gru_gradient_norms`
    with the same options (the table's 2 significant digits); the GRU's
    options are refused without the GRU."""
    argv = ["gradflow", "--lengths", "30", "--scales", "1", "--cell", "gru"]
    assert cli.main([*argv, "--no-reset-after", "--update-bias", "1"]) == 0
    out = capsys.readouterr().out
    assert "reset_after=False, the book's form, its bias 0 but 1 on z" in (
        " ".join(out.split())
    )
    row = re.search(r"^1 +30 +GRU dh +(.+)$", out, re.M)[1].split()
    norms = gradflow.relative(
        gradflow.gru_gradient_norms(
            30, 1.0, reset_after=False, update_bias=1.0
        ).h
    )
    assert float(row[-1]) == float(f"{norms[0]:.1e}")  # t = 0
    assert float(row[0]) == float(f"{norms[28]:.1e}")  # t = T-2
    for wrong in (["--no-reset-after"], ["--update-bias", "0.5"]):
        with pytest.raises(SystemExit):
            cli.main(["gradflow", "--cell", "lstm", *wrong])
        err = capsys.readouterr().err
        assert "are the GRU's: add --cell gru" in err
    with pytest.raises(SystemExit):
        cli.main([*argv, "--update-bias", "nan"])
    assert "expected a finite number, got 'nan'" in capsys.readouterr().err


def test_cli_in_japanese(capsys):
    argv = ["gradflow", "--lengths", "40", "--scales", "1", "--lang", "ja"]
    assert cli.main(argv) == 0
    out = re.sub(r"\s+", "", capsys.readouterr().out)  # wrapped anywhere
    assert "RNNdhは消失:最初の値の0.001倍を上回るのは" in out
    assert "忘却ゲートfの平均は0.73。" in out
    assert "t=0でLSTMのdhはRNNの" in out
    assert "更新ゲートzの平均は0.50。" in out
    assert "t=0でGRUのdhはRNNの" in out
    assert "GRUにも同じような道がある" in out
    assert "TruncatedBPTT" in out


def test_japanese_plot_without_a_japanese_font_is_one_line(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(figures, "japanese_font", lambda: None)
    path = tmp_path / "g.png"
    argv = ["gradflow", "--lang", "ja", "--plot", str(path)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and "Japanese glyphs" in err, err
    assert not path.exists()
    with pytest.raises(ValueError, match="Japanese glyphs"):
        gradflow.plot([], path, lang="ja")


def test_japanese_plot(tmp_path):
    """Drawn where a font with Japanese glyphs is installed; refused with
    one clear error where none is (CI's machine): either way asserted."""
    results = gradflow.run((12,), (1.0, 3.0))
    if figures.japanese_font() is None:
        with pytest.raises(ValueError, match="Japanese glyphs"):
            gradflow.plot(results, tmp_path / "ja.png", lang="ja")
        assert not (tmp_path / "ja.png").exists()
        return
    path = gradflow.plot(results, tmp_path / "ja.png", lang="ja")
    assert path.read_bytes()[:8] == PNG


def test_bad_cells_and_languages():
    with pytest.raises(ValueError, match="`cells`"):
        gradflow.run((5,), (1.0,), cells=("rnn", "cnn"))
    with pytest.raises(ValueError, match="`cells`"):
        gradflow.run((5,), (1.0,), cells=())
    with pytest.raises(ValueError, match="`lang`"):
        gradflow.plot([], "unused.png", lang="fr")
