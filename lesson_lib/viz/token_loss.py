"""The per-token loss strip: a text with each token coloured by how surprised the model was.

Token ``t`` gets the loss ``-log p(x_t | x_<t)`` (nats) of the model's
prediction of it, as in CircuitsVis's colored tokens: well-predicted tokens
(the second half of a word, a repeated name) are dark, surprising ones
(the first letter of a new word, a rare name) bright. Hovering a token
shows its loss and the probability ``exp(-loss)`` the model gave it.

``loss_strip(losses (T,), tokens)`` returns a plotly figure; the losses
come from ``lesson_lib.lens.token_losses(model, ids)``, whose first entry
is NaN (nothing predicts the first token): NaN tokens are drawn grey.
The colour scale is viridis from 0 to the largest loss (or ``vmax``).

Left out: comparing two models token by token (pass the difference of
their losses to a diverging scale yourself) and per-token top guesses
(the logit lens view has them).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..checks import check_int, check_number
from .interactive import _plotly
from .palette import MAP_SCALE, MUTED, text_on
from .static import _token_labels
from .token_boxes import box_axes, box_trace, flow

__all__ = ["loss_strip"]


def _losses(losses, n_tokens: int) -> np.ndarray:
    if isinstance(losses, torch.Tensor):
        losses = losses.detach().to("cpu", torch.float64).numpy()
    try:
        arr = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"loss_strip: losses must be a tensor or list of numbers (T,): "
                        f"{err}") from None
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"loss_strip expects losses of shape (T,), got shape {arr.shape}; "
                         "pick one sequence, e.g. token_losses(model, ids)[0]")
    if len(arr) == n_tokens - 1:
        raise ValueError(f"loss_strip: got {len(arr)} losses for {n_tokens} tokens; losses[t] "
                         "is the loss of tokens[t]: put NaN first for the unpredicted first "
                         "token (as lesson_lib.lens.token_losses does) or pass tokens[1:]")
    if len(arr) != n_tokens:
        raise ValueError(f"loss_strip: got {len(arr)} losses for {n_tokens} tokens; pass one "
                         "loss per token")
    if np.isinf(arr).any() or (arr < 0).any():
        bad = arr[np.isinf(arr) | (arr < 0)][0]
        raise ValueError(f"loss_strip: losses must be finite and >= 0 (nats; NaN marks an "
                         f"unscored token), got {bad}")
    return arr


def loss_strip(losses, tokens, *, vmax=None, width: int = 1100, font_px: int = 18,
               title=None):
    """Tokens as boxes in lines of text, coloured by their next-token loss; a plotly Figure.

    ``losses`` is ``(T,)`` in nats, ``losses[t]`` the loss of ``tokens[t]``
    (NaN: not scored, drawn grey); ``tokens`` one string per position.
    Trace 0 holds the scored tokens, trace 1 the unscored ones. ``width``
    is the figure width in pixels; lines wrap inside it.
    """
    go, _ = _plotly()
    n = len(tokens) if hasattr(tokens, "__len__") else 0  # _token_labels names a bad type
    labels = _token_labels(tokens, n, "tokens", (n,), "loss_strip")
    if not labels:
        raise ValueError("loss_strip: tokens is empty; there is nothing to draw")
    arr = _losses(losses, len(labels))
    width = check_int("loss_strip: width (pixels)", width, min=200)
    font_px = check_int("loss_strip: font_px", font_px, min=6)
    scored = ~np.isnan(arr)
    top = float(arr[scored].max()) if scored.any() else 1.0
    if vmax is not None:
        top = check_number("loss_strip: vmax", vmax, min=0, min_open=True)
    top = top or 1.0

    raw = [str(t) for t in tokens]
    shown = ["↵" if t == "\n" else s for t, s in zip(raw, labels)]
    breaks = [i > 0 and raw[i - 1].endswith("\n") for i in range(len(raw))]
    inner = width - 140  # pixels left for the text
    pad = max(2.0, font_px * 0.2)
    boxes = flow(shown, font_px=font_px, width_px=inner, pad_px=pad, gap_px=2, breaks=breaks)
    n_lines = boxes[-1][0] + 1

    def tip(i):
        if not scored[i]:
            return f"{labels[i]!r} (position {i}): not scored"
        return f"{labels[i]!r} (position {i}): loss {arr[i]:.2f} nats, p = {math.exp(-arr[i]):.3f}"

    fig = go.Figure()
    for name, keep in (("scored", scored), ("not scored", ~scored)):
        idx = np.nonzero(keep)[0]
        frac = np.clip(arr[idx] / top, 0, 1) if name == "scored" else np.zeros(len(idx))
        fig.add_trace(box_trace(
            go, [boxes[i] for i in idx], [shown[i] for i in idx],
            colors=arr[idx].round(4).tolist() if name == "scored" else [MUTED] * len(idx),
            text_colors=[text_on(f) for f in frac] if name == "scored" else ["black"] * len(idx),
            hovertext=[tip(i) for i in idx], font_px=font_px, name=name,
            colorscale=MAP_SCALE if name == "scored" else None, cmin=0.0, cmax=top,
            colorbar=dict(title=dict(text="loss (nats)"), thickness=14)))
    line_px = font_px * 1.9
    fig.update_layout(
        title=dict(text=title if title is not None else "Loss of each token: bright = surprising"),
        width=width, height=int(n_lines * line_px + 120), margin=dict(l=20, r=120, t=60, b=20),
        plot_bgcolor="white", bargap=0, uniformtext=dict(minsize=font_px, mode="show"),
    )
    box_axes(fig, width_px=inner, n_lines=n_lines)
    return fig
