"""The in-context-learning tab: shots, head ablations and accuracy, live (chapter 10).

GPT-3 (Brown et al. 2020, §2 and Figure 2.1) gives a model a task by
showing it ``k`` demonstrations in its prompt, with no weight updated. The
shipped ``icl-mapping`` GPT learned to read a fresh letter -> digit rule
from its prompt (``lesson_lib.icl``); chapter 10 found the heads that do
the look-up and switched them off one at a time.

``ICLExplorer(model, tokenizer)`` puts those experiments on sliders:

* a **shots** slider, ``k`` from 0 to ``icl.N_KEYS``;
* one **toggle per head** (``L0 H1`` ...); a head switched off writes
  nothing to the residual stream: its slice of the input to the attention's
  output projection is zeroed by a forward pre-hook while the explorer
  measures (chapter 10 zeroes the same columns of ``out_proj`` in a copy);
* a plot of accuracy against ``k`` for the full model and for the model
  with the chosen heads off, the chosen ``k`` marked, chance at 1/10, and
  one prompt with the answer each model gives.

Accuracy is ``icl.few_shot_accuracy`` on ``n_trials`` fresh prompts per
``k`` with a fixed ``seed``: the same prompts on every update, so a change
in the plot is the ablation, not the draw. Each new set of heads runs the
model once per ``k`` (cached); moving ``k`` only moves the marker.

Left out: ablating MLPs or single neurons, and patching activations from
one prompt into another (causal tracing).
"""
from __future__ import annotations

import contextlib
import html

import ipywidgets as W
import torch

from .. import icl
from ..checks import check_int
from ._explorer import LRU, Explorer
from .interactive import _plotly
from .live_figure import LiveFigure

__all__ = ["ICLExplorer"]

# Okabe-Ito colours: told apart with every common colour-vision deficiency
FULL, ABLATED, MARK, CHANCE = "#999999", "#0072B2", "#D55E00", "#000000"
FONT = 18  # px: readable from the back of a room at 1280x720


@contextlib.contextmanager
def heads_off(model, heads):
    """Inside the ``with``, each ``(layer, head)`` of ``heads`` writes nothing.

    The head's output, columns ``head*D:(head+1)*D`` of the input to
    ``blocks[layer].attn.out_proj``, is set to zero by a forward pre-hook;
    the weights are untouched and the hooks leave with the ``with``.
    """
    D = model.config.n_embd // model.config.n_head
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    hooks = []

    def silence(cols):
        def hook(_module, args):
            x = args[0].clone()  # (B, T, C) the heads' outputs side by side
            for head in cols:
                x[..., head * D:(head + 1) * D] = 0
            return (x,) + tuple(args[1:])
        return hook

    try:
        for layer, cols in by_layer.items():
            proj = model.blocks[layer].attn.out_proj
            hooks.append(proj.register_forward_pre_hook(silence(cols)))
        yield model
    finally:
        for h in hooks:
            h.remove()


class ICLExplorer(Explorer):
    """Shots slider and head toggles over the in-context-learning model; ``update(k=, off=)``.

    ``off`` is a list of ``(layer, head)`` pairs switched off (``[]``: the
    full model). ``accuracy(off)`` is the accuracy for every ``k``.
    """

    keys = ("k", "off")

    def __init__(self, model, tokenizer, *, k: int = 4, off=(), n_trials: int = 100,
                 seed: int = 0):
        super().__init__()
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "blocks"):
            raise TypeError(f"model must be a GPT (the shipped 'icl-mapping'), got "
                            f"{type(model).__name__}")
        self.model, self.tokenizer = model, tokenizer
        self.n_trials = check_int("n_trials", n_trials, min=1)
        self.seed = check_int("seed", seed, min=0)
        c = model.config
        self.n_layer, self.n_head = c.n_layer, c.n_head
        self.ks = list(range(icl.N_KEYS + 1))
        self._cache, self._prompts = LRU(64), None
        self.accuracy(())  # checks the tokenizer; the full model's curve, once
        self._build()
        self.update(k=k, off=list(off))

    # ------------------------------------------------------------ measuring
    def accuracy(self, off) -> list[float]:
        """Accuracy for each k in ``0..N_KEYS`` with the heads ``off`` switched off.

        Equal to ``icl.few_shot_accuracy(model, tokenizer, k, n_trials, seed)`` run
        inside ``heads_off``; the prompts are encoded once and kept.
        """
        key = tuple(sorted(off))
        return self._cache.get_or(key, lambda: self._measure(key))

    @torch.no_grad()
    def _measure(self, off) -> list[float]:
        if self._prompts is None:  # (ids (N, 2k+2), answers (N,)) per k: the seed's prompts
            self._prompts = [icl.encode_prompts(self.tokenizer, k, self.n_trials, self.seed)[:2]
                             for k in self.ks]
        was_training = self.model.training
        self.model.eval()
        try:
            with heads_off(self.model, off):
                return [int((self.model(ids)[0][:, -1].argmax(-1) == answer).sum()) / len(answer)
                        for ids, answer in self._prompts]  # greedy answer at the last position
        finally:
            self.model.train(was_training)

    @torch.no_grad()
    def _answers(self, k: int, off) -> tuple[str, str, str, str]:
        """One prompt (the first of the seed's), its answer, and each model's guess."""
        ids, target, prompts, answers = icl.encode_prompts(self.tokenizer, k, 1, self.seed)
        was_training = self.model.training
        self.model.eval()
        try:
            full = self.model(ids)[0][0, -1].argmax()
            with heads_off(self.model, off):
                cut = self.model(ids)[0][0, -1].argmax()
        finally:
            self.model.train(was_training)
        return prompts[0], answers[0], self.tokenizer.decode([int(full)]), \
            self.tokenizer.decode([int(cut)])

    # ------------------------------------------------------------ state
    def _check(self, new: dict, changed: set) -> dict:
        new["k"] = check_int("k", new["k"], min=0, max=icl.N_KEYS)
        off = new["off"]
        if isinstance(off, (str, bytes)) or not hasattr(off, "__iter__"):
            raise TypeError(f"off must be a list of (layer, head) pairs, got {off!r}")
        pairs = set()
        for pair in off:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"off must hold (layer, head) pairs, got {pair!r}")
            layer = check_int("layer", pair[0], min=0, max=self.n_layer - 1)
            head = check_int("head", pair[1], min=0, max=self.n_head - 1)
            pairs.add((layer, head))
        new["off"] = sorted(pairs)
        return new

    # ------------------------------------------------------------ drawing
    def _build(self) -> None:
        go, _ = _plotly()
        full = self.accuracy(())
        self.figure = LiveFigure(
            data=[go.Scatter(x=self.ks, y=[0.1] * len(self.ks), mode="lines", name="chance",
                             line=dict(color=CHANCE, dash="dot", width=2), hoverinfo="skip"),
                  go.Scatter(x=self.ks, y=full, mode="lines+markers", name="full model",
                             line=dict(color=FULL, width=4), marker=dict(size=10),
                             hovertemplate="k=%{x}: %{y:.2f}<extra>full model</extra>"),
                  go.Scatter(x=self.ks, mode="lines+markers", name="heads off",
                             line=dict(color=ABLATED, width=4), marker=dict(size=12),
                             hovertemplate="k=%{x}: %{y:.2f}<extra>heads off</extra>"),
                  go.Scatter(mode="markers", name="chosen k", showlegend=False,
                             marker=dict(size=26, color="rgba(0,0,0,0)",
                                         line=dict(color=MARK, width=4)), hoverinfo="skip")],
            layout=dict(width=820, height=470, font=dict(size=FONT),
                        margin=dict(l=80, r=30, t=90, b=70),
                        xaxis=dict(title=dict(text="demonstrations in the prompt (k)"),
                                   tickmode="linear", dtick=1),
                        yaxis=dict(title=dict(text="accuracy"), range=[0, 1.05]),
                        legend=dict(x=1, xanchor="right", y=0.02, yanchor="bottom",
                                    bgcolor="rgba(255,255,255,0.8)")))
        wide = {"description_width": "initial"}
        self._k = self._bind("k", W.IntSlider(description="shots k", min=0, max=icl.N_KEYS,
                                               style=wide, layout=W.Layout(width="28em")))
        self._toggles = {}
        for layer in range(self.n_layer):
            for head in range(self.n_head):
                t = W.ToggleButton(description=f"L{layer} H{head} off",
                                   tooltip=f"switch head {head} of layer {layer} off",
                                   layout=W.Layout(width="9em"))
                t.observe(lambda change, lh=(layer, head): self._toggled(lh, change["new"]),
                          names="value")
                self._toggles[(layer, head)] = t
        self._example = W.HTML()
        self.widget = W.VBox([self._k, W.HBox(list(self._toggles.values())), self.status,
                              self.figure, self._example])

    def _toggled(self, pair, on: bool) -> None:
        if self._syncing:
            return
        off = set(self.state["off"])
        off = off | {pair} if on else off - {pair}
        self._try(off=sorted(off))

    def _sync_controls(self) -> None:
        super()._sync_controls()
        self._syncing = True
        try:
            for pair, t in self._toggles.items():
                t.value = pair in self.state["off"]
                t.button_style = "danger" if t.value else ""
        finally:
            self._syncing = False

    def _render(self, new: dict, old: dict) -> None:
        cut = self.accuracy(new["off"])
        k = new["k"]
        names = ", ".join(f"L{la} H{h}" for la, h in new["off"]) or "none"
        fig = self.figure
        with fig.batch_update():
            fig.data[2].update(y=cut, name=f"heads off: {names}", visible=bool(new["off"]))
            fig.data[3].update(x=[k], y=[cut[k]])
            fig.layout.title.text = (f"k = {k}: accuracy {cut[k]:.2f} with heads off "
                                     f"({names}), {self.accuracy(())[k]:.2f} full")
        prompt, answer, full, ablated = self._answers(k, new["off"])
        e = html.escape
        self._example.value = (
            f'<div style="font-size:{FONT}px;font-family:monospace">prompt '
            f'<b>{e(prompt)}</b> → answer <b>{e(answer)}</b>; full model says '
            f'<b>{e(full)}</b>, with heads off <b>{e(ablated)}</b></div>')

    def _describe(self) -> str:
        return (f"accuracy over n = {self.n_trials} fresh prompts per k (seed {self.seed}), "
                f"the same prompts on every update; chance is 0.10")
