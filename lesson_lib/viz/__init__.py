"""Views of what the models compute: attention maps and positional encodings.

Four kinds of view, all taking tensors and token strings, never models:

* ``static``: matplotlib figures for notebooks and print
  (``attention_heatmap``, ``attention_grid``, ``positional_encoding_heatmap``,
  and ``new_figure``, the ``plt.subplots`` every chapter draws with).
* ``interactive``: plotly twins with their own sliders that keep working in
  exported HTML with no kernel (``attention_plotly``,
  ``positional_encoding_plotly``) and ``tokens_html`` for token boundaries.
* live ipywidgets driven by a model, one module each (``AttentionExplorer``,
  ``PositionalEncodingExplorer``, ``NextTokenExplorer``), and the training
  callback ``LiveLossPlot`` (``live_loss``); their plots are ``LiveFigure``s
  (``live_figure``), which load plotly's widget code once per page.
* views of a whole model, each a plotly figure that needs no kernel:
  ``model_view`` (every head as a thumbnail, in ``head_grid``),
  ``head_view`` (lines from tokens to the tokens they attend to,
  ``head_lines``), ``loss_strip`` (tokens coloured by their loss,
  ``token_loss``), ``logit_lens`` (top guesses after each layer,
  ``lens_view``; its tensors come from ``lesson_lib.lens``),
  ``presentation_attention`` (word-level attention on a 1280 × 720 slide,
  ``presentation``) and ``attention_over_training`` with its training
  callback ``AttentionRecorder`` (``attention_history``). These modules are
  not named after their functions: once imported, a submodule
  ``viz.model_view`` would replace the function of that name.

Only the matplotlib views load with the package; the plotly and widget
names are resolved on first use (a module-level ``__getattr__``), so
``import lesson_lib.viz`` needs torch and matplotlib alone.

Left out: saving files and showing windows; every function returns a
figure (or widget) and the caller decides what to do with it.
"""
from __future__ import annotations

import importlib
import importlib.util

from .static import attention_grid, attention_heatmap, new_figure, positional_encoding_heatmap

# name -> submodule that defines it, imported when the name is first asked for
_LAZY = {
    "attention_plotly": "interactive",
    "positional_encoding_plotly": "interactive",
    "tokens_html": "interactive",
    "AttentionExplorer": "attention_explorer",
    "PositionalEncodingExplorer": "pe_explorer",
    "NextTokenExplorer": "next_token",
    "pe_rotation": "pe_explorer",
    "LiveLossPlot": "live_loss",
    "LiveFigure": "live_figure",
    "ICLExplorer": "icl_tab",
    "ScalingExplorer": "scaling_tab",
    "model_view": "head_grid",
    "head_view": "head_lines",
    "loss_strip": "token_loss",
    "logit_lens": "lens_view",
    "presentation_attention": "presentation",
    "merge_attention": "presentation",
    "word_groups": "presentation",
    "AttentionRecorder": "attention_history",
    "attention_over_training": "attention_history",
}

# ``from lesson_lib.viz import *`` lists only names whose submodule is present
__all__ = ["attention_heatmap", "attention_grid", "positional_encoding_heatmap",
           "new_figure"] + [
    name for name, mod in _LAZY.items() if importlib.util.find_spec(f"{__name__}.{mod}")]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    full = f"{__name__}.{module_name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as err:
        if err.name != full:  # a missing dependency (plotly, ipywidgets): say so
            raise
        raise AttributeError(f"{name} lives in {full}, which is not available") from None
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
