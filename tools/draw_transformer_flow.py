"""Draw the overall flow of the encoder-decoder Transformer (chapter 05's diagram).

    python tools/draw_transformer_flow.py      # writes assets/figures/transformer_flow.svg

The picture follows Figure 1 and section 3.1 of *Attention Is All You Need*
(Vaswani et al. 2017) but draws two layers of each stack, the first and the
N-th, so that the data flow the figure leaves implicit is visible:

* every decoder layer, the first included, starts with masked
  self-attention over the target so far;
* the encoder-decoder attention of *every* decoder layer takes its keys and
  values from the *final* encoder output (the "memory") and its queries
  from that same decoder layer's masked self-attention;
* the decoder's last output goes through a Linear layer and a Softmax.

The output is deterministic (no date in the file, fixed SVG ids), so
re-running the script on the same matplotlib version changes nothing.
Left out: residual arrows inside each "+ Add & Norm" box, dropout, and
the multi-head split (chapter 02).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "assets" / "figures" / "transformer_flow.svg"

COLOURS = {
    "embed": "#f4cfd9",  # embeddings + positions
    "self": "#fde0b6",  # self-attention (encoder)
    "masked": "#fde0b6",  # masked self-attention (decoder)
    "cross": "#f7a98b",  # encoder-decoder attention: the one to notice
    "ffn": "#c9ddf0",  # position-wise feed-forward
    "linear": "#ddd5ee",  # output Linear
    "softmax": "#cdeac4",  # output Softmax
    "memory": "#fff3a6",  # the final encoder output
    "frame": "#f2f2f2",  # one layer
}
ENC_X, DEC_X, WIDTH = 3.0, 8.7, 3.7  # column centres and box width
BUS_X = 5.75  # the vertical line carrying the memory to every decoder layer
TEXT = dict(ha="center", va="center", fontsize=9.5)


def box(ax, x, y0, y1, text, colour, width=WIDTH, fontsize=9.5, bold=False, edge="#444444"):
    """A rounded box centred on ``x`` from ``y0`` to ``y1``; returns (left, right, y0, y1)."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y0), width, y1 - y0,
                                boxstyle="round,pad=0,rounding_size=0.12",
                                facecolor=colour, edgecolor=edge, linewidth=1.0))
    ax.text(x, (y0 + y1) / 2, text, ha="center", va="center", fontsize=fontsize,
            fontweight="bold" if bold else "normal", linespacing=1.25)
    return x - width / 2, x + width / 2, y0, y1


def frame(ax, x, y0, y1, label):
    """The grey frame around one layer, with its name on the outer side."""
    w = WIDTH + 0.5
    ax.add_patch(FancyBboxPatch((x - w / 2, y0), w, y1 - y0,
                                boxstyle="round,pad=0,rounding_size=0.2",
                                facecolor=COLOURS["frame"], edgecolor="#888888",
                                linewidth=1.0, linestyle=(0, (4, 2))))
    side = -1 if x < BUS_X else 1
    ax.text(x + side * (w / 2 + 0.12), (y0 + y1) / 2, label, rotation=90, fontsize=9,
            ha="right" if side < 0 else "left", va="center", color="#555555")


def arrow(ax, xy0, xy1, colour="#333333", width=1.3, style="-|>", ls="-"):
    ax.add_patch(FancyArrowPatch(xy0, xy1, arrowstyle=style, mutation_scale=12,
                                 color=colour, linewidth=width, linestyle=ls,
                                 shrinkA=0, shrinkB=0))


def between(ax, x, y0, y1):
    """The layers left out: a line, a gap with dots, an arrow into the next layer drawn."""
    mid = (y0 + y1) / 2
    ax.plot([x, x], [y0, mid - 0.2], color="#333333", lw=1.3)
    ax.text(x, mid, "⋮", fontsize=14, ha="center", va="center")
    arrow(ax, (x, mid + 0.2), (x, y1))


def encoder_layer(ax, y0, name):
    """Self-attention, then FFN, each with Add & Norm. Returns (bottom, top)."""
    frame(ax, ENC_X, y0, y0 + 2.5, name)
    box(ax, ENC_X, y0 + 0.3, y0 + 1.1, "Self-attention + Add & Norm\nQ, K, V from the source",
        COLOURS["self"])
    box(ax, ENC_X, y0 + 1.4, y0 + 2.2, "Feed-forward + Add & Norm", COLOURS["ffn"])
    arrow(ax, (ENC_X, y0 + 1.1), (ENC_X, y0 + 1.4))
    return y0, y0 + 2.5


def decoder_layer(ax, y0, name):
    """Masked self-attention, encoder-decoder attention, FFN. Returns the cross box's y range."""
    frame(ax, DEC_X, y0, y0 + 3.6, name)
    box(ax, DEC_X, y0 + 0.3, y0 + 1.1,
        "Masked self-attention + Add & Norm\nQ, K, V from the target so far", COLOURS["masked"])
    cross = box(ax, DEC_X, y0 + 1.4, y0 + 2.2,
                "Encoder–decoder attention\n+ Add & Norm", COLOURS["cross"], bold=True)
    box(ax, DEC_X, y0 + 2.5, y0 + 3.3, "Feed-forward + Add & Norm", COLOURS["ffn"])
    arrow(ax, (DEC_X, y0 + 1.1), (DEC_X, y0 + 1.4), colour="#b2182b", width=1.8)
    ax.text(DEC_X + 0.12, y0 + 1.25, "Q", color="#b2182b", fontsize=10, fontweight="bold",
            ha="left", va="center")
    arrow(ax, (DEC_X, y0 + 2.2), (DEC_X, y0 + 2.5))
    return cross


def draw() -> plt.Figure:
    fig = plt.figure(figsize=(8.4, 10.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.1, 12.0)
    ax.set_ylim(-1.0, 14.5)
    ax.axis("off")

    ax.text(6.0, 14.15, "The overall flow of the Transformer", fontsize=14, fontweight="bold",
            ha="center", va="center")
    ax.text(6.0, 13.7, "Vaswani et al. 2017, §3 and Figure 1 · two of the N layers drawn "
            "in each stack", fontsize=9.5, ha="center", va="center", color="#555555")
    ax.text(ENC_X, -0.65, "ENCODER (§3.1)", fontsize=11, fontweight="bold", ha="center")
    ax.text(DEC_X, -0.65, "DECODER (§3.1)", fontsize=11, fontweight="bold", ha="center")

    # inputs
    ax.text(ENC_X, 0.0, "source tokens   a b c d", **TEXT)
    ax.text(DEC_X, 0.0, "target so far, shifted right   ^ d c b", **TEXT)
    for x in (ENC_X, DEC_X):
        box(ax, x, 0.6, 1.4, "Embedding × √d_model\n+ positional encoding (§3.4, §3.5)",
            COLOURS["embed"])
        arrow(ax, (x, 0.25), (x, 0.6))

    # encoder stack: layer 1, dots, layer N, then the memory
    e1 = encoder_layer(ax, 2.0, "encoder layer 1")
    eN = encoder_layer(ax, 5.4, "encoder layer N")
    arrow(ax, (ENC_X, 1.4), (ENC_X, e1[0] + 0.3))
    between(ax, ENC_X, e1[0] + 2.2, eN[0] + 0.3)
    mem = box(ax, ENC_X, 8.7, 9.9, "Encoder output = memory (B, S, C)\nthe FINAL encoder "
              "layer's output,\nthe same for every decoder layer", COLOURS["memory"],
              fontsize=9)
    arrow(ax, (ENC_X, eN[0] + 2.2), (ENC_X, 8.7))

    # decoder stack: layer 1, dots, layer N
    c1 = decoder_layer(ax, 2.0, "decoder layer 1 (the first one runs masked self-attention too)")
    cN = decoder_layer(ax, 6.6, "decoder layer N")
    arrow(ax, (DEC_X, 1.4), (DEC_X, 2.3))
    between(ax, DEC_X, 5.3, 6.9)

    # the memory bus: K and V into the encoder-decoder attention of EVERY decoder layer
    bus = dict(colour="#1a6faf", width=2.0)
    y_mem = 9.3
    ax.plot([mem[1], BUS_X], [y_mem, y_mem], color=bus["colour"], lw=bus["width"])
    y_low = (c1[2] + c1[3]) / 2
    ax.plot([BUS_X, BUS_X], [y_mem, y_low], color=bus["colour"], lw=bus["width"])
    for cross in (c1, cN):
        y = (cross[2] + cross[3]) / 2
        arrow(ax, (BUS_X, y), (cross[0], y), **bus)
        ax.text((BUS_X + cross[0]) / 2, y + 0.12, "K, V", color=bus["colour"], fontsize=10,
                fontweight="bold", ha="center", va="bottom")
    ax.text(BUS_X - 0.1, 6.25, "memory → every\ndecoder layer", color=bus["colour"],
            fontsize=8.5, ha="right", va="center", rotation=90)

    # output: Linear, Softmax, probabilities
    box(ax, DEC_X, 10.6, 11.3, "Linear  (d_model → vocabulary size V)", COLOURS["linear"])
    box(ax, DEC_X, 11.7, 12.4, "Softmax  (§3.4)", COLOURS["softmax"])
    arrow(ax, (DEC_X, 9.9), (DEC_X, 10.6))
    arrow(ax, (DEC_X, 11.3), (DEC_X, 11.7))
    ax.text(DEC_X, 13.05, "next-token probabilities (B, T, V)", **TEXT)
    arrow(ax, (DEC_X, 12.4), (DEC_X, 12.8))

    # greedy decoding closes the loop: the chosen token joins the target so far
    loop_x = 11.35
    ax.plot([DEC_X + WIDTH / 2 + 0.15, loop_x], [13.05, 13.05], color="#777777", lw=1.2, ls="--")
    ax.plot([loop_x, loop_x], [13.05, 0.0], color="#777777", lw=1.2, ls="--")
    arrow(ax, (loop_x, 0.0), (DEC_X + 1.95, 0.0), colour="#777777", width=1.2, ls="--")
    ax.text(loop_x + 0.12, 7.0, "decoding: append the chosen token to the target, repeat",
            rotation=90, fontsize=8.5, color="#555555", ha="left", va="center")
    return fig


def main(out: Path = OUT) -> Path:
    """Draw the diagram and write it to ``out`` (an SVG, text drawn as paths)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context({"svg.hashsalt": "transformer-flow", "svg.fonttype": "path",
                         "font.family": "DejaVu Sans"}):
        fig = draw()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(f"wrote {main()}")
