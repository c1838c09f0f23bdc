"""Argument checks shared by the whole package: one rule for every int, number and choice.

The rules, everywhere in ``lesson_lib``:

* a value of the wrong **type** raises ``TypeError``; a value of the right
  type but outside what is allowed raises ``ValueError``;
* an int is any integral number except ``bool``: Python ints and NumPy
  integers pass, ``3.0``, ``"3"`` and ``True`` do not;
* a number is any real number except ``bool`` (ints, floats, NumPy
  scalars); NaN and infinities are refused unless ``finite=False``;
* every message names the argument, shows the value, and says what was
  expected, e.g. ``n_layer must be an int >= 1, got 0``.

Worked example::

    >>> check_int("n_layer", 4, min=1)
    4
    >>> check_int("n_layer", 0, min=1)
    Traceback (most recent call last):
    ValueError: n_layer must be an int >= 1, got 0
    >>> check_number("dropout", 0.1, min=0, max=1, max_open=True)
    0.1

Left out: checks of tensor shapes, which each module words for its own
shapes (they say how to fix the call).
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Optional

__all__ = ["is_int", "is_number", "check_int", "check_number", "check_bool", "check_choice"]


def is_int(value) -> bool:
    """True for an integral number that is not a ``bool`` (``3``, ``np.int64(3)``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for a real number that is not a ``bool`` (``3``, ``0.5``, ``np.float32(2)``)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def _what(value) -> str:
    return f"{type(value).__name__} {value!r}"


def check_int(name: str, value, *, min: Optional[int] = None, max: Optional[int] = None,
              none_ok: bool = False) -> Optional[int]:
    """``value`` as a Python int, if it is an int in ``[min, max]`` (either may be None).

    With ``none_ok=True``, ``None`` is accepted and returned as it is.
    """
    if none_ok and value is None:
        return None
    positive = (min, max) == (1, None)
    expected = "a positive int" if positive else f"an int {_bounds(min, max)}".rstrip()
    expected = f"None or {expected}" if none_ok else expected
    if not is_int(value):
        raise TypeError(f"{name} must be {expected}, got {_what(value)}")
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def check_number(name: str, value, *, min: Optional[float] = None, max: Optional[float] = None,
                 min_open: bool = False, max_open: bool = False, finite: bool = True,
                 none_ok: bool = False) -> Optional[float]:
    """``value`` as a float, if it is a real number within the bounds.

    ``min_open``/``max_open`` exclude the bound itself: ``min=0, min_open=True``
    means ``> 0``. With ``finite=True`` (the default) NaN and infinities are
    refused. With ``none_ok=True``, ``None`` is accepted and returned as it is.
    """
    if none_ok and value is None:
        return None
    bounded = min is not None and max is not None  # a range already says "finite"
    kind = "a finite number" if finite and not bounded else "a number"
    expected = " ".join(x for x in (kind, _bounds(min, max, min_open, max_open)) if x)
    expected = f"None or {expected}" if none_ok else expected
    if not is_number(value):
        raise TypeError(f"{name} must be {expected}, got {_what(value)}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    too_low = min is not None and (v <= min if min_open else v < min)
    too_high = max is not None and (v >= max if max_open else v > max)
    if too_low or too_high:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return v


def check_bool(name: str, value) -> bool:
    """``value`` if it is a ``bool`` (``0``/``1`` are refused: say True or False)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_what(value)}")
    return value


def check_choice(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices``; the error lists them."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
