"""Token shards: a corpus tokenized once, kept on disk, read by memory-mapping.

A GPT-2-sized run reads billions of tokens; tokenizing them at every start,
or holding them in memory as int64 (8 bytes a token), does not scale. The
usual answer (nanoGPT's ``prepare.py``, GPT-2's own pipeline) is to
tokenize once and store the ids as **uint16** (2 bytes a token; any
vocabulary of at most 65,536 ids fits, GPT-2's 50,257 included) in flat
binary files that ``numpy.memmap`` reads lazily: a batch touches only the
pages of its windows.

A shard folder holds ``train-00000.bin``, ``train-00001.bin``, ...,
``val-00000.bin``, ... and ``meta.json`` (the tokenizer, token counts, the
source files). Every file is split like the training CLI splits one file:
its first 90% of characters go to training, the last 10% to validation.

Prepare, then train on it::

    python -m lesson_lib.train.shards my_texts/*.txt --out data/mine --tokenizer gpt2
    python -m lesson_lib.train --data data/mine --out runs/mine ...

``--tokenizer bpe`` trains the library's byte-level BPE on the training
parts (fine for a few MB: it is pure Python); ``gpt2`` is GPT-2's own
vocabulary through ``tiktoken`` (fast; it downloads its files once, or
reads them from ``TIKTOKEN_CACHE_DIR``); ``char`` is one id per character.

Batches: ``TokenShards(folder, "train").batcher(T, B)`` returns the
function ``generator -> (x, y)`` that the training loop takes. A window
never crosses a shard boundary; starts are drawn uniformly over all valid
windows, so with one shard the draw equals ``lesson_lib.data.get_batch``'s.

Left out: document boundaries (no end-of-text token), deduplication and
cleaning, and files larger than memory (each file is read whole).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..checks import check_choice, check_int, check_number
from ..data import load_text
from ..tokenizers import GPT4_SPLIT_PATTERN, BPETokenizer, CharTokenizer, Tokenizer

__all__ = ["prepare", "TokenShards", "load_tokenizer", "main"]

FORMAT = "lesson-lib-token-shards"
MAX_UINT16_VOCAB = 2 ** 16


class _GPT2Encoding:
    """GPT-2's tokenizer through tiktoken (its ``encode_ordinary``: no special tokens)."""

    def __init__(self):
        try:
            import tiktoken  # optional: the library's own BPE needs nothing extra
        except ImportError:
            raise ValueError("--tokenizer gpt2 needs the tiktoken package (pip install "
                             "tiktoken); or use --tokenizer bpe") from None
        try:
            self.enc = tiktoken.get_encoding("gpt2")
        except Exception as err:  # tiktoken raises network errors of several kinds
            raise ValueError("tiktoken could not load the GPT-2 vocabulary (it downloads it "
                             "once, or reads TIKTOKEN_CACHE_DIR): "
                             f"{type(err).__name__}: {str(err)[:200]}; offline, use "
                             "--tokenizer bpe") from None

    vocab_size = 50257

    def encode(self, text: str) -> list:
        return self.enc.encode_ordinary(text)

    def decode(self, ids) -> str:
        return self.enc.decode(list(ids))


def load_tokenizer(meta: dict):
    """The tokenizer a shard folder's ``meta.json`` names: a library tokenizer, or GPT-2's."""
    spec = meta.get("tokenizer")
    if spec == {"tiktoken": "gpt2"}:
        return _GPT2Encoding()
    if not isinstance(spec, dict):
        raise ValueError(f"meta.json: 'tokenizer' must be a tokenizer dict, got {spec!r}")
    return Tokenizer.from_dict(spec, _source="meta.json")


class _ShardWriter:
    def __init__(self, out: Path, split: str, shard_tokens: int):
        self.out, self.split, self.shard_tokens = out, split, shard_tokens
        self.files, self.tokens, self.fill, self.handle = [], 0, 0, None

    def write(self, ids: np.ndarray) -> None:
        while len(ids):
            if self.handle is None or self.fill == self.shard_tokens:
                self.close()
                name = f"{self.split}-{len(self.files):05d}.bin"
                self.files.append(name)
                self.handle, self.fill = open(self.out / name, "wb"), 0
            room = self.shard_tokens - self.fill
            head, ids = ids[:room], ids[room:]
            head.astype("<u2").tofile(self.handle)
            self.fill += len(head)
            self.tokens += len(head)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def prepare(files: Sequence, out_dir, tokenizer: str = "bpe", vocab_size: int = 4096,
            shard_tokens: int = 100_000_000, val_fraction: float = 0.1,
            verbose: bool = True) -> dict:
    """Tokenize ``files`` into uint16 shards in ``out_dir``; return what ``meta.json`` says.

    Each file's first ``1 - val_fraction`` of characters go to ``train-*.bin``
    and the rest to ``val-*.bin``. ``vocab_size`` is for ``bpe`` only.
    """
    check_choice("tokenizer", tokenizer, ("bpe", "gpt2", "char"))
    shard_tokens = check_int("shard_tokens", shard_tokens, min=1)
    val_fraction = check_number("val_fraction", val_fraction, min=0, max=1, min_open=True,
                                max_open=True)
    if tokenizer == "bpe" and check_int("vocab_size", vocab_size, min=256) > MAX_UINT16_VOCAB:
        raise ValueError(f"vocab_size={vocab_size} does not fit uint16 shards; expected at most "
                         f"{MAX_UINT16_VOCAB}")
    if isinstance(files, (str, os.PathLike)) or not files:
        raise ValueError(f"files must be a non-empty list of text files, got {files!r}")
    texts = [load_text(f) for f in files]  # a missing file fails here, before any writing
    splits = []
    for path, text in zip(files, texts):
        cut = int(len(text) * (1 - val_fraction))
        if cut == 0 or cut == len(text):
            raise ValueError(f"'{path}' has {len(text)} characters, too few to keep "
                             f"{val_fraction:.0%} for validation; expected a longer file")
        splits.append((text[:cut], text[cut:]))
    if tokenizer == "char":
        tok = CharTokenizer.from_text("".join(texts))  # the alphabet, as the CLI builds it
    elif tokenizer == "bpe":
        tok = BPETokenizer.train("".join(t for t, _ in splits), vocab_size, GPT4_SPLIT_PATTERN)
    else:
        tok = _GPT2Encoding()
    if tok.vocab_size > MAX_UINT16_VOCAB:
        raise ValueError(f"a vocabulary of {tok.vocab_size} ids does not fit uint16 shards; "
                         f"expected at most {MAX_UINT16_VOCAB}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("train-*.bin")) + list(out.glob("val-*.bin")):
        old.unlink()  # a re-run must not leave shards of an earlier corpus behind
    writers = {s: _ShardWriter(out, s, shard_tokens) for s in ("train", "val")}
    try:
        for path, (train_text, val_text) in zip(files, splits):
            for split, text in (("train", train_text), ("val", val_text)):
                writers[split].write(np.asarray(tok.encode(text), dtype=np.int64))
            if verbose:
                print(f"{path}: {writers['train'].tokens:,} training and "
                      f"{writers['val'].tokens:,} validation tokens so far")
    finally:
        for w in writers.values():
            w.close()
    spec = {"tiktoken": "gpt2"} if tokenizer == "gpt2" else tok.to_dict()
    meta = {"format": FORMAT, "version": 1, "dtype": "uint16", "tokenizer": spec,
            "tokenizer_name": tokenizer, "vocab_size": tok.vocab_size,
            "val_fraction": val_fraction, "sources": [str(f) for f in files],
            "train": writers["train"].files, "val": writers["val"].files,
            "tokens": {s: w.tokens for s, w in writers.items()}}
    tmp = out / ".meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp, out / "meta.json")
    return meta


class TokenShards:
    """One split (``train`` or ``val``) of a shard folder, memory-mapped."""

    def __init__(self, folder, split: str):
        self.folder = Path(folder)
        check_choice("split", split, ("train", "val"))
        path = self.folder / "meta.json"
        if not path.is_file():
            raise FileNotFoundError(f"no meta.json in '{self.folder}'; expected a folder made "
                                    "by python -m lesson_lib.train.shards")
        try:
            self.meta = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        if self.meta.get("format") != FORMAT or self.meta.get("dtype") != "uint16":
            raise ValueError(f"{path} does not describe uint16 token shards (format "
                             f"{self.meta.get('format')!r}, dtype {self.meta.get('dtype')!r})")
        self.arrays = []
        for name in self.meta.get(split, []):
            file = self.folder / name
            if not file.is_file():
                raise FileNotFoundError(f"shard '{file}' listed in meta.json is missing")
            self.arrays.append(np.memmap(file, dtype="<u2", mode="r"))
        if not self.arrays:
            raise ValueError(f"'{self.folder}' has no {split} shards")

    def __len__(self) -> int:
        return sum(len(a) for a in self.arrays)

    def ids(self) -> torch.Tensor:
        """All ids of the split as one int64 tensor (small corpora and tests only)."""
        return torch.from_numpy(np.concatenate([np.asarray(a, dtype=np.int64)
                                                for a in self.arrays]))

    def batcher(self, block_size: int, batch_size: int, device=None):
        """``generator -> (x, y)``: ``batch_size`` windows of ``block_size`` ids (B, T)."""
        T = check_int("block_size", block_size, min=1)
        B = check_int("batch_size", batch_size, min=1)
        valid = [max(0, len(a) - T) for a in self.arrays]  # window starts in each shard
        if sum(valid) == 0:
            raise ValueError(f"every shard of '{self.folder}' is shorter "
                             f"than block_size + 1 = {T + 1} tokens; expected a smaller "
                             "block size or more text")
        counts = torch.tensor(valid)  # (S,)
        ends = counts.cumsum(0)  # (S,)

        def batch(g: Optional[torch.Generator]):
            starts = torch.randint(int(ends[-1]), (B,), generator=g)  # (B,)
            shard = torch.searchsorted(ends, starts, right=True)  # (B,)
            offset = starts - (ends[shard] - counts[shard])  # (B,)
            rows = np.stack([self.arrays[s][o:o + T + 1] for s, o in
                             zip(shard.tolist(), offset.tolist())]).astype(np.int64)
            w = torch.from_numpy(rows)  # (B, T + 1)
            x, y = w[:, :-1], w[:, 1:]  # (B, T), (B, T)
            if device is not None:
                x, y = x.to(device), y.to(device)
            return x, y
        return batch


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """``python -m lesson_lib.train.shards FILE... --out DIR [--tokenizer bpe|gpt2|char]``."""
    p = argparse.ArgumentParser(prog="python -m lesson_lib.train.shards",
                                description="Tokenize text files into uint16 token shards.")
    p.add_argument("files", nargs="+", help="UTF-8 text files")
    p.add_argument("--out", required=True, help="folder for the shards and meta.json")
    p.add_argument("--tokenizer", choices=("bpe", "gpt2", "char"), default="bpe")
    p.add_argument("--vocab-size", type=int, default=4096, help="bpe only: 256 bytes + merges")
    p.add_argument("--shard-tokens", type=int, default=100_000_000, help="tokens per shard")
    p.add_argument("--val-fraction", type=float, default=0.1)
    args = p.parse_args(argv)
    try:
        meta = prepare(args.files, args.out, args.tokenizer, args.vocab_size, args.shard_tokens,
                       args.val_fraction)
    except (OSError, ValueError, TypeError) as err:
        p.error(str(err))
    print(f"wrote {len(meta['train'])} training and {len(meta['val'])} validation shard(s), "
          f"{meta['tokens']['train']:,} + {meta['tokens']['val']:,} tokens, vocabulary "
          f"{meta['vocab_size']}, to {args.out}")
    return meta


if __name__ == "__main__":
    main()
