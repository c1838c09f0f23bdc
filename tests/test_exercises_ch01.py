"""Chapter 01 checkers: the solutions pass, the typical mistakes get the right hint."""
import math

import pytest
import torch

from lesson_lib.exercises import ch01


def solution_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)  # an all-masked row: zeros, not NaN
    return weights @ v, weights


def _variant(scale=True, dim=-1, transpose=True, mask_mode="keep"):
    def fn(q, k, v, mask=None):
        kt = k.transpose(-2, -1) if transpose else k
        scores = q @ kt
        if scale:
            scores = scores / math.sqrt(q.shape[-1])
        if mask is not None and mask_mode == "keep":
            scores = scores.masked_fill(~mask, float("-inf"))
        if mask is not None and mask_mode == "inverted":
            scores = scores.masked_fill(mask, float("-inf"))
        weights = torch.softmax(scores, dim=dim)
        return weights @ v, weights
    return fn


def test_dot_variance_solution_passes():
    fb = ch01.check_dot_variance(1024, 4)
    assert fb.passed and "1024" in fb.message


@pytest.mark.parametrize("answer,hint", [
    ((None, None), "None"),
    ((256, 1), "variance 4"),
    ((32, 4), "standard deviation"),
    ((4, 4), "one product"),
    ((1024, 1), "only when q and k have unit-variance"),
    ((1024, 64), "a²"),
    (("big", 4), "finite number"),
])
def test_dot_variance_hints(answer, hint):
    fb = ch01.check_dot_variance(*answer)
    assert not fb.passed and hint in fb.message, fb.message


def test_attention_solution_passes():
    fb = ch01.check_attention(solution_attention)
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong,hint", [
    (_variant(scale=False), "sqrt(d_k)"),
    (_variant(dim=-2), "wrong axis"),
    (_variant(transpose=False), "transpose K"),
    (_variant(mask_mode="ignore"), "mask is ignored"),
    (_variant(mask_mode="inverted"), "mask is inverted"),
    (lambda q, k, v, mask=None: solution_attention(q, k, v, mask)[0], "pair"),
    (lambda q, k, v, mask=None: 1 / 0, "ZeroDivisionError"),
])
def test_attention_hints(wrong, hint):
    fb = ch01.check_attention(wrong)
    assert not fb.passed and hint in fb.message, fb.message


def test_causal_mask_solution_passes():
    fb = ch01.check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril())
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong,hint", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "upper triangle"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(1), "swapped"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "diagonal"),
    (lambda T: torch.ones(T, T).tril(), "dtype"),
    (lambda T: torch.ones(T, T + 1, dtype=torch.bool).tril(), "shape"),
    (lambda T: None, "torch.Tensor"),
])
def test_causal_mask_hints(wrong, hint):
    fb = ch01.check_causal_mask(wrong)
    assert not fb.passed and hint in fb.message, fb.message


def test_attention_naive_mask_gets_the_nan_hint():
    fb = ch01.check_attention(_variant())  # scaled and masked, but NaN on an empty row
    assert not fb.passed and "NaN" in fb.message and "after the softmax" in fb.message
    assert "masked_fill" not in fb.message  # the hint points at the idea, not the code


def test_attention_nan_to_num_also_passes():
    def fn(q, k, v, mask=None):
        out, w = _variant()(q, k, v, mask)
        w = torch.nan_to_num(w)
        return w @ v, w
    assert ch01.check_attention(fn).passed
