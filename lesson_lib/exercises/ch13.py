"""Chapter 13 checker: which rows of the global batch a process trains on.

``check_rows(fn)``: ``fn(batch_size, world_size, rank) -> (start, stop)``
must give rank r the rows ``lesson_lib.train.distributed`` gives it (equal,
contiguous shares in rank order, so that N processes reproduce one), and
raise ``ValueError`` for a batch that does not split evenly. On a mismatch
it names the usual mistakes: overlapping or missing rows, an off-by-one
stop, ranks counted from 1, or a silently dropped remainder.
"""
from __future__ import annotations

import numbers

from ..train.distributed import micro_batch_size
from ._core import Feedback, checker, failed, passed

__all__ = ["check_rows"]

CASES = ((8, 2), (12, 3), (480, 8), (6, 1), (4, 4))


def _pair(got, what: str):
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in got)):
        return failed(f"{what} returned {got!r}; return two ints (start, stop), the way a "
                      "slice x[start:stop] takes them")
    return int(got[0]), int(got[1])


@checker
def check_rows(fn) -> Feedback:
    """``fn(batch_size, world_size, rank) -> (start, stop)``; ValueError if it does not divide."""
    for B, W in CASES:
        share = micro_batch_size(B, W, 1)
        covered = []
        for r in range(W):
            got = _pair(fn(B, W, r), f"my_rows({B}, {W}, {r})")
            if isinstance(got, Feedback):
                return got
            start, stop = got
            want = (r * share, (r + 1) * share)
            if (start, stop) != want:
                if (start, stop) == ((r - 1) * share, r * share) or start == (r + 1) * share:
                    hint = "ranks count from 0: rank 0 takes the first share"
                elif stop - start == share + 1 or stop - start == share - 1:
                    hint = "stop is one past the last row, as in a slice: start + share"
                elif stop - start != share:
                    hint = f"every rank takes batch_size / world_size = {share} rows"
                else:
                    hint = "rank r takes the r-th share: rows r * share to (r + 1) * share"
                return failed(f"my_rows({B}, {W}, {r}) gave ({start}, {stop}), expected "
                              f"{want}: {hint}")
            covered.extend(range(start, stop))
        if sorted(covered) != list(range(B)):  # cannot happen when every share is right
            return failed(f"the shares of a batch of {B} over {W} processes must cover every "
                          "row exactly once")
    try:
        got = fn(10, 3, 0)
    except ValueError:
        return passed("every rank gets an equal, contiguous share, in rank order, and a batch "
                      "that does not split evenly is refused: N processes then take the step "
                      "that one process takes on the whole batch.")
    return failed(f"my_rows(10, 3, 0) returned {got!r}; 10 rows do not split into 3 equal "
                  "shares. Raise a ValueError: a silently dropped or uneven share would make "
                  "the processes' mean gradient differ from the batch's")
