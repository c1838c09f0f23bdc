"""Recipes of chapter 11 (GPT-4): the scaling sweep, the captioner, the safety base model.

* ``scaling-sweep`` trains six character-level GPTs of growing width and
  depth, each on more tokens than the last (127x compute from the smallest
  to the largest), with one fixed recipe (``lesson_lib.scaling.train_run``),
  and writes ``assets/results/scaling.json``. No checkpoint is kept: the
  numbers are the result.
* ``shapes-captioner``: the image-prefix captioner of
  ``lesson_lib.multimodal``, trained on fresh synthetic images every step.
* ``safety-base``: the toy assistant of ``lesson_lib.safety`` trained to
  comply with *every* request, the starting point of the chapter's safety
  fine-tuning.

Each records its settings, held-out numbers and rebuild time in its JSON.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .recipes import _meta, model_kind, recipe

# (n_layer, n_head, n_embd, steps): bigger models also see more tokens (32 x 64 per step)
SCALING_FAMILY = ((1, 2, 32, 150), (2, 2, 48, 200), (2, 4, 64, 250), (3, 4, 80, 300),
                  (3, 4, 96, 350), (4, 4, 112, 400))


@model_kind("image-captioner")
def _build_captioner(config: dict):
    from .multimodal import CaptionerConfig, ImageCaptioner

    return ImageCaptioner(CaptionerConfig(**config))


@recipe("scaling-sweep")
def scaling_sweep(out_dir: Path) -> Path:
    """Six GPTs spanning 127x in compute -> ``scaling.json`` (about 10 minutes on 2 cores)."""
    from .data import load_corpus
    from .pretrained import CHECKPOINT_DIR
    from .scaling import RESULTS_PATH, fit_power_law, train_run
    from .tokenizers import CharTokenizer
    from .train import ProgressBar

    started = time.perf_counter()
    text = load_corpus()
    tok = CharTokenizer.from_text(text)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    runs = []
    for n_layer, n_head, n_embd, steps in SCALING_FAMILY:
        bar = ProgressBar(f"L={n_layer} C={n_embd}")
        runs.append(train_run(ids, tok.vocab_size, n_layer, n_embd, n_head, steps,
                              callbacks=[bar]))
        print(f"  N={runs[-1]['n_params']:,} D={runs[-1]['tokens']:,} "
              f"C={runs[-1]['compute_flops']:.3g} val_loss={runs[-1]['val_loss']:.4f}")
    fit = fit_power_law([r["compute_flops"] for r in runs[:-1]],
                        [r["val_loss"] for r in runs[:-1]])
    predicted = fit.predict(runs[-1]["compute_flops"])
    error = (predicted - runs[-1]["val_loss"]) / runs[-1]["val_loss"]
    result = {"runs": runs, "meta": _meta(
        "scaling-sweep", started, corpus="assets/corpus/shakespeare.txt (char-level)",
        val_text="last 10% of the corpus, 256 evenly spaced windows of 64 characters",
        compute="compute_flops = 6 * n_params * tokens, n_params = non-embedding parameters",
        fit_all_but_largest={"a": fit.a, "b": fit.b, "c": fit.c,
                             "predicted_largest": predicted,
                             "relative_error": error})}
    path = RESULTS_PATH if Path(out_dir) == CHECKPOINT_DIR else Path(out_dir) / "scaling.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"scaling-sweep: {fit}; largest run predicted {predicted:.4f}, "
          f"measured {runs[-1]['val_loss']:.4f} ({error:+.2%})")
    return path


@recipe("shapes-captioner")
def shapes_captioner(out_dir: Path) -> Path:
    """The image-prefix captioner, 2,000 steps on fresh shapes (about 3-5 minutes)."""
    from .multimodal import (CaptionerConfig, ImageCaptioner, caption_accuracy, make_shapes,
                             shape_batches)
    from .pretrained import save
    from .train import ProgressBar, TrainConfig, train

    started = time.perf_counter()
    torch.manual_seed(0)  # weight initialisation
    model = ImageCaptioner(CaptionerConfig())
    config = TrainConfig(max_iters=2000, batch_size=64, lr=3e-3, min_lr=3e-4,
                         warmup_iters=50, weight_decay=0.01, eval_interval=500, eval_iters=4,
                         seed=0)
    history = train(model, shape_batches(64), shape_batches(64), config,
                    [ProgressBar("shapes-captioner")])
    images, colour, shape = make_shapes(1000, seed=999_999)  # held out: a seed never drawn above
    acc = caption_accuracy(model, images, colour, shape)
    meta = _meta("shapes-captioner", started, train_config=asdict(config),
                 test="1000 images from make_shapes(1000, seed=999_999)",
                 exact=round(acc["exact"], 4), colour=round(acc["colour"], 4),
                 shape=round(acc["shape"], 4), shape_confusion=acc["confusion"].tolist(),
                 history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"shapes-captioner: exact {acc['exact']:.1%}, colour {acc['colour']:.1%}, "
          f"shape {acc['shape']:.1%} on held-out images")
    return save(model, None, Path(out_dir) / "shapes-captioner", meta=meta)


@recipe("safety-base")
def safety_base(out_dir: Path) -> Path:
    """The toy assistant that complies with every request (about 2-3 minutes)."""
    from . import safety
    from .gpt import GPT, GPTConfig
    from .pretrained import save
    from .train import ProgressBar, TrainConfig, train

    started = time.perf_counter()
    tok = safety.tokenizer()
    pairs = safety.make_pairs(20_000, safety.PAST, seed=0)  # every verb answered helpfully
    torch.manual_seed(0)  # weight initialisation
    model = GPT(GPTConfig(tok.vocab_size, block_size=48, n_layer=2, n_head=4, n_embd=64))
    config = TrainConfig(max_iters=800, batch_size=32, lr=3e-3, min_lr=3e-4, warmup_iters=30,
                         eval_interval=801, eval_iters=1, seed=0)
    train(model, safety.pair_batches(pairs, tok, 32, 48, answer_only=False), None, config,
          [ProgressBar("safety-base")])
    scores = safety.evaluate(model.eval(), tok)  # held-out objects, 300 prompts per group
    meta = _meta("safety-base", started, train_config=asdict(config),
                 data="20,000 requests over all 15 verbs, every one answered helpfully",
                 heldout=scores)
    print(f"safety-base: {scores}")
    return save(model, tok, Path(out_dir) / "safety-base", meta=meta)
