"""A live loss plot for ``lesson_lib.train.train``: watch a model learn.

``LiveLossPlot`` is a training callback (``lesson_lib.train.Callback``).
It draws three curves on one plotly ``FigureWidget`` while the loop runs:

* the loss of every training step (thin, noisy: one batch each),
* the train loss and the validation loss estimated at each evaluation
  (averages over fixed batches, so they are smooth and comparable).

The objective is GPT-1's (Radford et al. 2018, section 3.1): the mean
negative log-likelihood of each next token, in nats. A gap that opens
between train and validation is over-fitting.

The figure is restyled in place every ``every`` steps and at every
evaluation, so a notebook shows the curves grow. When training ends, the
live widget's output is replaced by a plain plotly figure of the same
curves (``static_figure()``): it survives export to HTML and slides with
no kernel. Outside a notebook (a script, a test) nothing is displayed and
the callback only keeps its figure up to date, with no output at all.

Left out: smoothing, logarithmic axes, several runs on one plot.
"""
from __future__ import annotations

import math

from ..train import Callback

__all__ = ["LiveLossPlot"]


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (a front end may be listening), False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveLossPlot(Callback):
    """``train(..., callbacks=[LiveLossPlot()])``: live train/val loss curves.

    ``every``: redraw the step-loss curve every this many steps (evaluations
    always redraw). ``display``: show the figure (only inside a notebook).
    ``figure`` is the ``FigureWidget``; ``static_figure()`` a plain copy.
    """

    def __init__(self, every: int = 10, title: str = "training loss", display: bool = True,
                 static_at_end: bool = True):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int (steps between redraws), "
                             f"got {every!r}")
        self.every, self.title, self.display = every, title, display
        # True: the live widget gives way to a plain figure at the end (exports keep it).
        # False: it stays a widget (for dashboards, where plain figures need no kernel anyway).
        self.static_at_end = static_at_end
        self.figure, self._handle, self._first_iter = None, None, 0

    def on_train_begin(self, state) -> None:
        from .interactive import _plotly
        from .live_figure import LiveFigure  # plotly and ipywidgets load on first use

        go, _ = _plotly()
        self._first_iter = state.iter  # a resumed run starts past 0
        self.figure = LiveFigure(
            data=[go.Scatter(name="step loss", mode="lines",
                             line=dict(color="#9ecae1", width=1)),
                  go.Scatter(name="train loss (estimate)", mode="lines+markers",
                             line=dict(color="#1f77b4", width=2)),
                  go.Scatter(name="val loss (estimate)", mode="lines+markers",
                             line=dict(color="#ff7f0e", width=2))],
            layout=dict(title=dict(text=self.title), width=760, height=400,
                        xaxis=dict(title=dict(text="step"),
                                   range=[state.iter, max(state.config.max_iters, state.iter + 1)]),
                        yaxis=dict(title=dict(text="loss (nats per token)")),
                        legend=dict(x=1.0, xanchor="right", y=1.0)))
        if self.display and _in_notebook():
            from IPython.display import display

            self._handle = display(self.figure, display_id=True)

    def on_step(self, state) -> None:
        if self.figure is not None and len(state.history["step_loss"]) % self.every == 0:
            self._redraw(state)

    def on_eval(self, state) -> None:
        if self.figure is not None:
            self._redraw(state)

    def on_train_end(self, state) -> None:
        if self.figure is None:
            return
        self._redraw(state)
        if self._handle is not None and self.static_at_end:  # a figure that exports
            bundle = self.static_figure()._repr_mimebundle_()  # per pio.renderers.default
            self._handle.update(bundle or {"text/plain": f"<{self.title}: plotly figure>"},
                                raw=True)

    def _redraw(self, state) -> None:
        h = state.history
        steps = list(range(self._first_iter, self._first_iter + len(h["step_loss"])))
        val = [v if math.isfinite(v) else None for v in h["val_loss"]]  # no val data: a gap
        last = h["val_loss"][-1] if h["val_loss"] else None
        note = f" (val {last:.3f} at step {h['iter'][-1]})" if last is not None and \
            math.isfinite(last) else ""
        with self.figure.batch_update():
            self.figure.data[0].update(x=steps, y=h["step_loss"])
            self.figure.data[1].update(x=h["iter"], y=h["train_loss"])
            self.figure.data[2].update(x=h["iter"], y=val)
            self.figure.layout.title.text = f"{self.title}{note}"

    def static_figure(self):
        """A plain plotly ``Figure`` with the curves so far (for export and saving)."""
        from .interactive import _plotly

        go, _ = _plotly()
        if self.figure is None:
            raise ValueError("LiveLossPlot has no curves yet: pass it to train(..., "
                             "callbacks=[plot]) first")
        return go.Figure(self.figure)
