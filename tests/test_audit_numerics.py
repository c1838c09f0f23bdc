"""Numerical safety: no NaN or inf for any mask or input scale; float32 agrees with float64;
gradients agree with finite differences.

Property tests (hypothesis) draw shapes, a seed for the values, a scale up to
1e4 and every entry of a boolean mask, so fully masked rows, fully open rows
and everything between come up. Examples are kept few (see ``EXAMPLES``) so
the file runs in seconds.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lesson_lib.attention import MultiHeadAttention, scaled_dot_product_attention
from lesson_lib.gpt import GPT, Block, GPTConfig, filter_logits
from lesson_lib.layers import DecoderLayer, EncoderLayer

# max_examples per property; their sum is the number of examples the file runs.
EXAMPLES = {"sdpa_mask": 60, "sdpa_grad_mask": 25, "mha": 30, "layers": 25, "gpt": 20,
            "sampling": 20, "dtype_attention": 20, "dtype_encoder": 15, "dtype_gpt": 10}


def prop(name):
    return settings(max_examples=EXAMPLES[name], deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


SCALES = st.sampled_from([1e-4, 1e-2, 1.0, 10.0, 1e2, 1e3, 1e4])


def randn(*shape, seed=0, scale=1.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def draw_mask(data, *shape):
    """Every entry drawn by hypothesis: shrinks towards all-False (fully masked)."""
    n = 1
    for s in shape:
        n *= s
    bits = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="mask")
    return torch.tensor(bits, dtype=torch.bool).reshape(shape)


def assert_finite(*tensors):
    for x in tensors:
        assert torch.isfinite(x).all(), f"non-finite values: {x}"


# ------------------------------------------------------------------ attention

@prop("sdpa_mask")
@given(data=st.data(), B=st.integers(1, 2), Tq=st.integers(1, 5), Tk=st.integers(1, 5),
       D=st.integers(1, 4), seed=st.integers(0, 2**16), scale=SCALES)
def test_sdpa_is_finite_for_any_mask_and_scale(data, B, Tq, Tk, D, seed, scale):
    q, k, v = (randn(B, T, D, seed=seed + i, scale=scale) for i, T in enumerate((Tq, Tk, Tk)))
    mask = draw_mask(data, B, Tq, Tk)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert_finite(out, w)
    allowed = mask.any(-1)  # (B, Tq): rows with at least one key
    torch.testing.assert_close(w.sum(-1)[allowed], torch.ones(int(allowed.sum())))
    assert (w[~mask] == 0).all()  # masked keys get exactly zero weight
    assert (out[~allowed] == 0).all()  # a fully masked row outputs zeros
    assert (w >= 0).all()


@prop("sdpa_grad_mask")
@given(data=st.data(), Tq=st.integers(1, 4), Tk=st.integers(1, 4), seed=st.integers(0, 2**16),
       scale=SCALES)
def test_sdpa_gradients_are_finite_with_fully_masked_rows(data, Tq, Tk, seed, scale):
    q, k, v = (randn(T, 3, seed=seed + i, scale=scale).requires_grad_()
               for i, T in enumerate((Tq, Tk, Tk)))
    mask = draw_mask(data, Tq, Tk)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    (out.square().sum() + w.sum()).backward()
    assert_finite(q.grad, k.grad, v.grad)
    assert (q.grad[~mask.any(-1)] == 0).all()  # a query that sees nothing gets no gradient


@prop("mha")
@given(data=st.data(), B=st.integers(1, 2), Tq=st.integers(1, 4), Tk=st.integers(1, 4),
       seed=st.integers(0, 2**16), scale=SCALES, mask_rank=st.sampled_from([2, 3, 4]))
def test_multi_head_attention_fast_and_explicit_paths_are_finite_and_agree(
        data, B, Tq, Tk, seed, scale, mask_rank):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(8, 2).eval()
    x, mem = randn(B, Tq, 8, seed=seed, scale=scale), randn(B, Tk, 8, seed=seed + 1, scale=scale)
    shape = {2: (Tq, Tk), 3: (B, Tq, Tk), 4: (B, 1, Tq, Tk)}[mask_rank]
    mask = draw_mask(data, *shape)
    slow, w = mha(x, mem, mem, mask)
    fast, _ = mha(x, mem, mem, mask, need_weights=False)
    assert_finite(slow, fast, w)
    tol = 1e-5 * max(1.0, scale) ** 2  # scores grow like scale²
    torch.testing.assert_close(fast, slow, atol=tol, rtol=1e-4)


@prop("layers")
@given(data=st.data(), T=st.integers(1, 4), S=st.integers(1, 4), seed=st.integers(0, 2**16),
       scale=SCALES, norm_first=st.booleans())
def test_encoder_and_decoder_layers_are_finite_for_any_mask_and_scale(
        data, T, S, seed, scale, norm_first):
    torch.manual_seed(seed)
    enc = EncoderLayer(8, 2, 16, norm_first=norm_first).eval()
    dec = DecoderLayer(8, 2, 16, norm_first=norm_first).eval()
    x, mem = randn(2, T, 8, seed=seed, scale=scale), randn(2, S, 8, seed=seed + 1, scale=scale)
    src_mask = draw_mask(data, 2, 1, 1, S)  # a padding-style mask, possibly all padding
    tgt_mask = draw_mask(data, T, T)
    memory, attn = enc(mem, src_mask)
    y, self_w, cross_w = dec(x, memory, tgt_mask, src_mask)
    assert_finite(memory, attn, y, self_w, cross_w)
    if not norm_first:  # post-norm output is LayerNorm'd: bounded whatever the input scale
        assert y.abs().max() < 1e3


# ------------------------------------------------------------------ GPT

def gpt(seed=0, dtype=torch.float32, **kw):
    torch.manual_seed(seed)
    config = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    config.update(kw)
    return GPT(GPTConfig(**config)).to(dtype).eval()


@prop("gpt")
@given(B=st.integers(1, 2), T=st.integers(1, 8), seed=st.integers(0, 2**16), scale=SCALES,
       norm_first=st.booleans())
def test_gpt_logits_loss_and_maps_are_finite_for_large_weights(B, T, seed, scale, norm_first):
    model = gpt(seed, norm_first=norm_first)
    with torch.no_grad():
        model.wte.weight.mul_(scale)  # tied: large embeddings and large logits
        model.wpe.weight.mul_(scale)
    idx = torch.randint(0, 13, (B, T), generator=torch.Generator().manual_seed(seed))
    logits, loss, attn = model(idx, idx, return_attn=True)
    fast, fast_loss = model(idx, idx)
    assert_finite(logits, loss, attn, fast, fast_loss)
    out = model.generate(idx, 3, temperature=0.7, top_k=5, top_p=0.9,
                         generator=torch.Generator().manual_seed(seed))
    assert out.shape == (B, T + 3) and 0 <= int(out.min()) and int(out.max()) < 13


@prop("sampling")
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 1e2, 1e4, 1e8, 1e30]),
       temperature=st.sampled_from([0.0, 1e-6, 0.5, 1.0, 5.0]),
       top_k=st.one_of(st.none(), st.integers(1, 20)),
       top_p=st.one_of(st.none(), st.floats(1e-3, 1.0)))
def test_filter_logits_gives_a_distribution_for_extreme_logits(seed, scale, temperature,
                                                               top_k, top_p):
    logits = randn(3, 11, seed=seed, scale=scale)
    probs = filter_logits(logits, temperature, top_k, top_p)
    assert_finite(probs)
    assert (probs >= 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    assert (probs.argmax(-1) == logits.argmax(-1)).all()  # the best token always survives


# ------------------------------------------------------------------ float32 vs float64

@prop("dtype_attention")
@given(data=st.data(), Tq=st.integers(1, 5), Tk=st.integers(1, 5), seed=st.integers(0, 2**16),
       scale=st.sampled_from([0.1, 1.0, 3.0]))
def test_attention_float32_agrees_with_float64(data, Tq, Tk, seed, scale):
    q, k, v = (randn(2, T, 4, seed=seed + i, scale=scale, dtype=torch.float64)
               for i, T in enumerate((Tq, Tk, Tk)))
    mask = draw_mask(data, 2, Tq, Tk)
    out64, w64 = scaled_dot_product_attention(q, k, v, mask)
    out32, w32 = scaled_dot_product_attention(q.float(), k.float(), v.float(), mask)
    assert out32.dtype == torch.float32 and out64.dtype == torch.float64
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w32.double(), w64, atol=1e-6, rtol=1e-5)


@prop("dtype_encoder")
@given(T=st.integers(1, 5), seed=st.integers(0, 2**16), norm_first=st.booleans())
def test_encoder_layer_float32_agrees_with_float64(T, seed, norm_first):
    torch.manual_seed(seed)
    layer64 = EncoderLayer(8, 2, 16, norm_first=norm_first).double().eval()
    layer32 = EncoderLayer(8, 2, 16, norm_first=norm_first).eval()
    layer32.load_state_dict({k: v.float() for k, v in layer64.state_dict().items()})
    x = randn(2, T, 8, seed=seed, dtype=torch.float64)
    y64, a64 = layer64(x)
    y32, a32 = layer32(x.float())
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), y64, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a32.double(), a64, atol=1e-6, rtol=1e-5)


@prop("dtype_gpt")
@given(T=st.integers(1, 8), seed=st.integers(0, 2**16), norm_first=st.booleans())
def test_gpt_logits_float32_agree_with_float64(T, seed, norm_first):
    model64 = gpt(seed, torch.float64, norm_first=norm_first)
    model32 = gpt(seed + 1, torch.float32, norm_first=norm_first)
    model32.load_state_dict({k: v.float() for k, v in model64.state_dict().items()})
    idx = torch.randint(0, 13, (2, T), generator=torch.Generator().manual_seed(seed))
    logits64, loss64 = model64(idx, idx)
    logits32, loss32 = model32(idx, idx)
    assert logits64.dtype == torch.float64 and logits32.dtype == torch.float32
    torch.testing.assert_close(logits32.double(), logits64, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss32.double(), loss64, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ gradcheck (float64)

def test_gradcheck_scaled_dot_product_attention_with_a_mask():
    q, k, v = (randn(2, T, 3, seed=i, dtype=torch.float64).requires_grad_()
               for i, T in enumerate((4, 5, 5)))
    mask = torch.rand(2, 4, 5, generator=torch.Generator().manual_seed(0)) > 0.4
    mask[0, 1] = False  # one fully masked query row
    mask[1, 2] = True  # one fully open row

    def f(q, k, v):
        out, w = scaled_dot_product_attention(q, k, v, mask)
        return out, w

    assert torch.autograd.gradcheck(f, (q, k, v), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradgradcheck(f, (q, k, v), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_encoder_layer_with_layer_norm(norm_first):
    torch.manual_seed(0)
    layer = EncoderLayer(4, 2, 8, norm_first=norm_first).double().eval()
    x = randn(1, 3, 4, seed=1, dtype=torch.float64).requires_grad_()
    mask = torch.tensor([[True, True, False], [True, True, True], [False, True, True]])
    params = [p for p in layer.parameters()]
    assert torch.autograd.gradcheck(lambda x, *ps: torch.func.functional_call(
        layer, dict(zip([n for n, _ in layer.named_parameters()], ps)), (x, mask))[0],
        (x, *[p.detach().clone().requires_grad_() for p in params]), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_gradcheck_gpt_block(norm_first):
    torch.manual_seed(0)
    block = Block(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4,
                            norm_first=norm_first)).double().eval()
    with torch.no_grad():  # LayerNorms away from weight 1, bias 0
        for m in block.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.add_(0.3 * torch.randn(m.weight.shape, dtype=torch.float64))
                m.bias.add_(0.3 * torch.randn(m.bias.shape, dtype=torch.float64))
    x = randn(2, 3, 4, seed=2, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: block(x)[0], (x,), eps=1e-6, atol=1e-5)
    assert torch.autograd.gradcheck(lambda x: block(x, need_weights=True)[1], (x,),
                                    eps=1e-6, atol=1e-5)


def test_example_budget_is_modest():
    assert sum(EXAMPLES.values()) <= 300


# ------------------------------------------------------------------ determinism (CPU)

def test_same_seed_same_weights_and_same_samples_end_to_end():
    """Train twice with one seed (dropout on), then sample with one generator seed:
    bit-identical weights and identical tokens, whatever the global RNG did in between."""
    from lesson_lib.train import TrainConfig, train

    ids = torch.arange(400) % 13
    config = TrainConfig(max_iters=12, batch_size=4, block_size=8, lr=3e-3, min_lr=3e-4,
                         warmup_iters=2, eval_interval=6, eval_iters=2, seed=5)
    runs = []
    for disturb in (0, 123):
        torch.manual_seed(disturb)  # the global RNG state must not matter
        torch.rand(disturb)
        model = gpt(seed=0, dropout=0.2)
        history = train(model, ids, ids, config)
        tokens = model.generate(torch.zeros(2, 1, dtype=torch.long), 10, temperature=1.0,
                                generator=torch.Generator().manual_seed(9))
        runs.append((history, model.state_dict(), tokens))
    (h1, w1, s1), (h2, w2, s2) = runs
    assert h1["step_loss"] == h2["step_loss"] and h1["val_loss"] == h2["val_loss"]
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k
    assert torch.equal(s1, s2)
    other = model.generate(torch.zeros(2, 1, dtype=torch.long), 10,
                           generator=torch.Generator().manual_seed(10))
    assert not torch.equal(other, s2)  # the generator seed does matter
