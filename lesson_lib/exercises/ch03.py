"""Chapter 03 checkers: permutation equivariance, the sinusoidal table, offsets as rotations.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.attention`` / ``lesson_lib.positional`` and, on a mismatch,
builds the usual wrong answers (the shuffle applied twice, the batch axis
shuffled, sin and cos in two halves instead of interleaved, the exponent
``i/d`` or ``j/d`` instead of ``2i/d``, sin and cos swapped, a rotation
turning the wrong way or by ``k`` radians in every pair) to name the one
that was made.
"""
from __future__ import annotations

import math

import torch

from lesson_lib.attention import MultiHeadAttention
from lesson_lib.positional import sinusoidal_encoding

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_unshuffle", "check_sinusoidal", "check_rotation"]


def _same(got, want, atol: float = 1e-5) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == want.shape
            and bool(torch.isfinite(got).all())
            and bool(torch.allclose(got.double(), want.double(), atol=atol)))


# ------------------------------------------------------------------ exercise 1
@checker
def check_unshuffle(unshuffle) -> Feedback:
    """Exercise 1: ``unshuffle(y (B, T, C), perm (T,)) -> (B, T, C)`` undoes a shuffle of
    the token axis, so that ``unshuffle(mha(x[:, perm]), perm) == mha(x)``."""
    g = torch.Generator().manual_seed(3)
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(3)
        mha = MultiHeadAttention(8, 2).eval()
    B, T = 2, 6
    x = torch.randn(B, T, 8, generator=g)  # (B, T, C)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])  # a cycle: applying it twice is not the identity
    with torch.no_grad():
        want, _ = mha(x, x, x)  # (B, T, C)
        y, _ = mha(x[:, perm], x[:, perm], x[:, perm])  # (B, T, C) outputs of the shuffled input
    got = unshuffle(y, perm)
    if got is None:
        return failed("unshuffle returned None: return a tensor (B, T, C)")
    bad = compare(got, want, "unshuffle(y, perm)")
    if bad is None:
        return passed("shuffling the tokens only shuffled the outputs: undo it with "
                      "y[:, perm.argsort()] and you get the unshuffled outputs back exactly. "
                      "Without positions, attention cannot tell the orders apart.")
    if _same(got, y[:, perm]):
        return failed("you applied the shuffle a second time. Output j of the shuffled input "
                      "is output perm[j] of the original, so it belongs at position perm[j]: "
                      "you need the permutation that undoes perm, not perm itself")
    if _same(got, y):
        return failed("you returned y unchanged: its rows are the right outputs in the "
                      "shuffled order; reorder them along the token axis (dim 1)")
    return bad


# ------------------------------------------------------------------ exercise 2
def _table(max_len: int, d: int, *, layout="interleaved", exponent="2i/d", swap=False,
           base=10000.0, start=0) -> torch.Tensor:
    """The sinusoidal table with one deliberate mistake switched on."""
    p = torch.arange(start, start + max_len, dtype=torch.float64)[:, None]  # (T, 1)
    if exponent == "2i/d":
        rate = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    elif exponent == "i/d":
        rate = base ** (-torch.arange(d // 2, dtype=torch.float64) / d)  # (d/2,)
    else:  # "j/d": every dimension its own frequency
        rate = base ** (-torch.arange(d, dtype=torch.float64) / d)  # (d,)
    angle = p * rate  # (T, d/2) or (T, d)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    if exponent == "j/d":
        pe = torch.empty(max_len, d, dtype=torch.float64)
        pe[:, 0::2] = first(angle[:, 0::2])
        pe[:, 1::2] = second(angle[:, 1::2])
        return pe
    if layout == "concatenated":
        return torch.cat([first(angle), second(angle)], dim=-1)  # (T, d)
    pe = torch.empty(max_len, d, dtype=torch.float64)
    pe[:, 0::2] = first(angle)
    pe[:, 1::2] = second(angle)
    return pe


_SINUSOID_MISTAKES = [
    (dict(layout="concatenated"),
     "you put all the sines in the first half and all the cosines in the second. The paper "
     "interleaves them: PE[p, 2i] = sin, PE[p, 2i+1] = cos, so sines fill the even "
     "dimensions and cosines the odd ones"),
    (dict(swap=True),
     "sin and cos are swapped: even dimensions 2i take sin, odd dimensions 2i+1 take cos "
     "(so PE[0] = [0, 1, 0, 1, ...])"),
    (dict(layout="concatenated", swap=True),
     "two slips: the cosines come first, and sin/cos are in two halves instead of interleaved "
     "(PE[p, 2i] = sin, PE[p, 2i+1] = cos)"),
    (dict(exponent="i/d"),
     "the exponent uses the pair index i over d; the formula has 2i/d, so step the exponent "
     "by 2/d per pair: torch.arange(0, d_model, 2) / d_model"),
    (dict(exponent="j/d"),
     "each dimension got its own frequency (exponent j/d for j = 0..d-1). Dimensions 2i and "
     "2i+1 must share one frequency, 1/10000^(2i/d): build d/2 angles, take sin and cos of each"),
    (dict(start=1),
     "your positions start at 1; the first position is p = 0, so PE[0] = [0, 1, 0, 1, ...]"),
]


@checker
def check_sinusoidal(fn) -> Feedback:
    """Exercise 2: ``fn(max_len, d_model) -> (max_len, d_model)``, the table of §3.5:
    ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/d))``."""
    for max_len, d in ((7, 8), (50, 16), (3, 2)):
        got = fn(max_len, d)
        if got is None:
            return failed("your function returned None: return a tensor (max_len, d_model)")
        want = sinusoidal_encoding(max_len, d).double()  # (T, C)
        bad = compare(got, want, f"table({max_len}, {d})", atol=1e-5)
        if bad is None:
            continue
        if isinstance(got, torch.Tensor) and got.shape == (d, max_len):
            return failed(f"your table has shape {tuple(got.shape)}: rows are positions, "
                          f"columns dimensions, so (max_len, d_model) = {(max_len, d)}")
        for kwargs, hint in _SINUSOID_MISTAKES:
            if _same(got, _table(max_len, d, **kwargs)):
                return failed(hint)
        return bad
    return passed("interleaved sin/cos pairs, frequency 1/10000^(2i/d): exactly the library's "
                  "sinusoidal_encoding.")


# ------------------------------------------------------------------ exercise 3
def _rotation(k: float, i: int, d: int, base: float = 10000.0, *, transpose=False,
              angle=None) -> torch.Tensor:
    theta = k * base ** (-2 * i / d) if angle is None else angle
    c, s = math.cos(theta), math.sin(theta)
    R = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)  # (2, 2) acts on (sin, cos)
    return R.T if transpose else R


@checker
def check_rotation(fn) -> Feedback:
    """Exercise 3: ``fn(k, i, d_model) -> (2, 2)`` matrix R with
    ``PE[p + k, 2i:2i+2] = R @ PE[p, 2i:2i+2]`` for every position p."""
    d = 16
    pe = sinusoidal_encoding(80, d).double()  # (T, C)
    for k, i in ((3, 0), (5, 2), (11, 5), (1, 7)):
        R = fn(k, i, d)
        if R is None:
            return failed("your function returned None: return a (2, 2) tensor")
        if not isinstance(R, torch.Tensor):
            return failed(f"R should be a torch.Tensor, got {type(R).__name__}")
        if R.shape != (2, 2):
            return failed(f"R has shape {tuple(R.shape)}; it acts on one pair "
                          f"(PE[p, 2i], PE[p, 2i+1]), so it is (2, 2)")
        pair = pe[:, 2 * i:2 * i + 2]  # (T, 2) the pair (sin, cos) at every position
        moved = pair[:-k] @ R.double().T  # (T-k, 2) R @ PE[p] for every p
        err = (moved - pair[k:]).abs().max().item()
        if err <= 1e-5:
            continue
        if _same(R, _rotation(k, i, d, transpose=True)):
            return failed("your matrix turns the pair the wrong way: it is the textbook "
                          "rotation for a point (cos, sin), but the pair here is (sin, cos). "
                          "Write sin(a+b) and cos(a+b) with the angle-sum formulas, in terms "
                          "of sin a and cos a: the first gives R's first row, the second its "
                          "second row")
        if i > 0 and (_same(R, _rotation(k, i, d, angle=k))
                      or _same(R, _rotation(k, i, d, angle=k, transpose=True))):
            return failed("you turned every pair by k radians; pair i turns by k·ω_i with "
                          "ω_i = 1/10000^(2i/d): slow pairs turn less")
        if _same(R, _rotation(k, i, d, angle=k * 10000.0 ** (-i / d))):
            return failed("the angle uses 10000^(i/d); the frequency of pair i is "
                          "1/10000^(2i/d)")
        return failed(f"R @ PE[p] differs from PE[p+{k}] by up to {err:.3g} for pair i={i}. "
                      "Write PE[p+k] with sin(a+b) and cos(a+b), a = p·ω_i, b = k·ω_i, "
                      "and read off the matrix")
    return passed("R_k = [[cos kω, sin kω], [-sin kω, cos kω]] moves any position p to p + k: "
                  "the matrix depends on the offset k, never on p.")
