"""Chapter 09 checkers: keeping held-out words out of the corpus, and GPT-2's size.

* ``check_leak_finder``: a function ``leaks(text, heldout) -> set`` that
  finds the held-out words a training text contains, whole words, case
  ignored (``lesson_lib.zeroshot.words_of`` is how the course splits words).
* ``check_param_count``: a function ``gpt2_params(vocab_size, block_size,
  n_layer, n_embd) -> int`` that counts a GPT-2's parameters, compared with
  ``GPT(...).num_params(non_embedding=False)`` built on the ``meta`` device
  (no memory is used).
"""
from __future__ import annotations

import numbers

import torch

from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.zeroshot import words_of

from ._core import Feedback, checker, failed, passed

__all__ = ["check_leak_finder", "check_param_count", "gpt2_reference_params"]

# (text, held-out words, the leaks) - each case catches one usual mistake
_LEAK_CASES = [
    ("the word 'honour' in reverse: ruonoh.", {"honour"}, {"honour"}),
    ("the word 'sweet' in capitals: HONOUR.", {"honour"}, {"honour"}),  # case
    ("Honour pricks me on.", {"honour"}, {"honour"}),  # capital first letter
    ("With all my heart.", {"art", "ear"}, set()),  # substrings are not words
    ("the word 'dishonour' in reverse: ruonohsid.", {"honour"}, set()),
    ("Thou art, O heart, my love.", {"art", "love", "hate"}, {"art", "love"}),
    ("", {"art"}, set()),
]


@checker
def check_leak_finder(fn) -> Feedback:
    """Exercise 1: ``fn(text, heldout) -> set`` of held-out words present in ``text``."""
    if fn is None or not callable(fn):
        return failed("pass your function itself, e.g. check_leak_finder(leaks)")
    for text, held, want in _LEAK_CASES:
        got = fn(text, set(held))
        if got is None:
            return failed("your function returned None: return the set of leaked words")
        if not isinstance(got, (set, frozenset, list, tuple)):
            return failed(f"return a set of words, got {type(got).__name__}")
        got = {str(w).lower() for w in got}
        if got == want:
            continue
        extra, missing = got - want, want - got
        if extra and any(w in text.lower() for w in extra) and not any(
                w in words_of(text) for w in extra):
            return failed(f"on {text!r} you report {sorted(extra)}, which only occur inside "
                          "longer words ('art' in 'heart'): compare whole words, e.g. with "
                          "words_of(text), not substrings")
        if missing and all(w in text for w in missing):
            return failed(f"on {text!r} you missed {sorted(missing)}, though it is there: "
                          "text.split() keeps punctuation attached (\"'honour'\" with its "
                          "quotes). Split into letter runs instead, e.g. with words_of(text)")
        if missing and any(w in text.lower() for w in missing):
            return failed(f"on {text!r} you missed {sorted(missing)}: the text writes it "
                          "with capitals. Lower-case the text before comparing "
                          "(words_of does this), or the capitals task leaks the word")
        return failed(f"on {text!r} with held-out {sorted(held)} you return {sorted(got)}, "
                      f"expected {sorted(want)}")
    return passed("whole words, any case: a corpus that passes this has no leaked test word, "
                  "so a right zero-shot answer cannot be a memorised one.")


def gpt2_reference_params(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """The parameter count of ``GPT`` for these sizes, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size, block_size, n_layer, max(1, n_embd // 64), n_embd))
    return model.num_params(non_embedding=False)


_SIZES = [(50257, 1024, 12, 768), (50257, 1024, 24, 1024), (65, 128, 4, 128), (100, 16, 1, 64)]


@checker
def check_param_count(fn) -> Feedback:
    """Exercise 2: ``fn(vocab_size, block_size, n_layer, n_embd) -> int`` parameters of a GPT-2."""
    if fn is None or not callable(fn):
        return failed("pass your function itself, e.g. check_param_count(gpt2_params)")
    for V, T, L, C in _SIZES:
        got = fn(V, T, L, C)
        if got is None:
            return failed("your function returned None: return the number of parameters")
        if isinstance(got, torch.Tensor):
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return failed(f"return an int, got {type(got).__name__}")
        want = gpt2_reference_params(V, T, L, C)
        if int(got) == want:
            continue
        diff = int(got) - want
        if diff == V * C:
            hint = ("you counted the output layer (lm_head) as its own V×C matrix, but GPT-2 "
                    "ties it to the token embedding: the same weights serve both")
        elif diff == -2 * C:
            hint = "you left out the final LayerNorm ln_f (a weight and a bias of size C)"
        elif diff == -4 * L * C:
            hint = "you left out the two LayerNorms per block (each a weight and a bias of size C)"
        elif diff == -(V * C + T * C):
            hint = "that is the non-embedding count: add the token (V×C) and position (T×C) tables"
        elif diff == -T * C:
            hint = "you left out the learned position table wpe (block_size × C)"
        elif diff < 0 and (-diff) % L == 0 and (-diff) // L in (4 * C + C + 4 * C + C, 9 * C,
                                                                  4 * C + C, 3 * C + C):
            hint = ("some biases are missing: each Linear has one (q, k, v and out: C each; "
                    "fc1: 4C; fc2: C)")
        else:
            hint = ("per block: 4 attention matrices C×C and the MLP C×4C and 4C×C, each with "
                    "a bias, plus 2 LayerNorms; then wte (V×C), wpe (T×C) and ln_f")
        return failed(f"for vocab={V}, block={T}, layers={L}, width={C} you count {int(got):,}, "
                      f"the model has {want:,} (off by {diff:+,}). {hint}")
    small = gpt2_reference_params(*_SIZES[0])
    return passed(f"GPT-2 small has {small:,} parameters; about {50257 * 768 / small:.0%} of "
                  "them are the token embedding, which the tied output layer reuses.")
