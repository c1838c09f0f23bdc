"""Chapter 12 checkers pass the solutions and give the right hint on typical mistakes.

The previous-token checker is tested on a GPT wired by hand: positions are
points on a circle, head 1 of layer 0 turns each query back by one step
(a perfect previous-token head), head 0 looks at the current token, head 2
at the first token.
"""
import math

import pytest
import torch

from lesson_lib.exercises import ch12
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.tokenizers import CharTokenizer

T, SCALE = 16, 400.0
THETA = math.pi / (2 * T)  # no wrap-around inside the window


def _turn(angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]])


@torch.no_grad()
def _wired_gpt():
    """1 layer, 3 heads of width 4; x_t = (cos tθ, sin tθ, -cos tθ, -sin tθ, 0, ...)."""
    model = GPT(GPTConfig(vocab_size=10, block_size=T, n_layer=1, n_head=3, n_embd=12))
    for p in model.parameters():
        p.zero_()
    t = torch.arange(T) * THETA
    model.wpe.weight[:, 0], model.wpe.weight[:, 1] = t.cos(), t.sin()
    model.wpe.weight[:, 2], model.wpe.weight[:, 3] = -t.cos(), -t.sin()
    block = model.blocks[0]
    block.ln_1.weight.fill_(1.0)
    model.ln_f.weight.fill_(1.0)
    attn = block.attn
    # LayerNorm keeps the circle (mean 0, constant norm); keys copy it into every head
    for h in range(3):
        attn.k_proj.weight[4 * h:4 * h + 2, 0:2] = torch.eye(2)
    attn.q_proj.weight[0:2, 0:2] = SCALE * torch.eye(2)  # head 0: the current position
    attn.q_proj.weight[4:6, 0:2] = SCALE * _turn(-THETA)  # head 1: one step back
    attn.q_proj.bias[8] = attn.k_proj.bias[8] = 1.0  # head 2: a constant score, then
    attn.k_proj.weight[8, 0:2] = SCALE * torch.tensor([1.0, 0.0])  # key 0 (cos 0 = 1) wins
    return model


@pytest.fixture(scope="module")
def wired():
    return _wired_gpt(), CharTokenizer.from_text("abcdefghij"), "abcdefghijabcdef"


def test_wired_model_has_the_heads_it_claims(wired):
    model, tok, text = wired
    scores = ch12.previous_token_scores(model, tok, text)
    assert scores.shape == (1, 3)
    assert scores[0, 1] > 0.95 and scores[0, 0] < 0.2


def test_previous_token_head_solution_passes(wired):
    model, tok, text = wired
    scores = ch12.previous_token_scores(model, tok, text)
    best = divmod(int(scores.argmax()), scores.shape[1])
    result = ch12.check_previous_token_head(model, tok, best, text=text)
    assert result and "(0, 1)" in result.message


@pytest.mark.parametrize("answer, hint", [
    (None, "two ints (layer, head)"),
    ((1, 1), "this model has 1 layers of 3 heads"),
    ((0, 0), "current token itself"),
    ((0, 2), "first token"),
])
def test_previous_token_head_hints(wired, answer, hint):
    model, tok, text = wired
    result = ch12.check_previous_token_head(model, tok, answer, text=text)
    assert result is not None and not result.passed
    assert hint in result.message


def test_previous_token_checker_on_the_corpus_passage():
    torch.manual_seed(0)
    from lesson_lib.data import load_corpus

    tok = CharTokenizer.from_text(load_corpus())
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2,
                          n_embd=16))
    scores = ch12.previous_token_scores(model, tok)  # untrained: close to uniform
    uniform = (1.0 / torch.arange(2, 65, dtype=torch.float64)).mean()
    assert abs(float(scores.mean()) - float(uniform)) < 0.03
    best = divmod(int(scores.argmax()), 2)
    result = ch12.check_previous_token_head(model, tok, best)
    assert result and "train it longer" in result.message


def _solution(k, i, d_model, base=10000.0):
    theta = torch.tensor(k * base ** (-2 * i / d_model), dtype=torch.float64)
    return torch.stack([torch.stack([theta.cos(), theta.sin()]),
                        torch.stack([-theta.sin(), theta.cos()])])


def test_rotation_solution_passes():
    assert ch12.check_rotation(_solution)
    from lesson_lib.viz import pe_rotation  # the library agrees on a block

    torch.testing.assert_close(pe_rotation(3, 8, 100.0)[2:4, 2:4].double(),
                               _solution(3, 1, 8, 100.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("wrong, hint", [
    (lambda k, i, d, b=1e4: _solution(k, i, d, b).T, "turns the wrong way"),
    (lambda k, i, d, b=1e4: _solution(k, i / 2, d, b), "not base^(-i/d_model)"),
    (lambda k, i, d, b=1e4: _solution(k, 0, d, b), "you turned by k radians"),
    (lambda k, i, d, b=1e4: _solution(k + 1, i, d, b), "R @ PE[p, 2i:2i+2] should equal"),
    (lambda k, i, d, b=1e4: torch.eye(3), "shape (3, 3), expected (2, 2)"),
    (lambda k, i, d, b=1e4: 1 / 0, "ZeroDivisionError"),
])
def test_rotation_hints(wrong, hint):
    result = ch12.check_rotation(wrong)
    assert result is not None and not result.passed
    assert hint in result.message
