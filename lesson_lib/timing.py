"""Timing small pieces of code fairly: the best of several runs, or two programs interleaved.

``best_of(fn, repeats)`` runs ``fn`` several times and keeps the fastest
run: the slower ones measure what else the machine was doing. For comparing
two programs, ``interleaved(a, b, rounds)`` runs them in the order
A B B A, round after round, so that a machine that gets busier or quieter
during the measurement affects both alike; ``round_ratios`` then compares
A with B round by round, so a verdict can ask whether every round agrees.

On a GPU a call returns before its work is done: pass
``sync=torch.cuda.synchronize`` so that each timed run waits for it.

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
from typing import Callable, Optional

from .checks import check_int

__all__ = ["best_of", "interleaved"]


def _run(fn: Callable[[], object], sync: Optional[Callable[[], object]]) -> float:
    """Seconds of one call of ``fn()``; ``sync()`` (if given) before and after it."""
    if sync is not None:
        sync()  # work queued earlier is not this run's
    start = time.perf_counter()
    fn()
    if sync is not None:
        sync()  # wait until this run's work is done
    return time.perf_counter() - start


def best_of(fn: Callable[[], object], repeats: int = 3, *,
            sync: Optional[Callable[[], object]] = None) -> float:
    """The fastest of ``repeats`` calls of ``fn()``, in seconds.

    ``sync``: called before and after each run, e.g. ``torch.cuda.synchronize``.
    """
    check_int("repeats", repeats, min=1)
    return min(_run(fn, sync) for _ in range(repeats))


def interleaved(a: Callable[[], object], b: Callable[[], object], rounds: int = 1, *,
                sync: Optional[Callable[[], object]] = None) -> dict:
    """Time ``a`` and ``b`` in the order A B B A per round; seconds of every run of each.

    Returns ``{"a": [...], "b": [...], "ratio": median(a) / median(b),
    "round_ratios": [...]}``; ``a`` and ``b`` have ``2 * rounds`` entries,
    ``round_ratios`` one per round: A's two runs over B's two runs of that
    round. ``sync`` as in :func:`best_of`.
    """
    check_int("rounds", rounds, min=1)
    times = {"a": [], "b": []}
    for _ in range(rounds):
        for key, fn in (("a", a), ("b", b), ("b", b), ("a", a)):
            times[key].append(_run(fn, sync))
    times["ratio"] = statistics.median(times["a"]) / statistics.median(times["b"])
    times["round_ratios"] = [(times["a"][2 * r] + times["a"][2 * r + 1])
                             / (times["b"][2 * r] + times["b"][2 * r + 1]) for r in range(rounds)]
    return times
