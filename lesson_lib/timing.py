"""Timing small pieces of code fairly: the best of several runs, or two programs interleaved.

``best_of(fn, repeats)`` runs ``fn`` several times and keeps the fastest
run: the slower ones measure what else the machine was doing. For comparing
two programs, ``interleaved(a, b, rounds)`` runs them in the order
A B B A, round after round, so that a machine that gets busier or quieter
during the measurement affects both alike.

Example::

    >>> t = best_of(lambda: sum(range(1000)), repeats=3)
    >>> t > 0
    True

Left out: statistics beyond the minimum and median (see ``timeit`` for
loops over very short statements).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from .checks import check_int

__all__ = ["best_of", "interleaved"]


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` calls of ``fn()``, in seconds."""
    check_int("repeats", repeats, min=1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(a: Callable[[], object], b: Callable[[], object], rounds: int = 1) -> dict:
    """Time ``a`` and ``b`` in the order A B B A per round; seconds of every run of each.

    Returns ``{"a": [...], "b": [...], "ratio": median(a) / median(b)}``;
    each list has ``2 * rounds`` entries.
    """
    check_int("rounds", rounds, min=1)
    times = {"a": [], "b": []}
    for _ in range(rounds):
        for key, fn in (("a", a), ("b", b), ("b", b), ("a", a)):
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    times["ratio"] = statistics.median(times["a"]) / statistics.median(times["b"])
    return times
