"""Chapter 09 checkers: the solutions pass, the usual mistakes get the right hint."""
import pytest

from lesson_lib.exercises import ch09
from lesson_lib.zeroshot import words_of


def leaks_solution(text, heldout):
    return set(words_of(text)) & set(heldout)


def params_solution(V, T, L, C):
    attn = 4 * (C * C + C)  # q, k, v and out projections with biases
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # fc1 and fc2 with biases
    norms = 2 * 2 * C  # ln_1 and ln_2
    return V * C + T * C + L * (attn + mlp + norms) + 2 * C  # + final ln_f


def test_leak_solution_passes():
    fb = ch09.check_leak_finder(leaks_solution)
    assert fb.passed and "memorised" in fb.message


@pytest.mark.parametrize("wrong,hint", [
    (lambda t, h: {w for w in h if w in t.lower()}, "inside longer words"),
    (lambda t, h: {w for w in h if w in t}, "capitals"),
    (lambda t, h: set(t.split()) & set(h), "punctuation"),
    (lambda t, h: None, "returned None"),
    (lambda t, h: 3, "set of words"),
    (None, "pass your function"),
])
def test_leak_mistakes_get_hints(wrong, hint):
    fb = ch09.check_leak_finder(wrong)
    assert not fb.passed and hint in fb.message


def test_param_count_solution_passes():
    fb = ch09.check_param_count(params_solution)
    assert fb.passed and "124,439,808" in fb.message
    assert ch09.gpt2_reference_params(50257, 1024, 12, 768) == 124_439_808  # GPT-2 small


@pytest.mark.parametrize("wrong,hint", [
    (lambda V, T, L, C: params_solution(V, T, L, C) + V * C, "ties it to the token embedding"),
    (lambda V, T, L, C: params_solution(V, T, L, C) - 2 * C, "final LayerNorm"),
    (lambda V, T, L, C: params_solution(V, T, L, C) - 4 * L * C, "two LayerNorms per block"),
    (lambda V, T, L, C: params_solution(V, T, L, C) - T * C, "position table"),
    (lambda V, T, L, C: params_solution(V, T, L, C) - V * C - T * C, "non-embedding"),
    (lambda V, T, L, C: 12 * L * C * C, "off by"),
    (lambda V, T, L, C: None, "returned None"),
    (lambda V, T, L, C: 1 / 0, "ZeroDivisionError"),
])
def test_param_count_mistakes_get_hints(wrong, hint):
    fb = ch09.check_param_count(wrong)
    assert not fb.passed and hint in fb.message
