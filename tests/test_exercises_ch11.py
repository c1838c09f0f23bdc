"""Chapter 11 checkers: the solutions pass, the typical mistakes get the right hint."""
import math

import numpy as np
import pytest
import torch

from lesson_lib.exercises import ch11
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.multimodal import patchify


def _n_and_tokens():
    r = ch11.EXERCISE_RUN
    model = GPT(GPTConfig(r["vocab_size"], r["block_size"], r["n_layer"], r["n_head"],
                          r["n_embd"]))
    tokens = r["max_iters"] * r["batch_size"] * r["block_size"]
    return model, tokens


def test_compute_solution_passes():
    model, tokens = _n_and_tokens()
    fb = ch11.check_compute(6 * model.num_params(non_embedding=True) * tokens)
    assert fb.passed, fb.message


@pytest.mark.parametrize("mistake,hint", [
    ("forward", "forward pass alone"),
    ("embeddings", "non_embedding=True"),
    ("steps", "not steps"),
    ("sequences", "block_size tokens"),
    ("no6", "factor 6"),
    ("none", "None"),
    ("text", "finite number"),
])
def test_compute_hints(mistake, hint):
    model, tokens = _n_and_tokens()
    r = ch11.EXERCISE_RUN
    n = model.num_params(non_embedding=True)
    answer = {"forward": 2 * n * tokens,
              "embeddings": 6 * model.num_params(non_embedding=False) * tokens,
              "steps": 6 * n * r["max_iters"],
              "sequences": 6 * n * r["max_iters"] * r["batch_size"],
              "no6": n * tokens, "none": None, "text": "1e12"}[mistake]
    fb = ch11.check_compute(answer)
    assert not fb.passed and hint in fb.message, fb.message


def solution_fit(C, L):
    slope, intercept = np.polyfit(np.log(np.asarray(C)), np.log(np.asarray(L)), 1)
    return math.exp(intercept), -slope


def _fit_variant(kind):
    def fn(C, L):
        x, y = np.log(np.asarray(C)), np.log(np.asarray(L))
        if kind == "log10x":
            x = np.log10(np.asarray(C))
        slope, intercept = np.polyfit(x, y, 1)
        if kind == "sign":
            return math.exp(intercept), slope
        if kind == "intercept":
            return intercept, -slope
        if kind == "pow10":
            return 10 ** intercept, -slope
        if kind == "linear":
            s, i = np.polyfit(np.asarray(C), np.asarray(L), 1)
            return i, -s
        return math.exp(intercept), -slope
    return fn


def test_fit_solution_passes():
    fb = ch11.check_power_law_fit(solution_fit)
    assert fb.passed, fb.message


@pytest.mark.parametrize("kind,hint", [
    ("sign", "wrong sign"),
    ("intercept", "exp(intercept)"),
    ("pow10", "not 10**"),
    ("log10x", "mixed logarithms"),
    ("linear", "expected about"),
])
def test_fit_hints(kind, hint):
    fb = ch11.check_power_law_fit(_fit_variant(kind))
    assert not fb.passed and hint in fb.message, fb.message


def test_fit_returning_nothing_or_raising():
    assert "None" in ch11.check_power_law_fit(lambda C, L: None).message
    assert "pair" in ch11.check_power_law_fit(lambda C, L: 3.0).message
    fb = ch11.check_power_law_fit(lambda C, L: 1 / 0)
    assert not fb.passed and "ZeroDivisionError" in fb.message


def solution_patchify(images, P):
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, gh, P, gw, P)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(B, (H // P) * (W // P), C * P * P)


def test_patchify_solution_passes():
    fb = ch11.check_patchify(solution_patchify)
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong,hint", [
    (lambda im, P: im.reshape(im.shape[0], -1, im.shape[1] * P * P), "plain reshape"),
    (lambda im, P: im.reshape(im.shape[0], im.shape[1], im.shape[2] // P, P, im.shape[3] // P, P)
     .permute(0, 2, 4, 3, 5, 1).reshape(im.shape[0], -1, im.shape[1] * P * P), "channel last"),
    (lambda im, P: im.reshape(im.shape[0], im.shape[1], im.shape[2] // P, P, im.shape[3] // P, P)
     .permute(0, 4, 2, 1, 3, 5).reshape(im.shape[0], -1, im.shape[1] * P * P), "column by column"),
    (lambda im, P: patchify(im, P).transpose(1, 2), "one row per patch"),
    (lambda im, P: patchify(im, P) + 1, "differs from the reference"),
    (lambda im, P: None, "None"),
    (lambda im, P: [[0.0]], "torch.Tensor"),
])
def test_patchify_hints(wrong, hint):
    fb = ch11.check_patchify(wrong)
    assert not fb.passed and hint in fb.message, fb.message


def test_failed_feedback_is_falsy():
    assert not ch11.check_patchify(lambda im, P: None)
    assert ch11.check_patchify(solution_patchify)
    assert isinstance(ch11.check_compute(0.0).message, str)
    assert torch.is_tensor(patchify(torch.zeros(1, 1, 2, 2), 1))
