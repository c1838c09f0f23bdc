"""The chapter 03 checkers pass the solutions and name the usual mistakes."""
import math

import pytest
import torch

from lesson_lib.exercises import ch03
from lesson_lib.positional import sinusoidal_encoding


# ------------------------------------------------------------------ exercise 1
def test_unshuffle_passes_inverse_permutation():
    fb = ch03.check_unshuffle(lambda y, perm: y[:, perm.argsort()])
    assert fb.passed, fb.message


def test_unshuffle_scatter_form_also_passes():
    def scatter(y, perm):
        out = torch.empty_like(y)
        out[:, perm] = y
        return out

    assert ch03.check_unshuffle(scatter).passed


@pytest.mark.parametrize("wrong, words", [
    (lambda y, perm: y[:, perm], "second time"),
    (lambda y, perm: y, "unchanged"),
    (lambda y, perm: None, "None"),
])
def test_unshuffle_hints(wrong, words):
    fb = ch03.check_unshuffle(wrong)
    assert not fb.passed
    assert words in fb.message


def test_unshuffle_wrong_axis_reports_the_error_not_a_traceback():
    fb = ch03.check_unshuffle(lambda y, perm: y[perm.argsort()])
    assert not fb.passed
    assert "IndexError" in fb.message


def test_unshuffle_keeps_the_global_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ch03.check_unshuffle(lambda y, perm: y[:, perm.argsort()])
    torch.testing.assert_close(torch.rand(3), expected)


# ------------------------------------------------------------------ exercise 2
def _solution(max_len, d_model):
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = p / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def test_sinusoidal_passes_solution_and_library():
    assert ch03.check_sinusoidal(_solution).passed
    assert ch03.check_sinusoidal(sinusoidal_encoding).passed


def _concatenated(max_len, d_model):
    p = torch.arange(max_len).float()[:, None]
    rate = 10000 ** (-torch.arange(0, d_model, 2).float() / d_model)
    return torch.cat([torch.sin(p * rate), torch.cos(p * rate)], dim=-1)


def _swapped(max_len, d_model):
    return _solution(max_len, d_model).view(max_len, -1, 2).flip(-1).reshape(max_len, d_model)


def _i_over_d(max_len, d_model):
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = p / 10000 ** (torch.arange(d_model // 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _j_over_d(max_len, d_model):
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = p / 10000 ** (torch.arange(d_model, dtype=torch.float64) / d_model)
    pe = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, 1::2])
    return pe


@pytest.mark.parametrize("wrong, words", [
    (_concatenated, "interleaves"),
    (_swapped, "swapped"),
    (_i_over_d, "2i/d"),
    (_j_over_d, "own frequency"),
    (lambda T, d: _solution(T + 1, d)[1:], "start at 1"),
    (lambda T, d: _solution(T, d).T, "rows are positions"),
    (lambda T, d: None, "None"),
])
def test_sinusoidal_hints(wrong, words):
    fb = ch03.check_sinusoidal(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


def test_sinusoidal_unknown_mistake_reports_the_size_of_the_error():
    fb = ch03.check_sinusoidal(lambda T, d: _solution(T, d) * 1.1)
    assert not fb.passed
    assert "differs from the reference" in fb.message


# ------------------------------------------------------------------ exercise 3
def _rotation(k, i, d_model, transpose=False, angle=None):
    b = k / 10000 ** (2 * i / d_model) if angle is None else angle
    R = torch.tensor([[math.cos(b), math.sin(b)], [-math.sin(b), math.cos(b)]])
    return R.T if transpose else R


def test_rotation_passes_solution():
    fb = ch03.check_rotation(_rotation)
    assert fb.passed, fb.message


def test_rotation_solution_really_moves_the_table():
    pe = sinusoidal_encoding(40, 16).double()
    R = _rotation(6, 3, 16).double()
    torch.testing.assert_close(pe[:-6, 6:8] @ R.T, pe[6:, 6:8])


@pytest.mark.parametrize("wrong, words", [
    (lambda k, i, d: _rotation(k, i, d, transpose=True), "wrong way"),
    (lambda k, i, d: _rotation(k, i, d, angle=k), "k radians"),
    (lambda k, i, d: _rotation(k, i, d, angle=k / 10000 ** (i / d)), "10000^(i/d)"),
    (lambda k, i, d: torch.eye(3), "(2, 2)"),
    (lambda k, i, d: [[1, 0], [0, 1]], "torch.Tensor"),
    (lambda k, i, d: torch.eye(2), "differs from PE[p+"),
])
def test_rotation_hints(wrong, words):
    fb = ch03.check_rotation(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


def test_first_try_hints_do_not_paste_the_answer():
    assert "argsort" not in ch03.check_unshuffle(lambda y, perm: y[:, perm]).message
    assert "0::2" not in ch03.check_sinusoidal(_concatenated).message
    wrong_way = ch03.check_rotation(lambda k, i, d: _rotation(k, i, d, transpose=True)).message
    assert "[[cos b, sin b]" not in wrong_way and "-sin b" not in wrong_way, wrong_way
