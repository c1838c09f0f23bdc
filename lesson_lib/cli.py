"""The command line of ``python -m lesson_lib.train``: a GPT on any text file.

::

    python -m lesson_lib.train --data my.txt --tokenizer char --out runs/mine \\
        --block-size 64 --batch-size 12 --n-layer 4 --n-head 4 --n-embd 128 \\
        --max-iters 2000 --dropout 0.0 --lr 1e-3 --min-lr 1e-4 --warmup-iters 100 \\
        --eval-interval 250 --eval-iters 20 --seed 1337

What it does, in order:

1. reads the file (UTF-8) and splits its *characters*: the first 90% for
   training, the last 10% for validation, so no validation text is trained on;
2. builds the tokenizer. ``char``: one id per distinct character of the
   **whole file** (as nanoGPT's character-level set-up does), so that a
   character which first appears in the last 10% can still be encoded; the
   vocabulary is only the alphabet, so this leaks no validation text.
   ``bpe``: byte-level BPE trained on the training part only (bytes cover
   any character, so the validation part always encodes);
3. trains a GPT (``lesson_lib.gpt``) with ``lesson_lib.train.train`` and a
   progress bar;
4. writes ``--out/model.safetensors`` + ``model.json`` (weights, model
   config, tokenizer, run settings) and ``--out/history.json`` (lists
   ``iter``, ``train_loss``, ``val_loss``), then prints as its last line::

       val_loss=<float> tokens_per_s=<float>

Bad arguments (a missing file, a negative size, a head count that does not
divide the width) end with a one-line error and exit status 2.
Left out: resuming from the command line (use ``lesson_lib.train.resume``),
multiple files, and picking a GPU (``--device`` takes any torch device).
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
from .train import ProgressBar, TrainConfig, estimate_loss, train

__all__ = ["build_parser", "main"]


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
        description="Train a GPT on a text file: first 90% of its characters for training, "
                    "last 10% for validation.")
    pos, num = _int_at_least(1), _float_in(0.0, math.inf)
    p.add_argument("--data", required=True, help="UTF-8 text file to train on")
    p.add_argument("--out", required=True, help="folder for model.safetensors/.json and history.json")
    p.add_argument("--tokenizer", choices=("char", "bpe"), default="char")
    p.add_argument("--vocab-size", type=_int_at_least(256), default=512,
                   help="BPE vocabulary size (256 byte tokens + merges); bpe only")
    p.add_argument("--block-size", type=pos, default=64, help="context length T")
    p.add_argument("--batch-size", type=pos, default=12, help="sequences per step B")
    p.add_argument("--n-layer", type=pos, default=4)
    p.add_argument("--n-head", type=pos, default=4)
    p.add_argument("--n-embd", type=pos, default=128, help="model width C")
    p.add_argument("--dropout", type=_float_in(0.0, 1.0, high_open=True), default=0.0)
    p.add_argument("--max-iters", type=_int_at_least(0), default=2000)
    p.add_argument("--lr", type=num, default=1e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=num, default=1e-4, help="end of the cosine decay")
    p.add_argument("--warmup-iters", type=_int_at_least(0), default=100)
    p.add_argument("--weight-decay", type=num, default=0.1)
    p.add_argument("--grad-clip", type=num, default=1.0, help="max gradient norm; 0 = off")
    p.add_argument("--eval-interval", type=pos, default=250)
    p.add_argument("--eval-iters", type=pos, default=20)
    p.add_argument("--seed", type=_int_at_least(0), default=1337)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _tokenize(text: str, args):
    """``(tokenizer, train_ids, val_ids)``, split on characters before tokenizing."""
    train_text, val_text = train_val_split(text)
    if args.tokenizer == "char":
        tok = CharTokenizer.from_text(text)  # the alphabet of the whole file, see the docstring
    else:
        tok = BPETokenizer.train(train_text, args.vocab_size, GPT4_SPLIT_PATTERN)
    as_ids = lambda s: torch.tensor(tok.encode(s), dtype=torch.long)  # noqa: E731
    return tok, as_ids(train_text), as_ids(val_text)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the history."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text = load_text(args.data)
    except (OSError, ValueError) as err:
        parser.error(f"--data: {err}")
    if len(text) < 20:
        parser.error(f"--data: '{args.data}' has {len(text)} characters; expected at least 20 "
                     "(the last 10% is held out for validation)")
    try:
        config = TrainConfig(max_iters=args.max_iters, batch_size=args.batch_size,
                             block_size=args.block_size, lr=args.lr, min_lr=args.min_lr,
                             warmup_iters=args.warmup_iters, weight_decay=args.weight_decay,
                             grad_clip=args.grad_clip, eval_interval=args.eval_interval,
                             eval_iters=args.eval_iters, seed=args.seed)
        device = torch.device(args.device)
        tok, train_ids, val_ids = _tokenize(text, args)
        for name, ids in (("first 90% (training)", train_ids), ("last 10% (validation)", val_ids)):
            if len(ids) <= args.block_size:
                raise ValueError(f"the {name} of '{args.data}' is {len(ids)} tokens, too short for "
                                 f"--block-size {args.block_size}; expected a block size below "
                                 f"{len(ids)} or a longer file")
        torch.manual_seed(args.seed)  # weight initialisation
        model_config = GPTConfig(vocab_size=tok.vocab_size, block_size=args.block_size,
                                 n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                                 dropout=args.dropout)
    except (ValueError, TypeError, RuntimeError) as err:
        parser.error(str(err))
    model = GPT(model_config).to(device)
    print(f"{len(text):,} characters -> {len(train_ids):,} training and {len(val_ids):,} "
          f"validation tokens ({args.tokenizer}, vocabulary {tok.vocab_size}); "
          f"{model.num_params():,} parameters")
    callbacks = [] if args.no_progress else [ProgressBar("training")]
    history = train(model, train_ids.to(device), val_ids.to(device), config, callbacks)

    if not history["val_loss"]:  # interrupted before the first evaluation
        history["iter"].append(len(history["step_loss"]))
        history["train_loss"].append(estimate_loss(model, lambda g: get_batch(
            train_ids, args.block_size, args.batch_size, g, device), args.eval_iters, args.seed + 1))
        history["val_loss"].append(estimate_loss(model, lambda g: get_batch(
            val_ids, args.block_size, args.batch_size, g, device), args.eval_iters, args.seed + 2))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"data": str(args.data), "train_config": asdict(config), "tokenizer": args.tokenizer,
            "iter": history["iter"][-1], "val_loss": history["val_loss"][-1],
            "interrupted": history["interrupted"]}
    save(model, tok, out / "model", meta=meta)
    summary = {k: history[k] for k in ("iter", "train_loss", "val_loss")}
    summary.update(tokens_per_s=history["tokens_per_s"], seconds=history["seconds"],
                   interrupted=history["interrupted"])
    (out / "history.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"wrote {out / 'model.safetensors'}, {out / 'model.json'}, {out / 'history.json'}")
    print(f"val_loss={history['val_loss'][-1]:.4f} tokens_per_s={history['tokens_per_s']:.1f}")
    return history
