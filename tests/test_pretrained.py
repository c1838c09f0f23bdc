"""Checkpoints: safe round trips, refused pickles, clear errors, the shipped models."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lesson_lib import recipes
from lesson_lib.data import load_corpus, make_reverse_task, train_val_split
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.pretrained import build, list_checkpoints, load, load_weights, save
from lesson_lib.recipes.registry import recipe
from lesson_lib.tokenizers import BPETokenizer, CharTokenizer, Tokenizer
from lesson_lib.train import heldout_loss
from lesson_lib.transformer import Transformer, exact_match

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("shakespeare-char", "toy-reverse")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def small_gpt(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**dict(vocab_size=20, block_size=16, n_layer=2, n_head=2,
                                   n_embd=16, dropout=0.1), **kw}))


def small_transformer(**kw):
    torch.manual_seed(0)
    return Transformer(**{**dict(src_vocab_size=11, tgt_vocab_size=11, d_model=16, n_heads=2,
                                 n_layers=1, d_ff=32, dropout=0.1, max_len=12), **kw})


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("norm_first", [True, False])
def test_gpt_round_trip_identical_logits(tmp_path, norm_first):
    model = small_gpt(norm_first=norm_first).eval()
    tok = CharTokenizer.from_text("abcdefghijklmnopqrst")
    path = save(model, tok, tmp_path / "gpt", meta={"note": "test"})
    assert path == tmp_path / "gpt.safetensors" and (tmp_path / "gpt.json").exists()
    loaded, tok2 = load(path)
    assert not loaded.training and loaded.meta == {"note": "test"}
    assert loaded.config == model.config and tok2.chars == tok.chars
    idx = torch.randint(0, 20, (3, 16))
    torch.testing.assert_close(loaded(idx)[0], model(idx)[0], rtol=0, atol=0)
    for name in ("gpt", "gpt.json", str(tmp_path / "gpt")):  # either file, or no suffix
        other, _ = load(tmp_path / name if name != str(tmp_path / "gpt") else name)
        torch.testing.assert_close(other(idx)[0], model(idx)[0], rtol=0, atol=0)


def test_tied_weights_survive(tmp_path):
    loaded, _ = load(save(small_gpt(), None, tmp_path / "gpt"))
    assert loaded.lm_head.weight is loaded.wte.weight
    with torch.no_grad():
        loaded.wte.weight[0, 0] += 1.0  # one tensor, two uses
    assert loaded.lm_head.weight[0, 0] == loaded.wte.weight[0, 0]
    shared, _ = load(save(small_transformer(share_embeddings=True), None, tmp_path / "tr"))
    assert shared.generator.weight is shared.tgt_embed.weight is shared.src_embed.weight


@pytest.mark.parametrize("share", [False, True])
def test_transformer_round_trip_identical_logits(tmp_path, share):
    model = small_transformer(share_embeddings=share, norm_first=share).eval()
    loaded, tok = load(save(model, None, tmp_path / "tr"))
    assert tok is None and loaded.init_args == model.init_args
    src, tgt = torch.randint(3, 11, (2, 7)), torch.randint(3, 11, (2, 5))
    torch.testing.assert_close(loaded(src, tgt), model(src, tgt), rtol=0, atol=0)


def test_bpe_tokenizer_travels_in_the_checkpoint(tmp_path):
    bpe = BPETokenizer.train("the theme of the thesis " * 20, 270)
    _, tok = load(save(small_gpt(vocab_size=bpe.vocab_size), bpe, tmp_path / "m"))
    assert isinstance(tok, BPETokenizer) and tok.merges == bpe.merges
    assert tok.encode("the thesis") == bpe.encode("the thesis")


def test_tokenizer_to_dict_from_dict(tmp_path):
    char = CharTokenizer.from_text("hello")
    d = char.to_dict()
    assert d == {"format": "lesson_lib.tokenizers", "type": "CharTokenizer",
                 "chars": ["e", "h", "l", "o"]}
    char.save(tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text()) == d  # to_dict is what save writes
    again = Tokenizer.from_dict(json.loads(json.dumps(d)))
    assert isinstance(again, CharTokenizer) and again.encode("hole") == [1, 3, 2, 0]
    with pytest.raises(ValueError, match="holds a CharTokenizer, not a BPETokenizer"):
        BPETokenizer.from_dict(d)
    with pytest.raises(ValueError, match=r"not a tokenizer .*type 'Pickle'"):
        Tokenizer.from_dict({"format": "lesson_lib.tokenizers", "type": "Pickle"})
    with pytest.raises(ValueError, match="damaged CharTokenizer"):
        Tokenizer.from_dict({"format": "lesson_lib.tokenizers", "type": "CharTokenizer"})


# ------------------------------------------------------------------ refusing pickles

class Payload:
    """Unpickling this creates (opens for writing) ``target``: a harmless stand-in for an attack."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".safetensors"])
def test_pickles_are_refused_never_unpickled(tmp_path, suffix, protocol):
    pwned = tmp_path / "pwned"
    evil = tmp_path / f"evil{suffix}"
    evil.write_bytes(pickle.dumps({"state_dict": Payload(pwned)}, protocol=protocol))
    save(small_gpt(), None, tmp_path / "good")  # a valid sidecar, so only the weights are wrong
    (tmp_path / "evil.json").write_bytes((tmp_path / "good.json").read_bytes())
    with pytest.raises(ValueError, match="pickle|not a valid safetensors"):
        load(evil)
    with pytest.raises(ValueError, match="pickle|not a valid safetensors"):
        load_weights(small_gpt(), evil)
    (tmp_path / "evil.json").unlink()  # no sidecar: still reported as a refused pickle
    with pytest.raises(ValueError, match="pickle|not a valid safetensors"):
        load(evil)
    assert not pwned.exists()
    # the payload is live: unpickling it for real would have created the file
    live = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(live), protocol=protocol)).close()
    assert live.exists() and not pwned.exists()


def test_torch_save_zip_renamed_to_safetensors_is_refused(tmp_path):
    path = tmp_path / "zip.safetensors"
    torch.save(small_gpt().state_dict(), path)
    with pytest.raises(ValueError, match="pickle/zip"):
        load_weights(small_gpt(), path)


# ------------------------------------------------------------------ damaged files

def test_truncated_safetensors_is_a_clear_error(tmp_path):
    path = save(small_gpt(), None, tmp_path / "m")
    data = path.read_bytes()
    for cut in (5, 100, len(data) - 7):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated"):
            load(path)
    path.write_bytes(data + b"\x00" * 4)
    with pytest.raises(ValueError, match=r"expected \d+ bytes, found \d+"):
        load(path)
    header = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match="corrupted safetensors header"):
        load(path)


def test_config_that_does_not_match_weights(tmp_path):
    path = save(small_gpt(), None, tmp_path / "m")
    side = tmp_path / "m.json"
    good = json.loads(side.read_text())
    wrong = json.loads(side.read_text())
    wrong["config"]["n_embd"] = 32
    side.write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match=r"do not match the model"):
        load(path)
    wrong = {**good, "config": {**good["config"], "n_layers": 2}}
    side.write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match=r"config does not fit a gpt model"):
        load(path)
    side.write_text(json.dumps({**good, "kind": "lstm"}))
    with pytest.raises(ValueError, match=r"unknown model kind 'lstm'"):
        load(path)
    side.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load(path)
    side.write_text(json.dumps({"weights": 1}))
    with pytest.raises(ValueError, match="not a lesson_lib checkpoint config"):
        load(path)


def test_missing_files(tmp_path):
    path = save(small_gpt(), None, tmp_path / "m")
    (tmp_path / "m.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no JSON sidecar: expected .*m\.json"):
        load(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint weights"):
        load(tmp_path / "absent.safetensors")


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as err:
        load("shakespeare-word")
    message = str(err.value)
    assert "unknown checkpoint 'shakespeare-word'" in message
    for name in list_checkpoints():
        assert name in message
    with pytest.raises(ValueError, match=r"no recipe named 'nope'; recipes are \[.*'toy-reverse'"):
        build("nope")
    with pytest.raises(TypeError, match="expected a checkpoint name or path, got int"):
        load(3)


def test_recipe_registry_refuses_a_second_owner():
    assert {"shakespeare-char", "toy-reverse"} <= set(recipes.RECIPES)

    def shakespeare_char(out_dir, smoke=False):  # same name, another function
        return out_dir

    register = recipe("shakespeare-char", shipped_in=ROOT, output="x.json",
                      numbers=lambda doc: {}, tolerance={})
    with pytest.raises(ValueError, match="'shakespeare-char' is already registered"):
        register(shakespeare_char)
    assert recipes.RECIPES["shakespeare-char"].build is \
        recipes.shakespeare_char.shakespeare_char


def test_heldout_loss_worked_example():
    class Uniform(torch.nn.Module):  # predicts every id with probability 1/V
        def forward(self, idx, targets):
            logits = torch.zeros(*idx.shape, 7)
            return logits, torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                             targets.flatten())

    ids = torch.arange(1001) % 7
    assert heldout_loss(Uniform(), ids, 100) == pytest.approx(torch.log(torch.tensor(7.)))
    with pytest.raises(ValueError, match="more than block_size=100 tokens"):
        heldout_loss(Uniform(), ids[:100], 100)


# ------------------------------------------------------------------ shipped checkpoints

def test_shipped_checkpoints_are_listed():
    assert set(SHIPPED) <= set(list_checkpoints())
    for name in SHIPPED:
        assert (ROOT / "assets" / "checkpoints" / f"{name}.safetensors").stat().st_size < 10e6
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "lesson_lib.pretrained", "list"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and "shakespeare-char" in out.stdout and "toy-reverse" in out.stdout


def test_shakespeare_char_loads_and_keeps_its_recorded_loss():
    model, tok = load("shakespeare-char")
    assert isinstance(model, GPT) and isinstance(tok, CharTokenizer)
    text = load_corpus()
    _, val_ids = train_val_split(torch.tensor(tok.encode(text)))
    logits, _ = model(val_ids[None, :model.config.block_size])
    assert torch.isfinite(logits).all()
    # the same 96 windows the recipe scored when it saved the model
    windows = model.meta["quick_windows"]
    loss = heldout_loss(model, val_ids, model.config.block_size, max_windows=windows)
    assert loss <= model.meta["val_loss_quick"] + 0.05
    assert abs(loss - model.meta["val_loss"]) < 0.15  # a fair sample of the whole held-out part
    assert model.meta["val_loss"] <= 1.75 and model.meta["recipe"] == "shakespeare-char"
    out = model.generate(torch.tensor([tok.encode("HAMLET:\n")]), 40, temperature=0)
    assert tok.decode(out[0].tolist()).startswith("HAMLET:\n")


def test_toy_reverse_reverses_fresh_sequences():
    model, tok = load("toy-reverse")
    assert isinstance(model, Transformer) and tok is None
    src, tgt = make_reverse_task(200, 8, model.src_vocab_size, seed=4242)
    logits = model(src, tgt)
    assert torch.isfinite(logits).all()
    assert exact_match(model, src, tgt) >= 0.95
    assert model.meta["exact_match"] >= 0.95
