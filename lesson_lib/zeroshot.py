"""Zero-shot tasks hidden in ordinary text: chapter 09's corpus and its evaluation.

GPT-2 (Radford et al. 2019, *Language Models are Unsupervised Multitask
Learners*, §2) argues that a language model trained on enough natural text
meets tasks *as text*: WebText contains sentences such as "'I'm not the
cleverest man in the world, but like they say in French: Je ne suis pas un
imbecile'", so predicting the next token already teaches translation, and
the task can later be named in the prompt, zero-shot, with no fine-tuning
(§3 evaluates it so on eight tasks).

This module builds a small corpus with that property. Lines of the shipped
Shakespeare corpus are interleaved with sentences in which a task happens
to be done (one after each line, a random task on a random word, so that a
small model meets them often enough to learn in minutes; on the web they
are rare)::

    Now, fair Hippolyta, our nuptial hour
    the word 'honour' in reverse: ruonoh.
    Draws on apace; four happy days bring in
    the first word of 'Another moon; but' is Another.
    Another moon; but, oh, methinks, how slow
    the word 'slow' in capitals: SLOW.

The model only ever sees the language-modelling objective on this text.
Three tasks, each with one phrasing (``TEMPLATES``):

=============  ========================================  =================
``reverse``    ``the word 'honour' in reverse: ruonoh.``  a word backwards
``capitals``   ``the word 'honour' in capitals: HONOUR.`` a word in upper case
``first_word`` ``the first word of 'to be or not' is to.`` a fragment's first word
=============  ========================================  =================

**Held-out inputs.** The vocabulary of the corpus is split once (a hash of
the word, so the split never changes): about a third of the rare words
(at most 2 occurrences, 3 to 7 letters) are *held out*. Held-out words never
appear anywhere in the training text: not as task inputs, not inside a
quoted fragment, and no Shakespeare line that contains one is used. A word
and its reversal fall on the same side of the split (``live``/``evil``), so
reversing a training word never writes a held-out one. Zero-shot queries
(``queries``) use held-out words, and fragments of held-out lines.

**The control.** ``prompt(task, x, control=True)`` is the same input with
the task phrase taken out (``the word 'honour':``); if the model's answers
come from the task named in the prompt, the control should score near 0.

**The cross-score** (``cross_scores``) prompts each task phrase on its own
held-out inputs and scores the answers against *every* task's right answer
(does the reverse prompt write capitals?), so that a right answer can be
traced to the phrase; ``wilson_interval`` puts a 95% interval on each count.

Left out: the scale of GPT-2 (WebText's about 8 million documents, 40 GB
of text, and 1.5 B parameters), natural
variety of phrasing (one template per task here, so a small model learns it
in minutes), and tasks with open-ended answers.
"""
from __future__ import annotations

import functools
import random
import re
import zlib
from collections import Counter
from typing import Optional

import torch
from torch import nn

from .checks import check_int
from .data import corpus_lines

__all__ = ["TASKS", "TEMPLATES", "CONTROLS", "words_of", "solve", "heldout_words",
           "train_words", "train_lines", "heldout_fragments", "sentence", "prompt",
           "queries", "passage", "corpus_text", "batch", "complete", "zero_shot_accuracy",
           "cross_scores", "wilson_interval"]

TASKS = ("reverse", "capitals", "first_word")
# task -> (text before the input, text between input and answer); the answer ends with "."
TEMPLATES = {
    "reverse": ("the word '", "' in reverse: "),
    "capitals": ("the word '", "' in capitals: "),
    "first_word": ("the first word of '", "' is "),
}
# the same input with the task phrase taken out: the no-task control prompt
CONTROLS = {
    "reverse": ("the word '", "': "),
    "capitals": ("the word '", "': "),
    "first_word": ("the line '", "': "),  # "first word of" is the task phrase: drop it
}
MIN_LEN, MAX_LEN = 3, 7  # letters in a task word
HELDOUT_MAX_COUNT = 2  # only words this rare can be held out
HELDOUT_BUCKETS = 3  # one hash bucket in three of the rare words is held out
FRAGMENT_WORDS = (2, 5)  # a first-word fragment has this many words (inclusive)
TASK_RATE = 1.0  # chance that a task sentence follows each Shakespeare line


def words_of(text: str) -> list[str]:
    """The lowercase letter runs of ``text``: how the vocabulary split sees words.

    >>> words_of("O'er the hills, Romeo!")
    ['o', 'er', 'the', 'hills', 'romeo']
    """
    return re.findall(r"[a-z]+", text.lower())


def _first(text: str) -> str:
    m = re.match(r"[A-Za-z]+", text)
    if m is None:
        raise ValueError(f"{text!r} does not start with a letter; the first word is a letter run")
    return m.group(0)


def solve(task: str, x: str) -> str:
    """The right answer of ``task`` for input ``x``.

    >>> solve("reverse", "honour"), solve("capitals", "honour")
    ('ruonoh', 'HONOUR')
    >>> solve("first_word", "Now, fair Hippolyta")
    'Now'
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if not isinstance(x, str) or not x:
        raise ValueError(f"the input must be a non-empty str, got {x!r}")
    if task == "reverse":
        return x[::-1]
    if task == "capitals":
        return x.upper()
    return _first(x)


@functools.lru_cache(maxsize=1)
def _split() -> tuple[frozenset, tuple]:
    counts = Counter(w for line in corpus_lines() for w in words_of(line.text))
    eligible = sorted(w for w in counts if MIN_LEN <= len(w) <= MAX_LEN)

    def count(w):  # a word and its reversal are judged together
        return max(counts[w], counts.get(w[::-1], 0))

    def bucket(w):
        return zlib.crc32(min(w, w[::-1]).encode()) % HELDOUT_BUCKETS

    held = frozenset(w for w in counts if MIN_LEN <= len(w) <= MAX_LEN
                     and count(w) <= HELDOUT_MAX_COUNT and bucket(w) == 0)
    held |= frozenset(w[::-1] for w in held if w[::-1] in counts)
    train = tuple(w for w in eligible if w not in held and w[::-1] not in held)
    return held, train


def heldout_words() -> list[str]:
    """Words that never appear in the training text (sorted): the zero-shot inputs."""
    return sorted(w for w in _split()[0] if MIN_LEN <= len(w) <= MAX_LEN)


def train_words() -> list[str]:
    """Words the training corpus may use as task inputs (3 to 7 letters, sorted)."""
    return list(_split()[1])


@functools.lru_cache(maxsize=1)
def _lines() -> tuple[tuple, tuple]:
    held = _split()[0]
    train, heldout = [], []
    for line in corpus_lines():
        (heldout if any(w in held for w in words_of(line.text)) else train).append(line.text)
    return tuple(train), tuple(heldout)


def train_lines() -> list[str]:
    """Shakespeare lines free of held-out words, in corpus order."""
    return list(_lines()[0])


def _fragment(line: str, rng: random.Random) -> Optional[str]:
    """The first few words of ``line`` (None if it does not start with a letter)."""
    words = line.split()
    if not words or not words[0][:1].isalpha() or "'" in line:
        return None  # a quote inside the fragment would end it early
    n = rng.randint(*FRAGMENT_WORDS)
    return " ".join(words[:n]).rstrip(",;:.!?-")


def heldout_fragments() -> list[str]:
    """Fragments of held-out lines that contain a held-out word: first-word inputs."""
    held, rng, out = _split()[0], random.Random(0), []
    for line in _lines()[1]:
        frag = _fragment(line, rng)
        if frag and any(w in held for w in words_of(frag)) and frag not in out:
            out.append(frag)
    return out


def _template(task: str, control: bool) -> tuple[str, str]:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    return (CONTROLS if control else TEMPLATES)[task]


def sentence(task: str, x: str) -> str:
    """The training sentence in which ``task`` is done on ``x``.

    >>> sentence("reverse", "honour")
    "the word 'honour' in reverse: ruonoh."
    """
    before, between = _template(task, False)
    return f"{before}{x}{between}{solve(task, x)}."


def prompt(task: str, x: str, control: bool = False) -> tuple[str, str]:
    """``(prompt, answer)``: the sentence cut before its answer (or the control prompt).

    >>> prompt("capitals", "sweet")
    ("the word 'sweet' in capitals: ", 'SWEET')
    >>> prompt("capitals", "sweet", control=True)
    ("the word 'sweet': ", 'SWEET')
    """
    before, between = _template(task, control)
    return f"{before}{x}{between}", solve(task, x)


def queries(task: str, n: int, seed: int = 0) -> list[str]:
    """``n`` distinct held-out inputs for ``task`` (words, or fragments for first_word)."""
    _template(task, False)
    n = check_int("n", n, min=1)
    pool = heldout_fragments() if task == "first_word" else heldout_words()
    if n > len(pool):
        raise ValueError(f"n={n} is more than the {len(pool)} held-out inputs of {task!r}")
    return random.Random(seed).sample(pool, n)


def passage(rng: random.Random, n_lines: int = 12) -> str:
    """Consecutive training lines from a random place, with task sentences slipped in."""
    lines, words = _lines()[0], _split()[1]
    start = rng.randrange(len(lines) - n_lines)
    out = []
    for line in lines[start:start + n_lines]:
        out.append(line)
        if rng.random() < TASK_RATE:
            task = rng.choice(TASKS)
            if task == "first_word":
                frag = _fragment(rng.choice(lines), rng)
                if frag is None:
                    continue
                out.append(sentence(task, frag))
            else:
                out.append(sentence(task, rng.choice(words)))
    return "\n".join(out) + "\n"


def corpus_text(n_chars: int = 100_000, seed: int = 0) -> str:
    """At least ``n_chars`` characters of training text (same seed, same text)."""
    n_chars = check_int("n_chars", n_chars, min=1)
    rng, parts, total = random.Random(seed), [], 0
    while total < n_chars:
        parts.append(passage(rng))
        total += len(parts[-1])
    return "".join(parts)


def batch(tokenizer, block_size: int, batch_size: int):
    """A function ``generator -> (x, y)`` streaming fresh passages for ``train``.

    Each row is a new passage cut to ``block_size + 1`` characters: ``x`` is
    ``(B, T)``, ``y`` the same shifted by one. Every token counts in the loss.
    """
    def fn(generator: torch.Generator):
        rng = random.Random(int(torch.randint(2**62, (1,), generator=generator)))
        rows = []
        for _ in range(batch_size):
            text = passage(rng)
            while len(text) <= block_size:
                text += passage(rng)
            rows.append(tokenizer.encode(text[:block_size + 1]))
        ids = torch.tensor(rows)  # (B, T + 1)
        return ids[:, :-1], ids[:, 1:]  # (B, T), (B, T)

    return fn


@torch.no_grad()
def complete(model: nn.Module, tokenizer, prompts: list[str], max_new_tokens: int = 12,
             stop: str = ".\n") -> list[str]:
    """Greedy continuation of each prompt, cut before the first character of ``stop``.

    Prompts of equal length run as one batch. A newline is put in front of
    every prompt, so it starts a line as the training sentences do.
    """
    out: list[Optional[str]] = [None] * len(prompts)
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(i)
    for idx in groups.values():
        ids = torch.tensor([tokenizer.encode("\n" + prompts[i]) for i in idx])  # (B, T)
        gen = model.generate(ids, max_new_tokens, temperature=0)  # (B, T + new)
        for row, i in zip(gen[:, ids.shape[1]:].tolist(), idx):
            text = tokenizer.decode(row)
            cut = min((text.find(c) for c in stop if c in text), default=len(text))
            out[i] = text[:cut]
    return out


def zero_shot_accuracy(model: nn.Module, tokenizer, task: str, n: int = 100, seed: int = 0,
                       control: bool = False) -> float:
    """Exact-match accuracy of greedy answers on ``n`` held-out inputs of ``task``."""
    xs = queries(task, n, seed)
    pairs = [prompt(task, x, control) for x in xs]
    got = complete(model, tokenizer, [p for p, _ in pairs], max_new_tokens=MAX_LEN + 10)
    return sum(g == a for g, (_, a) in zip(got, pairs)) / n


def cross_scores(model: nn.Module, tokenizer, n: int = 100, seed: int = 0) -> dict:
    """``{phrase: {task: count}}``: greedy answers to each phrase that equal each task's answer.

    Row ``phrase`` prompts the trained phrasing of that task on its ``n``
    held-out inputs (``queries(phrase, n, seed)``); column ``task`` counts the
    answers equal to ``solve(task, x)``. The diagonal is the zero-shot score
    (times ``n``); off the diagonal, a count says how often a phrase wrote
    another task's answer. On a one-word input the first word is the word
    itself, so that column also counts plain copies.
    """
    out = {}
    for phrase in TASKS:
        xs = queries(phrase, n, seed)
        got = complete(model, tokenizer, [prompt(phrase, x)[0] for x in xs],
                       max_new_tokens=MAX_LEN + 10)
        out[phrase] = {task: sum(g == solve(task, x) for g, x in zip(got, xs)) for task in TASKS}
    return out


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes in ``n`` trials (95% for z = 1.96).

    Unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is not empty at
    k = 0: 0 right out of 100 still allows a rate of up to about 4%.

    >>> [round(v, 3) for v in wilson_interval(0, 100)]
    [0.0, 0.037]
    >>> [round(v, 3) for v in wilson_interval(50, 100)]
    [0.404, 0.596]
    """
    k, n = check_int("k", k, min=0), check_int("n", n, min=1)
    if k > n:
        raise ValueError(f"k={k} successes is more than n={n} trials")
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * (k * (n - k) / n + z * z / 4) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)
