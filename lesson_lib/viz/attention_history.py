"""Attention over training: record maps while a model learns, then scrub through them.

Heads are not born knowing their job. At step 0 every attention map is
nearly uniform; as training goes on some heads lock onto the previous
token, others onto the first token, and in a model that has seen repeated
text an *induction head* forms, abruptly (Olsson et al. 2022, "In-context
Learning and Induction Heads"). Watching the maps of one fixed text change
with the steps makes that visible.

* ``AttentionRecorder(probe_ids, every)`` is a training callback
  (``lesson_lib.train.Callback``): before training, every ``every`` steps,
  and at the end it runs the model on ``probe_ids`` in eval mode
  (``GPT.forward(idx, return_attn=True)``) and keeps the maps. ``maps`` is
  then ``(S, L, H, T, T)`` and ``steps`` the ``S`` optimiser steps they
  were taken after. Recording draws no random numbers, so a run with the
  recorder trains exactly as one without it.
* ``attention_over_training(maps, steps, tokens, layer, head)`` draws them
  as a plotly figure with a slider that scrubs through training: one head
  large, every head of a layer (``head=None``), or every head of the model
  (``layer=None, head=None``). It needs no kernel.

Left out: recording several probe texts (use several recorders), saving
the maps to disk (``torch.save(recorder.maps, path)`` does), and maps of
models without ``return_attn``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..checks import check_int
from ..train import Callback
from .interactive import _categories, _plotly
from .palette import MAP_SCALE
from .static import prepare_attention, to_numpy

__all__ = ["AttentionRecorder", "attention_over_training"]


class AttentionRecorder(Callback):
    """``train(..., callbacks=[AttentionRecorder(ids, every=50)])`` keeps attention maps.

    ``probe_ids``: the token ids of one fixed text, ``(T,)`` or ``(1, T)``.
    After training, ``maps`` is ``(S, L, H, T, T)`` (float32, on the CPU) and
    ``steps`` the list of ``S`` step counts: 0 (before any update), every
    ``every`` steps, and the last step.
    """

    def __init__(self, probe_ids, every: int = 50):
        if not isinstance(probe_ids, torch.Tensor):
            probe_ids = torch.as_tensor(probe_ids)
        if probe_ids.dim() == 1:
            probe_ids = probe_ids[None]
        if probe_ids.dim() != 2 or probe_ids.shape[0] != 1 or probe_ids.shape[1] == 0:
            raise ValueError(f"AttentionRecorder: probe_ids must be the ids of one text, (T,) "
                             f"or (1, T), got shape {tuple(probe_ids.shape)}")
        if probe_ids.is_floating_point() or probe_ids.dtype == torch.bool:
            raise TypeError(f"AttentionRecorder: probe_ids must be integer token ids, got "
                            f"dtype {probe_ids.dtype}; e.g. torch.tensor(tokenizer.encode(text))")
        self.probe_ids = probe_ids.long()
        self.every = check_int("AttentionRecorder: every (steps)", every, min=1)
        self._maps: list[torch.Tensor] = []
        self.steps: list[int] = []

    @torch.no_grad()
    def record(self, model, step: int) -> None:
        """Run ``model`` on the probe text now and keep its maps as those of ``step``."""
        if self.steps and self.steps[-1] == step:
            return
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()  # no dropout: the maps are the model's, and no random numbers are drawn
        try:
            out = model(self.probe_ids.to(device), return_attn=True)
        finally:
            model.train(was_training)
        if not isinstance(out, (tuple, list)) or len(out) < 3 or out[2].dim() != 5:
            raise TypeError("AttentionRecorder needs a model whose forward(idx, return_attn=True) "
                            "returns (logits, loss, attn (L, B, H, T, T)), as lesson_lib.gpt.GPT")
        self._maps.append(out[2][:, 0].detach().to("cpu", torch.float32))  # (L, H, T, T)
        self.steps.append(int(step))

    def on_train_begin(self, state) -> None:
        self.record(state.model, state.iter)

    def on_step(self, state) -> None:
        done = state.iter + 1  # optimiser steps taken so far
        if done % self.every == 0:
            self.record(state.model, done)

    def on_train_end(self, state) -> None:
        self.record(state.model, state.iter)

    @property
    def maps(self) -> torch.Tensor:
        """The recorded maps, ``(S, L, H, T, T)``."""
        if not self._maps:
            raise ValueError("AttentionRecorder has recorded nothing yet; pass it to "
                             "train(..., callbacks=[recorder]) first")
        return torch.stack(self._maps)


def _steps(steps, n: int) -> list[int]:
    if isinstance(steps, torch.Tensor):
        steps = steps.tolist()
    try:
        steps = [s for s in steps]
    except TypeError:
        raise TypeError(f"attention_over_training: steps must be a list of ints, got "
                        f"{type(steps).__name__}") from None
    if len(steps) != n:
        raise ValueError(f"attention_over_training: got {len(steps)} steps for {n} recorded "
                         "maps; pass recorder.steps with recorder.maps")
    return [check_int("attention_over_training: each step", s, min=0) for s in steps]


def attention_over_training(maps, steps, tokens, layer=None, head=None, *, title=None):
    """Scrub through training: attention maps at each recorded step, with a slider.

    ``maps`` is ``(S, L, H, T, T)`` (``AttentionRecorder.maps``) and
    ``steps`` the ``S`` step counts. ``layer`` and ``head`` pick one map;
    ``head=None`` shows every head of ``layer``, and ``layer=None`` (with
    ``head=None``) every head of the model. One heatmap trace per head shown;
    slider step ``s`` (labelled with its training step) restyles their ``z``
    to the maps of step ``s``. All steps share one colour scale. Returns a
    plotly Figure.
    """
    go, make_subplots = _plotly()
    arr = to_numpy(maps, name="maps")
    if arr.ndim != 5:
        hint = ("add the step axis: maps[None]" if arr.ndim == 4 else
                "pass AttentionRecorder.maps, steps × layers × heads × queries × keys")
        raise ValueError(f"attention_over_training expects maps of shape (S, L, H, T, T), got "
                         f"shape {arr.shape}; {hint}")
    n_step, n_layer, n_head = arr.shape[:3]
    _, q_labels, k_labels = prepare_attention(arr[0], tokens, ndims=(4,),
                                              fn="attention_over_training")
    step_list = _steps(steps, n_step)
    if layer is None and head is not None:
        raise ValueError("attention_over_training: head without layer; pass layer=... too, "
                         "or head=None for every head")
    layers = range(n_layer) if layer is None else [
        check_int(f"attention_over_training: layer (of {n_layer})", layer, min=0,
                  max=n_layer - 1)]
    heads = range(n_head) if head is None else [
        check_int(f"attention_over_training: head (of {n_head})", head, min=0, max=n_head - 1)]
    pairs = [(lyr, hd) for lyr in layers for hd in heads]
    names = [f"layer {lyr} · head {hd}" for lyr, hd in pairs]
    one = len(pairs) == 1
    heading = title if title is not None else (
        f"Attention over training: {names[0]}" if one else
        f"Attention over training: layer {layer}" if layer is not None else
        "Attention over training: every head")
    xs, ys = _categories(k_labels), _categories(q_labels)
    cols = len(heads)
    rows = len(layers)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=None if one else names,
                        horizontal_spacing=0.02 if cols > 1 else 0.0,
                        vertical_spacing=min(0.3 / rows, 0.08) if rows > 1 else 0.0)
    hi = float(max(arr[:, lyr, hd].max() for lyr, hd in pairs)) or 1.0

    def heatmap(s: int, k: int):  # trace k at recorded step s
        lyr, hd = pairs[k]
        return go.Heatmap(z=arr[s, lyr, hd].astype(np.float32), x=xs, y=ys,
                          coloraxis="coloraxis", name=names[k],
                          hovertemplate=f"%{{y}} → %{{x}}: %{{z:.3f}}<extra>{names[k]}</extra>")

    for k in range(len(pairs)):
        fig.add_trace(heatmap(0, k), row=k // cols + 1, col=k % cols + 1)
    # Each slider step restyles the z of every trace (no frames: nothing plays on its own).
    slider_steps = [dict(method="update", label=str(step), args=[
        {"z": [arr[s, lyr, hd].round(4).tolist() for lyr, hd in pairs]},
        {"title.text": f"{heading}, step {step}"}, list(range(len(pairs)))])
        for s, step in enumerate(step_list)]
    tq, tk = len(q_labels), len(k_labels)
    if one:
        cell = float(np.clip(520 / max(tq, tk), 7, 36))
        width, height = int(cell * tk + 330), int(cell * tq + 330)
    else:
        panel = float(np.clip(1100 / cols, 60, 260))
        width, height = int(panel * cols + 140), int(panel * rows * tq / max(tq, tk) + 260)
    fig.update_layout(
        title=dict(text=f"{heading}, step {step_list[0]}"), width=width, height=height,
        coloraxis=dict(colorscale=MAP_SCALE, cmin=0.0, cmax=hi,
                       colorbar=dict(title=dict(text="weight"), thickness=14)),
        margin=dict(t=90, b=150), plot_bgcolor="white", font=dict(size=14),
        sliders=[dict(active=0, steps=slider_steps, currentvalue=dict(prefix="training step: "),
                      x=0.0, len=1.0, y=0, yanchor="top", pad=dict(t=30 if not one else 60))],
    )
    tick = one and max(tq, tk) <= 64
    fig.update_xaxes(type="category", showticklabels=tick, ticks="", tickangle=-90 if tk > 12
                     else -45, tickfont=dict(size=int(np.clip(520 / max(tk, 1), 7, 13))))
    fig.update_yaxes(type="category", showticklabels=tick, ticks="", autorange="reversed",
                     tickfont=dict(size=int(np.clip(520 / max(tq, 1), 7, 13))))
    if one:
        fig.update_xaxes(title=dict(text="key"))
        fig.update_yaxes(title=dict(text="query"))
    return fig
