"""Positional information: sinusoidal encodings and learned embeddings.

Follows *Attention Is All You Need* (Vaswani et al., 2017), section 3.5.
Self-attention treats its input as a set: permute the tokens and the
outputs are permuted the same way. Adding a position signal to each token
embedding breaks that symmetry.

* ``sinusoidal_encoding`` builds the paper's fixed table, interleaved as
  in the formula: ``PE[p, 2i] = sin(p / base**(2i/d))`` and
  ``PE[p, 2i+1] = cos(p / base**(2i/d))``. Each pair of dimensions is a
  rotating 2-D vector, so ``PE[p + k]`` is a fixed rotation of ``PE[p]``:
  relative offsets are linear functions of the encoding.
* ``SinusoidalPositionalEncoding`` adds that table to ``(B, T, C)``.
* ``LearnedPositionalEmbedding`` learns one vector per position instead,
  as GPT-1 and GPT-2 do (the paper found the two "nearly identical").

Left out: relative and rotary encodings (RoPE), which chapter 03 only
previews; ALiBi.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .checks import check_int, check_number

__all__ = ["sinusoidal_encoding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding"]


def sinusoidal_encoding(max_len: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The fixed table ``(max_len, d_model)`` of section 3.5.

    Worked example, ``max_len=2, d_model=2`` (one pair, frequency 1)::

        PE[0] = [sin 0, cos 0] = [0.000, 1.000]
        PE[1] = [sin 1, cos 1] = [0.841, 0.540]
    """
    max_len = check_int("max_len", max_len, min=1)
    d_model = check_int("d_model", d_model, min=1)
    if d_model % 2:
        raise ValueError(
            f"d_model must be even for the sinusoidal encoding (sin/cos pairs), got {d_model}"
        )
    base = check_number("base", base, min=1, min_open=True)  # the paper uses 10000
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,)
    angle = position / base ** (two_i / d_model)  # (max_len, d_model/2)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.to(torch.get_default_dtype())


def _check_input(x, d_model: int, max_len: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a tensor (B, T, C), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"expected float embeddings (B, T, C), got dtype {x.dtype}; token ids "
                        "go through an nn.Embedding first")
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"expected input (B, T, C={d_model}), got shape {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"the input is empty (T=0, shape {tuple(x.shape)}); expected at least "
                         "one position")
    if x.shape[1] > max_len:
        raise ValueError(
            f"sequence length T={x.shape[1]} exceeds max_len={max_len}; "
            "build the encoding with a larger max_len"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Add the fixed sinusoidal table to token embeddings ``(B, T, C)``."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 base: float = 10000.0):
        super().__init__()
        check_number("dropout", dropout, min=0, max=1, max_open=True)
        self.d_model, self.max_len = d_model, max_len
        # A buffer, not a parameter: it moves with .to() but is never trained.
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.d_model, self.max_len)
        T = x.shape[1]
        return self.dropout(x + self.pe[:T].to(x.dtype))  # (B, T, C)


class LearnedPositionalEmbedding(nn.Module):
    """Add one learned vector per position to ``(B, T, C)``, as in GPT."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        max_len = check_int("max_len", max_len, min=1)
        d_model = check_int("d_model", d_model, min=1)
        self.d_model, self.max_len = d_model, max_len
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.d_model, self.max_len)
        T = x.shape[1]
        return x + self.weight[:T]  # (B, T, C)
