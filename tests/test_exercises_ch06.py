"""Chapter 06 checkers: the solutions pass, the typical mistakes get the right hint."""
import pytest

from lesson_lib.exercises import ch06
from lesson_lib.tokenizers import BPETokenizer


# ------------------------------------------------------------------ exercise 1
def n_bytes_solution(ch):
    cp = ord(ch)
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def test_n_bytes_solution_passes():
    fb = ch06.check_n_bytes(n_bytes_solution)
    assert fb.passed, fb.message


def test_n_bytes_solution_matches_utf8_on_many_code_points():
    for cp in list(range(0, 0xD800, 97)) + list(range(0xE000, 0x110000, 1031)):
        assert n_bytes_solution(chr(cp)) == len(chr(cp).encode("utf-8"))


@pytest.mark.parametrize("wrong, words", [
    (lambda ch: 1, "counted characters"),
    (lambda ch: len(ch), "counted characters"),
    (lambda ch: 1 if ord(ch) <= 0x80 else n_bytes_solution(ch), "< versus <="),
    (lambda ch: min(n_bytes_solution(ch), 3), "4 bytes"),
    (lambda ch: 1 if ord(ch) < 0x80 else 2 if ord(ch) < 0x800 else 3 if ord(ch) < 0x10000 else 3,
     "U+10000"),
    (lambda ch: 1 if ord(ch) < 0x80 else 3, "U+0080..U+07FF"),
    (lambda ch: None, "None"),
    (lambda ch: "1", "return an int"),
    (lambda ch: ch.nope(), "raised AttributeError"),
])
def test_n_bytes_hints(wrong, words):
    fb = ch06.check_n_bytes(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 2
def merge_solution(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_no_skip(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        out.append(new_id if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair else ids[i])
        i += 1
    return out


def merge_overlapping(ids, pair, new_id):
    """Replaces every pair position, overlapping ones too, and drops the second ids."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 1 if i + 2 < len(ids) and ids[i + 1] == pair[0] else 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return list(ids[:i]) + [new_id] + list(ids[i + 2:])
    return list(ids)


def merge_from_right(ids, pair, new_id):
    return merge_solution(ids[::-1], pair[::-1], new_id)[::-1]


def merge_in_place(ids, pair, new_id):
    ids[:] = merge_solution(ids, pair, new_id)
    return ids


def test_merge_solution_passes():
    fb = ch06.check_merge(merge_solution)
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong, words", [
    (merge_no_skip, "second id was kept"),
    (merge_overlapping, "overlapping"),
    (merge_drops_last, "last id is lost"),
    (merge_first_only, "first occurrence"),
    (merge_from_right, "from the right"),
    (merge_in_place, "in place"),
    (lambda ids, pair, new_id: merge_solution(ids, pair[::-1], new_id), "pair is ordered"),
    (lambda ids, pair, new_id: None, "None"),
    (lambda ids, pair, new_id: "x", "list of ints"),
])
def test_merge_hints(wrong, words):
    fb = ch06.check_merge(wrong)
    assert not fb.passed
    assert words.lower() in fb.message.lower(), fb.message


# ------------------------------------------------------------------ exercise 3
def encode_solution(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        ids = merge_solution(ids, pair, new_id)
    return ids


def test_encode_solution_passes_and_matches_the_tokenizer():
    fb = ch06.check_encode(encode_solution)
    assert fb.passed, fb.message
    tok = BPETokenizer.train("to be or not to be, that is the question " * 5, 256 + 30)
    for text in ("to be", "question é 中", ""):
        assert encode_solution(text, tok.merges) == tok.encode(text)


@pytest.mark.parametrize("wrong, words", [
    (lambda text, merges: list(text.encode("utf-8")), "raw bytes"),
    (lambda text, merges: encode_solution(text, merges[::-1]), "order they were learned"),
    (lambda text, merges: [i for i in encode_solution("", merges)] + [ord(c) for c in text],
     "expected"),
    (lambda text, merges: None, "None"),
    (lambda text, merges: 3, "list of ints"),
])
def test_encode_hints(wrong, words):
    fb = ch06.check_encode(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


def test_encode_code_point_mistake_is_named():
    def from_code_points(text, merges):
        ids = [ord(c) for c in text]
        for pair, new_id in merges:
            ids = merge_solution(ids, pair, new_id)
        return ids

    fb = ch06.check_encode(from_code_points)
    assert not fb.passed
    assert "UTF-8 bytes" in fb.message, fb.message


def test_first_try_merge_hint_points_at_the_idea():
    fb = ch06.check_merge(merge_no_skip)
    assert not fb.passed and "while loop" not in fb.message and "i by 2" not in fb.message
