"""GPT-1 fine-tuning: input transformations, data sets from the corpus, the head and L3."""
import doctest

import pytest
import torch
import torch.nn.functional as F

import lesson_lib.finetune as ft
from lesson_lib.data import load_corpus, load_plays, play_of_offset
from lesson_lib.finetune import (
    DELIM,
    EXTRACT,
    START,
    TASKS,
    FineTuneObjective,
    GPTClassifier,
    add_special_tokens,
    combined_loss,
    encode_examples,
    finetune,
    input_transform,
    make_task,
    predict,
)
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.tokenizers import CharTokenizer
from lesson_lib.train import TrainConfig


@pytest.fixture(scope="module")
def tasks():
    return {t: make_task(t, n_train=60, n_test=40, seed=3) for t in TASKS}


@pytest.fixture(scope="module")
def base():
    torch.manual_seed(0)
    tok = CharTokenizer.from_text(load_corpus())
    gpt = GPT(GPTConfig(tok.vocab_size, 160, n_layer=2, n_head=2, n_embd=32))
    return gpt.eval(), tok


@pytest.fixture(scope="module")
def model(base):
    gpt, tok = add_special_tokens(*base)
    return gpt.eval(), tok


def test_docstring_examples_hold():
    result = doctest.testmod(ft)
    assert result.attempted >= 4 and result.failed == 0


# ---------------------------------------------------------------- input transformations

def test_special_tokens_are_single_characters_absent_from_the_corpus():
    text = load_corpus()
    for s in (START, DELIM, EXTRACT):
        assert len(s) == 1 and s not in text
    assert len({START, DELIM, EXTRACT}) == 3


def test_input_transform_exact_strings():
    assert input_transform("classification", "Hello there") == ["«Hello there»"]
    assert input_transform("entailment", "A man.", "A person.") == ["«A man.|A person.»"]
    assert input_transform("similarity", "one", "two") == ["«one|two»", "«two|one»"]
    assert input_transform("multiple_choice", "Q?", ["yes", "no", "maybe"]) == \
        ["«Q?|yes»", "«Q?|no»", "«Q?|maybe»"]
    assert input_transform("multiple_choice", "Q?", ("only",)) == ["«Q?|only»"]
    assert input_transform("classification", "") == ["«»"]


@pytest.mark.parametrize("args,err,words", [
    (("translation", "a"), ValueError, ["translation", "classification", "multiple_choice"]),
    (("classification", "a", "b"), TypeError, ["1 field", "got 2"]),
    (("entailment", "a"), TypeError, ["2 field", "got 1"]),
    (("similarity", "a", 3), TypeError, ["str", "int"]),
    (("multiple_choice", "ctx", "abc"), TypeError, ["list of str"]),
    (("multiple_choice", "ctx", []), TypeError, ["non-empty"]),
    (("multiple_choice", "ctx", ["a", 1]), TypeError, ["str", "int"]),
    (("entailment", "a|b", "c"), ValueError, ["special token"]),
])
def test_input_transform_errors(args, err, words):
    with pytest.raises(err) as info:
        input_transform(*args)
    for w in words:
        assert w in str(info.value)


# ---------------------------------------------------------------- special tokens

def test_add_special_tokens_keeps_old_ids_and_outputs(base, model):
    (old, tok), (new, tok2) = base, model
    V = tok.vocab_size
    assert tok2.encode(START + DELIM + EXTRACT) == [V, V + 1, V + 2]
    assert tok2.chars[:V] == tok.chars and new.config.vocab_size == V + 3
    x = torch.tensor([tok.encode("To be, or not to be")])  # (1, T)
    torch.testing.assert_close(new.hidden_states(x), old.hidden_states(x))
    torch.testing.assert_close(new(x)[0][..., :V], old(x)[0])
    assert new.lm_head.weight is new.wte.weight  # still tied
    assert add_special_tokens(new, tok2)[1] is tok2  # idempotent


def test_add_special_tokens_refuses_a_clash(base):
    gpt, _ = base
    with pytest.raises(ValueError, match="ordinary character"):
        add_special_tokens(gpt, CharTokenizer(["a", "b", DELIM]))


def test_hidden_states_feed_the_lm_head():
    for norm_first in (True, False):
        torch.manual_seed(1)
        gpt = GPT(GPTConfig(20, 8, 2, 2, 16, norm_first=norm_first)).eval()
        x = torch.randint(0, 20, (3, 8))
        torch.testing.assert_close(gpt.lm_head(gpt.hidden_states(x)), gpt(x)[0])
        with pytest.raises(ValueError, match="block_size=8"):
            gpt.hidden_states(torch.zeros(1, 9, dtype=torch.long))


# ---------------------------------------------------------------- data sets

def _follows(a, b):
    return b.start == a.start + len(a.text) + 1


def _same_speech(a, b):
    lo, hi = sorted((a, b), key=lambda ln: ln.start)
    return "\n\n" not in load_corpus()[lo.start:hi.start]


def test_lines_are_real_corpus_lines(tasks):
    text = load_corpus()
    for data in tasks.values():
        for ex in data.train + data.test:
            for ln in ex.lines:
                assert text[ln.start:ln.start + len(ln.text) + 1] == ln.text + "\n"


def test_classification_labels_match_play_offsets(tasks):
    data = tasks["classification"]
    plays = {p["title"]: (p["start"], p["end"]) for p in load_plays()}
    for ex in data.train + data.test:
        (ln,) = ex.lines
        title = data.label_names[ex.label]
        assert play_of_offset(ln.start) == title == ln.play
        assert plays[title][0] <= ln.start < plays[title][1]
        assert ex.fields == (ln.text,)


def test_entailment_positive_pairs_are_consecutive_lines(tasks):
    for ex in tasks["entailment"].train + tasks["entailment"].test:
        a, b = ex.lines
        assert ex.fields == (a.text, b.text)
        assert _follows(a, b) == bool(ex.label)
        if ex.label == 0:
            assert not _same_speech(a, b) and a.play == b.play


def test_similarity_labels_mean_same_speech(tasks):
    for ex in tasks["similarity"].train + tasks["similarity"].test:
        a, b = ex.lines
        assert ex.fields == (a.text, b.text)
        assert _same_speech(a, b) == bool(ex.label)


def test_multiple_choice_label_points_at_the_next_line(tasks):
    for ex in tasks["multiple_choice"].train + tasks["multiple_choice"].test:
        context, *answers = ex.lines
        assert len(answers) == 4 and ex.fields[1] == [a.text for a in answers]
        assert [_follows(context, a) for a in answers].count(True) == 1
        assert _follows(context, answers[ex.label])


def test_no_line_is_in_both_train_and_test(tasks):
    for data in tasks.values():
        train = {ln.start for ex in data.train for ln in ex.lines}
        test = {ln.start for ex in data.test for ln in ex.lines}
        assert train and test and not train & test


def test_test_speeches_come_from_the_end_of_each_play():
    split = ft._speeches(0.2)
    last_train = {}
    for speech in split["train"]:
        last_train[speech[0].play] = max(last_train.get(speech[0].play, 0), speech[-1].start)
    for speech in split["test"]:
        assert speech[0].start > last_train[speech[0].play]


def test_data_sets_are_deterministic_and_balanced(tasks):
    again = make_task("entailment", n_train=60, n_test=40, seed=3)
    assert again.train == tasks["entailment"].train and again.test == tasks["entailment"].test
    assert make_task("entailment", n_train=60, n_test=40, seed=4).train != again.train
    for t in ("classification", "entailment", "similarity"):
        labels = [ex.label for ex in tasks[t].test]
        assert labels.count(0) == labels.count(1) and tasks[t].chance == 0.5


def test_make_task_errors():
    with pytest.raises(ValueError, match="unknown task"):
        make_task("qa")
    with pytest.raises(ValueError, match="two plays of the corpus"):
        make_task("classification", plays=("Hamlet",))
    with pytest.raises(ValueError, match="'Tempest'.*the corpus has"):
        make_task("classification", plays=("Hamlet", "Tempest"))
    with pytest.raises(ValueError, match="only .* test examples"):
        make_task("classification", n_test=100_000)


# ---------------------------------------------------------------- encoding and the head

def test_encode_examples_shapes_and_round_trip(tasks, model):
    _, tok = model
    for task, K in (("classification", None), ("entailment", None), ("similarity", 2),
                    ("multiple_choice", 4)):
        examples = tasks[task].test[:5]
        idx, labels = encode_examples(examples, task, tok)
        assert idx.dim() == (2 if K is None else 3) and len(idx) == 5
        assert labels.tolist() == [ex.label for ex in examples]
        rows = idx if K is None else idx[0]
        seqs = input_transform(task, *examples[0].fields)
        for row, seq in zip(rows.reshape(-1, idx.shape[-1]), seqs):
            assert tok.decode(row[:len(seq)].tolist()) == seq


def test_encode_examples_needs_the_special_tokens(tasks, base):
    with pytest.raises(ValueError, match="add_special_tokens"):
        encode_examples(tasks["classification"].test, "classification", base[1])


@pytest.mark.parametrize("task,n_classes,K", [("classification", 3, None),
                                              ("entailment", 2, None),
                                              ("similarity", 2, 2), ("multiple_choice", 2, 4)])
def test_classifier_output_shapes(tasks, model, task, n_classes, K):
    gpt, tok = model
    clf = GPTClassifier(gpt, task, n_classes=n_classes).eval()
    idx, _ = encode_examples(tasks[task].test[:6], task, tok)
    logits, lm_loss = clf(idx)
    assert logits.shape == ((6, n_classes) if task != "multiple_choice" else (6, K))
    assert lm_loss.dim() == 0 and torch.isfinite(lm_loss)


def test_similarity_is_order_symmetric(tasks, model):
    gpt, tok = model
    clf = GPTClassifier(gpt, "similarity").eval()
    torch.nn.init.normal_(clf.head.weight)
    idx, _ = encode_examples(tasks["similarity"].test[:8], "similarity", tok)  # (8, 2, T)
    a, _ = clf(idx)
    b, _ = clf(idx.flip(1))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(clf.head(clf.gpt.hidden_states(idx[:, 0])[:, -1]), a)


def test_multiple_choice_scores_follow_the_answers(tasks, model):
    gpt, tok = model
    clf = GPTClassifier(gpt, "multiple_choice").eval()
    idx, _ = encode_examples(tasks["multiple_choice"].test[:4], "multiple_choice", tok)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(clf(idx[:, perm])[0], clf(idx)[0][:, perm])


def test_padding_after_extract_changes_nothing(tasks, model):
    gpt, tok = model
    clf = GPTClassifier(gpt, "entailment").eval()
    idx, _ = encode_examples(tasks["entailment"].test[:5], "entailment", tok)
    longer = torch.cat([idx, torch.zeros(5, 7, dtype=torch.long)], dim=1)  # more padding
    (a, la), (b, lb) = clf(idx), clf(longer)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(la, lb)


def test_lm_loss_is_gpt_loss_on_the_sequence(model):
    gpt, tok = model
    clf = GPTClassifier(gpt, "classification").eval()
    seqs = ["«To be, or not to be»", "«that is the question»", "«Who's there?»"]
    ids = [torch.tensor(tok.encode(s)) for s in seqs]
    idx = torch.zeros(3, max(map(len, ids)), dtype=torch.long)
    for i, row in enumerate(ids):
        idx[i, :len(row)] = row
    _, lm_loss = clf(idx)
    # reference: GPT.forward's loss on every next token of every unpadded sequence
    total = sum(gpt(r[None, :-1], r[None, 1:])[1] * (len(r) - 1) for r in ids)
    torch.testing.assert_close(lm_loss, total / sum(len(r) - 1 for r in ids))


def test_classifier_errors(model):
    gpt, _ = model
    with pytest.raises(ValueError, match="unknown task"):
        GPTClassifier(gpt, "qa")
    with pytest.raises(ValueError, match="n_classes"):
        GPTClassifier(gpt, "classification", n_classes=1)
    with pytest.raises(ValueError, match=r"\(B, K, T\)"):
        GPTClassifier(gpt, "similarity")(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"two\s+orders"):
        GPTClassifier(gpt, "similarity")(torch.zeros(2, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="EXTRACT"):
        GPTClassifier(gpt, "classification")(torch.zeros(2, 5, dtype=torch.long))


# ---------------------------------------------------------------- L3 and training

def test_l3_is_l2_plus_lambda_l1(tasks, model):
    gpt, tok = model
    clf = GPTClassifier(gpt, "entailment").eval()
    idx, labels = encode_examples(tasks["entailment"].test[:6], "entailment", tok)
    logits, l1 = clf(idx)
    l2 = F.cross_entropy(logits, labels)
    for lam in (0.0, 0.5, 2.0):
        _, l3 = FineTuneObjective(clf, lam)(idx, labels)
        torch.testing.assert_close(l3, l2 + lam * l1)
    assert combined_loss(torch.tensor(1.0), torch.tensor(3.0), 0.5).item() == 2.5
    with pytest.raises(ValueError, match="lam"):
        combined_loss(torch.tensor(1.0), torch.tensor(3.0), -1)


def test_finetune_learns_a_separable_task():
    tok = CharTokenizer(list("ab "))
    torch.manual_seed(0)
    gpt, tok = add_special_tokens(GPT(GPTConfig(tok.vocab_size, 16, 1, 2, 16)), tok)
    examples = [ft.Example(("a b a" if k % 2 else "b b a",), k % 2, ()) for k in range(32)]
    idx, labels = encode_examples(examples, "classification", tok)
    clf = GPTClassifier(gpt, "classification")
    config = TrainConfig(max_iters=40, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_iters=2,
                         eval_interval=100, eval_iters=1)
    history = finetune(clf, idx, labels, config, lam=0.5)
    assert history["step_loss"][-1] < history["step_loss"][0]
    assert (predict(clf, idx) == labels).all()
    assert clf.training  # predict restores the mode
