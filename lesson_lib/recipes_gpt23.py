"""Recipes of chapters 09 and 10: the zero-shot model and the in-context learner.

* ``zeroshot-tasks``: a character-level GPT-2-style model (pre-norm, final
  LayerNorm, scaled residual init) trained with the plain language-modelling
  objective on ``lesson_lib.zeroshot``'s corpus, Shakespeare lines with task
  sentences slipped in (Radford et al. 2019, §2). Measured afterwards:
  zero-shot exact-match accuracy on held-out words, per task, with the task
  named in the prompt and with the no-task control.
* ``icl-mapping``: a two-layer GPT trained on ``lesson_lib.icl``'s random
  symbol mappings, a fresh rule per sequence (Brown et al. 2020, §1 and
  §2: the outer loop of meta-learning). Measured afterwards: accuracy for
  k = 0, 1, 2, 4, 8 demonstrations on fresh prompts.

Both stream freshly generated sequences (``batch(generator) -> (x, y)``),
so no example is ever repeated, and both start their query and key
projections at std 0.1 instead of 0.02 (``_sharpen_attention_init``): the
copying heads these tasks need then form after a shorter plateau. ``python -m lesson_lib.pretrained build
zeroshot-tasks`` (or ``icl-mapping``) rebuilds one; the JSON ``meta`` holds
the settings, the numbers and the rebuild time.

Left out: the scale of either paper; the settings were chosen by hand to
train in a few minutes on two CPU cores.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .recipes import _clock, _meta, recipe

__all__ = ["zeroshot_tasks", "icl_mapping", "ICL_SHOTS"]

ICL_SHOTS = (0, 1, 2, 4, 8)  # the k of GPT-3's Figure 1.2 analogue
QK_INIT_STD = 0.1  # initial std of the query and key projections (GPT-2 uses 0.02 everywhere)


def _sharpen_attention_init(model, std: float) -> None:
    """Start the query and key projections larger than GPT-2's 0.02.

    With 0.02 every attention map starts almost uniform and the gradient that
    would sharpen it is tiny (it is a product of the two small matrices), so
    copying heads form only after a long plateau. Larger starting weights
    shorten the plateau; everything else keeps GPT-2's initialisation.
    """
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.normal_(block.attn.q_proj.weight, mean=0.0, std=std)
            torch.nn.init.normal_(block.attn.k_proj.weight, mean=0.0, std=std)


@recipe("zeroshot-tasks")
def zeroshot_tasks(out_dir: Path) -> Path:
    """Chapter 09's model: LM objective only, tasks met as text (a few minutes on 2 CPUs)."""
    from . import zeroshot
    from .data import load_corpus
    from .gpt import GPT, GPTConfig
    from .pretrained import save
    from .tokenizers import CharTokenizer
    from .train import ProgressBar, TrainConfig, train

    started = _clock()
    tok = CharTokenizer.from_text(load_corpus())  # the corpus characters cover the tasks too
    torch.manual_seed(1337)  # weight initialisation
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=3, n_head=4,
                          n_embd=128, dropout=0.0, norm_first=True))
    _sharpen_attention_init(model, QK_INIT_STD)
    config = TrainConfig(max_iters=4000, batch_size=32, block_size=96, lr=3e-3, min_lr=3e-4,
                         warmup_iters=100, weight_decay=0.1, eval_interval=500, eval_iters=10,
                         seed=1337)
    train_batch = zeroshot.batch(tok, config.block_size, config.batch_size)
    history = train(model, train_batch, train_batch, config, [ProgressBar("zeroshot-tasks")])
    scores = {task: {"task_prompt": zeroshot.zero_shot_accuracy(model, tok, task, 200, seed=1),
                     "control": zeroshot.zero_shot_accuracy(model, tok, task, 200, seed=1,
                                                            control=True)}
              for task in zeroshot.TASKS}
    meta = _meta("zeroshot-tasks", started, train_config=asdict(config),
                 n_params=model.num_params(non_embedding=False),
                 corpus="lesson_lib.zeroshot.batch: fresh passages, task sentences after "
                        f"{zeroshot.TASK_RATE:.0%} of the lines",
                 zero_shot_accuracy=scores, eval="200 held-out inputs per task, seed=1, greedy",
                 history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    for task, s in scores.items():
        print(f"zeroshot-tasks: {task}: {s['task_prompt']:.1%} with the task named, "
              f"{s['control']:.1%} without")
    return save(model, tok, Path(out_dir) / "zeroshot-tasks", meta=meta)


@recipe("icl-mapping")
def icl_mapping(out_dir: Path) -> Path:
    """Chapter 10's model: a fresh random mapping per sequence (a few minutes on 2 CPUs)."""
    from . import icl
    from .gpt import GPT, GPTConfig
    from .pretrained import save
    from .tokenizers import CharTokenizer
    from .train import ProgressBar, TrainConfig, train

    started = _clock()
    tok = CharTokenizer.from_text(icl.ALPHABET)
    torch.manual_seed(0)  # weight initialisation
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=2 * icl.SEQ_PAIRS, n_layer=2,
                          n_head=2, n_embd=64, dropout=0.0))
    _sharpen_attention_init(model, QK_INIT_STD)
    config = TrainConfig(max_iters=15000, batch_size=32, lr=3e-3, min_lr=3e-4, warmup_iters=100,
                         weight_decay=0.1, eval_interval=500, eval_iters=10, seed=0)
    train_batch = icl.batch(tok, config.batch_size)
    history = train(model, train_batch, train_batch, config, [ProgressBar("icl-mapping")])
    curve = {k: icl.few_shot_accuracy(model, tok, k, n_trials=1000, seed=1) for k in ICL_SHOTS}
    meta = _meta("icl-mapping", started, train_config=asdict(config),
                 n_params=model.num_params(non_embedding=False),
                 task="lesson_lib.icl: random letter->digit mapping, fresh per prompt",
                 few_shot_accuracy={str(k): v for k, v in curve.items()},
                 eval="1000 fresh prompts per k, seed=1, greedy next token",
                 history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print("icl-mapping: " + ", ".join(f"{k}-shot {v:.1%}" for k, v in curve.items()))
    return save(model, tok, Path(out_dir) / "icl-mapping", meta=meta)
