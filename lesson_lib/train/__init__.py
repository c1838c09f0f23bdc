"""Training: the loop every chapter uses (``loop``) and its command line.

``from lesson_lib.train import TrainConfig, train`` gives the loop;
``python -m lesson_lib.train --help`` runs the command line
(``lesson_lib.cli``), which trains a GPT on a text file.
"""
from .loop import (Callback, CheckpointWriter, ProgressBar, TrainConfig, TrainState,
                   estimate_loss, heldout_loss, lr_at, make_optimizer, resume, train)

__all__ = ["TrainConfig", "TrainState", "train", "lr_at", "estimate_loss", "heldout_loss",
           "Callback", "ProgressBar", "CheckpointWriter", "resume", "make_optimizer"]
