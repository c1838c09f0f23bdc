"""The logit lens and per-token losses: what a GPT predicts, layer by layer and token by token.

The *logit lens* (nostalgebraist, "interpreting GPT: the logit lens", 2020)
reads the residual stream after each block as if it were the last one: the
final layer norm ``ln_f`` and the tied LM head turn it into next-token
logits. Row 0 is the embedding alone (token plus position), row ``l + 1``
the stream after block ``l``; the last row is exactly the model's output.
Watching the top guess settle from row to row shows where in depth a
prediction is made.

``token_losses`` is the per-token cross-entropy ``-log p(x_t | x_<t)``: how
surprised the model is by each token of a text. The first token has no
prediction, so its loss is NaN.

Both read a ``lesson_lib.gpt.GPT`` (or anything with its ``wte``, ``wpe``,
``blocks``, ``ln_f`` and ``lm_head``) and return tensors; the views in
``lesson_lib.viz`` (``logit_lens``, ``loss_strip``) draw them.

Left out: the *tuned* lens (a learned map per layer), attention-only or
MLP-only contributions, and batching beyond what fits in memory at once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["layer_logits", "token_losses"]


def _ids(model: nn.Module, idx) -> Tensor:
    if isinstance(idx, Tensor) and idx.dim() == 1:
        idx = idx[None]  # (T,) -> (1, T)
    idx = model._check_idx(idx)  # (B, T), the same checks and messages as forward
    if idx.shape[1] > model.config.block_size:
        raise ValueError(f"sequence length T={idx.shape[1]} exceeds block_size="
                         f"{model.config.block_size}; crop it: idx[:, -{model.config.block_size}:]")
    return idx


@torch.no_grad()
def layer_logits(model: nn.Module, idx) -> Tensor:
    """Next-token logits read from the residual stream after each layer: ``(L + 1, B, T, V)``.

    ``idx`` is ``(B, T)`` (or ``(T,)``, taken as one sequence). Row 0 reads
    the embeddings, row ``l + 1`` the output of block ``l``, each through
    ``ln_f`` (GPT-2's final norm; GPT-1's post-norm blocks have none) and
    the LM head. ``layer_logits(model, idx)[-1]`` equals ``model(idx)[0]``.
    Runs in eval mode; the model's mode is restored.
    """
    idx = _ids(model, idx)
    was_training = model.training
    model.eval()
    try:
        T = idx.shape[1]
        x = model.wte(idx) + model.wpe(torch.arange(T, device=idx.device))  # (B, T, C)
        streams = [x]
        for block in model.blocks:
            x, _ = block(x)  # (B, T, C)
            streams.append(x)
        ln_f = model.ln_f if model.ln_f is not None else nn.Identity()
        return torch.stack([model.lm_head(ln_f(s)) for s in streams])  # (L + 1, B, T, V)
    finally:
        model.train(was_training)


@torch.no_grad()
def token_losses(model: nn.Module, idx) -> Tensor:
    """Per-token loss ``-log p(idx[t] | idx[:t])`` in nats, shape of ``idx``; NaN at ``t = 0``.

    ``idx`` is ``(B, T)`` or ``(T,)`` (then the result is ``(T,)``). The mean
    over ``t >= 1`` equals ``model(idx[:, :-1], idx[:, 1:])[1]``.
    """
    one = isinstance(idx, Tensor) and idx.dim() == 1
    idx = _ids(model, idx)
    was_training = model.training
    model.eval()
    try:
        logits = model(idx)[0].float()  # (B, T, V)
    finally:
        model.train(was_training)
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), idx[:, 1:], reduction="none")  # (B, T-1)
    out = torch.cat([torch.full_like(nll[:, :1], float("nan")), nll], dim=1)  # (B, T)
    return out[0] if one else out
