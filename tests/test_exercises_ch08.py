"""Chapter 08 checkers: the solutions pass, the typical mistakes get the right hint."""
import pytest

from lesson_lib.exercises import ch08
from lesson_lib.finetune import DELIM, EXTRACT, START


def entailment_solution(premise, hypothesis):
    return [START + premise + DELIM + hypothesis + EXTRACT]


def choice_solution(context, answers):
    return [START + context + DELIM + a + EXTRACT for a in answers]


def l3_solution(l2, l1, lam):
    return l2 + lam * l1


def test_solutions_pass():
    assert ch08.check_entailment_transform(entailment_solution).passed
    assert ch08.check_multiple_choice(choice_solution).passed
    assert ch08.check_combined_loss(l3_solution).passed


@pytest.mark.parametrize("fn,hint", [
    (lambda p, h: None, "returns None"),
    (lambda p, h: START + p + DELIM + h + EXTRACT, "not a bare str"),
    (lambda p, h: [p + DELIM + h + EXTRACT], "begin with the start token"),
    (lambda p, h: [START + p + DELIM + h], "end with the extract token"),
    (lambda p, h: [START + p + h + EXTRACT], "delimiter"),
    (lambda p, h: [START + h + DELIM + p + EXTRACT], "swapped"),
    (lambda p, h: [START + p + " " + DELIM + " " + h + EXTRACT], "no spaces"),
    (lambda p, h: [START + p + DELIM + h + EXTRACT, START + h + DELIM + p + EXTRACT],
     "only similarity"),
    (lambda p, h: 1 / 0, "ZeroDivisionError"),
])
def test_entailment_hints(fn, hint):
    fb = ch08.check_entailment_transform(fn)
    assert not fb.passed and hint in fb.message, fb.message


@pytest.mark.parametrize("fn,hint", [
    (lambda c, a: None, "returns None"),
    (lambda c, a: [START + c + DELIM + DELIM.join(a) + EXTRACT], "packed into one sequence"),
    (lambda c, a: [START + x + DELIM + c + EXTRACT for x in a], "answer comes after the context"),
    (lambda c, a: [START + c + DELIM + x for x in a], "extract token"),
    (lambda c, a: [START + c + DELIM + x + EXTRACT for x in a[:2]], "expected 3 sequences"),
    (lambda c, a: "".join(START + c + DELIM + x + EXTRACT for x in a), "list of str"),
])
def test_multiple_choice_hints(fn, hint):
    fb = ch08.check_multiple_choice(fn)
    assert not fb.passed and hint in fb.message, fb.message


@pytest.mark.parametrize("fn,hint", [
    (lambda l2, l1, lam: None, "returns None"),
    (lambda l2, l1, lam: l1 + lam * l2, "not the task loss"),
    (lambda l2, l1, lam: lam * (l1 + l2), "multiplies L1 only"),
    (lambda l2, l1, lam: l1 + l2, "ignored λ"),
    (lambda l2, l1, lam: l2 - lam * l1, "expected"),
    (lambda l2, l1, lam: "loss", "0-d tensor"),
])
def test_combined_loss_hints(fn, hint):
    fb = ch08.check_combined_loss(fn)
    assert not fb.passed and hint in fb.message, fb.message
