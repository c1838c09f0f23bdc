"""The in-context-learning task: fresh rules, answers in the prompt, weights untouched."""
import pytest
import torch

from lesson_lib import icl
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.tokenizers import CharTokenizer


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_text(icl.ALPHABET)


def tiny_model(tok, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(tok.vocab_size, 64, 1, 2, 16))


def test_rule_is_one_to_one_letters_to_digits():
    rule = icl.make_rule(3)
    assert len(rule) == icl.N_KEYS
    assert all(x in icl.KEYS for x in rule) and all(y in icl.VALUES for y in rule.values())
    assert len(set(rule.values())) == len(rule)  # distinct digits: the map is a bijection


def test_fresh_rule_every_prompt():
    g = torch.Generator().manual_seed(0)
    rules = [tuple(sorted(icl.make_rule(g).items())) for _ in range(200)]
    assert len(set(rules)) == 200  # one generator: every draw a new rule
    across_seeds = {tuple(sorted(icl.make_rule(s).items())) for s in range(50)}
    assert len(across_seeds) == 50
    # the same letter means different digits in different prompts
    g = torch.Generator().manual_seed(1)
    digits = set()
    for _ in range(300):
        prompt, answer = icl.make_prompt(8, g)
        demos, query = icl.parse_prompt(prompt)
        digits |= {y for x, y in demos if x == "a"}
    assert len(digits) == 10


def test_same_seed_same_prompt():
    assert icl.make_prompt(4, 7) == icl.make_prompt(4, 7)
    assert icl.make_prompt(4, 7) != icl.make_prompt(4, 8)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_answer_is_determined_by_the_demonstrations(k):
    g = torch.Generator().manual_seed(k)
    for _ in range(100):
        prompt, answer = icl.make_prompt(k, g)
        demos, query = icl.parse_prompt(prompt)
        assert len(demos) == k
        assert len({x for x, _ in demos}) == k  # distinct letters
        assert dict(demos)[query] == answer  # the query's digit is shown in the prompt
        assert len({y for _, y in demos}) == k  # a bijection: no digit shared


def test_zero_shot_prompt_has_no_demonstration():
    g = torch.Generator().manual_seed(0)
    answers = []
    for _ in range(500):
        prompt, answer = icl.make_prompt(0, g)
        assert icl.parse_prompt(prompt) == ([], prompt[1])
        assert len(prompt) == 2
        answers.append(answer)
    counts = torch.bincount(torch.tensor([int(a) for a in answers]), minlength=10)
    assert counts.min() > 20  # the answer is spread over all ten digits: chance is 1/10


def test_prompt_format_round_trip():
    demos = [("q", "4"), ("c", "9"), ("x", "0")]
    text = icl.format_prompt(demos, "c")
    assert text == "|q4c9x0c"
    assert icl.parse_prompt(text) == (demos, "c")
    rule = {"a": "1", "b": "2"}
    prompt, answer = icl.make_prompt(2, 0, rule=rule)
    assert sorted(icl.parse_prompt(prompt)[0]) == [("a", "1"), ("b", "2")]
    assert answer == rule[icl.parse_prompt(prompt)[1]]


@pytest.mark.parametrize("bad", ["q4c", "|q4c9", "|q4cc", "|Q4c", "|q44c", "|", "|4"])
def test_parse_prompt_rejects_malformed(bad):
    with pytest.raises(ValueError, match="prompt|demonstration|query"):
        icl.parse_prompt(bad)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 8\], got 9"):
        icl.make_prompt(9, 0)
    with pytest.raises(ValueError, match="-1"):
        icl.make_prompt(-1, 0)
    with pytest.raises(TypeError, match="generator"):
        icl.make_prompt(2, "seed")
    with pytest.raises(ValueError, match="n_keys"):
        icl.make_rule(0, n_keys=11)


def test_training_sequence_and_batch(tok):
    seq = icl.make_sequence(0)
    assert len(seq) == 1 + 2 * icl.SEQ_PAIRS and seq[0] == icl.START
    pairs = [seq[i:i + 2] for i in range(1, len(seq), 2)]
    rule = {}
    for p in pairs:  # one rule throughout the sequence
        assert p[0] in icl.KEYS and p[1] in icl.VALUES
        assert rule.setdefault(p[0], p[1]) == p[1]
    first = icl.make_sequence(3, n_pairs=12, n_keys=5, distinct_first=True)
    assert len({first[i] for i in range(1, 11, 2)}) == 5  # every letter once, then repeats
    x, y = icl.batch(tok, batch_size=5)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 2 * icl.SEQ_PAIRS)
    kept = y[y != -100]
    assert set(tok.decode(kept.tolist())) <= set(icl.VALUES)  # only answer digits count
    assert (y != -100).sum(1).eq(icl.SEQ_PAIRS).all()
    assert torch.equal(x[:, 1:], torch.where(y[:, :-1] == -100, x[:, 1:], y[:, :-1]))
    # each kept target is the digit right after a letter of x
    letters = torch.tensor(tok.encode(icl.KEYS))
    assert torch.isin(x[y != -100], letters).all()


def test_few_shot_accuracy_leaves_weights_alone(tok):
    model = tiny_model(tok).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    acc = icl.few_shot_accuracy(model, tok, 4, n_trials=30, seed=1)
    assert isinstance(acc, float) and 0.0 <= acc <= 1.0
    assert model.training  # the mode is restored
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert acc == icl.few_shot_accuracy(model, tok, 4, n_trials=30, seed=1)  # reproducible


def test_few_shot_accuracy_counts_right_answers(tok):
    """A model that always answers from a lookup of the prompt scores 1; a constant scores ~0.1."""

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, idx, targets=None):
            logits = torch.zeros(*idx.shape, tok.vocab_size)
            for b, row in enumerate(idx.tolist()):
                demos, query = icl.parse_prompt(tok.decode(row))
                logits[b, -1, tok.encode(dict(demos).get(query, "0"))[0]] = 1.0
            return logits, None

    assert icl.few_shot_accuracy(Oracle(), tok, 3, n_trials=50) == 1.0
    assert icl.few_shot_accuracy(Oracle(), tok, 0, n_trials=300) < 0.25


def test_few_shot_accuracy_bad_input(tok):
    model = tiny_model(tok)
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 8\], got 12"):
        icl.few_shot_accuracy(model, tok, 12)
    with pytest.raises(ValueError, match="n_trials"):
        icl.few_shot_accuracy(model, tok, 2, n_trials=0)
    with pytest.raises(ValueError, match="cannot encode"):
        icl.few_shot_accuracy(model, CharTokenizer.from_text("abc"), 2)
    with pytest.raises(TypeError, match="nn.Module"):
        icl.few_shot_accuracy("model", tok, 2)
    short = GPT(GPTConfig(tok.vocab_size, 16, 1, 2, 16))
    with pytest.raises(ValueError, match="block_size=16"):
        icl.few_shot_accuracy(short, tok, 8)


def test_demonstration_attention_picks_the_matching_digit():
    prompts = ["|q4c9c", "|q4c9q"]
    T = len(prompts[0])
    attn = torch.zeros(1, 2, 3, T, T)  # (L, B, H, T, T)
    attn[0, 0, 0, -1, 4] = 1.0  # head 0 reads the digit of 'c9' in prompt 0
    attn[0, 1, 0, -1, 2] = 1.0  # and the digit of 'q4' in prompt 1
    attn[0, :, 1, -1, 0] = 1.0  # head 1 looks at the start mark
    attn[0, 0, 2, -1, 2] = 1.0  # head 2 reads the other demonstration's digit
    attn[0, 1, 2, -1, 4] = 1.0
    score = icl.demonstration_attention(attn, prompts)  # (L, H)
    torch.testing.assert_close(score, torch.tensor([[1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="no demonstration"):
        icl.demonstration_attention(torch.zeros(1, 1, 1, 4, 4), ["|q4c"])
    with pytest.raises(ValueError, match="B=2"):
        icl.demonstration_attention(attn, prompts[:1])


def test_shipped_icl_model_learns_in_context():
    from lesson_lib import pretrained

    names = [n for n in pretrained.list_checkpoints() if "icl" in n]
    assert names, "no shipped checkpoint has 'icl' in its name"
    model, tokenizer = pretrained.load(names[0])
    eight = icl.few_shot_accuracy(model, tokenizer, 8, n_trials=100, seed=123)
    zero = icl.few_shot_accuracy(model, tokenizer, 0, n_trials=100, seed=123)
    assert eight >= 0.9
    assert eight - zero >= 0.5
