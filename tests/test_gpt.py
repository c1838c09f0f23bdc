"""GPT: forward paths, loss, init, sampling helpers, KV cache, GPT-2 weight import."""
import doctest
import math

import pytest
import torch
from helpers import randomize_norms
from hypothesis import given, settings
from hypothesis import strategies as st

import lesson_lib.gpt as gpt_module
from lesson_lib.gpt import GPT, GPTConfig, filter_logits, top_k_filter, top_p_filter

V, BLOCK = 50, 16


def make_gpt(seed=0, **overrides):
    torch.manual_seed(seed)
    kwargs = dict(vocab_size=V, block_size=BLOCK, n_layer=2, n_head=4, n_embd=32)
    kwargs.update(overrides)
    model = GPT(GPTConfig(**kwargs))
    if model.config.bias:
        randomize_norms(model, torch.Generator().manual_seed(seed))
    return model.eval()


def ids(B, T, seed=1, vocab=V):
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def test_docstring_examples_hold():
    result = doctest.testmod(gpt_module)
    assert result.attempted >= 4 and result.failed == 0


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("norm_first", [True, False])
def test_fast_and_explicit_paths_agree(norm_first):
    model = make_gpt(norm_first=norm_first)
    idx = ids(3, BLOCK)
    fast, _ = model(idx)
    slow, _, attn = model(idx, return_attn=True)
    assert fast.shape == (3, BLOCK, V)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)
    assert attn.shape == (2, 3, 4, BLOCK, BLOCK)  # (L, B, H, T, T)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 3, 4, BLOCK))
    upper = torch.ones(BLOCK, BLOCK, dtype=torch.bool).triu(1)
    assert attn[..., upper].abs().max() == 0  # nobody looks ahead


def test_changing_a_future_token_leaves_earlier_logits_unchanged():
    model = make_gpt()
    idx = ids(2, 12)
    changed = idx.clone()
    changed[:, 7] = (changed[:, 7] + 1) % V
    a, _ = model(idx)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7], atol=1e-6, rtol=0)
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-4


def test_loss_is_mean_negative_log_likelihood():
    model = make_gpt()
    idx, targets = ids(2, 9, seed=2), ids(2, 9, seed=3)
    logits, loss = model(idx, targets)
    logp = torch.log_softmax(logits.double(), -1)
    by_hand = -sum(logp[b, t, targets[b, t]] for b in range(2) for t in range(9)) / 18
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    targets[0, :4] = -100  # ignored positions leave the mean
    _, loss = model(idx, targets)
    kept = [(b, t) for b in range(2) for t in range(9) if targets[b, t] != -100]
    by_hand = -sum(logp[b, t, targets[b, t]] for b, t in kept) / len(kept)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert model(idx)[1] is None
    assert len(model(idx, targets, return_attn=True)) == 3


def test_lm_head_is_tied_to_token_embedding():
    model = make_gpt()
    assert model.lm_head.weight is model.wte.weight
    C, L = 32, 2
    per_block = 4 * (C * C + C) + (2 * C * 4 * C + 4 * C + C) + 2 * 2 * C  # attn, mlp, 2 LN
    assert model.num_params() == L * per_block + 2 * C  # + ln_f
    assert model.num_params(non_embedding=False) == model.num_params() + V * C + BLOCK * C


def test_block_formulas_pre_norm_and_post_norm():
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(4))
    for norm_first in (True, False):
        block = make_gpt(norm_first=norm_first).blocks[0]

        def attn(h, block=block):
            return block.attn(h, h, h, torch.ones(5, 5, dtype=torch.bool).tril())[0]

        if norm_first:
            h = x + attn(block.ln_1(x))
            expected = h + block.mlp(block.ln_2(h))
        else:
            h = block.ln_1(x + attn(x))
            expected = block.ln_2(h + block.mlp(h))
        torch.testing.assert_close(block(x)[0], expected, atol=1e-5, rtol=1e-5)


def test_gpt1_post_norm_variant_runs_and_differs():
    pre, post = make_gpt(norm_first=True), make_gpt(norm_first=False)
    assert pre.ln_f is not None and post.ln_f is None
    shared = {k: v for k, v in pre.state_dict().items() if not k.startswith("ln_f")}
    post.load_state_dict(shared)  # same weights, only the block order differs
    idx = ids(2, 10)
    logits, loss = post(idx, ids(2, 10, seed=5))
    assert torch.isfinite(logits).all() and torch.isfinite(loss)
    assert (logits - pre(idx)[0]).abs().max() > 1e-3


def test_init_std_and_residual_scaling():
    for norm_first, L in ((True, 4), (False, 4)):
        model = GPT(GPTConfig(V, BLOCK, L, 4, 128, norm_first=norm_first))
        resid = 0.02 / math.sqrt(2 * L) if norm_first else 0.02
        for block in model.blocks:
            assert block.attn.out_proj.weight.std().item() == pytest.approx(resid, rel=0.05)
            assert block.mlp.fc2.weight.std().item() == pytest.approx(resid, rel=0.05)
            assert block.mlp.fc1.weight.std().item() == pytest.approx(0.02, rel=0.05)
            assert block.attn.q_proj.weight.std().item() == pytest.approx(0.02, rel=0.05)
            assert block.attn.q_proj.bias.abs().max() == 0 and block.mlp.fc2.bias.abs().max() == 0
        assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
        assert model.wpe.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_bias_false_removes_every_bias():
    model = make_gpt(bias=False)
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    assert torch.isfinite(model(ids(1, 4))[0]).all()


def test_follows_input_dtype_and_accepts_int32_ids():
    model = make_gpt().double()
    logits, loss = model(ids(1, 6).int(), ids(1, 6, seed=2).int())
    assert logits.dtype == torch.float64 and loss.dtype == torch.float64
    assert model.generate(ids(1, 3).int(), 2).dtype == torch.long


def test_a_few_steps_of_training_lower_the_loss():
    model = make_gpt(dropout=0.1).train()
    idx, targets = ids(4, BLOCK), ids(4, BLOCK, seed=9)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        _, loss = model(idx, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, BLOCK), st.integers(0, 2**31 - 1))
def test_logits_are_finite_for_random_ids(B, T, seed):
    logits, _ = _HYPO_MODEL(ids(B, T, seed=seed))
    assert logits.shape == (B, T, V) and torch.isfinite(logits).all()


_HYPO_MODEL = make_gpt(seed=3)


# ---------------------------------------------------------------- sampling helpers

def test_top_k_filter_hand_example():
    out = top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0], [0.0, -1.0, 5.0, 4.0]]), 2)
    inf = float("-inf")
    assert out.tolist() == [[inf, 3.0, 2.0, inf], [inf, inf, 5.0, 4.0]]
    assert torch.equal(top_k_filter(torch.tensor([1.0, 2.0]), 10), torch.tensor([1.0, 2.0]))


def test_top_p_filter_hand_example():
    probs = torch.tensor([0.50, 0.15, 0.30, 0.05])
    kept = top_p_filter(probs.log(), 0.75).softmax(-1)
    torch.testing.assert_close(kept, torch.tensor([0.625, 0.0, 0.375, 0.0]))
    # exactly reaching p stops there; a tiny p keeps only the top token
    assert torch.isfinite(top_p_filter(probs.log(), 0.5)).tolist() == [True, False, False, False]
    assert torch.isfinite(top_p_filter(probs.log(), 1e-9)).sum() == 1
    assert torch.equal(top_p_filter(probs.log(), 1.0), probs.log())
    assert torch.isfinite(top_p_filter(probs.log(), 0.96)).all()


def test_filter_logits_temperature_then_filters():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    torch.testing.assert_close(filter_logits(logits, 2.0), (logits / 2).softmax(-1))
    assert filter_logits(logits, 0).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert filter_logits(logits, 1e-40).tolist() == [1.0, 0.0, 0.0, 0.0]  # no overflow, no NaN
    # top-k first: softmax([2, 1, 0]) = [0.665, 0.245, 0.090]; the top two hold 0.910
    # >= 0.9, so top-p keeps two. On all four tokens ([0.644, 0.237, 0.087, 0.032])
    # it would have kept three: the order matters.
    probs = filter_logits(logits, 1.0, top_k=3, top_p=0.9)
    torch.testing.assert_close(probs, torch.tensor([0.7311, 0.2689, 0.0, 0.0]), atol=1e-4, rtol=0)
    assert (filter_logits(logits, 1.0, top_p=0.9) > 0).sum() == 3


# ---------------------------------------------------------------- generation

@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("sampling", [
    dict(temperature=0),
    dict(temperature=1.0),
    dict(temperature=0.8, top_k=5),
    dict(temperature=1.3, top_p=0.9),
])
def test_cache_gives_the_same_tokens_as_no_cache(norm_first, sampling):
    model = make_gpt(norm_first=norm_first)
    for prompt in (ids(3, 5), ids(2, BLOCK + 4)):  # slides past block_size; starts past it
        outs = [model.generate(prompt, 25, use_cache=cache,
                               generator=torch.Generator().manual_seed(7), **sampling)
                for cache in (True, False)]
        assert outs[0].shape == (prompt.shape[0], prompt.shape[1] + 25)
        assert torch.equal(outs[0][:, :prompt.shape[1]], prompt)
        assert torch.equal(outs[0], outs[1])


def test_greedy_is_argmax_of_cropped_forward():
    model = make_gpt()
    out = model.generate(ids(1, 10), 12, temperature=0)
    for t in range(10, 22):
        window = out[:, max(0, t - BLOCK):t]
        assert out[0, t] == model(window)[0][0, -1].argmax()


def test_generator_makes_sampling_reproducible():
    model = make_gpt()
    prompt = ids(2, 4)
    a = model.generate(prompt, 30, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 30, generator=torch.Generator().manual_seed(1))
    c = model.generate(prompt, 30, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    only = model.generate(prompt, 20, top_k=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(only, model.generate(prompt, 20, temperature=0))


def test_generate_uses_eval_mode_and_restores_it():
    model = make_gpt(dropout=0.5).train()
    prompt = ids(1, 4)
    a = model.generate(prompt, 10, temperature=0)
    assert model.training
    assert torch.equal(a, model.generate(prompt, 10, temperature=0))  # no dropout noise
    assert torch.equal(model.generate(prompt, 0), prompt)
    assert not model.eval().generate(prompt, 1).requires_grad and not model.training


# ---------------------------------------------------------------- bad input

BAD_CONFIGS = [
    (dict(vocab_size=0), ValueError, r"vocab_size.*0"),
    (dict(n_layer=1.5), TypeError, r"n_layer.*1\.5"),
    (dict(block_size=True), TypeError, r"block_size.*True"),
    (dict(n_embd=30), ValueError, r"n_embd=30.*n_head=4"),
    (dict(dropout=1.0), ValueError, r"dropout.*1\.0"),
    (dict(dropout=float("nan")), ValueError, r"dropout.*nan"),
    (dict(norm_first="yes"), TypeError, r"norm_first.*yes"),
]


@pytest.mark.parametrize("overrides,error,match", BAD_CONFIGS)
def test_bad_config(overrides, error, match):
    kwargs = dict(vocab_size=V, block_size=BLOCK, n_layer=2, n_head=4, n_embd=32)
    kwargs.update(overrides)
    with pytest.raises(error, match=match):
        GPTConfig(**kwargs)


BAD_FORWARD = [
    ((ids(1, BLOCK + 1),), ValueError, r"T=17.*block_size=16"),
    ((torch.tensor([[1, V]]),), ValueError, r"token id 50.*\[0, 50\)"),
    ((torch.tensor([[-3, 1]]),), ValueError, r"token id -3.*vocab_size=50"),
    ((torch.rand(1, 4),), TypeError, r"torch\.float32"),
    ((torch.ones(1, 4, dtype=torch.bool),), TypeError, r"torch\.bool"),
    (([[1, 2]],), TypeError, r"list"),
    ((torch.tensor([1, 2]),), ValueError, r"idx\[None\]"),
    ((torch.zeros(1, 2, 3, dtype=torch.long),), ValueError, r"\(B, T\).*\(1, 2, 3\)"),
    ((torch.zeros(1, 0, dtype=torch.long),), ValueError, r"at least one token"),
    ((ids(2, 4), ids(2, 5)), ValueError, r"\(2, 5\).*\(2, 4\)"),
    ((ids(1, 3), torch.tensor([[1, 2, V + 5]])), ValueError, r"target id 55.*-100"),
    ((ids(1, 3), torch.rand(1, 3)), TypeError, r"targets.*float32"),
    ((ids(1, 3), torch.full((1, 3), -100)), ValueError, r"every target is -100"),
]


@pytest.mark.parametrize("args,error,match", BAD_FORWARD)
def test_bad_forward_input(args, error, match):
    with pytest.raises(error, match=match):
        _HYPO_MODEL(*args)


BAD_GENERATE = [  # a wrong value is a ValueError, a wrong type (a float count) a TypeError
    (dict(temperature=-1.0), ValueError, r"temperature.*-1\.0"),
    (dict(temperature=float("nan")), ValueError, r"temperature.*nan"),
    (dict(temperature=float("inf")), ValueError, r"temperature.*inf"),
    (dict(max_new_tokens=-1), ValueError, r"max_new_tokens.*-1"),
    (dict(max_new_tokens=2.5), TypeError, r"max_new_tokens.*2\.5"),
    (dict(top_k=0), ValueError, r"top_k.*0"),
    (dict(top_k=1.5), TypeError, r"top_k.*1\.5"),
    (dict(top_p=0.0), ValueError, r"top_p.*0\.0"),
    (dict(top_p=1.5), ValueError, r"top_p.*1\.5"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_GENERATE)
def test_bad_generate_arguments(kwargs, error, match):
    kwargs = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(error, match=match):
        _HYPO_MODEL.generate(ids(1, 3), **kwargs)


def test_bad_helper_input():
    with pytest.raises(ValueError, match=r"top_k.*0"):
        top_k_filter(torch.zeros(3), 0)
    with pytest.raises(ValueError, match=r"top_p.*1\.2"):
        top_p_filter(torch.zeros(3), 1.2)
    with pytest.raises(TypeError, match=r"floating-point.*torch\.int64"):
        filter_logits(torch.tensor([1, 2]))  # integer logits
    with pytest.raises(ValueError, match=r"NaN"):
        filter_logits(torch.tensor([0.0, float("nan")]))
    with pytest.raises(TypeError, match=r"GPTConfig.*dict"):
        GPT({"vocab_size": 3})


# ---------------------------------------------------------------- GPT-2 import

@pytest.fixture(scope="module")
def hf_gpt2():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        n_layer=2, n_head=4, n_embd=64, vocab_size=100, n_positions=32,
        activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
        bos_token_id=None, eos_token_id=None)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # larger random weights than HF's init, so mistakes show
        for name, p in model.named_parameters():
            if "ln" not in name:
                p.normal_(0.0, 0.1)
    randomize_norms(model, torch.Generator().manual_seed(0))
    return model


def test_gpt2_import_matches_hugging_face_logits(hf_gpt2):
    assert hf_gpt2.config.layer_norm_epsilon == torch.nn.LayerNorm(4).eps == 1e-5
    ours = GPT.from_gpt2_state_dict(hf_gpt2.state_dict(), n_head=4)
    c = ours.config
    assert (c.vocab_size, c.block_size, c.n_layer, c.n_embd) == (100, 32, 2, 64) and c.norm_first
    idx = ids(2, 32, vocab=100)
    with torch.no_grad():
        expected = hf_gpt2(idx).logits
    torch.testing.assert_close(ours(idx)[0].detach(), expected, atol=1e-4, rtol=1e-4)


def test_gpt2_import_greedy_tokens_match_hugging_face(hf_gpt2):
    ours = GPT.from_gpt2_state_dict(hf_gpt2.state_dict(), n_head=4)
    prompt = ids(2, 6, seed=4, vocab=100)
    expected = hf_gpt2.generate(prompt, attention_mask=torch.ones_like(prompt),
                                max_new_tokens=20, do_sample=False, pad_token_id=0)
    for cache in (True, False):
        assert torch.equal(ours.generate(prompt, 20, temperature=0, use_cache=cache), expected)


def test_gpt2_import_errors(hf_gpt2):
    sd = dict(hf_gpt2.state_dict())
    with pytest.raises(ValueError, match=r"n_embd=64.*n_head=3"):
        GPT.from_gpt2_state_dict(sd, n_head=3)
    del sd["transformer.h.1.attn.c_attn.bias"]
    with pytest.raises(ValueError, match=r"missing key 'h\.1\.attn\.c_attn\.bias'"):
        GPT.from_gpt2_state_dict(sd, n_head=4)
    sd = dict(hf_gpt2.state_dict())
    sd["transformer.h.0.mlp.c_fc.weight"] = sd["transformer.h.0.mlp.c_fc.weight"].t()
    with pytest.raises(ValueError, match=r"c_fc\.weight.*\(256, 64\).*\(64, 256\)"):
        GPT.from_gpt2_state_dict(sd, n_head=4)
    with pytest.raises(ValueError, match=r"missing key 'wte\.weight'"):
        GPT.from_gpt2_state_dict({}, n_head=4)
    with pytest.raises(TypeError, match=r"mapping.*list"):
        GPT.from_gpt2_state_dict([], n_head=4)
