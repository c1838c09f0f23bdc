"""Chapter 11 checkers: training compute, a power law fitted by hand, image patches.

Each checker tries the learner's answer on fresh inputs, compares it with
``lesson_lib.scaling`` or ``lesson_lib.multimodal`` and, on a mismatch,
recognises the usual mistakes (forward pass only, embeddings counted,
steps instead of tokens; the wrong sign of the slope, the intercept not
exponentiated, mixed logarithms; a plain reshape instead of a permute,
channels last, patches numbered by column) to name the one that was made.
"""
from __future__ import annotations

import math

import torch

from lesson_lib.multimodal import patchify

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["EXERCISE_RUN", "check_compute", "check_power_law_fit", "check_patchify"]

# Exercise 1: one run of the chapter's family. N comes from GPT.num_params(non_embedding=True).
EXERCISE_RUN = {"vocab_size": 65, "block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 112,
                "max_iters": 400, "batch_size": 32}


def _run_numbers():
    from lesson_lib.gpt import GPT, GPTConfig

    r = EXERCISE_RUN
    model = GPT(GPTConfig(r["vocab_size"], r["block_size"], r["n_layer"], r["n_head"],
                          r["n_embd"]))
    n = model.num_params(non_embedding=True)
    n_all = model.num_params(non_embedding=False)
    tokens = r["max_iters"] * r["batch_size"] * r["block_size"]
    return n, n_all, tokens


def _near(x: float, target: float, rel: float = 0.01) -> bool:
    return abs(x - target) <= rel * abs(target)


@checker
def check_compute(flops) -> Feedback:
    """Exercise 1: the training compute C ≈ 6·N·D of :data:`EXERCISE_RUN` in FLOPs."""
    if flops is None:
        return failed("flops is still None: replace it with a number (use "
                      "model.num_params(non_embedding=True) for N)")
    if isinstance(flops, torch.Tensor) and flops.numel() == 1:
        flops = flops.item()
    if isinstance(flops, bool) or not isinstance(flops, (int, float)) or not math.isfinite(flops):
        return failed(f"flops should be a finite number, got {flops!r}")
    n, n_all, tokens = _run_numbers()
    r = EXERCISE_RUN
    want = 6 * n * tokens
    if _near(flops, want):
        return passed(f"C = 6 · {n:,} · {tokens:,} ≈ {want:.3g} FLOPs. GPT-4's report does not "
                      "disclose its own C (§2).")
    if _near(flops, 2 * n * tokens):
        hint = ("that is 2·N·D, the forward pass alone; the backward pass costs about twice "
                "as much again, so training is 6·N·D")
    elif _near(flops, 6 * n_all * tokens):
        hint = ("you counted the embedding parameters too; scaling laws use non-embedding "
                "parameters: model.num_params(non_embedding=True)")
    elif _near(flops, 6 * n * r["max_iters"]):
        hint = ("D counts tokens, not steps: each step sees batch_size · block_size tokens")
    elif _near(flops, 6 * n * r["max_iters"] * r["batch_size"]):
        hint = "each sequence in the batch holds block_size tokens: D = steps · B · T"
    elif _near(flops, n * tokens):
        hint = "N·D is missing the factor 6 (2 forward + 4 backward FLOPs per parameter per token)"
    else:
        hint = f"expected 6 · N · D with N = non-embedding parameters and D = {tokens:,} tokens"
    return failed(f"C = {flops:.4g} is off. {hint}")


@checker
def check_power_law_fit(fn) -> Feedback:
    """Exercise 2: ``fn(compute, loss) -> (a, b)`` fits ``L = a · C^(-b)`` by least squares
    on ``log L`` against ``log C`` (natural logs)."""
    g = torch.Generator().manual_seed(11)
    C = torch.logspace(9, 13, 7, dtype=torch.float64)  # (n,)
    a_true, b_true = 40.0, 0.12
    noise = 1 + 0.01 * torch.randn(7, generator=g, dtype=torch.float64)
    L = a_true * C ** (-b_true) * noise  # (n,)
    X = torch.stack([torch.ones_like(C), C.log()], 1)  # (n, 2)
    intercept, slope = torch.linalg.lstsq(X, L.log()[:, None]).solution[:, 0].tolist()
    want_a, want_b = math.exp(intercept), -slope
    out = fn(C.clone(), L.clone())
    if out is None:
        return failed("fn returned None: return the pair (a, b)")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return failed("return the pair (a, b), e.g. `return math.exp(intercept), -slope`")
    try:
        a, b = (float(v) for v in out)
    except (TypeError, ValueError):
        return failed(f"a and b should be numbers, got {out!r}")
    if not (math.isfinite(a) and math.isfinite(b)):
        return failed(f"a = {a}, b = {b}: both should be finite")
    if _near(b, want_b, 1e-3) and _near(a, want_a, 1e-3):
        return passed(f"b = {b:.4f}: every 10x of compute divides the loss by 10^b = "
                      f"{10 ** b:.3f}. A straight line in log-log space is a power law.")
    if _near(b, -want_b, 1e-3):
        return failed("b has the wrong sign: the slope of log L against log C is -b "
                      "(loss falls with compute), so b = -slope")
    if _near(b, want_b, 1e-3) and _near(a, intercept, 1e-3):
        return failed("a is the intercept of the line, log a; return a = exp(intercept)")
    if _near(b, want_b, 1e-3) and _near(a, 10 ** intercept, 1e-3):
        return failed("the intercept came from natural logs, so undo it with exp, not 10**")
    if _near(abs(b), want_b * math.log(10), 1e-2) or _near(abs(b), want_b / math.log(10), 1e-2):
        return failed("mixed logarithms: take the same log (natural log) of C and of L, "
                      "or the slope changes by a factor ln 10")
    if _near(b, want_b, 0.05):
        return failed(f"b = {b:.4f} is close but not the least-squares value {want_b:.4f}: fit "
                      "a straight line to (log C, log L), e.g. torch.linalg.lstsq or np.polyfit")
    return failed(f"(a, b) = ({a:.4g}, {b:.4g}); expected about ({want_a:.4g}, {want_b:.4f}): "
                  "fit log L = log a - b · log C by least squares")


def _variants(images: torch.Tensor, P: int) -> dict:
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // P, P, W // P, P)
    return {
        "plain reshape": images.reshape(B, -1, C * P * P),
        "channels last": x.permute(0, 2, 4, 3, 5, 1).reshape(B, -1, C * P * P),
        "column order": x.permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * P * P),
        "transposed": patchify(images, P).transpose(1, 2),
    }


@checker
def check_patchify(fn) -> Feedback:
    """Exercise 3: ``fn(images (B, C, H, W), P) -> (B, N, C·P·P)``, patches row by row,
    each flattened channel first, as ``lesson_lib.multimodal.patchify``."""
    g = torch.Generator().manual_seed(3)
    for (B, C, H, W, P) in ((2, 3, 8, 8, 4), (1, 2, 6, 9, 3)):
        images = torch.randn(B, C, H, W, generator=g)  # (B, C, H, W)
        want = patchify(images, P)  # (B, N, C·P·P)
        got = fn(images.clone(), P)
        if got is None:
            return failed("fn returned None: return the (B, N, C·P·P) tensor of patches")
        if not isinstance(got, torch.Tensor):
            return failed(f"return a torch.Tensor, got {type(got).__name__}")
        for name, wrong in _variants(images, P).items():
            if got.shape == wrong.shape and torch.allclose(got, wrong):
                if name == "plain reshape":
                    return failed("a plain reshape keeps whole image rows together, so a "
                                  "'patch' is a strip, not a P x P square: reshape to "
                                  "(B, C, H/P, P, W/P, P), then permute the two grid axes "
                                  "to the front")
                if name == "channels last":
                    return failed("each patch is flattened with the channel last; flatten it "
                                  "channel first (C, P, P), as patchify does")
                if name == "column order":
                    return failed("patches are numbered column by column; number them row by "
                                  "row (the grid-row axis before the grid-column axis)")
                return failed(f"shape {tuple(got.shape)} is (B, C·P·P, N); expected "
                              f"(B, N, C·P·P) = {tuple(want.shape)}: one row per patch")
        bad = compare(got, want, f"patches of a {B}x{C}x{H}x{W} image with P={P}")
        if bad is not None:
            return bad
    return passed("each row is one P x P patch, channel first, numbered row by row: ready to "
                  "be embedded by one nn.Linear(C·P·P, width).")
