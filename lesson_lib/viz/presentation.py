"""Presentation mode: attention between words, large enough for the back row of a lecture hall.

The shipped models read characters, and a 56 × 56 map of single letters
cannot be read from ten metres. This view shows the text as it reads, a
box per word, and colours every word by how much attention the chosen
query word pays to it: "where does *Romeo* look?". A slider picks the
query word, a second one the layer and head. Words after the query (a
causal model cannot see them) are grey.

Characters become words the way bertviz merges word pieces
(``merge_attention``): the attention a query character pays to a word is
the **sum** over that word's characters (the word gets all the weight its
pieces got), and a word's attention is the **mean** over its query
characters. Every row of the merged map still sums to 1. ``word_groups``
cuts a text into words: a run of letters and digits (with an inner
apostrophe), or a run of punctuation, with the spaces before it. BPE
tokens merge the same way; ``words=False`` keeps the tokens as they are.

The figure is 1280 × 720 pixels, its smallest text 18 px, its colours
viridis (and Okabe–Ito vermillion for the query's outline), so it reads on a
projector and to colour-blind viewers. At most ``max_tokens`` (32) words
are shown: the last ones, with the attention they pay to earlier words
left out of view (the note under the title says so).

Left out: the matrix form (``attention_plotly``), more than one text, and
scripts written without spaces (each character is then one word).
"""
from __future__ import annotations

import re

import numpy as np

from ..checks import check_int
from .interactive import _plotly
from .palette import MAP_SCALE, MUTED, PROJECTOR_FONT_PX, text_on
from .static import display_token, prepare_attention
from .token_boxes import box_axes, box_trace, flow

__all__ = ["word_groups", "merge_attention", "presentation_attention"]

_WORD = re.compile(r"\s*(?:\w+(?:['’]\w+)*|[^\w\s]+)|\s+")
WIDTH, HEIGHT = 1280, 720  # a 16:9 slide
_WORD_PX = 26  # the words
_QUERY_COLOUR = "#D55E00"  # Okabe-Ito vermillion: the query's outline
_TICKS = np.array([0.0, 0.02, 0.1, 0.25, 0.5, 1.0])  # colourbar ticks, in weights


def word_groups(tokens):
    """Which word each token belongs to: ``(groups, labels, breaks)``.

    ``groups[t]`` is the word index of token ``t`` (a token belongs to the
    word its first character is in), ``labels`` the words without their
    surrounding spaces, ``breaks[w]`` true when word ``w`` starts after a
    newline.

    >>> word_groups(list("to be,\\nor"))
    ([0, 0, 1, 1, 1, 2, 3, 3, 3], ['to', 'be', ',', 'or'], [False, False, False, True])
    >>> word_groups([" the", " cat", "s"])[:2]
    ([0, 1, 1], ['the', 'cats'])
    """
    tokens = [str(t) for t in tokens]
    text = "".join(tokens)
    spans = [m.span() for m in _WORD.finditer(text)]
    if len(spans) > 1 and not text[spans[-1][0]:spans[-1][1]].strip():
        spans[-2] = (spans[-2][0], spans[-1][1])  # trailing spaces join the last word
        spans.pop()
    word_of_char = np.zeros(max(len(text), 1), dtype=int)
    for w, (a, b) in enumerate(spans):
        word_of_char[a:b] = w
    raw, pos = [], 0
    for tok in tokens:
        raw.append(int(word_of_char[min(pos, len(text) - 1)]) if text else 0)
        pos += len(tok)
    renumber = {w: i for i, w in enumerate(sorted(set(raw)))}
    groups = [renumber[w] for w in raw]
    pieces = [""] * len(renumber)
    for tok, g in zip(tokens, groups):
        pieces[g] += tok
    labels = [p.strip() or display_token(p) for p in pieces]
    breaks = ["\n" in p[:len(p) - len(p.lstrip())] for p in pieces]
    return groups, labels, breaks


def merge_attention(weights, groups) -> np.ndarray:
    """Attention between groups of tokens: sum over key tokens, mean over query tokens.

    ``weights`` is ``(..., T, T)``, ``groups[t]`` the group (0..G-1) of
    token ``t``; returns ``(..., G, G)``. Rows that summed to 1 still do.
    Worked example, tokens ``a b c`` with ``a, b`` one word::

        weights          groups [0, 0, 1]    merged
        a: 1.0 0.0 0.0                       ab: mean(1.0, 1.0) = 1.0, mean(0.0, 0.0) = 0.0
        b: 0.5 0.5 0.0                       c:  0.2 + 0.3 = 0.5,        0.5
        c: 0.2 0.3 0.5

    >>> merge_attention([[1.0, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]], [0, 0, 1]).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    w = np.asarray(weights, dtype=np.float64)
    g = np.asarray(groups)
    if w.ndim < 2 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"merge_attention expects weights (..., T, T), got shape {w.shape}")
    if g.ndim != 1 or len(g) != w.shape[-1] or g.dtype.kind not in "iu":
        raise ValueError(f"merge_attention: groups must be {w.shape[-1]} ints, one per token, "
                         f"got {g.tolist() if g.ndim == 1 else g.shape}")
    n_group = int(g.max()) + 1 if len(g) else 0
    if len(g) and (g.min() < 0 or set(g.tolist()) != set(range(n_group))):
        raise ValueError(f"merge_attention: groups must use every index 0..G-1, got "
                         f"{sorted(set(g.tolist()))}")
    member = np.zeros((len(g), n_group))  # (T, G): token t is in group g
    member[np.arange(len(g)), g] = 1.0
    to_groups = w @ member  # (..., T, G): sum over each group's key tokens
    mean_rows = (member / member.sum(0)).T  # (G, T)
    return mean_rows @ to_groups  # (..., G, G): mean over each group's query tokens


def _first_query(labels) -> int:
    """The last word with a letter or digit in it (not a full stop), else the last word."""
    for q in range(len(labels) - 1, -1, -1):
        if any(c.isalnum() for c in labels[q]):
            return q
    return len(labels) - 1


def presentation_attention(weights, tokens, *, words: bool = True, max_tokens: int = 32,
                           layer=None, head=None, query=None, title=None):
    """Attention of one query word over the text, big and colour-blind safe; a plotly Figure.

    ``weights`` is ``(L, H, T, T)``, ``(H, T, T)`` or ``(T, T)``; ``tokens``
    the ``T`` token strings, or a str whose characters are the tokens (a
    character-level model). ``words`` merges tokens into words. ``layer``
    and ``head`` pick the head shown first (default 0, 0); the head slider
    still offers every head. ``query`` is the word shown first (an index
    into the words in view; default the last word with a letter). Traces:
    one bar trace of word boxes per (layer, head), in order L0 H0, L0 H1,
    ..., then one for the colourbar. The colour follows the square root of
    the weight, so small shares stay visible; the colourbar is labelled in
    weights.
    """
    go, _ = _plotly()
    from plotly.colors import sample_colorscale

    if isinstance(tokens, str):
        tokens = list(tokens)
    w, _, _ = prepare_attention(weights, tokens, ndims=(2, 3, 4), fn="presentation_attention")
    n_layer, n_head, T, _ = w.shape
    max_tokens = check_int("presentation_attention: max_tokens", max_tokens, min=1, max=64)
    pairs = [(lyr, hd) for lyr in range(n_layer) for hd in range(n_head)]
    start = (check_int(f"presentation_attention: layer (of {n_layer})", layer or 0, min=0,
                       max=n_layer - 1) * n_head
             + check_int(f"presentation_attention: head (of {n_head})", head or 0, min=0,
                         max=n_head - 1))
    if words:
        groups, labels, breaks = word_groups(tokens)
    else:
        groups = list(range(T))
        labels = [display_token(t) for t in tokens]
        breaks = [i > 0 and str(tokens[i - 1]).endswith("\n") for i in range(T)]
    merged = merge_attention(w, groups)  # (L, H, G, G)
    n_all = merged.shape[-1]
    causal = bool(np.allclose(np.triu(merged, k=1), 0.0, atol=1e-6))
    first = max(0, n_all - max_tokens)  # the words in view: the last max_tokens
    merged, labels, breaks = merged[..., first:, first:], labels[first:], breaks[first:]
    G = len(labels)
    query = _first_query(labels) if query is None else check_int(
        f"presentation_attention: query (a word index, of {G} in view)", query, min=0,
        max=G - 1)

    inner = WIDTH - 120  # pixels of text per line
    labels = [s if len(s) <= 24 else s[:23] + "…" for s in labels]
    boxes = flow(labels, font_px=_WORD_PX, width_px=inner, pad_px=10, gap_px=8,
                 breaks=[b and i > 0 for i, b in enumerate(breaks)])
    n_lines = boxes[-1][0] + 1
    colours = sample_colorscale(MAP_SCALE, np.linspace(0, 1, 101).tolist())  # 0.00 ... 1.00

    def paint(lyr: int, hd: int, q: int):
        row = np.clip(merged[lyr, hd, q], 0.0, 1.0)  # (G,)
        future = causal & (np.arange(G) > q)
        shade = np.sqrt(row)  # the colour scale runs over sqrt(weight)
        fill = [MUTED if f else colours[int(round(v * 100))] for v, f in zip(shade, future)]
        ink = ["#7f7f7f" if f else text_on(v) for v, f in zip(shade, future)]
        tips = [f"“{labels[q]}” → “{labels[k]}”: "
                + ("not visible (later word)" if future[k] else f"{row[k]:.2f}")
                for k in range(G)]
        return fill, ink, tips

    fig = go.Figure()
    for n, (lyr, hd) in enumerate(pairs):
        fill, ink, tips = paint(lyr, hd, query)
        fig.add_trace(box_trace(go, boxes, labels, colors=fill, text_colors=ink, hovertext=tips,
                                font_px=_WORD_PX, name=f"layer {lyr} · head {hd}",
                                visible=n == start, meta=[lyr, hd]))
    fig.add_trace(go.Scatter(  # carries the colourbar only
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", name="scale",
        marker=dict(color=[0.0], colorscale=MAP_SCALE, cmin=0.0, cmax=1.0, showscale=True,
                    colorbar=dict(orientation="h", x=0.5, xanchor="center", y=0.36,
                                  yanchor="top", len=0.5, thickness=16,
                                  title=dict(text="share of the query's attention", side="top"),
                                  tickvals=np.sqrt(_TICKS).tolist(), ticktext=[
                                      f"{t:g}" for t in _TICKS],
                                  tickfont=dict(size=PROJECTOR_FONT_PX)))))
    traces = list(range(len(pairs)))

    def outline(q: int):
        line, x0, width = boxes[q]
        return [dict(type="rect", xref="x", yref="y", x0=x0 - 4, x1=x0 + width + 4,
                     y0=line - 0.47, y1=line + 0.47, line=dict(color=_QUERY_COLOUR, width=5))]

    def asks(q: int) -> str:
        return f"Where does “{labels[q]}” look?"

    query_steps = []
    for q in range(G):
        painted = [paint(lyr, hd, q) for lyr, hd in pairs]
        query_steps.append(dict(method="update", label=labels[q], args=[
            {"marker.color": [p[0] for p in painted], "textfont.color": [p[1] for p in painted],
             "hovertext": [p[2] for p in painted]},
            {"shapes": outline(q), "annotations[0].text": asks(q)}, traces]))
    head_steps = [dict(method="restyle", label=f"layer {lyr} · head {hd}",
                       args=[{"visible": [k == n for k in range(len(pairs))] + [True]}])
                  for n, (lyr, hd) in enumerate(pairs)]
    hidden = dict(size=PROJECTOR_FONT_PX, color="rgba(0,0,0,0)")  # labels live in currentvalue
    shown = dict(size=22, color="black")
    sliders = [dict(active=query, steps=query_steps, x=0.05, len=0.9, y=0.2, yanchor="top",
                    font=hidden, currentvalue=dict(prefix="query word: ", font=shown),
                    pad=dict(t=0, b=0), ticklen=4, minorticklen=2)]
    if len(pairs) > 1:
        sliders.append(dict(active=start, steps=head_steps, x=0.05, len=0.9, y=0.06,
                            yanchor="top", font=hidden, pad=dict(t=0, b=0), ticklen=4,
                            minorticklen=2, currentvalue=dict(prefix="", font=shown)))
    note = (f"words {first + 1}–{n_all} of {n_all}; earlier words are out of view"
            if first else f"{n_all} {'words' if words else 'tokens'}")
    fig.update_layout(
        width=WIDTH, height=HEIGHT, font=dict(size=PROJECTOR_FONT_PX, family="Arial, sans-serif"),
        title=dict(text=(title if title is not None else "Attention between words")
                   + f"<br><span style='font-size:{PROJECTOR_FONT_PX}px;color:#555'>{note}"
                     f"{'' if len(pairs) > 1 else ' (one head)'}"
                     "</span>",
                   font=dict(size=30), x=0.04, y=0.97, yanchor="top"),
        margin=dict(l=40, r=40, t=0, b=0), plot_bgcolor="white", paper_bgcolor="white",
        yaxis=dict(domain=[0.42, 0.8]), bargap=0,
        uniformtext=dict(minsize=PROJECTOR_FONT_PX, mode="show"),
        shapes=outline(query), sliders=sliders,
        annotations=[dict(text=asks(query), xref="paper", yref="paper", x=0.0, y=0.82,
                          xanchor="left", yanchor="bottom", showarrow=False,
                          font=dict(size=26))],
    )
    box_axes(fig, width_px=inner, n_lines=max(n_lines, 4))
    return fig
