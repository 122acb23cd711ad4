# ruff: noqa: RUF001 (Japanese output uses full-width punctuation)
"""`explain`: every argument explained in both languages, demos that prove
what they say, code pointers that still point at code, aligned output."""

import inspect
import re

import keras
import numpy as np
import pytest

from keras_scratch_rnn import ScratchGRU, ScratchLSTM, ScratchRNN, cli
from keras_scratch_rnn.learn import demos, explain
from keras_scratch_rnn.terminal import display_width, table, wrap
from keras_scratch_rnn.tolerances import FLOAT32_PARITY

# Keys every Keras layer's get_config() has; not SimpleRNN parameters.
BASE_KEYS = {"name", "dtype", "trainable"}
CALL_ARGUMENTS = {"initial_state", "mask", "training"}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# A demo runs in well under this on 2 cores (measured: under 1 s each).
DEMO_SECONDS = 10

# With test_docs.py in one worker, to share `demo_reports`.
pytestmark = pytest.mark.xdist_group("demos")


def _live_arguments():
    config = set(keras.layers.SimpleRNN(1).get_config())
    return (config - BASE_KEYS) | {"seed"} | CALL_ARGUMENTS


def test_explained_arguments_are_the_live_simple_rnn_ones():
    """A new Keras argument (or a dropped one) makes this fail."""
    assert set(explain.argument_names()) == _live_arguments()
    assert len(explain.argument_names()) == len(set(explain.argument_names()))
    call = inspect.signature(keras.layers.SimpleRNN.call).parameters
    assert set(call) - {"self", "sequences"} == CALL_ARGUMENTS
    assert {a.name for a in explain.ARGUMENTS if a.call} == CALL_ARGUMENTS


def test_scratch_rnn_config_has_the_same_arguments():
    config = set(ScratchRNN(1).get_config()) - BASE_KEYS
    assert config | CALL_ARGUMENTS == set(explain.argument_names())


def test_defaults_are_the_live_defaults():
    """The shown defaults are ScratchRNN's signature's, and SimpleRNN's
    constructor's. (SimpleRNN's `call` says `training=False`, ScratchRNN's
    `None`: both mean inference unless an enclosing call says otherwise.)"""
    layer = inspect.signature(ScratchRNN.__init__).parameters
    simple = inspect.signature(keras.layers.SimpleRNN.__init__).parameters
    call = inspect.signature(ScratchRNN.call).parameters
    for argument in explain.ARGUMENTS:
        source = call if argument.call else layer
        default = source[argument.name].default
        if default is inspect.Parameter.empty:
            assert argument.default is None, argument.name
            continue
        assert argument.default == repr(default), argument.name
        if not argument.call and argument.name in simple:
            assert repr(simple[argument.name].default) == argument.default


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_every_text_exists_in_both_languages(lang):
    index = explain.LANGUAGES.index(lang)
    for argument in explain.ARGUMENTS:
        assert argument.topic in explain.TOPICS, argument.name
        text = argument.meaning[index]
        assert text.strip(), argument.name
        assert bool(JAPANESE.search(text)) == (lang == "ja"), text
    for topic in explain.TOPICS.values():
        for field in ("summary", "forward", "backward", "mistake"):
            text = getattr(topic, field)[index]
            assert text.strip(), (topic.name, field)
            assert bool(JAPANESE.search(text)) == (lang == "ja"), text


def test_every_topic_is_used_and_has_a_demo():
    used = {a.topic for a in explain.ARGUMENTS}
    assert used == set(explain.TOPICS) == set(demos.DEMOS)


def test_resolve_accepts_topics_and_arguments():
    assert explain.resolve("kernel_initializer").name == "initializers"
    assert explain.resolve("activity_regularizer").name == "regularizers"
    assert explain.resolve("go_backwards").name == "go_backwards"
    assert explain.resolve("nonsense") is None


@pytest.mark.parametrize(
    "typed", ["go-backwards", "Go_Backwards", " GO-BACKWARDS "]
)
def test_resolve_accepts_dashes_and_any_case(typed):
    assert explain.resolve(typed) is explain.TOPICS["go_backwards"]
    assert explain.resolve("Kernel-Initializer").name == "initializers"


def test_names_are_listed_once():
    names = explain.names()
    assert len(names) == len(set(names))
    assert set(names) == set(explain.TOPICS) | set(explain.argument_names())


def _all_refs():
    return [
        (topic.name, ref)
        for topic in explain.all_topics().values()
        for ref in topic.forward_refs + topic.backward_refs
    ] + [
        (f"{name} ({cell} note)", ref)
        for cell, notes in explain.NOTES.items()
        for name, note in notes.items()
        for ref in note.refs
    ]


@pytest.mark.parametrize(
    "topic, ref", _all_refs(), ids=lambda v: getattr(v, "code", v)
)
def test_code_pointers_still_point_at_code(topic, ref):
    """Each quoted line is still in the named function of the named file."""
    assert explain.code_ref_exists(ref), (topic, ref)


def test_a_stale_code_pointer_is_noticed():
    ref = explain.TOPICS["mask"].backward_refs[0]
    stale = explain.CodeRef(ref.file, ref.function, ref.code + " + 1")
    moved = explain.CodeRef(ref.file, "rnn_step", ref.code)
    missing = explain.CodeRef(ref.file, "no_such_function", ref.code)
    assert explain.code_ref_exists(ref)
    assert not explain.code_ref_exists(stale)
    assert not explain.code_ref_exists(moved)
    assert not explain.code_ref_exists(missing)


def test_every_topic_points_at_the_forward_or_says_why_not():
    for topic in explain.all_topics().values():
        assert topic.forward_refs, topic.name
    for notes in explain.NOTES.values():
        for name, note in notes.items():
            assert note.refs, name


# ---------------------------------------------------------------------------
# The demonstrations: each claim they print is asserted here.


def _close(a, b):
    return abs(a - b) <= FLOAT32_PARITY * max(1.0, abs(b))


CLAIMS = {
    "units": lambda f: (
        f["params_3_ScratchRNN"] == f["params_3_SimpleRNN"] == 18
        and f["params_1_ScratchRNN"] == 4
        and f["output_shape_3_ScratchRNN"] == (2, 3)
        and f["sequence_shape_3_SimpleRNN"] == (2, 4, 3)
        and f["params_independent_of_T"]
    ),
    "activation": lambda f: (
        f["outputs_None"] == [1.0, -0.5, -0.75, -1.125, -1.6875, -2.53125]
        and f["linear_explodes"]
        and f["tanh_bounded"]
        and f["relu_dead_gradient"]
        and f["linear_gradient"] == 1.5**5
    ),
    "use_bias": lambda f: (
        f["outputs_True"] == [0.25, 0.375, 0.4375, 0.46875]
        and f["outputs_False"] == [0.0] * 4
        and (f["num_weights_True"], f["num_weights_False"]) == (3, 2)
        and f["set_weights_mismatch_raises"]
    ),
    "initializers": lambda f: (
        f["orthogonal_ScratchRNN"]
        and f["orthogonal_SimpleRNN"]
        and f["glorot_bound_ScratchRNN"]
        and f["unseeded_layers_differ"]
    ),
    "regularizers": lambda f: (
        _close(f["scratch_penalties"][0], 0.005)
        and _close(f["scratch_penalties"][1], 1.25)
        and _close(f["simple_penalties"][0], 0.005)
    ),
    "constraints": lambda f: (
        f["negative_before_ScratchRNN"]
        and f["non_negative_after_ScratchRNN"]
        and f["negative_before_SimpleRNN"]
        and f["non_negative_after_SimpleRNN"]
    ),
    "dropout": lambda f: (
        f["mask_reused_over_time"]
        and f["mask_values"] == [0.0, 2.0]
        and f["samples_differ"]
        and f["inference_is_identity"]
    ),
    "recurrent_dropout": lambda f: (
        f["some_dropped_some_kept"]
        and f["dropped_units_stay_1"]
        and f["kept_units_grow"]
        and f["first_output_not_dropped"]
    ),
    "seed": lambda f: (
        f["same_seed_same_mask"]
        and f["scratch_equals_simple"]
        and f["next_call_new_mask"]
        and f["scratch_config_keeps_seed"]
    ),
    "return_sequences": lambda f: (
        f["shape_False"] == (1, 1)
        and f["shape_True"] == (1, 4, 1)
        and f["last_is_sequence_end"]
        and f["masked_last_output"] == 4.25
        and f["stacking_needs_sequences"]
    ),
    "return_state": lambda f: (
        f["tuple_False"]
        and f["tuple_True"]
        and f["length_False"] == f["length_True"] == 2
        and f["state_is_last_output_False"]
        and f["state_is_last_output_True"]
        and f["masked_output_zero_state_kept"] == (0.0, 4.25)
    ),
    "go_backwards": lambda f: (
        f["equals_forward_on_reversed_input"]
        and f["first_output_is_last_input"]
        and f["flipped_back_differs_from_forward"]
    ),
    "stateful": lambda f: (
        f["chunks_equal_whole"]
        and f["state_after_chunk_1"] == [2.5, 0.0]
        and f["swapped_rows_differ"]
        and f["gradient_stops_at_chunk"]
        and f["other_batch_size_raises"]
        and f["model_has_no_reset_states"]
    ),
    "unroll": lambda f: f["same_numbers"] and f["unknown_T_raises"],
    "zero_output_for_mask": lambda f: (
        f["repeats_previous"] == [1.0, 1.0, 3.5, 3.5]
        and f["zeros"] == [1.0, 0.0, 3.5, 0.0]
        and f["state_same_either_way"]
        and f["last_output_zero"]
    ),
    "initial_state": lambda f: (
        f["difference"] == [1.0, 0.5, 0.25, 0.125]
        and f["dh0"] == 0.9375
        and f["vector_state_raises"]
    ),
    "mask": lambda f: (
        f["state_carried"]
        and f["after_gap"] == 5.25
        and f["masked_input_gradient_zero"]
    ),
    "training": lambda f: f["default_is_inference"] and f["training_drops"],
}


@pytest.fixture(scope="module")
def reports(demo_reports):
    return demo_reports


def test_every_demo_has_claims():
    assert set(CLAIMS) == set(demos.DEMOS)


@pytest.mark.parametrize("topic", list(demos.DEMOS))
def test_demo_claims_hold(topic, reports):
    """ScratchRNN agrees with SimpleRNN, and what the demo says is true."""
    facts = reports[topic].facts
    assert facts["agree"], reports[topic].differences
    assert CLAIMS[topic](facts), facts


def test_keras_bugs_the_demos_mention_are_still_there(reports):
    """If Keras fixes these, the demos' wording must change: noticed here."""
    assert reports["seed"].facts["simple_config_loses_seed"]
    assert reports["regularizers"].facts["simple_penalties"][1] == 0.0


def test_go_backwards_demo_prints_the_reversed_order(reports):
    lines, _ = explain.topic_lines(
        explain.TOPICS["go_backwards"], report=reports["go_backwards"]
    )
    text = "\n".join(lines)
    forward = re.search(r"False\s+ScratchRNN\s+([\d. ]+)", text).group(1)
    backward = re.search(r"True\s+ScratchRNN\s+([\d. ]+)", text).group(1)
    assert forward.split() == ["1.000", "2.500", "4.250", "6.125"]
    assert backward.split() == ["4.000", "5.000", "4.500", "3.250"]


def test_a_failing_comparison_says_so():
    report = demos.Report()
    report.same([1.0], [1.0 + 10 * FLOAT32_PARITY])
    report.finish()
    assert not report.facts["agree"]
    assert "DIFFER" in report.blocks[-1][1][0]
    assert "不一致" in report.blocks[-1][1][1]


def test_a_demo_runs_fast():
    import time

    start = time.perf_counter()
    demos.run("stateful")
    assert time.perf_counter() - start < DEMO_SECONDS


# ---------------------------------------------------------------------------
# Rendering.


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_overview_lists_every_argument_aligned(lang):
    lines = explain.overview_lines(lang, width=80)
    text = "\n".join(lines)
    for name in explain.argument_names():
        assert re.search(rf"^{name}\s", text, re.M), name
    assert all(display_width(line) <= 80 for line in lines)
    rows = [ln for ln in lines if ln.split(" ")[0] in explain.argument_names()]
    starts = {_column_start(row, 2) for row in rows[:22]}
    assert len(starts) == 1, starts  # the meaning column lines up


def _column_start(line, column):
    """Display column where the `column`-th (0-based) cell starts."""
    cells = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]
    return display_width(line[: cells[column]])


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_topic_renders_in_both_languages(lang, reports):
    lines, _ = explain.topic_lines(
        explain.TOPICS["dropout"], lang, width=80, report=reports["dropout"]
    )
    text = "\n".join(lines)
    heading = "よくある間違い" if lang == "ja" else "The common mistake"
    assert heading in text
    assert "x = x * masks.input_dropout[:, None, :]" in text
    assert "\x1b[" not in text  # no colour unless asked
    assert all(display_width(line) <= 80 for line in lines if "[" not in line)


def test_japanese_table_alignment_counts_wide_characters():
    lines = table(["引数", "x"], [["日本語", "1"], ["ab", "2"]])
    assert [display_width(ln.split("1")[0]) for ln in lines[2:3]] == [8]
    assert display_width(lines[3].split("2")[0]) == 8


def test_wrap_japanese_never_starts_a_line_with_closing_punctuation():
    text = explain.TOPICS["stateful"].mistake[1]
    lines = wrap(text, 30)
    assert len(lines) > 3
    assert all(display_width(line) <= 30 for line in lines)
    assert not any(line[0] in "、。）" for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_display_width():
    assert display_width("abc") == 3
    assert display_width("日本") == 4
    assert display_width("\x1b[1mab\x1b[0m") == 2


@pytest.mark.parametrize("width", range(30, 45))
def test_wrap_moves_a_run_of_closing_punctuation_together(width):
    """A full-width closing bracket then 。: both move down together."""
    text = "バイアス b を足すか（b は全時刻で共通）。次の文です。"
    lines = wrap(text, width)
    assert not any(line[0] in "、。）" for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


# ---------------------------------------------------------------------------
# The LSTM (`cell="lstm"`): its own arguments, a note on every shared topic,
# the gate order; the same checks as for SimpleRNN.

LSTM_ONLY = {"recurrent_activation", "unit_forget_bias", "use_cudnn"}


def _only_live(keras_class):
    """What `keras_class` (LSTM, GRU) has and SimpleRNN lacks: in their
    configs (but `seed`, which SimpleRNN takes and Keras 3.15 leaves out of
    its config) and in their constructors' signatures (`use_cudnn`: the
    gated layers' configs forget it)."""
    gated = set(keras_class(4).get_config())
    simple = set(keras.layers.SimpleRNN(4).get_config())
    assert simple <= gated
    in_config = gated - simple - set(explain.argument_names())
    signature = {
        cls: set(inspect.signature(cls.__init__).parameters)
        for cls in (keras_class, keras.layers.SimpleRNN)
    }
    in_signature = signature[keras_class] - signature[keras.layers.SimpleRNN]
    return in_config | in_signature


def _assert_topics_cover(cell, keras_class, own, only):
    """The gated `cell`'s own arguments (`own`) are what `keras_class` has
    and SimpleRNN lacks (`only`); with the shared ones, its whole config."""
    assert _only_live(keras_class) == only
    assert {a.name for a in own} == only
    live = set(keras_class(4).get_config()) - BASE_KEYS
    expected = live | {"use_cudnn"} | CALL_ARGUMENTS
    assert set(explain.argument_names(cell)) == expected
    names = explain.argument_names(cell)
    assert len(names) == len(set(names))


def _assert_signature_order(cell, scratch_class):
    """The cell's arguments are `scratch_class`'s constructor's, then its
    call's, in their order; its config holds the constructor's."""
    layer = inspect.signature(scratch_class.__init__).parameters
    call = inspect.signature(scratch_class.call).parameters
    order = [n for n in layer if n not in {"self", "kwargs"}]
    order += [n for n in call if n not in {"self", "sequences"}]
    assert explain.argument_names(cell) == order
    config = set(scratch_class(1).get_config()) - BASE_KEYS
    assert config | CALL_ARGUMENTS == set(explain.argument_names(cell))


def _assert_live_defaults(cell, scratch_class, keras_class):
    """The cell's shown defaults are `scratch_class`'s, and `keras_class`'s
    constructor's."""
    layer = inspect.signature(scratch_class.__init__).parameters
    builtin = inspect.signature(keras_class.__init__).parameters
    call = inspect.signature(scratch_class.call).parameters
    for argument in explain.arguments(cell):
        source = call if argument.call else layer
        default = source[argument.name].default
        if default is inspect.Parameter.empty:
            assert argument.default is None, argument.name
            continue
        assert argument.default == repr(default), argument.name
        if not argument.call and argument.name in builtin:
            assert repr(builtin[argument.name].default) == argument.default


def _gated_texts(cell, notes, topics):
    """The `(en, ja)` texts of a gated cell: its arguments' meanings, its
    notes, and its own topics' four texts."""
    texts = [a.meaning for a in explain.arguments(cell)]
    texts += [n.text for n in notes.values()]
    for topic in topics.values():
        texts += [
            getattr(topic, f)
            for f in ("summary", "forward", "backward", "mistake")
        ]
    return texts


def _assert_in_language(texts, lang):
    index = explain.LANGUAGES.index(lang)
    for pair in texts:
        text = pair[index]
        assert text.strip(), pair
        assert bool(JAPANESE.search(text)) == (lang == "ja"), text


def _assert_frame_fits(topic):
    """The topic's prose (not its code or table lines) fits 80 columns."""
    for lang in explain.LANGUAGES:
        head, tail = explain.topic_frame(topic, lang, width=80)
        prose = [ln for ln in head + tail if not ln.startswith("  ") or (
            not ln.startswith("      ") and "·" not in ln
        )]  # fmt: skip
        assert all(display_width(line) <= 80 for line in prose), lang


def _overview_text(lang, cell):
    """The cell's overview, checked: every argument at the start of a
    line, within 80 columns, its meanings in one column."""
    lines = explain.overview_lines(lang, width=80, cell=cell)
    text = "\n".join(lines)
    for name in explain.argument_names(cell):
        assert re.search(rf"^{name}\s", text, re.M), name
    assert all(display_width(line) <= 80 for line in lines)
    names = explain.argument_names(cell)
    rows = [ln for ln in lines if ln.split(" ")[0] in names]
    starts = {_column_start(row, 2) for row in rows[:25]}
    assert len(starts) == 1, starts
    return text


def test_lstm_topics_cover_what_simple_rnn_lacks():
    """A new LSTM argument in Keras (or a dropped one) makes this fail."""
    _assert_topics_cover(
        "lstm", keras.layers.LSTM, explain.LSTM_ARGUMENTS, LSTM_ONLY
    )


def test_lstm_arguments_follow_scratch_lstm_signature_and_config():
    _assert_signature_order("lstm", ScratchLSTM)


def test_lstm_defaults_are_the_live_defaults():
    _assert_live_defaults("lstm", ScratchLSTM, keras.layers.LSTM)


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_every_lstm_text_exists_in_both_languages(lang):
    texts = _gated_texts("lstm", explain.LSTM_NOTES, explain.LSTM_TOPICS)
    _assert_in_language(texts, lang)


def test_every_lstm_topic_is_used_has_a_demo_and_every_shared_a_note():
    used = {a.topic for a in explain.arguments("lstm")}
    assert used | {"gate_order"} == set(explain.topic_names("lstm"))
    assert set(explain.LSTM_TOPICS) == set(demos.LSTM_DEMOS)
    assert set(explain.LSTM_TOPICS) & set(explain.TOPICS) == set()
    assert set(explain.LSTM_NOTES) == set(explain.TOPICS)
    assert set(explain.LSTM_MEANINGS) <= set(explain.argument_names())
    assert all(t.cell == "lstm" for t in explain.LSTM_TOPICS.values())
    assert all(t.cell == "rnn" for t in explain.TOPICS.values())


def test_resolve_knows_the_lstm_names_only_for_the_lstm():
    for typed in ("unit-forget-bias", "Recurrent_Activation", "gate_order"):
        assert explain.resolve(typed) is None  # the default: SimpleRNN
        topic = explain.resolve(typed, cell="lstm")
        assert topic is explain.LSTM_TOPICS[explain.normalize(typed)]
    assert explain.resolve("dropout", "lstm") is explain.TOPICS["dropout"]
    assert explain.resolve("kernel_initializer", "lstm").name == "initializers"
    assert explain.resolve("nonsense", "lstm") is None
    names = explain.names("lstm")
    assert len(names) == len(set(names))
    assert set(names) == set(explain.topic_names("lstm")) | set(
        explain.argument_names("lstm")
    )
    with pytest.raises(ValueError, match="cell"):
        explain.resolve("units", cell="transformer")


def test_the_default_cell_is_todays_behaviour():
    """Without `cell`, everything is SimpleRNN's, as before the LSTM."""
    assert explain.arguments() == list(explain.ARGUMENTS)
    assert explain.topics() == explain.TOPICS
    topic = explain.TOPICS["dropout"]
    head, tail = explain.topic_frame(topic)
    assert (head, tail) == explain.topic_frame(topic, cell="rnn")
    assert "For an LSTM" not in "\n".join(head + tail)
    assert explain.overview_lines() == explain.overview_lines(cell="rnn")


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_lstm_overview_lists_every_argument_aligned(lang):
    text = _overview_text(lang, "lstm")
    assert explain.LSTM_EQUATIONS[2] in text
    assert "explain --cell lstm gate_order" in " ".join(text.split())


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_shared_topic_for_the_lstm_adds_its_note(lang, reports):
    topic = explain.TOPICS["dropout"]
    lines, _ = explain.topic_lines(
        topic, lang, width=80, report=reports["dropout"], cell="lstm"
    )
    text = "\n".join(lines)
    heading = explain.label("lstm_note", lang)
    assert heading in text
    assert text.index(heading) < text.index(explain.label("demo", lang))
    note = explain.LSTM_NOTES["dropout"]
    assert note.refs[0].code in text
    assert explain.label("forward", lang) in text  # the RNN text stays


@pytest.mark.parametrize("name", sorted(explain.LSTM_TOPICS))
def test_lstm_topic_renders_with_lstm_headings(name, reports):
    topic = explain.LSTM_TOPICS[name]
    for cell in explain.CELLS:  # an LSTM topic reads the same for either
        lines, _ = explain.topic_lines(
            topic, width=80, report=reports[name], cell=cell
        )
        text = "\n".join(lines)
        assert explain.label("forward_lstm", "en") in text
        assert explain.label(explain.demo_label(topic), "en") in text
        assert "For an LSTM" not in text
    _assert_frame_fits(topic)


def _lstm_close(a, b):
    return abs(a - b) <= FLOAT32_PARITY * max(1.0, abs(b))


LSTM_CLAIMS = {
    "recurrent_activation": lambda f: (
        0 < f["gates_sigmoid"][0] < 1
        and f["gates_sigmoid"][1] == 0.5
        and _lstm_close(f["gates_tanh"][0], float(np.tanh(-2.0)))
        and f["gates_tanh"][1] == 0.0
        and f["sigmoid_keeps_sign_of_g"]
        and f["sigmoid_halves_at_zero"]
        and f["tanh_flips_sign_of_g"]
        and f["tanh_wipes_at_zero"]
        and _lstm_close(f["c_tanh"][0], float(np.tanh(-2.0) ** 2))
        and f["layer_c_is_cell_c_sigmoid"]
        and f["layer_c_is_cell_c_tanh"]
    ),
    "unit_forget_bias": lambda f: (
        f["bias_True"] == [0.0, 1.0, 0.0, 0.0]
        and f["bias_False"] == [0.0] * 4
        and _lstm_close(f["f_True"], 1 / (1 + np.exp(-1.0)))
        and f["f_False"] == 0.5
        and _lstm_close(f["c_True"], f["f_True"] ** 10)
        and f["c_False"] == 0.5**10
        and _lstm_close(f["dc_True"], f["c_True"])
        and f["dc_False"] == f["c_False"]
        and 2.2 < f["half_life_steps"] < 2.3
        and f["book_bias_zero"]
    ),
    "use_cudnn": lambda f: (
        f["scratch_same_for_every_value"]
        and f["keras_true_raises"] == (not f["gpu"])
        and f["keras_auto_runs"]
        and f["keras_recurrent_dropout_raises"]
        and f["scratch_config_keeps_use_cudnn"]
    ),
    "gate_order": lambda f: (
        f["labelled_kernel"] == [2.0, 0.0, 1.0, 3.0]
        and f["round_trip"]
        and f["unconverted_gap"] > 0.01
    ),
}


def test_every_lstm_demo_has_claims():
    assert set(LSTM_CLAIMS) == set(demos.LSTM_DEMOS)


@pytest.mark.parametrize("topic", list(demos.LSTM_DEMOS))
def test_lstm_demo_claims_hold(topic, reports):
    """ScratchLSTM agrees with LSTM (and, for the gate order, with the
    book's TimeLSTM), and what the demo says is true."""
    report = reports[topic]
    assert report.facts["agree"], report.differences
    assert LSTM_CLAIMS[topic](report.facts), report.facts
    compared = report.compared[0]
    assert "ScratchLSTM" in compared and "SimpleRNN" not in compared


def test_keras_lstm_bugs_the_demos_mention_are_still_there(reports):
    assert reports["use_cudnn"].facts["keras_config_loses_use_cudnn"]


def test_the_lstm_notes_claims_hold():
    """What the LSTM notes of the shared topics say, checked on small
    layers (the notes have no demonstration of their own)."""
    x = np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(2, 3, 2)
    # units: four gates, four times the parameters.
    for cls in (ScratchLSTM, keras.layers.LSTM):
        layer = cls(3)
        layer.build((None, None, 2))
        assert layer.count_params() == 4 * (2 * 3 + 3 * 3 + 3)
        # initializers: orthonormal rows of the whole Wh, no gate's block.
        recurrent = layer.get_weights()[1]
        assert np.allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-5)
        for block in np.split(recurrent, 4, axis=1):
            assert np.linalg.svd(block, compute_uv=False).max() < 1 - 1e-3
    # regularizers: keras LSTM applies activity_regularizer (SimpleRNN not).
    for cls in (ScratchLSTM, keras.layers.LSTM):
        layer = cls(2, activity_regularizer=keras.regularizers.L2(0.1))
        layer(x)
        assert float(sum(layer.losses)) > 0, cls
    # dropout: 1.0 drops nothing in an LSTM, everything in SimpleRNN.
    for cls in (ScratchLSTM, keras.layers.LSTM):
        layer = cls(2, dropout=1.0, seed=1)
        out = np.asarray(layer(x, training=True))
        assert np.array_equal(out, np.asarray(layer(x))), cls
    for cls in (ScratchRNN, keras.layers.SimpleRNN):
        layer = cls(2, dropout=1.0, use_bias=False, seed=1)
        assert not np.any(np.asarray(layer(x, training=True))), cls
    # recurrent_dropout: implementation 1, four masks per kind.
    for cls in (ScratchLSTM, keras.layers.LSTM):
        cell = cls(2, recurrent_dropout=0.5).cell
        assert cell.implementation == 1 and cell.dropout_mask_count == 4
    # seed: LSTM's config keeps it.
    lstm = keras.layers.LSTM(2, seed=5)
    assert keras.layers.LSTM.from_config(lstm.get_config()).cell.seed == 5
    # return_state: three items, h the last output; stateful: [h, c].
    out, h, _ = ScratchLSTM(2, return_state=True)(x)
    assert np.array_equal(np.asarray(out), np.asarray(h))
    stateful = ScratchLSTM(2, stateful=True)
    stateful(x)
    assert len(stateful.states) == 2
    # initial_state: a list of two; one tensor raises.
    with pytest.raises(ValueError, match="initial_state"):
        ScratchLSTM(2)(x, initial_state=np.zeros((2, 2), "float32"))
    # mask: a masked step keeps c too (the final c of a sequence whose
    # last step is masked is that of the step before).
    mask = np.array([[True, True, False]] * 2)
    layer = ScratchLSTM(2, return_state=True)
    _, _, c_masked = layer(x, mask=mask)
    _, _, c_short = layer(x[:, :2])
    assert np.allclose(np.asarray(c_masked), np.asarray(c_short), atol=1e-6)


# ---------------------------------------------------------------------------
# The GRU (`cell="gru"`): its own arguments, a note on every shared topic,
# the z convention; the same checks as for the LSTM.

GRU_ONLY = {"recurrent_activation", "reset_after", "use_cudnn"}


def test_gru_topics_cover_what_simple_rnn_lacks():
    """A new GRU argument in Keras (or a dropped one) makes this fail."""
    _assert_topics_cover(
        "gru", keras.layers.GRU, explain.GRU_ARGUMENTS, GRU_ONLY
    )


def test_gru_arguments_follow_scratch_gru_signature_and_config():
    _assert_signature_order("gru", ScratchGRU)


def test_gru_defaults_are_the_live_defaults():
    _assert_live_defaults("gru", ScratchGRU, keras.layers.GRU)


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_every_gru_text_exists_in_both_languages(lang):
    texts = _gated_texts("gru", explain.GRU_NOTES, explain.GRU_TOPICS)
    texts += [explain._LABELS[k] for k in explain._LABELS if "gru" in k]
    _assert_in_language(texts, lang)


def test_every_gru_topic_is_used_has_a_demo_and_every_shared_a_note():
    used = {a.topic for a in explain.arguments("gru")}
    assert used | {"z_convention"} == set(explain.topic_names("gru"))
    assert set(explain.GRU_TOPICS) == set(demos.GRU_DEMOS)
    assert set(explain.GRU_TOPICS) & set(explain.TOPICS) == set()
    assert set(explain.GRU_TOPICS) & set(explain.LSTM_TOPICS) == set()
    assert set(explain.GRU_NOTES) == set(explain.TOPICS)
    assert set(explain.GRU_MEANINGS) <= set(explain.argument_names())
    assert all(t.cell == "gru" for t in explain.GRU_TOPICS.values())


def test_resolve_knows_the_gru_names_only_for_the_gru():
    gru = explain.GRU_TOPICS
    for typed, name in (
        ("Reset-After", "reset_after"),
        ("z_convention", "z_convention"),
        ("gru_use_cudnn", "gru_use_cudnn"),
    ):
        assert explain.resolve(typed) is None  # SimpleRNN
        assert explain.resolve(typed, "lstm") is None
        assert explain.resolve(typed, cell="gru") is gru[name]
    # The GRU's recurrent_activation and use_cudnn are the GRU's own.
    for typed, name in (
        ("recurrent_activation", "recurrent_activation"),
        ("use-cudnn", "use_cudnn"),
    ):
        assert explain.resolve(typed, "gru") is gru[f"gru_{name}"]
        assert explain.resolve(typed, "lstm") is explain.LSTM_TOPICS[name]
        assert explain.cells_knowing(typed) == ["lstm", "gru"]
    assert explain.resolve("unit_forget_bias", "gru") is None
    assert explain.resolve("dropout", "gru") is explain.TOPICS["dropout"]
    assert explain.resolve("bias_initializer", "gru").name == "initializers"
    names = explain.names("gru")
    assert len(names) == len(set(names))
    assert set(names) == set(explain.topic_names("gru")) | set(
        explain.argument_names("gru")
    )


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_gru_overview_lists_every_argument_aligned(lang):
    text = _overview_text(lang, "gru")
    for equation in explain.GRU_EQUATIONS:
        assert equation in text
    assert "explain --cell gru z_convention" in " ".join(text.split())


@pytest.mark.parametrize("lang", explain.LANGUAGES)
def test_shared_topic_for_the_gru_adds_its_note(lang, reports):
    topic = explain.TOPICS["recurrent_dropout"]
    lines, _ = explain.topic_lines(
        topic, lang, width=80, report=reports[topic.name], cell="gru"
    )
    text = "\n".join(lines)
    heading = explain.label("gru_note", lang)
    assert heading in text
    assert explain.label("lstm_note", lang) not in text
    assert text.index(heading) < text.index(explain.label("demo", lang))
    for ref in explain.GRU_NOTES["recurrent_dropout"].refs:
        assert ref.code in text
    assert explain.label("forward", lang) in text  # the RNN text stays


@pytest.mark.parametrize("name", sorted(explain.GRU_TOPICS))
def test_gru_topic_renders_with_gru_headings(name, reports):
    topic = explain.GRU_TOPICS[name]
    title = explain.topic_title(topic)
    assert title == name.removeprefix("gru_")
    for cell in explain.CELLS:  # a GRU topic reads the same for any
        lines, _ = explain.topic_lines(
            topic, width=80, report=reports[name], cell=cell
        )
        text = "\n".join(lines)
        assert lines[0].startswith(title)
        assert explain.label("forward_gru", "en") in text
        assert explain.label(explain.demo_label(topic), "en") in text
        assert "For a GRU" not in text and "For an LSTM" not in text
    assert explain.explain_command(topic, "ja") == (
        f"python -m keras_scratch_rnn explain --cell gru {title} --lang ja"
    )
    _assert_frame_fits(topic)


def _sigmoid(a):
    return float(1 / (1 + np.exp(-a)))


GRU_CLAIMS = {
    "reset_after": lambda f: (
        f["bias_shape_True"] == (2, 6)
        and f["bias_shape_False"] == (6,)
        and f["params_True"] == 3 * (2 * 2 + 2 * 2) + 6 * 2
        and f["params_False"] == 3 * (2 * 2 + 2 * 2 + 2)
        and f["forms_differ_by"] > 0.01
        and f["one_unit_no_bias_same"]
        and f["set_weights_across_forms_raises"]
    ),
    "gru_recurrent_activation": lambda f: (
        _lstm_close(f["gates_sigmoid"][0], _sigmoid(-2.0))
        and f["gates_sigmoid"][1] == 0.5
        and _lstm_close(f["gates_tanh"][0], float(np.tanh(-2.0)))
        and f["gates_tanh"][1] == 0.0
        and _lstm_close(
            f["h_sigmoid"][0], (1 - _sigmoid(-2.0)) * float(np.tanh(-2.0))
        )
        and _lstm_close(
            f["h_tanh"][0], (1 - float(np.tanh(-2.0))) * float(np.tanh(-2.0))
        )
        and f["sigmoid_stays_in_range"]
        and f["sigmoid_halves_at_zero"]
        and f["tanh_leaves_range"]
        and f["tanh_wipes_at_zero"]
        and f["layer_is_cell_sigmoid"]
        and f["layer_is_cell_tanh"]
    ),
    "gru_use_cudnn": lambda f: (
        f["scratch_same_for_every_value"]
        and f["keras_true_raises"] == (not f["gpu"])
        and f["keras_auto_runs"]
        and f["keras_reset_before_raises"]
        and f["scratch_config_keeps_use_cudnn"]
    ),
    "z_convention": lambda f: (
        f["negated_kernel"] == [-1.0, 0.0, -1.0]
        and _lstm_close(
            f["book_one_step"],
            (1 - _sigmoid(1.0)) + _sigmoid(1.0) * float(np.tanh(-1.0)),
        )
        and _lstm_close(
            f["same_wx_one_step"],
            _sigmoid(1.0) + (1 - _sigmoid(1.0)) * float(np.tanh(-1.0)),
        )
        and _lstm_close(f["negated_one_step"], f["book_one_step"])
        and f["unconverted_gap"] > 0.01
        and f["bias_refused"]
        and f["reset_after_refused"]
        and f["two_row_bias_refused"]
    ),
}


def test_every_gru_demo_has_claims():
    assert set(GRU_CLAIMS) == set(demos.GRU_DEMOS)


@pytest.mark.parametrize("topic", list(demos.GRU_DEMOS))
def test_gru_demo_claims_hold(topic, reports):
    """ScratchGRU agrees with GRU (and, for the z convention, with the
    book's TimeGRU), and what the demo says is true."""
    report = reports[topic]
    assert report.facts["agree"], report.differences
    assert GRU_CLAIMS[topic](report.facts), report.facts
    compared = report.compared[0]
    assert "ScratchGRU" in compared and "SimpleRNN" not in compared


def test_keras_gru_bugs_the_demos_mention_are_still_there(reports):
    assert reports["gru_use_cudnn"].facts["keras_config_loses_use_cudnn"]


def test_the_gru_notes_claims_hold():
    """What the GRU notes of the shared topics (and reset_after's mistake)
    say, checked on small layers."""
    x = np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(2, 3, 2)
    D, H = 2, 3
    for cls in (ScratchGRU, keras.layers.GRU):
        # units: three blocks; the bias's two forms.
        for reset_after, bias in ((True, 6 * H), (False, 3 * H)):
            layer = cls(H, reset_after=reset_after)
            layer.build((None, None, D))
            assert layer.count_params() == 3 * (D * H + H * H) + bias
        # initializers: orthonormal rows of the whole Wh, no gate's block.
        layer = cls(H, recurrent_initializer=keras.initializers.Orthogonal(
            seed=3))  # fmt: skip
        layer.build((None, None, D))
        recurrent = layer.get_weights()[1]
        assert np.allclose(recurrent @ recurrent.T, np.eye(H), atol=1e-5)
        for block in np.split(recurrent, 3, axis=1):
            assert np.linalg.svd(block, compute_uv=False).max() < 1 - 1e-3
        # regularizers: keras GRU applies activity_regularizer.
        layer = cls(2, activity_regularizer=keras.regularizers.L2(0.1))
        layer(x)
        assert float(sum(layer.losses)) > 0, cls
        # dropout: 1.0 drops nothing.
        layer = cls(2, dropout=1.0, seed=1)
        out = np.asarray(layer(x, training=True))
        assert np.array_equal(out, np.asarray(layer(x))), cls
        # recurrent_dropout: implementation 1, three masks per kind.
        cell = cls(2, recurrent_dropout=0.5).cell
        assert cell.implementation == 1 and cell.dropout_mask_count == 3
        # seed: GRU's config keeps it.
        layer = cls(2, seed=5)
        assert cls.from_config(layer.get_config()).cell.seed == 5
        # return_state: two items, h the last output; stateful: [h].
        out, h = cls(2, return_state=True)(x)
        assert np.array_equal(np.asarray(out), np.asarray(h))
        stateful = cls(2, stateful=True)
        stateful(x)
        assert len(stateful.states) == 1
        # initial_state: one tensor is accepted.
        h0 = np.full((2, 2), 0.5, "float32")
        assert cls(2)(x, initial_state=h0).shape == (2, 2)
        # activation: tanh and sigmoid gates keep h in [-1, 1] (float32
        # rounds a saturated tanh to 1), a linear candidate does not.
        for activation, bounded in (("tanh", True), (None, False)):
            big = cls(4, activation=activation, return_sequences=True,
                      kernel_initializer=keras.initializers.RandomNormal(
                          stddev=5.0, seed=2))  # fmt: skip
            top = np.max(np.abs(np.asarray(big(10 * x))))
            assert (top <= 1) == bounded, (cls, activation, top)
    # seed: six masks per call (three of each kind), drawn as GRU draws.
    layers = [
        cls(2, dropout=0.5, recurrent_dropout=0.5, seed=7)
        for cls in (ScratchGRU, keras.layers.GRU)
    ]
    for layer in layers:
        layer.build((None, None, 2))
    layers[1].set_weights(layers[0].get_weights())
    outs = [np.asarray(layer(x, training=True)) for layer in layers]
    assert np.allclose(outs[0], outs[1], atol=FLOAT32_PARITY)
    # mask: a masked last step keeps h.
    mask = np.array([[True, True, False]] * 2)
    layer = ScratchGRU(2)
    assert np.allclose(
        np.asarray(layer(x, mask=mask)), np.asarray(layer(x[:, :2])),
        atol=FLOAT32_PARITY,
    )  # fmt: skip
    # reset_after's mistake: without a bias the two forms' weights load
    # into each other silently, and compute something else.
    seeded = dict(
        kernel_initializer=keras.initializers.GlorotUniform(seed=0),
        recurrent_initializer=keras.initializers.Orthogonal(seed=0),
    )
    forms = [
        ScratchGRU(2, use_bias=False, reset_after=f, **seeded)
        for f in (True, False)
    ]
    for layer in forms:
        layer.build((None, None, 2))
    forms[1].set_weights(forms[0].get_weights())
    gap = np.max(np.abs(np.asarray(forms[0](x)) - np.asarray(forms[1](x))))
    assert gap > 1e-3


def test_the_gru_notes_claims_on_the_sequence_hold():
    """go_backwards, unroll, zero_output_for_mask, mask and training as the
    GRU notes say, ScratchGRU beside GRU with the same weights."""
    import tensorflow as tf

    x = np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, False, True], [True, True, True]])

    def pair_of(**config):
        layers = [
            cls(2, return_sequences=True, seed=3, **config)
            for cls in (ScratchGRU, keras.layers.GRU)
        ]
        for layer in layers:
            layer.build((None, None, 2))
        layers[1].set_weights(layers[0].get_weights())
        return layers

    def close(a, b):
        return np.allclose(np.asarray(a), np.asarray(b), atol=FLOAT32_PARITY)

    plain = pair_of()
    # go_backwards: the loop over the flipped x, the output left so.
    for layer, back in zip(plain, pair_of(go_backwards=True)):
        back.set_weights(layer.get_weights())
        assert close(back(x), layer(x[:, ::-1]))
    # unroll: the same numbers.
    for layer, unrolled in zip(plain, pair_of(unroll=True)):
        unrolled.set_weights(layer.get_weights())
        assert close(unrolled(x), layer(x))
    # zero_output_for_mask: y_t = 0 at a masked step, h carried.
    for layer in pair_of(zero_output_for_mask=True):
        out = np.asarray(layer(x, mask=mask))
        assert not np.any(out[0, 1]) and np.all(out[0, 2] != 0)
    # mask: the masked step's input gets no gradient.
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(plain[0](xt, mask=mask))
    dx = np.asarray(tape.gradient(loss, xt))
    assert not np.any(dx[0, 1]) and np.all(dx[0, 0] != 0)
    # training: masks drawn at every call, in inference too, so the two
    # generators stay in step.
    outs = []
    for layer in pair_of(dropout=0.5, recurrent_dropout=0.5):
        layer(x)  # inference: draws and discards
        outs.append(np.asarray(layer(x, training=True)))
    assert close(outs[0], outs[1])


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["explain", "reset_after"], "add --cell gru"),
        (["explain", "--cell", "lstm", "z_convention"], "add --cell gru"),
        (["explain", "--cell", "gru", "unit_forget_bias"], "add --cell lstm"),
        (
            ["explain", "recurrent_activation"],
            "add --cell lstm or --cell gru",
        ),
    ],
)
def test_explain_hints_the_cell_of_another_cells_argument(argv, hint, capsys):
    """One line naming the cell(s), exit 2, no demonstration run."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert hint in err[-1] and "(explain --cell " in err[-1], err


def test_explain_cell_gru_overview(capsys):
    assert cli.main(["explain", "--cell", "gru"]) == 0
    out = capsys.readouterr().out
    for name in ("reset_after", "recurrent_activation", "use_cudnn"):
        assert re.search(rf"^{name}\s", out, re.M), name
    assert "unit_forget_bias" not in out
