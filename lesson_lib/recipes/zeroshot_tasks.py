"""Recipe ``zeroshot-tasks``: chapter 09's model, which meets its tasks only as text.

A character-level GPT-2-style model (pre-norm, final LayerNorm, scaled
residual init) trained with the plain language-modelling objective on
``lesson_lib.zeroshot``'s corpus: Shakespeare lines with task sentences
slipped in (Radford et al. 2019, §2), a freshly generated passage every
step. Measured afterwards: zero-shot exact-match accuracy on held-out
words, per task, with the task named in the prompt and with the no-task
control. The query and key projections start at std 0.1
(``lesson_lib.gpt.sharpen_attention_init``), which shortens the plateau
before the copying heads form::

    python -m lesson_lib.pretrained build zeroshot-tasks

Left out: the scale of GPT-2; the settings train in minutes on two cores.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .. import zeroshot
from ..checkpoints import CHECKPOINT_DIR, save
from ..data import load_corpus
from ..gpt import GPT, GPTConfig, sharpen_attention_init
from ..tokenizers import CharTokenizer
from ..train import ProgressBar, TrainConfig, train
from .registry import RecipeRun, recipe

QK_INIT_STD = 0.1  # initial std of the query and key projections (GPT-2 uses 0.02 everywhere)
N_EVAL = 200  # held-out inputs per task


def _numbers(doc: dict) -> dict:
    scores = doc["meta"]["zero_shot_accuracy"]
    return {f"{task} {kind}": s[kind] for task, s in scores.items()
            for kind in ("task_prompt", "control")}


@recipe("zeroshot-tasks", shipped_in=CHECKPOINT_DIR, output="zeroshot-tasks.json",
        numbers=_numbers,
        tolerance={"*": (0.08, "2 binomial standard errors on 200 held-out words at p = 0.5 "
                               "(0.071), rounded up")})
def zeroshot_tasks(out_dir: Path, smoke: bool = False) -> Path:
    """Chapter 09's model: LM objective only, tasks met as text (about 12 min on 2 CPUs)."""
    with RecipeRun("zeroshot-tasks", smoke) as run:
        tok = CharTokenizer.from_text(load_corpus())  # the corpus characters cover the tasks
        torch.manual_seed(1337)  # weight initialisation
        size = dict(n_layer=1, n_head=2, n_embd=32) if smoke else \
            dict(n_layer=3, n_head=4, n_embd=128)
        model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=96, dropout=0.0,
                              norm_first=True, **size))
        sharpen_attention_init(model, QK_INIT_STD)
        config = TrainConfig(max_iters=5 if smoke else 4000, batch_size=32, block_size=96,
                             lr=3e-3, min_lr=3e-4, warmup_iters=2 if smoke else 100,
                             weight_decay=0.1, eval_interval=500, eval_iters=2 if smoke else 10,
                             seed=1337)
        train_batch = zeroshot.batch(tok, config.block_size, config.batch_size)
        history = train(model, train_batch, train_batch, config,
                        [ProgressBar("zeroshot-tasks")])
        n = 10 if smoke else N_EVAL
        scores = {task: {"task_prompt": zeroshot.zero_shot_accuracy(model, tok, task, n, seed=1),
                         "control": zeroshot.zero_shot_accuracy(model, tok, task, n, seed=1,
                                                                control=True)}
                  for task in zeroshot.TASKS}
        meta = run.meta(train_config=asdict(config),
                        n_params=model.num_params(non_embedding=False),
                        corpus="lesson_lib.zeroshot.batch: fresh passages, task sentences after "
                               f"{zeroshot.TASK_RATE:.0%} of the lines",
                        zero_shot_accuracy=scores,
                        eval=f"{n} held-out inputs per task, seed=1, greedy",
                        history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    for task, s in scores.items():
        print(f"zeroshot-tasks: {task}: {s['task_prompt']:.1%} with the task named, "
              f"{s['control']:.1%} without")
    return save(model, tok, Path(out_dir) / "zeroshot-tasks", meta=meta)
