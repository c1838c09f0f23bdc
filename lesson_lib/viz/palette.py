"""Colours that colour-blind viewers can tell apart, and the sizes a projector needs.

* Maps (attention, loss, probability) use perceptually uniform sequential
  scales, ``viridis`` or ``cividis`` (Nuñez, Anderton & Renslow 2018): their
  lightness rises steadily, so they read the same in grey and to viewers
  with red-green colour blindness.
* Lines and categories (one colour per head) use the eight colours of
  Okabe & Ito (2008), "Color Universal Design".
* ``text_on`` picks black or white text for a cell of a scale, so labels
  stay readable on dark and light cells.

Left out: diverging scales (the static views use ``RdBu_r`` for signed
values) and themes; nothing here changes plotly's global templates.

>>> text_on(0.1), text_on(0.9)
('white', 'black')
"""
from __future__ import annotations

__all__ = ["OKABE_ITO", "LINE_COLOURS", "MAP_SCALE", "MUTED", "PROJECTOR_FONT_PX", "MONO_FONT",
           "text_on"]

# Okabe & Ito's order, black moved last: orange, sky blue, bluish green, yellow,
# blue, vermillion, reddish purple, black
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")
LINE_COLOURS = tuple(c for c in OKABE_ITO if c != "#F0E442")  # yellow is faint on white
MAP_SCALE = "Viridis"  # sequential maps: weights, losses, probabilities
MUTED = "#d9d9d9"  # boxes that carry no value (masked future, unscored tokens)
PROJECTOR_FONT_PX = 18  # smallest text a back row reads at 1280 x 720
MONO_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"  # widths are predictable
MONO_CHAR_EM = 0.61  # a monospace character's width, in font sizes


def text_on(fraction: float) -> str:
    """Black or white text for a cell at ``fraction`` (0..1) of viridis/cividis."""
    return "black" if fraction >= 0.55 else "white"
