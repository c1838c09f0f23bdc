"""Tokens drawn as coloured boxes in lines of text, the layout of the strip views.

``loss_strip`` and ``presentation_attention`` show a text as it reads, one
box per token (or word), each box coloured by a number. Plotly has no text
flow, so the boxes are horizontal bars on axes measured in pixels: a box is
as wide as its label in a monospace font, boxes fill a line up to the
figure's width and then wrap, and a newline token ends its line. Colour,
text colour and hover text are arrays on the bar trace, so a slider can
restyle them without moving a box.

``flow`` is the pure layout; ``box_trace`` makes the bar trace and
``box_axes`` the axes the boxes sit on.

Left out: right-to-left scripts, and fonts other than monospace (widths are
estimated from the character count).
"""
from __future__ import annotations

from .palette import MONO_CHAR_EM, MONO_FONT

__all__ = ["flow", "box_trace", "box_axes"]


def flow(labels, *, font_px: float, width_px: float, pad_px: float = 8.0, gap_px: float = 4.0,
         breaks=None):
    """Place boxes for ``labels`` in lines: ``[(line, x0, width), ...]`` in pixels.

    A box is ``len(label) * MONO_CHAR_EM * font_px + 2 * pad_px`` wide; boxes are
    ``gap_px`` apart and wrap before passing ``width_px``. ``breaks[i]`` true
    starts label ``i`` on a new line.

    >>> flow(["ab", "c", "de"], font_px=10, width_px=40, pad_px=2, gap_px=1)
    [(0, 0.0, 16.2), (0, 17.2, 10.1), (1, 0.0, 16.2)]
    """
    out, line, x = [], 0, 0.0
    for i, label in enumerate(labels):
        w = round(max(len(label), 1) * MONO_CHAR_EM * font_px + 2 * pad_px, 2)
        if x > 0 and (x + w > width_px or (breaks is not None and breaks[i])):
            line, x = line + 1, 0.0
        out.append((line, round(x, 2), w))
        x += w + gap_px
    return out


def box_trace(go, boxes, labels, *, colors, text_colors, hovertext, font_px: float, name: str,
              visible=True, colorscale=None, cmin=None, cmax=None, colorbar=None, meta=None):
    """A horizontal bar trace: one box per label at ``boxes`` (from ``flow``)."""
    marker = dict(color=list(colors), line=dict(width=0))
    if colorscale is not None:
        marker.update(colorscale=colorscale, cmin=cmin, cmax=cmax, showscale=colorbar is not None)
        if colorbar is not None:
            marker["colorbar"] = colorbar
    return go.Bar(
        orientation="h", y=[b[0] for b in boxes], base=[b[1] for b in boxes],
        x=[b[2] for b in boxes], width=0.78, marker=marker, text=list(labels),
        textposition="inside", insidetextanchor="middle", textangle=0,
        textfont=dict(family=MONO_FONT, size=font_px, color=list(text_colors)),
        hovertext=list(hovertext), hoverinfo="text", name=name, visible=visible,
        showlegend=False, meta=meta, cliponaxis=False,
    )


def box_axes(fig, *, width_px: float, n_lines: int, row: int = None, col: int = None) -> None:
    """Hide the axes and make one x unit one pixel; line 0 at the top; boxes never side by side."""
    where = {} if row is None else dict(row=row, col=col)
    fig.update_layout(barmode="overlay")  # "group" would shift bars of several traces apart
    fig.update_xaxes(range=[-2, width_px + 2], visible=False, fixedrange=True, **where)
    fig.update_yaxes(range=[n_lines - 0.5, -0.5], visible=False, fixedrange=True, **where)
