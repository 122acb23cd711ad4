"""The docs figure: the RNN unrolled in time, and where each option acts.

`unrolled_figure(path)` draws T = 4 steps of `h_t = act(x_t Wx + h_{t-1} Wh
+ b)` and marks where `return_sequences`, `return_state`, `go_backwards`,
`stateful`, masking, dropout and the BPTT backward act. Needs matplotlib,
imported only inside the function; `python -m keras_scratch_rnn docs`
redraws `docs/images/unrolled.png`. `japanese_font()` finds a font for
figures with Japanese labels (`gradflow.plot(..., lang="ja")`).
"""

import itertools

BOX = "#e8eef7"
MASKED = "#d9d9d9"
DROPOUT = "#d9822b"
RECURRENT_DROPOUT = "#8e44ad"
BACKWARD = "#c0392b"
STATE = "#1f618d"
# Fonts with Japanese glyphs that matplotlib may find (Linux, macOS,
# Windows), in order of preference.
JAPANESE_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "TakaoGothic",
    "VL Gothic",
    "Source Han Sans JP",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
)


def japanese_font():
    """The name of a font with Japanese glyphs that matplotlib finds, or
    None. Imports matplotlib's font manager (not TensorFlow)."""
    from matplotlib import font_manager

    found = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in JAPANESE_FONTS if name in found), None)


def unrolled_figure(path, dpi=100):
    """Saves the unrolled-computation figure as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 6.4))
    ax.set_xlim(0, 12.4)
    ax.set_ylim(-0.2, 8.6)
    ax.axis("off")

    def arrow(start, end, color="black", style="-|>", ls="-", lw=1.4, rad=0):
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle=style,
                mutation_scale=12,
                color=color,
                linestyle=ls,
                linewidth=lw,
                connectionstyle=f"arc3,rad={rad}",
            )
        )

    def text(x, y, s, **kw):
        kw.setdefault("ha", "center")
        kw.setdefault("va", "center")
        kw.setdefault("fontsize", 9)
        ax.text(x, y, s, **kw)

    def dot(x, y, color, label, dx=0.3, dy=0.0):
        ax.plot(x, y, "o", ms=13, mfc="white", mec=color, mew=1.6)
        text(
            x,
            y,
            "\N{MULTIPLICATION SIGN}",
            color=color,
            fontsize=10,
            fontweight="bold",
        )
        text(x + dx, y + dy, label, color=color, fontsize=8, ha="left")

    xs = [2.6, 5.0, 7.4, 9.8]
    y, w, h = 4.2, 1.5, 1.0
    masked_step = 2
    text(
        6.2,
        8.35,
        "One box per step, the same Wx, Wh, b in every box:  "
        "h_t = act(x_t Wx + h_{t-1} Wh + b)",
        fontsize=11,
        fontweight="bold",
    )

    for t, x in enumerate(xs):
        masked = t == masked_step
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.05",
                fc=MASKED if masked else BOX,
                ec="0.3",
                hatch="//" if masked else None,
            )
        )
        text(x, y + 0.18, f"step {t}", fontsize=9, fontweight="bold")
        text(
            x,
            y - 0.2,
            "masked" if masked else f"h_{t} = act(a_{t})",
            fontsize=8,
        )
        # input x_t with the input dropout mask
        text(x, 1.75, f"x_{t}", fontsize=11)
        arrow((x, 2.0), (x, y - h / 2 - 0.05))
        dot(x, 2.45, DROPOUT, "m_x")
        # output o_t
        arrow((x, y + h / 2 + 0.05), (x, 6.35))
        text(x, 6.6, f"o_{t}", fontsize=11)

    # the recurrence h_{t-1} -> step t, with the recurrent dropout mask
    text(0.55, y, "h_{-1}", fontsize=11, color=STATE)
    arrow((0.95, y), (xs[0] - w / 2 - 0.08, y), color=STATE)
    dot(1.35, y, RECURRENT_DROPOUT, "m_h", dx=-0.2, dy=0.35)
    for a, b in itertools.pairwise(xs):
        arrow((a + w / 2 + 0.08, y), (b - w / 2 - 0.08, y), color=STATE)
        dot((a + b) / 2, y, RECURRENT_DROPOUT, "m_h", dx=-0.2, dy=0.35)
    arrow((xs[-1] + w / 2 + 0.08, y), (11.55, y), color=STATE)
    text(11.9, y, "h_{T-1}", fontsize=11, color=STATE)

    # masking: the state skips the masked step
    xm = xs[masked_step]
    arrow(
        (xm - w / 2 - 0.1, y - 0.35),
        (xm + w / 2 + 0.1, y - 0.35),
        color=STATE,
        ls="--",
        rad=0.35,
    )
    text(
        xm,
        3.2,
        "mask_t = False: h_t = h_{t-1},\n"
        "o_t = o_{t-1} (0 with zero_output_for_mask)",
        fontsize=7.5,
        color="0.25",
        bbox={"fc": "white", "ec": "none", "pad": 1},
    )

    # outputs
    ax.plot([xs[0] - 0.4, xs[-1] + 0.4], [7.0, 7.0], color="0.2", lw=1)
    for x in (xs[0] - 0.4, xs[-1] + 0.4):
        ax.plot([x, x], [6.85, 7.0], color="0.2", lw=1)
    text(
        (xs[0] + xs[-1]) / 2,
        7.3,
        "return_sequences=True: every o_t, shape (N, T, H)",
        fontsize=9,
    )
    text(
        xs[-1] + 0.2,
        7.75,
        "return_sequences=False: o_{T-1} only, (N, H)",
        fontsize=9,
        ha="center",
    )
    arrow((xs[-1] + 0.2, 7.6), (xs[-1], 6.85), color="0.2", lw=1)
    text(
        11.9,
        y + 0.9,
        "return_state=True:\n(output, h_{T-1})",
        fontsize=8.5,
        color=STATE,
    )

    # BPTT backward: dh flows from right to left above the recurrence
    for a, b in zip(xs[1:][::-1], xs[:-1][::-1]):
        arrow((a - 0.35, 5.25), (b + 0.35, 5.25), color=BACKWARD, ls="--")
    text(
        (xs[0] + xs[-1]) / 2 + 0.1,
        5.55,
        "BPTT, t = T-1, ..., 0 (reverse order): dt = (dh_t + do_t) * "
        "act'(a_t),  dh_{t-1} = dt Wh^T",
        fontsize=8.5,
        color=BACKWARD,
    )

    # dropout legend, go_backwards and stateful notes
    text(
        0.3,
        2.45,
        "dropout: one mask m_x (N, D)\nfor every t (training only)",
        fontsize=7.5,
        color=DROPOUT,
        ha="left",
    )
    text(
        0.3,
        y + 1.15,
        "recurrent_dropout: one m_h (N, H)\non h_{t-1} into Wh, every t",
        fontsize=7.5,
        color=RECURRENT_DROPOUT,
        ha="left",
    )
    text(
        6.2,
        1.15,
        "go_backwards=True: the boxes read x_{T-1}, ..., x_0 from left to "
        "right, and the outputs stay in that order (o_0 belongs to x_{T-1})",
        fontsize=8.5,
    )
    text(
        0.55, y - 0.55, "initial_state\n(default 0)", fontsize=7.5, color=STATE
    )
    ax.plot(
        [11.9, 11.9, 0.12], [y - 0.3, 0.6, 0.6], color=STATE, ls=":", lw=1.4
    )
    arrow((0.12, 0.6), (0.12, y - 0.2), color=STATE, ls=":")
    text(
        6.2,
        0.25,
        "stateful=True: h_{T-1} is the next batch's h_{-1} (row i to row i); "
        "no gradient crosses the batch boundary (truncated BPTT)",
        fontsize=8.5,
        color=STATE,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path
