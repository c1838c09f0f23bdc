"""Recipe ``noisy-data-runs``: chapter 10's clean-text and noisy-text language models.

GPT-3 §5 (and §2.2 on filtering Common Crawl): a model learns whatever its
text contains. Two identical small GPTs train for the same 400 steps, one
on the training part of the course corpus, one on the same text with a
fifth of its characters replaced at random and a spam line after every
eighth line (``noisy``); both are scored on the clean validation text.
The notebook reads the histories from ``assets/results/noisy_data_runs.json``;
its ``TRAIN_LIVE = True`` trains both there instead::

    python -m lesson_lib.pretrained build noisy-data-runs

Seed 0 is the chapter's run, kept in full; seeds 1 and 2 repeat both runs
from other initialisations and batches (on the same noisy text) and keep
their final losses
(``seeds``), so that the chapter can set the gap beside its spread. The
seeds run in two worker processes of one PyTorch thread each.

Left out: the weights (the chapter needs only the losses) and other noise
levels.
"""
from __future__ import annotations

import json
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoints import RESULTS_DIR, atomic_write_text
from ..data import load_corpus, train_val_split
from ..gpt import GPT, GPTConfig
from ..tokenizers import CharTokenizer
from ..train import TrainConfig, train
from .registry import RecipeRun, recipe

__all__ = ["noisy", "train_config", "GPT_SIZE", "run_all", "load_results"]

GPT_SIZE = dict(block_size=64, n_layer=2, n_head=4, n_embd=64)  # the same tiny GPT for both
SPAM = "BUY NOW!!! FREE GOLD, CLICK HERE!!! BEST DEAL!!!"
HISTORY_KEYS = ("iter", "train_loss", "val_loss", "seconds", "tokens_per_s")
SEEDS = (0, 1, 2)  # seed 0 is the chapter's run; 1 and 2 measure the spread
WORKERS = 2  # processes, one PyTorch thread each


def noisy(text: str, chars: str, rate: float = 0.2, spam_every: int = 8, seed: int = 0) -> str:
    """Replace a share ``rate`` of characters by random ones of ``chars``; add a spam line
    every ``spam_every`` lines. Example: ``noisy("ab", "xy", rate=0.0)`` is ``"ab\\n" + SPAM``."""
    rng = random.Random(seed)
    out = []
    for i, line in enumerate(text.splitlines()):
        out.append("".join(rng.choice(chars) if rng.random() < rate else c for c in line))
        if i % spam_every == 0:
            out.append(SPAM)
    return "\n".join(out)


def train_config(smoke: bool = False, seed: int = 0) -> TrainConfig:
    """400 steps of 16 windows of 64 characters (4 steps for a smoke build)."""
    return TrainConfig(max_iters=4 if smoke else 400, batch_size=16, block_size=64, lr=3e-3,
                       min_lr=3e-4, warmup_iters=2 if smoke else 20, eval_interval=100,
                       eval_iters=2 if smoke else 10, seed=seed)


def run_all(seed: int = 0, smoke: bool = False) -> dict:
    """Train the clean and the noisy model from seed ``seed``; their histories."""
    text = load_corpus()
    tok = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text)
    if smoke:
        train_text, val_text = train_text[:20_000], val_text[:5_000]
    val_ids = torch.tensor(tok.encode(val_text))  # (N,)
    config = train_config(smoke, seed)
    runs = {}
    for name, t in (("clean", train_text), ("noisy", noisy(train_text, tok.chars))):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(tok.vocab_size, **GPT_SIZE))
        h = train(model, torch.tensor(tok.encode(t)), val_ids, config)
        runs[name] = {k: h[k] for k in HISTORY_KEYS}
    return {"seed": seed, "train_config": asdict(config), "gpt_size": GPT_SIZE,
            "noise": {"rate": 0.2, "spam_every": 8, "spam": SPAM}, "runs": runs}


def _run_seed(job) -> dict:
    """``run_all`` in a worker process, on one thread."""
    torch.set_num_threads(1)
    return run_all(*job)


def load_results(path=None) -> dict:
    """The shipped ``noisy_data_runs.json`` (or the one at ``path``)."""
    path = Path(path) if path is not None else RESULTS_DIR / "noisy_data_runs.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _numbers(doc: dict) -> dict:
    clean, dirty = (doc["runs"][k]["val_loss"][-1] for k in ("clean", "noisy"))
    return {"clean val loss": clean, "noisy val loss": dirty, "gap": dirty - clean}


@recipe("noisy-data-runs", shipped_in=RESULTS_DIR, output="noisy_data_runs.json",
        numbers=_numbers,
        tolerance={"*": (0.12, "range over seeds 0-2 (initialisation and batches): 0.03 nats "
                               "(clean), 0.06 (noisy), 0.07 (the gap)")})
def noisy_data_runs(out_dir: Path, smoke: bool = False) -> Path:
    """Chapter 10's clean and noisy runs, 3 seeds (a few minutes on 2 CPUs)."""
    jobs = [(seed, smoke) for seed in (SEEDS[:2] if smoke else SEEDS)]
    with RecipeRun("noisy-data-runs", smoke) as run:
        if smoke:  # seconds of work: starting processes would take longer
            docs = [run_all(*job) for job in jobs]
        else:
            with ProcessPoolExecutor(max_workers=WORKERS) as pool:
                docs = list(pool.map(_run_seed, jobs))
        doc = docs[0]
        doc["seeds"] = [{"seed": d["seed"], **_numbers(d)} for d in docs]
        doc.update(run.meta(workers=1 if smoke else WORKERS))
    n = _numbers(doc)
    print(f"noisy-data-runs: clean {n['clean val loss']:.3f}, noisy {n['noisy val loss']:.3f} "
          "nats/char on clean held-out text")
    return atomic_write_text(Path(out_dir) / "noisy_data_runs.json", json.dumps(doc, indent=1))
