"""Recipes: how each shipped checkpoint is trained, so anyone can rebuild it.

A recipe is a function ``recipe(out_dir: Path) -> Path`` that trains a model
from fixed seeds, shows a progress bar, writes ``out_dir/NAME.safetensors``
and ``NAME.json`` with ``lesson_lib.pretrained.save`` (the JSON ``meta``
records the settings, the measured held-out numbers and the rebuild time)
and returns the weights path. ``python -m lesson_lib.pretrained build NAME``
runs one.

This module holds the registry and the two recipes of the first chapters:

* ``shakespeare-char``: a character-level GPT-2-style model trained on the
  shipped corpus (``lesson_lib.data.load_corpus``), its first 90%; the loss
  is measured on the last 10% (Macbeth and the end of King Lear).
* ``toy-reverse``: the encoder-decoder ``Transformer`` of chapter 05 trained
  to reverse a sequence of symbols (``lesson_lib.data.make_reverse_task``),
  scored by exact-match greedy decoding on fresh sequences.

Adding a recipe from another chapter: put it in a module named
``lesson_lib/recipes_<chapter>.py`` and decorate it::

    from .recipes import model_kind, recipe

    @model_kind("my-kind")          # only for a model that is not a GPT or Transformer
    def build_my_model(config: dict) -> nn.Module: ...

    @recipe("my-checkpoint")
    def my_checkpoint(out_dir: Path) -> Path: ...

Every ``recipes_*.py`` module of the package is imported at the end of this
one, so ``RECIPES`` and ``EXTRA_KINDS`` list its entries without further edits.
Left out: hyper-parameter search (the settings below were chosen by hand,
the measurements are in the JSON files).
"""
from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RECIPES", "EXTRA_KINDS", "recipe", "model_kind", "heldout_loss",
           "Seq2SeqLoss", "reverse_batch", "exact_match"]

RECIPES: dict[str, Callable[[Path], Path]] = {}  # checkpoint name -> recipe(out_dir) -> path
EXTRA_KINDS: dict[str, Callable[[dict], nn.Module]] = {}  # model kind -> build(config)


def _register(table: dict, what: str, name: str, fn: Callable) -> Callable:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} needs a non-empty str name, got {name!r}")
    old = table.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
        raise ValueError(f"{what} {name!r} is already registered by "
                         f"{old.__module__}.{old.__qualname__}")
    table[name] = fn
    return fn


def recipe(name: str) -> Callable:
    """Register ``fn(out_dir: Path) -> Path`` as the recipe of checkpoint ``name``."""
    return lambda fn: _register(RECIPES, "recipe", name, fn)


def model_kind(kind: str) -> Callable:
    """Register ``fn(config: dict) -> nn.Module`` to rebuild checkpoints of ``kind``."""
    return lambda fn: _register(EXTRA_KINDS, "model kind", kind, fn)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _meta(name: str, started: tuple, **numbers) -> dict:
    """What every recipe records: how to rebuild, how long it took (wall and CPU seconds)."""
    wall, cpu = (now - then for now, then in zip(_clock(), started))
    return {"recipe": name, "rebuild": f"python -m lesson_lib.pretrained build {name}",
            "rebuild_seconds": round(wall, 1), "rebuild_cpu_seconds": round(cpu, 1),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, **numbers}


# ------------------------------------------------------------------ shakespeare-char

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


QUICK_WINDOWS = 96  # heldout_loss(max_windows=...) of the quick check recorded in the meta


@recipe("shakespeare-char")
def shakespeare_char(out_dir: Path) -> Path:
    """A character-level GPT on the shipped corpus (about 12 minutes on two CPU cores)."""
    from .data import load_corpus, train_val_split
    from .gpt import GPT, GPTConfig
    from .pretrained import save
    from .tokenizers import CharTokenizer
    from .train import ProgressBar, TrainConfig, train

    started = _clock()
    text = load_corpus()
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = train_val_split(torch.tensor(tok.encode(text), dtype=torch.long))
    torch.manual_seed(1337)  # weight initialisation
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=5, n_head=6,
                          n_embd=192, dropout=0.0))
    config = TrainConfig(max_iters=1200, batch_size=32, block_size=128, lr=2e-3, min_lr=1e-4,
                         warmup_iters=100, weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0,
                         eval_interval=300, eval_iters=10, seed=1337)
    history = train(model, train_ids, val_ids, config, [ProgressBar("shakespeare-char")])
    val = heldout_loss(model, val_ids, model.config.block_size)
    quick = heldout_loss(model, val_ids, model.config.block_size, max_windows=QUICK_WINDOWS)
    meta = _meta("shakespeare-char", started, train_config=asdict(config),
                 n_params=model.num_params(non_embedding=False),
                 val_loss=round(val, 4), val_text="last 10% of assets/corpus/shakespeare.txt "
                 "(non-overlapping windows of block_size characters)",
                 val_loss_quick=round(quick, 4), quick_windows=QUICK_WINDOWS,
                 train_tokens_per_s=round(history["tokens_per_s"]),
                 history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"shakespeare-char: held-out loss {val:.4f} nats/char")
    return save(model, tok, Path(out_dir) / "shakespeare-char", meta=meta)


# ------------------------------------------------------------------ toy-reverse

class Seq2SeqLoss(nn.Module):
    """Wraps a ``Transformer`` for ``lesson_lib.train``: ``(src, tgt) -> (logits, loss)``.

    The decoder reads ``[BOS, t1, ..., tn]`` and learns to output
    ``[t1, ..., tn, EOS]`` (teacher forcing): for ``tgt = [5, 3]`` the
    decoder input is ``[1, 5, 3]`` and the target ``[5, 3, 2]``.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, tgt: Tensor):
        from .data import EOS, shift_right

        out = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
        logits = self.model(src, shift_right(out))  # (B, T + 1, V)
        return logits, F.cross_entropy(logits.flatten(0, 1), out.flatten())


def reverse_batch(batch_size: int, lengths: tuple, vocab_size: int) -> Callable:
    """``batch(generator) -> (src, tgt)``: one random length from ``lengths`` per batch."""
    from .data import make_reverse_task

    def batch(g: torch.Generator):
        T = lengths[int(torch.randint(len(lengths), (1,), generator=g))]
        return make_reverse_task(batch_size, T, vocab_size, generator=g)  # (B, T), (B, T)
    return batch


@torch.no_grad()
def exact_match(model, src: Tensor, tgt: Tensor) -> float:
    """Share of rows whose greedy decoding is exactly ``tgt`` followed by EOS."""
    from .data import BOS, EOS

    ys = model.greedy_decode(src, tgt.shape[1] + 1, BOS, EOS)  # (B, 1 + T + 1) at most
    want = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
    got = ys[:, 1:]
    if got.shape[1] != want.shape[1]:
        return 0.0
    return (got == want).all(dim=1).float().mean().item()


@recipe("toy-reverse")
def toy_reverse(out_dir: Path) -> Path:
    """The chapter 05 encoder-decoder, trained to reverse 4-10 symbols (under 2 minutes)."""
    from .data import make_reverse_task
    from .pretrained import save
    from .train import ProgressBar, TrainConfig, train
    from .transformer import Transformer

    started = _clock()
    vocab_size, lengths = 13, tuple(range(4, 11))  # ids 0-2 are PAD/BOS/EOS, 3-12 symbols
    torch.manual_seed(0)  # weight initialisation
    model = Transformer(vocab_size, vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=256,
                        dropout=0.0, max_len=16)
    config = TrainConfig(max_iters=1500, batch_size=64, lr=1e-3, min_lr=1e-4, warmup_iters=100,
                         weight_decay=0.01, eval_interval=250, eval_iters=5, seed=0)
    batch = reverse_batch(config.batch_size, lengths, vocab_size)
    history = train(Seq2SeqLoss(model), batch, batch, config, [ProgressBar("toy-reverse")])
    scores = {}
    for T in lengths:  # fresh sequences, a seed the training batches never use
        src, tgt = make_reverse_task(500, T, vocab_size, seed=10_000 + T)
        scores[T] = round(exact_match(model, src, tgt), 4)
    overall = sum(scores.values()) / len(scores)
    meta = _meta("toy-reverse", started, task="reverse", vocab_size=vocab_size,
                 lengths=list(lengths), train_config=asdict(config),
                 format="src: symbol ids 3..12 (no BOS/EOS); the decoder starts from BOS=1 and "
                        "ends with EOS=2; decode with model.greedy_decode(src, T + 1, 1, 2)",
                 exact_match=round(overall, 4), exact_match_by_length=scores,
                 history={k: history[k] for k in ("iter", "train_loss", "val_loss")})
    print(f"toy-reverse: exact match {overall:.1%} on held-out sequences")
    return save(model, None, Path(out_dir) / "toy-reverse", meta=meta)


# ------------------------------------------------------------------ other chapters' recipes

for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if _info.name.startswith("recipes_"):
        importlib.import_module(f"{__package__}.{_info.name}")
