"""lesson_lib.timing: best_of and interleaved, with and without a sync hook."""
import pytest

from lesson_lib.timing import best_of, interleaved


def test_best_of_calls_sync_around_every_run():
    calls = []
    t = best_of(lambda: calls.append("fn"), repeats=2, sync=lambda: calls.append("sync"))
    assert t >= 0
    assert calls == ["sync", "fn", "sync"] * 2


def test_interleaved_runs_a_b_b_a_and_ratios_per_round():
    order = []
    t = interleaved(lambda: order.append("a"), lambda: order.append("b"), rounds=3)
    assert order == ["a", "b", "b", "a"] * 3
    assert len(t["a"]) == len(t["b"]) == 6
    assert len(t["round_ratios"]) == 3
    first = (t["a"][0] + t["a"][1]) / (t["b"][0] + t["b"][1])
    assert t["round_ratios"][0] == pytest.approx(first)


def test_interleaved_rejects_zero_rounds():
    with pytest.raises(ValueError):
        interleaved(lambda: None, lambda: None, rounds=0)
