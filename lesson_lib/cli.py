"""The command line of ``python -m lesson_lib.train``: a GPT on a text file, one process or many.

::

    python -m lesson_lib.train --data my.txt --tokenizer char --out runs/mine \\
        --block-size 64 --batch-size 12 --n-layer 4 --n-head 4 --n-embd 128 \\
        --max-iters 2000 --dropout 0.0 --lr 1e-3 --min-lr 1e-4 --warmup-iters 100 \\
        --eval-interval 250 --eval-iters 20 --seed 1337

    torchrun --standalone --nproc_per_node=2 -m lesson_lib.train --data my.txt --out runs/ddp

What it does, in order:

1. picks the device (``--device auto``: cuda, then mps, then cpu) and, under
   ``torchrun``, joins the other processes (gloo on CPU, NCCL on GPUs);
2. reads the data. A text file (UTF-8) is split on *characters*: the first
   90% for training, the last 10% for validation, so no validation text is
   trained on. A folder made by ``python -m lesson_lib.train.shards`` is
   read from its uint16 shards and brings its own tokenizer;
3. builds the tokenizer of a text file. ``char``: one id per distinct
   character of the **whole file** (as nanoGPT's character-level set-up
   does), so that a character which first appears in the last 10% can still
   be encoded; the vocabulary is only the alphabet, so this leaks no
   validation text. ``bpe``: byte-level BPE trained on the training part
   only (bytes cover any character, so the validation part always encodes);
4. trains a GPT (``lesson_lib.gpt``) with ``lesson_lib.train.train``.
   ``--batch-size`` is the **global** batch: with N processes and
   ``--grad-accum K`` each forward pass sees ``batch / (N * K)`` rows, and
   the step is the one a single process takes on the whole batch;
5. rank 0 writes ``--out/model.safetensors`` + ``model.json`` (weights,
   model config, tokenizer, run settings) and the training state at every
   evaluation (``--resume`` continues from it, on the same number of
   processes), and ``--out/history.json`` (lists ``iter``, ``train_loss``,
   ``val_loss``; ``world_size``, ``grad_accum``, ``device``, ``dtype``,
   ``tokens_per_s``), then prints as its last line::

       val_loss=<float> tokens_per_s=<float>

``--preset gpt2-small`` sets GPT-2 small's shape and nanoGPT's recipe for it
(124 M parameters; flags given explicitly still win). Bad arguments (a
missing file, a negative size, a head count that does not divide the width,
a batch that does not split across processes) end with a one-line error and
exit status 2. Ctrl-C stops cleanly; the checkpoint of the last evaluation
stays, ready for ``--resume``.

Left out: several data files without preparing shards, sampling (see
``lesson_lib.gpt.GPT.generate``), and logging to external services.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

import torch

from .checkpoints import save
from .data import get_batch, load_text, train_val_split
from .gpt import GPT, GPTConfig
from .tokenizers import GPT4_SPLIT_PATTERN, BPETokenizer, CharTokenizer
from .train import (
    CheckpointWriter,
    ProgressBar,
    TrainConfig,
    describe,
    distributed,
    estimate_loss,
    pick_device,
    resume,
    saved_history,
    train,
)
from .train.device import DEVICES, DTYPES
from .train.shards import TokenShards, load_tokenizer

__all__ = ["build_parser", "main", "PRESETS", "flops_per_token"]

# GPT-2 small (Radford et al. 2019: 12 layers, width 768, 1024 positions) with nanoGPT's
# recipe for it (train_gpt2.py): 480 sequences x 1024 tokens per step, lr 6e-4 with 2,000
# warm-up steps, AdamW beta2 0.95, no biases, bfloat16. --grad-accum 40 is for one GPU;
# with N GPUs use 40 / N (the micro-batch stays 12 sequences).
PRESETS = {
    "gpt2-small": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=480,
                       grad_accum=40, lr=6e-4, min_lr=6e-5, warmup_iters=2000,
                       max_iters=600_000, beta2=0.95, weight_decay=0.1, dropout=0.0,
                       bias=False, dtype="bfloat16", eval_interval=1000, eval_iters=5,
                       pad_vocab=64),
}


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


def _float_in(low: float, high: float, high_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        inside = low <= value < high if high_open else low <= value <= high
        if not math.isfinite(value) or not inside:
            bracket = ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"expected a number in [{low}, {high}{bracket}, "
                                             f"got {text!r}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (defaults: nanoGPT's small character-level CPU run)."""
    p = argparse.ArgumentParser(
        prog="python -m lesson_lib.train",
        description="Train a GPT on a text file (first 90% of its characters for training, "
                    "last 10% for validation) or on a folder of token shards. Under torchrun, "
                    "data-parallel over the processes.",
        epilog="presets: " + "; ".join(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in preset.items())
            for name, preset in PRESETS.items()))
    pos, num = _int_at_least(1), _float_in(0.0, math.inf)
    p.add_argument("--data", required=True,
                   help="UTF-8 text file, or a folder made by python -m lesson_lib.train.shards")
    p.add_argument("--out", required=True,
                   help="folder for model.safetensors/.json, its training state and history.json")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="a documented configuration; explicit flags override it")
    p.add_argument("--tokenizer", choices=("char", "bpe"), default="char")
    p.add_argument("--vocab-size", type=_int_at_least(256), default=512,
                   help="BPE vocabulary size (256 byte tokens + merges); bpe only")
    p.add_argument("--block-size", type=pos, default=64, help="context length T")
    p.add_argument("--batch-size", type=pos, default=12,
                   help="sequences per step B, over all processes and micro-batches")
    p.add_argument("--grad-accum", type=pos, default=1,
                   help="micro-batches per step in each process (same step, less memory)")
    p.add_argument("--n-layer", type=pos, default=4)
    p.add_argument("--n-head", type=pos, default=4)
    p.add_argument("--n-embd", type=pos, default=128, help="model width C")
    p.add_argument("--pad-vocab", type=pos, default=1,
                   help="round the model's vocabulary up to a multiple of this (GPU-friendly "
                        "shapes: GPT-2's 50,257 -> 50,304 with 64); the extra ids never occur")
    p.add_argument("--no-bias", dest="bias", action="store_false",
                   help="no biases in linear layers and LayerNorms (GPT-2 small preset, nanoGPT)")
    p.add_argument("--dropout", type=_float_in(0.0, 1.0, high_open=True), default=0.0)
    p.add_argument("--max-iters", type=_int_at_least(0), default=2000)
    p.add_argument("--lr", type=num, default=1e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=num, default=1e-4, help="end of the cosine decay")
    p.add_argument("--warmup-iters", type=_int_at_least(0), default=100)
    p.add_argument("--weight-decay", type=num, default=0.1)
    p.add_argument("--beta2", type=_float_in(0.0, 1.0, high_open=True), default=0.99,
                   help="AdamW's second-moment decay")
    p.add_argument("--grad-clip", type=num, default=1.0, help="max gradient norm; 0 = off")
    p.add_argument("--eval-interval", type=pos, default=250)
    p.add_argument("--eval-iters", type=pos, default=20)
    p.add_argument("--seed", type=_int_at_least(0), default=1337)
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto picks cuda, then mps, then cpu")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float32",
                   help="autocast precision of the forward pass (float16 adds a gradient scaler)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (opt-in)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (same number of processes)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _parse(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
    first, _ = parser.parse_known_args(argv)
    if first.preset:
        parser.set_defaults(**PRESETS[first.preset])
    return parser.parse_args(argv)


def flops_per_token(model: GPT) -> float:
    """Training FLOPs per token: 6 per weight plus attention's 12 * L * C * T.

    The 6 is 2 (multiply and add) for the forward pass and 4 for the
    backward pass (Kaplan et al. 2020, section 2.1), counted over every
    weight that multiplies (the tied token embedding once, as the LM head;
    not the position table, which is only looked up). The attention scores
    and their weighted sum add ``12 * n_layer * n_embd * block_size`` (PaLM,
    Chowdhery et al. 2022, appendix B). GPT-2 small: about 0.86 GFLOP a token.
    """
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.wpe.weight.numel()
    return 6 * n + 12 * c.n_layer * c.n_embd * c.block_size


def _text_data(args, text: str):
    """``(tokenizer, train_ids, val_ids)``, split on characters before tokenizing."""
    train_text, val_text = train_val_split(text)
    if args.tokenizer == "char":
        tok = CharTokenizer.from_text(text)  # the alphabet of the whole file, see the docstring
    else:
        tok = BPETokenizer.train(train_text, args.vocab_size, GPT4_SPLIT_PATTERN)
    as_ids = lambda s: torch.tensor(tok.encode(s), dtype=torch.long)  # noqa: E731
    return tok, as_ids(train_text), as_ids(val_text)


def _load_data(args):
    """``(tokenizer, train, val, summary)``; train/val are id tensors or batch functions."""
    source = Path(args.data)
    if source.is_dir():
        train_split, val_split = TokenShards(source, "train"), TokenShards(source, "val")
        tok = load_tokenizer(train_split.meta)
        for split in (train_split, val_split):
            split.batcher(args.block_size, args.batch_size)  # checks the lengths now
        summary = (f"{source}: {len(train_split):,} training and {len(val_split):,} validation "
                   f"tokens ({train_split.meta.get('tokenizer_name')}, vocabulary "
                   f"{tok.vocab_size})")
        return tok, train_split, val_split, summary
    text = load_text(args.data)
    if len(text) < 20:
        raise ValueError(f"'{args.data}' has {len(text)} characters; expected at least 20 "
                         "(the last 10% is held out for validation)")
    tok, train_ids, val_ids = _text_data(args, text)
    for name, ids in (("first 90% (training)", train_ids), ("last 10% (validation)", val_ids)):
        if len(ids) <= args.block_size:
            raise ValueError(f"the {name} of '{args.data}' is {len(ids)} tokens, too short for "
                             f"--block-size {args.block_size}; expected a block size below "
                             f"{len(ids)} or a longer file")
    summary = (f"{len(text):,} characters -> {len(train_ids):,} training and {len(val_ids):,} "
               f"validation tokens ({args.tokenizer}, vocabulary {tok.vocab_size})")
    return tok, train_ids, val_ids, summary


def _batcher(data, args, device):
    """``generator -> (x, y)`` on ``device``, from an id tensor or token shards."""
    if isinstance(data, TokenShards):
        return data.batcher(args.block_size, args.batch_size, device)
    ids = data.to(device)
    return lambda g: get_batch(ids, args.block_size, args.batch_size, g)


def _saveable(tok):
    return tok if hasattr(tok, "to_dict") else None  # GPT-2's tiktoken vocabulary is not saved


def main(argv: Optional[Sequence[str]] = None, callbacks: Sequence = ()) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the history.

    ``callbacks`` are added to rank 0's progress bar and checkpoint writer
    (and run on every rank), e.g. a live loss plot in a notebook.
    """
    parser = build_parser()
    args = _parse(parser, argv)
    try:
        device = pick_device(args.device)
        here, device, joined = distributed.start(device)
    except (ValueError, RuntimeError) as err:
        parser.error(f"--device {args.device}: {err}")
    try:
        return _run(parser, args, here, device, callbacks)
    finally:
        distributed.stop(joined)


def _run(parser, args, here, device, extra_callbacks) -> dict:
    out = Path(args.out)
    try:
        tok, train_data, val_data, summary = _load_data(args)
        config = TrainConfig(max_iters=args.max_iters, batch_size=args.batch_size,
                             block_size=args.block_size, lr=args.lr, min_lr=args.min_lr,
                             warmup_iters=args.warmup_iters, weight_decay=args.weight_decay,
                             betas=(0.9, args.beta2), grad_clip=args.grad_clip,
                             eval_interval=args.eval_interval, eval_iters=args.eval_iters,
                             seed=args.seed, grad_accum=args.grad_accum, dtype=args.dtype,
                             compile=args.compile)
        micro = distributed.micro_batch_size(args.batch_size, here.world_size, args.grad_accum)
        torch.manual_seed(args.seed)  # weight initialisation (DDP then copies rank 0's)
        vocab = -(-tok.vocab_size // args.pad_vocab) * args.pad_vocab  # rounded up
        model_config = GPTConfig(vocab_size=vocab, block_size=args.block_size,
                                 n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                                 dropout=args.dropout, bias=args.bias)
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        parser.error(f"--data: {err}" if isinstance(err, OSError) else str(err))
    model = GPT(model_config).to(device)
    before, kwargs = {}, {}
    if args.resume:
        try:
            before = saved_history(out / "model")
            kwargs = resume(model, out / "model", config)
        except (OSError, ValueError) as err:
            parser.error(f"--resume: {err}")
        if kwargs["start_iter"] >= args.max_iters:
            parser.error(f"--resume: the checkpoint in {out} is at step {kwargs['start_iter']}, "
                         f"already at --max-iters {args.max_iters}; expected a larger "
                         "--max-iters to train further")
    if here.is_main:
        padded = f", padded to {vocab}" if vocab != tok.vocab_size else ""
        print(summary + f"{padded}; {model.num_params():,} parameters")
        print(f"device {describe(device)}, dtype {args.dtype}, {here.world_size} process(es) x "
              f"{args.grad_accum} micro-batch(es) of {micro} = batch {args.batch_size}"
              + (f"; resuming at step {kwargs['start_iter']}" if kwargs else ""))
        out.mkdir(parents=True, exist_ok=True)
    meta = {"data": str(args.data), "train_config": asdict(config), "tokenizer": args.tokenizer,
            "device": str(device), "preset": args.preset}
    callbacks = ([] if args.no_progress or not here.is_main else [ProgressBar("training")])
    if here.is_main:
        callbacks.append(CheckpointWriter(out, _saveable(tok), "model", meta))
    train_batch, val_batch = _batcher(train_data, args, device), _batcher(val_data, args, device)
    history = train(model, train_batch, val_batch, config, [*callbacks, *extra_callbacks],
                    **kwargs)
    if not here.is_main:
        return history
    if not history["val_loss"] and not kwargs:  # interrupted before any checkpoint
        history["train_loss"].append(estimate_loss(model, train_batch, args.eval_iters,
                                                   args.seed + 1, micro))
        history["val_loss"].append(estimate_loss(model, val_batch, args.eval_iters,
                                                 args.seed + 2, micro))
        history["iter"].append(len(history["step_loss"]))
        save(model, _saveable(tok), out / "model",
             meta={**meta, "iter": history["iter"][-1], "val_loss": history["val_loss"][-1],
                   "interrupted": True})  # the weights so far, not resumable
        for stale in ("model.train.json", "model.train.safetensors", "model.ranks.safetensors"):
            (out / stale).unlink(missing_ok=True)  # an older run's state must not be resumed
    summary = {k: before.get(k, []) + history[k] for k in ("iter", "train_loss", "val_loss")}
    summary.update({k: history[k] for k in ("tokens_per_s", "seconds", "interrupted",
                                            "world_size", "grad_accum", "device", "dtype")})
    summary.update(resumed_from=kwargs.get("start_iter"), flops_per_token=flops_per_token(model))
    (out / "history.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if history["interrupted"] and (out / "model.train.json").exists():
        print(f"the checkpoint of step {summary['iter'][-1]} stays in {out}; run the same "
              "command with --resume to continue")
    elif history["interrupted"]:
        print(f"interrupted before the first evaluation: {out} holds the weights so far, "
              "with no training state to resume from")
    print(f"wrote {out / 'model.safetensors'}, {out / 'model.json'}, {out / 'history.json'}")
    print(f"val_loss={summary['val_loss'][-1]:.4f} tokens_per_s={history['tokens_per_s']:.1f}")
    return history

