"""Recipe ``shakespeare-char``: chapter 07's character-level GPT on the shipped corpus.

A GPT-2-style model (pre-norm) trained on the first 90% of
``assets/corpus/shakespeare.txt``; its loss is measured on the last 10%
(Macbeth and the end of King Lear), every non-overlapping window once::

    python -m lesson_lib.pretrained build shakespeare-char

Left out: hyper-parameter search (the settings below were chosen by hand).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoints import CHECKPOINT_DIR, save
from ..data import load_corpus, train_val_split
from ..gpt import GPT, GPTConfig
from ..tokenizers import CharTokenizer
from ..train import ProgressBar, TrainConfig, heldout_loss, train
from .registry import RecipeRun, recipe

QUICK_WINDOWS = 96  # heldout_loss(max_windows=...) of the quick check recorded in the meta


@recipe("shakespeare-char", shipped_in=CHECKPOINT_DIR, output="shakespeare-char.json",
        numbers=lambda doc: {"held-out nats/char": doc["meta"]["val_loss"]},
        tolerance={"held-out nats/char": (
            0.03, "seed spread: three seeds of a model this size on tiny-shakespeare "
                  "(bench/train_vs_nanogpt.py) gave 1.878-1.903 nats/char")})
def shakespeare_char(out_dir: Path, smoke: bool = False) -> Path:
    """A character-level GPT on the shipped corpus (about 8 minutes on two CPU cores)."""
    with RecipeRun("shakespeare-char", smoke) as run:
        text = load_corpus()
        tok = CharTokenizer.from_text(text)
        train_ids, val_ids = train_val_split(torch.tensor(tok.encode(text), dtype=torch.long))
        if smoke:
            val_ids = val_ids[:4096]
        torch.manual_seed(1337)  # weight initialisation
        size = dict(n_layer=1, n_head=2, n_embd=32) if smoke else \
            dict(n_layer=5, n_head=6, n_embd=192)
        model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, dropout=0.0, **size))
        config = TrainConfig(max_iters=5 if smoke else 1200, batch_size=32, block_size=128,
                             lr=2e-3, min_lr=1e-4, warmup_iters=2 if smoke else 100,
                             weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0,
                             eval_interval=300, eval_iters=2 if smoke else 10, seed=1337)
        history = train(model, train_ids, val_ids, config, [ProgressBar("shakespeare-char")])
        val = heldout_loss(model, val_ids, model.config.block_size)
        quick = heldout_loss(model, val_ids, model.config.block_size,
                             max_windows=QUICK_WINDOWS)
        meta = run.meta(train_config=asdict(config),
                        n_params=model.num_params(non_embedding=False),
                        val_loss=round(val, 4), val_text="last 10% of assets/corpus/"
                        "shakespeare.txt (non-overlapping windows of block_size characters)",
                        val_loss_quick=round(quick, 4), quick_windows=QUICK_WINDOWS,
                        train_tokens_per_s=round(history["tokens_per_s"]),
                        history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"shakespeare-char: held-out loss {val:.4f} nats/char")
    return save(model, tok, Path(out_dir) / "shakespeare-char", meta=meta)
