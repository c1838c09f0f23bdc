"""A model-agnostic training loop: model, data, config and callbacks in; history out.

The loop is what every chapter trains with, from the toy encoder-decoder
to the GPTs: AdamW (Loshchilov & Hutter 2019) with decoupled weight decay
on matrices only, a linear warm-up then cosine decay of the learning rate
(GPT-1 §4.1 uses warm-up over 2000 updates and cosine annealing), gradient
clipping, and a periodic estimate of train and validation loss on fixed
batches.

It knows nothing about GPT. The model is called as ``model(x, y)`` and must
return the loss, or a tuple whose second element is the loss (as
``GPT.forward`` does). Data is either a 1-D tensor of token ids (random
windows are cut by ``lesson_lib.data.get_batch``) or a function
``batch(generator) -> (x, y)`` for anything else.

Callbacks see a :class:`TrainState` at ``on_train_begin``, ``on_step``,
``on_eval`` and ``on_train_end``. ``ProgressBar`` and ``CheckpointWriter``
live here; the live loss plot is ``lesson_lib.viz.LiveLossPlot``.

Same seed, same numbers: ``train`` seeds PyTorch's generator for dropout
and owns separate generators for the training and evaluation batches. A
Ctrl-C (``KeyboardInterrupt``) ends the run cleanly: callbacks close and
the history so far is returned with ``interrupted=True``.

Left out: mixed precision, gradient accumulation, distributed training.

``heldout_loss`` scores a model on every window of a held-out text. The
command line (``python -m lesson_lib.train --help``) trains a GPT on a text
file; it lives in ``lesson_lib.cli`` and uses this loop.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from ..checkpoints import load_train_state, load_weights, save, save_train_state
from ..checks import check_int, check_number, is_number
from ..data import get_batch

__all__ = ["TrainConfig", "TrainState", "train", "lr_at", "estimate_loss", "heldout_loss",
           "Callback", "ProgressBar", "CheckpointWriter", "resume", "make_optimizer"]

Data = Union[Tensor, Callable[[torch.Generator], tuple]]


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run."""

    max_iters: int = 1000  # optimisation steps
    batch_size: int = 12  # sequences per step (B)
    block_size: int = 64  # window length (T) when the data is a 1-D id tensor
    lr: float = 1e-3  # peak learning rate, reached after warm-up
    min_lr: float = 1e-4  # floor of the cosine decay
    warmup_iters: int = 100  # linear warm-up steps from 0 to lr
    lr_decay_iters: Optional[int] = None  # cosine decays until here; None = max_iters
    weight_decay: float = 0.1  # AdamW decay, applied to weight matrices only
    betas: tuple = (0.9, 0.99)  # AdamW moment coefficients
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    eval_interval: int = 250  # estimate losses every this many steps (and at the end)
    eval_iters: int = 20  # batches per loss estimate
    seed: int = 1337  # seeds dropout, batch sampling and evaluation batches

    def __post_init__(self):
        for name in ("max_iters", "warmup_iters", "seed"):
            setattr(self, name, check_int(f"TrainConfig.{name}", getattr(self, name), min=0))
        for name in ("batch_size", "block_size", "eval_interval", "eval_iters"):
            setattr(self, name, check_int(f"TrainConfig.{name}", getattr(self, name), min=1))
        for name in ("lr", "min_lr", "weight_decay", "grad_clip"):
            check_number(f"TrainConfig.{name}", getattr(self, name), min=0)
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr={self.min_lr} is above lr={self.lr}; expected min_lr <= lr")
        self.lr_decay_iters = check_int("TrainConfig.lr_decay_iters", self.lr_decay_iters,
                                        min=1, none_ok=True)  # None = max_iters
        b = self.betas
        if not isinstance(b, (tuple, list)) or len(b) != 2 or not all(
                is_number(x) and 0 <= x < 1 for x in b):
            raise ValueError(f"betas must be two numbers in [0, 1), got {b!r}")


@dataclass
class TrainState:
    """What callbacks see: the step, the latest losses, and the history so far."""

    config: TrainConfig
    model: nn.Module
    iter: int = 0
    loss: float = float("nan")  # training loss of the latest step
    lr: float = 0.0
    history: dict = field(default_factory=dict)
    interrupted: bool = False


class Callback:
    """Override any of these; each receives the :class:`TrainState`."""

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_step(self, state: TrainState) -> None: ...
    def on_eval(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


def lr_at(it: int, config: TrainConfig) -> float:
    """Learning rate at step ``it``: linear warm-up, then cosine down to ``min_lr``.

    Example with lr=1.0, min_lr=0.0, warmup_iters=10, lr_decay_iters=110:
    ``lr_at(4) = 0.5`` (warm-up), ``lr_at(60) = 0.5`` (half-way down the
    cosine), ``lr_at(110) = 0.0``.
    """
    decay_iters = config.lr_decay_iters or config.max_iters
    if it < config.warmup_iters:
        return config.lr * (it + 1) / config.warmup_iters  # reaches lr at the last warm-up step
    if it >= decay_iters:
        return config.min_lr
    progress = (it - config.warmup_iters) / max(1, decay_iters - config.warmup_iters)
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def _loss_of(output) -> Tensor:
    loss = output[1] if isinstance(output, (tuple, list)) else output
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise TypeError("model(x, y) must return a scalar loss or a tuple (logits, loss, ...); "
                        f"got {type(loss).__name__}")
    return loss


def _batcher(data: Data, config: TrainConfig, name: str, device) -> Callable:
    if callable(data):
        return data
    if not isinstance(data, Tensor):
        raise TypeError(f"{name} must be a 1-D id tensor or a function generator -> (x, y), "
                        f"got {type(data).__name__}")
    if data.dim() != 1 or len(data) < config.block_size + 1:
        raise ValueError(f"{name} must be 1-D with more than block_size={config.block_size} ids, "
                         f"got shape {tuple(data.shape)}")
    return lambda g: get_batch(data, config.block_size, config.batch_size, generator=g,
                               device=device)


@torch.no_grad()
def estimate_loss(model: nn.Module, batch: Callable, eval_iters: int, seed: int) -> float:
    """Mean loss over ``eval_iters`` batches drawn with a fixed seed (the same every call)."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    losses = torch.stack([_loss_of(model(*batch(g))).float() for _ in range(eval_iters)])
    model.train(was_training)
    return losses.mean().item()


@torch.no_grad()
def heldout_loss(model: nn.Module, ids: Tensor, block_size: int, max_windows=None,
                 batch_size: int = 16) -> float:
    """Mean next-token loss (nats/token) over non-overlapping windows of ``ids``.

    Every token after the first is predicted once, with up to ``block_size - 1``
    tokens of context. ``max_windows`` evaluates that many windows spread
    evenly over ``ids`` instead of all of them (a quick check).
    Example: 1,001 ids and ``block_size=100`` give 10 windows, 1,000 targets.
    """
    if ids.dim() != 1 or len(ids) <= block_size:
        raise ValueError(f"ids must be 1-D with more than block_size={block_size} tokens, "
                         f"got shape {tuple(ids.shape)}")
    n = (len(ids) - 1) // block_size
    starts = torch.arange(n) * block_size  # (N,)
    if max_windows is not None and max_windows < n:
        starts = starts[torch.linspace(0, n - 1, max_windows).round().long()]
    was_training = model.training
    model.eval()
    total = 0.0
    for chunk in starts.split(batch_size):
        idx = chunk[:, None] + torch.arange(block_size)  # (B, T)
        _, loss = model(ids[idx], ids[idx + 1])[:2]
        total += loss.item() * len(chunk)
    model.train(was_training)
    return total / len(starts)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (dim >= 2) and none on biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas), foreach=True)


def train(model: nn.Module, train_ids: Data, val_ids: Optional[Data], config: TrainConfig,
          callbacks: Sequence[Callback] = (), optimizer: Optional[torch.optim.Optimizer] = None,
          start_iter: int = 0, batch_generator: Optional[torch.Generator] = None) -> dict:
    """Train ``model`` and return its history.

    The history holds lists ``iter``, ``train_loss``, ``val_loss`` (one entry
    per evaluation), ``step_loss`` (every step), and ``tokens_per_s``,
    ``seconds`` and ``interrupted``. ``optimizer``, ``start_iter`` and
    ``batch_generator`` let :class:`CheckpointWriter` resume a run exactly.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters")
    device = next(model.parameters()).device
    train_batch = _batcher(train_ids, config, "train_ids", device)
    val_batch = _batcher(val_ids, config, "val_ids", device) if val_ids is not None else None
    if start_iter == 0:
        torch.manual_seed(config.seed)  # dropout masks
    g = batch_generator or torch.Generator().manual_seed(config.seed)
    opt = optimizer or make_optimizer(model, config)
    history = {"iter": [], "train_loss": [], "val_loss": [], "step_loss": [], "lr": [],
               "tokens_per_s": 0.0, "seconds": 0.0, "interrupted": False}
    state = TrainState(config, model, start_iter, history=history)
    state.optimizer, state.generator = opt, g
    for cb in callbacks:
        cb.on_train_begin(state)
    model.train()
    tokens, start = 0, time.perf_counter()

    def evaluate():
        history["iter"].append(state.iter)
        history["train_loss"].append(estimate_loss(model, train_batch, config.eval_iters,
                                                   config.seed + 1))
        history["val_loss"].append(estimate_loss(model, val_batch, config.eval_iters,
                                                 config.seed + 2) if val_batch else float("nan"))
        for cb in callbacks:
            cb.on_eval(state)

    try:
        for it in range(start_iter, config.max_iters):
            state.iter = it
            if it % config.eval_interval == 0 and it > start_iter:
                evaluate()
            lr = lr_at(it, config)
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = train_batch(g)
            loss = _loss_of(model(x, y))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at step {it}; lower lr (now {lr:.2e}) or "
                    "check the inputs for NaN")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            tokens += x.numel()
            state.loss, state.lr = loss.item(), lr
            history["step_loss"].append(state.loss)
            history["lr"].append(lr)
            for cb in callbacks:
                cb.on_step(state)
        state.iter = config.max_iters
        evaluate()
    except KeyboardInterrupt:
        state.interrupted = history["interrupted"] = True
        print(f"Interrupted at step {state.iter}; the model keeps its weights so far.")
    finally:
        history["seconds"] = time.perf_counter() - start
        history["tokens_per_s"] = tokens / max(history["seconds"], 1e-9)
        for cb in callbacks:
            cb.on_train_end(state)
    return history


class ProgressBar(Callback):
    """A ``tqdm.auto`` bar (a widget in notebooks) showing the step loss and lr."""

    def __init__(self, desc: str = "training", every: int = 10):
        self.desc, self.every, self.bar = desc, every, None

    def on_train_begin(self, state):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.config.max_iters, initial=state.iter, desc=self.desc,
                        dynamic_ncols=True)

    def on_step(self, state):
        self.bar.update(1)
        if state.iter % self.every == 0:
            self.bar.set_postfix(loss=f"{state.loss:.3f}", lr=f"{state.lr:.1e}", refresh=False)

    def on_eval(self, state):
        h = state.history
        self.bar.set_postfix(train=f"{h['train_loss'][-1]:.3f}", val=f"{h['val_loss'][-1]:.3f}")

    def on_train_end(self, state):
        if self.bar is not None:
            self.bar.close()


class CheckpointWriter(Callback):
    """Save the model (and what resuming needs) to ``out_dir`` at every evaluation.

    Each file is written to a temporary name and moved into place with
    ``os.replace``, so an interrupted write leaves the last good checkpoint
    intact. ``resume(model, out_dir)`` restores the optimizer, the step and
    the batch generator, so the continued run matches an uninterrupted one.
    """

    def __init__(self, out_dir, tokenizer=None, name: str = "model", meta: Optional[dict] = None):
        self.out_dir, self.tokenizer, self.name, self.meta = out_dir, tokenizer, name, meta or {}

    def on_eval(self, state):
        meta = {**self.meta, "iter": state.iter, "val_loss": state.history["val_loss"][-1],
                "train_loss": state.history["train_loss"][-1]}
        save(state.model, self.tokenizer, f"{self.out_dir}/{self.name}", meta=meta)
        save_train_state(f"{self.out_dir}/{self.name}", state.optimizer, state.iter,
                         state.generator, state.history)


def resume(model: nn.Module, path, config: TrainConfig):
    """Load ``path``'s weights into ``model``; return kwargs that make ``train`` continue.

    ``train(model, ..., config, **resume(model, path, config))``.
    """
    load_weights(model, path)
    optimizer = make_optimizer(model, config)
    start_iter, generator = load_train_state(path, optimizer)
    return {"optimizer": optimizer, "start_iter": start_iter, "batch_generator": generator}
