"""The encoder-decoder Transformer of *Attention Is All You Need* (2017).

The overall flow of section 3 and Figure 1:

1. Source tokens -> embeddings × √d_model + positional encoding (3.4, 3.5).
2. The **encoder stack**: N layers of self-attention + FFN (3.1).
3. Target tokens (shifted right) -> embeddings + positions.
4. The **decoder stack**: in *every* layer, masked self-attention over the
   target so far, then encoder-decoder attention (Q from the decoder, K and
   V from the *final* encoder output), then FFN.
5. A Linear layer to vocabulary logits; Softmax gives next-token
   probabilities (we return logits; the loss applies log-softmax).

``share_embeddings=True`` ties the source embedding, the target embedding
and the output Linear, as in section 3.4 (needs one shared vocabulary).
The defaults are the paper's base model: d_model 512, 8 heads, 6 layers,
d_ff 2048, dropout 0.1.

Training and scoring helpers live here too: ``Seq2SeqLoss`` wraps the
model for ``lesson_lib.train`` (teacher forcing with the toy tasks' BOS and
EOS ids, optionally with the label smoothing of 5.4,
``label_smoothed_cross_entropy``) and ``exact_match`` scores greedy decoding.

Left out: beam search (we decode greedily), the learning rate schedule of
5.3 (see ``lesson_lib.train``), checkpoint averaging.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import causal_mask
from .checks import check_int, check_number, is_int
from .data import BOS, EOS, shift_right
from .layers import DecoderLayer, EncoderLayer
from .positional import SinusoidalPositionalEncoding

__all__ = ["Transformer", "Seq2SeqLoss", "label_smoothed_cross_entropy", "exact_match"]


class Transformer(nn.Module):
    """Encoder-decoder Transformer; ``forward(src, tgt) -> logits (B, T_tgt, V)``."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 512,
                 n_heads: int = 8, n_layers: int = 6, d_ff: int = 2048, dropout: float = 0.1,
                 max_len: int = 512, share_embeddings: bool = False, norm_first: bool = False,
                 activation: str = "relu"):
        super().__init__()
        src_vocab_size = check_int("src_vocab_size", src_vocab_size, min=1)
        tgt_vocab_size = check_int("tgt_vocab_size", tgt_vocab_size, min=1)
        d_model = check_int("d_model", d_model, min=1)
        n_layers = check_int("n_layers", n_layers, min=1)
        max_len = check_int("max_len", max_len, min=1)
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(
                "share_embeddings=True needs one shared vocabulary, got "
                f"src_vocab_size={src_vocab_size} and tgt_vocab_size={tgt_vocab_size}"
            )
        # The constructor arguments, so a checkpoint can rebuild this model.
        self.init_args = dict(src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size,
                              d_model=d_model, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff,
                              dropout=dropout, max_len=max_len, share_embeddings=share_embeddings,
                              norm_first=norm_first, activation=activation)
        self.d_model, self.max_len = d_model, max_len
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.src_embed = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embed = (self.src_embed if share_embeddings
                          else nn.Embedding(tgt_vocab_size, d_model))
        self.pos = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        layer_args = (d_model, n_heads, d_ff, dropout, norm_first, activation)
        self.encoder_layers = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(n_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(n_layers))
        # Pre-norm stacks need a last LayerNorm; post-norm layers already end with one.
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.generator = nn.Linear(d_model, tgt_vocab_size, bias=not share_embeddings)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if share_embeddings:
            self.generator.weight = self.tgt_embed.weight  # one matrix, three uses

    def _embed(self, ids: Tensor, table: nn.Embedding, name: str) -> Tensor:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"{name} must be a LongTensor (B, T), got {type(ids).__name__}")
        if ids.is_floating_point() or ids.dtype == torch.bool or ids.is_complex():
            raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.dim() != 2:
            raise ValueError(f"{name} must be (B, T), got shape {tuple(ids.shape)}; "
                             "add a batch axis with ids[None]")
        if ids.shape[1] == 0:
            raise ValueError(f"{name} is empty (T=0); it needs at least one token")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"{name} has T={ids.shape[1]} tokens but max_len={self.max_len}")
        V = table.num_embeddings
        if ids.numel() and (ids.min() < 0 or ids.max() >= V):
            bad = ids[(ids < 0) | (ids >= V)][0].item()
            raise ValueError(f"{name} contains id {bad}, outside the vocabulary [0, {V})")
        return self.pos(table(ids) * math.sqrt(self.d_model))  # (B, T, C)

    def encode(self, src: Tensor, src_mask: Optional[Tensor] = None, return_attn: bool = False):
        """Run the encoder stack: ``memory (B, S, C)`` (and per-layer maps)."""
        x = self._embed(src, self.src_embed, "src")  # (B, S, C)
        maps = []
        for layer in self.encoder_layers:
            x, attn = layer(x, src_mask)  # (B, S, C), (B, H, S, S)
            maps.append(attn)
        x = self.encoder_norm(x)
        return (x, torch.stack(maps)) if return_attn else x  # maps (L, B, H, S, S)

    def decode(self, tgt: Tensor, memory: Tensor, src_mask: Optional[Tensor] = None,
               tgt_mask: Optional[Tensor] = None, return_attn: bool = False):
        """Run the decoder stack and the output Linear: ``logits (B, T, V)``.

        ``tgt_mask`` defaults to the causal mask. ``src_mask`` (e.g. a
        padding mask over the source) restricts the cross-attention keys.
        With ``return_attn`` also returns the masked self-attention maps
        ``(L, B, H, T, T)`` and the cross-attention maps ``(L, B, H, T, S)``.
        """
        x = self._embed(tgt, self.tgt_embed, "tgt")  # (B, T, C)
        if tgt_mask is None:
            tgt_mask = causal_mask(tgt.shape[1], device=tgt.device)  # (T, T)
        self_maps, cross_maps = [], []
        for layer in self.decoder_layers:
            x, self_w, cross_w = layer(x, memory, tgt_mask, src_mask)
            self_maps.append(self_w)  # (B, H, T, T)
            cross_maps.append(cross_w)  # (B, H, T, S)
        logits = self.generator(self.decoder_norm(x))  # (B, T, V)
        if return_attn:
            return logits, torch.stack(self_maps), torch.stack(cross_maps)
        return logits

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Optional[Tensor] = None,
                tgt_mask: Optional[Tensor] = None, return_attn: bool = False):
        """Teacher-forced logits ``(B, T_tgt, V)``; with ``return_attn`` also a
        dict of maps ``{"encoder", "decoder_self", "cross"}``."""
        if return_attn:
            memory, enc = self.encode(src, src_mask, return_attn=True)
            logits, dec, cross = self.decode(tgt, memory, src_mask, tgt_mask, return_attn=True)
            return logits, {"encoder": enc, "decoder_self": dec, "cross": cross}
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_new_tokens: int, bos_id: int,
                      eos_id: Optional[int] = None, src_mask: Optional[Tensor] = None,
                      return_attn: bool = False):
        """Decode one token at a time, always taking the most likely one.

        Returns ``ys (B, 1 + n)`` starting with ``bos_id``; stops early when
        every row has produced ``eos_id``. With ``return_attn`` also returns
        the cross-attention maps of the final step ``(L, B, H, n, S)``.
        """
        max_new_tokens = check_int("max_new_tokens", max_new_tokens, min=0)
        if max_new_tokens + 1 > self.max_len:
            raise ValueError(f"max_new_tokens={max_new_tokens} + BOS exceeds "
                             f"max_len={self.max_len}")
        for name, tok in (("bos_id", bos_id), ("eos_id", eos_id)):
            if (tok is None and name == "bos_id") or (tok is not None and not is_int(tok)):
                raise TypeError(f"{name} must be an int token id, got {tok!r}")
            if tok is not None and not 0 <= tok < self.tgt_vocab_size:
                raise ValueError(f"{name}={tok} is outside the target vocabulary "
                                 f"[0, {self.tgt_vocab_size})")
        was_training = self.training
        self.eval()
        memory = self.encode(src, src_mask)  # (B, S, C), computed once
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        cross = None
        for _ in range(max_new_tokens):
            logits, _, cross = self.decode(ys, memory, src_mask, return_attn=True)
            next_id = logits[:, -1].argmax(-1)  # (B,)
            if eos_id is not None:
                next_id = next_id.masked_fill(done, eos_id)
                done |= next_id == eos_id
            ys = torch.cat([ys, next_id[:, None]], dim=1)  # (B, T + 1)
            if eos_id is not None and bool(done.all()):
                break
        self.train(was_training)
        return (ys, cross) if return_attn else ys


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float,
                                 ignore_index: int = -100) -> Tensor:
    """Cross-entropy against a smoothed target (the paper's label smoothing, 5.4).

    The target distribution keeps ``1 - smoothing`` on the right class and
    spreads ``smoothing`` evenly over all V classes (the right one included),
    so that per position

        loss = (1 - smoothing) * (-log p[target]) + smoothing * mean_v(-log p[v]).

    ``logits`` is ``(..., V)``, ``targets`` the matching ``(...)`` ids; positions
    whose target is ``ignore_index`` are left out of the mean. It equals
    ``F.cross_entropy(..., label_smoothing=smoothing)``; written out to be read.

    Worked example, V = 2, logits ``[ln 3, 0]`` so p = (0.75, 0.25), target 0,
    smoothing 0.2: -log p = (0.288, 1.386), their mean 0.837, and
    loss = 0.8 * 0.288 + 0.2 * 0.837 = 0.397 (0.288 without smoothing).
    """
    smoothing = check_number("smoothing", smoothing, min=0, max=1)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must be targets {tuple(targets.shape)} "
                         "plus one last axis of V classes")
    logp = logits.log_softmax(dim=-1)  # (..., V)
    keep = targets != ignore_index  # (...) positions that count
    nll = -logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # (...) -log p[target]
    uniform = -logp.mean(dim=-1)  # (...) -log p averaged over the V classes
    loss = (1.0 - smoothing) * nll + smoothing * uniform  # (...)
    return loss[keep].mean()


class Seq2SeqLoss(nn.Module):
    """Wraps a ``Transformer`` for ``lesson_lib.train``: ``(src, tgt) -> (logits, loss)``.

    The decoder reads ``[BOS, t1, ..., tn]`` and learns to output
    ``[t1, ..., tn, EOS]`` (teacher forcing): for ``tgt = [5, 3]`` the
    decoder input is ``[1, 5, 3]`` and the target ``[5, 3, 2]``.
    ``label_smoothing`` is the paper's epsilon_ls (0.1 in 5.4; 0 here by default).
    """

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0):
        super().__init__()
        self.model = model
        self.label_smoothing = check_number("label_smoothing", label_smoothing, min=0, max=1)

    def forward(self, src: Tensor, tgt: Tensor):
        out = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
        logits = self.model(src, shift_right(out))  # (B, T + 1, V)
        # PyTorch's fused loss, equal to label_smoothed_cross_entropy (tested), and with
        # smoothing 0 the very numbers of plain cross-entropy that the shipped recipes saw.
        return logits, F.cross_entropy(logits.flatten(0, 1), out.flatten(),
                                       label_smoothing=self.label_smoothing)


@torch.no_grad()
def exact_match(model, src: Tensor, tgt: Tensor) -> float:
    """Share of rows whose greedy decoding is exactly ``tgt`` followed by EOS."""
    ys = model.greedy_decode(src, tgt.shape[1] + 1, BOS, EOS)  # (B, 1 + T + 1) at most
    want = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
    got = ys[:, 1:]
    if got.shape[1] != want.shape[1]:
        return 0.0
    return (got == want).all(dim=1).float().mean().item()
