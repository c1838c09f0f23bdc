"""Kernel-free interactive views: plotly figures with their own sliders.

Every live widget of the course has a twin here that keeps working in an
exported HTML file or a slide deck with no Python kernel behind it: all
the data sits inside the figure and plotly.js does the interaction.

* ``attention_plotly`` draws one attention map at a time; a slider steps
  through every (layer, head) pair, labelled ``"L0 H1"``. Hovering a cell
  reads ``query → key: weight``. All maps share one colour scale so heads
  can be compared.
* ``positional_encoding_plotly`` shows the sinusoidal table of *Attention
  Is All You Need* section 3.5 three ways: the table itself (position ×
  dimension), the similarity ``PE · PEᵀ`` between positions (near
  positions are alike, and it depends only on their distance), and, with
  a slider over dimension pairs, the sin and cos curves of one pair over
  positions (low dimensions turn fast, high ones slowly).
* ``tokens_html`` colours token boundaries in a piece of text (chapter 06),
  as plain HTML that needs no plotly at all.

plotly is imported inside the functions, so ``import lesson_lib.viz``
needs only torch and matplotlib. Shapes and tokens are checked by the same
``prepare_attention`` as the matplotlib views.

Left out: linked views across figures, attention over several sequences
at once, and token colouring by anything but position (no scores).
"""
from __future__ import annotations

import html
import math

import numpy as np

from .static import _colour_range, prepare_attention

__all__ = ["attention_plotly", "positional_encoding_plotly", "tokens_html"]

_ZWSP = "\u200b"  # zero-width space: keeps repeated tokens apart as categories


def _plotly():
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as err:  # pragma: no cover - plotly is a core dependency
        raise ImportError("the plotly views need plotly: pip install plotly") from err
    return go, make_subplots


def _categories(labels: list[str]) -> list[str]:
    """Axis categories: HTML-escaped (plotly reads tags in labels) and unique.

    A category axis would merge repeated tokens into one row, so the k-th
    repeat gets k zero-width spaces appended; it reads the same on screen.

    >>> [c.replace(_ZWSP, "+") for c in _categories(["the", "<b>", "the"])]
    ['the', '&lt;b&gt;', 'the+']
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        text = html.escape(label, quote=False)
        n = seen.get(text, 0)
        seen[text] = n + 1
        out.append(text + _ZWSP * n)
    return out


def _compact(a, decimals: int = 4) -> np.ndarray:
    """A map for plotly, rounded to ``decimals`` in float64 so that its JSON is short.

    plotly writes a 2-D array as a JSON list of floats, where a float32 0.1
    becomes ``0.10000000149011612``; rounded float64 writes ``0.1``. Saved
    widget state and exported pages shrink about threefold.

    >>> _compact(np.float32([[0.1, 1 / 3]])).tolist()
    [[0.1, 0.3333]]
    """
    return np.round(np.asarray(a, dtype=np.float64), decimals)


def _tick_size(n: int) -> int:
    return int(np.clip(520 / max(n, 1), 7, 13))


def attention_plotly(weights, tokens, key_tokens=None, *, title=None):
    """Attention maps ``(L, H, Tq, Tk)``, ``(H, Tq, Tk)`` or ``(Tq, Tk)`` with a head slider.

    One heatmap trace per (layer, head), in order ``L0 H0, L0 H1, ...``;
    slider step ``k`` makes trace ``k`` alone visible. Rows are queries,
    columns keys (``key_tokens`` default to ``tokens``). Returns a plotly
    ``Figure`` whose ``to_html(include_plotlyjs=True)`` works offline.
    """
    go, _ = _plotly()
    w, q_labels, k_labels = prepare_attention(weights, tokens, key_tokens, ndims=(2, 3, 4),
                                              fn="attention_plotly")
    n_layer, n_head, tq, tk = w.shape
    lo, hi, cmap = _colour_range(w)
    xs, ys = _categories(k_labels), _categories(q_labels)
    names = [f"L{layer} H{head}" for layer in range(n_layer) for head in range(n_head)]
    heading = title if title is not None else "attention weights"

    fig = go.Figure()
    for k, name in enumerate(names):
        layer, head = divmod(k, n_head)
        fig.add_trace(go.Heatmap(
            z=_compact(w[layer, head]),  # (Tq, Tk), compact in the HTML
            x=xs, y=ys, zmin=lo, zmax=hi, colorscale=cmap, name=name, visible=k == 0,
            colorbar=dict(title=dict(text="weight")),
            hovertemplate=f"%{{y}} → %{{x}}: %{{z:.3f}}<extra>{name}</extra>",
        ))

    cell = float(np.clip(440 / max(tq, tk), 7, 40))  # pixels per token; fits a slide
    longest = max(len(s) for s in k_labels)
    label_px = min(longest, 24) * _tick_size(tk) * 0.65 + 20  # rotated x labels
    fig.update_layout(
        title=dict(text=f"{heading}: {names[0]}"),
        width=int(cell * tk + 260), height=int(cell * tq + label_px + 200),
        xaxis=dict(type="category", title=dict(text="key"), tickmode="linear", dtick=1,
                   tickangle=-90 if tk > 12 else -45, tickfont=dict(size=_tick_size(tk))),
        yaxis=dict(type="category", title=dict(text="query"), tickmode="linear", dtick=1,
                   autorange="reversed", tickfont=dict(size=_tick_size(tq))),
        margin=dict(b=int(label_px + 90)),
    )
    if len(names) > 1:
        steps = [dict(method="update", label=name,
                      args=[{"visible": [j == k for j in range(len(names))]},
                            {"title.text": f"{heading}: {name}"}])
                 for k, name in enumerate(names)]
        fig.update_layout(sliders=[dict(
            active=0, steps=steps, currentvalue=dict(prefix="layer/head: "),
            y=0, yanchor="top", pad=dict(t=int(label_px + 10)),
        )])
    return fig


def positional_encoding_plotly(max_len: int = 64, d_model: int = 64, base: float = 10000.0):
    """The sinusoidal table, its position similarity and its curves, with a slider.

    Trace 0 is the table ``(max_len, d_model)``, trace 1 the similarity
    ``PE @ PE.T`` ``(max_len, max_len)``, then two curves per dimension pair
    ``i``: ``PE[:, 2i]`` (sin) and ``PE[:, 2i+1]`` (cos). Slider step ``i``
    shows pair ``i``'s curves and outlines its two columns in the table.
    """
    from lesson_lib.positional import sinusoidal_encoding

    go, make_subplots = _plotly()
    pe = sinusoidal_encoding(max_len, d_model, base).double().numpy()  # (max_len, d_model)
    sim = pe @ pe.T  # (max_len, max_len)
    positions = np.arange(max_len)
    n_pair = d_model // 2

    fig = make_subplots(
        rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], row_heights=[0.6, 0.4],
        horizontal_spacing=0.24, vertical_spacing=0.14,
        subplot_titles=("PE[position, dimension]", "similarity PE·PEᵀ",
                        "one dimension pair over positions"),
    )
    fig.add_trace(go.Heatmap(
        z=_compact(pe), colorscale="RdBu_r", zmid=0, zmin=-1, zmax=1, name="PE",
        colorbar=dict(x=0.39, y=0.79, len=0.5, title=dict(text="value")),
        hovertemplate="position %{y}, dim %{x}: %{z:.3f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(
        z=_compact(sim), colorscale="viridis", name="PE·PEᵀ",
        colorbar=dict(x=1.0, y=0.79, len=0.5, title=dict(text="dot")),
        hovertemplate="positions %{y} · %{x}: %{z:.2f}<extra></extra>"), row=1, col=2)
    for i in range(n_pair):
        wavelength = 2 * math.pi * base ** (2 * i / d_model)  # in positions
        for j, fn in ((2 * i, "sin"), (2 * i + 1, "cos")):
            fig.add_trace(go.Scatter(
                x=positions, y=pe[:, j], mode="lines+markers", marker=dict(size=4),
                name=f"{fn}, dim {j} (wavelength {wavelength:.3g})", visible=i == 0,
                hovertemplate=f"position %{{x}}: %{{y:.3f}}<extra>dim {j}</extra>",
            ), row=2, col=1)

    def outline(i: int):
        return [dict(type="rect", xref="x", yref="y domain", x0=2 * i - 0.5, x1=2 * i + 1.5,
                     y0=0, y1=1, line=dict(color="black", width=2))]

    steps = [dict(method="update", label=f"{2 * i},{2 * i + 1}",
                  args=[{"visible": [True, True] + [j // 2 == i for j in range(2 * n_pair)]},
                        {"shapes": outline(i)}])
             for i in range(n_pair)]
    fig.update_layout(
        title=dict(text=f"Sinusoidal positional encoding (max_len={max_len}, "
                        f"d_model={d_model}, base={base:g})"),
        width=960, height=640, shapes=outline(0),  # fits a 960x700 slide
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="dimensions "),
                      y=0, yanchor="top", pad=dict(t=50))],
        legend=dict(x=1.0, y=0.38, yanchor="top"),
    )
    fig.update_xaxes(title_text="dimension", row=1, col=1)
    fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=1)
    fig.update_xaxes(title_text="position", row=1, col=2)
    fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=2)
    fig.update_xaxes(title_text="position", row=2, col=1)
    fig.update_yaxes(title_text="value", range=[-1.1, 1.1], row=2, col=1)
    return fig


_PALETTE = ("#fde2e4", "#cde7f0", "#e2f0cb", "#fff1c1", "#e4d9f7", "#ffd8b1")


class TokenHTML(str):
    """An HTML string that Jupyter renders (``_repr_html_``) instead of printing."""

    def _repr_html_(self) -> str:
        return str(self)


def tokens_html(tokens, colors=None, ids=None) -> TokenHTML:
    """Text with each token on its own coloured background, to see the boundaries.

    Colours cycle through ``colors`` (CSS colours; default six pastels).
    Hovering a token shows its index and, given ``ids``, its id. A newline
    token shows as ``↵`` and breaks the line.

    >>> str(tokens_html(["a", "<b>"], colors=["red"])).count("<span")
    2
    """
    if isinstance(tokens, str):
        raise TypeError(f"tokens_html: tokens must be a list of strings, got the str "
                        f"{tokens[:20]!r}; for characters pass list(text)")
    tokens = [str(t) for t in tokens]
    palette = list(_PALETTE if colors is None else colors)
    if not palette:
        raise ValueError("tokens_html: colors is empty; pass at least one CSS colour or None")
    if ids is not None and len(ids) != len(tokens):
        raise ValueError(f"tokens_html: got {len(ids)} ids for {len(tokens)} tokens; "
                         "pass one id per token")
    spans = []
    for k, tok in enumerate(tokens):
        tip = f"token {k}" + (f", id {int(ids[k])}" if ids is not None else "")
        text = html.escape(tok).replace("\n", "↵\n") if tok else "∅"
        colour = html.escape(str(palette[k % len(palette)]))
        spans.append(f'<span title="{tip}" style="background:{colour};'
                     f'border-radius:3px;padding:1px 0;margin:0 1px">{text}</span>')
    return TokenHTML('<div style="font-family:monospace;white-space:pre-wrap;'
                     'line-height:1.9">' + "".join(spans) + "</div>")
