"""Fine-tuning a pre-trained GPT: GPT-1's input transformations and L3 = L2 + lambda*L1.

Radford et al. 2018, *Improving Language Understanding by Generative Pre-Training*:

* **Section 3.3, Figure 1.** ``input_transform`` turns a task's input into token
  sequences: a start token, the fields split by a delimiter, an extract token
  whose final hidden state feeds a linear layer. Similarity reads both orders
  (the states are added); multiple choice one sequence per answer.
* **Section 3.2.** Fine-tuning minimises ``L3 = L2 + lambda * L1`` (``L2`` the label
  loss, ``L1`` the LM loss on the same sequences, ``lambda = 0.5``).

The special tokens are new and "randomly initialized" (section 3.3):
``add_special_tokens`` appends ``START``, ``DELIM``, ``EXTRACT`` (characters
absent from the corpus) as ids V, V+1, V+2 with random embedding rows.
``make_task`` builds four labelled sets from the corpus, true labels and a
split by speech (no line in both train and test).

Left out: BPE, GPT-1's linear learning-rate decay (the shared loop's is
cosine), a separate question field for multiple choice, layer freezing.
"""
from __future__ import annotations

import dataclasses
import random
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_int, check_number
from .data import corpus_lines
from .gpt import GPT
from .tokenizers import CharTokenizer
from .train import TrainConfig, train

__all__ = ["START", "DELIM", "EXTRACT", "TASKS", "input_transform", "add_special_tokens",
           "Example", "TaskData", "make_task", "encode_examples", "GPTClassifier",
           "combined_loss", "FineTuneObjective", "finetune", "predict",
           "draw_input_transformations"]

START, DELIM, EXTRACT = "«", "|", "»"  # one character each, none of them in the corpus
TASKS = ("classification", "entailment", "similarity", "multiple_choice")
_N_FIELDS = dict(zip(TASKS, (1, 2, 2, 2)))


def _check_task(task) -> None:
    if not isinstance(task, str) or task not in _N_FIELDS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")


def input_transform(task: str, *fields) -> list[str]:
    """The token sequences of Figure 1 for one example, as strings.

    >>> input_transform("entailment", "To be", "or not")
    ['«To be|or not»']
    >>> input_transform("similarity", "a", "b")
    ['«a|b»', '«b|a»']
    >>> input_transform("multiple_choice", "Who?", ["I", "You"])
    ['«Who?|I»', '«Who?|You»']
    """
    _check_task(task)
    if len(fields) != _N_FIELDS[task]:
        raise TypeError(f"task {task!r} takes {_N_FIELDS[task]} field(s), got {len(fields)}")
    if task == "multiple_choice":
        if isinstance(fields[1], str) or not isinstance(fields[1], (list, tuple)) or not fields[1]:
            raise TypeError(f"multiple_choice answers must be a non-empty list of str, got "
                            f"{type(fields[1]).__name__} {fields[1]!r:.60}")
        fields = (fields[0], *fields[1])
    for f in fields:
        if not isinstance(f, str):
            raise TypeError(f"task {task!r}: every field must be a str, got {type(f).__name__}")
        if any(s in f for s in (START, DELIM, EXTRACT)):
            raise ValueError(f"field {f!r:.60} contains a special token {START}{DELIM}{EXTRACT}")
    if task == "classification":
        return [START + fields[0] + EXTRACT]
    if task == "similarity":
        a, b = fields
        return [START + a + DELIM + b + EXTRACT, START + b + DELIM + a + EXTRACT]
    return [START + fields[0] + DELIM + x + EXTRACT for x in fields[1:]]  # entailment, choice


def add_special_tokens(model: GPT, tokenizer: CharTokenizer, seed: int = 0):
    """``(model, tokenizer)`` with START, DELIM, EXTRACT appended as ids V, V+1, V+2."""
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"expected a CharTokenizer, got {type(tokenizer).__name__}")
    specials, V = [START, DELIM, EXTRACT], tokenizer.vocab_size
    if tokenizer.chars[-3:] == specials and model.config.vocab_size == V:
        return model, tokenizer  # already extended
    if any(s in tokenizer.stoi for s in specials):
        raise ValueError(f"the tokenizer already has one of {specials} as an ordinary character")
    if model.config.vocab_size != V:
        raise ValueError(f"model vocab_size={model.config.vocab_size} differs from the "
                         f"tokenizer's {V}; expected the pair that was trained together")
    new = GPT(dataclasses.replace(model.config, vocab_size=V + 3)).to(model.wte.weight.device)
    state, g = model.state_dict(), torch.Generator().manual_seed(seed)
    rows = torch.randn(3, model.config.n_embd, generator=g) * 0.02  # (3, C), GPT's init
    state["wte.weight"] = state["lm_head.weight"] = torch.cat(  # (V + 3, C), still tied
        [state["wte.weight"], rows.to(state["wte.weight"])])
    new.load_state_dict(state)
    return new.train(model.training), CharTokenizer(tokenizer.chars + specials)


# ------------------------------------------------------------------ data sets from the corpus

class Example(NamedTuple):
    """One labelled example: ``input_transform(task, *fields)`` and its label."""

    fields: tuple  # the arguments after the task name
    label: int  # class index; for multiple choice, the index of the right answer
    lines: tuple  # the corpus Lines it was built from (to check labels and leakage)


@dataclasses.dataclass
class TaskData:
    """A task's labelled examples, split by speech."""

    task: str  # one of TASKS
    train: list  # Examples from train speeches only
    test: list  # Examples from test speeches only
    label_names: tuple  # what each label means

    @property
    def chance(self) -> float:
        """Accuracy of always guessing the most common test label."""
        labels = [ex.label for ex in self.test]
        return max(labels.count(k) for k in set(labels)) / len(labels)


def _speeches(test_frac: float) -> dict:
    """Every speech (a list of Lines), as ``{"train": [...], "test": [...]}``: a speech
    is test when it starts in the last ``test_frac`` of its play's lines."""
    if not isinstance(test_frac, float) or not 0 < test_frac < 1:
        raise ValueError(f"test_frac must be a float in (0, 1), got {test_frac!r}")
    out, by_play = {"train": [], "test": []}, {}
    for ln in corpus_lines():
        by_play.setdefault(ln.play, []).append(ln)
    for lines in by_play.values():
        cut, first = int(len(lines) * (1 - test_frac)), 0
        for k in range(1, len(lines) + 1):  # a speech ends where the next line is not adjacent
            if k == len(lines) or lines[k].start != lines[k - 1].start + len(lines[k - 1].text) + 1:
                out["test" if first >= cut else "train"].append(lines[first:k])
                first = k
    return out


def _build(task, speeches, n, rng, plays, ok, n_choices):
    speeches = [s for s in speeches if s[0].play in plays]
    if task == "classification":
        pools = [[ln for s in speeches for ln in s if ln.play == p and ok(ln)] for p in plays]
        picks = [rng.sample(pool, min(len(pool), n // 2)) for pool in pools]
        return [Example((ln.text,), k, (ln,)) for k, pick in enumerate(picks) for ln in pick]
    by_play = {p: [(i, ln) for i, s in enumerate(speeches) for ln in s if ok(ln) and ln.play == p]
               for p in plays}
    pairs = [(i, s[j], s[j + 1]) for i, s in enumerate(speeches)
             for j in range(len(s) - 1) if ok(s[j]) and ok(s[j + 1])]
    if task == "similarity":
        pairs = [(i, a, b) for i, s in enumerate(speeches) for a in s for b in s
                 if a.start < b.start and ok(a) and ok(b)]

    def other(i, a, k):  # k lines of a's play from speeches other than speech i
        return [ln for _, ln in rng.sample([x for x in by_play[a.play] if x[0] != i], k)]

    out = []
    for m, (i, a, b) in enumerate(rng.sample(pairs, min(n, len(pairs)))):
        if task == "multiple_choice":
            answers = [b] + other(i, a, n_choices - 1)
            rng.shuffle(answers)
            out.append(Example((a.text, [x.text for x in answers]), answers.index(b),
                               (a, *answers)))
        else:
            label = m % 2  # balanced: positives and negatives alternate
            b = b if label else other(i, a, 1)[0]
            pair = (a, b) if task == "entailment" or rng.random() < 0.5 else (b, a)
            out.append(Example(tuple(x.text for x in pair), label, pair))
    return out


def make_task(task: str, n_train: int = 400, n_test: int = 200, seed: int = 0,
              plays: Sequence[str] = ("Hamlet", "A Midsummer Night's Dream"),
              test_frac: float = 0.2, min_chars: int = 20, max_chars: int = 60,
              n_choices: int = 4) -> TaskData:
    """A labelled data set for one of ``TASKS``, from the corpus with its true labels.

    * classification: a line; label = index of its play in ``plays``.
    * entailment: (line A, line B); 1 if B directly follows A in one speech, 0 if
      B is from another speech of the play. similarity: two lines; 1 if one speech.
    * multiple_choice: (line A, ``n_choices`` lines); label = index of A's next line.

    Only classification uses ``plays``. Lines outside [min_chars, max_chars] are skipped.
    """
    _check_task(task)
    all_plays = sorted({ln.play for ln in corpus_lines()})
    if task == "classification" and (len(plays) != 2 or not set(plays) <= set(all_plays)):
        raise ValueError(f"classification needs two plays of the corpus, got {list(plays)}; "
                         f"the corpus has {all_plays}")
    rng, split, data = random.Random(seed), _speeches(test_frac), {}
    ok = lambda ln: min_chars <= len(ln.text) <= max_chars  # noqa: E731
    use = list(plays) if task == "classification" else all_plays
    for part, n in (("train", n_train), ("test", n_test)):
        data[part] = _build(task, split[part], n, rng, use, ok, n_choices)
        if len(data[part]) < n:
            raise ValueError(f"only {len(data[part])} {part} examples available for {task}, "
                             f"asked for {n}; lower n_{part} or widen min/max_chars")
        rng.shuffle(data[part])
    names = {"classification": tuple(plays), "entailment": ("does not follow", "follows"),
             "similarity": ("different speeches", "same speech")}
    names = names.get(task, tuple(f"answer {k}" for k in range(n_choices)))
    return TaskData(task, data["train"], data["test"], names)


# ------------------------------------------------------------------ model, objective, training

def encode_examples(examples: Sequence[Example], task: str, tokenizer, pad_id: int = 0):
    """``(idx, labels)``: idx ``(N, T)`` for classification and entailment, ``(N, K, T)``
    for similarity (K = 2) and multiple choice, right-padded with ``pad_id`` after
    EXTRACT (a causal model never looks back from EXTRACT at the padding)."""
    if any(s not in getattr(tokenizer, "stoi", {}) for s in (START, DELIM, EXTRACT)):
        raise ValueError("the tokenizer has no START/DELIM/EXTRACT ids; extend it (and the "
                         "model) first with add_special_tokens(model, tokenizer)")
    groups = [[tokenizer.encode(s) for s in input_transform(task, *ex.fields)] for ex in examples]
    if not groups or len({len(g) for g in groups}) != 1:
        raise ValueError(f"expected examples with the same number of sequences each, got "
                         f"{len(groups)} examples with {sorted({len(g) for g in groups})}")
    T = max(len(ids) for g in groups for ids in g)
    idx = torch.full((len(groups), len(groups[0]), T), pad_id, dtype=torch.long)  # (N, K, T)
    for n, k, ids in ((n, k, ids) for n, g in enumerate(groups) for k, ids in enumerate(g)):
        idx[n, k, :len(ids)] = torch.tensor(ids)
    labels = torch.tensor([ex.label for ex in examples])  # (N,)
    return (idx[:, 0] if task in ("classification", "entailment") else idx), labels


class GPTClassifier(nn.Module):
    """A GPT plus GPT-1's linear head ``W_y`` on the final state at the EXTRACT token.

    ``forward(idx) -> (label_logits (B, n_classes) or (B, K), lm_loss)``; idx is
    ``(B, T)``, ``(B, 2, T)`` for similarity (the two orders' states are added)
    or ``(B, K, T)`` for multiple choice (one score per answer). ``extract_id``
    defaults to the last id, where ``add_special_tokens`` puts EXTRACT."""

    def __init__(self, gpt: GPT, task: str, n_classes: int = 2, extract_id: int | None = None,
                 dropout: float = 0.1):
        super().__init__()
        _check_task(task)
        n_classes = check_int("n_classes", n_classes, min=2)
        self.gpt, self.task = gpt, task
        self.extract_id = gpt.config.vocab_size - 1 if extract_id is None else extract_id
        self.drop = nn.Dropout(dropout)  # GPT-1 section 4.1: dropout 0.1 on the classifier
        self.head = nn.Linear(gpt.config.n_embd, 1 if task == "multiple_choice" else n_classes)

    def forward(self, idx: Tensor):
        want = "(B, T)" if self.task in ("classification", "entailment") else "(B, K, T)"
        shape = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
        if not isinstance(idx, Tensor) or idx.dim() != len(want.split(",")) or \
                (self.task == "similarity" and idx.shape[1] != 2):
            raise ValueError(f"{self.task} expects idx {want} (K = 2 for similarity's two "
                             f"orders), got {shape}")
        B, T = idx.shape[0], idx.shape[-1]
        flat = idx.reshape(-1, T)  # (N, T), N = B or B*K
        is_end = flat == self.extract_id  # (N, T)
        if not is_end.any(1).all():
            raise ValueError(f"every sequence needs an EXTRACT token (id {self.extract_id})")
        end = is_end.int().argmax(1)  # (N,) first EXTRACT position
        h = self.gpt.hidden_states(flat)  # (N, T, C)
        logits = self.gpt.lm_head(h[:, :-1])  # (N, T-1, V)
        targets = flat[:, 1:].masked_fill(torch.arange(1, T, device=idx.device) > end[:, None],
                                          -100)  # (N, T-1): no targets after EXTRACT
        lm_loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        feats = self.drop(h[torch.arange(len(flat), device=idx.device), end])  # (N, C)
        if self.task == "similarity":
            return self.head(feats.view(B, 2, -1).sum(1)), lm_loss  # (B, n_classes)
        if self.task == "multiple_choice":
            return self.head(feats).view(B, -1), lm_loss  # (B, K)
        return self.head(feats), lm_loss  # (B, n_classes)


def combined_loss(l2: Tensor, l1: Tensor, lam: float = 0.5) -> Tensor:
    """GPT-1's fine-tuning objective ``L3 = L2 + lam * L1`` (section 3.2).

    >>> combined_loss(torch.tensor(0.7), torch.tensor(1.2), lam=0.5)
    tensor(1.3000)
    """
    check_number("lam", lam, min=0)
    return l2 + lam * l1


class FineTuneObjective(nn.Module):
    """``objective(idx, labels) -> (label_logits, L3)``: the shape ``train`` expects."""

    def __init__(self, classifier: GPTClassifier, lam: float = 0.5):
        super().__init__()
        self.classifier, self.lam = classifier, lam

    def forward(self, idx: Tensor, labels: Tensor):
        label_logits, l1 = self.classifier(idx)
        l2 = F.cross_entropy(label_logits, labels)  # L2: the supervised loss
        return label_logits, combined_loss(l2, l1, self.lam)


def finetune(classifier: GPTClassifier, idx: Tensor, labels: Tensor, config: TrainConfig,
             lam: float = 0.5, callbacks=()) -> dict:
    """Fine-tune on ``(idx, labels)`` with ``lesson_lib.train.train``; returns its history."""
    if len(idx) != len(labels):
        raise ValueError(f"idx has {len(idx)} examples but labels has {len(labels)}")

    def batch(g):
        pick = torch.randint(len(labels), (config.batch_size,), generator=g)  # (B,)
        return idx[pick], labels[pick]

    return train(FineTuneObjective(classifier, lam), batch, None, config, callbacks)


@torch.no_grad()
def predict(classifier: GPTClassifier, idx: Tensor, batch_size: int = 64) -> Tensor:
    """Predicted labels (N,), in eval mode (no dropout)."""
    was, _ = classifier.training, classifier.eval()
    out = [classifier(idx[i:i + batch_size])[0].argmax(-1) for i in range(0, len(idx), batch_size)]
    classifier.train(was)
    return torch.cat(out)  # (N,)


# ------------------------------------------------------------------ Figure 1, drawn from real data

def draw_input_transformations(rows: dict, max_chars: int = 24):
    """Figure 1 (right) drawn from real sequences: ``rows`` maps a task to its
    ``input_transform`` strings. Each becomes Start/Text/Delim/Extract boxes ->
    Transformer -> Linear -> softmax. Returns a matplotlib Figure."""
    import re

    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    style = {START: (f"Start {START}", "#9fd89f"), DELIM: (f"Delim {DELIM}", "#f5c26b"),
             EXTRACT: (f"Extract {EXTRACT}", "#f08080")}
    n = sum(len(seqs) for seqs in rows.values()) + 0.5 * (len(rows) - 1)
    fig, ax = plt.subplots(figsize=(12, 0.45 * n + 0.8))
    plt.close(fig)  # returned, not shown: the caller displays it
    arrow = dict(arrowstyle="->", color="0.45")

    def box(x, y, w, text, color, **kw):  # a rounded box; returns its right edge
        ax.add_patch(FancyBboxPatch((x, y - 0.3), w, 0.6, boxstyle="round,pad=0.02", fc=color,
                                    ec="0.3", lw=0.8))
        ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=8, **kw)
        return x + w

    xt, y = 0.28 * max_chars + 5.8, n  # xt: the Transformer column
    for task, seqs in rows.items():
        ys = [y - k for k in range(len(seqs))]
        ym = sum(ys) / len(ys)
        ax.text(-0.3, ym, task.replace("_", " "), ha="right", va="center", weight="bold")
        for seq, yk in zip(seqs, ys):
            x = 0.0
            for part in filter(None, re.split(f"([{re.escape(''.join(style))}])", seq)):
                short = part if len(part) <= max_chars else part[:max_chars - 1] + "…"
                x = 0.08 + (box(x, yk, 1.2, *style[part]) if part in style else
                            box(x, yk, 0.14 * len(short) + 0.3, short, "#dde6f5",
                                family="monospace"))
            ax.annotate("", (xt, yk), (x, yk), arrowprops=arrow)
            box(xt, yk, 1.6, "Transformer", "#e8e8e8")
            ax.annotate("", (xt + 2.2, ym), (xt + 1.6, yk), arrowprops=arrow)
        box(xt + 2.2, ym, 3.4, {"similarity": "add, Linear, softmax", "multiple_choice":
                                "Linear (a score each),\nsoftmax over the K"}.get(
                                    task, "Linear, softmax"), "#c9b3e6")
        y -= len(seqs) + 0.5
    ax.set(xlim=(-3.0, xt + 5.8), ylim=(y + 1.0, n + 0.6),
           title="GPT-1's input transformations (Figure 1), built from real corpus lines")
    ax.axis("off")
    fig.tight_layout()
    return fig
