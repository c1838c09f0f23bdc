"""Chapter 10 checkers: the solutions pass, the usual mistakes get the right hint."""
import pytest
import torch
import torch.nn.functional as F

from lesson_lib import icl
from lesson_lib.exercises import ch10


def make_prompt_solution(k, g):
    letters = [icl.KEYS[int(i)] for i in torch.randperm(26, generator=g)[:k]]
    digits = [icl.VALUES[int(i)] for i in torch.randperm(10, generator=g)[:k]]
    query = letters[int(torch.randint(k, (1,), generator=g))]
    return icl.format_prompt(list(zip(letters, digits)), query), dict(zip(letters, digits))[query]


def query_anywhere(k, g):  # the query may be a letter that was never shown
    rule = icl.make_rule(g)
    shown = list(rule)[:k]
    query = list(rule)[int(torch.randint(len(rule), (1,), generator=g))]
    if query in shown:
        query = next(x for x in rule if x not in shown) if k < len(rule) else query
    return icl.format_prompt([(x, rule[x]) for x in shown], query), rule[query]


FIXED = icl.make_rule(0)


def same_rule(k, g):
    return icl.make_prompt(k, g, rule=FIXED)


def head_scores_solution(attn, prompts):
    return icl.demonstration_attention(attn, prompts)


def head_scores_letter(attn, prompts):
    out = []
    for b, p in enumerate(prompts):
        demos, q = icl.parse_prompt(p)
        i = [x for x, _ in demos].index(q)
        out.append(attn[:, b, :, -1, 1 + 2 * i])
    return torch.stack(out, 1).mean(1)


def token_losses_solution(logits, ids):
    return F.cross_entropy(logits[:-1], ids[1:], reduction="none")


def test_prompt_maker_solution_passes():
    assert ch10.check_prompt_maker(make_prompt_solution).passed
    assert ch10.check_prompt_maker(lambda k, g: icl.make_prompt(k, g)).passed


@pytest.mark.parametrize("wrong,hint", [
    (query_anywhere, "not among the demonstrations"),
    (same_rule, "fresh random rule"),
    (lambda k, g: ("q>4", "4"), "not of the form"),
    (lambda k, g: "|q>4 q>", "pair of strings"),
    (lambda k, g: (icl.make_prompt(k, g)[0], "x"), "the answer should be"),
    (None, "pass your function"),
])
def test_prompt_maker_mistakes_get_hints(wrong, hint):
    fb = ch10.check_prompt_maker(wrong)
    assert not fb.passed and hint in fb.message


def test_head_scores_solution_passes():
    assert ch10.check_head_scores(head_scores_solution).passed


@pytest.mark.parametrize("wrong,hint", [
    (head_scores_letter, "matching *letter*"),
    (lambda a, p: icl.demonstration_attention(a.transpose(-1, -2).contiguous(), p), "row 0"),
    (lambda a, p: a[:, 0, :, -1, 0], "average over prompts"),
    (lambda a, p: a[:, :, :, -1, 0].mean(1), "find the demonstration"),
    (lambda a, p: a.mean((1, 3, 4)).T, "shape"),
    (lambda a, p: None, "returned None"),
])
def test_head_scores_mistakes_get_hints(wrong, hint):
    fb = ch10.check_head_scores(wrong)
    assert not fb.passed and hint in fb.message


def test_token_losses_solution_passes():
    assert ch10.check_token_losses(token_losses_solution).passed


@pytest.mark.parametrize("wrong,hint", [
    (lambda lg, ids: F.cross_entropy(lg, ids, reduction="none"), "*next* token"),
    (lambda lg, ids: F.cross_entropy(lg[:-1], ids[1:]), "one number"),
    (lambda lg, ids: -lg.softmax(-1)[:-1].gather(1, ids[1:, None])[:, 0], "take the log"),
    (lambda lg, ids: -lg[:-1].gather(1, ids[1:, None])[:, 0], "log_softmax"),
    (lambda lg, ids: torch.zeros(12), "T - 1 losses"),
    (lambda lg, ids: None, "returned None"),
])
def test_token_losses_mistakes_get_hints(wrong, hint):
    fb = ch10.check_token_losses(wrong)
    assert not fb.passed and hint in fb.message
