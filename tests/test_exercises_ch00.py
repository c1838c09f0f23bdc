"""Chapter 00 checker: the stable softmax passes; each usual slip gets its own hint."""
import pytest
import torch

from lesson_lib.exercises import ch00


def stable_softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values  # (..., T) largest entry becomes 0
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


def test_solution_passes():
    fb = ch00.check_softmax(stable_softmax)
    assert fb.passed, fb.message


def test_library_softmax_passes():
    assert ch00.check_softmax(lambda x: torch.softmax(x, dim=-1)).passed


def _global_max(x):  # one shift for the whole tensor, not one per row
    e = (x - x.max()).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _clamped(x):  # finite for large inputs, but no longer softmax
    e = x.clamp(max=50).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _scaled(x):  # dividing by the maximum instead of subtracting it
    e = (x / x.abs().max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)


@pytest.mark.parametrize("wrong, words", [
    (lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True), "overflowed"),  # the first try
    (lambda x: x.exp() / x.exp().sum(dim=0, keepdim=True), "dim=-1"),       # columns, not rows
    (lambda x: x.exp(), "differs from the reference"),                       # never normalised
    (lambda x: None, "torch.Tensor"),
    (lambda x: x[:, :2].softmax(-1), "shape"),
    (lambda x: x.no_such_method(), "raised AttributeError"),
    (_clamped, "finite, but wrong"),
    (_global_max, "maximum of the whole tensor"),
])
def test_wrong_answers_get_their_hint(wrong, words):
    fb = ch00.check_softmax(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


def test_scaling_instead_of_shifting_is_rejected():
    assert not ch00.check_softmax(_scaled).passed


def test_first_hint_points_at_the_idea_not_the_code():
    fb = ch00.check_softmax(lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True))
    assert "maximum" not in fb.message and "x.max" not in fb.message, fb.message


def test_feedback_shows_a_mark():
    assert repr(ch00.check_softmax(stable_softmax)).startswith("✅")
    assert repr(ch00.check_softmax(lambda x: x.exp())).startswith("❌")
