"""Recipe ``shapes-captioner``: chapter 11's image-prefix captioner.

``lesson_lib.multimodal``'s captioner trained on fresh synthetic images
every step, scored on 1,000 images from a seed never drawn in training::

    python -m lesson_lib.pretrained build shapes-captioner
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoints import CHECKPOINT_DIR, save
from ..multimodal import (
    CaptionerConfig,
    ImageCaptioner,
    caption_accuracy,
    make_shapes,
    shape_batches,
)
from ..train import ProgressBar, TrainConfig, train
from .registry import RecipeRun, recipe


@recipe("shapes-captioner", shipped_in=CHECKPOINT_DIR, output="shapes-captioner.json",
        numbers=lambda doc: {k: doc["meta"][k] for k in ("exact", "colour", "shape")},
        tolerance={"*": (0.02, "1,000 held-out images: the binomial standard error of a rate "
                               "near 0.99 is 0.003; 0.02 also allows for a different training "
                               "path on another thread count")})
def shapes_captioner(out_dir: Path, smoke: bool = False) -> Path:
    """The image-prefix captioner, 2,000 steps on fresh shapes (about 5 minutes)."""
    with RecipeRun("shapes-captioner", smoke) as run:
        torch.manual_seed(0)  # weight initialisation
        model = ImageCaptioner(CaptionerConfig(n_layer=1, n_embd=16, n_head=2) if smoke
                               else CaptionerConfig())
        config = TrainConfig(max_iters=5 if smoke else 2000, batch_size=64, lr=3e-3,
                             min_lr=3e-4, warmup_iters=2 if smoke else 50, weight_decay=0.01,
                             eval_interval=500, eval_iters=4, seed=0)
        history = train(model, shape_batches(64), shape_batches(64), config,
                        [ProgressBar("shapes-captioner")])
        n_test = 50 if smoke else 1000
        images, colour, shape = make_shapes(n_test, seed=999_999)  # a seed never drawn above
        acc = caption_accuracy(model, images, colour, shape)
        meta = run.meta(train_config=asdict(config),
                        test=f"{n_test} images from make_shapes({n_test}, seed=999_999)",
                        exact=round(acc["exact"], 4), colour=round(acc["colour"], 4),
                        shape=round(acc["shape"], 4), shape_confusion=acc["confusion"].tolist(),
                        history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"shapes-captioner: exact {acc['exact']:.1%}, colour {acc['colour']:.1%}, "
          f"shape {acc['shape']:.1%} on held-out images")
    return save(model, None, Path(out_dir) / "shapes-captioner", meta=meta)
