"""The zero-shot corpus: tasks computed right, held-out inputs never seen in training."""

import pytest
import torch

from lesson_lib import zeroshot as zs
from lesson_lib.data import load_corpus
from lesson_lib.tokenizers import CharTokenizer


@pytest.fixture(scope="module")
def text():
    return zs.corpus_text(300_000, seed=0)


@pytest.mark.parametrize("task,x,want", [
    ("reverse", "honour", "ruonoh"),
    ("reverse", "abc", "cba"),
    ("reverse", "level", "level"),
    ("capitals", "honour", "HONOUR"),
    ("capitals", "sweet", "SWEET"),
    ("first_word", "to be or not", "to"),
    ("first_word", "Now, fair Hippolyta", "Now"),
    ("first_word", "O", "O"),
])
def test_solve(task, x, want):
    assert zs.solve(task, x) == want


def test_solve_bad_input():
    with pytest.raises(ValueError, match="unknown task 'translate'"):
        zs.solve("translate", "word")
    with pytest.raises(ValueError, match="non-empty"):
        zs.solve("reverse", "")
    with pytest.raises(ValueError, match="letter"):
        zs.solve("first_word", "'tis")


def test_sentence_and_prompt_agree():
    for task, x in (("reverse", "honour"), ("capitals", "slow"), ("first_word", "Good my lord")):
        p, answer = zs.prompt(task, x)
        assert zs.sentence(task, x) == p + answer + "."
        control, same = zs.prompt(task, x, control=True)
        assert same == answer and x in control and control != p
    assert zs.sentence("first_word", "to be or not") == "the first word of 'to be or not' is to."


def test_heldout_words_never_in_training_text(text):
    held = set(zs.heldout_words())
    assert len(held) > 500
    seen = set(zs.words_of(text))
    assert not held & seen
    assert not held & set(zs.train_words())
    for line in zs.train_lines()[:5000]:
        assert not held & set(zs.words_of(line))


def test_reversal_of_a_training_word_is_never_held_out():
    held = set(zs.heldout_words())
    assert not {w[::-1] for w in zs.train_words()} & held


def test_heldout_fragments_are_unseen(text):
    frags = zs.heldout_fragments()
    assert len(frags) > 200
    held = set(zs.heldout_words())
    for frag in frags[:200]:
        assert f"'{frag}'" not in text
        assert set(zs.words_of(frag)) & held
        assert frag[0].isalpha()


def test_tasks_in_the_corpus_are_done_right(text):
    counts = dict.fromkeys(zs.TASKS, 0)
    for line in text.splitlines():
        for task, (before, between) in zs.TEMPLATES.items():
            if line.startswith(before) and between in line and line.endswith("."):
                x = line[len(before):line.index(between)]
                answer = line[line.index(between) + len(between):-1]
                if x and answer == zs.solve(task, x):
                    counts[task] += 1
                    break
    assert all(n > 300 for n in counts.values()), counts
    # and nothing else looks like a task sentence with a wrong answer
    for line in text.splitlines():
        if line.startswith("the word '") and "' in reverse: " in line:
            x, answer = line[len("the word '"):-1].split("' in reverse: ")
            assert answer == x[::-1]


def test_plain_lines_are_shakespeare(text):
    lines = set(load_corpus().splitlines())
    plain = [ln for ln in text.splitlines()
             if not any(ln.startswith(b) for b, _ in zs.TEMPLATES.values())]
    assert len(plain) > 1000
    assert all(ln in lines for ln in plain)


def test_corpus_is_reproducible():
    assert zs.corpus_text(5000, seed=3) == zs.corpus_text(5000, seed=3)
    assert zs.corpus_text(5000, seed=3) != zs.corpus_text(5000, seed=4)


def test_queries_are_heldout_and_distinct():
    for task in zs.TASKS:
        qs = zs.queries(task, 50, seed=1)
        assert len(set(qs)) == 50
        pool = zs.heldout_fragments() if task == "first_word" else zs.heldout_words()
        assert set(qs) <= set(pool)
    with pytest.raises(ValueError, match="held-out inputs"):
        zs.queries("reverse", 10**6)
    with pytest.raises(ValueError, match="unknown task"):
        zs.queries("sort", 3)


def test_batch_shapes_and_shift():
    tok = CharTokenizer.from_text(load_corpus())
    x, y = zs.batch(tok, 32, 4)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 32)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_complete_and_accuracy_with_an_oracle():
    """A 'model' that writes the right answer scores 1 on its task and 0 on the control."""
    tok = CharTokenizer.from_text(load_corpus())

    class Oracle(torch.nn.Module):
        def generate(self, idx, max_new_tokens, temperature=0):
            rows = []
            for row in idx.tolist():
                text = tok.decode(row)[1:]
                answer = ""
                for task, (before, between) in zs.TEMPLATES.items():
                    if text.startswith(before) and text.endswith(between):
                        answer = zs.solve(task, text[len(before):-len(between)])
                out = (answer + ".\n" + "x" * max_new_tokens)[:max_new_tokens]
                rows.append(row + tok.encode(out))
            return torch.tensor(rows)

    for task in zs.TASKS:
        assert zs.zero_shot_accuracy(Oracle(), tok, task, n=20) == 1.0
        assert zs.zero_shot_accuracy(Oracle(), tok, task, n=20, control=True) == 0.0
    assert zs.complete(Oracle(), tok, ["the word 'ab' in reverse: ", "the word 'abc': "]) == \
        ["ba", ""]


def test_cross_scores_with_an_oracle():
    """An oracle scores n on the diagonal; off it, only where two tasks share an answer."""
    tok = CharTokenizer.from_text(load_corpus())

    class Oracle(torch.nn.Module):
        def generate(self, idx, max_new_tokens, temperature=0):
            rows = []
            for row in idx.tolist():
                text = tok.decode(row)[1:]
                for task, (before, between) in zs.TEMPLATES.items():
                    if text.startswith(before) and text.endswith(between):
                        answer = zs.solve(task, text[len(before):-len(between)])
                out = (answer + ".\n" + "x" * max_new_tokens)[:max_new_tokens]
                rows.append(row + tok.encode(out))
            return torch.tensor(rows)

    table = zs.cross_scores(Oracle(), tok, n=15, seed=0)
    assert list(table) == list(zs.TASKS)
    for phrase, row in table.items():
        assert row[phrase] == 15
        xs = zs.queries(phrase, 15, 0)
        for task, count in row.items():
            assert count == sum(zs.solve(phrase, x) == zs.solve(task, x) for x in xs)
    assert table["reverse"]["first_word"] == sum(x == x[::-1] for x in zs.queries("reverse", 15, 0))


@pytest.mark.parametrize("k, n", [(0, 1), (0, 100), (37, 100), (100, 100), (3, 7)])
def test_wilson_interval_contains_the_rate(k, n):
    lo, hi = zs.wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert hi - lo > 0


def test_wilson_interval_known_value_and_bad_input():
    lo, hi = zs.wilson_interval(50, 100)
    assert abs(lo - 0.4038) < 1e-3 and abs(hi - 0.5962) < 1e-3
    with pytest.raises(ValueError, match="more than"):
        zs.wilson_interval(5, 4)
