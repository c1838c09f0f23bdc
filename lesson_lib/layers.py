"""The Transformer's building blocks: FFN, Add & Norm, encoder and decoder layers.

Follows *Attention Is All You Need* (Vaswani et al., 2017):

* 3.3 Position-wise feed-forward network: ``FFN(x) = max(0, x W1 + b1) W2 + b2``,
  the same two-layer MLP applied to every position on its own.
* 3.1 / 5.4 Residual connections and layer normalisation ("Add & Norm"):
  each sub-layer's output is ``LayerNorm(x + Dropout(Sublayer(x)))``.
  That is the paper's *post-norm* order. ``norm_first=True`` gives the
  *pre-norm* order ``x + Dropout(Sublayer(LayerNorm(x)))`` that GPT-2 and
  most later models use because it trains more stably at depth.
* 3.1 Encoder layer: self-attention, then FFN.
  Decoder layer: **masked** self-attention over the target so far, then
  encoder-decoder ("cross") attention whose queries come from the decoder
  and whose keys and values come from the final encoder output, then FFN.
  Every decoder layer, the first included, runs all three.

With the same weights, ``EncoderLayer`` and ``DecoderLayer`` compute what
``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` with
``batch_first=True`` compute; the tests copy weights across to prove it.
Unlike those, ours return the attention weights.

Left out: activation checkpointing, fused kernels, RMSNorm.
"""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import MultiHeadAttention
from .checks import check_int, check_number

__all__ = ["FeedForward", "EncoderLayer", "DecoderLayer", "ACTIVATIONS"]

# Names accepted by ``activation``: "gelu" is the exact GELU (as in PyTorch's
# layers), "gelu_tanh" the tanh approximation that GPT-2 uses.
ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


def _check_x(x, d_model: int, name: str = "x") -> None:
    """A float tensor whose last axis is the model width: (..., C)."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a float tensor (B, T, C={d_model}), got {got}")
    if x.dim() == 0 or x.shape[-1] != d_model:
        raise ValueError(f"{name} must be (B, T, C) with C={d_model}, got shape "
                         f"{tuple(x.shape)}")


class FeedForward(nn.Module):
    """Position-wise FFN: ``fc2(dropout(act(fc1(x))))``, (B, T, C) -> (B, T, C)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu",
                 bias: bool = True):
        super().__init__()
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}"
            )
        d_model, d_ff = check_int("d_model", d_model, min=1), check_int("d_ff", d_ff, min=1)
        check_number("dropout", dropout, min=0, max=1, max_open=True)
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.fc1 = nn.Linear(d_model, d_ff, bias=bias)
        self.fc2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        _check_x(x, self.fc1.in_features)
        return self.fc2(self.dropout(self.act(self.fc1(x))))  # (B, T, C)


class EncoderLayer(nn.Module):
    """Self-attention + FFN, each wrapped in Add & Norm.

    ``forward(x (B, T, C), mask) -> (x (B, T, C), attn (B, H, T, T))``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu"):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _sa(self, x: Tensor, mask: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        out, attn = self.self_attn(x, x, x, mask)  # (B, T, C), (B, H, T, T)
        return self.dropout1(out), attn

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        _check_x(x, self.self_attn.d_model)
        if self.norm_first:
            out, attn = self._sa(self.norm1(x), mask)
            x = x + out
            x = x + self.dropout2(self.ffn(self.norm2(x)))
        else:
            out, attn = self._sa(x, mask)
            x = self.norm1(x + out)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x, attn  # (B, T, C), (B, H, T, T)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to ``memory``, FFN; Add & Norm each.

    ``forward(x (B, T, C), memory (B, S, C), tgt_mask, memory_mask)``
    returns ``(x (B, T, C), self_attn (B, H, T, T), cross_attn (B, H, T, S))``.
    Pass the causal mask as ``tgt_mask``; the layer does not add it itself.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu"):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, tgt_mask: Optional[Tensor] = None,
                memory_mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
        _check_x(x, self.self_attn.d_model)
        if not hasattr(memory, "dim") or memory.dim() != 3:
            raise ValueError(
                "memory must be the encoder output (B, S, C), got shape "
                f"{tuple(getattr(memory, 'shape', ()))}"
            )

        def self_block(h):
            out, w = self.self_attn(h, h, h, tgt_mask)  # (B, T, C), (B, H, T, T)
            return self.dropout1(out), w

        def cross_block(h):
            # Q from the decoder, K and V from the final encoder output.
            out, w = self.cross_attn(h, memory, memory, memory_mask)  # (B, H, T, S)
            return self.dropout2(out), w

        if self.norm_first:
            out, self_w = self_block(self.norm1(x))
            x = x + out
            out, cross_w = cross_block(self.norm2(x))
            x = x + out
            x = x + self.dropout3(self.ffn(self.norm3(x)))
        else:
            out, self_w = self_block(x)
            x = self.norm1(x + out)
            out, cross_w = cross_block(x)
            x = self.norm2(x + out)
            x = self.norm3(x + self.dropout3(self.ffn(x)))
        return x, self_w, cross_w
