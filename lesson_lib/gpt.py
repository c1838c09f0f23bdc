"""The decoder-only GPT: GPT-1's post-norm block and GPT-2's pre-norm block.

GPT-1 (Radford et al., 2018, *Improving Language Understanding by
Generative Pre-Training*, section 3.1) keeps only the Transformer decoder,
without cross-attention: token embedding plus a learned position
embedding, ``n_layer`` blocks of masked multi-head self-attention and a
GELU feed-forward network, each in the original *post-norm* Add & Norm,
then a softmax over the vocabulary through the token embedding itself
(the LM head is tied to ``wte``). Its model had 12 layers of width 768,
12 heads, 512 positions and a 40,478-token BPE vocabulary.

GPT-2 (Radford et al., 2019, section 2.3) keeps the idea, changes the block:

* layer norm moves to the *input* of each sub-block (pre-norm) and a final
  layer norm ``ln_f`` follows the last block;
* the residual projections (``attn.out_proj``, ``mlp.fc2``) start with std
  ``0.02 / sqrt(2 * n_layer)``, so the residual stream does not grow with depth;
* the context grows from 512 to 1,024 tokens and the byte-level BPE
  vocabulary to 50,257 tokens.

``GPTConfig(norm_first=False)`` builds GPT-1's block, the default GPT-2's.
``GPT.from_gpt2_state_dict`` loads Hugging Face GPT-2 weights, and
``GPT.from_pretrained("gpt2")`` (or a folder path) a whole Hugging Face GPT-2
folder, ``config.json`` plus ``model.safetensors``, with the same logits as
``transformers``' ``GPT2LMHeadModel``; its tokenizer is
``BPETokenizer.from_pretrained`` of the same folder (``vocab.json`` and
``merges.txt``). A name is looked up in the local Hugging Face cache first
and fetched only online; offline, or for a name the Hub does not know, the
error comes within seconds and says how to get the files::

    model = GPT.from_pretrained("gpt2")              # or "path/to/folder"
    tok = BPETokenizer.from_pretrained("gpt2")
    ids = torch.tensor([tok.encode("Hello, my dog is")])
    print(tok.decode(model.generate(ids, 10, temperature=0)[0].tolist()))

``generate`` samples one token at a time with temperature, top-k and top-p
(nucleus) filtering; the filters are the pure helpers ``top_k_filter``,
``top_p_filter`` and ``filter_logits``. A KV cache (``attention.KVCache``)
keeps every layer's keys and values, so a new token costs one position, not
the whole prefix. Positions are absolute learned embeddings: once the text
outgrows ``block_size``, cropping shifts every token's position, so from
then on each step recomputes the cropped window in full.

Left out: fused kernels beyond PyTorch's ``scaled_dot_product_attention``,
mixture-of-experts, rotary or relative positions, beam search, and
weight-decay parameter groups (the training loop owns the optimiser).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from .attention import KVCache, MultiHeadAttention
from .checks import check_bool, check_int, check_number
from .hub import model_folder
from .layers import FeedForward

__all__ = ["GPTConfig", "Block", "GPT", "top_k_filter", "top_p_filter", "filter_logits",
           "sharpen_attention_init"]

IGNORE_INDEX = -100  # a target equal to this is left out of the loss (as in F.cross_entropy)
_ID_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


@dataclass
class GPTConfig:
    vocab_size: int  # V: number of token ids (63 characters in our corpus; 50,257 for GPT-2)
    block_size: int  # longest context in tokens (GPT-1: 512, GPT-2: 1,024)
    n_layer: int  # L: number of blocks
    n_head: int  # H: attention heads per block
    n_embd: int  # C: model width; each head gets D = C // H
    dropout: float = 0.0  # on embeddings, attention weights, sub-layer outputs (GPT-1/2: 0.1)
    bias: bool = True  # biases in Linear and LayerNorm layers, as in GPT-1 and GPT-2
    norm_first: bool = True  # True: GPT-2 pre-norm + final LayerNorm; False: GPT-1 post-norm

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, check_int(name, getattr(self, name), min=1))  # numpy -> int
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head "
                f"gets n_embd / n_head features; pick n_head from the divisors of {self.n_embd}"
            )
        self.dropout = check_number("dropout", self.dropout, min=0, max=1, max_open=True)
        for name in ("bias", "norm_first"):
            check_bool(name, getattr(self, name))


def _check_sampling(temperature, top_k, top_p) -> None:
    check_number("temperature", temperature, min=0)  # 0 = greedy
    check_int("top_k", top_k, min=1, none_ok=True)
    check_number("top_p", top_p, min=0, max=1, min_open=True, none_ok=True)


def _check_logits(logits) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        got = (f"dtype {logits.dtype}, shape {tuple(logits.shape)}"
               if isinstance(logits, Tensor) else type(logits).__name__)
        raise TypeError(f"logits must be a floating-point tensor (..., V), got {got}")
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN; check the model's output before sampling")


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of the last axis (ties with the k-th too); rest -inf.

    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0, 0.0]), 2)
    tensor([-inf, 3., 2., -inf])
    """
    _check_logits(logits)
    _check_sampling(1.0, k, None)
    k = min(int(k), logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))  # (..., V)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probability sums to >= p.

    A token survives when the tokens more likely than it hold less than ``p``;
    the most likely token always survives. Worked example, p = 0.75::

        probs  = [0.50, 0.15, 0.30, 0.05]  -> sorted 0.50, 0.30, 0.15, 0.05
        mass of the more likely tokens:      0.00, 0.50, 0.80, 0.95
        kept (mass < 0.75): 0.50 and 0.30, renormalised to 0.625 and 0.375

    >>> probs = torch.tensor([0.50, 0.15, 0.30, 0.05])
    >>> top_p_filter(probs.log(), 0.75).softmax(-1)
    tensor([0.6250, 0.0000, 0.3750, 0.0000])
    """
    _check_logits(logits)
    _check_sampling(1.0, None, p)
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = sorted_logits.softmax(dim=-1)  # (..., V)
    before = torch.cat([torch.zeros_like(probs[..., :1]), probs.cumsum(-1)[..., :-1]], -1)
    drop_sorted = before >= p  # (..., V), False for the most likely token
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))  # (..., V)


def filter_logits(logits: Tensor, temperature: float = 1.0, top_k: Optional[int] = None,
                  top_p: Optional[float] = None) -> Tensor:
    """Next-token probabilities: divide by temperature, then top-k, then top-p, softmax.

    ``temperature=0`` is greedy: all the mass on the argmax.

    >>> filter_logits(torch.tensor([2.0, 1.0, 0.0]), temperature=0)
    tensor([1., 0., 0.])
    >>> filter_logits(torch.tensor([0.0, 0.0, -1e9]), top_k=2)
    tensor([0.5000, 0.5000, 0.0000])
    """
    _check_logits(logits)
    _check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)  # (..., V)
    # Shift so the largest logit is 0 (softmax ignores shifts): a tiny temperature
    # then sends the rest to -inf instead of overflowing to +inf and giving NaN.
    logits = (logits - logits.amax(-1, keepdim=True)) / temperature  # (..., V)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits.softmax(dim=-1)  # (..., V)


class Block(nn.Module):
    """One GPT block: masked self-attention then MLP, pre-norm (GPT-2) or post-norm (GPT-1)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        C, bias = config.n_embd, config.bias
        self.norm_first = config.norm_first
        self.ln_1 = nn.LayerNorm(C, bias=bias)
        self.attn = MultiHeadAttention(C, config.n_head, config.dropout, bias)
        self.ln_2 = nn.LayerNorm(C, bias=bias)
        self.mlp = FeedForward(C, 4 * C, config.dropout, "gelu_tanh", bias=bias)
        self.drop = nn.Dropout(config.dropout)  # residual dropout on each sub-layer output

    def _attend(self, x: Tensor, cache, need_weights: bool):
        out, w = self.attn(x, x, x, need_weights=need_weights, is_causal=True, cache=cache)
        return self.drop(out), w  # (B, T, C), (B, H, T, T_past + T) or None

    def forward(self, x: Tensor, cache: Optional[KVCache] = None, need_weights: bool = False):
        if self.norm_first:  # GPT-2: x + f(LN(x))
            out, w = self._attend(self.ln_1(x), cache, need_weights)
            x = x + out  # (B, T, C)
            x = x + self.drop(self.mlp(self.ln_2(x)))  # (B, T, C)
        else:  # GPT-1: LN(x + f(x))
            out, w = self._attend(x, cache, need_weights)
            x = self.ln_1(x + out)  # (B, T, C)
            x = self.ln_2(x + self.drop(self.mlp(x)))  # (B, T, C)
        return x, w


class GPT(nn.Module):
    """Decoder-only language model: ``forward(idx (B, T)) -> (logits (B, T, V), loss)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)  # token embedding (V, C)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)  # learned positions (block_size, C)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias) if c.norm_first else None
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: logits = x @ wte.T
        self.apply(self._init_weights)
        if c.norm_first:  # GPT-2's scaled init of the projections into the residual stream
            std = 0.02 / math.sqrt(2 * c.n_layer)
            for block in self.blocks:
                nn.init.normal_(block.attn.out_proj.weight, mean=0.0, std=std)
                nn.init.normal_(block.mlp.fc2.weight, mean=0.0, std=std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count (tied weights once); non-embedding leaves out wte and wpe."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wte.weight.numel() + self.wpe.weight.numel()
        return n

    def _check_idx(self, idx, name: str = "idx") -> Tensor:
        if not isinstance(idx, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids (B, T), "
                            f"got {type(idx).__name__}")
        if idx.dtype not in _ID_DTYPES:
            raise TypeError(f"{name} must hold integer token ids (torch.long), got dtype "
                            f"{idx.dtype}; convert with {name}.long() if the values are ids")
        if idx.dim() != 2:
            hint = f"; add a batch axis with {name}[None]" if idx.dim() == 1 else ""
            raise ValueError(f"{name} must be (B, T), got shape {tuple(idx.shape)}{hint}")
        if idx.numel() == 0:
            raise ValueError(f"{name} must hold at least one token, got shape {tuple(idx.shape)}")
        V = self.config.vocab_size
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= V:
            raise ValueError(f"token id {lo if lo < 0 else hi} is outside the vocabulary: "
                             f"ids must be in [0, {V}) for vocab_size={V}")
        return idx.long()

    def _check_targets(self, targets, shape) -> Tensor:
        if not isinstance(targets, Tensor) or targets.dtype not in _ID_DTYPES:
            raise TypeError(f"targets must be an integer tensor (B, T), got "
                            f"{getattr(targets, 'dtype', type(targets).__name__)}")
        if targets.shape != shape:
            raise ValueError(f"targets shape {tuple(targets.shape)} must equal idx shape "
                             f"{tuple(shape)}: one next-token id per position")
        targets = targets.long()
        V, real = self.config.vocab_size, targets != IGNORE_INDEX  # (B, T)
        bad = targets[real & ((targets < 0) | (targets >= V))]
        if bad.numel():
            raise ValueError(f"target id {int(bad[0])} is outside the vocabulary [0, {V}) "
                             f"(use {IGNORE_INDEX} to leave a position out of the loss)")
        if not real.any():
            raise ValueError(f"every target is {IGNORE_INDEX} (ignored): no position to score")
        return targets

    def _hidden(self, idx: Tensor, caches=None, start: int = 0, need_weights: bool = False):
        """Final hidden states (B, T, C) for ids at positions start..start+T-1, and maps."""
        T = idx.shape[1]
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        maps = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, None if caches is None else caches[i], need_weights)  # (B, T, C)
            maps.append(w)  # (B, H, T, T) or None
        return (x if self.ln_f is None else self.ln_f(x)), maps

    def forward(self, idx: Tensor, targets: Optional[Tensor] = None, return_attn: bool = False):
        """Logits (B, T, V) and the mean next-token cross-entropy (None without targets).

        ``return_attn=True`` takes the explicit attention path and also returns
        the maps ``(L, B, H, T, T)``; otherwise PyTorch's fused kernel runs.
        """
        idx = self._check_idx(idx)
        T, block_size = idx.shape[1], self.config.block_size
        if T > block_size:
            raise ValueError(f"sequence length T={T} exceeds block_size={block_size}; "
                             f"crop it to the last {block_size} tokens: idx[:, -{block_size}:]")
        if targets is not None:
            targets = self._check_targets(targets, idx.shape)
        x, maps = self._hidden(idx, need_weights=return_attn)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(),  # (B*T, V), (B*T,)
                                   ignore_index=IGNORE_INDEX)
        if return_attn:
            return logits, loss, torch.stack(maps)  # (L, B, H, T, T)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: Optional[int] = None, top_p: Optional[float] = None,
                 use_cache: bool = True, generator: Optional[torch.Generator] = None) -> Tensor:
        """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled ids -> (B, T + max_new_tokens).

        Runs in eval mode (the previous mode is restored). ``temperature=0``
        is greedy; ``generator`` makes sampling reproducible. With
        ``use_cache`` the prompt runs once and each new token costs one
        position, until the text outgrows ``block_size``.
        """
        idx = self._check_idx(idx)
        n = check_int("max_new_tokens", max_new_tokens, min=0)
        _check_sampling(temperature, top_k, top_p)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got "
                            f"{type(generator).__name__}; make one with "
                            "torch.Generator().manual_seed(seed)")
        if generator is not None and generator.device.type != idx.device.type:
            raise ValueError(f"generator is on {generator.device} but idx is on {idx.device}; "
                             f"sampling needs them together: torch.Generator(device="
                             f"'{idx.device.type}').manual_seed(seed)")
        was_training = self.training
        self.eval()
        try:
            bs, caches = self.config.block_size, None
            for _ in range(int(n)):
                T = idx.shape[1]
                if caches is not None:  # cache holds positions 0..T-2: feed the newest token
                    x, _ = self._hidden(idx[:, -1:], caches, start=T - 1)  # (B, 1, C)
                else:  # full pass over the window; keep a cache only if the next step fits
                    caches = [KVCache() for _ in self.blocks] if use_cache and T < bs else None
                    x, _ = self._hidden(idx[:, -bs:], caches)  # (B, min(T, bs), C)
                if caches is not None and T >= bs:
                    caches = None  # the next window slides: positions shift, cache is stale
                logits = self.lm_head(x[:, -1])  # (B, V)
                logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
                if temperature == 0:
                    nxt = logits.argmax(-1, keepdim=True)  # (B, 1)
                else:
                    probs = filter_logits(logits, temperature, top_k, top_p)  # (B, V)
                    nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
                idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
        finally:
            self.train(was_training)
        return idx

    @classmethod
    def from_gpt2_state_dict(cls, state_dict: Mapping, n_head: int) -> "GPT":
        """Build a GPT-2 (pre-norm, biases, no dropout) from a ``GPT2LMHeadModel`` state dict.

        Sizes come from the tensors; ``n_head`` is not stored in them. Hugging
        Face's ``Conv1D`` keeps weights as (in, out), the transpose of
        ``nn.Linear``, and fuses q, k, v into one ``c_attn``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping of tensors, got "
                            f"{type(state_dict).__name__}")
        sd = {k.removeprefix("transformer."): v for k, v in state_dict.items()}

        def get(key: str, shape=None) -> Tensor:
            if key not in sd:
                raise ValueError(f"GPT-2 state dict is missing key {key!r}")
            t = sd[key]
            if shape is not None and tuple(t.shape) != shape:
                raise ValueError(f"{key!r} has shape {tuple(t.shape)}, expected {shape}")
            return t

        wte, wpe = get("wte.weight"), get("wpe.weight")
        if wte.dim() != 2 or wpe.dim() != 2 or wte.shape[1] != wpe.shape[1]:
            raise ValueError(f"wte {tuple(wte.shape)} and wpe {tuple(wpe.shape)} must be "
                             "(V, C) and (block_size, C) with the same C")
        (V, C), block_size = wte.shape, wpe.shape[0]
        layers = [k.split(".")[1] for k in sd if k.startswith("h.")]
        n_layer = 1 + max((int(i) for i in layers if i.isdigit()), default=-1)
        if n_layer == 0:
            raise ValueError("GPT-2 state dict has no blocks: missing key 'h.0.ln_1.weight'")
        model = cls(GPTConfig(V, block_size, n_layer, n_head, C))
        new = {"wte.weight": wte, "wpe.weight": wpe, "lm_head.weight": wte,
               "ln_f.weight": get("ln_f.weight", (C,)), "ln_f.bias": get("ln_f.bias", (C,))}
        for i in range(n_layer):
            h, b = f"h.{i}.", f"blocks.{i}."
            for part in ("ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"):
                new[b + part] = get(h + part, (C,))
            qkv_w = get(h + "attn.c_attn.weight", (C, 3 * C)).t()  # (3C, C) as nn.Linear
            qkv_b = get(h + "attn.c_attn.bias", (3 * C,))
            for name, w, bias in zip(("q", "k", "v"), qkv_w.split(C), qkv_b.split(C)):
                new[f"{b}attn.{name}_proj.weight"], new[f"{b}attn.{name}_proj.bias"] = w, bias
            for ours, theirs, (n_in, n_out) in (("attn.out_proj", "attn.c_proj", (C, C)),
                                                ("mlp.fc1", "mlp.c_fc", (C, 4 * C)),
                                                ("mlp.fc2", "mlp.c_proj", (4 * C, C))):
                new[f"{b}{ours}.weight"] = get(f"{h}{theirs}.weight", (n_in, n_out)).t()
                new[f"{b}{ours}.bias"] = get(f"{h}{theirs}.bias", (n_out,))
        model.load_state_dict(new)  # strict: every parameter of ours gets a tensor
        return model

    @classmethod
    def from_pretrained(cls, path_or_name, *, cache_dir=None, timeout: float = 5.0) -> "GPT":
        """Load a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``).

        ``path_or_name`` is a folder written by ``save_pretrained`` or a Hub
        name such as ``"gpt2"``, found in the local Hugging Face cache or,
        online, downloaded into it (``lesson_lib.hub.model_folder``; offline
        or unknown names fail within seconds, saying how to get the model).
        The logits equal ``GPT2LMHeadModel``'s. Dropout is 0: the model is
        ready for inference. Pickled ``pytorch_model.bin`` files are refused.
        The tokenizer of the same folder: ``BPETokenizer.from_pretrained``.
        """
        folder = model_folder(path_or_name, ("config.json", "model.safetensors"),
                              cache_dir=cache_dir, timeout=timeout)
        try:
            cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{folder / 'config.json'} is not JSON: {err}") from None
        kind = cfg.get("model_type")
        if kind != "gpt2":
            raise ValueError(f"{folder} holds a {kind!r} model; from_pretrained reads GPT-2 "
                             "(model_type 'gpt2') only")
        expected = {"activation_function": ("gelu_new", "gelu_pytorch_tanh"),
                    "scale_attn_weights": (True,), "scale_attn_by_inverse_layer_idx": (False,),
                    "reorder_and_upcast_attn": (False,), "tie_word_embeddings": (True,)}
        for key, allowed in expected.items():
            if cfg.get(key, allowed[0]) not in allowed:
                raise ValueError(f"{folder}: config {key}={cfg[key]!r} differs from GPT-2's "
                                 f"{allowed[0]!r}, which is the only variant this GPT builds")
        C, n_inner = cfg.get("n_embd"), cfg.get("n_inner")
        if n_inner is not None and n_inner != 4 * C:
            raise ValueError(f"{folder}: n_inner={n_inner} must be 4 * n_embd = {4 * C} "
                             "(or null), as in GPT-2")
        model = cls.from_gpt2_state_dict(load_file(folder / "model.safetensors"),
                                         cfg.get("n_head"))
        eps = check_number("layer_norm_epsilon", cfg.get("layer_norm_epsilon", 1e-5), min=0)
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = eps
        return model.eval()

    def hidden_states(self, idx: Tensor) -> Tensor:
        """The final hidden states (B, T, C), before ``lm_head``: GPT-1's ``h_l`` (section 3.2).

        ``lm_head(hidden_states(idx))`` equals ``forward(idx)[0]``. A fine-tuning
        head reads one position of them (``lesson_lib.finetune.GPTClassifier``).
        """
        idx = self._check_idx(idx)
        if idx.shape[1] > self.config.block_size:
            raise ValueError(f"sequence length T={idx.shape[1]} exceeds block_size="
                             f"{self.config.block_size}; crop or shorten the input")
        return self._hidden(idx)[0]  # (B, T, C)


def sharpen_attention_init(model, std: float) -> None:
    """Start the query and key projections larger than GPT-2's 0.02.

    With 0.02 every attention map starts almost uniform and the gradient that
    would sharpen it is tiny (it is a product of the two small matrices), so
    copying heads form only after a long plateau. Larger starting weights
    shorten the plateau; everything else keeps GPT-2's initialisation.
    """
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.normal_(block.attn.q_proj.weight, mean=0.0, std=std)
            torch.nn.init.normal_(block.attn.k_proj.weight, mean=0.0, std=std)
