"""Chapter 12 checkers: a previous-token head, and the rotation inside the sinusoids.

* ``check_previous_token_head(model, tokenizer, answer)``: the learner names
  a ``(layer, head)`` of a GPT that attends to the previous token; the
  checker measures that head's mean weight on position ``t - 1`` over a
  passage of the corpus (``previous_token_scores``) and compares it with
  every other head of the model.
* ``check_rotation(fn)``: ``fn(k, i, d_model, base)`` returns the 2 × 2
  matrix that takes pair ``i`` of ``PE(p)`` to pair ``i`` of ``PE(p + k)``
  (Vaswani et al. 2017, section 3.5); compared with ``viz.pe_rotation``.
"""
from __future__ import annotations

import numbers

import torch

from ._core import checker, compare, failed, passed

__all__ = ["previous_token_scores", "check_previous_token_head", "check_rotation"]

PASSAGE = slice(-3000, -2000)  # a stretch of the validation text (the corpus's last 10%)


def _attention(model, tokenizer, text):
    """The model's maps ``(L, H, T, T)`` for ``text`` (the corpus passage by default)."""
    if text is None:
        from ..data import load_corpus

        text = load_corpus()[PASSAGE]
    ids = tokenizer.encode(text)[: model.config.block_size]
    if len(ids) < 2:
        raise ValueError(f"the text has {len(ids)} token(s); a previous token needs at least 2")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            attn = model(torch.tensor([ids], device=next(model.parameters()).device),
                         return_attn=True)[-1]  # (L, B, H, T, T)
    finally:
        model.train(was_training)
    return attn[:, 0].float().cpu()  # (L, H, T, T)


def previous_token_scores(model, tokenizer, text: str | None = None) -> torch.Tensor:
    """Each head's mean weight on the token just before the query: ``(L, H)``.

    The mean over queries ``t = 1 .. T-1`` of ``attn[l, h, t, t - 1]``, the
    stripe just below the diagonal. A head with a uniform causal pattern
    scores about ``mean(1 / (t + 1))``; a previous-token head close to 1.
    """
    attn = _attention(model, tokenizer, text)  # (L, H, T, T)
    return attn.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # (L, H)


@checker
def check_previous_token_head(model, tokenizer, answer, text: str | None = None):
    """``answer = (layer, head)``: a head whose attention sits on the previous token."""
    attn = _attention(model, tokenizer, text)  # (L, H, T, T)
    L, H, T, _ = attn.shape
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in answer)):
        return failed("answer with two ints (layer, head), e.g. (0, 1). In the explorer set "
                      "head to 'all' and look for a panel with a bright stripe just below "
                      "the diagonal")
    layer, head = (int(a) for a in answer)
    if not (0 <= layer < L and 0 <= head < H):
        return failed(f"({layer}, {head}) does not exist: this model has {L} layers of {H} "
                      f"heads, so layer is in 0..{L - 1} and head in 0..{H - 1} (both from 0)")
    prev = attn.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # (L, H)
    score, best = float(prev[layer, head]), float(prev.max())
    uniform = float((1.0 / torch.arange(2, T + 1, dtype=torch.float64)).mean())
    if score >= 0.8 * best:
        strength = "" if best > 2 * uniform else (
            " (no head of this model is a strong previous-token head yet: train it longer)")
        return passed(f"head ({layer}, {head}) puts {score:.2f} of its weight on the previous "
                      f"token on average; a uniform head would put {uniform:.2f}{strength}.")
    own = float(attn[layer, head].diagonal(dim1=-2, dim2=-1)[1:].mean())
    first = float(attn[layer, head, 1:, 0].mean())
    if own > score and own >= first:
        why = (f"it looks mostly at the current token itself ({own:.2f} on the diagonal); "
               "the previous token is one column to the left of the diagonal")
    elif first > score:
        why = (f"it parks its attention on the first token ({first:.2f} on column 0), "
               "a common resting place when a head has nothing to do")
    else:
        why = f"it spreads its attention: only {score:.2f} lands on the previous token"
    return failed(f"head ({layer}, {head}) is not it: {why}. The best head of this model "
                  f"puts {best:.2f} there; scan the layers with head = 'all'")


def _pair_rotation(theta: float) -> torch.Tensor:
    c, s = torch.cos(torch.tensor(theta)), torch.sin(torch.tensor(theta))
    return torch.stack([torch.stack([c, s]), torch.stack([-s, c])]).double()  # (2, 2)


@checker
def check_rotation(fn):
    """``fn(k, i, d_model, base) -> (2, 2)`` with ``R @ PE[p, 2i:2i+2] = PE[p+k, 2i:2i+2]``."""
    cases = [(3, 0, 16, 10000.0), (5, 2, 8, 100.0), (1, 3, 8, 10.0), (7, 1, 32, 10000.0)]
    for k, i, d, base in cases:
        got = fn(k, i, d, base)
        omega = base ** (-2 * i / d)
        expected = _pair_rotation(k * omega)
        if compare(got, expected, "your matrix", atol=1e-5) is None:
            continue
        what = f"for k={k}, pair i={i}, d_model={d}, base={base:g}"
        if not isinstance(got, torch.Tensor) or got.shape != (2, 2):
            return compare(got, expected, f"fn({k}, {i}, {d}, {base:g})", atol=1e-5)
        got = got.double()
        if torch.allclose(got, expected.T, atol=1e-5):
            return failed(f"{what} your matrix takes PE(p) to PE(p - k): it turns the wrong "
                          "way. The pair is stored as (sin, cos), and sin(a + θ) = "
                          "sin a·cos θ + cos a·sin θ puts +sin θ in the top-right corner")
        if torch.allclose(got, _pair_rotation(k * base ** (-i / d)), atol=1e-5):
            return failed(f"{what} the angle is off: pair i holds dimensions 2i and 2i+1, "
                          "so ω_i = base^(-2i/d_model), not base^(-i/d_model)")
        if torch.allclose(got, _pair_rotation(float(k)), atol=1e-5) or \
                torch.allclose(got, _pair_rotation(float(k)).T, atol=1e-5):
            return failed(f"{what} you turned by k radians; the angle is k·ω_i with "
                          "ω_i = base^(-2i/d_model), slower for higher pairs")
        return failed(f"{what} R @ PE[p, 2i:2i+2] should equal PE[p+k, 2i:2i+2] for every p; "
                      "build R from θ = k·base^(-2i/d_model) and test it on "
                      "sinusoidal_encoding")
    return passed("pair i turns by k·ω_i whatever the position: PE(p + k) = R_k·PE(p), "
                  "a linear function of PE(p), as section 3.5 claims.")
