"""Chapter 04 checkers: Add & Norm, an encoder layer's parameters, the decoder's data flow.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.layers`` and, on a mismatch, builds the usual wrong answers
(the residual or the norm left out, the norm in the wrong place for
pre-norm, biases or LayerNorms not counted, every decoder layer paired
with the encoder layer of the same depth, the decoder layers not chained,
the causal mask dropped, the first decoder layer's self-attention skipped)
to name the one that was made.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from lesson_lib.attention import causal_mask
from lesson_lib.layers import DecoderLayer, EncoderLayer

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_add_and_norm", "check_encoder_params", "check_decoder_stack"]


def _same(got, want, atol: float = 1e-5) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == want.shape
            and bool(torch.isfinite(got).all()) and bool(torch.allclose(got, want, atol=atol)))


# ------------------------------------------------------------------ exercise 1
@checker
def check_add_and_norm(fn) -> Feedback:
    """Exercise 1: ``fn(x, sublayer, norm, norm_first) -> (B, T, C)``.

    ``norm_first=False``: the paper's post-norm ``norm(x + sublayer(x))`` (§5.4).
    ``norm_first=True``: pre-norm ``x + sublayer(norm(x))``.
    """
    C = 8
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(4)
        sub = nn.Sequential(nn.Linear(C, C), nn.Tanh())
        norm = nn.LayerNorm(C)
        with torch.no_grad():  # a LayerNorm that is not the identity at init
            norm.weight.copy_(1 + 0.5 * torch.randn(C))
            norm.bias.copy_(0.5 * torch.randn(C))
        x = 3 * torch.randn(2, 5, C) + 1  # (B, T, C) not already normalised
    with torch.no_grad():
        post = norm(x + sub(x))  # (B, T, C)
        pre = x + sub(norm(x))  # (B, T, C)
        got_post = fn(x, sub, norm, False)
        got_pre = fn(x, sub, norm, True)
    for got, what in ((got_post, "norm_first=False"), (got_pre, "norm_first=True")):
        if got is None:
            return failed(f"with {what} your function returned None: return a tensor (B, T, C)")
    bad = compare(got_post, post, "the post-norm result (norm_first=False)")
    if bad is not None:
        wrong_post = [
            (norm(sub(x)), "the residual is missing: add the input x to the sub-layer's "
                           "output before normalising, norm(x + sublayer(x))"),
            (x + sub(x), "the norm is missing: post-norm normalises the sum, "
                         "norm(x + sublayer(x))"),
            (pre, "with norm_first=False you returned the pre-norm result; the paper's "
                  "order (§5.4) is LayerNorm(x + Sublayer(x))"),
            (x + norm(sub(x)), "post-norm normalises the sum x + sublayer(x), not only the "
                               "sub-layer's output"),
        ]
        for want, hint in wrong_post:
            if _same(got_post, want):
                return failed(hint)
        return bad
    bad = compare(got_pre, pre, "the pre-norm result (norm_first=True)")
    if bad is not None:
        wrong_pre = [
            (post, "with norm_first=True you returned the post-norm result: in pre-norm the "
                   "norm leaves the main path and moves into the branch (see the two "
                   "diagrams above)"),
            (x + norm(sub(x)), "you normalised the sub-layer's output; pre-norm normalises "
                               "its input: x + sublayer(norm(x))"),
            (norm(x + sub(norm(x))), "pre-norm leaves the sum alone: no norm after the "
                                     "addition, x + sublayer(norm(x))"),
            (norm(x) + sub(norm(x)), "the residual must carry the original x, not norm(x): "
                                     "x + sublayer(norm(x))"),
            (sub(norm(x)), "the residual is missing: add x back, x + sublayer(norm(x))"),
        ]
        for want, hint in wrong_pre:
            if _same(got_pre, want):
                return failed(hint)
        return bad
    return passed("post-norm: norm(x + sublayer(x)); pre-norm: x + sublayer(norm(x)). In "
                  "pre-norm the residual stream x is never normalised on its way through.")


# ------------------------------------------------------------------ exercise 2
def _counts(d: int, h: int, f: int) -> dict:
    attn_w, attn_b = 4 * d * d, 4 * d  # W^Q, W^K, W^V, W^O and their biases
    ffn_w, ffn_b = 2 * d * f, f + d  # W1 (d x f), W2 (f x d), b1 (f), b2 (d)
    norms = 2 * 2 * d  # two LayerNorms, each a gain and a bias of width d
    return {
        "total": attn_w + attn_b + ffn_w + ffn_b + norms,
        "weights only": attn_w + ffn_w,
        "no norms": attn_w + attn_b + ffn_w + ffn_b,
        "no biases": attn_w + ffn_w + norms,
        "norm gain only": attn_w + attn_b + ffn_w + ffn_b + 2 * d,
        "no out_proj": 3 * d * d + 3 * d + ffn_w + ffn_b + norms,
        "ffn once": attn_w + attn_b + d * f + ffn_b + norms,
        "heads multiply": h * (attn_w + attn_b) + ffn_w + ffn_b + norms,
    }


_COUNT_HINTS = {
    "weights only": "you counted the weight matrices only: which parameters of an "
                    "nn.Linear and of an nn.LayerNorm are not weight matrices?",
    "no norms": "the two LayerNorms are missing: each has a gain and a bias of width "
                "d_model, 4·d_model in all",
    "no biases": "the biases are missing: 4·d_model in attention, d_ff + d_model in the FFN",
    "norm gain only": "each LayerNorm has two vectors of width d_model (gain γ and bias β), "
                      "you counted one",
    "no out_proj": "attention has four projections, W^Q, W^K, W^V and the output W^O, each "
                   "d_model × d_model plus a bias; you counted three",
    "ffn once": "the FFN has two matrices, d_model → d_ff and d_ff → d_model",
    "heads multiply": "the number of heads does not change the count: the heads split "
                      "d_model into n_heads slices of the same four matrices (chapter 02)",
}


@checker
def check_encoder_params(fn) -> Feedback:
    """Exercise 2: ``fn(d_model, n_heads, d_ff) -> int``, the number of parameters of
    ``EncoderLayer(d_model, n_heads, d_ff)``, from the formula."""
    for d, h, f in ((16, 2, 64), (512, 8, 2048), (24, 3, 40)):
        got = fn(d, h, f)
        if got is None:
            return failed("your function returned None: return an int")
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real) or got != int(got):
            return failed(f"the count should be a whole number, got {got!r}")
        want = sum(p.numel() for p in EncoderLayer(d, h, f).parameters())
        counts = _counts(d, h, f)
        if got == want:
            continue
        for name, hint in _COUNT_HINTS.items():
            if counts[name] == got and counts[name] != want:
                return failed(f"for d_model={d}, n_heads={h}, d_ff={f} you say {int(got):,}: "
                              + hint)
        return failed(f"for d_model={d}, n_heads={h}, d_ff={f} you say {int(got):,}, the "
                      f"layer has {want:,} ({int(got) - want:+,}). Count attention, FFN and "
                      "the two LayerNorms separately")
    base = _counts(512, 8, 2048)["total"]
    return passed("4·d² + 4·d (attention) + 2·d·d_ff + d_ff + d (FFN) + 4·d (two LayerNorms); "
                  f"the paper's base layer (512, 8, 2048) has {base:,}.")


# ------------------------------------------------------------------ exercise 3
def _skip_first_self(layers, x, memory, mask, keep_norm: bool):
    """The misreading: the first decoder layer without its masked self-attention."""
    first = layers[0]
    if keep_norm:
        x = first.norm1(x)  # Add & Norm with a zero sub-layer output
    x = first.norm2(x + first.cross_attn(x, memory, memory)[0])
    x = first.norm3(x + first.ffn(x))
    for layer in layers[1:]:
        x, _, _ = layer(x, memory, mask)
    return x


@checker
def check_decoder_stack(fn) -> Feedback:
    """Exercise 3: ``fn(layers, tgt (B, T, C), encoder_outputs, tgt_mask) -> (B, T, C)``.

    ``encoder_outputs`` lists the output of every encoder layer, first to last;
    run the decoder layers in order, as §3.1 and §3.2.3 describe.
    """
    C, H, L = 16, 2, 3
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(5)
        layers = nn.ModuleList(DecoderLayer(C, H, 32) for _ in range(L)).eval()
        tgt = torch.randn(2, 5, C)  # (B, T, C)
        enc = [torch.randn(2, 7, C) for _ in range(L)]  # L x (B, S, C)
    mask = causal_mask(5)  # (T, T)

    def run(memories, chain=True, m=mask):
        x = tgt
        for layer, memory in zip(layers, memories):
            x, _, _ = layer(x if chain else tgt, memory, m)
        return x

    with torch.no_grad():
        want = run([enc[-1]] * L)
        got = fn(layers, tgt, enc, mask)
        if isinstance(got, tuple):
            return failed("you returned a tuple: a DecoderLayer returns (x, self_weights, "
                          "cross_weights); keep x and pass it to the next layer")
        if got is None:
            return failed("your function returned None: return the last layer's output "
                          "(B, T, C)")
        bad = compare(got, want, "the decoder output")
        if bad is None:
            return passed("every decoder layer runs masked self-attention on its own input, "
                          "then cross-attention with Q from itself and K, V from the final "
                          "encoder output, then its FFN.")
        wrong = [
            (run(enc), "you paired decoder layer l with encoder layer l. Read §3.2.3 again: "
                       "where do the keys and values of encoder-decoder attention come from, "
                       "one encoder layer each, or the encoder as a whole?"),
            (run([enc[0]] * L), "you used the first encoder layer's output; keys and values "
                                "come from the last one, encoder_outputs[-1]"),
            (run([enc[-1]] * L, chain=False), "each layer got the original tgt; chain them: "
                                              "x = layer(x, ...)[0], layer after layer"),
            (run([enc[-1]] * L, m=None), "the causal mask is missing: masked self-attention "
                                         "must not see later target positions; pass tgt_mask"),
            (run([enc[-1]] * L, m=~mask), "the mask is inverted: in lesson_lib True means "
                                          "'may attend', and causal_mask is lower-triangular"),
            (_skip_first_self(layers, tgt, enc[-1], mask, True),
             "you skipped the first layer's masked self-attention. It does not compute 0: "
             "every decoder layer, the first included, attends over the target so far"),
            (_skip_first_self(layers, tgt, enc[-1], mask, False),
             "you skipped the first layer's masked self-attention. It does not compute 0: "
             "every decoder layer, the first included, attends over the target so far"),
        ]
        for w, hint in wrong:
            if _same(got, w):
                return failed(hint)
    return bad
