"""The model view: every head of every layer at once, as thumbnails (bertviz's model view).

One glance at all ``L × H`` attention maps of one text shows what kinds of
head a model has grown: heads that look at the previous token (a bright
line just below the diagonal), heads that rest on the first token (a
bright first column), heads that spread out evenly, and, in trained models
with repeated text, induction heads (a line offset by the repeat).

``model_view(weights (L, H, T, T), tokens)`` returns a plotly figure with a
grid of heatmaps: rows are layers, columns heads, one heatmap trace per
head, each titled ``"layer l · head h"``, all on one colour scale with one
colourbar. Hovering a cell reads ``query → key: weight``. The figure needs
no kernel: saved as HTML it keeps its hover and zoom.

Left out: clicking a thumbnail to enlarge it (``attention_plotly`` shows one
map large, with a slider), and several texts at once.
"""
from __future__ import annotations

import numpy as np

from ..checks import check_int
from .interactive import _categories, _plotly
from .palette import MAP_SCALE
from .static import layer_labels, prepare_attention

__all__ = ["model_view"]


def model_view(weights, tokens, *, layers=None, title=None, width: int = 1280,
               height: int = 720):
    """Every layer × head as one thumbnail heatmap; returns a plotly Figure.

    ``weights`` is ``(L, H, T, T)``, e.g. ``attn[:, 0]`` from
    ``GPT.forward(idx, return_attn=True)``; ``tokens`` one string per
    position. Trace ``l * H + h`` is layer ``l``, head ``h``, titled
    ``"layer l · head h"`` (``"Ll Hh"`` on thumbnails under 150 px). ``layers``
    names the real layer indices when the weights are a slice
    (``model_view(attn[2:4, 0], tokens, layers=[2, 3])``). The figure fits
    in ``width`` × ``height`` pixels (a 1280 × 720 slide by default) with
    square thumbnails.
    """
    go, make_subplots = _plotly()
    w, q_labels, k_labels = prepare_attention(weights, tokens, ndims=(4,), fn="model_view")
    n_layer, n_head, tq, tk = w.shape
    names = layer_labels(layers, n_layer, "model_view")
    width = check_int("model_view: width (pixels)", width, min=200)
    height = check_int("model_view: height (pixels)", height, min=200)
    xs, ys = _categories(k_labels), _categories(q_labels)
    titles = [f"layer {names[layer]} · head {head}"
              for layer in range(n_layer) for head in range(n_head)]
    short = [f"L{names[layer]} H{head}" for layer in range(n_layer) for head in range(n_head)]

    gap = 0.03 if n_head > 1 else 0.0  # between thumbnails, a fraction of the plot area
    v_gap = min(0.3 / n_layer, 0.08) if n_layer > 1 else 0.0
    fig = make_subplots(rows=n_layer, cols=n_head, subplot_titles=titles,
                        horizontal_spacing=gap, vertical_spacing=v_gap)
    for k, name in enumerate(titles):
        layer, head = divmod(k, n_head)
        fig.add_trace(go.Heatmap(
            z=w[layer, head].astype(np.float32), x=xs, y=ys, coloraxis="coloraxis",
            name=name, hovertemplate=f"%{{y}} → %{{x}}: %{{z:.3f}}<extra>{name}</extra>",
        ), row=layer + 1, col=head + 1)
    hi = float(w.max()) or 1.0
    # the grid fills the width or the height, whichever is tighter; thumbnails stay square
    across, down = 1 - gap * (n_head - 1), 1 - v_gap * (n_layer - 1)  # share of the thumbnails
    aspect = tq / max(tq, tk)
    panel = min((width - 130) * across / n_head, (height - 100) * down / (n_layer * aspect))
    width = int(panel * n_head / across + 130)
    height = int(panel * aspect * n_layer / down + 100)
    if panel < 150:  # "layer 0 · head 0" would not fit above a small thumbnail
        for annotation, text in zip(fig.layout.annotations, short):
            annotation.text = text
    title_px = int(np.clip(panel / 6, 11, 16))
    fig.update_layout(
        title=dict(text=title if title is not None else
                   f"Every head at once: {n_layer} layers × {n_head} heads, {tq} tokens"),
        width=width, height=height, margin=dict(l=30, r=100, t=80, b=20),
        coloraxis=dict(colorscale=MAP_SCALE, cmin=0.0, cmax=hi,
                       colorbar=dict(title=dict(text="weight"), thickness=14)),
        plot_bgcolor="white", font=dict(size=14),
    )
    fig.update_annotations(font_size=title_px)
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, type="category")
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, type="category",
                     autorange="reversed")
    return fig
