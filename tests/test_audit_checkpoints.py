"""Checkpoint safety beyond tests/test_pretrained.py.

* Pickles are refused *before* anything is unpickled, through every entry
  point (``load``, ``load_weights``, ``resume``), whatever the suffix: the
  unpickling machinery is booby-trapped while they run.
* Corrupted safetensors headers, damaged sidecars and damaged training state
  give a ValueError or FileNotFoundError naming the file, never a KeyError or
  a Rust ``SafetensorError``.
* Nothing in the repository calls ``torch.load(`` without ``weights_only=True``.
"""
from __future__ import annotations

import json
import pickle
import re
import struct
from pathlib import Path

import pytest
import torch

from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.pretrained import load, load_train_state, load_weights, save
from lesson_lib.tokenizers import CharTokenizer, Tokenizer
from lesson_lib.train import CheckpointWriter, TrainConfig, make_optimizer, resume, train

ROOT = Path(__file__).resolve().parent.parent


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=8))


class Payload:
    """Unpickling this creates ``target``: a harmless stand-in for an attack."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture
def tripwire(monkeypatch):
    """Make every way of unpickling fail loudly while the test runs."""
    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        raise AssertionError("something tried to unpickle")

    class NoUnpickler:
        def __init__(self, *args, **kwargs):
            boom(*args)

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", NoUnpickler)
    monkeypatch.setattr(torch, "load", boom)
    return calls


def evil_file(tmp_path, name, kind):
    """A file named ``name`` that would create ``tmp_path/pwned`` if it were unpickled."""
    payload = {"wte.weight": Payload(tmp_path / "pwned")}
    path = tmp_path / name
    if kind == "pickle0":
        path.write_bytes(pickle.dumps(payload, protocol=0))
    elif kind == "pickle5":
        path.write_bytes(pickle.dumps(payload, protocol=5))
    else:  # torch.save's zip of pickles
        torch.save(payload, path)
    return path


def test_the_payload_is_live(tmp_path):
    """Control: unpickling the payload for real does create the file."""
    path = evil_file(tmp_path, "x.pkl", "pickle5")
    with open(path, "rb") as f:
        pickle.load(f)["wte.weight"].close()
    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize("kind", ["pickle0", "pickle5", "torch.save"])
@pytest.mark.parametrize("name", ["weights.pt", "weights.pkl", "weights.bin", "weights.ckpt",
                                  "weights.pickle", "weights.PT", "weights.safetensors"])
def test_pickles_are_refused_before_unpickling(tmp_path, tripwire, name, kind):
    path = evil_file(tmp_path, name, kind)
    save(small_gpt(), None, tmp_path / "good")  # a valid sidecar next to the evil weights
    (path.with_suffix(".json")).write_bytes((tmp_path / "good.json").read_bytes())
    refused = rf"{re.escape(path.name)}.*(pickle|not a valid safetensors)"
    with pytest.raises(ValueError, match=refused):
        load(path)
    with pytest.raises(ValueError, match=r"pickle|not a valid safetensors"):
        load_weights(small_gpt(), path)
    assert not (tmp_path / "pwned").exists() and tripwire == []


@pytest.mark.parametrize("kind", ["pickle0", "pickle5", "torch.save"])
def test_pickled_training_state_is_refused_by_resume(tmp_path, tripwire, kind):
    config = TrainConfig(max_iters=4, batch_size=2, block_size=8, eval_interval=2, eval_iters=1,
                         warmup_iters=1)
    ids = torch.arange(60) % 12
    train(small_gpt(), ids, ids, config, [CheckpointWriter(tmp_path, name="run")])
    evil = evil_file(tmp_path, "evil", kind)
    evil.replace(tmp_path / "run.train.safetensors")  # swap the optimizer state for a pickle
    model = small_gpt(seed=1)
    with pytest.raises(ValueError, match=r"run\.train\.safetensors.*(pickle|not a valid)"):
        resume(model, tmp_path / "run", config)
    assert not (tmp_path / "pwned").exists() and tripwire == []


def test_tokenizer_files_are_never_unpickled(tmp_path, tripwire):
    path = evil_file(tmp_path, "tok.json", "pickle5")
    with pytest.raises(ValueError, match=r"tok\.json is not a tokenizer JSON file"):
        Tokenizer.load(path)
    assert not (tmp_path / "pwned").exists() and tripwire == []


# ------------------------------------------------------------------ corrupted files

def rewrite_header(path: Path, change) -> None:
    """Parse the safetensors header, let ``change`` edit it, write it back (8-byte aligned)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header = change(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def first_tensor(header):
    return next(k for k in header if k != "__metadata__")


def drop_offsets(h):
    del h[first_tensor(h)]["data_offsets"]
    return h


def set_field(field, value):
    def change(h):
        h[first_tensor(h)][field] = value
        return h
    return change


CORRUPT_HEADERS = [
    ("not-an-object", lambda h: [1, 2, 3], r"not a valid safetensors file|expected a JSON object"),
    ("no-offsets", drop_offsets, r"has data_offsets None; expected \[start, end\]"),
    ("str-offsets", set_field("data_offsets", ["0", 4]), r"data_offsets \['0', 4\]"),
    ("reversed-offsets", set_field("data_offsets", [8, 0]), r"data_offsets \[8, 0\]"),
    ("entry-not-dict", lambda h: {**h, first_tensor(h): 7}, r"data_offsets None"),
    ("unknown-dtype", set_field("dtype", "X32"), r"is a corrupted safetensors file.*X32"),
    ("wrong-shape", set_field("shape", [3, 3]), r"is a corrupted safetensors file"),
]


@pytest.mark.parametrize("change, match", [pytest.param(c, m, id=i) for i, c, m in CORRUPT_HEADERS])
def test_corrupted_header_is_a_clear_value_error(tmp_path, change, match):
    path = save(small_gpt(), None, tmp_path / "m")
    rewrite_header(path, change)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert "m.safetensors" in str(info.value)


@pytest.mark.parametrize("damage", ["zeros", "empty", "flipped-length", "random-bytes"])
def test_garbage_weights_are_a_clear_value_error(tmp_path, damage):
    path = save(small_gpt(), None, tmp_path / "m")
    data = path.read_bytes()
    g = torch.Generator().manual_seed(0)
    path.write_bytes({"zeros": b"\x00" * len(data), "empty": b"",
                      "flipped-length": bytes([data[0] ^ 0x40]) + data[1:],
                      "random-bytes": bytes(torch.randint(0, 256, (len(data),), generator=g)
                                            .tolist())}[damage])
    with pytest.raises(ValueError, match=r"m\.safetensors (is|has)"):
        load(path)


@pytest.mark.parametrize("edit, error, match", [
    (lambda m: {**m, "kind": ["gpt"]}, ValueError, r"not a lesson_lib checkpoint config"),
    (lambda m: {**m, "config": [1, 2]}, ValueError, r"config does not fit a gpt model"),
    (lambda m: {**m, "config": {**m["config"], "vocab_size": 13}}, ValueError,
     r"do not match the model.*(size|shape)"),
    (lambda m: {**m, "tokenizer": {"format": "lesson_lib.tokenizers", "type": "CharTokenizer",
                                   "chars": ["a", "a"]}}, ValueError,
     r"damaged CharTokenizer.*distinct"),
    (lambda m: [m], ValueError, r"not a lesson_lib checkpoint config"),
])
def test_sidecar_that_does_not_match(tmp_path, edit, error, match):
    path = save(small_gpt(), CharTokenizer.from_text("abcdefghijkl"), tmp_path / "m")
    side = path.with_suffix(".json")
    side.write_text(json.dumps(edit(json.loads(side.read_text()))))
    with pytest.raises(error, match=match):
        load(path)


def test_damaged_or_missing_training_state(tmp_path):
    model = small_gpt()
    save(model, None, tmp_path / "m")
    opt = make_optimizer(model, TrainConfig())
    with pytest.raises(FileNotFoundError,
                       match=r"no training state at .*m\.train\..*CheckpointWriter"):
        load_train_state(tmp_path / "m", opt)
    (tmp_path / "m.train.safetensors").write_bytes((tmp_path / "m.safetensors").read_bytes())
    for text in ("{not json", "{}", "[]"):
        (tmp_path / "m.train.json").write_text(text)
        with pytest.raises(ValueError, match=r"m\.train\.json is not a training state"):
            load_train_state(tmp_path / "m", opt)


# ------------------------------------------------------------------ no unsafe torch.load

TORCH_LOAD = re.compile(r"\btorch\.load\s*\(")


def unsafe_torch_loads(text: str) -> list[str]:
    """Every ``torch.load(...)`` call (parentheses balanced) that lacks ``weights_only=True``."""
    bad = []
    for m in TORCH_LOAD.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        call = text[m.start():i]
        if not re.search(r"weights_only\s*=\s*True", call):
            bad.append(call)
    return bad


def test_the_torch_load_scanner_itself():
    assert unsafe_torch_loads("x = torch.load(str(p), map_location='cpu')") == [
        "torch.load(str(p), map_location='cpu')"]
    assert unsafe_torch_loads("torch.load(f(a, b), weights_only=False)")
    assert unsafe_torch_loads('torch.load(\\n    path)')
    assert not unsafe_torch_loads("torch.load(open(p, 'rb'), weights_only=True)")
    assert not unsafe_torch_loads("torch.loads(x); torch.save(m, p)")


def test_nothing_calls_torch_load_without_weights_only():
    folders = ("lesson_lib", "tools", "bench", "notebooks", "tests")
    this = Path(__file__).resolve()
    files = [p for f in folders for p in (ROOT / f).rglob("*")
             if p.suffix in (".py", ".ipynb", ".md", ".sh") and p.resolve() != this
             and ".ipynb_checkpoints" not in p.parts]
    assert len(files) > 20  # the scan really looked at the repository
    offenders = {str(p.relative_to(ROOT)): calls for p in files
                 if (calls := unsafe_torch_loads(p.read_text(encoding="utf-8", errors="replace")))}
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


def test_library_code_never_unpickles():
    pattern = re.compile(r"\b(pickle|cPickle|dill|joblib)\.loads?\s*\(|\bUnpickler\s*\(")
    folders = ("lesson_lib", "tools", "bench", "notebooks")
    hits = [str(p.relative_to(ROOT)) for f in folders for p in (ROOT / f).rglob("*")
            if p.suffix in (".py", ".ipynb") and pattern.search(p.read_text(encoding="utf-8",
                                                                            errors="replace"))]
    assert not hits, f"unpickling in {hits}"


# ------------------------------------------------------------------ failures mid-run

def test_a_run_that_blows_up_keeps_its_last_checkpoint_and_closes_the_bar(tmp_path):
    """test_train.py covers Ctrl-C; here the loss turns NaN at step 7 instead."""
    from lesson_lib.train import Callback, ProgressBar

    class Poison(Callback):
        def on_step(self, state):
            if state.iter == 6:
                with torch.no_grad():
                    state.model.wte.weight[0, 0] = float("nan")

    config = TrainConfig(max_iters=20, batch_size=2, block_size=8, eval_interval=5, eval_iters=1,
                         warmup_iters=1)
    ids = torch.arange(60) % 12
    model, bar = small_gpt(), ProgressBar()
    with pytest.raises(FloatingPointError, match=r"the loss became nan at step 7; lower lr"):
        train(model, ids, ids, config, [bar, CheckpointWriter(tmp_path, name="run"), Poison()])
    assert bar.bar.disable  # closed by on_train_end even though the run raised
    loaded, _ = load(tmp_path / "run.safetensors")
    assert loaded.meta["iter"] == 5
    assert all(torch.isfinite(p).all() for p in loaded.parameters())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.json", "run.safetensors", "run.train.json", "run.train.safetensors"]
