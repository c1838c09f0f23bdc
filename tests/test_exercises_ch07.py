"""Chapter 07 checkers: the solutions pass, the typical mistakes get the right hint."""
import pytest
import torch
import torch.nn.functional as F

from lesson_lib.exercises import ch07
from lesson_lib.gpt import GPT, GPTConfig


# ------------------------------------------------------------------ exercise 1
def log_likelihood_solution(logits, ids):
    logp = logits.log_softmax(-1)  # (T, V)
    return logp[:-1].gather(1, ids[1:, None]).sum()


def test_log_likelihood_solution_passes():
    fb = ch07.check_log_likelihood(log_likelihood_solution)
    assert fb.passed, fb.message


def test_log_likelihood_solution_equals_minus_n_times_the_model_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=1, n_head=2, n_embd=8))
    ids = torch.randint(13, (16,))
    logits, loss = model(ids[None, :-1], ids[None, 1:])
    l1 = log_likelihood_solution(model(ids[None])[0][0], ids)
    torch.testing.assert_close(l1, -15 * loss)
    torch.testing.assert_close(-l1 / 15, F.cross_entropy(logits[0], ids[1:]))


@pytest.mark.parametrize("wrong, words", [
    (lambda lg, ids: -log_likelihood_solution(lg, ids), "sign is flipped"),
    (lambda lg, ids: log_likelihood_solution(lg, ids) / (len(ids) - 1), "that is the mean"),
    (lambda lg, ids: F.cross_entropy(lg[:-1], ids[1:]), "model's loss"),
    (lambda lg, ids: lg.log_softmax(-1).gather(1, ids[:, None]).sum(), "no shift"),
    (lambda lg, ids: lg.log_softmax(-1)[1:].gather(1, ids[:-1, None]).sum(), "wrong way"),
    (lambda lg, ids: lg[:-1].gather(1, ids[1:, None]).sum(), "raw logits"),
    (lambda lg, ids: lg.softmax(-1)[:-1].gather(1, ids[1:, None]).sum(), "summed probabilities"),
    (lambda lg, ids: lg.log_softmax(0)[:-1].gather(1, ids[1:, None]).sum(), "wrong axis"),
    (lambda lg, ids: lg.log_softmax(-1)[:-1].gather(1, ids[1:, None]), "one number"),
    (lambda lg, ids: None, "None"),
    (lambda lg, ids: 1.0, "expected"),
])
def test_log_likelihood_hints(wrong, words):
    fb = ch07.check_log_likelihood(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 2
def top_k_solution(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def test_top_k_solution_passes():
    fb = ch07.check_top_k(top_k_solution)
    assert fb.passed, fb.message


def _smallest(logits, k):
    kth = torch.topk(logits, k, dim=-1, largest=False).values[..., -1:]
    return logits.masked_fill(logits > kth, float("-inf"))


def _zeros(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


def _one_too_few(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))


def _flat(logits, k):
    kth = torch.topk(logits.flatten(), k).values[-1]
    return logits.masked_fill(logits < kth, float("-inf"))


def _in_place(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill_(logits < kth, float("-inf"))


@pytest.mark.parametrize("wrong, words", [
    (_smallest, "k smallest"),
    (_zeros, "set them to float('-inf')"),
    (_one_too_few, "not 1"),
    (_flat, "each row on its own"),
    (_in_place, "in place"),
    (lambda lg, k: top_k_solution(lg, k).softmax(-1), "probabilities"),
    (lambda lg, k: top_k_solution(lg, k)[0], "input's shape"),
    (lambda lg, k: None, "None"),
])
def test_top_k_hints(wrong, words):
    fb = ch07.check_top_k(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 3
def kv_positions_solution(prompt_len, n_new, use_cache):
    if n_new == 0:
        return 0
    if use_cache:
        return prompt_len + n_new - 1
    return n_new * prompt_len + n_new * (n_new - 1) // 2


def test_kv_positions_solution_passes():
    fb = ch07.check_kv_positions(kv_positions_solution)
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong, words", [
    (lambda P, n, c: P + n if c else kv_positions_solution(P, n, c), "never fed back"),
    (lambda P, n, c: n if c else kv_positions_solution(P, n, c), "prompt itself runs"),
    (lambda P, n, c: kv_positions_solution(P, n, not c), "other setting"),
    (lambda P, n, c: kv_positions_solution(P, n, c) if c else n * P, "re-reads"),
    (lambda P, n, c: kv_positions_solution(P, n, c) if c else n * P + n * (n + 1) // 2,
     "one step too many"),
    (lambda P, n, c: None, "None"),
    (lambda P, n, c: 2.5, "whole number"),
])
def test_kv_positions_hints(wrong, words):
    fb = ch07.check_kv_positions(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message
