"""The attention explorer: look inside a model's attention while you change its input.

``AttentionExplorer(model, tokenizer)`` shows the attention maps of
*Attention Is All You Need* (Vaswani et al., 2017, section 3.2) for any
text you type: one head as a heatmap (row = query token, column = key
token), or every head of a layer as a grid ("all" heads). Clicking or
hovering a row, or the ``query`` slider (arrow keys step through the
text), picks that query; a bar chart and a strip of coloured tokens below
show where it looks. It works with

* a ``GPT`` (masked self-attention, one kind of map), and
* the encoder-decoder ``Transformer``, whose text box takes
  ``"source => target"`` and whose ``kind`` selector picks encoder
  self-attention, masked decoder self-attention or cross-attention
  (section 3.2.3's three uses of attention).

The model runs once per text (``forward(..., return_attn=True)``, kept in a
small cache); changing layer, head or query only slices the cached maps and
restyles the plotly figure (a ``LiveFigure``) in place. The other explorers
live in ``pe_explorer`` (``PositionalEncodingExplorer``), ``next_token``
(``NextTokenExplorer``), ``icl_tab`` and ``scaling_tab``; ``_explorer``
holds what they share (``update(**state)``, the status line, display).

Every explorer has ``twin()``: a kernel-free plotly figure of what it
shows now, for exported HTML and slides (``attention_plotly`` here).

Left out: batches (one text at a time), token ids typed by hand, and
attention rollout or other attributions across layers.
"""
from __future__ import annotations

import html
import math
import numbers

import ipywidgets as W
import numpy as np
import torch

from ._explorer import LRU, Explorer
from .interactive import _categories, _compact, _plotly, _tick_size, attention_plotly, tokens_html
from .live_figure import LiveFigure
from .static import prepare_attention

__all__ = ["AttentionExplorer"]

KIND_NAMES = {
    "self": "masked self-attention",
    "encoder": "encoder self-attention",
    "decoder_self": "decoder self-attention (masked)",
    "cross": "cross-attention (target → source)",
}
DEFAULT_TEXT = "To be, or not to be, that is the question:"


def _int_in(name: str, value, n: int, what: str, extra: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
        raise ValueError(f"{name} must be an int in 0..{n - 1}{extra} ({what}), got {value!r}")
    return int(value)


def _encode(tokenizer, text, side: str) -> tuple[list[int], list[str]]:
    """Ids and one string per token; an unknown character becomes a clear ValueError."""
    if not isinstance(text, str):
        raise TypeError(f"{side} must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError(f"{side} is empty: type at least one character")
    try:
        ids = tokenizer.encode(text)
    except ValueError as err:
        raise ValueError(f"cannot encode the {side} {text[:30]!r}: {err}") from None
    return ids, [tokenizer.decode([i]) for i in ids]


def _is_seq2seq(model) -> bool:
    return hasattr(model, "encode") and hasattr(model, "decode") and hasattr(model, "tgt_embed")


class AttentionExplorer(Explorer):
    """Type a text, pick a layer and a head (or "all"), click a query row.

    ``update(text=..., layer=..., head=..., kind=..., query=...)``; ``head``
    is an int or ``"all"``, ``kind`` is ``"self"`` for a GPT and one of
    ``"encoder"``, ``"decoder_self"``, ``"cross"`` for a Transformer,
    ``query`` is a query token index (``None``, and after a new text or
    kind unless given: the last token, the one that sees the whole text). For a
    Transformer ``tokenizer`` may be one tokenizer or ``(source, target)``.
    """

    keys = ("text", "layer", "head", "kind", "query")

    def __init__(self, model, tokenizer, text: str | None = None, *, layer: int = 0,
                 head: int | str = 0, kind: str | None = None, query: int | None = None,
                 cache_size: int = 32):
        super().__init__()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a GPT or a Transformer, got {type(model).__name__}")
        self.model, self.seq2seq = model, _is_seq2seq(model)
        if not self.seq2seq and not hasattr(getattr(model, "config", None), "block_size"):
            raise TypeError(f"model must be a GPT (with config.block_size) or a Transformer, "
                            f"got {type(model).__name__}")
        toks = tuple(tokenizer) if isinstance(tokenizer, (tuple, list)) else (tokenizer,) * 2
        if len(toks) != 2 or not all(hasattr(t, "encode") and hasattr(t, "decode") for t in toks):
            raise TypeError("tokenizer must have encode() and decode(), or be a pair "
                            "(source, target) of such tokenizers for a Transformer")
        self.tokenizers = toks
        self.kinds = ("encoder", "decoder_self", "cross") if self.seq2seq else ("self",)
        self.context = model.max_len if self.seq2seq else model.config.block_size
        self._cache = LRU(cache_size)
        text = self._default_text() if text is None else text
        maps = self._maps(text)  # raises on a bad first text
        self.n_layer, self.n_head = next(iter(maps.values()))[0].shape[:2]
        self._build()
        self.update(text=text, layer=layer, head=head, kind=kind or self.kinds[0], query=query)

    # ------------------------------------------------------------ the model, once per text
    def _default_text(self) -> str:
        try:
            _encode(self.tokenizers[0], DEFAULT_TEXT, "text")
            text = DEFAULT_TEXT
        except ValueError:  # a tokenizer without those characters: its first symbols
            text = self.tokenizers[0].decode(list(range(min(self.tokenizers[0].vocab_size, 12))))
        return f"{text} => {text}" if self.seq2seq else text

    def _maps(self, text: str) -> dict:
        """``{kind: (w (L, H, Tq, Tk), query_labels, key_labels, query_tokens, key_tokens)}``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._cache.get_or(text, lambda: self._run(text))

    def _run(self, text: str) -> dict:
        if self.seq2seq:
            if "=>" not in text:
                raise ValueError(f"an encoder-decoder needs 'source => target', e.g. "
                                 f"'abc => cba'; got {text[:40]!r} with no '=>'")
            src_text, tgt_text = (s.strip() for s in text.split("=>", 1))
            sides = [("source", src_text, self.tokenizers[0]),
                     ("target", tgt_text, self.tokenizers[1])]
        else:
            sides = [("text", text, self.tokenizers[0])]
        encoded = {}
        for side, part, tok in sides:
            ids, tokens = _encode(tok, part, side)
            if len(ids) > self.context:
                raise ValueError(f"the {side} has {len(ids)} tokens but the model's context "
                                 f"holds at most {self.context}; shorten it")
            encoded[side] = (ids, tokens)
        device = next(self.model.parameters()).device
        idx = {s: torch.tensor([ids], device=device) for s, (ids, _) in encoded.items()}  # (1, T)
        was_training = self.model.training
        self.model.eval()  # no dropout in the maps we show
        try:
            with torch.no_grad():
                if self.seq2seq:
                    _, attn = self.model(idx["source"], idx["target"], return_attn=True)
                    src, tgt = encoded["source"][1], encoded["target"][1]
                    pairs = {"encoder": (src, src), "decoder_self": (tgt, tgt), "cross": (tgt, src)}
                    raw = {k: attn[k][:, 0] for k in pairs}  # (L, H, Tq, Tk) each
                else:
                    attn = self.model(idx["text"], return_attn=True)[-1]  # (L, B, H, T, T)
                    tokens = encoded["text"][1]
                    pairs, raw = {"self": (tokens, tokens)}, {"self": attn[:, 0]}  # (L, H, T, T)
        finally:
            self.model.train(was_training)
        maps = {}
        for kind, (q_tok, k_tok) in pairs.items():
            w, q_lab, k_lab = prepare_attention(raw[kind], q_tok, k_tok, ndims=(4,),
                                                fn="AttentionExplorer")
            maps[kind] = (w, _categories(q_lab), _categories(k_lab), q_tok, k_tok)
        return maps

    # ------------------------------------------------------------ state
    def _check(self, new: dict, changed: set) -> dict:
        maps = self._maps(new["text"])  # raises ValueError on a bad text
        if new["kind"] not in self.kinds:
            raise ValueError(f"kind must be one of {list(self.kinds)} for this model, "
                             f"got {new['kind']!r}")
        new["layer"] = _int_in("layer", new["layer"], self.n_layer,
                               f"the model has {self.n_layer} layers")
        if new["head"] != "all":
            new["head"] = _int_in("head", new["head"], self.n_head,
                                  f"the model has {self.n_head} heads per layer", " or 'all'")
        n_query = maps[new["kind"]][0].shape[2]
        if new["query"] is None or ("query" not in changed and changed & {"text", "kind"}):
            new["query"] = n_query - 1  # a new text or kind starts at its last token
        new["query"] = _int_in("query", new["query"], n_query, f"the {n_query} query tokens")
        return new

    def maps(self, kind: str | None = None) -> np.ndarray:
        """Every map of the current text, (L, H, Tq, Tk); ``kind`` defaults to the one shown."""
        kind = self.state["kind"] if kind is None else kind
        if kind not in self.kinds:
            raise ValueError(f"kind must be one of {list(self.kinds)}, got {kind!r}")
        return self._maps(self.state["text"])[kind][0]

    def weights(self) -> np.ndarray:
        """The map on screen: ``(Tq, Tk)`` for one head, ``(H, Tq, Tk)`` for "all"."""
        w = self.maps()  # (L, H, Tq, Tk)
        layer, head = self.state["layer"], self.state["head"]
        return w[layer] if head == "all" else w[layer, head]

    # ------------------------------------------------------------ drawing
    def _build(self) -> None:
        go, _ = _plotly()
        H = self.n_head
        cols = math.ceil(math.sqrt(H))
        rows = math.ceil(H / cols)
        top, gap = 0.0, 0.03  # the maps fill the figure; the bars have a figure of their own
        layout = dict(
            width=760, height=640, margin=dict(l=70, r=40, t=110, b=20),
            coloraxis=dict(colorscale="viridis", cmin=0.0, colorbar=dict(
                title=dict(text="weight"), len=0.9, y=0.5)),
            xaxis=dict(domain=[0, 1], anchor="y", type="category", side="top", tickangle=-90,
                       tickmode="linear", dtick=1, title=dict(text="key")),
            yaxis=dict(domain=[top, 1], anchor="x", type="category", autorange="reversed",
                       tickmode="linear", dtick=1, title=dict(text="query")),
            showlegend=False, hovermode="closest",
            plot_bgcolor="rgba(0,0,0,0)",  # hidden panels drawn over the map stay see-through
        )
        traces = [go.Heatmap(coloraxis="coloraxis", xaxis="x", yaxis="y", name="map",
                             hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>")]
        for h in range(H):  # the "all" grid, drawn over the same area, hidden until asked
            r, c = divmod(h, cols)
            n = h + 2
            x0, y1 = c / cols, 1 - r * (1 - top) / rows
            layout[f"xaxis{n}"] = dict(domain=[x0 + gap, x0 + 1 / cols - gap], anchor=f"y{n}",
                                       type="category", showticklabels=False, visible=False)
            layout[f"yaxis{n}"] = dict(domain=[y1 - (1 - top) / rows + 2 * gap, y1],
                                       anchor=f"x{n}", type="category", autorange="reversed",
                                       showticklabels=False, visible=False)
            traces.append(go.Heatmap(coloraxis="coloraxis", xaxis=f"x{n}", yaxis=f"y{n}",
                                     name=f"head {h}", visible=False,
                                     hovertemplate=f"head {h}: %{{y}} → %{{x}}: "
                                                   "%{z:.3f}<extra></extra>"))
        layout["annotations"] = [dict(text=f"head {h}", xref=f"x{h + 2} domain", showarrow=False,
                                      yref=f"y{h + 2} domain", x=0.5, y=1.0, yanchor="bottom",
                                      visible=False) for h in range(H)]  # grid panel titles
        self.figure = LiveFigure(data=traces, layout=layout)
        for trace in self.figure.data:
            trace.on_click(self._on_point)
            trace.on_hover(self._on_point)
        # The query's row as bars, a figure of its own: a new query redraws these bars and
        # moves the outline on the map, and leaves the maps alone.
        self.bars = LiveFigure(
            data=[go.Bar(marker=dict(color="#1f77b4"),
                         hovertemplate="%{x}: %{y:.3f}<extra></extra>")],
            layout=dict(width=760, height=300, margin=dict(l=70, r=40, t=50, b=70),
                        xaxis=dict(type="category", tickangle=-90, tickmode="linear", dtick=1,
                                   title=dict(text="key")),
                        yaxis=dict(rangemode="tozero", title=dict(text="weight"),
                                   gridcolor="#e5e5e5"),
                        plot_bgcolor="rgba(0,0,0,0)"))

        box = W.Layout(width="auto")
        self._text = self._bind("text", W.Textarea(  # a Textarea keeps newlines
            description="text", continuous_update=False, rows=2, layout=W.Layout(width="100%"),
            tooltip="edit, then click outside the box (or press Tab) to apply"))
        self._layer = self._bind("layer", W.Dropdown(
            description="layer", options=list(range(self.n_layer)), layout=box))
        self._head = self._bind("head", W.Dropdown(
            description="head", options=[("all", "all")] + [(str(h), h) for h in range(H)],
            layout=box))
        self._kind = self._bind("kind", W.Dropdown(
            description="kind", options=[(KIND_NAMES[k], k) for k in self.kinds],
            disabled=len(self.kinds) == 1, layout=W.Layout(width="22em")))
        self._query = self._bind("query", W.IntSlider(
            description="query", min=0, max=1, layout=W.Layout(width="24em"),
            tooltip="the query token; arrow keys step through the text"))
        self._strip = W.HTML()
        self.widget = W.VBox([self._text, W.HBox([self._layer, self._head, self._kind]),
                              self._query, self.status, self.figure, self.bars, self._strip])

    def _on_point(self, trace, points, state=None) -> None:
        """A click or hover on a map: its row becomes the query."""
        if not points.point_inds:
            return
        where = points.point_inds[0]
        row = where[0] if isinstance(where, (list, tuple)) else None
        if row is None:  # older front ends send a flat index: find the row by its label
            labels = list(trace.y)
            row = labels.index(points.ys[0]) if points.ys and points.ys[0] in labels else None
        if row is not None and row != self.state.get("query"):
            self._try(query=int(row))

    def _render(self, new: dict, old: dict) -> None:
        w, ys, xs, q_tok, k_tok = self._maps(new["text"])[new["kind"]]
        layer, head, q = new["layer"], new["head"], new["query"]
        grid = head == "all"
        row = w[layer, :, q].mean(0) if grid else w[layer, head, q]  # (Tk,)
        fig, H = self.figure, self.n_head
        shapes = [dict(type="rect", xref=f"x{'' if not grid else h + 2}",
                       yref=f"y{'' if not grid else h + 2}", x0=-0.5, x1=len(xs) - 0.5,
                       y0=q - 0.5, y1=q + 0.5, line=dict(color="#ff7f0e", width=2))
                  for h in (range(H) if grid else [0])]
        self._syncing = True  # the query slider spans this text; no callbacks meanwhile
        try:
            self._query.max = len(ys) - 1
        finally:
            self._syncing = False
        which = f"all {H} heads" if grid else f"head {head}"
        switch = not old or (old["head"] == "all") != grid  # single map <-> grid
        same_maps = bool(old) and all(old[k] == new[k] for k in ("text", "kind", "layer", "head"))
        with fig.batch_update():
            if not same_maps:  # a new query alone leaves the maps as they are
                if not grid:
                    fig.data[0].update(z=_compact(w[layer, head]), x=xs, y=ys)
                for h in range(H):
                    if grid:
                        fig.data[h + 1].update(z=_compact(w[layer, h]), x=xs, y=ys)
                    if switch:
                        fig.data[h + 1].visible = grid
                        fig.layout[f"xaxis{h + 2}"].visible = grid
                        fig.layout[f"yaxis{h + 2}"].visible = grid
                        fig.layout.annotations[h].visible = grid
                if switch:
                    fig.data[0].visible = not grid
                    fig.layout.xaxis.visible = fig.layout.yaxis.visible = not grid
                fig.layout.coloraxis.cmax = float(w[layer].max()) or 1.0
                for axis, n in (("xaxis", len(xs)), ("yaxis", len(ys))):
                    fig.layout[axis].tickfont.size = _tick_size(n)
                fig.layout.title.text = f"layer {layer}, {which}: {KIND_NAMES[new['kind']]}"
                fig.layout.shapes = shapes
            else:  # move the outline: plotly.js redraws the shapes alone
                for shape, moved in zip(fig.layout.shapes, shapes):
                    shape.update(y0=moved["y0"], y1=moved["y1"])
        with self.bars.batch_update():
            self.bars.data[0].update(x=xs, y=row)
            self.bars.layout.xaxis.tickfont.size = _tick_size(len(xs))
            self.bars.layout.title.text = (f"where query {q} {q_tok[q]!r} looks"
                                           f"{' (mean over heads)' if grid else ''}")
        top = row.max() or 1.0
        colors = [f"rgba(31,119,180,{0.08 + 0.92 * v / top:.3f})" for v in row]
        self._strip.value = (f"<b>query {q} {html.escape(repr(q_tok[q]))} attends to:</b>"
                             + str(tokens_html(k_tok, colors=colors)))

    def _live_figures(self) -> list:
        return [self.figure, self.bars]

    def _describe(self) -> str:
        w = self._maps(self.state["text"])[self.state["kind"]][0]
        return (f"{w.shape[2]} query × {w.shape[3]} key tokens; click or hover a row, or "
                "move the query slider, to pick the query")

    def twin(self):
        """A kernel-free plotly figure with every (layer, head) of the current text and kind."""
        kind = self.state["kind"]
        _, _, _, q_tok, k_tok = self._maps(self.state["text"])[kind]
        return attention_plotly(self.maps(), q_tok, k_tok if kind == "cross" else None,
                                title=KIND_NAMES[kind])
