"""``LiveFigure``: a plotly ``FigureWidget`` whose widget code reaches a page once.

Since plotly 6 a ``FigureWidget`` is an anywidget, and every figure carries
plotly's whole widget code (about 5 MB, plotly.js inside) as its ``_esm``
trait. That costs twice:

* a notebook run that saves its widget state stores those 5 MB once per
  figure (chapter 12 came to 44.6 MB);
* the page compiles the code once per figure, and anywidget (0.11) gives a
  model 2 s to load its code and initialise. A model that takes longer
  stays drawn, but its every later message from the kernel is dropped
  (``_handle_comm_msg`` waits on a promise that the 2 s timer rejected):
  the slider moves and the plot never redraws. With nine figures compiling
  5 MB each on a busy machine this hit about one first load of the
  dashboard in four, the failure ``[anywidget] Failed to initialize model.``

``LiveFigure`` sends a loader of a few KB as its ``_esm`` instead
(``_LOADER`` below). Its initialisation returns at once, so the 2 s never
run out. plotly's widget code comes from the kernel as one binary custom
message, which is not widget state and is never saved in a notebook: the
kernel sends it after the first figure it builds, and a page that connects
later (voila, a reload) asks for it. Every figure on the page shares that
one compiled copy and is drawn when it arrives; from then on it follows the
kernel's messages like any ``FigureWidget``.

Two things a ``FigureWidget`` leaves to its caller are done here too:

* a front end that connects later is sent the figure as it is now, not as
  it was first built (``get_state`` refreshes ``_widget_data`` and
  ``_widget_layout``);
* a figure drawn after the kernel has already changed it (the code arrived
  after those messages) asks the kernel for the figure as it is now.

Left out: plotly 5, whose ``FigureWidget`` is not an anywidget; there
``LiveFigure`` is that ``FigureWidget`` unchanged.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import plotly
import plotly.graph_objects as go

__all__ = ["LiveFigure"]

ASK_CODE, CODE, ASK_FIGURE = "plotly-widget-code?", "plotly-widget-code", "plotly-figure?"

# The _esm of every LiveFigure. One copy of plotly's widget module per page, kept on
# globalThis under a key with plotly's version; anywidget calls the default export once
# per model, so `seen` and everything in render belong to one figure.
_LOADER = r"""
const KEY = Symbol.for("lesson_lib.plotly_widget@__VERSION__");
const FIRST_ASK_MS = 300;  // a kernel that is running cells sends the code unasked: wait a little
const ASK_AGAIN_MS = 10000;
const MESSAGES = ["_py2js_addTraces", "_py2js_deleteTraces", "_py2js_moveTraces",
  "_py2js_restyle", "_py2js_relayout", "_py2js_update", "_py2js_animate",
  "_py2js_removeLayoutProps", "_py2js_removeTraceProps"];

function page() {  // the code of plotly's widget, once per page
  let p = globalThis[KEY];
  if (!p) {
    let resolve;
    p = globalThis[KEY] = { arrived: false, askedAt: -Infinity };
    p.module = new Promise((r) => { resolve = r; });
    p.receive = (buffer) => {
      if (p.arrived) return;
      p.arrived = true;
      const url = URL.createObjectURL(new Blob([buffer], { type: "text/javascript" }));
      resolve(import(url).finally(() => URL.revokeObjectURL(url)));
    };
  }
  return p;
}

function ask(model) {
  const p = page();
  if (!p.arrived && performance.now() - p.askedAt > ASK_AGAIN_MS) {
    p.askedAt = performance.now();
    model.send({ type: "__ASK_CODE__" });
  }
}

async function plotlyWidget(model, signal) {
  const p = page();
  await Promise.race([p.module, new Promise((r) => setTimeout(r, FIRST_ASK_MS))]);
  while (!p.arrived) {  // ask again now and then: a kernel busy running a cell answers late
    ask(model);
    await Promise.race([p.module, new Promise((r) => setTimeout(r, ASK_AGAIN_MS))]);
    if (signal && signal.aborted) return null;
  }
  return p.module;
}

export default () => {
  const seen = { messages: 0, atFullState: 0 };  // messages, and their count at the last full state
  return {
    initialize({ model }) {  // returns at once: anywidget allows 2 s
      const p = page();
      model.on("msg:custom", (msg, buffers) => {
        if (msg && msg.type === "__CODE__" && buffers && buffers.length) p.receive(buffers[0]);
      });
      for (const name of MESSAGES) {
        model.on("change:" + name, () => { if (model.get(name) !== null) seen.messages += 1; });
      }
      const full = () => { seen.atFullState = seen.messages; };
      model.on("change:_widget_data", full);
      model.on("change:_widget_layout", full);
      setTimeout(() => {
        try { ask(model); } catch (err) { /* the model is gone */ }
      }, FIRST_ASK_MS);
    },
    async render({ model, el, signal }) {
      let plotly;
      try {
        plotly = await plotlyWidget(model, signal);
      } catch (err) {
        el.textContent = "plotly's widget code did not load: " + err;
        return;
      }
      if (!plotly || (signal && signal.aborted)) return;
      let teardown = () => {};
      let pending = false;
      const draw = () => {
        pending = false;
        teardown();
        const box = document.createElement("div");
        el.replaceChildren(box);
        const heard = [];
        const facade = {  // the model, with every listener plotly adds remembered
          get: (k) => model.get(k), set: (k, v) => model.set(k, v),
          save_changes: () => model.save_changes(), send: (...a) => model.send(...a),
          on: (name, cb) => { heard.push([name, cb]); model.on(name, cb); },
          off: (name, cb) => model.off(name, cb), widget_manager: model.widget_manager,
        };
        const figure = plotly.default();
        figure.initialize({ model: facade });
        const remove = figure.render({ model: facade, el: box });
        teardown = () => {
          for (const [name, cb] of heard) model.off(name, cb);
          if (typeof remove === "function") remove();
        };
        if (seen.messages > seen.atFullState) {  // changes sent before this drawing: catch up
          seen.atFullState = seen.messages;
          model.send({ type: "__ASK_FIGURE__" });
        }
      };
      const redraw = () => { if (!pending) { pending = true; queueMicrotask(draw); } };
      draw();
      model.on("change:_widget_data", redraw);  // the whole figure, sent again
      model.on("change:_widget_layout", redraw);
      return () => {
        model.off("change:_widget_data", redraw);
        model.off("change:_widget_layout", redraw);
        teardown();
      };
    },
  };
};
"""


@functools.cache
def _plotly_widget_code() -> bytes:
    """plotly's own widget module (an ES module with plotly.js inside), as shipped."""
    return (Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").read_bytes()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _tree_copy(obj):
    """Copy the dicts and lists of a figure spec; leaves (str, numbers, arrays) are shared.

    Enough for plotly, which replaces leaves and edits containers, and much
    cheaper than ``deepcopy`` on long lists of token labels.

    >>> spec = {"x": ["a", "b"], "marker": {"color": "red"}}
    >>> copy = _tree_copy(spec); copy["marker"]["color"] = "blue"; spec["marker"]["color"]
    'red'
    """
    if isinstance(obj, dict):
        return {k: _tree_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_tree_copy(v) if isinstance(v, (dict, list, tuple)) else v for v in obj]
    return obj


_ANYWIDGET = hasattr(go.FigureWidget, "_esm")  # plotly >= 6


class LiveFigure(go.FigureWidget):
    """A ``go.FigureWidget`` (same arguments, same use) that loads plotly's code once a page.

    ``send_figure()`` sends the whole figure as it is now to every front end.
    """

    if _ANYWIDGET:
        _esm = (_LOADER.replace("__VERSION__", plotly.__version__)
                .replace("__ASK_CODE__", ASK_CODE).replace("__CODE__", CODE)
                .replace("__ASK_FIGURE__", ASK_FIGURE))

    _code_sent = False  # by this process, to the first front end that listens

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._built = True  # from now on get_state refreshes the state traits (see there)
        if not _ANYWIDGET:
            return
        self.on_msg(self._on_front_end_message)
        if not LiveFigure._code_sent and _in_kernel():  # a live front end compiles it now
            LiveFigure._code_sent = True
            self._send_code()

    def _send_code(self) -> None:
        self.send({"type": CODE, "version": plotly.__version__}, buffers=[_plotly_widget_code()])

    def _on_front_end_message(self, _widget, content, _buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == ASK_CODE:
            self._send_code()
        elif kind == ASK_FIGURE:
            self.send_figure()

    def __repr__(self) -> str:  # plotly's repr prints every number, into each saved output
        kinds = ", ".join(sorted({trace.type for trace in self.data})) or "no traces"
        return f"LiveFigure({len(self.data)} traces: {kinds})"

    def send_figure(self) -> None:
        """Send the figure as it is now (its data and layout, whole) to every front end."""
        self.send_state(["_widget_data", "_widget_layout"])

    def _refresh_state(self) -> None:
        """Make ``_widget_data``/``_widget_layout`` the figure as it is now, in place.

        Not while ``__init__`` runs: plotly's constructor ends by assigning both
        traits, and traitlets sends an assigned value only when it differs from
        the current one; refreshed in place before that, a figure without arrays
        would compare equal and reach the front end empty.
        """
        if not self.__dict__.get("_built"):
            return
        data, layout = self._data, self._layout_obj
        self._widget_data[:] = _tree_copy(data)
        self._widget_layout.clear()
        self._widget_layout.update(_tree_copy(layout._props))

    def get_state(self, key=None, drop_defaults=False):
        keys = None if key is None else {key} if isinstance(key, str) else set(key)
        if keys is None or keys & {"_widget_data", "_widget_layout"}:
            self._refresh_state()
        return _finite(super().get_state(key=key, drop_defaults=drop_defaults))


def _finite(obj):
    """NaN and infinities become None (JSON's null, a gap to plotly), as plotly's own JSON does.

    >>> _finite({"y": [1.0, float("nan")], "x": (float("inf"),)})
    {'y': [1.0, None], 'x': [None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
