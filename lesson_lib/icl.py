"""In-context learning: a task whose rule changes with every prompt.

GPT-3 (Brown et al. 2020, *Language Models are Few-Shot Learners*, §2 and
Figure 2.1) names three ways of giving a model a task without touching its
weights: **zero-shot** (only the query), **one-shot** (one worked
demonstration, then the query) and **few-shot** (*k* demonstrations, then
the query). §1 and Figure 1.1 read this as meta-learning: an outer loop of
gradient descent over many tasks during pre-training, an inner loop that
happens inside the context window at inference, with no gradient at all.

To see the inner loop for real in a model trained in minutes, the task
here is one that weights cannot memorise, because its rule is drawn afresh
for every prompt:

**The random symbol mapping.** A rule maps ``N_KEYS = 8`` lowercase letters,
drawn at random from a..z, one-to-one onto 8 digits drawn at random from
0..9. A prompt is a start mark ``|``, then ``k`` demonstrations, each a
letter immediately followed by its digit (``k`` distinct letters), then a
query letter; the answer is the query's digit::

    k = 0:  |q              answer: a guess (chance is 1 in 10)
    k = 1:  |q4q            answer: 4       (q->4; q->?)
    k = 3:  |q4c9x0c        answer: 9       (q->4, c->9, x->0; c->?)

For ``k >= 1`` the query letter is always one of the demonstrated letters,
so the demonstrations determine the answer; for ``k = 0`` nothing does and
the best possible accuracy is chance, 1/10. Two prompts almost never share
a rule (there are C(26, 8) * 10!/2! = 2.8e12 rules), so a model that beats
chance must read the rule from its context. The format has no spaces or
arrows: every character is a letter or a digit, which keeps the sequences
short and the pattern a model must find as plain as possible.

**Training sequences** (``make_sequence``, ``batch``) are longer runs of
``SEQ_PAIRS`` pairs from one fresh rule of 2 to 8 letters, the letters drawn
with replacement; in half of them every letter of the rule first appears
once, as in a k-shot prompt, before any repeats::

    |q4c9q4x0c9c9q4...   (16 pairs: 33 characters, x and y of 32)

The loss counts the digits only (every other target is -100, which
``GPT.forward`` ignores): the letters are random, so predicting them teaches
nothing. The first time a letter appears its digit is a pure guess, which
teaches the model the 1-in-10 prior of the zero-shot case; every later
appearance is determined by the context, which teaches it to look back.
An *induction-style* lookup solves it: at the query, find the earlier copy
of the same letter and copy the digit after it. ``demonstration_attention``
scores, for every head, the attention from the query to that digit;
chapter 10 measures which heads of the shipped model do which step (its
two layers split the work: layer 0 finds the letter, layer 1 reads the
digit) and switches heads off to test them.

Left out: natural-language tasks, ambiguous demonstrations, label noise and
prompt-order effects; GPT-3 studies those, a toy this small would not.
"""
from __future__ import annotations

import numbers
import string
from typing import Optional

import torch
from torch import Tensor, nn

from .checks import check_int, is_int

__all__ = ["KEYS", "VALUES", "START", "N_KEYS", "ALPHABET", "SEQ_PAIRS", "make_rule",
           "format_prompt", "make_prompt", "parse_prompt", "make_sequence", "batch",
           "encode_prompts", "few_shot_accuracy", "demonstration_attention"]

KEYS = string.ascii_lowercase  # the letters a rule may use as inputs
VALUES = string.digits  # the digits a rule may use as outputs
START = "|"  # the first character of every prompt and training sequence
N_KEYS = 8  # letters per rule; k demonstrations use k distinct ones, so k <= N_KEYS
ALPHABET = START + KEYS + VALUES  # every character a prompt can contain
SEQ_PAIRS = 16  # pairs in one training sequence: 1 + 2 * 16 = 33 characters, x and y 32


def _generator(generator) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(0)
    if is_int(generator):
        return torch.Generator().manual_seed(int(generator))
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or an int seed, got "
                        f"{type(generator).__name__}")
    return generator


def _sample(pool: str, n: int, g: torch.Generator) -> list[str]:
    """``n`` distinct characters of ``pool`` in random order."""
    return [pool[int(i)] for i in torch.randperm(len(pool), generator=g)[:n]]


def make_rule(generator=None, n_keys: int = N_KEYS) -> dict[str, str]:
    """A fresh random one-to-one map from ``n_keys`` letters to ``n_keys`` digits.

    ``generator`` is a ``torch.Generator`` or an int seed::

        make_rule(0)  ->  {'x': '3', 'q': '7', ...}   (8 letters, 8 distinct digits)
    """
    check_int("n_keys", n_keys, min=1, max=len(VALUES))
    g = _generator(generator)
    return dict(zip(_sample(KEYS, n_keys, g), _sample(VALUES, n_keys, g)))


def format_prompt(demos: list[tuple[str, str]], query: str) -> str:
    """The prompt text for demonstrations ``[(letter, digit), ...]`` and a query letter.

    >>> format_prompt([("q", "4"), ("c", "9")], "c")
    '|q4c9c'
    >>> format_prompt([], "q")
    '|q'
    """
    return START + "".join(f"{x}{y}" for x, y in demos) + query


def make_prompt(k: int, generator=None, rule: Optional[dict] = None) -> tuple[str, str]:
    """``(prompt, answer)`` with ``k`` demonstrations of a fresh rule (or of ``rule``).

    For ``k >= 1`` the query is one of the ``k`` demonstrated letters, so the
    answer is in the prompt; for ``k = 0`` it is a letter of the rule and
    the answer cannot be known. ``generator``: a ``torch.Generator`` or int seed.
    """
    g = _generator(generator)
    rule = make_rule(g) if rule is None else rule
    if not isinstance(rule, dict) or not rule:
        raise TypeError(f"rule must be a non-empty dict letter -> digit, got {rule!r:.60}")
    k = check_int("k", k, min=0, max=len(rule))
    letters = list(rule)
    shown = [letters[int(i)] for i in torch.randperm(len(letters), generator=g)[:k]]
    pool = shown if k else letters
    query = pool[int(torch.randint(len(pool), (1,), generator=g))]
    return format_prompt([(x, rule[x]) for x in shown], query), rule[query]


def parse_prompt(prompt: str) -> tuple[list[tuple[str, str]], str]:
    """Inverse of ``format_prompt``: ``(demos, query)``.

    >>> parse_prompt("|q4c9c")
    ([('q', '4'), ('c', '9')], 'c')
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if not prompt.startswith(START) or len(prompt) % 2:
        raise ValueError(f"prompt {prompt!r} is not of the form '|a1b2q': the start mark "
                         f"{START!r}, pairs letter+digit, then one query letter")
    body = prompt[1:]
    demos = [(body[i], body[i + 1]) for i in range(0, len(body) - 1, 2)]
    for x, y in demos:
        if x not in KEYS or y not in VALUES:
            raise ValueError(f"demonstration {x + y!r} in {prompt!r} is not a lowercase "
                             "letter followed by a digit")
    if body[-1] not in KEYS:
        raise ValueError(f"query {body[-1]!r} in {prompt!r} is not one lowercase letter")
    return demos, body[-1]


def make_sequence(generator=None, n_pairs: int = SEQ_PAIRS, n_keys: int = N_KEYS,
                  distinct_first: bool = False) -> str:
    """A training sequence: ``n_pairs`` pairs of one fresh rule, letters with replacement.

    With ``distinct_first`` the rule's ``n_keys`` letters first appear once
    each, in random order, as the demonstrations of a prompt do; the later
    pairs repeat them. The sequence has ``1 + 2 * n_pairs`` characters:
    ``'|q4c9q4'`` for 3 pairs.
    """
    n_pairs = check_int("n_pairs", n_pairs, min=1)
    g = _generator(generator)
    rule = make_rule(g, n_keys)
    letters = list(rule)
    picks = torch.randint(len(letters), (n_pairs,), generator=g).tolist()
    if distinct_first:
        head = torch.randperm(len(letters), generator=g).tolist()
        picks = (head + picks)[:n_pairs]
    return START + "".join(letters[i] + rule[letters[i]] for i in picks)


def batch(tokenizer, batch_size: int = 32, n_pairs: int = SEQ_PAIRS,
          n_keys=(2, N_KEYS)):
    """A function ``generator -> (x, y)`` for ``lesson_lib.train.train``.

    Each call draws ``batch_size`` fresh rules and sequences: ``x`` is
    ``(B, T)`` with ``T = 2 * n_pairs``, ``y`` is ``x`` shifted by one with
    every target that is not an answer digit set to -100 (ignored).
    ``n_keys`` is the number of letters per rule, or a range ``(lo, hi)``
    drawn from per sequence: rules with few letters repeat them often, which
    makes looking back pay off early in training. Half the sequences show
    every letter once before any repeat (``distinct_first``), so that a
    match can lie at any distance, as in a k-shot prompt.
    """
    check_int("batch_size", batch_size, min=1)
    lo, hi = (n_keys, n_keys) if isinstance(n_keys, numbers.Integral) else tuple(n_keys)
    check_int("n_keys", lo, min=1, max=len(VALUES))
    check_int("n_keys", hi, min=lo, max=len(VALUES))
    _check_tokenizer(tokenizer)
    digit_ids = torch.tensor(tokenizer.encode(VALUES))  # (10,)

    def fn(generator: torch.Generator):
        sizes = torch.randint(lo, hi + 1, (batch_size,), generator=generator).tolist()
        distinct = (torch.rand(batch_size, generator=generator) < 0.5).tolist()
        seqs = [make_sequence(generator, n_pairs, n, d) for n, d in zip(sizes, distinct)]
        ids = torch.tensor([tokenizer.encode(s) for s in seqs])  # (B, T + 1)
        x, y = ids[:, :-1], ids[:, 1:].clone()  # (B, T), (B, T)
        y[~torch.isin(y, digit_ids)] = -100  # only the answer digits count
        return x, y

    return fn


def _check_tokenizer(tokenizer) -> None:
    if not hasattr(tokenizer, "encode") or not hasattr(tokenizer, "decode"):
        raise TypeError(f"tokenizer must have encode/decode, got {type(tokenizer).__name__}")
    try:
        ids = tokenizer.encode(ALPHABET)
    except ValueError as err:
        raise ValueError(f"the tokenizer cannot encode the task's characters {ALPHABET!r}: "
                         f"{err}; build it with CharTokenizer.from_text(icl.ALPHABET)") from None
    if len(ids) != len(ALPHABET):
        raise ValueError("the tokenizer must give one id per character of the task "
                         f"(got {len(ids)} ids for {len(ALPHABET)} characters)")


def encode_prompts(tokenizer, k: int, n_trials: int, seed: int = 0):
    """``n_trials`` fresh prompts with ``k`` demonstrations, encoded.

    Returns ``(ids (N, T), answers (N,), prompts, answer_strings)``; every
    prompt with the same ``k`` has the same length ``T = 2k + 2``.
    """
    _check_tokenizer(tokenizer)
    k = check_int("k", k, min=0, max=N_KEYS)
    n_trials = check_int("n_trials", n_trials, min=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, min=0))
    pairs = [make_prompt(k, g) for _ in range(n_trials)]
    prompts, answers = [p for p, _ in pairs], [a for _, a in pairs]
    ids = torch.tensor([tokenizer.encode(p) for p in prompts])  # (N, T)
    target = torch.tensor([tokenizer.encode(a)[0] for a in answers])  # (N,)
    return ids, target, prompts, answers


@torch.no_grad()
def few_shot_accuracy(model: nn.Module, tokenizer, k: int, n_trials: int = 200,
                      seed: int = 0) -> float:
    """Fraction of ``n_trials`` fresh ``k``-shot prompts whose greedy next token is the answer.

    Weights are never updated: the whole evaluation runs under ``no_grad`` in
    eval mode (the previous mode is restored). Same seed, same prompts.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a GPT), got {type(model).__name__}")
    ids, target, _, _ = encode_prompts(tokenizer, k, n_trials, seed)  # (N, T), (N,)
    block_size = getattr(getattr(model, "config", None), "block_size", ids.shape[1])
    if ids.shape[1] > block_size:
        raise ValueError(f"a {k}-shot prompt has {ids.shape[1]} tokens, more than the model's "
                         f"block_size={block_size}; use a smaller k")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for chunk, tgt in zip(ids.split(256), target.split(256)):  # (n, T), (n,)
            logits = model(chunk.to(device))[0]  # (n, T, V)
            correct += int((logits[:, -1].argmax(-1).cpu() == tgt).sum())
    finally:
        model.train(was_training)
    return correct / n_trials


def demonstration_attention(attn: Tensor, prompts: list[str]) -> Tensor:
    """Mean attention of each head from the last position to the matching digit.

    ``attn`` is ``(L, B, H, T, T)`` from ``GPT.forward(..., return_attn=True)``
    on prompts of one ``k >= 1``. For each prompt, the *matching
    demonstration* is the earlier ``x>d`` whose letter equals the query; the
    score is the weight the final position (where the answer is predicted)
    puts on that demonstration's digit. Returns ``(L, H)``: an induction
    head, which finds the earlier copy of the query and reads the token
    after it, scores near 1; a head that ignores the query scores about 1/T.

    Worked example: in ``'|q4c9c'`` the query ``c`` matches the second
    demonstration, whose digit ``9`` is at position 4, so the score of a
    head reads ``attn[layer, b, head, -1, 4]``.
    """
    if not isinstance(attn, Tensor) or attn.dim() != 5:
        raise ValueError(f"attn must be (L, B, H, T, T), got "
                         f"{tuple(attn.shape) if isinstance(attn, Tensor) else type(attn)}")
    if attn.shape[1] != len(prompts):
        raise ValueError(f"attn has B={attn.shape[1]} prompts but {len(prompts)} were given")
    cols = []
    for prompt in prompts:
        if len(prompt) != attn.shape[-1]:
            raise ValueError(f"prompt {prompt!r} has {len(prompt)} characters but the maps "
                             f"have T={attn.shape[-1]}")
        demos, query = parse_prompt(prompt)
        where = [i for i, (x, _) in enumerate(demos) if x == query]
        if not where:
            raise ValueError(f"prompt {prompt!r} has no demonstration of its query {query!r}")
        cols.append(2 + 2 * where[0])  # the matching digit: '|' then 2 characters per pair
    last = attn[:, :, :, -1, :]  # (L, B, H, T) the rows of the final position
    idx = torch.tensor(cols)[None, :, None, None].expand(*last.shape[:3], 1)  # (L, B, H, 1)
    return last.gather(3, idx)[..., 0].mean(1)  # (L, H)
