# ruff: noqa: RUF001 (Japanese text uses full-width punctuation)
"""Terminal output: aligned tables (Japanese included) and optional colour.

Japanese characters take two columns in a terminal, so alignment counts
display columns (`display_width`), not characters. Colour is used only when
the stream is a terminal and `NO_COLOR` is unset (https://no-color.org),
and never for `TERM=dumb`.
"""

import os
import re
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
