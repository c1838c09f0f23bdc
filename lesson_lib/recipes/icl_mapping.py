"""Recipe ``icl-mapping``: chapter 10's in-context learner.

A two-layer GPT trained on ``lesson_lib.icl``'s random symbol mappings, a
fresh rule per sequence (Brown et al. 2020, §1 and §2: the outer loop of
meta-learning), a freshly generated batch every step. Measured afterwards:
accuracy for k = 0, 1, 2, 4, 8 demonstrations on fresh prompts. The query
and key projections start at std 0.1, as in ``zeroshot-tasks``::

    python -m lesson_lib.pretrained build icl-mapping
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .. import icl
from ..checkpoints import CHECKPOINT_DIR, save
from ..gpt import GPT, GPTConfig, sharpen_attention_init
from ..tokenizers import CharTokenizer
from ..train import ProgressBar, TrainConfig, train
from .registry import RecipeRun, recipe
from .zeroshot_tasks import QK_INIT_STD

ICL_SHOTS = (0, 1, 2, 4, 8)  # the k of GPT-3's Figure 1.2 analogue
N_EVAL = 1000  # fresh prompts per k


@recipe("icl-mapping", shipped_in=CHECKPOINT_DIR, output="icl-mapping.json",
        numbers=lambda doc: {f"{k}-shot": v
                             for k, v in doc["meta"]["few_shot_accuracy"].items()},
        tolerance={"*": (0.04, "2 binomial standard errors on 1,000 fresh prompts at p = 0.5 "
                               "(0.032), rounded up")})
def icl_mapping(out_dir: Path, smoke: bool = False) -> Path:
    """Chapter 10's model: a fresh random mapping per sequence (about 4 min on 2 CPUs)."""
    with RecipeRun("icl-mapping", smoke) as run:
        tok = CharTokenizer.from_text(icl.ALPHABET)
        torch.manual_seed(0)  # weight initialisation
        model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=2 * icl.SEQ_PAIRS,
                              n_layer=1 if smoke else 2, n_head=2, n_embd=16 if smoke else 64,
                              dropout=0.0))
        sharpen_attention_init(model, QK_INIT_STD)
        config = TrainConfig(max_iters=5 if smoke else 15000, batch_size=32, lr=3e-3,
                             min_lr=3e-4, warmup_iters=2 if smoke else 100, weight_decay=0.1,
                             eval_interval=500, eval_iters=2 if smoke else 10, seed=0)
        train_batch = icl.batch(tok, config.batch_size)
        history = train(model, train_batch, train_batch, config, [ProgressBar("icl-mapping")])
        n = 20 if smoke else N_EVAL
        curve = {k: icl.few_shot_accuracy(model, tok, k, n_trials=n, seed=1) for k in ICL_SHOTS}
        meta = run.meta(train_config=asdict(config),
                        n_params=model.num_params(non_embedding=False),
                        task="lesson_lib.icl: random letter->digit mapping, fresh per prompt",
                        few_shot_accuracy={str(k): v for k, v in curve.items()},
                        eval=f"{n} fresh prompts per k, seed=1, greedy next token",
                        history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print("icl-mapping: " + ", ".join(f"{k}-shot {v:.1%}" for k, v in curve.items()))
    return save(model, tok, Path(out_dir) / "icl-mapping", meta=meta)
