"""The chapter 04 checkers pass the solutions and name the usual mistakes."""
import pytest
import torch

from lesson_lib.exercises import ch04
from lesson_lib.layers import EncoderLayer


# ------------------------------------------------------------------ exercise 1
def _add_and_norm(x, sublayer, norm, norm_first):
    return x + sublayer(norm(x)) if norm_first else norm(x + sublayer(x))


def test_add_and_norm_passes_solution():
    fb = ch04.check_add_and_norm(_add_and_norm)
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong, words", [
    (lambda x, s, n, nf: n(x + s(x)), "post-norm result"),
    (lambda x, s, n, nf: x + n(s(x)) if nf else n(x + s(x)), "normalises its input"),
    (lambda x, s, n, nf: n(x + s(n(x))) if nf else n(x + s(x)), "leaves the sum alone"),
    (lambda x, s, n, nf: n(x) + s(n(x)) if nf else n(x + s(x)), "original x"),
    (lambda x, s, n, nf: n(s(x)), "residual is missing"),
    (lambda x, s, n, nf: x + s(x), "norm is missing"),
    (lambda x, s, n, nf: x + s(n(x)), "pre-norm result"),
    (lambda x, s, n, nf: None, "None"),
])
def test_add_and_norm_hints(wrong, words):
    fb = ch04.check_add_and_norm(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 2
def _params(d, h, f):
    return 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d


def test_encoder_params_passes_solution_and_matches_the_layer():
    assert ch04.check_encoder_params(_params).passed
    for d, h, f in ((8, 2, 16), (64, 4, 256)):
        assert _params(d, h, f) == sum(p.numel() for p in EncoderLayer(d, h, f).parameters())


def test_encoder_params_accepts_a_one_element_tensor():
    assert ch04.check_encoder_params(lambda d, h, f: torch.tensor(_params(d, h, f))).passed


@pytest.mark.parametrize("wrong, words", [
    (lambda d, h, f: 4 * d * d + 2 * d * f, "weight matrices only"),
    (lambda d, h, f: _params(d, h, f) - 4 * d, "LayerNorms are missing"),
    (lambda d, h, f: _params(d, h, f) - 2 * d, "you counted one"),
    (lambda d, h, f: _params(d, h, f) - d * d - d, "you counted three"),
    (lambda d, h, f: _params(d, h, f) + (h - 1) * (4 * d * d + 4 * d), "heads does not change"),
    (lambda d, h, f: _params(d, h, f) + 1, "+1"),
    (lambda d, h, f: 2.5, "whole number"),
    (lambda d, h, f: None, "None"),
])
def test_encoder_params_hints(wrong, words):
    fb = ch04.check_encoder_params(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 3
def _stack(layers, tgt, encoder_outputs, tgt_mask):
    x = tgt
    for layer in layers:
        x, _, _ = layer(x, encoder_outputs[-1], tgt_mask)
    return x


def test_decoder_stack_passes_solution():
    fb = ch04.check_decoder_stack(_stack)
    assert fb.passed, fb.message


def _paired(layers, tgt, enc, mask):
    x = tgt
    for layer, memory in zip(layers, enc):
        x, _, _ = layer(x, memory, mask)
    return x


def _unchained(layers, tgt, enc, mask):
    for layer in layers:
        x, _, _ = layer(tgt, enc[-1], mask)
    return x


def _skip_first(layers, tgt, enc, mask):
    first, memory = layers[0], enc[-1]
    x = first.norm2(tgt + first.cross_attn(tgt, memory, memory)[0])
    x = first.norm3(x + first.ffn(x))
    for layer in layers[1:]:
        x, _, _ = layer(x, memory, mask)
    return x


@pytest.mark.parametrize("wrong, words", [
    (_paired, "paired decoder layer l with encoder layer l"),
    (lambda layers, tgt, enc, mask: _stack(layers, tgt, enc[:1], mask), "first encoder layer"),
    (_unchained, "chain them"),
    (lambda layers, tgt, enc, mask: _stack(layers, tgt, enc, None), "causal mask is missing"),
    (lambda layers, tgt, enc, mask: _stack(layers, tgt, enc, ~mask), "inverted"),
    (_skip_first, "does not compute 0"),
    (lambda layers, tgt, enc, mask: layers[0](tgt, enc[-1], mask), "tuple"),
    (lambda layers, tgt, enc, mask: None, "None"),
])
def test_decoder_stack_hints(wrong, words):
    fb = ch04.check_decoder_stack(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


def test_paired_layers_hint_does_not_paste_the_index():
    fb = ch04.check_decoder_stack(_paired)
    assert not fb.passed and "encoder_outputs[-1]" not in fb.message, fb.message
