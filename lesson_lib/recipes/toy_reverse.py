"""Recipe ``toy-reverse``: chapter 05's encoder-decoder, trained to reverse a sequence.

The ``Transformer`` learns to reverse 4 to 10 symbols
(``lesson_lib.data.make_reverse_task``), one random length per batch, and
is scored by exact-match greedy decoding on fresh sequences from seeds the
training batches never use::

    python -m lesson_lib.pretrained build toy-reverse
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoints import CHECKPOINT_DIR, save
from ..data import make_reverse_task, reverse_batch
from ..train import ProgressBar, TrainConfig, train
from ..transformer import Seq2SeqLoss, Transformer, exact_match
from .registry import RecipeRun, recipe

N_TEST = 500  # held-out sequences per length


@recipe("toy-reverse", shipped_in=CHECKPOINT_DIR, output="toy-reverse.json",
        numbers=lambda doc: {"exact match": doc["meta"]["exact_match"]},
        tolerance={"exact match": (
            0.02, "7 lengths x 500 held-out sequences: the binomial standard error of an "
                  "exact-match rate near 0.98 is 0.002; 0.02 also allows for a different "
                  "training path on another thread count")})
def toy_reverse(out_dir: Path, smoke: bool = False) -> Path:
    """The chapter 05 encoder-decoder, trained to reverse 4-10 symbols (under 2 minutes)."""
    with RecipeRun("toy-reverse", smoke) as run:
        vocab_size, lengths = 13, tuple(range(4, 11))  # ids 0-2 are PAD/BOS/EOS, 3-12 symbols
        torch.manual_seed(0)  # weight initialisation
        size = dict(d_model=16, n_heads=2, n_layers=1, d_ff=32) if smoke else \
            dict(d_model=64, n_heads=4, n_layers=2, d_ff=256)
        model = Transformer(vocab_size, vocab_size, dropout=0.0, max_len=16, **size)
        config = TrainConfig(max_iters=5 if smoke else 1500, batch_size=64, lr=1e-3,
                             min_lr=1e-4, warmup_iters=2 if smoke else 100, weight_decay=0.01,
                             eval_interval=250, eval_iters=5, seed=0)
        batch = reverse_batch(config.batch_size, lengths, vocab_size)
        history = train(Seq2SeqLoss(model), batch, batch, config, [ProgressBar("toy-reverse")])
        scores = {}
        n_test = 20 if smoke else N_TEST
        for T in lengths:  # fresh sequences, a seed the training batches never use
            src, tgt = make_reverse_task(n_test, T, vocab_size, seed=10_000 + T)
            scores[T] = round(exact_match(model, src, tgt), 4)
        overall = sum(scores.values()) / len(scores)
        meta = run.meta(task="reverse", vocab_size=vocab_size, lengths=list(lengths),
                        train_config=asdict(config), n_test_per_length=n_test,
                        format="src: symbol ids 3..12 (no BOS/EOS); the decoder starts from "
                               "BOS=1 and ends with EOS=2; decode with "
                               "model.greedy_decode(src, T + 1, 1, 2)",
                        exact_match=round(overall, 4), exact_match_by_length=scores,
                        history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"toy-reverse: exact match {overall:.1%} on held-out sequences")
    return save(model, None, Path(out_dir) / "toy-reverse", meta=meta)
