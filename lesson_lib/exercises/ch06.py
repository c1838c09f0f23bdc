"""Chapter 06 checkers: UTF-8 byte counts, one BPE merge step, encoding with a merge table.

Each checker runs the learner's function on fresh inputs, compares it with
Python's own UTF-8 encoder or with ``lesson_lib.tokenizers`` and, on a
mismatch, recognises the usual mistakes (characters counted instead of
bytes, a range boundary off by one, overlapping or right-to-left merges,
the last id dropped, merges replayed in the wrong order, code points used
instead of bytes) to name the one that was made.
"""
from __future__ import annotations

import numbers

from lesson_lib.tokenizers import BPETokenizer, merge

from ._core import Feedback, checker, failed, passed

__all__ = ["check_n_bytes", "check_merge", "check_encode"]

# one character from each side of every UTF-8 length boundary, plus everyday ones
_CHARS = ["a", " ", "\n", "\x7f", "\x80", "é", "ß", "\u07ff", "\u0800", "€", "中", "。",
          "\uffee", "\U00010000", "😀", "🤖", "\U0010ffff"]


def _utf8_rule(cp: int) -> str:
    if cp < 0x80:
        return "code points below U+0080 (ASCII) take 1 byte"
    if cp < 0x800:
        return "code points U+0080..U+07FF take 2 bytes (110xxxxx 10xxxxxx: 11 bits)"
    if cp < 0x10000:
        return "code points U+0800..U+FFFF take 3 bytes (16 bits of payload)"
    return "code points from U+10000 up (emoji, rare CJK) take 4 bytes (21 bits of payload)"


# ------------------------------------------------------------------ exercise 1
@checker
def check_n_bytes(fn) -> Feedback:
    """Exercise 1: ``fn(ch) -> int``, the number of UTF-8 bytes of one character."""
    got = [fn(ch) for ch in _CHARS]
    if all(g is None for g in got):
        return failed("your function returned None: return an int, the number of bytes")
    for ch, g in zip(_CHARS, got):
        if isinstance(g, bool) or not isinstance(g, numbers.Integral):
            return failed(f"for {ch!r} your function returned {g!r}; return an int")
    want = [len(ch.encode("utf-8")) for ch in _CHARS]
    if got == want:
        return passed("1 byte for ASCII, 2 up to U+07FF, 3 up to U+FFFF (most Chinese "
                      "characters), 4 beyond (emoji). A byte-level tokenizer starts from these.")
    if got == [1] * len(_CHARS):
        return failed("you counted characters, not bytes: every character came out as 1. "
                      "UTF-8 uses 1 to 4 bytes depending on the code point ord(ch)")
    for ch, g, w in zip(_CHARS, got, want):
        if g != w:
            cp = ord(ch)
            near = " (check < versus <= at the boundary)" if abs(g - w) == 1 and any(
                abs(cp - b) <= 1 for b in (0x80, 0x800, 0x10000)) else ""
            return failed(f"{ch!r} (U+{cp:04X}) takes {w} byte(s), you said {g}: "
                          f"{_utf8_rule(cp)}{near}")
    return failed("some byte counts are off")  # unreachable: got != want


# ------------------------------------------------------------------ exercise 2
_MERGE_CASES = [
    ([1, 2, 3, 1, 2], (1, 2), 4),
    ([7, 7, 7], (7, 7), 8),
    ([7, 7, 7, 7], (7, 7), 8),
    ([5, 1, 2], (1, 2), 9),
    ([1, 2], (1, 2), 3),
    ([2, 1, 2, 1], (1, 2), 6),
    ([3], (3, 3), 4),
    ([], (1, 2), 3),
    ([104, 105, 32, 104, 105, 33], (104, 105), 256),
]


def _no_skip(ids, pair, new_id):  # the pair's second id is visited again
    out, i = [], 0
    while i < len(ids):
        out.append(new_id if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair else ids[i])
        i += 1
    return out


def _drops_last(ids, pair, new_id):  # the loop stops one id early
    out, i = [], 0
    while i < len(ids) - 1:
        hit = (ids[i], ids[i + 1]) == pair
        out.append(new_id if hit else ids[i])
        i += 2 if hit else 1
    return out


def _first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [new_id] + ids[i + 2:]
    return list(ids)


_SKIP = ("after replacing a pair, neither of its ids may be looked at again. (Note that in "
         "a `for i in range(...)` loop, changing i inside the body skips nothing.)")
_WRONG_MERGES = [
    (lambda ids, p, n: merge(ids[::-1], p[::-1], n)[::-1],
     "you merged from the right; scan left to right, so 7 7 7 becomes [new, 7]"),
    (_no_skip, f"the pair's second id was kept as well: {_SKIP}"),
    (lambda ids, p, n: [n] * (len(ids) - 1) if ids and set(ids) == set(p) else None,
     f"overlapping pairs were merged: {_SKIP}, so 7 7 7 becomes [new, 7]"),
    (_drops_last, "the last id is lost: an id that ends the list and is not part of the "
                  "pair must be kept"),
    (_first_only, "only the first occurrence was merged: replace every occurrence"),
    (lambda ids, p, n: merge(ids, p[::-1], n),
     "the pair is ordered: (a, b) means a then b, not b then a"),
]


@checker
def check_merge(fn) -> Feedback:
    """Exercise 2: ``fn(ids, pair, new_id) -> list``: every non-overlapping ``pair``,
    scanned left to right, becomes ``new_id``; ``ids`` itself is left unchanged."""
    for ids, pair, new_id in _MERGE_CASES:
        before = list(ids)
        got = fn(ids, pair, new_id)
        want = merge(before, pair, new_id)
        if got is None:
            return failed("your function returned None: build a new list and return it")
        if ids != before:
            return failed(f"your function changed its input {before} in place; leave ids "
                          "alone and return a new list")
        if not isinstance(got, (list, tuple)):
            return failed(f"return a list of ints, got {type(got).__name__}")
        got = list(got)
        if got == want:
            continue
        shown = f"merge({before}, {pair}, {new_id}) gave {got}, expected {want}"
        hint = next((h for wrong, h in _WRONG_MERGES if wrong(before, pair, new_id) == got),
                    "walk i along the list: if ids[i], ids[i+1] is the pair, append new_id "
                    "and move 2; otherwise append ids[i] and move 1")
        return failed(f"{shown}. {hint[0].upper()}{hint[1:]}")
    return passed("one merge step: every (a, b) becomes the new id, left to right, no "
                  "overlaps. Training repeats it with the most frequent pair each time.")


# ------------------------------------------------------------------ exercise 3
_TRAIN_TEXT = ("the cat sat on the mat; the rat ate the cheese. "
               "a café is not a cafe, and naïve is not naive. ") * 4
_ENCODE_TEXTS = ["the cat", "the theme of the mat", "café naïve", "aaabdaaabac", "", "x"]


def _wrong_encoders(merges):
    def codepoints(text):
        ids = [ord(c) for c in text]
        for pair, new in merges:
            ids = merge(ids, pair, new)
        return ids

    def reversed_order(text):
        ids = list(text.encode("utf-8"))
        for pair, new in reversed(merges):
            ids = merge(ids, pair, new)
        return ids

    def bytes_only(text):
        return list(text.encode("utf-8"))

    return [
        (bytes_only, "you returned the raw bytes: apply the merges to them"),
        (reversed_order, "merges must be replayed in the order they were learned (lowest new "
                         "id first): a later merge is built from the tokens of earlier ones"),
        (codepoints, "start from the UTF-8 bytes, text.encode('utf-8'), not from code points "
                     "ord(c): 'é' is the two bytes 195, 169"),
    ]


@checker
def check_encode(fn) -> Feedback:
    """Exercise 3: ``fn(text, merges) -> list``: UTF-8 bytes, then every learned merge
    ``((a, b), new_id)`` applied in training order."""
    tok = BPETokenizer.train(_TRAIN_TEXT, 256 + 40)
    merges = tok.merges
    for text in _ENCODE_TEXTS:
        got = fn(text, merges)
        want = tok.encode(text)
        if got is None:
            return failed("your function returned None: return the list of ids")
        if not isinstance(got, (list, tuple)):
            return failed(f"return a list of ints, got {type(got).__name__}")
        got = list(got)
        if got == want:
            continue
        for wrong, hint in _wrong_encoders(merges):
            if got == wrong(text):
                return failed(f"for {text!r} you returned {got}, expected {want}. "
                              f"{hint[0].upper()}{hint[1:]}")
        return failed(f"for {text!r} you returned {got}, expected {want}: start from "
                      "list(text.encode('utf-8')) and apply merge(ids, pair, new_id) for "
                      "each ((a, b), new_id) in merges, in order")
    if tok.decode(fn("the cat", merges)) != "the cat":
        return failed("your ids do not decode back to the text")  # pragma: no cover
    return passed("encoding replays the merges in the order they were learned; decoding "
                  "just joins each token's bytes. BPETokenizer.encode does the same with a "
                  "priority queue, so a long text costs far less than one pass per merge.")
