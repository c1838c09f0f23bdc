"""Chapter 01 checkers: the variance of q·k, the causal mask, scaled dot-product attention.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.attention`` and, on a mismatch, tries the usual mistakes
(no √d_k, softmax over the wrong axis, K not transposed, the mask ignored
or inverted, the upper triangle) to name the one that was made.
"""
from __future__ import annotations

import math

import torch

from lesson_lib.attention import causal_mask, scaled_dot_product_attention

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_dot_variance", "check_causal_mask", "check_attention"]


def _near(x: float, target: float, rel: float = 0.05) -> bool:
    return abs(x - target) <= rel * abs(target)


@checker
def check_dot_variance(var_unscaled, var_scaled) -> Feedback:
    """Exercise 1: q has d_k = 256 entries of variance 4, k has d_k = 256 entries of
    variance 1, all independent with mean 0. Predict Var(q·k) and Var(q·k / √d_k)."""
    d_k, var_q, var_k = 256, 4.0, 1.0
    want_unscaled = d_k * var_q * var_k  # a sum of d_k products, each of variance var_q·var_k
    want_scaled = want_unscaled / d_k  # dividing by √d_k divides the variance by d_k
    for name, x in (("var_unscaled", var_unscaled), ("var_scaled", var_scaled)):
        if x is None:
            return failed(f"{name} is still None: replace it with a number")
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            return failed(f"{name} should be a finite number, got {x!r}")
    if not _near(var_unscaled, want_unscaled):
        if _near(var_unscaled, d_k):
            hint = ("256 would be right for unit-variance entries, but each q entry has "
                    "variance 4: a product q_i·k_i then has variance 4·1")
        elif _near(var_unscaled, math.sqrt(want_unscaled)):
            hint = "that is the standard deviation of q·k; the variance is its square"
        elif _near(var_unscaled, var_q * var_k):
            hint = ("that is the variance of one product q_i·k_i; q·k adds d_k = 256 "
                    "independent products and variances of independent terms add")
        else:
            hint = ("each product q_i·k_i has mean 0 and variance Var(q_i)·Var(k_i); q·k "
                    "sums 256 independent such products and their variances add")
        return failed(f"Var(q·k) = {var_unscaled} is off. {hint}")
    if not _near(var_scaled, want_scaled):
        if _near(var_scaled, 1.0):
            hint = ("dividing by √d_k brings the variance to 1 only when q and k have "
                    "unit-variance entries; here q's entries have variance 4")
        elif _near(var_scaled, want_unscaled / math.sqrt(d_k)):
            hint = "Var(a·x) = a²·Var(x): dividing by √d_k = 16 divides the variance by 256"
        else:
            hint = "Var(x / c) = Var(x) / c²; here c = √256 = 16"
        return failed(f"Var(q·k / √d_k) = {var_scaled} is off. {hint}")
    return passed(f"Var(q·k) = 256·4·1 = {want_unscaled:g}, and after dividing by √256 = 16 "
                  f"it is {want_scaled:g}: scaling fixes the growth with d_k, not the "
                  "size of the inputs (that is the job of the normalisation in chapter 04).")


def _naive(q, k, v, mask, *, scale=True, dim=-1, transpose=True, mask_mode="keep"):
    """A reference with one deliberate mistake switched on, to recognise a wrong answer."""
    kt = k.transpose(-2, -1) if transpose else k
    scores = q @ kt  # (..., Tq, Tk)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None and mask_mode == "keep":
        scores = scores.masked_fill(~mask, float("-inf"))
    elif mask is not None and mask_mode == "inverted":
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)  # (..., Tq, Tk)
    return weights @ v, weights


def _same(a, b) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape and bool(torch.isfinite(a).all())
            and bool(torch.allclose(a, b, atol=1e-5)))


def _unpack(result):
    if not isinstance(result, tuple) or len(result) != 2:
        return None
    return result


@checker
def check_attention(fn) -> Feedback:
    """Exercise 3: ``fn(q, k, v, mask=None) -> (output, weights)``, scaled dot-product
    attention with a bool mask (True = may attend), as in Vaswani et al. 2017, §3.2.1;
    a query that may attend to nothing gets zero weights and a zero output."""
    g = torch.Generator().manual_seed(1)
    # Square inputs first (Tq = Tk = D): a missing transpose then runs and can be recognised.
    T = 6
    q, k, v = (torch.randn(2, T, T, generator=g) for _ in range(3))  # (B, T, D)
    res = _unpack(fn(q, k, v))
    if res is None:
        return failed("return a pair (output, weights), e.g. `return weights @ v, weights`")
    out, w = res
    ref_out, ref_w = scaled_dot_product_attention(q, k, v)
    if compare(w, ref_w, "weights") is not None:
        if _same(w, _naive(q, k, v, None, scale=False)[1]):
            return failed("your weights match softmax(Q Kᵀ) without scaling: did you forget "
                          "to divide the scores by sqrt(d_k)?")
        if _same(w, _naive(q, k, v, None, dim=-2)[1]):
            return failed("your columns sum to 1, not your rows: softmax over the wrong axis. "
                          "Each query's weights over the keys should sum to 1: use dim=-1")
        if _same(w, _naive(q, k, v, None, transpose=False)[1]):
            return failed("the scores should be Q Kᵀ: did you transpose K? "
                          "Use k.transpose(-2, -1) so the last axes are (Tq, D) @ (D, Tk)")
        if _same(w, _naive(q, k, v, None, scale=False, dim=-2)[1]):
            return failed("softmax over the wrong axis (your columns sum to 1) and no "
                          "division by sqrt(d_k)")
        return compare(w, ref_w, "weights")
    bad = compare(out, ref_out, "output")
    if bad is not None:
        if _same(out, w.transpose(-2, -1) @ v):
            return failed("output should be weights @ v, not weightsᵀ @ v")
        return bad
    # Rectangular shapes (Tq ≠ Tk ≠ D ≠ Dv) with a mask; a broadcast (Tq, Tk) mask.
    Tq, Tk, D, Dv = 3, 5, 4, 7
    q = torch.randn(2, Tq, D, generator=g)  # (B, Tq, D)
    k = torch.randn(2, Tk, D, generator=g)  # (B, Tk, D)
    v = torch.randn(2, Tk, Dv, generator=g)  # (B, Tk, Dv)
    mask = torch.rand(Tq, Tk, generator=g) > 0.4
    mask[:, 0] = True  # every query may attend to at least one key ...
    mask[:, 1] = False  # ... and is barred from at least one
    try:
        res = _unpack(fn(q, k, v, mask))
    except RuntimeError as exc:
        if "shape" in str(exc) or "size" in str(exc):
            return failed(f"with q {tuple(q.shape)}, k {tuple(k.shape)}: {exc}. The scores "
                          "are Q Kᵀ: did you transpose K with k.transpose(-2, -1)?")
        raise
    if res is None:
        return failed("return a pair (output, weights)")
    out, w = res
    ref_out, ref_w = scaled_dot_product_attention(q, k, v, mask)
    if compare(w, ref_w, "weights with a mask") is not None:
        if _same(w, _naive(q, k, v, None)[1]):
            return failed("the mask is ignored: set the scores where mask is False to "
                          "-inf before the softmax (scores.masked_fill(~mask, float('-inf')))")
        if _same(w, _naive(q, k, v, mask, mask_mode="inverted")[1]):
            return failed("the mask is inverted: True means *may attend*. Fill -inf where "
                          "the mask is False, i.e. masked_fill(~mask, ...)")
        if _same(w, _naive(q, k, v, mask, scale=False)[1]):
            return failed("with a mask, your weights miss the division by sqrt(d_k)")
        return compare(w, ref_w, "weights with a mask")
    bad = compare(out, ref_out, "output with a mask")
    if bad is not None:
        return bad
    # A query whose mask allows no key at all (a padding query, say).
    mask = mask.clone()
    mask[1] = False  # query 1 may attend to nothing
    res = _unpack(fn(q, k, v, mask))
    if res is None:
        return failed("return a pair (output, weights)")
    out, w = res
    ref_out, ref_w = scaled_dot_product_attention(q, k, v, mask)
    if isinstance(w, torch.Tensor) and isinstance(out, torch.Tensor) and (
            not torch.isfinite(w).all() or not torch.isfinite(out).all()):
        return failed("a query whose mask is all False gives NaN: its scores are all -inf "
                      "and softmax computes 0/0. Such a row should come out as zero weights; "
                      "after the softmax, the mask tells you which weights must be 0")
    for got, want, what in ((w, ref_w, "weights of a fully masked row"),
                            (out, ref_out, "output of a fully masked row")):
        bad = compare(got, want, what)
        if bad is not None:
            return bad
    return passed("rows sum to 1, masked keys get weight 0, a query with nothing to attend "
                  "to gets zeros instead of NaN, and you match "
                  "lesson_lib.attention.scaled_dot_product_attention.")


@checker
def check_causal_mask(fn) -> Feedback:
    """Exercise 2: ``fn(T)`` returns the causal mask, a bool (T, T) tensor, True = may attend."""
    for T in (4, 7, 1):
        got = fn(T)
        want = causal_mask(T)
        if not isinstance(got, torch.Tensor):
            return failed(f"fn({T}) should return a torch.Tensor, got {type(got).__name__}")
        if got.shape != want.shape:
            return failed(f"fn({T}) has shape {tuple(got.shape)}, expected ({T}, {T}): one row "
                          "per query position, one column per key position")
        if got.dtype != torch.bool:
            return failed(f"fn({T}) has dtype {got.dtype}; a mask is torch.bool "
                          "(add dtype=torch.bool, or .bool())")
        if torch.equal(got, want):
            continue
        if torch.equal(got, want.T):
            return failed("you built the upper triangle: row t (the query) would then see "
                          "keys t, t+1, ... — the future. Row t should see keys 0..t: which "
                          "triangle of the matrix is that?")
        if torch.equal(got, want & ~torch.eye(T, dtype=torch.bool)):
            return failed("the diagonal is False: a position may attend to itself "
                          "(use tril(), not tril(-1))")
        if torch.equal(got, ~want):
            return failed("True and False are swapped: in lesson_lib a mask is True where a "
                          "query MAY attend (the opposite of nn.MultiheadAttention)")
        return failed(f"fn({T}) differs from the causal mask {want.int().tolist()}: row t "
                      "should be True in columns 0..t and False after")
    return passed("row t may attend to positions 0..t and never to the future.")
