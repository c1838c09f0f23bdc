"""Chapter 02 checkers: splitting into heads, counting parameters, matching PyTorch.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.attention.MultiHeadAttention`` (or ``nn.MultiheadAttention``)
and, on a mismatch, recognises the usual mistakes: a view without a
transpose, heads made of strided features, a count that grows with the
number of heads, weights stacked in the wrong order, biases left behind.
"""
from __future__ import annotations

import torch
from torch import nn

from lesson_lib.attention import MultiHeadAttention, causal_mask

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_split_merge", "check_param_count", "check_copy_to_torch"]


def _split(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, H, T, D)


def _is(got, want) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want)


@checker
def check_split_merge(split_heads, merge_heads) -> Feedback:
    """Exercise 1: ``split_heads(x (B, T, C), n_heads) -> (B, H, T, D)`` where head h
    holds features ``h*D .. (h+1)*D - 1``, and ``merge_heads(x (B, H, T, D)) -> (B, T, C)``,
    its inverse."""
    g = torch.Generator().manual_seed(2)
    B, T, C, H = 2, 5, 12, 3
    D = C // H
    x = torch.randn(B, T, C, generator=g)  # (B, T, C)
    want = _split(x, H)  # (B, H, T, D)
    got = split_heads(x, H)
    if isinstance(got, torch.Tensor) and not _is(got, want):
        if got.shape == (B, T, H, D):
            return failed(f"split_heads gives shape {tuple(got.shape)} = (B, T, H, D): the "
                          "heads must come before time, (B, H, T, D); add .transpose(1, 2)")
        if _is(got, x.view(B, H, T, D)):
            return failed("split_heads views x straight to (B, H, T, D): that cuts the memory "
                          "of (B, T, C) in the wrong places and mixes tokens between heads. "
                          "In memory, each token's C features sit side by side: cut those into "
                          "H blocks first, then move the head axis in front of time")
        if _is(got, x.view(B, T, D, H).permute(0, 3, 1, 2)):
            return failed("your head h takes every H-th feature (h, h+H, ...); head h should own "
                          "the block of features h*D .. (h+1)*D - 1: view as (B, T, H, D), "
                          "not (B, T, D, H)")
    bad = compare(got, want, "split_heads(x, n_heads)", atol=0)
    if bad is not None:
        return bad
    heads = torch.randn(B, H, T, D, generator=g)  # (B, H, T, D)
    want = heads.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
    try:
        got = merge_heads(heads)
    except RuntimeError as exc:
        if "view" in str(exc):
            return failed("merge_heads: after .transpose(1, 2) the tensor is no longer "
                          "contiguous, so .view fails; use .reshape(B, T, C) or "
                          ".contiguous().view(B, T, C)")
        raise
    if isinstance(got, torch.Tensor) and not _is(got, want):
        if _is(got, heads.reshape(B, T, C)):
            return failed("merge_heads reshapes (B, H, T, D) straight to (B, T, C): bring time "
                          "back next to batch first with .transpose(1, 2), then reshape")
        if got.shape == (B, T, H, D):
            return failed(f"merge_heads gives shape {tuple(got.shape)}: after the transpose, "
                          "join the last two axes into one of size C = H·D")
    bad = compare(got, want, "merge_heads(x)", atol=0)
    if bad is not None:
        return bad
    if not torch.equal(merge_heads(split_heads(x, H)), x):
        return failed("merge_heads(split_heads(x, H)) should give back x exactly")
    return passed("split_heads and merge_heads are exact inverses, and head h owns "
                  "features h·D .. (h+1)·D − 1, as in lesson_lib.MultiHeadAttention.")


def _true_count(C: int, H: int, bias: bool) -> int:
    return sum(p.numel() for p in MultiHeadAttention(C, H, bias=bias).parameters())


@checker
def check_param_count(fn) -> Feedback:
    """Exercise 2: ``fn(C, H, bias=True)`` returns the number of parameters of
    ``MultiHeadAttention(C, H, bias=bias)``."""
    cases = [(64, 1, True), (64, 8, True), (512, 8, True), (48, 3, False), (48, 1, False)]
    answers = {}
    for C, H, bias in cases:
        got = fn(C, H, bias=bias)
        if got is None:
            return failed("your function returns None: return a number")
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return failed(f"fn({C}, {H}) should return a number, got {type(got).__name__}")
        answers[C, H, bias] = got
    for C, H, bias in cases:
        got, want = answers[C, H, bias], _true_count(C, H, bias)
        if got == want:
            continue
        where = f"for C={C}, H={H}, bias={bias} you say {got}, the layer has {want}"
        if got == H * want:
            return failed(f"{where}. Heads split the width C into H parts of C/H; they do not "
                          "multiply the parameters by H")
        same_c = [a for (c, h, b), a in answers.items() if c == C and b == bias]
        if len(set(same_c)) > 1:
            return failed(f"{where}. Your count changes with H, but splitting C into H heads "
                          "of width C/H only regroups the same four C×C matrices")
        if got in (3 * C * C + 3 * C, 3 * C * C) and got != want:
            return failed(f"{where}. Read MultiHead(Q, K, V) in §3.2.2 again: which matrix "
                          "after the concatenation did you leave out? (The output projection.)")
        if bias and got == 4 * C * C:
            return failed(f"{where}. You forgot the biases: each of the four nn.Linear(C, C) "
                          "has C of them")
        if not bias and got == 4 * C * C + 4 * C:
            return failed(f"{where}. With bias=False the four projections have no biases")
        return failed(f"{where}. Count the four nn.Linear(C, C): each has C·C weights and, "
                      "with bias, C biases")
    return passed("4·C² + 4·C with biases, 4·C² without, and the number of heads does not "
                  "appear: heads regroup the same parameters.")


@checker
def check_copy_to_torch(fn) -> Feedback:
    """Exercise 3: ``fn(ours, theirs)`` copies a ``MultiHeadAttention`` into an
    ``nn.MultiheadAttention(C, H, batch_first=True)`` so both give the same output."""
    g = torch.Generator().manual_seed(3)
    C, H, B, T = 16, 4, 2, 6
    with torch.random.fork_rng():  # fixed weights, and the learner's RNG state is left alone
        torch.manual_seed(3)
        ours = MultiHeadAttention(C, H)
        theirs = nn.MultiheadAttention(C, H, batch_first=True)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    fn(ours, theirs)
    if any(not torch.equal(v, ours.state_dict()[k]) for k, v in before.items()):
        return failed("your function changed `ours`: copy from ours into theirs, not back")
    q, k, v = (getattr(ours, f"{n}_proj") for n in "qkv")
    W = theirs.in_proj_weight.detach()  # (3C, C)
    want_W = torch.cat([q.weight, k.weight, v.weight]).detach()  # (3C, C)
    if not torch.equal(W, want_W):
        for order in ((k, q, v), (v, k, q), (q, v, k), (v, q, k), (k, v, q)):
            if torch.equal(W, torch.cat([m.weight for m in order]).detach()):
                return failed("in_proj_weight stacks the three projections in the order "
                              "[W_q; W_k; W_v] along dim 0; yours are in another order")
        if torch.equal(W, torch.cat([q.weight.T, k.weight.T, v.weight.T]).detach()):
            return failed("both nn.Linear.weight and in_proj_weight are stored as (out, in): "
                          "copy the weights as they are, without .T")
        return failed("theirs.in_proj_weight (3C, C) should be torch.cat([q_proj.weight, "
                      "k_proj.weight, v_proj.weight]) (inside torch.no_grad(), with .copy_)")
    want_b = torch.cat([q.bias, k.bias, v.bias]).detach()  # (3C,)
    if not torch.equal(theirs.in_proj_bias.detach(), want_b):
        return failed("the weights are right but not the biases: in_proj_bias (3C,) holds "
                      "the three projections' biases, stacked the same way as the weights")
    if not torch.equal(theirs.out_proj.weight.detach(), ours.out_proj.weight.detach()):
        return failed("copy the output projection too: theirs.out_proj.weight <- "
                      "ours.out_proj.weight")
    if not torch.equal(theirs.out_proj.bias.detach(), ours.out_proj.bias.detach()):
        return failed("copy the output projection's bias too: theirs.out_proj.bias")
    x = torch.randn(B, T, C, generator=g)  # (B, T, C)
    mask = causal_mask(T)  # (T, T) True = may attend
    with torch.no_grad():
        want, _ = ours(x, x, x, mask)  # (B, T, C)
        got, _ = theirs(x, x, x, attn_mask=~mask, need_weights=False)  # True = blocked
    bad = compare(got, want, "nn.MultiheadAttention's output")
    if bad is not None:
        return bad
    return passed("nn.MultiheadAttention with your copied weights gives our output "
                  "(with the mask inverted: PyTorch's True means blocked).")
