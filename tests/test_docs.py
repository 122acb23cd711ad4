"""docs/: generated from the code, identical when regenerated, and every
code line they quote is still in the function they name."""

import pathlib
import re

import pytest

from keras_scratch_rnn import cli
from keras_scratch_rnn.learn import docs_gen, explain, figures

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# `path` · `function`: `quoted code`, one per list item.
CODE_QUOTE = re.compile(
    r"^- `((?:keras_scratch_rnn|tests)/[\w/]+\.py)` · `([\w.]+)`: `(.+)`$",
    re.M,
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
PNG = b"\x89PNG\r\n\x1a\n"
# The docs figures stay small (bytes) and screen-sized (pixels).
MAX_PNG_BYTES = 250_000
MAX_PNG_WIDTH = 1400


# With test_explain.py in one worker, to share `demo_reports`.
pytestmark = pytest.mark.xdist_group("demos")


@pytest.fixture(scope="module")
def rendered(demo_reports):
    return docs_gen.render(demo_reports)


def test_generated_docs_are_up_to_date(rendered):
    drifted = docs_gen.check(DOCS, rendered)
    assert not drifted, (
        f"{drifted} differ from what the code prints now: run "
        "`python -m keras_scratch_rnn docs` and commit the result"
    )


def test_regenerating_is_deterministic(rendered):
    """A second rendering in the same process gives the same bytes."""
    again = docs_gen.render()
    assert again == rendered


def test_drift_is_noticed(tmp_path, rendered):
    docs_gen.write(tmp_path, figures=False, rendered=rendered)
    assert docs_gen.check(tmp_path, rendered) == []
    page = tmp_path / "ja" / "parameters.md"
    page.write_text(page.read_text(encoding="utf-8").replace("6.125", "6.126"))
    assert docs_gen.check(tmp_path, rendered) == [page]


def test_quick_check_compares_all_but_the_demonstrations(tmp_path, rendered):
    """`docs --check` (no demonstrations run, no TensorFlow needed) reads
    the demonstrations' output from the files and compares the rest."""
    assert docs_gen.check(DOCS, demos=False) == []
    docs_gen.write(tmp_path, figures=False, rendered=rendered)
    page = tmp_path / "parameters.md"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("6.125", "6.126"))  # a demonstration's
    assert docs_gen.check(tmp_path, demos=False) == []
    page.write_text(text.replace("The common mistake", "A common mistake"))
    assert docs_gen.check(tmp_path, demos=False) == [page]


def test_docs_are_found_in_a_checkout_only(tmp_path, monkeypatch):
    """An installed package has no docs/: the checkout is looked for in the
    current folder and its parents, else the command says what to do."""
    site = tmp_path / "site-packages"
    (site / "keras_scratch_rnn").mkdir(parents=True)
    monkeypatch.setattr(docs_gen, "ROOT", site)
    clone = tmp_path / "clone"
    for name in ("docs/images", "keras_scratch_rnn"):
        (clone / name).mkdir(parents=True)
    (clone / "pyproject.toml").touch()
    assert docs_gen.find_docs_dir(clone / "docs" / "images") == clone / "docs"
    assert docs_gen.find_docs_dir(site) is None
    monkeypatch.chdir(site)
    with pytest.raises(LookupError, match="no checkout"):
        docs_gen.check()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["docs", "--check"])
    assert exit_info.value.code == 2
    monkeypatch.setattr(docs_gen, "ROOT", ROOT)  # an editable install
    assert docs_gen.find_docs_dir(site) == DOCS


@pytest.mark.parametrize(
    "page",
    ["derivation.md", "ja/derivation.md", "parameters.md", "ja/parameters.md"],
)
def test_quoted_code_is_still_in_the_named_function(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    quotes = CODE_QUOTE.findall(text)
    assert len(quotes) >= 30, page  # the pattern still matches the page
    stale = [
        q
        for q in quotes
        if not explain.code_in_function(q[2], q[0], q[1], ROOT)
    ]
    assert not stale, f"{page} quotes code that moved: {stale}"


@pytest.mark.parametrize("page", ["derivation.md", "ja/derivation.md"])
def test_derivation_has_the_lstm_backward_in_the_books_notation(page):
    """Section 10: ds, dc_prev, the gates' gradients and dA in the book's
    order, each quoted from the book's LSTM.backward and from lstm_math."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text[text.index("## 10. ") :]
    for equation in (
        "ds      = dc_next + (dh_next * o) * (1 - tanh(c_t)^2)",
        "dc_prev = ds * f",
        "di = ds * g     df = ds * c_{t-1}     dg = ds * i",
        "dA = hstack(df * f (1 - f),  dg * (1 - g^2),  di * i (1 - i),",
        "dh_prev = dA Wh^T     dx_t = dA Wx^T",
    ):
        assert equation in section, equation
    quoted = {(q[0], q[1]) for q in CODE_QUOTE.findall(section)}
    for file, function in (
        ("keras_scratch_rnn/reference/lstm.py", "LSTM.backward"),
        ("keras_scratch_rnn/reference/lstm.py", "TimeLSTM.backward"),
        ("keras_scratch_rnn/ops/lstm_math.py", "step_backward"),
        ("keras_scratch_rnn/ops/lstm_math.py", "weight_gradients"),
        ("keras_scratch_rnn/ops/lstm_math.py", "project_input_gradient"),
        ("keras_scratch_rnn/ops/lstm_math.py", "lstm_step_backward"),
        ("keras_scratch_rnn/ops/__init__.py", "lstm_backward"),
    ):
        assert (file, function) in quoted, function
    quotes = [q[2] for q in CODE_QUOTE.findall(section)]
    assert any("np.hstack((df, dg, di, do))" in q for q in quotes)
    assert len(quotes) >= 40


@pytest.mark.parametrize("page", ["derivation.md", "ja/derivation.md"])
def test_derivation_has_the_gru_backward_in_the_books_notation(page):
    """Section 11: the mix's three gradients, the candidate's in both of
    Keras's forms, the gates' and dX, each quoted from the book's
    GRU.backward and from gru_math; Keras's z as the book's 1 - z."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text[text.index("## 11. ") :]
    for equation in (
        "h_t   = (1 - z) * h_{t-1} + z * h_hat",
        "dh_hat  = dh_t * z",
        "dh_prev = dh_t * (1 - z)",
        "dz      = dh_t * (h_hat - h_{t-1})",
        "dt      = dh_hat * (1 - h_hat^2)",
        "dh_prev += r * dhr               dr = dhr * h_{t-1}",
        "dt_z = dz * z (1 - z)     dt_r = dr * r (1 - r)",
        "dh_prev += dt_z Wh_z^T + dt_r Wh_r^T     dx_t = dX Wx^T",
        "dR = [da_z, da_r, dR_h]",
        "reset_after=True",
        "book_to_keras_gru",
    ):
        assert equation in section, equation
    quoted = {(q[0], q[1]) for q in CODE_QUOTE.findall(section)}
    for file, function in (
        ("keras_scratch_rnn/reference/gru.py", "GRU.forward"),
        ("keras_scratch_rnn/reference/gru.py", "GRU.backward"),
        ("keras_scratch_rnn/reference/gru.py", "TimeGRU.backward"),
        ("keras_scratch_rnn/reference/gru.py", "book_to_keras_gru"),
        ("keras_scratch_rnn/ops/gru_math.py", "step_forward"),
        ("keras_scratch_rnn/ops/gru_math.py", "step_backward"),
        ("keras_scratch_rnn/ops/gru_math.py", "weight_gradients"),
        ("keras_scratch_rnn/ops/gru_math.py", "gru_step_backward"),
        ("keras_scratch_rnn/ops/__init__.py", "gru_backward"),
    ):
        assert (file, function) in quoted, function
    quotes = [q[2] for q in CODE_QUOTE.findall(section)]
    for line in (
        "h_next = (1 - z) * h_prev + z * h_hat",
        "h = z * h_prev + (1.0 - z) * hh",
        "dr = da_h * R_h",
        "dr = dv * h_prev",
    ):
        assert any(line in q for q in quotes), line
    assert len(quotes) >= 50
    assert "## 12. " not in text  # the GRU's is the last section


@pytest.mark.parametrize("page", ["derivation.md", "ja/derivation.md"])
def test_derivation_shows_the_seeds_forward_loop_as_the_mistake(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert "for t in range(T):" in text
    assert "for t in reversed(range(T)):" in text
    for function in ("_backward_loop", "backward", "RNN.backward"):
        assert f"`{function}`" in text


@pytest.mark.parametrize(
    "page",
    [
        "derivation.md",
        "ja/derivation.md",
        "parameters.md",
        "ja/parameters.md",
        "README_SECTION.md",
    ],
)
def test_links_resolve(page):
    path = DOCS / page
    base = ROOT if page == "README_SECTION.md" else path.parent
    text = path.read_text(encoding="utf-8")
    anchors = set(re.findall(r"^## `(\w+)`", text, re.M))
    anchors |= set(re.findall(r'^<a id="([\w-]+)"></a>$', text, re.M))
    for target in LINK.findall(text):
        if target.startswith("http"):
            continue
        if target.startswith("#"):
            assert target[1:] in anchors, (page, target)
            continue
        assert (base / target).exists(), (page, target)


@pytest.mark.parametrize("page", ["parameters.md", "ja/parameters.md"])
def test_every_argument_has_a_section(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    for cell in explain.CELLS[1:]:  # SimpleRNN's, LSTM's and GRU's
        for argument in explain.arguments(cell):
            assert f"`{argument.name}`" in text, argument.name
    for topic in explain.all_topics():
        assert f"\n## `{topic}`\n" in text, topic


@pytest.mark.parametrize("page", ["parameters.md", "ja/parameters.md"])
def test_every_shared_section_ends_with_its_lstm_note(page):
    """Each SimpleRNN section has its LSTM note, before its demonstration;
    the LSTM's own sections come after every shared one."""
    lang = "ja" if page.startswith("ja/") else "en"
    text = (DOCS / page).read_text(encoding="utf-8")
    heading = f"**{explain.label('lstm_note', lang)}**"
    sections = re.split(r"^## ", text, flags=re.M)
    by_name = {
        m.group(1): section
        for section in sections
        if (m := re.match(r"`(\w+)`\n", section))
    }
    for name, note in explain.LSTM_NOTES.items():
        section = by_name[name]
        assert heading in section, name
        assert explain.pick(note.text, lang) in section, name
        assert section.index(heading) < section.index("```text"), name
    for name in explain.LSTM_TOPICS:
        assert heading not in by_name[name], name
        assert f"explain --cell lstm {name}" in by_name[name], name
    last_shared = max(text.index(f"\n## `{n}`\n") for n in explain.TOPICS)
    first_lstm = min(text.index(f"\n## `{n}`\n") for n in explain.LSTM_TOPICS)
    assert last_shared < first_lstm


@pytest.mark.parametrize("page", ["parameters.md", "ja/parameters.md"])
def test_every_shared_section_has_its_gru_note_after_the_lstm_one(page):
    """Each SimpleRNN section has its GRU note, after the LSTM note and
    before its demonstration; the GRU's own sections come last, each with
    the command that shows it (its argument's name, not the topic's)."""
    lang = "ja" if page.startswith("ja/") else "en"
    text = (DOCS / page).read_text(encoding="utf-8")
    lstm = f"**{explain.label('lstm_note', lang)}**"
    gru = f"**{explain.label('gru_note', lang)}**"
    by_name = {
        m.group(1): section
        for section in re.split(r"^## ", text, flags=re.M)
        if (m := re.match(r"`(\w+)`\n", section))
    }
    for name, note in explain.GRU_NOTES.items():
        section = by_name[name]
        assert explain.pick(note.text, lang) in section, name
        assert section.index(lstm) < section.index(gru), name
        assert section.index(gru) < section.index("```text"), name
    for name, topic in explain.GRU_TOPICS.items():
        section = by_name[name]
        assert gru not in section and lstm not in section, name
        title = explain.topic_title(topic)
        assert f"explain --cell gru {title}" in section, name
    last_lstm = max(text.index(f"\n## `{n}`\n") for n in explain.LSTM_TOPICS)
    first_gru = min(text.index(f"\n## `{n}`\n") for n in explain.GRU_TOPICS)
    assert last_lstm < text.index('<a id="gru-only"></a>') < first_gru
    for equation in explain.GRU_EQUATIONS:
        assert equation in text


def test_readme_section_shows_real_explain_output(rendered):
    section = rendered["README_SECTION.md"]
    lines, _ = explain.topic_lines(
        explain.TOPICS[docs_gen.README_EXAMPLE], width=80
    )
    assert "\n".join(lines) in section
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = section.splitlines()[0]
    if heading in readme:  # once pasted, it must stay identical
        assert section in readme


def _png_size(path):
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == PNG, path
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    return len(data), width, height


@pytest.mark.parametrize("name", ["unrolled.png", "gradflow.png"])
def test_committed_figures_are_small_pngs(name):
    size, width, height = _png_size(DOCS / "images" / name)
    assert size <= MAX_PNG_BYTES
    assert 600 <= width <= MAX_PNG_WIDTH and height >= 250


def test_unrolled_figure_is_drawn_by_code(tmp_path):
    path = figures.unrolled_figure(tmp_path / "unrolled.png")
    size, width, height = _png_size(path)
    committed = _png_size(DOCS / "images" / "unrolled.png")
    assert (width, height) == committed[1:]
    assert size <= MAX_PNG_BYTES
