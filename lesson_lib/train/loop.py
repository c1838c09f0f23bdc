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

Scaling out, with the same numbers: ``grad_accum`` splits each step into
micro-batches; ``dtype`` runs the forward passes under autocast (float16
with a gradient scaler); ``compile`` is opt-in ``torch.compile``; under
``torchrun`` every process takes its share of the very batch one process
would draw and DDP averages the gradients (``lesson_lib.train.distributed``).
``batch_size`` is the global batch. Rank 0 alone evaluates and calls
``on_eval``, so it alone writes checkpoints.

Left out: sharded optimizers (FSDP/ZeRO), and data loaders with worker
processes (a batch is a few index operations).

``heldout_loss`` scores a model on every window of a held-out text. The
command line (``python -m lesson_lib.train --help``) trains a GPT on a text
file; it lives in ``lesson_lib.cli`` and uses this loop.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..checkpoints import load_train_state, load_weights, save, save_train_state
from ..checks import check_bool, check_int, check_number, is_number
from ..data import get_batch
from . import distributed
from .device import autocast, check_device_name, check_dtype_name, grad_scaler, pick_device

__all__ = ["TrainConfig", "TrainState", "train", "lr_at", "estimate_loss", "heldout_loss",
           "Callback", "ProgressBar", "CheckpointWriter", "resume", "saved_history",
           "make_optimizer"]

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
    grad_accum: int = 1  # micro-batches per step in each process; same step, less memory
    dtype: str = "float32"  # forward passes under autocast: float32 (off), bfloat16, float16
    compile: bool = False  # torch.compile the model first (opt-in: slow start, faster steps)
    device: Optional[str] = None  # None: where the model is; auto/cpu/cuda/mps: move it there

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
        self.grad_accum = check_int("TrainConfig.grad_accum", self.grad_accum, min=1)
        if self.batch_size % self.grad_accum:
            raise ValueError(f"TrainConfig.batch_size={self.batch_size} does not split into "
                             f"grad_accum={self.grad_accum} equal micro-batches; expected a "
                             f"multiple of {self.grad_accum}")
        check_dtype_name(self.dtype)
        check_bool("TrainConfig.compile", self.compile)
        if self.device is not None:
            check_device_name(self.device)


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
    world: distributed.World = field(default_factory=distributed.World)  # rank and world size
    rng_states: Optional[list] = None  # every rank's dropout RNG at the latest evaluation


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


def _mean_loss(model: nn.Module, batch: tuple, chunk: int, context) -> Tensor:
    """The loss of ``batch``, computed ``chunk`` rows at a time (equal chunks: same mean)."""
    n = batch[0].shape[0]
    if chunk >= n:
        with context:
            return _loss_of(model(*batch)).float()
    parts = [distributed.rows(batch, i, i + chunk) for i in range(0, n, chunk)]
    losses = []
    for part in parts:
        with context:
            losses.append(_loss_of(model(*part)).float())
    return torch.stack(losses).mean()


@torch.no_grad()
def estimate_loss(model: nn.Module, batch: Callable, eval_iters: int, seed: int,
                  chunk: Optional[int] = None, context=None) -> float:
    """Mean loss over ``eval_iters`` batches drawn with a fixed seed (the same every call).

    ``chunk`` rows go through the model at a time (default: the whole batch);
    ``context`` wraps each forward pass (the training loop passes autocast).
    """
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    context = context if context is not None else contextlib.nullcontext()
    losses = torch.stack([_mean_loss(model, tuple(batch(g)), chunk or 10**12, context)
                          for _ in range(eval_iters)])
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
    ``seconds``, ``interrupted``, ``world_size``, ``grad_accum``, ``device``
    and ``dtype``. ``optimizer``, ``start_iter`` and ``batch_generator`` let
    :class:`CheckpointWriter` resume a run exactly.

    Inside a ``torch.distributed`` process group (``torchrun``), every
    process calls ``train`` with the same arguments: ``config.batch_size``
    is the global batch, each rank trains on its share, and only rank 0
    evaluates (``iter``, ``train_loss`` and ``val_loss`` stay empty elsewhere).
    ``step_loss`` is the loss of the whole global batch on every rank.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters")
    if config.device is not None:
        model.to(pick_device(config.device))
    device = next(model.parameters()).device
    here = distributed.world()
    micro = distributed.micro_batch_size(config.batch_size, here.world_size, config.grad_accum)
    share = micro * config.grad_accum  # rows of the global batch that this rank trains on
    train_batch = _batcher(train_ids, config, "train_ids", device)
    val_batch = _batcher(val_ids, config, "val_ids", device) if val_ids is not None else None
    if start_iter == 0:
        torch.manual_seed(config.seed + here.rank)  # dropout masks: one stream per rank
    g = batch_generator or torch.Generator().manual_seed(config.seed)  # the same on every rank
    opt = optimizer or make_optimizer(model, config)
    net = torch.compile(model) if config.compile else model
    if here.world_size > 1:  # averages gradients across ranks during backward
        step_net = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        step_net = net
    context, scaler = autocast(device, config.dtype), grad_scaler(device, config.dtype)
    history = {"iter": [], "train_loss": [], "val_loss": [], "step_loss": [], "lr": [],
               "tokens_per_s": 0.0, "seconds": 0.0, "interrupted": False,
               "world_size": here.world_size, "grad_accum": config.grad_accum,
               "device": str(device), "dtype": config.dtype}
    state = TrainState(config, model, start_iter, history=history, world=here)
    state.optimizer, state.generator = opt, g
    for cb in callbacks:
        cb.on_train_begin(state)
    model.train()
    tokens, start = 0, time.perf_counter()

    def evaluate():
        if here.world_size > 1 or device.type != "cpu":  # what resuming needs of every rank
            state.rng_states = distributed.gather_rng_states(device)
        if not here.is_main:
            return
        history["iter"].append(state.iter)
        history["train_loss"].append(estimate_loss(net, train_batch, config.eval_iters,
                                                   config.seed + 1, micro, context))
        history["val_loss"].append(estimate_loss(net, val_batch, config.eval_iters,
                                                 config.seed + 2, micro, context)
                                   if val_batch else float("nan"))
        for cb in callbacks:
            cb.on_eval(state)

    def step_loss(batch) -> Tensor:
        """Forward and backward on this rank's share, micro-batch by micro-batch."""
        if here.world_size > 1:
            batch = distributed.rows(batch, here.rank * share, (here.rank + 1) * share)
        K, total = config.grad_accum, None
        for k in range(K):
            part = batch if K == 1 else distributed.rows(batch, k * micro, (k + 1) * micro)
            last = k == K - 1  # DDP all-reduces the gradients once, after the last one
            with contextlib.nullcontext() if last or here.world_size == 1 else step_net.no_sync():
                with context:
                    loss = _loss_of(step_net(*part))
                scaler.scale(loss if K == 1 else loss / K).backward()
            total = loss.detach() if total is None else total + loss.detach()
        return distributed.mean_over_ranks(total if K == 1 else total / K)

    try:
        for it in range(start_iter, config.max_iters):
            state.iter = it
            if it % config.eval_interval == 0 and it > start_iter:
                evaluate()
            lr = lr_at(it, config)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = tuple(train_batch(g))  # the global batch, as one process draws it
            opt.zero_grad(set_to_none=True)
            loss = step_loss(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at step {it}; lower lr (now {lr:.2e}) or "
                    "check the inputs for NaN")
            if config.grad_clip > 0:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            tokens += batch[0].numel()
            state.loss, state.lr = loss.item(), lr
            history["step_loss"].append(state.loss)
            history["lr"].append(lr)
            for cb in callbacks:
                cb.on_step(state)
        state.iter = config.max_iters
        evaluate()
    except KeyboardInterrupt:
        state.interrupted = history["interrupted"] = True
        if here.is_main:
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
    Under ``torchrun`` only rank 0 evaluates, so only rank 0 writes; every
    rank's dropout generator goes into ``name.ranks.safetensors``.
    """

    def __init__(self, out_dir, tokenizer=None, name: str = "model", meta: Optional[dict] = None):
        self.out_dir, self.tokenizer, self.name, self.meta = out_dir, tokenizer, name, meta or {}

    def on_eval(self, state):
        meta = {**self.meta, "iter": state.iter, "val_loss": state.history["val_loss"][-1],
                "train_loss": state.history["train_loss"][-1],
                "world_size": state.world.world_size}
        base = f"{self.out_dir}/{self.name}"
        save(state.model, self.tokenizer, base, meta=meta)
        if state.rng_states is not None:
            _save_rank_rngs(base, state.rng_states, state.iter)
        save_train_state(base, state.optimizer, state.iter, state.generator, state.history)


def _ranks_path(path) -> Path:
    base = Path(path).with_suffix("")
    return base.with_name(base.name + ".ranks.safetensors")


def _save_rank_rngs(path, states: list, iteration: int) -> None:
    target = _ranks_path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    save_file({f"rng.rank{r}": s for r, s in enumerate(states)}, str(tmp),
              metadata={"iter": str(iteration), "world_size": str(len(states))})
    os.replace(tmp, target)


def saved_history(path) -> dict:
    """The history stored with a checkpoint's training state (``path.train.json``)."""
    base = Path(path).with_suffix("")
    jpath = base.with_name(base.name + ".train.json")
    if not jpath.exists():
        raise FileNotFoundError(f"no training state at {jpath}; was the run saved with "
                                "CheckpointWriter?")
    try:
        history = json.loads(jpath.read_text(encoding="utf-8")).get("history") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise ValueError(f"{jpath} is not a training state written by save_train_state: "
                         f"{err!r}") from None
    if not isinstance(history, dict):
        raise ValueError(f"{jpath}: 'history' must be a JSON object, got {type(history).__name__}")
    return history


def resume(model: nn.Module, path, config: TrainConfig):
    """Load ``path``'s weights into ``model``; return kwargs that make ``train`` continue.

    ``train(model, ..., config, **resume(model, path, config))``. Under
    ``torchrun`` every rank calls it; the number of processes must be the
    one that wrote the checkpoint (a ValueError says so otherwise).
    """
    here = distributed.world()
    written_by = saved_history(path).get("world_size", 1)
    if written_by != here.world_size:
        raise ValueError(f"the checkpoint at {path} was written by a run of {written_by} "
                         f"process(es), but this run has {here.world_size}; expected "
                         f"torchrun --nproc_per_node={written_by} (each rank's dropout "
                         "generator and share of the batch depend on it)")
    load_weights(model, path)
    optimizer = make_optimizer(model, config)
    start_iter, generator = load_train_state(path, optimizer)
    ranks = _ranks_path(path)
    if ranks.exists():
        with safe_open(str(ranks), framework="pt") as f:
            stored_iter = int((f.metadata() or {}).get("iter", -1))
            if stored_iter != start_iter:
                raise ValueError(f"{ranks} is from step {stored_iter} but the training state "
                                 f"is from step {start_iter}; expected files of one checkpoint")
            state = f.get_tensor(f"rng.rank{here.rank}")
        device = next(model.parameters()).device
        if device.type == "cuda":
            torch.cuda.set_rng_state(state, device)
        else:
            torch.set_rng_state(state)
    return {"optimizer": optimizer, "start_iter": start_iter, "batch_generator": generator}
