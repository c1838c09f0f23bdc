import math

import pytest
import torch

from lesson_lib.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)


def test_formula_elementwise():
    max_len, d, base = 12, 10, 10000.0
    pe = sinusoidal_encoding(max_len, d, base)
    assert pe.shape == (max_len, d)
    for p in range(max_len):
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_worked_example_and_base():
    pe = sinusoidal_encoding(2, 2)
    torch.testing.assert_close(pe, torch.tensor([[0.0, 1.0], [math.sin(1), math.cos(1)]]))
    pe_small = sinusoidal_encoding(5, 4, base=100.0)
    assert pe_small[3, 2].item() == pytest.approx(math.sin(3 / 100 ** 0.5), abs=1e-6)


def test_relative_offset_is_a_rotation():
    pe = sinusoidal_encoding(50, 16).double()
    k = 7
    for i in range(8):
        w = 1 / 10000 ** (2 * i / 16)
        rot = torch.tensor([[math.cos(k * w), -math.sin(k * w)],
                            [math.sin(k * w), math.cos(k * w)]], dtype=torch.float64)
        pair = pe[:, 2 * i:2 * i + 2]  # (P, 2) rows are [sin, cos]
        torch.testing.assert_close(pair[:-k] @ rot, pair[k:], atol=1e-6, rtol=0)


def test_modules_add_positions():
    x = torch.zeros(2, 5, 8)
    torch.testing.assert_close(SinusoidalPositionalEncoding(8, 10)(x)[0], sinusoidal_encoding(5, 8))
    learned = LearnedPositionalEmbedding(10, 8)
    torch.testing.assert_close(learned(x)[1], learned.weight[:5])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: sinusoidal_encoding(10, 7), ValueError, r"even.*7"),
    (lambda: sinusoidal_encoding(0, 8), ValueError, r"max_len.*0"),
    (lambda: sinusoidal_encoding(4, 8, base=-1), ValueError, r"base.*-1"),
    (lambda: sinusoidal_encoding(4.5, 8), TypeError, r"max_len.*float"),
    (lambda: SinusoidalPositionalEncoding(8, 4)(torch.zeros(1, 6, 8)), ValueError,
     r"T=6 exceeds max_len=4"),
    (lambda: LearnedPositionalEmbedding(4, 8)(torch.zeros(6, 8)), ValueError,
     r"\(B, T, C=8\).*\(6, 8\)"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
