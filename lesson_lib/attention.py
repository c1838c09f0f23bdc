"""Scaled dot-product attention and multi-head attention.

Follows *Attention Is All You Need* (Vaswani et al., 2017), section 3.2:

* 3.2.1 Scaled dot-product attention: ``softmax(Q Kᵀ / √d_k) V``. The
  compatibility of a query with a key is their dot product; dividing by
  √d_k keeps its variance near 1 so the softmax does not saturate.
* 3.2.2 Multi-head attention: project queries, keys and values h times,
  attend in each head, concatenate the heads and project back.
* 3.2.3 Masks: the decoder's causal mask (a position may not look ahead)
  and padding masks (nobody looks at padding).

Mask convention: a boolean mask is **True where attention is allowed**,
as in ``torch.nn.functional.scaled_dot_product_attention``. A query row
whose mask allows no key gets all-zero weights and a zero output instead
of the NaN a plain softmax over ``-inf`` would give.

``MultiHeadAttention`` also offers a fast path through PyTorch's fused
kernel (``need_weights=False``) and an optional :class:`KVCache` for
incremental decoding, both used by ``lesson_lib.gpt``.

Left out: attention dropout on the fused path is PyTorch's own; no
relative positions, no grouped-query or sliding-window attention.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_int, check_number

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "KVCache",
]


def _check_tensor(name: str, x, min_rank: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < min_rank:
        raise ValueError(
            f"{name} must have at least {min_rank} dimensions (..., T, D), "
            f"got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def _check_qkv(query: Tensor, key: Tensor, value: Tensor) -> None:
    """Same dtype, non-empty T and D, batch axes that broadcast."""
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key and value must share one dtype, got {query.dtype}, {key.dtype} and "
            f"{value.dtype}; convert them with .to(query.dtype)"
        )
    for name, x in (("query", query), ("key", key)):
        if x.shape[-2] == 0 or x.shape[-1] == 0:
            raise ValueError(
                f"{name} of shape {tuple(x.shape)} is empty: attention needs at least one "
                "position (T >= 1) and one feature (D >= 1)"
            )
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch, head) axes of query {tuple(query.shape)}, key "
            f"{tuple(key.shape)} and value {tuple(value.shape)} do not broadcast; expected "
            "the same (..., ) in front of (T, D)"
        ) from None


def _check_mask(mask, scores_shape) -> Tensor:
    """Return ``mask`` as a bool tensor that broadcasts to ``scores_shape``."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must have dtype torch.bool (True = may attend), got {mask.dtype}; "
            "convert with mask.bool() or build it with causal_mask/padding_mask"
        )
    try:
        fits = torch.broadcast_shapes(mask.shape, scores_shape) == torch.Size(scores_shape)
    except RuntimeError:
        fits = False
    if not fits:  # a mask may not add axes (or grow them) beyond the scores' own shape
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} cannot broadcast to the attention "
            f"scores of shape {tuple(scores_shape)} (..., Tq, Tk); expected e.g. "
            f"(Tq, Tk) = {tuple(scores_shape[-2:])} or (B, 1, 1, Tk)"
        )
    return mask


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Optional[Tensor] = None,
    dropout_p: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, returning the weights too.

    query ``(..., Tq, D)``, key ``(..., Tk, D)``, value ``(..., Tk, Dv)``;
    mask (bool, True = may attend) broadcasts to ``(..., Tq, Tk)``.
    Returns ``(output (..., Tq, Dv), weights (..., Tq, Tk))``.

    Worked example: one query equal to the first of two orthogonal keys::

        q = [[1., 0.]], k = [[1., 0.], [0., 1.]], v = [[10.], [20.]]
        scores  = [1, 0] / √2 = [0.707, 0]
        weights = softmax -> [0.670, 0.330]
        output  = 0.670·10 + 0.330·20 = 13.30
    """
    _check_tensor("query", query, 2)
    _check_tensor("key", key, 2)
    _check_tensor("value", value, 2)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query width {query.shape[-1]} (shape {tuple(query.shape)}) must equal key "
            f"width {key.shape[-1]} (shape {tuple(key.shape)}): the dot product q·k "
            "needs the same D on both sides (did you pass K transposed?)"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key has {key.shape[-2]} positions but value has {value.shape[-2]}: "
            f"every key needs its value (key {tuple(key.shape)}, value {tuple(value.shape)})"
        )
    _check_qkv(query, key, value)
    check_number("dropout_p", dropout_p, min=0, max=1, max_open=True)
    d_k = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (..., Tq, Tk)
    if mask is not None:
        mask = _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    if mask is not None:
        # A row with no allowed key is all -inf -> softmax gives NaN; make it zeros.
        weights = weights.masked_fill(~mask, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ value, weights  # (..., Tq, Dv), (..., Tq, Tk)


def causal_mask(T: int, device=None) -> Tensor:
    """Lower-triangular bool mask ``(T, T)``: position t may attend to 0..t.

    >>> causal_mask(3).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T must be a positive sequence length, got {T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, T: int) -> Tensor:
    """Bool mask ``(B, 1, 1, T)``: key position t is real when t < lengths[b].

    >>> padding_mask([2, 3], 3)[:, 0, 0].int().tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"T must be an int sequence length, got {type(T).__name__} {T!r}")
    try:
        lengths = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"lengths must be a 1-D sequence of ints (one per batch row), got "
                        f"{type(lengths).__name__} {lengths!r:.60}") from None
    if lengths.dim() != 1 or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise TypeError(
            f"lengths must be a 1-D sequence of ints (one per batch row), got "
            f"dtype {lengths.dtype} and shape {tuple(lengths.shape)}"
        )
    if T < 1:
        raise ValueError(f"T must be a positive sequence length, got {T}")
    if len(lengths) and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(
            f"every length must be in [0, T={T}], got {lengths.tolist()}"
        )
    positions = torch.arange(T, device=lengths.device)  # (T,)
    return (positions[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T)


@dataclass
class KVCache:
    """Keys and values of the positions seen so far, for incremental decoding.

    ``k`` and ``v`` are ``(B, H, T_past, D)`` or None before the first step.
    """

    k: Optional[Tensor] = None
    v: Optional[Tensor] = None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions and return all keys and values so far."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)  # (B, H, T, D)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)  # (B, H, T, D)
        return self.k, self.v

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]


class MultiHeadAttention(nn.Module):
    """Multi-head attention (section 3.2.2): h heads of width D = C / h.

    ``forward(query (B, Tq, C), key (B, Tk, C), value (B, Tk, C), mask)``
    returns ``(output (B, Tq, C), weights (B, H, Tq, Tk))``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        d_model = check_int("d_model", d_model, min=1)
        n_heads = check_int("n_heads", n_heads, min=1)
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head "
                f"gets d_model / n_heads features, so pick n_heads from the divisors of "
                f"{d_model}"
            )
        check_number("dropout", dropout, min=0, max=1, max_open=True)
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, D)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, x in (("query", query), ("key", key), ("value", value)):
            _check_tensor(name, x, 1)
            if x.dim() != 3:
                raise ValueError(
                    f"{name} must be (B, T, C) with C={self.d_model}, got shape "
                    f"{tuple(x.shape)}; add a batch axis with x.unsqueeze(0)"
                )
            if x.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} has width {x.shape[-1]} but this layer was built with "
                    f"d_model={self.d_model} (shape {tuple(x.shape)})"
                )
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must share "
                "batch size and length"
            )
        if query.shape[0] != key.shape[0]:
            raise ValueError(
                f"query batch {query.shape[0]} differs from key batch {key.shape[0]}"
            )
        for name, x in (("query", query), ("key", key)):
            if x.shape[1] == 0:
                raise ValueError(f"{name} is empty (T=0, shape {tuple(x.shape)}); attention "
                                 "needs at least one position")
        weight = self.q_proj.weight
        dtypes = {query.dtype, key.dtype, value.dtype}
        if len(dtypes) > 1 or (weight.dtype not in dtypes
                               and not torch.is_autocast_enabled(query.device.type)):
            raise TypeError(
                f"query/key/value have dtype {query.dtype}/{key.dtype}/{value.dtype} but the "
                f"layer's weights are {weight.dtype}; convert the inputs with "
                f".to({weight.dtype}) or the layer with .to(dtype)"
            )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Optional[Tensor] = None,
        *,
        need_weights: bool = True,
        is_causal: bool = False,
        cache: Optional[KVCache] = None,
    ) -> tuple[Tensor, Optional[Tensor]]:
        """Attend from ``query`` to ``key``/``value``.

        ``mask`` (bool, True = may attend) may be ``(Tq, Tk)``,
        ``(B, Tq, Tk)`` (a head axis is inserted), ``(B, 1, Tq, Tk)`` or
        ``(B, 1, 1, Tk)``. ``is_causal=True`` adds the causal mask (aligned
        to the end, so it also works with a cache). ``need_weights=False``
        takes PyTorch's fused kernel and returns ``(output, None)``.
        ``cache`` appends this call's keys and values and attends over all.
        """
        self._check_inputs(query, key, value)
        B, Tq, C = query.shape
        q = self._split_heads(self.q_proj(query))  # (B, H, Tq, D)
        k = self._split_heads(self.k_proj(key))  # (B, H, Tk, D)
        v = self._split_heads(self.v_proj(value))  # (B, H, Tk, D)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H, T_past + Tk, D)
        Tk = k.shape[2]
        if mask is not None:
            if isinstance(mask, torch.Tensor) and mask.dim() == 3:
                mask = mask.unsqueeze(1)  # (B, 1, Tq, Tk)
            mask = _check_mask(mask, (B, self.n_heads, Tq, Tk))
        if is_causal:
            if Tq > Tk:
                raise ValueError(f"is_causal needs Tq <= Tk, got Tq={Tq}, Tk={Tk}")
            causal = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(Tk - Tq)
            mask = causal if mask is None else mask & causal  # (..., Tq, Tk)
        p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        else:
            weights = None
            if mask is not None and not bool(mask.any(-1).all()):
                # A fully masked row: the fused kernel would return NaN there.
                out, _ = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
            elif is_causal and mask is causal and Tq == Tk:
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(B, Tq, C)  # (B, Tq, C)
        return self.out_proj(out), weights
