"""Static matplotlib views: attention heatmaps and the positional table.

What each view shows:

* ``attention_heatmap`` draws one attention map ``(Tq, Tk)``: row ``i`` is
  query token ``i``, column ``j`` is key token ``j``, the colour is the
  weight ``softmax(q_i · k_j / √d)``, as in Figure 3-5 of *Attention Is
  All You Need* (Vaswani et al., 2017). Up to 10 × 10 cells the numbers
  are printed in the cells so a reader can check a row sums to 1.
* ``attention_grid`` draws every head of every layer as small heatmaps on
  one colour scale (rows = layers, columns = heads, titles ``"L0 H1"``).
  Given a slice of the layers, ``layers=[2, 3]`` names their real indices.
* ``positional_encoding_heatmap`` draws the sinusoidal table of section
  3.5: position down the y axis, dimension along the x axis, a diverging
  colour map centred on 0.

The views take arrays and token strings, never models. Data preparation
(``prepare_attention``) is kept apart from drawing so the plotly twins in
``interactive`` reuse it.

Figures are made with pyplot and closed at once: the returned figure shows
once in a notebook and no window stays open. Nothing here calls
``plt.show()``, writes a file or changes ``rcParams``.

Left out: attention over several sentences at once (pick one batch
element), line-style views linking tokens (the plotly ``head_view`` draws
them), and fonts for scripts DejaVu Sans lacks (such glyphs draw as boxes).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["attention_heatmap", "attention_grid", "positional_encoding_heatmap",
           "prepare_attention", "display_token", "layer_labels"]

_ANNOTATE_MAX_CELLS = 100  # print the weight in each cell up to 10 x 10


# ---------------------------------------------------------------- data preparation
def to_numpy(x, name: str = "weights") -> np.ndarray:
    """A float64 numpy copy of a tensor, array or nested list; checks finiteness."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists
        raise TypeError(f"{name} must be a tensor or array of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} "
                        f"({type(x).__name__})")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); there is nothing to draw")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} contain {bad} NaN/inf value(s) in shape {arr.shape}; "
                         "weights must be finite (a fully masked row should be zeros)")
    return arr


def display_token(token) -> str:
    """How a token is written on an axis: control characters escaped.

    >>> [display_token(t) for t in ["cat", "\\n", "  ", ""]]
    ['cat', '\\\\n', '␣␣', "''"]
    """
    s = str(token)
    if s == "":
        return "''"
    if s.strip(" ") == "":
        return "␣" * len(s)
    s = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" for c in s)


def _token_labels(tokens, n: int, what: str, shape, fn: str) -> list[str]:
    if tokens is None:
        return [str(i) for i in range(n)]
    if isinstance(tokens, str):
        raise TypeError(f"{fn}: {what} must be a list of token strings, got the str "
                        f"{tokens[:20]!r}; for characters pass list(text)")
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.tolist()
    if not isinstance(tokens, (Sequence, np.ndarray)):
        raise TypeError(f"{fn}: {what} must be a list of token strings, "
                        f"got {type(tokens).__name__}")
    if len(tokens) != n:
        raise ValueError(f"{fn}: got {len(tokens)} {what} but the weights of shape "
                         f"{tuple(shape)} need {n}; pass one token per "
                         f"{'row' if what.startswith('query') else 'column'}")
    return [display_token(t) for t in tokens]


def prepare_attention(weights, query_tokens, key_tokens=None, *, ndims=(2, 3, 4),
                      fn: str = "attention view"):
    """Check attention weights and tokens; return ``(w (L, H, Tq, Tk), q_labels, k_labels)``.

    Accepted ranks are ``ndims`` among ``(Tq, Tk)``, ``(H, Tq, Tk)`` and
    ``(L, H, Tq, Tk)``; missing leading axes become size 1. ``key_tokens``
    defaults to ``query_tokens`` (self-attention).

    >>> w, q, k = prepare_attention([[1.0, 0.0], [0.5, 0.5]], ["a", "b"])
    >>> w.shape, q, k
    ((1, 1, 2, 2), ['a', 'b'], ['a', 'b'])
    """
    w = to_numpy(weights)
    names = {2: "(Tq, Tk)", 3: "(H, Tq, Tk)", 4: "(L, H, Tq, Tk)"}
    if w.ndim not in ndims:
        accepted = " or ".join(names[d] for d in ndims)
        if w.ndim == 5:
            hint = "for GPT's attn (L, B, H, T, T) pick one sequence: attn[:, 0]"
        elif w.ndim > max(ndims):
            hint = ("pick one map first: weights[head], weights[layer, head], or "
                    "weights[0, head] for MultiHeadAttention's (B, H, Tq, Tk)"
                    if max(ndims) == 2 else "pick one batch element first, e.g. weights[0]")
        elif w.ndim >= 2:
            hint = ("add the missing leading axes, e.g. weights[None] for one layer's "
                    "(H, Tq, Tk), or pass the maps of every layer")
        else:
            hint = "weights need a query axis and a key axis"
        raise ValueError(f"{fn} expects weights of shape {accepted}, got shape "
                         f"{tuple(w.shape)}; {hint}")
    shape = w.shape
    w = w.reshape((1,) * (4 - w.ndim) + shape)  # (L, H, Tq, Tk)
    tq, tk = w.shape[-2:]
    if key_tokens is None and query_tokens is not None and tq != tk:
        raise ValueError(f"{fn}: weights of shape {tuple(shape)} have Tq={tq} queries but "
                         f"Tk={tk} keys; pass key_tokens for cross-attention")
    q_labels = _token_labels(query_tokens, tq, "query tokens", shape, fn)
    k_labels = (q_labels if key_tokens is None and query_tokens is not None
                else _token_labels(key_tokens, tk, "key tokens", shape, fn))
    return w, q_labels, k_labels


def _colour_range(w: np.ndarray, vmin=None, vmax=None):
    """Attention weights are >= 0: scale 0..max. Signed data: symmetric around 0."""
    lo, hi = float(w.min()), float(w.max())
    if lo >= 0:
        vmin = 0.0 if vmin is None else vmin
        vmax = (hi if hi > 0 else 1.0) if vmax is None else vmax
        return vmin, vmax, "viridis"
    m = max(abs(lo), abs(hi))
    return (-m if vmin is None else vmin), (m if vmax is None else vmax), "RdBu_r"


# ---------------------------------------------------------------- drawing
def new_figure(nrows: int = 1, ncols: int = 1, **kw):
    """``(fig, axes)`` like ``plt.subplots``, but not left open in pyplot.

    A notebook cell that ends with ``fig`` then shows it exactly once, and
    no figure piles up in pyplot's memory. ``kw`` goes to ``plt.subplots``
    (``figsize=(8, 3)``, ``sharey=True``, ...); the layout is constrained.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, layout="constrained", **kw)
    plt.close(fig)
    return fig, axes


def _new_figure(width: float, height: float):
    """A figure that is not left open in pyplot (so it is shown exactly once)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _root_figure(ax):
    fig = ax.figure
    while getattr(fig, "figure", fig) is not fig:  # a SubFigure's parent chain
        fig = fig.figure
    return fig


def _label_size(n: int, inches: float) -> float:
    """Tick font size (points) so ``n`` labels fit along ``inches``, within 5..11 pt."""
    return float(np.clip(inches * 72 / n * 0.8, 5, 11))


def _draw_map(ax, w, q_labels, k_labels, *, vmin, vmax, cmap, annotate, side, labels=(True, True)):
    tq, tk = w.shape
    im = ax.imshow(w, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    size = _label_size(max(tq, tk), side)
    txt = dict(fontsize=size, parse_math=False)  # tokens with '$' stay plain text
    ax.set_xticks(range(tk))
    ax.set_yticks(range(tq))
    if labels[0]:
        rot = 90 if tk > 12 else 45
        ax.set_xticklabels(k_labels, rotation=rot, ha="center" if rot == 90 else "right",
                           rotation_mode="anchor" if rot != 90 else "default", **txt)
    else:
        ax.set_xticklabels([])
    if labels[1]:
        ax.set_yticklabels(q_labels, **txt)
    else:
        ax.set_yticklabels([])
    ax.tick_params(length=0)
    if annotate:
        mid = (vmin + vmax) / 2
        for i in range(tq):
            for j in range(tk):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center",
                        fontsize=max(size - 1, 5), color="black" if w[i, j] > mid else "white")
    return im


def attention_heatmap(weights, query_tokens, key_tokens=None, ax=None, *, title=None,
                      cmap=None, vmin=None, vmax=None, annotate=None, colorbar=True):
    """One attention map ``(Tq, Tk)`` as a heatmap; returns the matplotlib Figure.

    Rows are queries (``query_tokens``), columns keys (``key_tokens``,
    default the query tokens). ``weights`` is a torch tensor or an array.
    With ``ax`` the map is drawn there and that axes' figure is returned.
    ``annotate`` prints the weights in the cells (default: up to 10 × 10).
    """
    w, q_labels, k_labels = prepare_attention(weights, query_tokens, key_tokens, ndims=(2,),
                                              fn="attention_heatmap")
    w = w[0, 0]  # (Tq, Tk)
    tq, tk = w.shape
    lo, hi, auto_cmap = _colour_range(w, vmin, vmax)
    if annotate is None:
        annotate = tq * tk <= _ANNOTATE_MAX_CELLS
    if ax is None:
        side = float(np.clip(0.22 * max(tq, tk) + 1.5, 3.0, 11.0))
        fig = _new_figure(side + 1.6, side * tq / max(tq, tk) + 1.3)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
        side = max(ax.get_position().width * fig.get_figwidth(), 1.0)
    im = _draw_map(ax, w, q_labels, k_labels, vmin=lo, vmax=hi, cmap=cmap or auto_cmap,
                   annotate=annotate, side=side)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label="attention weight")
    return fig


def layer_labels(layers, n_layer: int, fn: str) -> list[int]:
    """The real index of each of ``n_layer`` layers: ``layers`` checked, or ``0..n_layer-1``.

    >>> layer_labels([2, 3], 2, "attention_grid"), layer_labels(None, 2, "attention_grid")
    ([2, 3], [0, 1])
    """
    if layers is None:
        return list(range(n_layer))
    if isinstance(layers, int) and not isinstance(layers, bool):
        layers = [layers]
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (Sequence, range, np.ndarray)):
        raise TypeError(f"{fn}: layers must be a list of layer indices, got "
                        f"{type(layers).__name__}")
    layers = list(layers)
    if any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0 for i in layers):
        raise ValueError(f"{fn}: layers must be ints >= 0 (the real index of each layer), "
                         f"got {layers!r}")
    if len(layers) != n_layer:
        raise ValueError(f"{fn}: got {len(layers)} layer indices {layers} for weights with "
                         f"{n_layer} layer(s); pass one index per layer of the weights, e.g. "
                         f"attention_grid(attn[2:4], tokens, layers=[2, 3])")
    return [int(i) for i in layers]


def attention_grid(weights, tokens, key_tokens=None, *, title=None, cmap=None, layers=None):
    """Every head of every layer: ``(H, T, T)`` or ``(L, H, T, T)``; returns a Figure.

    Rows are layers, columns heads, each panel titled ``"L{layer} H{head}"``;
    all panels share one colour scale and one colourbar. Token labels are
    written on the outer panels while they stay readable. ``layers`` gives
    the real index of each row when the weights are a slice of the model's
    layers: ``attention_grid(attn[2:4], tokens, layers=[2, 3])`` titles
    ``"L2 H0"``, and ``layers=[5]`` labels one layer's ``(H, T, T)``.
    """
    w, q_labels, k_labels = prepare_attention(weights, tokens, key_tokens, ndims=(2, 3, 4),
                                              fn="attention_grid")
    n_layer, n_head, tq, tk = w.shape
    names = layer_labels(layers, n_layer, "attention_grid")
    lo, hi, auto_cmap = _colour_range(w)
    panel = float(np.clip(14.0 / max(n_head, 1), 1.2, 3.2))  # inches per panel
    fig = _new_figure(panel * n_head + 1.2, panel * n_layer * tq / max(tq, tk) + 0.6)
    axes = fig.subplots(n_layer, n_head, squeeze=False)
    show_labels = panel * 72 / max(tq, tk) >= 7  # at least 7 pt per token
    im = None
    for layer in range(n_layer):
        for head in range(n_head):
            ax = axes[layer, head]
            im = _draw_map(ax, w[layer, head], q_labels, k_labels, vmin=lo, vmax=hi,
                           cmap=cmap or auto_cmap, annotate=False, side=panel,
                           labels=(show_labels and layer == n_layer - 1,
                                   show_labels and head == 0))
            ax.set_title(f"L{names[layer]} H{head}", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.6, label="attention weight")
    if title is not None:
        fig.suptitle(title)
    return fig


def positional_encoding_heatmap(pe, *, title=None, cmap="RdBu_r", ax=None):
    """The positional table ``(max_len, d_model)``: position on y, dimension on x.

    A diverging colour map centred on 0 (sinusoidal values lie in [-1, 1]);
    a learned embedding table of the same shape works too.
    """
    arr = to_numpy(pe, name="pe")
    if arr.ndim == 3 and arr.shape[0] == 1:  # a (1, max_len, d_model) buffer
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"positional_encoding_heatmap expects pe of shape (max_len, d_model), "
                         f"got shape {tuple(arr.shape)}; e.g. sinusoidal_encoding(64, 128)")
    max_len, d_model = arr.shape
    m = float(np.abs(arr).max()) or 1.0
    if ax is None:
        fig = _new_figure(float(np.clip(d_model / 16, 4, 10)) + 1.2,
                          float(np.clip(max_len / 16, 3, 8)) + 0.8)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    im = ax.imshow(arr, cmap=cmap, vmin=-m, vmax=m, aspect="auto", interpolation="nearest")
    ax.set_xlabel("dimension")
    ax.set_ylabel("position")
    if title is not None:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="value")
    return fig
