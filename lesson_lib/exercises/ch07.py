"""Chapter 07 checkers: GPT-1's objective L1 by hand, top-k filtering, the KV cache's work.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.gpt`` (the model's own loss, ``top_k_filter``, and positions
counted by a hook while ``GPT.generate`` runs) and, on a mismatch, tries
the usual mistakes (no shift, the mean instead of the sum, the wrong sign,
raw logits or probabilities instead of log-probabilities; the k smallest
kept, zeros instead of -inf, one token too many; the prompt counted once
per step, the last token fed back) to name the one that was made.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from lesson_lib.gpt import GPT, GPTConfig, top_k_filter

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_log_likelihood", "check_top_k", "check_kv_positions"]


def _number(x, what: str):
    """``x`` as a float, or a failed Feedback saying what was wrong with it."""
    if x is None:
        return failed(f"{what} is None: return a number (a 0-d tensor or a float)")
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            return failed(f"{what} should be one number, got a tensor of shape "
                          f"{tuple(x.shape)}: sum over the positions")
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return failed(f"{what} should be a number, got {type(x).__name__}")
    return float(x)


# ------------------------------------------------------------------ exercise 1
@checker
def check_log_likelihood(fn) -> Feedback:
    """Exercise 1: ``fn(logits (T, V), ids (T,)) -> L1``, GPT-1's objective for one sequence.

    ``logits[t]`` is the model's guess for the token after ``ids[t]``, so
    ``L1 = sum_t log softmax(logits[t])[ids[t + 1]]`` over ``t = 0 .. T-2``.
    """
    g = torch.Generator().manual_seed(7)
    T, V = 12, 20
    logits = 2 * torch.randn(T, V, generator=g)  # (T, V)
    ids = torch.randint(V, (T,), generator=g)  # (T,)
    logp = logits.log_softmax(-1)  # (T, V)
    want = logp[:-1].gather(1, ids[1:, None]).sum()  # sum over T-1 predictions
    got = _number(fn(logits.clone(), ids.clone()), "L1")
    if not isinstance(got, float):
        return got
    if abs(got - want.item()) <= 1e-4 * max(1.0, abs(want.item())):
        loss = F.cross_entropy(logits[:-1], ids[1:])
        return passed(f"L1 = {want.item():.3f} for {T - 1} predictions; the model's loss "
                      f"is -L1 / {T - 1} = {loss.item():.4f}, the mean negative log-likelihood.")
    n = T - 1
    wrong = [
        (-want, "the sign is flipped: L1 is a sum of log-probabilities, so it is negative; "
                "the loss is its negative"),
        (want / n, "that is the mean; GPT-1's L1 is the sum over positions (the loss is "
                   "-L1 / n)"),
        (-want / n, "that is the model's loss -L1 / n; L1 itself is the sum of "
                    "log-probabilities, negative and n times larger"),
        (logp.gather(1, ids[:, None]).sum(), "no shift: logits[t] predicts the *next* token, "
                                             "so pair logits[:-1] with ids[1:]"),
        (logp[1:].gather(1, ids[:-1, None]).sum(), "shifted the wrong way: logits[t] predicts "
                                                   "ids[t + 1], so pair logits[:-1] with ids[1:]"),
        (logits[:-1].gather(1, ids[1:, None]).sum(), "those are raw logits; normalise first "
                                                     "with log_softmax over the vocabulary"),
        (logits.softmax(-1)[:-1].gather(1, ids[1:, None]).sum(),
         "you summed probabilities; L1 sums their logarithms (log_softmax)"),
        (logits.log_softmax(0)[:-1].gather(1, ids[1:, None]).sum(),
         "log_softmax over the wrong axis: normalise over the vocabulary, dim=-1"),
    ]
    for value, hint in wrong:
        if abs(got - value.item()) <= 1e-4 * max(1.0, abs(value.item())):
            return failed(f"you returned {got:.4f}, expected {want.item():.4f}: {hint}")
    return failed(f"you returned {got:.4f}, expected {want.item():.4f}: take "
                  "logits.log_softmax(-1), keep rows 0..T-2, pick column ids[t + 1] from "
                  "row t (gather), and sum")


# ------------------------------------------------------------------ exercise 2
@checker
def check_top_k(fn) -> Feedback:
    """Exercise 2: ``fn(logits (..., V), k) -> logits`` with all but the k largest of
    each row set to ``-inf``; the input is left unchanged."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 10, generator=g)  # (B, V), no ties
    for k in (1, 3, 10):
        before = logits.clone()
        got = fn(logits, k)
        if got is None:
            return failed("your function returned None: return the filtered logits")
        if not torch.equal(logits, before):
            return failed("your function changed the logits in place; return a new tensor "
                          "(masked_fill, not masked_fill_)")
        want = top_k_filter(before, k)  # (B, V)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return failed(f"return a tensor of the input's shape {tuple(want.shape)}, "
                          f"got {shape}")
        kept, kept_want = torch.isfinite(got), torch.isfinite(want)
        if torch.equal(kept, kept_want) and torch.equal(got[kept], want[kept]):
            continue
        where = f"with k={k}"
        if torch.allclose(got, want.softmax(-1)):
            return failed(f"{where} you returned probabilities; return logits (softmax "
                          "comes later, in filter_logits)")
        n_kept = kept.sum(-1)  # (B,)
        if (got == 0).sum() > 0 and not (~kept).any():
            return failed(f"{where} the dropped logits are 0, which still has probability "
                          "e^0 after softmax; set them to float('-inf')")
        if torch.equal(kept, torch.isfinite(top_k_filter(-before, k))):
            return failed(f"{where} you kept the k smallest logits; keep the k largest "
                          "(torch.topk returns the largest by default)")
        if (n_kept == k + 1).all() or (n_kept == k - 1).all():
            return failed(f"{where} you kept {int(n_kept[0])} tokens per row, not {k}: "
                          "compare with the k-th largest value using <, not <=")
        if int(kept.sum()) == k:
            return failed(f"{where} only {k} tokens survive in the whole batch: filter each "
                          "row on its own, along the last axis (dim=-1)")
        bad = compare(got.masked_fill(~kept, 0), want.masked_fill(~kept_want, 0),
                      f"the filtered logits {where}")
        return bad if bad is not None else failed(
            f"{where} the surviving logits should keep their values; only the rest become -inf")
    return passed("top-k keeps the k most likely tokens of each row and gives the rest "
                  "probability 0 after softmax.")


# ------------------------------------------------------------------ exercise 3
def _count_positions(prompt_len: int, n_new: int, use_cache: bool) -> int:
    """Positions that pass through a tiny GPT while ``generate`` makes ``n_new`` tokens."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=11, block_size=64, n_layer=1, n_head=1, n_embd=8))
    seen = []
    hook = model.wte.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    try:
        model.generate(torch.zeros(1, prompt_len, dtype=torch.long), n_new, temperature=0,
                       use_cache=use_cache)
    finally:
        hook.remove()
    return sum(seen)


@checker
def check_kv_positions(fn) -> Feedback:
    """Exercise 3: ``fn(prompt_len, n_new, use_cache) -> int``, how many token positions
    the model processes while ``generate`` makes ``n_new`` tokens (within ``block_size``)."""
    for P, n in ((10, 5), (1, 1), (20, 30), (3, 0)):
        for use_cache in (False, True):
            want = _count_positions(P, n, use_cache)
            got = fn(P, n, use_cache)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if got is None:
                return failed("your function returned None: return an int")
            if isinstance(got, bool) or not isinstance(got, numbers.Real) or got != int(got):
                return failed(f"return a whole number of positions, got {got!r}")
            if got == want:
                continue
            case = f"prompt_len={P}, n_new={n}, use_cache={use_cache}: you said {got}, " \
                   f"the model processed {want}"
            other = _count_positions(P, n, not use_cache)
            if got == other and n > 1:
                hint = "that is the count for the other setting of use_cache"
            elif use_cache and n >= 1 and got == P + n:
                hint = ("the last new token is appended but never fed back: the prompt runs "
                        "once (P positions), then each of the other n - 1 steps feeds 1")
            elif use_cache and n >= 1 and got == n:
                hint = "the prompt itself runs through the model once, at the first step"
            elif not use_cache and got == n * P:
                hint = "without a cache step s re-reads the prompt and the s tokens made so far"
            elif not use_cache and got == n * P + n * (n + 1) // 2:
                hint = ("one step too many in the sum: step s (s = 0 .. n-1) reads P + s "
                        "positions, so the sum is n·P + n(n-1)/2")
            elif n == 0:
                hint = "with n_new = 0 the model never runs"
            else:
                hint = ("without a cache step s (0 .. n-1) reads all P + s positions; with "
                        "one, step 0 reads the P prompt positions and every later step 1")
            return failed(f"{case}. {hint}")
    return passed("without a cache: n·P + n(n-1)/2 positions, quadratic in the length; with "
                  "one: P + n - 1, linear. The cache trades memory (keys and values of "
                  "every layer) for that work.")
