"""Patches equal torch's unfold; the captioner is causal and round-trips; shapes are right."""
import pytest
import torch
import torch.nn.functional as F

from lesson_lib import pretrained
from lesson_lib.gpt import Block
from lesson_lib.multimodal import (
    COLOURS,
    SHAPES,
    VOCAB,
    CaptionerConfig,
    ImageCaptioner,
    caption_accuracy,
    encode_captions,
    make_shapes,
    object_patches,
    patch_grid,
    patchify,
    shape_batches,
)


@pytest.mark.parametrize("B,C,H,W,P", [(2, 3, 16, 16, 4), (1, 1, 4, 4, 2), (3, 2, 6, 9, 3),
                                       (1, 3, 8, 8, 8), (2, 3, 5, 5, 1)])
def test_patchify_matches_torch_unfold(B, C, H, W, P):
    x = torch.randn(B, C, H, W)
    ref = F.unfold(x, kernel_size=P, stride=P).transpose(1, 2)  # (B, N, C·P·P)
    torch.testing.assert_close(patchify(x, P), ref, rtol=0, atol=0)


def test_patchify_hand_example():
    out = patchify(torch.arange(16.0).view(1, 1, 4, 4), 2)
    assert out[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


@pytest.mark.parametrize("images,P,err,match", [
    (torch.zeros(1, 3, 10, 10), 4, ValueError, "not divisible by patch_size=4"),
    (torch.zeros(3, 16, 16), 4, ValueError, r"got shape \(3, 16, 16\)"),
    (torch.zeros(1, 3, 16, 16), 0, ValueError, "patch_size"),
    ([[1.0]], 1, TypeError, "list"),
])
def test_patchify_bad_inputs(images, P, err, match):
    with pytest.raises(err, match=match):
        patchify(images, P)


def test_make_shapes_is_reproducible_and_coloured():
    imgs, colour, shape = make_shapes(300, seed=5)
    assert imgs.shape == (300, 3, 16, 16) and imgs.min() >= 0 and imgs.max() <= 1
    again = make_shapes(300, seed=5)
    assert torch.equal(imgs, again[0]) and torch.equal(shape, again[2])
    assert not torch.equal(imgs, make_shapes(300, seed=6)[0])
    # the brightest channel of the image's total light is the caption's colour
    assert torch.equal((imgs - 0.05).clamp(min=0).sum((2, 3)).argmax(1), colour)
    assert set(shape.tolist()) == {0, 1, 2} and set(colour.tolist()) == {0, 1, 2}


def test_shape_areas_follow_geometry():
    """Noise-free: a square covers more pixels than the circle, the triangle about half."""
    imgs, _, shape = make_shapes(600, seed=1, noise=0.0)
    area = (imgs.sum(1) > 0).sum((1, 2)).float()  # (n,) lit pixels
    mean = [area[shape == k].mean() for k in range(3)]
    assert mean[2] < mean[0] < mean[1] * 1.05  # triangle < circle ≲ square


def test_captions_round_trip():
    ids = encode_captions(torch.tensor([0, 2]), torch.tensor([2, 1]))
    assert ids.shape == (2, 5)
    assert [ImageCaptioner.decode(r) for r in ids] == ["a red triangle", "a blue square"]
    assert VOCAB[ids[1, 2]] == COLOURS[2] and VOCAB[ids[1, 3]] == SHAPES[1]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ImageCaptioner(CaptionerConfig(n_layer=2, n_head=2, n_embd=32)).eval()


def test_forward_shapes_and_loss(model):
    imgs, colour, shape = make_shapes(4, seed=0)
    caps = encode_captions(colour, shape)
    logits, loss, attn = model(imgs, caps, return_attn=True)
    assert logits.shape == (4, 5, len(VOCAB))
    ref = F.cross_entropy(logits[:, :-1].reshape(-1, len(VOCAB)), caps[:, 1:].reshape(-1))
    torch.testing.assert_close(loss, ref)
    assert attn.shape == (2, 4, 2, 21, 21)  # (L, B, H, N + T, N + T)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 2, 21))
    assert model(imgs, caps[:, :1])[1] is None  # one token: nothing to predict yet


def test_blocks_are_the_gpt_blocks(model):
    assert all(isinstance(b, Block) for b in model.blocks)
    assert model.lm_head.weight is model.wte.weight


def test_causal_and_reads_the_image(model):
    imgs, colour, shape = make_shapes(2, seed=3)
    caps = encode_captions(colour, shape)
    logits = model(imgs, caps)[0]
    changed = caps.clone()
    changed[:, 3] = (changed[:, 3] - 5) % 3 + 6  # another shape word at position 3
    logits2 = model(imgs, changed)[0]
    torch.testing.assert_close(logits[:, :3], logits2[:, :3])  # earlier words cannot see it
    assert not torch.allclose(logits[:, 3:], logits2[:, 3:])
    other = model(make_shapes(2, seed=4)[0], caps)[0]
    assert not torch.allclose(logits, other)  # the image matters


def test_caption_and_accuracy_shapes(model):
    imgs, colour, shape = make_shapes(6, seed=2)
    ids = model.caption(imgs)
    assert ids.shape == (6, 5) and (ids[:, 0] == 0).all()
    acc = caption_accuracy(model, imgs, colour, shape)
    assert 0 <= acc["exact"] <= min(acc["colour"], acc["shape"]) <= 1
    assert acc["confusion"].shape == (3, 3) and acc["confusion"].sum() <= 6


def test_accuracy_counts_a_perfect_captioner():
    class Oracle(ImageCaptioner):
        def caption(self, images):
            return encode_captions(*self.truth)

    oracle = Oracle(CaptionerConfig(n_layer=1, n_head=1, n_embd=8))
    imgs, colour, shape = make_shapes(9, seed=0)
    oracle.truth = (colour, shape)
    acc = caption_accuracy(oracle, imgs, colour, shape)
    assert acc["exact"] == acc["colour"] == acc["shape"] == 1.0
    assert torch.equal(acc["confusion"].diag(), torch.bincount(shape, minlength=3))


@pytest.mark.parametrize("imgs,caps,match", [
    (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, dtype=torch.long),
     r"images must be \(B, 3, 16, 16\)"),
    (torch.zeros(2, 3, 16, 16), torch.zeros(2, 6, dtype=torch.long), "1 <= T <= 5"),
    (torch.zeros(2, 3, 16, 16), torch.zeros(3, 2, dtype=torch.long), "B=2"),
    (torch.zeros(2, 3, 16, 16), torch.full((2, 2), 99), r"\[0, 9\)"),
    (torch.zeros(0, 3, 16, 16), torch.zeros(0, 2, dtype=torch.long), "B=0"),
])
def test_bad_inputs(model, imgs, caps, match):
    with pytest.raises(ValueError, match=match):
        model(imgs, caps)


def test_float_captions_are_a_type_error(model):
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 3, 16, 16), torch.zeros(1, 2))


def test_save_and_load_round_trip(model, tmp_path):
    path = pretrained.save(model, None, tmp_path / "cap")
    loaded, tok = pretrained.load(path)
    assert isinstance(loaded, ImageCaptioner) and tok is None
    imgs, colour, shape = make_shapes(3, seed=9)
    caps = encode_captions(colour, shape)
    torch.testing.assert_close(loaded(imgs, caps)[0], model(imgs, caps)[0])


def test_patch_grid_and_batches():
    w = torch.arange(16.0)
    assert patch_grid(w)[1, 0] == 4  # patch 4 is row 1, column 0
    with pytest.raises(ValueError, match="square grid"):
        patch_grid(torch.ones(15))
    x, y = shape_batches(5)(torch.Generator().manual_seed(0))
    assert x.shape == (5, 3, 16, 16) and y.shape == (5, 5)


def test_shipped_captioner_reads_held_out_images():
    model, _ = pretrained.load("shapes-captioner")
    imgs, colour, shape = make_shapes(300, seed=424242)
    acc = caption_accuracy(model, imgs, colour, shape)
    assert acc["colour"] >= 0.98 and acc["shape"] >= 0.9


def test_object_patches_find_the_shape():
    imgs, _, _ = make_shapes(50, seed=8, noise=0.0)
    lit = imgs.sum(1) > 0  # (B, H, W) exact shape pixels without noise
    want = lit.reshape(50, 4, 4, 4, 4).any(dim=(2, 4)).reshape(50, 16)  # (B, N)
    noisy, _, _ = make_shapes(50, seed=8)  # same shapes, plus noise
    assert torch.equal(object_patches(imgs), want)
    assert torch.equal(object_patches(noisy), want)
