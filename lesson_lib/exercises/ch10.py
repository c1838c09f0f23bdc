"""Chapter 10 checkers: a k-shot prompt maker, an induction-head score, per-token losses.

* ``check_prompt_maker``: ``fn(k, generator) -> (prompt, answer)`` in the
  format of ``lesson_lib.icl``, with a fresh rule per prompt and the query
  among the demonstrations.
* ``check_head_scores``: ``fn(attn, prompts) -> (L, H)``, the attention from
  the last position to the matching demonstration's digit, compared with
  ``lesson_lib.icl.demonstration_attention``.
* ``check_token_losses``: ``fn(logits, ids) -> (T - 1,)``, the next-token
  loss at every position, compared with ``F.cross_entropy``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lesson_lib import icl

from ._core import Feedback, checker, compare, failed, passed

__all__ = ["check_prompt_maker", "check_head_scores", "check_token_losses"]


@checker
def check_prompt_maker(fn) -> Feedback:
    """Exercise 1: ``fn(k, generator) -> (prompt, answer)``, answer determined by the demos."""
    if fn is None or not callable(fn):
        return failed("pass your function itself, e.g. check_prompt_maker(my_make_prompt)")
    g = torch.Generator().manual_seed(1234)
    rules = set()
    for k in (1, 2, 4, 8, 3, 5, 1, 8) * 6:
        out = fn(k, g)
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(s, str) for s in out)):
            return failed(f"return a pair of strings (prompt, answer), got {out!r:.80}")
        prompt, answer = out
        try:
            demos, query = icl.parse_prompt(prompt)
        except ValueError as err:
            return failed(f"{err}. Build the text with icl.format_prompt(demos, query)")
        if len(demos) != k:
            return failed(f"with k={k} your prompt {prompt!r} has {len(demos)} demonstrations")
        letters = [x for x, _ in demos]
        if len(set(letters)) != k:
            return failed(f"{prompt!r} shows a letter twice; draw k distinct letters")
        if len({y for _, y in demos}) != k:
            return failed(f"{prompt!r} maps two letters to one digit: the rule must be "
                          "one-to-one (draw distinct digits too)")
        if query not in letters:
            return failed(f"in {prompt!r} the query {query!r} is not among the demonstrations, "
                          "so nothing in the prompt determines the answer: pick the query "
                          "from the letters you showed")
        if answer != dict(demos)[query]:
            return failed(f"{prompt!r}: the answer should be {dict(demos)[query]!r}, the digit "
                          f"shown for {query!r}, not {answer!r}")
        rules.add(tuple(sorted(demos)))
    if len(rules) < 40:
        return failed(f"48 prompts used only {len(rules)} different rules: draw a fresh random "
                      "rule for every prompt (with the generator), or a model could memorise "
                      "the rules in its weights instead of reading them from the context")
    return passed("k distinct letters, a one-to-one rule drawn afresh each time, and a query "
                  "whose digit is in the prompt: only the context can answer it.")


def _attn_and_prompts(seed: int = 0, k: int = 4, n: int = 6):
    g = torch.Generator().manual_seed(seed)
    prompts = [icl.make_prompt(k, g)[0] for _ in range(n)]
    T = len(prompts[0])
    scores = torch.randn(2, n, 3, T, T, generator=g) * 2  # (L, B, H, T, T)
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(-1), prompts


@checker
def check_head_scores(fn) -> Feedback:
    """Exercise 2: ``fn(attn (L, B, H, T, T), prompts) -> (L, H)`` induction scores."""
    if fn is None or not callable(fn):
        return failed("pass your function itself, e.g. check_head_scores(head_scores)")
    attn, prompts = _attn_and_prompts()
    want = icl.demonstration_attention(attn, prompts)  # (L, H)
    got = fn(attn, prompts)
    if got is None:
        return failed("your function returned None: return a tensor (L, H)")
    got = torch.as_tensor(got)
    if got.shape != want.shape:
        return failed(f"return one score per layer and head, shape {tuple(want.shape)}; got "
                      f"{tuple(got.shape)} (average over the prompts, axis 1 of attn)")
    if compare(got, want, "your scores") is None:
        return passed("the head with the top score reads the digit of the matching "
                      "demonstration: the second half of an induction head.")
    digit, letter = _positions(prompts)
    B = len(prompts)
    last = attn[:, :, :, -1, :]  # (L, B, H, T)

    def at(cols):  # (L, H) mean weight on one column per prompt
        return torch.stack([last[:, b, :, cols[b]] for b in range(B)], 1).mean(1)

    if torch.allclose(got, at(letter), atol=1e-5):
        return failed("you scored the matching *letter*; an induction head reads the token "
                      "after it, the digit, since that is what it must copy")
    first = attn[:, :, :, 0, :]  # (L, B, H, T)
    if torch.allclose(got, torch.stack([first[:, b, :, digit[b]] for b in range(B)], 1)
                      .mean(1), atol=1e-5):
        return failed("you read row 0 of the map; the answer is predicted at the *last* "
                      "position, so take attn[..., -1, :]")
    return failed("for each prompt, find the demonstration whose letter equals the query "
                  "(icl.parse_prompt helps), take the weight that the last position puts on "
                  "its digit, and average over prompts")


def _positions(prompts):
    """Column of the matching digit and of the matching letter, per prompt."""
    digit, letter = [], []
    for p in prompts:
        demos, query = icl.parse_prompt(p)
        i = [x for x, _ in demos].index(query)
        letter.append(1 + 2 * i)  # '|' then two characters per demonstration
        digit.append(2 + 2 * i)
    return digit, letter


@checker
def check_token_losses(fn) -> Feedback:
    """Exercise 3: ``fn(logits (T, V), ids (T,)) -> (T - 1,)`` next-token losses."""
    if fn is None or not callable(fn):
        return failed("pass your function itself, e.g. check_token_losses(token_losses)")
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(12, 9, generator=g) * 2  # (T, V)
    ids = torch.randint(9, (12,), generator=g)  # (T,)
    want = F.cross_entropy(logits[:-1], ids[1:], reduction="none")  # (T - 1,)
    got = fn(logits, ids)
    if got is None:
        return failed("your function returned None: return a tensor of T - 1 losses")
    got = torch.as_tensor(got)
    if got.dim() == 0:
        return failed("you returned one number: keep one loss per position "
                      "(reduction='none'), the point is to see them side by side")
    if got.shape == (12,):
        same = F.cross_entropy(logits, ids, reduction="none")  # (T,)
        if torch.allclose(got, same, atol=1e-5):
            return failed("logits[t] predicts the *next* token ids[t + 1]; you scored it "
                          "against ids[t]. Drop the last logit and the first id")
        return failed("return T - 1 losses: the last position has no next token to score")
    bad = compare(got, want, "your losses")
    if bad is None:
        return passed("one loss per character; the training objective is their plain mean, "
                      "every position weighted the same.")
    probs = (-want).exp()
    if torch.allclose(got, 1 - probs, atol=1e-5) or torch.allclose(got, -probs, atol=1e-5):
        return failed("the loss is -log p(next token), not a probability: take the log")
    if torch.allclose(got, -logits[:-1].gather(1, ids[1:, None])[:, 0], atol=1e-5):
        return failed("-logit is not the loss: turn logits into log-probabilities first "
                      "(log_softmax over the vocabulary axis)")
    return bad
