"""Recipe ``safety-base``: chapter 11's toy assistant that complies with every request.

``lesson_lib.safety``'s assistant trained on 20,000 requests over all 15
verbs, every one answered helpfully: the starting point of the chapter's
safety fine-tuning. Scored on held-out objects, 300 prompts per group::

    python -m lesson_lib.pretrained build safety-base
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .. import safety
from ..checkpoints import CHECKPOINT_DIR, save
from ..gpt import GPT, GPTConfig
from ..train import ProgressBar, TrainConfig, train
from .registry import RecipeRun, recipe


@recipe("safety-base", shipped_in=CHECKPOINT_DIR, output="safety-base.json",
        numbers=lambda doc: {f"{group} {k}": v for group, rates in doc["meta"]["heldout"].items()
                             for k, v in rates.items()},
        tolerance={"*": (0.03, "300 held-out prompts per group: the binomial standard error "
                               "of a rate near 0 or 1 is under 0.01")})
def safety_base(out_dir: Path, smoke: bool = False) -> Path:
    """The toy assistant that complies with every request (about 2 minutes)."""
    with RecipeRun("safety-base", smoke) as run:
        tok = safety.tokenizer()
        n_pairs = 200 if smoke else 20_000
        pairs = safety.make_pairs(n_pairs, safety.PAST, seed=0)  # every verb answered helpfully
        torch.manual_seed(0)  # weight initialisation
        model = GPT(GPTConfig(tok.vocab_size, block_size=48, n_layer=1 if smoke else 2,
                              n_head=4, n_embd=16 if smoke else 64))
        config = TrainConfig(max_iters=5 if smoke else 800, batch_size=32, lr=3e-3,
                             min_lr=3e-4, warmup_iters=2 if smoke else 30, eval_interval=10**6,
                             eval_iters=1, seed=0)
        train(model, safety.pair_batches(pairs, tok, 32, 48, answer_only=False), None, config,
              [ProgressBar("safety-base")])
        n_eval = 10 if smoke else 300
        scores = safety.evaluate(model.eval(), tok, n=n_eval)  # held-out objects
        meta = run.meta(train_config=asdict(config), heldout=scores,
                        data=f"{n_pairs:,} requests over all 15 verbs, every one answered "
                             "helpfully", eval=f"{n_eval} held-out prompts per group")
    print(f"safety-base: {scores}")
    return save(model, tok, Path(out_dir) / "safety-base", meta=meta)
