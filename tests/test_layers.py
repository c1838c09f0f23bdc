import pytest
import torch
from helpers import copy_decoder_layer_to_torch, copy_encoder_layer_to_torch, randomize_norms
from hypothesis import given, settings
from hypothesis import strategies as st

from lesson_lib.attention import causal_mask, padding_mask
from lesson_lib.layers import DecoderLayer, EncoderLayer, FeedForward

B, T, S, C, H, F = 2, 5, 7, 16, 4, 32
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def _masks(kind):
    """Our mask (True = may attend) and PyTorch's kwargs (True = blocked)."""
    if kind == "none":
        return None, {}
    if kind == "causal":
        m = causal_mask(T)
        return m, {"is_causal": False, "mask": ~m}
    m = padding_mask([3, 5], T)
    return m, {"key_padding_mask": ~m[:, 0, 0]}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding"])
def test_encoder_layer_matches_torch(dtype, norm_first, activation, mask_kind):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ours = EncoderLayer(C, H, F, 0.0, norm_first, activation).to(dtype).eval()
    randomize_norms(ours, g)
    ref = torch.nn.TransformerEncoderLayer(C, H, F, 0.0, activation, batch_first=True,
                                           norm_first=norm_first).to(dtype).eval()
    copy_encoder_layer_to_torch(ours, ref)
    x = torch.randn(B, T, C, generator=g, dtype=dtype)
    mask, kw = _masks(mask_kind)
    if "mask" in kw:
        kw = {"src_mask": kw["mask"]}
    elif "key_padding_mask" in kw:
        kw = {"src_key_padding_mask": kw["key_padding_mask"]}
    out, attn = ours(x, mask)
    ref_out = ref(x, **kw)
    if mask_kind == "padding":  # PyTorch's fast path may leave padded rows undefined
        keep = mask[:, 0, 0]
        out, ref_out = out[keep], ref_out[keep]
    torch.testing.assert_close(out, ref_out, atol=TOL[dtype], rtol=0)
    assert attn.shape == (B, H, T, T)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("with_masks", [False, True])
def test_decoder_layer_matches_torch(dtype, norm_first, activation, with_masks):
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    ours = DecoderLayer(C, H, F, 0.0, norm_first, activation).to(dtype).eval()
    randomize_norms(ours, g)
    ref = torch.nn.TransformerDecoderLayer(C, H, F, 0.0, activation, batch_first=True,
                                           norm_first=norm_first).to(dtype).eval()
    copy_decoder_layer_to_torch(ours, ref)
    x = torch.randn(B, T, C, generator=g, dtype=dtype)
    memory = torch.randn(B, S, C, generator=g, dtype=dtype)
    tgt_mask = mem_mask = None
    kw = {}
    if with_masks:
        tgt_mask, mem_mask = causal_mask(T), padding_mask([4, 7], S)
        kw = {"tgt_mask": ~tgt_mask, "memory_key_padding_mask": ~mem_mask[:, 0, 0]}
    out, self_w, cross_w = ours(x, memory, tgt_mask, mem_mask)
    torch.testing.assert_close(out, ref(x, memory, **kw), atol=TOL[dtype], rtol=0)
    assert self_w.shape == (B, H, T, T) and cross_w.shape == (B, H, T, S)
    if with_masks:
        assert torch.all(cross_w[0, :, :, 4:] == 0)
        assert torch.all(self_w.triu(1) == 0)


def test_first_decoder_layer_self_attention_is_not_zero():
    torch.manual_seed(0)
    layer = DecoderLayer(C, H, F).eval()
    _, self_w, _ = layer(torch.randn(1, T, C), torch.randn(1, S, C), causal_mask(T))
    assert self_w.abs().sum() > 0
    torch.testing.assert_close(self_w.sum(-1), torch.ones(1, H, T))


def test_feedforward_is_positionwise():
    torch.manual_seed(0)
    ffn = FeedForward(C, F)
    x = torch.randn(B, T, C)
    out = ffn(x)
    torch.testing.assert_close(out[:, 2], ffn(x[:, 2:3])[:, 0])
    manual = torch.relu(x @ ffn.fc1.weight.T + ffn.fc1.bias) @ ffn.fc2.weight.T + ffn.fc2.bias
    torch.testing.assert_close(out, manual)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e4))
def test_property_layers_finite_for_any_mask(seed, scale):
    g = torch.Generator().manual_seed(seed)
    enc, dec = EncoderLayer(8, 2, 16).eval(), DecoderLayer(8, 2, 16).eval()
    x = torch.randn(2, 4, 8, generator=g) * scale
    mask = torch.rand(2, 4, 4, generator=g) > 0.5
    out, _ = enc(x, mask)
    assert torch.isfinite(out).all()
    out, _, _ = dec(x, x, mask, mask)
    assert torch.isfinite(out).all()


def test_float32_and_float64_agree():
    torch.manual_seed(0)
    enc = EncoderLayer(C, H, F).eval()
    x = torch.randn(B, T, C)
    out32, _ = enc(x, causal_mask(T))
    out64, _ = enc.double()(x.double(), causal_mask(T))
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=0)


def test_gradcheck_encoder_layer_float64():
    torch.manual_seed(0)
    enc = EncoderLayer(4, 2, 8).double()
    x = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: enc(a, causal_mask(3))[0], (x,))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: FeedForward(8, 16, activation="swish"), ValueError, r"swish.*gelu"),
    (lambda: EncoderLayer(10, 4, 16), ValueError, r"d_model=10.*n_heads=4"),
    (lambda: EncoderLayer(8, 2, 16)(torch.randn(3, 8)), ValueError, r"\(B, T, C\)"),
    (lambda: DecoderLayer(8, 2, 16)(torch.randn(1, 3, 8), torch.randn(3, 8)), ValueError,
     r"memory must be.*\(B, S, C\).*\(3, 8\)"),
    (lambda: FeedForward(8, 0), ValueError, r"d_ff.*0"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
