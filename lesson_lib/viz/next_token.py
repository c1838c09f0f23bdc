"""The next-token explorer: what a GPT samples from, before and after filtering.

A language model ends every step with a distribution over the vocabulary
for the next token (GPT-1, Radford et al. 2018, section 3.1:
``P(u) = softmax(h_n W_eᵀ)``). Generation draws from it after reshaping:

* **temperature** divides the logits: below 1 sharpens, above 1 flattens,
  0 is greedy (always the most likely token);
* **top-k** keeps the k most likely tokens (Fan et al. 2018; GPT-2's
  samples in Radford et al. 2019 used k = 40);
* **top-p** (nucleus sampling, Holtzman et al. 2020) keeps the smallest set
  of most likely tokens whose probability reaches p.

``NextTokenExplorer(model, tokenizer)`` draws two bars per token for the
~20 most likely next tokens: the model's own distribution (temperature 1,
nothing cut) and the filtered one that ``generate`` samples from, computed
by ``lesson_lib.gpt.filter_logits``. The "sample" button (or ``sample()``)
draws a token with the explorer's own ``torch.Generator`` and appends it to
the prompt, so a seeded explorer replays the same text.

Left out: repetition penalties, beam search, min-p and typical sampling.
"""
from __future__ import annotations

import html
import numbers

import ipywidgets as W
import torch

from ..gpt import filter_logits
from ._explorer import LRU, Explorer
from .interactive import _categories, _plotly
from .live_figure import LiveFigure
from .static import display_token

__all__ = ["NextTokenExplorer"]

DEFAULT_PROMPT = "ROMEO:\nWhat light through yonder window"


class NextTokenExplorer(Explorer):
    """Prompt, temperature, top-k and top-p controls; bars before and after filtering.

    ``update(prompt=..., temperature=..., top_k=..., top_p=...)``: ``top_k``
    is ``None`` (or 0) for no cut, ``top_p`` ``None`` (or 1.0) for no cut.
    ``probabilities()`` returns the two distributions ``(V,)``; ``shown``
    holds the token ids of the bars, most likely first.
    """

    keys = ("prompt", "temperature", "top_k", "top_p")

    def __init__(self, model, tokenizer, prompt: str | None = None, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, n_show: int = 20,
                 seed: int = 0, cache_size: int = 64):
        super().__init__()
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise TypeError(f"model must be a GPT (with a config), got {type(model).__name__}")
        if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")):
            raise TypeError(f"tokenizer must have encode() and decode(), got "
                            f"{type(tokenizer).__name__}")
        if isinstance(n_show, bool) or not isinstance(n_show, numbers.Integral) or n_show < 1:
            raise ValueError(f"n_show must be a positive int, got {n_show!r}")
        self.model, self.tokenizer = model, tokenizer
        self.vocab_size = model.config.vocab_size
        self.n_show = min(int(n_show), self.vocab_size)
        self.generator = torch.Generator().manual_seed(seed)
        self._cache = LRU(cache_size)
        self._labels = _categories([display_token(tokenizer.decode([i]))
                                    for i in range(self.vocab_size)])
        if prompt is None:
            try:
                tokenizer.encode(DEFAULT_PROMPT)
                prompt = DEFAULT_PROMPT
            except ValueError:
                prompt = tokenizer.decode([0])
        self._build()
        self.update(prompt=prompt, temperature=temperature, top_k=top_k, top_p=top_p)

    # ------------------------------------------------------------ the model, once per prompt
    def _logits(self, prompt) -> tuple:
        """``(logits (V,), n_tokens)`` for the token after ``prompt``, cached."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not prompt:
            raise ValueError("prompt is empty: type at least one character")
        return self._cache.get_or(prompt, lambda: self._run(prompt))

    def _run(self, prompt: str) -> tuple:
        try:
            ids = self.tokenizer.encode(prompt)
        except ValueError as err:
            raise ValueError(f"cannot encode the prompt: {err}") from None
        bs = self.model.config.block_size
        idx = torch.tensor([ids[-bs:]], device=next(self.model.parameters()).device)  # (1, T)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                logits = self.model(idx)[0][0, -1]  # (V,)
        finally:
            self.model.train(was_training)
        return logits.float().cpu(), len(ids)

    def probabilities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(before (V,), after (V,))``: softmax of the logits, and ``filter_logits``'s."""
        s = self.state
        logits, _ = self._logits(s["prompt"])
        return logits.softmax(-1), filter_logits(logits, s["temperature"], s["top_k"], s["top_p"])

    def _check(self, new: dict, changed: set) -> dict:
        if new["top_k"] == 0 and not isinstance(new["top_k"], bool):
            new["top_k"] = None  # the slider's "off"
        if new["top_p"] is not None and not isinstance(new["top_p"], bool) \
                and isinstance(new["top_p"], numbers.Real) and new["top_p"] == 1.0:
            new["top_p"] = None
        logits, _ = self._logits(new["prompt"])
        filter_logits(logits, new["temperature"], new["top_k"], new["top_p"])  # checks values
        return new

    # ------------------------------------------------------------ drawing
    def _build(self) -> None:
        go, _ = _plotly()
        V = self.vocab_size
        self.figure = LiveFigure(
            data=[go.Bar(name="model (temperature 1, no cut)", marker=dict(color="#c7c7c7"),
                         hovertemplate="%{x}: %{y:.3f}<extra>before</extra>"),
                  go.Bar(name="after temperature, top-k, top-p", marker=dict(color="#1f77b4"),
                         hovertemplate="%{x}: %{y:.3f}<extra>after</extra>")],
            layout=dict(width=760, height=430, barmode="group", bargap=0.25,
                        xaxis=dict(type="category", title=dict(text="next token")),
                        yaxis=dict(title=dict(text="probability"), rangemode="tozero"),
                        legend=dict(x=1, xanchor="right", y=1, bgcolor="rgba(255,255,255,0.7)"),
                        margin=dict(t=110)))
        self._prompt = self._bind("prompt", W.Textarea(
            description="prompt", continuous_update=False, rows=3, layout=W.Layout(width="100%"),
            tooltip="edit, then click outside the box (or press Tab) to apply"))
        wide = {"description_width": "initial"}
        self._temperature = self._bind("temperature", W.FloatSlider(
            description="temperature", min=0.0, max=2.0, step=0.05, readout_format=".2f",
            style=wide))
        self._top_k = self._bind("top_k", W.IntSlider(description="top-k", min=0, max=V,
                                                      style=wide),
                                 lambda k: 0 if k is None else k, lambda k: k or None)
        self._top_p = self._bind("top_p", W.FloatSlider(
            description="top-p", min=0.05, max=1.0, step=0.05, readout_format=".2f",
            style=wide),
            lambda p: 1.0 if p is None else p, lambda p: None if p >= 1.0 else p)
        self._button = W.Button(description="sample", icon="dice", button_style="primary")
        self._button.on_click(lambda _: self._sample_clicked())
        note = W.HTML("<small>top-k 0 and top-p 1 mean no cut; temperature 0 is greedy</small>")
        self.widget = W.VBox([self._prompt,
                              W.HBox([self._temperature, self._top_k, self._top_p]),
                              W.HBox([self._button, note]), self.status, self.figure])

    def _render(self, new: dict, old: dict) -> None:
        before, after = self.probabilities()
        self.shown = torch.argsort(before, descending=True, stable=True)[:self.n_show]  # (n,)
        labels = [self._labels[i] for i in self.shown.tolist()]
        with self.figure.batch_update():
            self.figure.data[0].update(x=labels, y=before[self.shown].numpy())
            self.figure.data[1].update(x=labels, y=after[self.shown].numpy())
            self.figure.layout.title.text = (
                f"next token after …{_escape(new['prompt'][-40:])}<br>"
                f"<sub>{self.n_show} most likely tokens of {self.vocab_size}</sub>")

    def _describe(self) -> str:
        before, after = self.probabilities()
        kept = int((after > 0).sum())
        mass = float(before[self.shown].sum())
        n = self._logits(self.state["prompt"])[1]
        crop = self.model.config.block_size
        seen = f" (the model sees the last {crop})" if n > crop else ""
        return (f"prompt: {n} tokens{seen}; {kept} of {self.vocab_size} tokens can be "
                f"sampled; the bars shown hold {mass:.1%} of the model's probability")

    # ------------------------------------------------------------ sampling
    def sample(self) -> str:
        """Draw one token from the filtered distribution, append it to the prompt, return it."""
        _, after = self.probabilities()
        token = self.tokenizer.decode([int(torch.multinomial(after, 1, generator=self.generator))])
        self.update(prompt=self.state["prompt"] + token)
        return token

    def _sample_clicked(self) -> None:
        try:
            self.sample()
        except (ValueError, TypeError) as err:
            self._say(str(err), error=True)

    def twin(self, temperatures=(0.25, 0.5, 1.0, 1.5, 2.0)):
        """A kernel-free plotly figure of this prompt's bars with a temperature slider."""
        go, _ = _plotly()
        logits, _ = self._logits(self.state["prompt"])
        labels = [self._labels[i] for i in self.shown.tolist()]
        before = logits.softmax(-1)[self.shown].numpy()
        fig, top = go.Figure(), float(before.max())
        for k, t in enumerate(temperatures):
            after = filter_logits(logits, t, self.state["top_k"], self.state["top_p"])
            top = max(top, float(after[self.shown].max()))
            fig.add_trace(go.Bar(x=labels, y=before, name="model (temperature 1)",
                                 marker=dict(color="#c7c7c7"), visible=k == 0))
            fig.add_trace(go.Bar(x=labels, y=after[self.shown].numpy(), visible=k == 0,
                                 name=f"temperature {t:g}", marker=dict(color="#1f77b4")))
        steps = [dict(method="update", label=f"{t:g}",
                      args=[{"visible": [j // 2 == k for j in range(2 * len(temperatures))]}])
                 for k, t in enumerate(temperatures)]
        fig.update_layout(
            title=dict(text=f"next token after …{_escape(self.state['prompt'][-40:])}"),
            barmode="group", width=760, height=460, xaxis=dict(type="category"),
            yaxis=dict(title=dict(text="probability"), range=[0, 1.05 * top]),
            sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="temperature "),
                          pad=dict(t=60))])
        return fig


def _escape(text: str) -> str:
    return html.escape(text.replace("\n", "↵"))
