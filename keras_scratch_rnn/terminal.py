# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Terminal output: aligned tables (Japanese included) and optional colour.

Japanese characters take two columns in a terminal, so alignment counts
display columns (`display_width`), not characters. Colour is used only when
the stream is a terminal and `NO_COLOR` is unset (https://no-color.org),
and never for `TERM=dumb`.

`import_tensorflow_quietly` keeps TensorFlow's C++ start-up log lines off
the terminal of this project's own programs (the command line and the
examples); the library never calls it.
"""

import contextlib
import locale
import os
import re
import sys
import tempfile
import unicodedata

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
}


def supports_colour(stream):
    """Whether to colour `stream`: a terminal, no `NO_COLOR`, not dumb."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """Wraps text in ANSI colour codes, or leaves it alone when disabled."""

    def __init__(self, enabled=False):
        self.enabled = enabled

    def __call__(self, text, *styles):
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def display_width(text):
    """Columns `text` takes in a terminal (East Asian wide chars take 2)."""
    width = 0
    for char in _strip_ansi(text):
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def _strip_ansi(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            end = text.find("m", i)
            i = end + 1 if end != -1 else len(text)
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def pad(text, width, align="<"):
    """`text` padded with spaces to `width` display columns."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == ">" else text + fill


# Closing punctuation that must not start a line (kinsoku shori).
_NO_LINE_START = "、。,.)）」』】・ー!?！？:：;；"
_TOKENS = re.compile(r"\s+|[\x21-\x7e]+|.")


def wrap(text, width, indent=""):
    """`text` as lines of at most `width` display columns.

    Breaks at spaces, and between any two Japanese characters, but never
    before closing punctuation such as 、 and 。: the character before it
    moves to the next line with it. A word longer than the line stays
    whole.
    """
    lines, line = [], []  # line: the tokens, spaces included

    def width_of(tokens):
        return display_width(indent + "".join(tokens))

    pending_space = False
    for token in _TOKENS.findall(text):
        if token.isspace():
            pending_space = True
            continue
        piece = [" "] if pending_space and line else []
        pending_space = False
        if not line or width_of([*line, *piece, token]) <= width:
            line += [*piece, token]
            continue
        carried = []
        if token[0] in _NO_LINE_START:
            # Push the last character down with it (and any closing
            # punctuation just before it, which must not start a line either).
            while len(line) > 1 and (
                not carried or carried[0][0] in _NO_LINE_START
            ):
                carried.insert(0, line.pop())
        lines.append(indent + "".join(line).rstrip())
        line = [*carried, token]
    if line:
        lines.append(indent + "".join(line).rstrip())
    return lines


def table(header, rows, align=None, style=None, gap="  ", width=None):
    """Rows of cells as aligned text lines, with a rule under the header.

    Args:
        header: Column titles.
        rows: Lists of cell strings (may hold Japanese).
        align: One of `"<"` or `">"` per column; default all left.
        style: A `Style` for the header (bold), or `None`.
        gap: Text between columns.
        width: If given and the table is wider, the last column is wrapped
            onto continuation lines so that every line fits.

    Returns:
        A list of lines without trailing spaces.
    """
    style = style or Style(False)
    align = align or ["<"] * len(header)
    widths = [
        max(display_width(str(cell)) for cell in column)
        for column in zip(header, *rows)
    ]
    first = sum(widths[:-1]) + len(gap) * (len(widths) - 1)
    if width is not None and first + widths[-1] > width:
        widths[-1] = max(20, width - first)

    def lines(cells):
        *head, last = [str(c) for c in cells]
        parts = wrap(last, widths[-1]) or [""]
        out = []
        for i, part in enumerate(parts):
            left = head if i == 0 else [""] * len(head)
            text = gap.join(
                pad(c, w, a) for c, w, a in zip(left + [part], widths, align)
            )
            out.append(text.rstrip())
        return out

    top = lines(header)
    rule = "-" * max(display_width(t) for t in top)
    body = [line for row in rows for line in lines(row)]
    return [style(t, "bold") for t in top] + [rule] + body


# ---------------------------------------------------------------------------
# TensorFlow's start-up lines.

# A C++ log record, `I0000 00:00:1796071659.748238  4888 file.cc:31] ...`:
# severity I, W, E or F, then the time.
_NATIVE_RECORD = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog()"
# What C++ writes to stderr: UTF-8, or the ANSI code page on Windows.
_NATIVE_ENCODING = (
    locale.getpreferredencoding(False) if os.name == "nt" else "utf-8"
)


def native_log_filter(text, level):
    """The lines of `text` that `TF_CPP_MIN_LOG_LEVEL=level` lets through.

    A record's severity is its first letter (I, W, E, F: 0 to 3); the lines
    after it without a prefix are its continuation and go with it. absl's
    banner counts as INFO: it only announces INFO lines.
    """
    kept, keep = [], True
    for line in text.splitlines(keepends=True):
        if line.startswith(_ABSL_BANNER):
            keep = level < 1
        elif _NATIVE_RECORD.match(line):
            keep = "IWEF".index(line[0]) >= level
        if keep:
            kept.append(line)
    return "".join(kept)


def import_tensorflow_quietly():
    """Imports TensorFlow without its C++ start-up log lines.

    For this project's programs only (the command line, the examples):
    `TF_CPP_MIN_LOG_LEVEL` is set to 3 unless you set it (0 shows
    everything). That level silences what TensorFlow logs once loaded
    (`cpu_feature_guard`, `failed call to cuInit`, XLA's start), but not
    what absl prints while the libraries load, before any level is read
    ("All log messages before absl::InitializeLog()", `cudart_stub`): those
    are held back by `native_stderr_filtered`. Does nothing once TensorFlow
    is imported.

    The level stays set for the rest of the run (and its child processes),
    so later C++ errors are hidden too; run with `TF_CPP_MIN_LOG_LEVEL=0` to
    see everything, for instance when TensorFlow itself fails to load (a
    crash while it loads loses the lines held back).
    """
    if "tensorflow" in sys.modules:
        return
    value = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_filtered(int(value) if value.isdigit() else 0):
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def native_stderr_filtered(level):
    """Holds back the C-level stderr below `level`, as `native_log_filter`.

    Meanwhile file descriptor 2 goes to a temporary file, written back
    through the filter at the end. Python's `sys.stderr` is a second stream
    on the terminal meanwhile, which stays open afterwards: what took it
    for stderr then keeps it (TensorFlow's logger does). Level 0, or no
    stderr file descriptor: no change.
    """
    python_stderr = sys.stderr
    saved = None
    if level > 0 and python_stderr is not None:
        try:
            saved = os.dup(2)
        except OSError:  # no file descriptor 2
            pass
    caught = None
    if saved is not None:
        try:
            caught = tempfile.TemporaryFile()
        except OSError:  # no writable temporary folder: no filter
            os.close(saved)
    if caught is None:
        yield
        return
    python_stderr.flush()
    swapped = _fileno(python_stderr) == 2
    with caught:
        os.dup2(caught.fileno(), 2)
        if swapped:
            sys.stderr = open(
                saved,
                "w",
                buffering=1,
                encoding=python_stderr.encoding,
                errors="backslashreplace",
                closefd=False,
            )
        try:
            yield
        finally:
            sys.stderr.flush()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            if not swapped:
                os.close(saved)
            caught.seek(0)
            text = caught.read().decode(_NATIVE_ENCODING, "replace")
            python_stderr.write(native_log_filter(text, level))
            python_stderr.flush()


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
