"""GPT.from_pretrained and BPETokenizer.from_pretrained read a Hugging Face GPT-2 folder.

The reference is ``transformers``: a tiny GPT-2 made and saved here (nothing
is downloaded), whose logits ours must equal, and a byte-level BPE trained
by the ``tokenizers`` package, whose ids ours must equal. A name the local
cache does not hold fails fast when offline, naming the model.
"""
import json

import pytest
import torch

from lesson_lib import hub
from lesson_lib.gpt import GPT
from lesson_lib.tokenizers import BPETokenizer, gpt2_byte_chars

transformers = pytest.importorskip("transformers")

V, N_POS = 300, 64
TEXT = ("Hello world! The quick brown fox jumps over the lazy dog. Ça va? 你好 😀 "
        "it's 123 4567, isn't it?\n\n  Done.")


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    """A random 2-layer GPT-2 (perturbed norms and biases) saved as safetensors."""
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=V,
                                     n_positions=N_POS, bos_token_id=0, eos_token_id=0,
                                     attn_implementation="eager")  # returns its maps
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # LayerNorms start at 1 and 0, biases at 0: make a swap visible
        for name, p in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                p.add_(0.3 * torch.randn_like(p))
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory):
    """vocab.json + merges.txt of a byte-level BPE trained by Hugging Face ``tokenizers``."""
    tokenizers = pytest.importorskip("tokenizers")
    folder = tmp_path_factory.mktemp("tiny-gpt2-tokenizer")
    trainer = tokenizers.ByteLevelBPETokenizer()
    trainer.train_from_iterator([TEXT] * 20, vocab_size=V, min_frequency=1,
                                special_tokens=["<|endoftext|>"])
    trainer.save_model(str(folder))
    return folder


# ---------------------------------------------------------------- the model
def test_logits_equal_transformers(gpt2_folder):
    folder, reference = gpt2_folder
    ours = GPT.from_pretrained(folder)
    assert (ours.config.n_layer, ours.config.n_head, ours.config.n_embd) == (2, 2, 32)
    assert (ours.config.vocab_size, ours.config.block_size) == (V, N_POS)
    idx = torch.randint(0, V, (3, N_POS), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(idx).logits
        got = ours(idx)[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not ours.training


def test_a_path_as_str_and_the_attention_maps(gpt2_folder):
    folder, reference = gpt2_folder
    ours = GPT.from_pretrained(str(folder))
    idx = torch.arange(10)[None]
    with torch.no_grad():
        out = reference(idx, output_attentions=True)
        _, _, attn = ours(idx, return_attn=True)  # (L, B, H, T, T)
    torch.testing.assert_close(attn, torch.stack(out.attentions), atol=1e-5, rtol=1e-5)


def test_layer_norm_epsilon_is_read(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    for f in ("config.json", "model.safetensors"):
        (tmp_path / f).write_bytes((folder / f).read_bytes())
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["layer_norm_epsilon"] = 1e-3
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    model = GPT.from_pretrained(tmp_path)
    assert model.ln_f.eps == 1e-3 and model.blocks[1].ln_2.eps == 1e-3


@pytest.mark.parametrize("change, match", [
    ({"model_type": "llama"}, r"'llama' model.*GPT-2"),
    ({"activation_function": "relu"}, r"activation_function='relu'"),
    ({"n_inner": 100}, r"n_inner=100 must be 4 \* n_embd = 128"),
    ({"tie_word_embeddings": False}, r"tie_word_embeddings=False"),
])
def test_other_architectures_are_refused(gpt2_folder, tmp_path, change, match):
    folder, _ = gpt2_folder
    (tmp_path / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    cfg = {**json.loads((folder / "config.json").read_text()), **change}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=match):
        GPT.from_pretrained(tmp_path)


def test_missing_files_and_pickles_are_named(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    with pytest.raises(FileNotFoundError, match=r"no folder at .*nowhere"):
        GPT.from_pretrained(str(tmp_path / "nowhere"))
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"lacks model\.safetensors"):
        GPT.from_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(ValueError, match=r"pickle.*safe_serialization=True"):
        GPT.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"is a file"):
        GPT.from_pretrained(tmp_path / "config.json")
    with pytest.raises(TypeError, match=r"path_or_name.*int"):
        GPT.from_pretrained(3)


# ---------------------------------------------------------------- names and the hub cache
def test_unknown_name_offline_fails_fast_and_says_how_to_get_it(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kw):
        raise AssertionError("the network was asked in offline mode")

    monkeypatch.setattr(hub, "_probe", no_network)
    with pytest.raises(FileNotFoundError, match=r"'gpt2-nope'.*offline.*hf download gpt2-nope"):
        GPT.from_pretrained("gpt2-nope", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'gpt2'.*vocab\.json merges\.txt"):
        BPETokenizer.from_pretrained("gpt2", cache_dir=tmp_path)


def test_online_errors_name_the_model(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_offline", lambda: False)

    def unknown(name, timeout):
        raise LookupError(f"the Hugging Face Hub has no model named {name!r}")

    monkeypatch.setattr(hub, "_probe", unknown)
    with pytest.raises(ValueError, match=r"no model named 'no-such/model'.*gpt2-medium"):
        GPT.from_pretrained("no-such/model", cache_dir=tmp_path)

    def unreachable(name, timeout):
        raise ConnectionError("ConnectError: Name or service not known")

    monkeypatch.setattr(hub, "_probe", unreachable)
    with pytest.raises(FileNotFoundError, match=r"'gpt2'.*cannot be reached.*hf download gpt2"):
        GPT.from_pretrained("gpt2", cache_dir=tmp_path)
    monkeypatch.setattr(hub, "_probe", lambda name, timeout: {"config.json", "pytorch_model.bin"})
    with pytest.raises(ValueError, match=r"'gpt2' has no model\.safetensors"):
        GPT.from_pretrained("gpt2", cache_dir=tmp_path)


def test_a_name_is_found_in_the_hub_cache_without_network(gpt2_folder, tmp_path, monkeypatch):
    """The cache layout of huggingface_hub: models--OWNER--NAME/{refs/main, snapshots/SHA/}."""
    pytest.importorskip("huggingface_hub")
    folder, reference = gpt2_folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--tiny-gpt2"
    snapshot = repo / "snapshots" / sha
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    for f in ("config.json", "model.safetensors"):
        (snapshot / f).write_bytes((folder / f).read_bytes())
    model = GPT.from_pretrained("someone/tiny-gpt2", cache_dir=tmp_path)
    idx = torch.arange(8)[None]
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], reference(idx).logits, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- the tokenizer
def test_byte_chars_are_gpt2s():
    chars = gpt2_byte_chars()
    assert len(set(chars)) == 256
    assert chars[ord(" ")] == "Ġ" and chars[ord("\n")] == "Ċ" and chars[ord("a")] == "a"
    assert chars[0] == "Ā" and chars[0xAD] == "Ń"  # the soft hyphen is not printable
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    reference = bytes_to_unicode()  # {byte: char}
    assert chars == [reference[b] for b in range(256)]


@pytest.mark.parametrize("text", [TEXT, "", "a", " ", "naïve café — “quotes” 東京 🤖🤖",
                                  "<|endoftext|>", "x" * 50 + "  \t\n end"])
def test_tokenizer_ids_equal_transformers(tokenizer_folder, text):
    ours = BPETokenizer.from_pretrained(tokenizer_folder)
    reference = transformers.GPT2Tokenizer.from_pretrained(tokenizer_folder)
    expected = reference.encode(text) if text != "<|endoftext|>" else \
        reference.encode(text, split_special_tokens=True)
    assert ours.encode(text) == expected
    assert ours.decode(ours.encode(text)) == text


def test_tokenizer_specials_decode_and_survive_save(tokenizer_folder, tmp_path):
    ours = BPETokenizer.from_pretrained(tokenizer_folder)
    vocab = json.loads((tokenizer_folder / "vocab.json").read_text(encoding="utf-8"))
    assert ours.vocab_size == len(vocab) == V
    assert ours.specials == {"<|endoftext|>": vocab["<|endoftext|>"]}
    assert ours.decode([vocab["<|endoftext|>"]]) == "<|endoftext|>"
    ours.save(tmp_path / "tok.json")
    again = BPETokenizer.load(tmp_path / "tok.json")
    assert again.specials == ours.specials and again.encode(TEXT) == ours.encode(TEXT)


def test_a_hand_written_vocabulary(tmp_path):
    """Two merges, checkable by hand: 'Ġ' + 'a' -> 'Ġa', then 'Ġa' + 'b' -> 'Ġab'."""
    chars = gpt2_byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({"Ġa": 256, "Ġab": 257, "<|endoftext|>": 258})
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\nĠ a\nĠa b\n", encoding="utf-8")
    tok = BPETokenizer.from_pretrained(tmp_path)
    a, b = vocab["a"], vocab["b"]
    assert tok.encode("ab ab a") == [a, b, 257, 256]
    assert tok.decode([257, 258]) == " ab<|endoftext|>"
    (tmp_path / "merges.txt").write_text("Ġ a\nĠ c\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges\.txt line 2 'Ġ c' is not a merge"):
        BPETokenizer.from_pretrained(tmp_path)
    vocab["Ġab"], vocab["Ġa"] = 256, 257
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("Ġ a\nĠa b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: merged token id 256 does not grow"):
        BPETokenizer.from_pretrained(tmp_path)
