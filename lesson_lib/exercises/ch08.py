"""Chapter 08 checkers: GPT-1's entailment and multiple-choice inputs, and L3 = L2 + λ·L1.

Each checker runs the learner's answer on fresh inputs, compares it with
``lesson_lib.finetune`` and, on a mismatch, looks for the usual mistakes (a
missing start or extract token, the fields in the wrong order, the answers
packed into one sequence, λ on the wrong loss) to name the one that was made.
"""
from __future__ import annotations

import math

import torch

from lesson_lib.finetune import DELIM, EXTRACT, START, input_transform

from ._core import Feedback, checker, failed, passed

__all__ = ["check_entailment_transform", "check_multiple_choice", "check_combined_loss"]

_PAIRS = [("To be, or not to be,", "that is the question:"),
          ("What's in a name?", "A rose by any other name"),
          ("", "an empty premise")]


def _sequence_hint(got: str, want: str, fields) -> str:
    """Name the likely mistake in one transformed sequence."""
    if not got.startswith(START):
        return f"the sequence must begin with the start token START ({START!r})"
    if not got.endswith(EXTRACT):
        return (f"the sequence must end with the extract token EXTRACT ({EXTRACT!r}): its "
                "final hidden state is what the linear head reads")
    if DELIM not in got:
        return f"put the delimiter DELIM ({DELIM!r}) between the two fields"
    if got == START + fields[1] + DELIM + fields[0] + EXTRACT:
        return "the two fields are swapped: the first field comes first (premise, then hypothesis)"
    if " " + DELIM in got or DELIM + " " in got:
        return "no spaces around the delimiter: the special tokens sit right next to the text"
    return f"expected {want!r}, got {got!r}"


@checker
def check_entailment_transform(fn) -> Feedback:
    """Exercise 1: ``fn(premise, hypothesis) -> list[str]`` as in Figure 1."""
    for premise, hypothesis in _PAIRS:
        want = input_transform("entailment", premise, hypothesis)
        got = fn(premise, hypothesis)
        if got is None:
            return failed("your function returns None: return a list with one string")
        if isinstance(got, str):
            return failed("return a list of sequences (here a list with one string), not a bare "
                          "str: every task returns a list so that similarity and multiple "
                          "choice fit the same shape")
        if not isinstance(got, (list, tuple)) or not all(isinstance(s, str) for s in got):
            return failed(f"expected a list of str, got {type(got).__name__}")
        if len(got) != 1:
            return failed(f"entailment is one ordered sequence, got {len(got)}; only "
                          "similarity (no natural order) needs both orders")
        if got[0] != want[0]:
            return failed(_sequence_hint(got[0], want[0], (premise, hypothesis)))
    first = input_transform("entailment", *_PAIRS[0])[0]
    return passed(f"{first!r}: start, premise, delimiter, hypothesis, extract.")


@checker
def check_multiple_choice(fn) -> Feedback:
    """Exercise 2: ``fn(context, answers) -> list[str]``, one sequence per answer."""
    context, answers = "Who's there?", ["Nay, answer me:", "Long live the king!", "Bernardo?"]
    want = input_transform("multiple_choice", context, answers)
    got = fn(context, list(answers))
    if got is None:
        return failed("your function returns None: return a list with one string per answer")
    if isinstance(got, str) or not isinstance(got, (list, tuple)):
        return failed(f"expected a list of str (one per answer), got {type(got).__name__}")
    if len(got) == 1 and all(a in got[0] for a in answers):
        return failed("all the answers are packed into one sequence: build one sequence per "
                      "answer, each scored on its own, then a softmax over the scores")
    if len(got) != len(answers):
        return failed(f"expected {len(answers)} sequences (one per answer), got {len(got)}")
    for k, (g, w) in enumerate(zip(got, want)):
        if not isinstance(g, str):
            return failed(f"sequence {k} should be a str, got {type(g).__name__}")
        if g == START + answers[k] + DELIM + context + EXTRACT:
            return failed("the answer comes after the context: [start; context; $; answer; "
                          "extract], so the model reads the question before each answer")
        if g != w:
            return failed(f"sequence {k}: " + _sequence_hint(g, w, (context, answers[k])))
    return passed(f"{len(want)} sequences, e.g. {want[0]!r}; each gets one score.")


@checker
def check_combined_loss(fn) -> Feedback:
    """Exercise 3: ``fn(l2, l1, lam) -> L3 = L2 + lam * L1`` (tensors in, a tensor out)."""
    cases = [(0.7, 1.9, 0.5), (2.0, 0.3, 0.5), (1.1, 1.4, 0.0), (0.2, 3.0, 2.0)]
    for l2, l1, lam in cases:
        got = fn(torch.tensor(l2), torch.tensor(l1), lam)
        if got is None:
            return failed("your function returns None: return L2 + lam * L1")
        value = float(got) if isinstance(got, (torch.Tensor, int, float)) else None
        if value is None or not math.isfinite(value):
            return failed(f"expected a number or a 0-d tensor, got {got!r:.60}")
        want = l2 + lam * l1
        if abs(value - want) > 1e-5:
            if abs(value - (l1 + lam * l2)) < 1e-5:
                hint = ("λ weights the auxiliary language-model loss L1, not the task loss "
                        "L2: L3 = L2 + λ·L1")
            elif abs(value - lam * (l1 + l2)) < 1e-5:
                hint = "λ multiplies L1 only; L2 enters with weight 1"
            elif abs(value - (l1 + l2)) < 1e-5:
                hint = "you ignored λ: L1 is scaled by λ (0.5 in the paper)"
            else:
                hint = f"with L2={l2}, L1={l1}, λ={lam} expected {want:.4f}, got {value:.4f}"
            return failed(hint)
    return passed("L3 = L2 + λ·L1; with λ = 0 it is plain supervised fine-tuning.")
