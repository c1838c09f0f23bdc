"""Training: the loop every chapter uses (``loop``), devices, several processes, token shards.

``from lesson_lib.train import TrainConfig, train`` gives the loop;
``pick_device()`` the one device choice of a notebook or script;
``python -m lesson_lib.train --help`` runs the command line
(``lesson_lib.cli``), which trains a GPT on a text file or on token shards
(``python -m lesson_lib.train.shards``), on one process or under torchrun.

Importing this package before torch sets ``OMP_WAIT_POLICY=PASSIVE`` unless
it is set already. PyTorch's OpenMP threads otherwise spin while they wait
for work; on a CPU shared with other programs the spinning threads take the
cores from the ones with work, and a training step with 2 threads on 2 busy
cores measured 5-10x slower than with 1 thread (see bench/train_vs_nanogpt.py).
OpenMP reads the variable once, when torch loads, so it has no effect later.
"""
import os
import sys

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .device import DTYPES, autocast, describe, grad_scaler, pick_device  # noqa: E402
from .loop import (  # noqa: E402
    Callback,
    CheckpointWriter,
    ProgressBar,
    TrainConfig,
    TrainState,
    estimate_loss,
    heldout_loss,
    lr_at,
    make_optimizer,
    resume,
    saved_history,
    train,
)

__all__ = ["TrainConfig", "TrainState", "train", "lr_at", "estimate_loss", "heldout_loss",
           "Callback", "ProgressBar", "CheckpointWriter", "resume", "saved_history",
           "make_optimizer", "pick_device", "describe", "autocast", "grad_scaler", "DTYPES"]
