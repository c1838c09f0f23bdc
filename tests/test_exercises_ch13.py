"""Chapter 13 checker: the solution passes, the typical mistakes get the right hint."""
import pytest

from lesson_lib.exercises import ch13


def rows_solution(batch_size, world_size, rank):
    if batch_size % world_size:
        raise ValueError(f"{batch_size} rows do not split into {world_size} equal shares")
    share = batch_size // world_size
    return rank * share, (rank + 1) * share


def test_rows_solution_passes():
    fb = ch13.check_rows(rows_solution)
    assert fb.passed, fb.message


@pytest.mark.parametrize("answer, hint", [
    (lambda b, w, r: (r * (b // w), (r + 1) * (b // w)), "Raise a ValueError"),  # the first try
    (lambda b, w, r: rows_solution(b, w, r + 1) if r + 1 < w else (b, b), "ranks count from 0"),
    (lambda b, w, r: (r * (b // w), (r + 1) * (b // w) - 1), "stop is one past the last row"),
    (lambda b, w, r: (r, r + b // w), "rank r takes the r-th share"),
    (lambda b, w, r: [r * (b // w), (r + 1) * (b // w), 0], "return two ints"),
    (lambda b, w, r: 1 / 0, "your code raised ZeroDivisionError"),
])
def test_typical_mistakes_get_a_hint(answer, hint):
    fb = ch13.check_rows(answer)
    assert not fb.passed and hint in fb.message, fb.message
