import math

import pytest
import torch
import torch.nn.functional as F
from helpers import copy_mha_to_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lesson_lib.attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


def test_worked_example_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[10.0], [20.0]])
    out, w = scaled_dot_product_attention(q, k, v)
    e = math.exp(1 / math.sqrt(2))
    torch.testing.assert_close(w, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    assert out.item() == pytest.approx(10 * e / (e + 1) + 20 / (e + 1), abs=1e-5)


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("masked", ["none", "causal", "padding", "random"])
def test_sdpa_matches_torch(dtype, atol, masked):
    g = torch.Generator().manual_seed(0)
    B, H, Tq, Tk, D = 2, 3, 5, 5, 8
    q, k, v = (torch.randn(B, H, T, D, generator=g, dtype=dtype) for T in (Tq, Tk, Tk))
    mask = {"none": None, "causal": causal_mask(Tq),
            "padding": padding_mask([3, 5], Tk),
            "random": torch.rand(B, H, Tq, Tk, generator=g) > 0.3}[masked]
    if mask is not None:
        mask = mask | torch.eye(Tq, Tk, dtype=torch.bool)  # keep every row non-empty
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=atol, rtol=0)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, Tq, dtype=dtype), atol=atol, rtol=0)


def test_fully_masked_row_is_zero_not_nan():
    q = k = v = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, False]])
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert not torch.isnan(out).any() and not torch.isnan(w).any()
    assert torch.equal(w[0, 1], torch.zeros(3)) and torch.equal(out[0, 1], torch.zeros(4))
    mha = MultiHeadAttention(4, 2)
    for need in (True, False):
        o, _ = mha(q, k, v, mask, need_weights=need)
        assert torch.isfinite(o).all()


def test_masks():
    assert causal_mask(3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    pm = padding_mask([2, 3], 3)
    assert pm.shape == (2, 1, 1, 3)
    assert pm[:, 0, 0].int().tolist() == [[1, 1, 0], [1, 1, 1]]


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "batch3d"])
def test_mha_matches_nn_multiheadattention(dtype, atol, mask_kind):
    torch.manual_seed(0)
    B, T, C, H = 2, 6, 16, 4
    ours = MultiHeadAttention(C, H).to(dtype)
    ref = torch.nn.MultiheadAttention(C, H, batch_first=True).to(dtype)
    copy_mha_to_torch(ours, ref)
    q, kv = torch.randn(B, T, C, dtype=dtype), torch.randn(B, T, C, dtype=dtype)
    kwargs, mask = {}, None
    if mask_kind == "causal":
        mask = causal_mask(T)
        kwargs["attn_mask"] = ~mask  # PyTorch: True = blocked
    elif mask_kind == "padding":
        mask = padding_mask([4, 6], T)
        kwargs["key_padding_mask"] = ~mask[:, 0, 0]
    elif mask_kind == "batch3d":
        mask = (torch.rand(B, T, T) > 0.4) | torch.eye(T, dtype=torch.bool)
        kwargs["attn_mask"] = (~mask).repeat_interleave(H, dim=0)
    out, w = ours(q, kv, kv, mask)
    ref_out, ref_w = ref(q, kv, kv, average_attn_weights=False, **kwargs)
    torch.testing.assert_close(out, ref_out, atol=atol, rtol=0)
    torch.testing.assert_close(w, ref_w, atol=atol, rtol=0)
    fast, none = ours(q, kv, kv, mask, need_weights=False)
    assert none is None
    torch.testing.assert_close(fast, out, atol=atol, rtol=0)


def test_is_causal_and_cache_equal_full_pass():
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(1, 5, 8)
    full, _ = mha(x, x, x, causal_mask(5))
    fast, _ = mha(x, x, x, is_causal=True, need_weights=False)
    torch.testing.assert_close(fast, full, atol=1e-6, rtol=0)
    cache = KVCache()
    steps = [mha(x[:, :3], x[:, :3], x[:, :3], is_causal=True, cache=cache)[0]]
    for t in (3, 4):
        steps.append(mha(x[:, t:t + 1], x[:, t:t + 1], x[:, t:t + 1], is_causal=True,
                         cache=cache)[0])
    assert len(cache) == 5
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=0)


@settings(max_examples=60, deadline=None)
@given(tq=st.integers(1, 6), tk=st.integers(1, 6), scale=st.floats(0.1, 1e4),
       seed=st.integers(0, 2**16))
def test_property_rows_sum_to_one_or_zero(tq, tk, scale, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, tq, 4, generator=g) * scale
    k = torch.randn(2, tk, 4, generator=g) * scale
    v = torch.randn(2, tk, 3, generator=g)
    mask = torch.rand(2, tq, tk, generator=g) > 0.5
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    sums = w.sum(-1)
    empty = ~mask.any(-1)
    assert torch.allclose(sums[~empty], torch.ones_like(sums[~empty]), atol=1e-5)
    assert torch.all(sums[empty] == 0)


@settings(max_examples=30, deadline=None)
@given(T=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_property_self_attention_is_permutation_equivariant(T, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mha = MultiHeadAttention(8, 2).double()
    x = torch.randn(1, T, 8, generator=g, dtype=torch.float64)
    perm = torch.randperm(T, generator=g)
    out, w = mha(x, x, x)
    out_p, w_p = mha(x[:, perm], x[:, perm], x[:, perm])
    torch.testing.assert_close(out_p, out[:, perm])
    torch.testing.assert_close(w_p, w[:, :, perm][:, :, :, perm])


def test_gradcheck_float64():
    q, k, v = (torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = causal_mask(3)
    assert torch.autograd.gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0],
                                    (q, k, v))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: MultiHeadAttention(10, 3), ValueError, r"d_model=10.*n_heads=3"),
    (lambda: scaled_dot_product_attention(torch.randn(2, 4), torch.randn(2, 5), torch.randn(2, 5)),
     ValueError, r"query width 4.*key width 5.*transposed"),
    (lambda: scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(2, 4)),
     ValueError, r"key has 3 positions but value has 2"),
    (lambda: scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4),
                                          mask=torch.ones(2, 4, dtype=torch.bool)),
     ValueError, r"mask of shape \(2, 4\) cannot broadcast.*\(2, 3\)"),
    (lambda: scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4),
                                          mask=torch.ones(2, 3)),
     TypeError, r"torch.bool"),
    (lambda: scaled_dot_product_attention(torch.randn(4), torch.randn(4), torch.randn(4)),
     ValueError, r"at least 2 dimensions.*\(4,\)"),
    (lambda: scaled_dot_product_attention(torch.ones(2, 4, dtype=torch.long),
                                          torch.randn(2, 4), torch.randn(2, 4)),
     TypeError, r"floating-point.*int64"),
    (lambda: MultiHeadAttention(8, 2)(torch.randn(5, 8), torch.randn(5, 8), torch.randn(5, 8)),
     ValueError, r"\(B, T, C\).*\(5, 8\).*unsqueeze"),
    (lambda: MultiHeadAttention(8, 2)(torch.randn(1, 5, 6), torch.randn(1, 5, 6),
                                      torch.randn(1, 5, 6)),
     ValueError, r"width 6.*d_model=8"),
    (lambda: MultiHeadAttention(8, 2)(torch.randn(1, 5, 8), torch.randn(1, 5, 8),
                                      torch.randn(1, 5, 8), causal_mask(4)),
     ValueError, r"mask of shape \(4, 4\) cannot broadcast"),
    (lambda: causal_mask(0), ValueError, r"positive.*got 0"),
    (lambda: padding_mask([2, 9], 4), ValueError, r"\[0, T=4\].*\[2, 9\]"),
    (lambda: padding_mask([1.5], 4), TypeError, r"ints"),
])
def test_bad_input_messages(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
