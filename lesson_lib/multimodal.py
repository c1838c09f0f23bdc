"""Images as tokens: a tiny captioner that reads image patches as a prefix.

GPT-4 "accepts prompts consisting of both images and text" (OpenAI 2023,
GPT-4 Technical Report, §4.1 and the example of its Table 3). The report
does **not** say how images enter the model (§2: no details about the
architecture). This module shows one common, published way, on a toy:

1. cut the image into square patches and flatten each one
   (:func:`patchify`, as in the Vision Transformer of Dosovitskiy et al.
   2021, §3.1);
2. embed every patch with one linear layer, so a patch becomes a vector of
   the same width as a word embedding: an "image token";
3. put the image tokens *before* the text and let a GPT-style decoder
   (the very :class:`lesson_lib.gpt.Block` of chapter 07, causal masked
   self-attention plus MLP) predict the caption word by word.

The data are synthetic: :func:`make_shapes` draws a circle, square or
triangle in red, green or blue at a random place and size on a 16 x 16
canvas, with noise, and the caption is ``"a <colour> <shape>"``. Every word
of a caption is one token of the tiny vocabulary :data:`VOCAB`.

Left out: a pretrained vision encoder, images of any size, interleaved
image and text, cross-attention variants, and any claim about GPT-4's own
design.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_int, check_number
from .gpt import GPT, Block, GPTConfig

__all__ = ["COLOURS", "SHAPES", "VOCAB", "make_shapes", "encode_captions", "patchify",
           "CaptionerConfig", "ImageCaptioner", "caption_accuracy", "shape_batches",
           "patch_grid", "object_patches"]

COLOURS = ("red", "green", "blue")
SHAPES = ("circle", "square", "triangle")
VOCAB = ("<bos>", "<eos>", "a") + COLOURS + SHAPES  # one token per word
BOS, EOS = 0, 1
CAPTION_LEN = 5  # <bos> a <colour> <shape> <eos>


def make_shapes(n: int, seed: int = 0, size: int = 16, noise: float = 0.1):
    """``n`` random images ``(n, 3, size, size)`` in [0, 1], colour and shape ids ``(n,)`` each.

    One shape per image, its half-width 3 to size/3 pixels, fully inside
    the canvas; the colour is a dominant channel (0.6 to 1.0) over weak
    others (up to 0.3); every pixel gets uniform noise up to ``noise``.
    Same ``seed``, same images.
    """
    for name, value, low in (("n", n, 1), ("size", size, 8)):
        check_int(name, value, min=low)
    check_number("noise", noise, min=0, max=0.5)
    g = torch.Generator().manual_seed(seed)
    colour = torch.randint(len(COLOURS), (n,), generator=g)  # (n,)
    shape = torch.randint(len(SHAPES), (n,), generator=g)  # (n,)
    r = 3.0 + torch.rand(n, generator=g) * (size / 3 - 3.0)  # (n,) half-width in pixels
    cx = r + torch.rand(n, generator=g) * (size - 2 * r)  # (n,) centre, shape inside canvas
    cy = r + torch.rand(n, generator=g) * (size - 2 * r)  # (n,)
    grid = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    x = grid.view(1, 1, size) - cx.view(n, 1, 1)  # (n, 1, S) offset from the centre
    y = grid.view(1, size, 1) - cy.view(n, 1, 1)  # (n, S, 1)
    rr = r.view(n, 1, 1)
    circle = x ** 2 + y ** 2 <= rr ** 2  # (n, S, S)
    square = (x.abs() <= 0.85 * rr) & (y.abs() <= 0.85 * rr)  # (n, S, S) about the circle's area
    triangle = (y >= -rr) & (y <= rr) & (x.abs() <= (y + rr) / 2)  # (n, S, S) apex up
    mask = torch.stack([circle, square, triangle], 1)[torch.arange(n), shape]  # (n, S, S)
    rgb = torch.rand(n, 3, generator=g) * 0.3  # (n, 3) weak channels
    rgb[torch.arange(n), colour] = 0.6 + 0.4 * torch.rand(n, generator=g)  # dominant channel
    images = mask[:, None].float() * rgb[:, :, None, None]  # (n, 3, S, S)
    images = images + noise * torch.rand(n, 3, size, size, generator=g)  # (n, 3, S, S)
    return images.clamp(0.0, 1.0), colour, shape


def encode_captions(colour: Tensor, shape: Tensor) -> Tensor:
    """Token ids ``(n, 5)`` of ``"<bos> a <colour> <shape> <eos>"``.

    >>> encode_captions(torch.tensor([0]), torch.tensor([2])).tolist()
    [[0, 2, 3, 8, 1]]
    """
    n = colour.shape[0]
    ids = torch.empty(n, CAPTION_LEN, dtype=torch.long)  # (n, 5)
    ids[:, 0], ids[:, 1], ids[:, 4] = BOS, VOCAB.index("a"), EOS
    ids[:, 2] = 3 + colour.long()
    ids[:, 3] = 3 + len(COLOURS) + shape.long()
    return ids


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut ``(B, C, H, W)`` images into flat patches ``(B, N, C·P·P)``, N = (H/P)·(W/P).

    Patches are numbered row by row; each is flattened channel first, then
    row, then column. Example: a 1-channel 4 x 4 image with ``P = 2`` gives
    4 patches of 4 numbers; patch 1 is the top-right 2 x 2 block::

        0  1 |  2  3
        4  5 |  6  7      patch 0 = [0, 1, 4, 5]    patch 1 = [2, 3, 6, 7]
        -----+------
        8  9 | 10 11      patch 2 = [8, 9, 12, 13]  patch 3 = [10, 11, 14, 15]
       12 13 | 14 15

    >>> patchify(torch.arange(16.).view(1, 1, 4, 4), 2)[0, 1].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a (B, C, H, W) tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    patch_size = check_int("patch_size", patch_size, min=1)
    B, C, H, W = images.shape
    P = patch_size
    if H % P or W % P:
        raise ValueError(f"image size {H}x{W} is not divisible by patch_size={P}; "
                         f"pick a patch size that divides both")
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, gh, P, gw, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, P, P)
    return x.reshape(B, (H // P) * (W // P), C * P * P)  # (B, N, C·P·P)


def shape_batches(batch_size: int, size: int = 16):
    """A batch function for ``lesson_lib.train.train``: ``batch(generator) -> (images, captions)``.

    Every call draws fresh images, so the captioner never sees one twice.
    """
    def batch(g: torch.Generator):
        seed = int(torch.randint(2 ** 31 - 1, (1,), generator=g))
        images, colour, shape = make_shapes(batch_size, seed=seed, size=size)
        return images, encode_captions(colour, shape)  # (B, 3, S, S), (B, 5)

    return batch


@dataclass
class CaptionerConfig:
    image_size: int = 16  # images are image_size x image_size pixels
    patch_size: int = 4  # P: 16 / 4 = a 4 x 4 grid of 16 image tokens
    channels: int = 3  # RGB
    vocab_size: int = len(VOCAB)  # V: words of the captions plus <bos>, <eos>
    max_caption_len: int = CAPTION_LEN  # text positions after the image tokens
    n_layer: int = 2  # L: decoder blocks (lesson_lib.gpt.Block)
    n_head: int = 4  # H: attention heads per block
    n_embd: int = 64  # C: width of image tokens and word embeddings alike
    dropout: float = 0.0  # dropout inside the blocks

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={self.image_size} is not divisible by "
                             f"patch_size={self.patch_size}")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class ImageCaptioner(nn.Module):
    """Patches, linearly embedded, then words: one causal decoder over both.

    ``forward(images (B, 3, S, S), captions (B, T))`` returns ``(logits (B, T, V),
    loss)``: logits at caption position t predict word t + 1, and the loss
    (None when T = 1) scores them against ``captions[:, 1:]``. With
    ``return_attn=True`` a third element holds the attention maps
    ``(L, B, H, N + T, N + T)``, image tokens first.
    """

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        if not isinstance(config, CaptionerConfig):
            raise TypeError(f"config must be a CaptionerConfig, got {type(config).__name__}")
        self.config = c = config
        self.n_patches = c.n_patches
        block_cfg = GPTConfig(c.vocab_size, self.n_patches + c.max_caption_len, c.n_layer,
                              c.n_head, c.n_embd, c.dropout)
        self.patch_embed = nn.Linear(c.channels * c.patch_size ** 2, c.n_embd)  # patch -> token
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)  # word embeddings (V, C)
        self.wpe = nn.Embedding(block_cfg.block_size, c.n_embd)  # positions: patches, then words
        self.blocks = nn.ModuleList(Block(block_cfg) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as in the GPT
        self.apply(GPT._init_weights)

    def checkpoint_spec(self):
        """``(kind, config)`` for ``lesson_lib.pretrained.save``."""
        return "image-captioner", asdict(self.config)

    def forward(self, images: Tensor, captions: Tensor, return_attn: bool = False):
        c = self.config
        if not isinstance(images, Tensor) or images.shape[1:] != (c.channels, c.image_size,
                                                                   c.image_size):
            raise ValueError(f"images must be (B, {c.channels}, {c.image_size}, {c.image_size}), "
                             f"got {tuple(getattr(images, 'shape', ()))}")
        if not isinstance(captions, Tensor) or captions.dim() != 2 or captions.is_floating_point():
            raise TypeError("captions must be an integer tensor (B, T) of word ids")
        B, T = captions.shape
        if B < 1 or B != images.shape[0] or not 1 <= T <= c.max_caption_len:
            raise ValueError(f"captions {tuple(captions.shape)} must be (B={images.shape[0]}, T) "
                             f"with 1 <= T <= {c.max_caption_len}")
        if int(captions.min()) < 0 or int(captions.max()) >= c.vocab_size:
            raise ValueError(f"caption ids must be in [0, {c.vocab_size})")
        img = self.patch_embed(patchify(images, c.patch_size))  # (B, N, C) image tokens
        txt = self.wte(captions)  # (B, T, C) word tokens
        x = torch.cat([img, txt], dim=1)  # (B, N + T, C)
        x = x + self.wpe(torch.arange(x.shape[1], device=x.device))  # (B, N + T, C)
        maps = []
        for block in self.blocks:
            x, w = block(x, need_weights=return_attn)  # (B, N + T, C), (B, H, N+T, N+T)
            maps.append(w)
        logits = self.lm_head(self.ln_f(x[:, self.n_patches:]))  # (B, T, V) text positions only
        loss = None
        if T > 1:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, c.vocab_size),
                                   captions[:, 1:].reshape(-1))
        if return_attn:
            return logits, loss, torch.stack(maps)  # (L, B, H, N + T, N + T)
        return logits, loss

    @torch.no_grad()
    def caption(self, images: Tensor) -> Tensor:
        """Greedy captions: ids ``(B, 5)`` starting with ``<bos>``."""
        was_training = self.training
        self.eval()
        ids = torch.full((images.shape[0], 1), BOS, dtype=torch.long, device=images.device)
        for _ in range(self.config.max_caption_len - 1):
            logits, _ = self(images, ids)  # (B, t, V)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)  # (B, t + 1)
        self.train(was_training)
        return ids

    @staticmethod
    def decode(ids) -> str:
        """Words of one caption, without ``<bos>`` and from ``<eos>`` on.

        >>> ImageCaptioner.decode([0, 2, 3, 6, 1])
        'a red circle'
        """
        words = [VOCAB[int(i)] for i in ids if int(i) != BOS]
        return " ".join(words[:words.index("<eos>")] if "<eos>" in words else words)


@torch.no_grad()
def caption_accuracy(model: ImageCaptioner, images: Tensor, colour: Tensor,
                     shape: Tensor) -> dict:
    """Greedy-caption ``images``; score exact match and each attribute.

    Returns ``{"exact", "colour", "shape", "confusion"}``: fractions in
    [0, 1] and a ``(3, 3)`` shape confusion matrix (true row, predicted
    column; a caption whose shape word is missing counts in no column).
    """
    ids = model.caption(images)  # (n, 5)
    want = encode_captions(colour, shape)  # (n, 5)
    colour_ok = ids[:, 2] == want[:, 2]  # (n,)
    shape_ok = ids[:, 3] == want[:, 3]  # (n,)
    exact = (ids == want).all(dim=1)  # (n,)
    pred_shape = ids[:, 3] - 3 - len(COLOURS)  # (n,) shape id, or out of range
    confusion = torch.zeros(len(SHAPES), len(SHAPES), dtype=torch.long)
    valid = (pred_shape >= 0) & (pred_shape < len(SHAPES))
    confusion.index_put_((shape[valid], pred_shape[valid]), torch.ones(int(valid.sum()),
                                                                         dtype=torch.long),
                         accumulate=True)
    return {"exact": exact.float().mean().item(), "colour": colour_ok.float().mean().item(),
            "shape": shape_ok.float().mean().item(), "confusion": confusion}


def object_patches(images: Tensor, patch_size: int = 4, threshold: float = 0.45) -> Tensor:
    """Which patches hold part of the shape: bool ``(B, N)``.

    A pixel belongs to the shape when its brightest channel exceeds
    ``threshold`` (the dominant channel is at least 0.6; background pixels
    are noise below 0.1 and weak channels stay under 0.4).
    """
    lit = (images.amax(dim=1, keepdim=True) > threshold).float()  # (B, 1, H, W)
    return patchify(lit, patch_size).amax(-1) > 0  # (B, N)


def patch_grid(weights: Tensor, config: Optional[CaptionerConfig] = None) -> Tensor:
    """Attention over the N image tokens ``(..., N)`` laid out as the patch grid ``(..., g, g)``."""
    n = weights.shape[-1]
    g = math.isqrt(n)
    if g * g != n or (config is not None and n != config.n_patches):
        raise ValueError(f"expected weights over a square grid of patches, got {n} values")
    return weights.reshape(*weights.shape[:-1], g, g)  # (..., g, g)
