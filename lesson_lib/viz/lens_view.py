"""The logit lens view: the model's top next-token guesses after each layer.

Rows are depths (the embedding at the bottom, then block 0, 1, ..., the
model's output at the top), columns are the positions of the text. Each
cell writes the top guess for the *next* token when the residual stream at
that depth is read through the final norm and the LM head
(``lesson_lib.lens.layer_logits``). The colour is that guess's
probability; a second colouring (a button) shows the probability of the
token that really comes next, when ``ids`` are given. Hovering a cell lists
the top ``k`` guesses. Reading up a column shows at which depth the
prediction settles; reading along a row shows what one layer "knows".

``logit_lens(logits (L + 1, T, V), tokens, decode)`` returns a plotly
figure that needs no kernel; ``decode`` turns one id into its text: a
tokenizer (its ``decode([id])``), a function of an id, or the vocabulary
as a list of strings.

Left out: the tuned lens, and ranks instead of probabilities.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..checks import check_int
from .interactive import _categories, _plotly
from .palette import MAP_SCALE
from .static import _token_labels, display_token

__all__ = ["logit_lens"]


def _decoder(decode, vocab_size: int) -> Callable[[int], str]:
    if hasattr(decode, "decode") and callable(decode.decode):
        return lambda i: decode.decode([i])
    if callable(decode):
        return decode
    if isinstance(decode, Sequence) and not isinstance(decode, str):
        if len(decode) < vocab_size:
            raise ValueError(f"logit_lens: the vocabulary list has {len(decode)} entries but "
                             f"the logits have V={vocab_size}; pass one string per id")
        return lambda i: str(decode[i])
    raise TypeError(f"logit_lens: decode must be a tokenizer, a function id -> str or a list "
                    f"of token strings, got {type(decode).__name__}")


def _logits(logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        try:
            logits = torch.as_tensor(np.asarray(logits, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise TypeError(f"logit_lens: logits must be a tensor (L + 1, T, V): {err}") from None
    if logits.dim() == 4 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.dim() != 3:
        hint = ("pick one sequence: layer_logits(model, ids)[:, 0]" if logits.dim() == 4
                else "pass layer_logits(model, ids)[:, 0]: depths, positions, vocabulary")
        raise ValueError(f"logit_lens expects logits of shape (L + 1, T, V), got shape "
                         f"{tuple(logits.shape)}; {hint}")
    if logits.numel() == 0:
        raise ValueError(f"logit_lens: logits are empty (shape {tuple(logits.shape)})")
    logits = logits.detach().to("cpu", torch.float32)
    if torch.isnan(logits).any():
        raise ValueError("logit_lens: the logits contain NaN; check the model's output")
    return logits


def logit_lens(logits, tokens, decode, *, ids=None, k: int = 5, layer_names=None, title=None):
    """Top next-token guess at each depth (rows) and position (columns); a plotly Figure.

    ``logits`` is ``(L + 1, T, V)``: row 0 the embedding, row ``l + 1`` block
    ``l`` (``lesson_lib.lens.layer_logits(model, ids)[:, 0]``). ``tokens`` are
    the ``T`` input tokens, ``decode`` names an id (tokenizer, function or
    vocabulary list). With ``ids`` (the ``T`` input ids) trace 1 colours by
    the probability of the real next token and a button switches to it;
    trace 0 always colours by the top guess's probability.
    """
    go, _ = _plotly()
    logits = _logits(logits)
    depth, T, V = logits.shape
    labels = _token_labels(tokens, T, "tokens", tuple(logits.shape), "logit_lens")
    name = _decoder(decode, V)
    k = check_int("logit_lens: k", k, min=1, max=V)
    if layer_names is None:
        layer_names = ["embedding"] + [f"block {i}" for i in range(depth - 1)]
    if len(layer_names) != depth:
        raise ValueError(f"logit_lens: got {len(layer_names)} layer_names for {depth} depths")
    target = None
    if ids is not None:
        ids = torch.as_tensor(ids).reshape(-1)
        if ids.numel() != T or ids.dtype.is_floating_point:
            raise ValueError(f"logit_lens: ids must be the {T} integer input ids (T,), got "
                             f"shape {tuple(ids.shape)} and dtype {ids.dtype}")
        if int(ids.min()) < 0 or int(ids.max()) >= V:
            raise ValueError(f"logit_lens: ids must be in [0, {V}), got {int(ids.min())}.."
                             f"{int(ids.max())}")
        target = ids[1:].long()  # the next token of positions 0..T-2

    probs = logits.softmax(-1)  # (L + 1, T, V)
    top_p, top_i = probs.topk(k, dim=-1)  # (L + 1, T, k)
    cache: dict[int, str] = {}

    def text(i: int) -> str:
        if i not in cache:
            cache[i] = display_token(name(i))
        return cache[i]

    guess = [[text(int(top_i[d, t, 0])) for t in range(T)] for d in range(depth)]
    conf = top_p[..., 0].numpy()  # (L + 1, T)
    hover = []
    for d in range(depth):
        row = []
        for t in range(T):
            lines = [f"{layer_names[d]}, after {labels[t]!r} (position {t})"]
            lines += [f"{r + 1}. {text(int(top_i[d, t, r]))!r}  {float(top_p[d, t, r]):.3f}"
                      for r in range(k)]
            if target is not None and t < T - 1:
                j = int(target[t])
                lines.append(f"real next {text(j)!r}: {float(probs[d, t, j]):.3f}")
            row.append("<br>".join(s.replace("<", "&lt;") for s in lines))
        hover.append(row)

    xs = _categories([f"{t}:{s}" for t, s in enumerate(labels)])
    ys = list(layer_names)
    shown = [[g if len(g) <= 8 else g[:7] + "…" for g in row] for row in guess]
    cell_w = float(np.clip(max(len(g) for row in shown for g in row) * 8 + 14, 28, 84))
    font_px = 13
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=conf, x=xs, y=ys, zmin=0.0, zmax=1.0, colorscale=MAP_SCALE, text=shown,
        texttemplate="%{text}", textfont=dict(size=font_px), hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", name="p(top guess)",
        colorbar=dict(title=dict(text="probability"))))
    buttons = None
    if target is not None:
        real = np.full((depth, T), np.nan)
        index = target[None, :, None].expand(depth, T - 1, 1)  # (L + 1, T - 1, 1)
        real[:, :-1] = probs[:, :-1].gather(-1, index)[..., 0].numpy()
        fig.add_trace(go.Heatmap(
            z=real, x=xs, y=ys, zmin=0.0, zmax=1.0, colorscale=MAP_SCALE, text=shown,
            texttemplate="%{text}", textfont=dict(size=font_px), hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>", name="p(real next token)",
            visible=False, colorbar=dict(title=dict(text="probability"))))
        buttons = [dict(method="update", label="colour: p(top guess)",
                        args=[{"visible": [True, False]}]),
                   dict(method="update", label="colour: p(real next token)",
                        args=[{"visible": [False, True]}])]
    longest = max(len(s) for s in labels)
    fig.update_layout(
        title=dict(text=title if title is not None else
                   "Logit lens: the top next-token guess after each layer"),
        width=int(cell_w * T + 260), height=int(34 * depth + 220 + min(longest, 16) * 7),
        xaxis=dict(type="category", title=dict(text="input token (position:token)"),
                   tickangle=-60 if T > 8 else 0, tickfont=dict(size=12)),
        yaxis=dict(type="category", title=dict(text="read after"), tickfont=dict(size=13)),
        plot_bgcolor="white",
        updatemenus=[] if buttons is None else [dict(
            type="buttons", direction="right", buttons=buttons, active=0, x=0.0,
            xanchor="left", y=1.0, yanchor="bottom", pad=dict(b=6))],
    )
    return fig
