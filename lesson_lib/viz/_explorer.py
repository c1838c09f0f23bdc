"""What every live explorer shares: state, ``update(**state)``, a status line, display.

An explorer keeps its whole view in one dict, ``state`` (the text, the
layer, the temperature...). ``update(**changes)`` checks the new state,
redraws the figure *in place* and moves the controls to match, so a
notebook cell, a test and a slider all drive it the same way:

* a bad value raises ``ValueError``/``TypeError`` from ``update`` and
  leaves the explorer as it was;
* the same bad value typed into a control is caught and shown in the
  status line instead, so a typo never prints a traceback.

Displaying an explorer displays its ``widget`` (an ipywidgets container)
and sends its ``figure`` (a ``LiveFigure``) as it is now; a front end that
connects later (voila, a reloaded page) gets it as it is then. ipywidgets
is imported here, and this module is only imported when a widget is first
asked for (see ``lesson_lib.viz.__getattr__``).

Left out: undo, saving a view to a file, several explorers linked together.
"""
from __future__ import annotations

import html
import math
from collections import OrderedDict

import ipywidgets as W

__all__ = ["Explorer", "LRU"]


class LRU(OrderedDict):
    """A small least-recently-used cache: ``get_or(key, make)`` computes once per key.

    >>> cache = LRU(2)
    >>> [cache.get_or(k, lambda: k * 10) for k in (1, 2, 1, 3)]
    [10, 20, 10, 30]
    >>> list(cache)  # 2 was used least recently, so it left
    [1, 3]
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()  # may raise: nothing is stored then
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class Explorer:
    """Base class: subclasses set ``keys`` and implement ``_check`` and ``_render``.

    ``_check(new, changed) -> new`` validates (and completes) a candidate
    state; ``_render(new, old)`` draws it. ``_controls`` maps a state key to
    ``(control, to_control, from_control)`` so controls and state stay in step.
    """

    keys: tuple[str, ...] = ()

    def __init__(self):
        self.state: dict = {}
        self._controls: dict = {}
        self._syncing = False
        self.status = W.HTML(layout=W.Layout(min_height="1.6em"))
        self.figure = None  # the plotly FigureWidget, built once
        self.widget = None  # the top-level ipywidgets container

    # ------------------------------------------------------------ driving it
    def update(self, **changes) -> "Explorer":
        """Change any of ``keys``; redraws in place. Bad values raise and change nothing."""
        unknown = sorted(set(changes) - set(self.keys))
        if unknown:
            raise TypeError(f"{type(self).__name__}.update got unknown key(s) {unknown}; "
                            f"the keys are {list(self.keys)}")
        new = self._check({**self.state, **changes}, set(changes))
        old, self.state = self.state, new
        try:
            self._render(new, old)
        except Exception:
            self.state = old
            raise
        self._sync_controls()
        self._say(self._describe())
        return self

    def _check(self, new: dict, changed: set) -> dict:
        raise NotImplementedError

    def _render(self, new: dict, old: dict) -> None:
        raise NotImplementedError

    def _describe(self) -> str:
        return ""

    # ------------------------------------------------------------ controls
    def _bind(self, key: str, control, to_control=None, from_control=None):
        """Tie ``control.value`` to ``state[key]``; returns the control."""
        self._controls[key] = (control, to_control or (lambda v: v),
                               from_control or (lambda v: v))

        def on_change(change):
            if not self._syncing:
                self._try(**{key: self._controls[key][2](change["new"])})

        control.observe(on_change, names="value")
        return control

    def _try(self, **changes) -> bool:
        """``update`` from a control or a click: errors go to the status line."""
        try:
            self.update(**changes)
        except (ValueError, TypeError) as err:
            self._say(str(err), error=True)
            return False
        return True

    def _sync_controls(self) -> None:
        self._syncing = True
        try:
            for key, (control, to_control, _) in self._controls.items():
                value = to_control(self.state[key])
                if hasattr(control, "max") and isinstance(value, (int, float)):
                    # a value set from code may lie beyond the slider: widen it
                    v = math.log(value, control.base) if hasattr(control, "base") else value
                    control.max, control.min = max(control.max, v), min(control.min, v)
                if control.value != value:
                    control.value = value
        finally:
            self._syncing = False

    def _say(self, message: str, error: bool = False) -> None:
        text = html.escape(message)
        style = "color:#b00020;font-weight:600" if error else "color:#444"
        self.status.value = (f'<span style="{style}">{"✗ " if error else ""}{text}</span>'
                             if message else "")

    # ------------------------------------------------------------ display
    def _live_figures(self) -> list:
        """The explorer's ``LiveFigure``s; a display sends each as it is now."""
        return [self.figure] if self.figure is not None else []

    def _repr_mimebundle_(self, **kwargs):
        for figure in self._live_figures():  # a display shows each figure as it is now
            figure.send_figure()
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.state.items()
                          if not (isinstance(v, str) and len(v) > 40))
        return f"{type(self).__name__}({shown})"
