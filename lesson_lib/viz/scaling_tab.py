"""The scaling tab: fit a power law to small runs, predict the held-out one (chapter 11).

The GPT-4 Technical Report (OpenAI 2023, §3.1, Figure 1) fits
``L(C) = a · C^(-b) + c`` to the final losses of small training runs and
predicts the loss of a run with far more compute before it is trained.
``lesson_lib.scaling`` does the same on a family of character-level GPTs
(``assets/results/scaling.json``, read with ``scaling.load_runs``).

``ScalingExplorer(runs)`` shows, on log-log axes, every run's compute and
validation loss, the law fitted by ``scaling.fit_power_law`` to the
smallest ``n_fit`` model sizes, its floor ``c``, and the run with the most
compute, held out of every fit: its measured loss (the mean over its seeds
when it has several, each seed drawn too) against the fit's prediction. A
slider sets ``n_fit`` (at least 3, the law's three parameters; at most
every size but the held-out one): the fewer the runs, the further the
prediction has to reach.

Left out: fitting parameters and tokens separately (``L(N, D)``), and
choosing the held-out run (it is always the largest).
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import scaling
from ..checks import check_int
from ._explorer import Explorer
from .interactive import _plotly
from .live_figure import LiveFigure

__all__ = ["ScalingExplorer"]

# Okabe-Ito colours: told apart with every common colour-vision deficiency
FIT, UNUSED, HELD, FLOOR = "#0072B2", "#999999", "#D55E00", "#009E73"
FONT = 18  # px: readable from the back of a room at 1280x720


class ScalingExplorer(Explorer):
    """Slider over how many small model sizes the law is fitted to; ``update(n_fit=...)``.

    ``runs``: dicts with ``compute_flops`` and ``val_loss`` (default: the
    shipped sweep). Runs with the same compute are one size (several seeds).
    """

    keys = ("n_fit",)

    def __init__(self, runs=None, *, n_fit: int | None = None):
        super().__init__()
        runs = scaling.load_runs() if runs is None else list(runs)
        for i, run in enumerate(runs):
            if not isinstance(run, dict) or not {"compute_flops", "val_loss"} <= set(run):
                raise ValueError(f"run {i} must be a dict with compute_flops and val_loss, "
                                 f"got {run!r:.80}")
        sizes = sorted({float(r["compute_flops"]) for r in runs})
        if len(sizes) < 4:
            raise ValueError(f"need runs of at least 4 sizes (3 to fit, 1 to predict), got "
                             f"{len(sizes)}")
        self.runs = runs
        self.sizes = sizes  # compute of each size, smallest first; the last is held out
        self.losses = [[float(r["val_loss"]) for r in runs if float(r["compute_flops"]) == c]
                       for c in sizes]  # the seeds of each size
        self.held_out = float(np.mean(self.losses[-1]))
        self._build()
        self.update(n_fit=len(sizes) - 1 if n_fit is None else n_fit)

    def fit(self, n_fit: int | None = None) -> scaling.PowerLaw:
        """The law fitted to every run of the ``n_fit`` smallest sizes."""
        n = self.state["n_fit"] if n_fit is None else n_fit
        compute = [c for c, seeds in zip(self.sizes[:n], self.losses) for _ in seeds]
        loss = [x for seeds in self.losses[:n] for x in seeds]
        return scaling.fit_power_law(compute, loss)

    def _check(self, new: dict, changed: set) -> dict:
        new["n_fit"] = check_int("n_fit", new["n_fit"], min=3, max=len(self.sizes) - 1)
        return new

    def _build(self) -> None:
        go, _ = _plotly()
        top = self.sizes[-1]
        self._curve_x = np.geomspace(self.sizes[0] / 2, top * 3, 60)  # (60,) the law's reach
        held_seeds = self.losses[-1]
        self.figure = LiveFigure(
            data=[go.Scatter(name="fitted runs", mode="markers",
                             marker=dict(size=14, color=FIT),
                             hovertemplate="C=%{x:.2e}: loss %{y:.3f}<extra>fitted</extra>"),
                  go.Scatter(name="not fitted", mode="markers",
                             marker=dict(size=14, color="rgba(0,0,0,0)",
                                         line=dict(color=UNUSED, width=3)),
                             hovertemplate="C=%{x:.2e}: loss %{y:.3f}<extra>not fitted</extra>"),
                  go.Scatter(name="law", mode="lines", line=dict(color=FIT, width=3)),
                  go.Scatter(name="floor c", mode="lines", x=self._curve_x[[0, -1]],
                             line=dict(color=FLOOR, width=2, dash="dash")),
                  go.Scatter(name=f"held out, measured ({len(held_seeds)} "
                                  f"seed{'s' if len(held_seeds) > 1 else ''})",
                             mode="markers", x=[top] * len(held_seeds), y=held_seeds,
                             marker=dict(size=18, symbol="star", color=HELD),
                             hovertemplate="measured %{y:.3f}<extra>held out</extra>"),
                  go.Scatter(name="held out, predicted", mode="markers", x=[top],
                             marker=dict(size=22, symbol="diamond-open", color=FIT,
                                         line=dict(width=4)),
                             hovertemplate="predicted %{y:.3f}<extra></extra>")],
            layout=dict(width=900, height=540, font=dict(size=FONT),
                        margin=dict(l=90, r=30, t=110, b=80),
                        xaxis=dict(type="log", title=dict(text="training compute C (FLOPs)"),
                                   exponentformat="power"),
                        yaxis=dict(type="log", title=dict(text="validation loss (nats/char)")),
                        legend=dict(x=0.01, y=0.01, yanchor="bottom", font=dict(size=16),
                                    bgcolor="rgba(255,255,255,0.8)")))
        self._n_fit = self._bind("n_fit", W.IntSlider(
            description="sizes fitted", min=3, max=len(self.sizes) - 1,
            style={"description_width": "initial"}, layout=W.Layout(width="30em")))
        self.widget = W.VBox([self._n_fit, self.status, self.figure])

    def _render(self, new: dict, old: dict) -> None:
        n = new["n_fit"]
        law = self.fit(n)
        pred = float(law.predict(self.sizes[-1]))
        used = [(c, x) for c, seeds in zip(self.sizes[:n], self.losses) for x in seeds]
        left = [(c, x) for c, seeds in zip(self.sizes[n:-1], self.losses[n:-1]) for x in seeds]
        error = (pred - self.held_out) / self.held_out
        fig = self.figure
        with fig.batch_update():
            fig.data[0].update(x=[c for c, _ in used], y=[x for _, x in used])
            fig.data[1].update(x=[c for c, _ in left], y=[x for _, x in left])
            fig.data[2].update(x=self._curve_x, y=law.predict(self._curve_x), name=str(law))
            fig.data[3].update(y=[law.c, law.c])
            fig.data[5].update(y=[pred])
            fig.layout.title.text = (f"law fitted to the {n} smallest sizes<br>held-out run: "
                                     f"predicted {pred:.3f}, measured {self.held_out:.3f} "
                                     f"({error:+.1%})")

    def _describe(self) -> str:
        n = self.state["n_fit"]
        reach = self.sizes[-1] / self.sizes[n - 1]
        return (f"{len(self.runs)} runs of {len(self.sizes)} sizes; the held-out run has "
                f"{reach:.0f}x the compute of the largest fitted one")

    def twin(self):
        """A kernel-free plotly figure: the same plot with a slider over ``n_fit``."""
        go, _ = _plotly()
        steps, traces = [], []
        choices = list(range(3, len(self.sizes)))
        for i, n in enumerate(choices):
            law = self.fit(n)
            traces.append(go.Scatter(x=self._curve_x, y=law.predict(self._curve_x),
                                     mode="lines", line=dict(color=FIT, width=3),
                                     name=f"fit to {n} sizes", visible=i == len(choices) - 1))
        runs = go.Scatter(x=[c for c, seeds in zip(self.sizes[:-1], self.losses) for _ in seeds],
                          y=[x for seeds in self.losses[:-1] for x in seeds], mode="markers",
                          marker=dict(size=14, color=FIT), name="runs")
        held = go.Scatter(x=[self.sizes[-1]] * len(self.losses[-1]), y=self.losses[-1],
                          mode="markers", marker=dict(size=18, symbol="star", color=HELD),
                          name="held out, measured")
        fig = go.Figure(traces + [runs, held])
        for i, n in enumerate(choices):
            pred = float(self.fit(n).predict(self.sizes[-1]))
            steps.append(dict(method="update", label=str(n), args=[
                {"visible": [j == i for j in range(len(choices))] + [True, True]},
                {"title.text": f"fitted to {n} sizes: predicted {pred:.3f}, "
                               f"measured {self.held_out:.3f}"}]))
        fig.update_layout(width=900, height=560, font=dict(size=FONT),
                          xaxis=dict(type="log", title=dict(text="training compute C (FLOPs)")),
                          yaxis=dict(type="log", title=dict(text="validation loss")),
                          title=dict(text=steps[-1]["args"][1]["title.text"]),
                          sliders=[dict(active=len(choices) - 1, steps=steps,
                                        currentvalue=dict(prefix="sizes fitted: "),
                                        pad=dict(t=60))])
        return fig
