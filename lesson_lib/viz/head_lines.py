"""The head view: lines from each token to the tokens it attends to (bertviz's head view).

The tokens are written twice, in two columns: on the left as queries, on
the right as keys. A line joins query ``i`` to key ``j``; the stronger the
weight ``softmax(q_i · k_j / √d)``, the wider and more opaque the line.
A causal model's lines never go down to a later token. Reading one head
this way shows its rule at a glance: a previous-token head draws a ladder
of short diagonal lines, a head resting on the first token a fan into one
key.

``head_view(weights (L, H, T, T), tokens, layer)`` returns a plotly figure
with one button per head of that layer, plus "all heads" (each head in
its own colour, from the Okabe–Ito palette). Hovering a query's dot lists
the keys it attends to most. It needs no kernel.

How the lines are drawn: plotly gives one line trace one width and one
opacity, so each head's lines are grouped into ``N_BINS`` weight bins, one
trace per bin (weight in ``[k/8, (k+1)/8)`` → opacity ``(k+1)/8``). Weights
below ``min_weight`` are not drawn.

Left out: bertviz's highlight of one token's lines on mouse-over (that
needs JavaScript callbacks), and a layer menu (call again with another
``layer``; ``model_view`` shows every layer).
"""
from __future__ import annotations

import numpy as np

from ..checks import check_int, check_number
from .interactive import _plotly
from .palette import LINE_COLOURS
from .static import prepare_attention

__all__ = ["head_view", "N_BINS"]

N_BINS = 8  # line traces per head: weights in [k/8, (k+1)/8)
_TOP = 3  # keys listed when hovering a query


def _lines(w: np.ndarray, lo: float, hi: float):
    """x, y of the lines from query i (x=0) to key j (x=1) with lo <= w[i, j] < hi."""
    qs, ks = np.nonzero((w >= lo) & (w < hi))
    xs, ys = [], []
    for i, j in zip(qs.tolist(), ks.tolist()):
        xs += [0.0, 1.0, None]
        ys += [i, j, None]
    return xs, ys


def head_view(weights, tokens, layer: int, *, min_weight: float = 0.02, title=None):
    """Lines from each query token to the keys it attends to, one head at a time.

    ``weights`` is ``(L, H, T, T)`` (e.g. ``attn[:, 0]`` from
    ``GPT.forward(idx, return_attn=True)``); ``layer`` picks the layer
    drawn. Traces: 0 the query column, 1 the key column, then per head
    ``N_BINS`` line traces and one hover trace, each with ``meta`` = the head.
    Buttons show one head or all of them. Returns a plotly Figure.
    """
    go, _ = _plotly()
    w4, q_labels, k_labels = prepare_attention(weights, tokens, ndims=(4,), fn="head_view")
    n_layer, n_head, tq, tk = w4.shape
    layer = check_int(f"head_view: layer (of {n_layer})", layer, min=0, max=n_layer - 1)
    min_weight = check_number("head_view: min_weight", min_weight, min=0, max=1)
    w = w4[layer]  # (H, T, T)
    heading = title if title is not None else f"Layer {layer}: where each token looks"

    n = max(tq, tk)
    row_px = float(np.clip(550 / (n + 1.5), 10, 30))  # a 720-pixel slide holds T <= 53
    font_px = int(np.clip(row_px * 0.8, 10, 18))
    longest = max(len(s) for s in q_labels + k_labels)
    text_px = min(longest, 20) * font_px * 0.62 + 14  # the token columns
    span_px = 380.0  # from the query dots to the key dots
    pad = (text_px + 10) / span_px  # the token columns, in units of the span
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[-0.03] * tq, y=list(range(tq)), mode="text", text=q_labels,
                             textposition="middle left", textfont=dict(size=font_px),
                             name="queries", hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=[1.03] * tk, y=list(range(tk)), mode="text", text=k_labels,
                             textposition="middle right", textfont=dict(size=font_px),
                             name="keys", hoverinfo="skip", showlegend=False))
    for head in range(n_head):
        colour = LINE_COLOURS[head % len(LINE_COLOURS)]
        for k in range(N_BINS):
            lo = max(k / N_BINS, min_weight)
            hi = (k + 1) / N_BINS if k < N_BINS - 1 else np.inf
            xs, ys = _lines(w[head], lo, hi) if lo < hi else ([], [])
            strength = (k + 1) / N_BINS
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", line=dict(color=colour, width=0.5 + 4 * strength),
                opacity=strength, hoverinfo="skip", visible=head == 0, showlegend=False,
                name=f"head {head}", meta=head))
        tips = []
        for i in range(tq):
            top = np.argsort(-w[head, i], kind="stable")[:_TOP]
            tips.append(f"head {head}, {q_labels[i]!r} looks at: " + ", ".join(
                f"{k_labels[j]!r} {w[head, i, j]:.2f}" for j in top if w[head, i, j] > 0))
        fig.add_trace(go.Scatter(
            x=[0.0] * tq, y=list(range(tq)), mode="markers", hovertext=tips, hoverinfo="text",
            marker=dict(color=colour, size=7), visible=head == 0, showlegend=False,
            name=f"head {head}", meta=head))

    per_head = N_BINS + 1
    buttons = [dict(method="update", label=f"head {h}",
                    args=[{"visible": [True, True] + [t // per_head == h
                                                      for t in range(n_head * per_head)]},
                          {"title.text": f"{heading} (head {h})"}])
               for h in range(n_head)]
    if n_head > 1:
        buttons.append(dict(method="update", label="all heads",
                            args=[{"visible": [True] * (2 + n_head * per_head)},
                                  {"title.text": f"{heading} (all {n_head} heads)"}]))
    fig.update_layout(
        title=dict(text=f"{heading} (head 0)"),
        width=int(max(span_px * (1 + 2 * pad) + 40, 70 * (n_head + 1) + 60)),
        height=int(row_px * (n + 1.5) + 150),
        margin=dict(l=20, r=20, t=120, b=20),
        xaxis=dict(range=[-pad, 1 + pad], visible=False, fixedrange=True),
        yaxis=dict(range=[n - 0.5, -2.0], visible=False, fixedrange=True),
        plot_bgcolor="white", hovermode="closest",
        updatemenus=[dict(type="buttons", direction="right", buttons=buttons, active=0,
                          x=0.0, xanchor="left", y=1.0, yanchor="bottom",
                          pad=dict(b=10), showactive=True)],
        annotations=[dict(text="<b>query</b>", x=-0.03, y=-1.2, xref="x", yref="y",
                          xanchor="right", showarrow=False, font=dict(size=font_px)),
                     dict(text="<b>key</b>", x=1.03, y=-1.2, xref="x", yref="y",
                          xanchor="left", showarrow=False, font=dict(size=font_px))],
    )
    return fig
