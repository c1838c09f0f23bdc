"""Data for the course: the shipped Shakespeare corpus, batches, and toy tasks.

* **The corpus.** ``assets/corpus/shakespeare.txt`` holds ten whole plays
  (public domain, Project Gutenberg transcriptions; see
  ``assets/corpus/README.md`` for provenance and ``tools/build_corpus.py``
  to rebuild it) in dialogue style, a speaker line then the speech::

      HAMLET:
      To be, or not to be,--that is the question:--

  ``plays.json`` gives each play's character span, so ``play_of_offset`` and
  ``corpus_lines`` can label any line with its play and speaker (chapter 08
  builds its fine-tuning sets from them). ``load_text`` reads a learner's own
  file instead.
* **Batches.** A language model sees windows of ``block_size`` tokens and
  learns to predict each next token: GPT-1's objective (Radford et al. 2018,
  section 3.1) with context size *k* = ``block_size``. ``get_batch`` cuts
  ``B`` random windows ``x`` and the same windows shifted by one, ``y``.
  ``train_val_split`` keeps the first 90% for training and the last 10%
  for validation, so validation text is never seen in training.
* **Toy tasks.** Chapters 01-05 train the encoder-decoder of *Attention Is
  All You Need* on tasks whose answer is known: copy, reverse and sort a
  sequence. Token ids follow one convention everywhere::

      0 = PAD   1 = BOS (begin)   2 = EOS (end)   3 .. vocab_size-1 = data symbols

  ``shift_right`` makes the decoder input for teacher forcing (section 3 of
  the paper: the output embeddings are "offset by one position").

Same seed, same data: every random function takes a ``seed`` or a
``torch.Generator``. Left out: streaming or memory-mapped datasets,
``DataLoader`` workers, epoch-wise shuffling; the corpus fits in memory.
"""
from __future__ import annotations

import functools
import json
import os
from bisect import bisect_right
from pathlib import Path
from typing import Callable, NamedTuple, TypeVar

import torch
from torch import Tensor

from .checks import check_int, check_number

__all__ = [
    "CORPUS_DIR", "CORPUS_PATH", "PLAYS_PATH", "PAD", "BOS", "EOS", "N_SPECIAL",
    "load_corpus", "load_text", "load_plays", "play_of_offset", "Line", "corpus_lines",
    "train_val_split", "get_batch",
    "make_copy_task", "make_reverse_task", "reverse_batch", "make_sort_task", "add_bos_eos",
    "shift_right",
]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "assets" / "corpus"
CORPUS_PATH = CORPUS_DIR / "shakespeare.txt"
PLAYS_PATH = CORPUS_DIR / "plays.json"

PAD, BOS, EOS = 0, 1, 2  # special ids of the toy tasks
N_SPECIAL = 3  # data symbols start here

S = TypeVar("S", str, list, tuple, Tensor)


# ------------------------------------------------------------------ texts

def load_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file (Windows line endings become ``\\n``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no text file at '{path}'")
    if path.is_dir():
        raise ValueError(f"'{path}' is a directory; expected a UTF-8 text file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"'{path}' is not UTF-8 text (byte {err.start} is 0x{raw[err.start]:02x}); "
            "expected the UTF-8 encoding: re-save the file as UTF-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"'{path}' is empty; expected some text to train on")
    return text


@functools.lru_cache(maxsize=1)
def load_corpus() -> str:
    """The shipped corpus, ten plays, about 1.2 million ASCII characters."""
    if not CORPUS_PATH.exists():
        raise FileNotFoundError(f"the corpus is missing at '{CORPUS_PATH}'; rebuild it with "
                                "'python tools/build_corpus.py'")
    return load_text(CORPUS_PATH)


def load_plays() -> list[dict]:
    """``[{"title", "source", "start", "end"}, ...]`` in corpus order;
    ``load_corpus()[start:end]`` is the play's text."""
    return json.loads(PLAYS_PATH.read_text(encoding="utf-8"))


def play_of_offset(offset: int) -> str:
    """Title of the play that character ``offset`` of the corpus belongs to.

    The blank line after a play counts as part of it. Example::

        play_of_offset(0)  ->  "A Midsummer Night's Dream"
    """
    offset = check_int("offset", offset, min=0)
    n = len(load_corpus())
    if offset >= n:
        raise ValueError(f"offset {offset} is past the end of the corpus ({n} characters)")
    plays = load_plays()
    return plays[bisect_right([p["start"] for p in plays], offset) - 1]["title"]


class Line(NamedTuple):
    """One line of speech with its labels::

        Line(play="Hamlet", speaker="HAMLET", text="To be, or not to be,...", start=622842)
    """

    play: str  # title, as in plays.json
    speaker: str  # in capitals, as in the corpus
    text: str  # the line, without its newline
    start: int  # character offset of the line in the corpus


@functools.lru_cache(maxsize=1)
def _all_lines() -> tuple[Line, ...]:
    text, lines = load_corpus(), []
    for play in load_plays():
        pos = play["start"]
        for speech in text[play["start"]:play["end"]].split("\n\n"):
            head, *body = speech.split("\n")
            pos += len(head) + 1
            for line in body:
                lines.append(Line(play["title"], head.rstrip(":"), line, pos))
                pos += len(line) + 1
            pos += 1  # the blank line between speeches
    return tuple(lines)


def corpus_lines(play: str | None = None) -> list[Line]:
    """Every line of speech in the corpus, or in one play, with play and speaker."""
    lines = _all_lines()
    if play is None:
        return list(lines)
    titles = [p["title"] for p in load_plays()]
    if play not in titles:
        raise ValueError(f"unknown play {play!r}; the corpus has {titles}")
    return [ln for ln in lines if ln.play == play]


# ------------------------------------------------------------------ splits and batches

def train_val_split(data: S, frac: float = 0.9) -> tuple[S, S]:
    """First ``frac`` of ``data`` for training, the rest for validation.

    Works on a str, list, tuple or tensor (split along its first axis)::

        train_val_split("abcdefghij")  ->  ("abcdefghi", "j")
    """
    if not isinstance(data, (str, list, tuple, Tensor)):
        raise TypeError(f"data must be a str, list, tuple or tensor, got {type(data).__name__}")
    if isinstance(data, Tensor) and data.dim() == 0:
        raise ValueError("data is a 0-d tensor; expected at least one dimension to split")
    frac = check_number("frac", frac, min=0, max=1, min_open=True, max_open=True)
    n = int(len(data) * frac)
    if n == 0 or n == len(data):
        raise ValueError(f"data of length {len(data)} is too short to split with frac={frac}: "
                         "both parts must be non-empty")
    return data[:n], data[n:]


def get_batch(data: Tensor, block_size: int, batch_size: int,
              generator: torch.Generator | None = None,
              device: str | torch.device | None = None) -> tuple[Tensor, Tensor]:
    """``batch_size`` random windows ``x`` of ``block_size`` ids, and targets ``y``.

    ``y[b, t] = x[b, t + 1]`` inside the window, and the last target is the id
    after it. Example: ``data = [10, 11, 12, 13, 14]``, ``block_size=3``, a
    window starting at 1 gives ``x = [11, 12, 13]``, ``y = [12, 13, 14]``.
    """
    if not isinstance(data, Tensor) or data.dtype.is_floating_point or data.dtype.is_complex \
            or data.dtype == torch.bool:
        kind = data.dtype if isinstance(data, Tensor) else type(data).__name__
        raise TypeError(f"data must be an integer tensor of token ids, got {kind}")
    if data.dim() != 1:
        raise ValueError(f"data must be 1-D (one long run of ids), got shape {tuple(data.shape)}")
    block_size = check_int("block_size", block_size, min=1)
    batch_size = check_int("batch_size", batch_size, min=1)
    if len(data) < block_size + 1:
        raise ValueError(f"data has {len(data)} tokens but block_size={block_size} needs at least "
                         f"{block_size + 1} (a window plus one target)")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
    idx = starts[:, None] + torch.arange(block_size)  # (B, T)
    idx = idx.to(data.device)
    x, y = data[idx], data[idx + 1]  # (B, T), (B, T)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


# ------------------------------------------------------------------ toy tasks

def _symbols(n_examples, seq_len, vocab_size, seed, generator) -> Tensor:
    n_examples = check_int("n_examples", n_examples, min=1)
    seq_len = check_int("seq_len", seq_len, min=1)
    vocab_size = check_int("vocab_size", vocab_size, min=1)
    if vocab_size <= N_SPECIAL:
        raise ValueError(f"vocab_size must be > {N_SPECIAL} (ids 0, 1, 2 are PAD, BOS, EOS; "
                         f"data symbols are 3..vocab_size-1), got {vocab_size}")
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(check_int("seed", seed, min=0))
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    shape = (n_examples, seq_len)  # (N, T)
    return torch.randint(N_SPECIAL, vocab_size, shape, generator=generator)


def make_copy_task(n_examples: int, seq_len: int, vocab_size: int, seed: int | None = None, *,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(src, tgt)``, both ``(N, T)`` with ``tgt == src``: ``[5, 3, 4] -> [5, 3, 4]``."""
    src = _symbols(n_examples, seq_len, vocab_size, seed, generator)
    return src, src.clone()


def make_reverse_task(n_examples: int, seq_len: int, vocab_size: int, seed: int | None = None, *,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(src, tgt)``, both ``(N, T)``, ``tgt`` is ``src`` backwards: ``[5, 3, 4] -> [4, 3, 5]``."""
    src = _symbols(n_examples, seq_len, vocab_size, seed, generator)
    return src, src.flip(1)


def make_sort_task(n_examples: int, seq_len: int, vocab_size: int, seed: int | None = None, *,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(src, tgt)``, both ``(N, T)``, ``tgt`` is ``src`` sorted up: ``[5, 3, 4] -> [3, 4, 5]``."""
    src = _symbols(n_examples, seq_len, vocab_size, seed, generator)
    return src, src.sort(dim=1).values


def _ids(name: str, ids: Tensor) -> Tensor:
    if not isinstance(ids, Tensor) or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        kind = ids.dtype if isinstance(ids, Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be an integer tensor of ids, got {kind}")
    if ids.dim() == 0:
        raise ValueError(f"{name} must have a sequence axis, got a 0-d tensor")
    return ids


def add_bos_eos(ids: Tensor) -> Tensor:
    """Frame each sequence: ``(..., T) -> (..., T + 2)``, ``[5, 3, 4] -> [1, 5, 3, 4, 2]``."""
    ids = _ids("ids", ids)
    bos = ids.new_full((*ids.shape[:-1], 1), BOS)  # (..., 1)
    eos = ids.new_full((*ids.shape[:-1], 1), EOS)  # (..., 1)
    return torch.cat([bos, ids, eos], dim=-1)  # (..., T + 2)


def shift_right(tgt: Tensor, start_id: int = BOS) -> Tensor:
    """Decoder input for teacher forcing: ``(..., T) -> (..., T)``.

    Position ``t`` sees the target up to ``t - 1``: ``[5, 3, 4] -> [1, 5, 3]``;
    the model is trained to output ``[5, 3, 4]`` from it.
    """
    tgt = _ids("tgt", tgt)
    start_id = check_int("start_id", start_id, min=0)
    start = tgt.new_full((*tgt.shape[:-1], 1), start_id)  # (..., 1)
    return torch.cat([start, tgt[..., :-1]], dim=-1)  # (..., T)


def reverse_batch(batch_size: int, lengths: tuple, vocab_size: int) -> Callable:
    """``batch(generator) -> (src, tgt)``: one random length from ``lengths`` per batch."""
    def batch(g: torch.Generator):
        T = lengths[int(torch.randint(len(lengths), (1,), generator=g))]
        return make_reverse_task(batch_size, T, vocab_size, generator=g)  # (B, T), (B, T)
    return batch
