"""The checkpoint format: safe saving and loading of models (safetensors + JSON).

A checkpoint is two files side by side::

    assets/checkpoints/NAME.safetensors   the weights (safetensors: no code runs on load)
    assets/checkpoints/NAME.json          model kind, config, tokenizer, how it was made

``load(name_or_path) -> (model, tokenizer)`` accepts a shipped name
(``list_checkpoints()``) or a path to either file. Pickle-based formats
(``.pt``, ``.pth``, ``.pkl``, ``.ckpt``, ``.bin``) are refused *before*
anything is read: unpickling runs arbitrary code. A truncated or corrupted
file, a JSON config that does not match the weights, or a missing sidecar
each raise a ``ValueError`` or ``FileNotFoundError`` that says which file
is wrong and what was expected.

The JSON's ``kind`` names the model class that rebuilds the weights: a
``gpt``, a ``transformer`` or an ``image-captioner`` (``MODEL_KINDS``).
This module knows nothing of how a checkpoint was trained: the recipes in
``lesson_lib.recipes`` use it, and ``python -m lesson_lib.pretrained``
(list, build, verify) sits on top of both.

Left out: sharded checkpoints and downloading from a hub (nothing here
touches the network; ``GPT.from_pretrained`` reads a Hugging Face folder).
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from .checks import is_int
from .gpt import GPT, GPTConfig
from .multimodal import CaptionerConfig, ImageCaptioner
from .tokenizers import Tokenizer
from .transformer import Transformer

__all__ = ["ASSETS_DIR", "CHECKPOINT_DIR", "RESULTS_DIR", "MODEL_KINDS", "list_checkpoints",
           "load", "save", "load_weights", "save_train_state", "load_train_state",
           "atomic_write_text"]

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
CHECKPOINT_DIR = ASSETS_DIR / "checkpoints"
RESULTS_DIR = ASSETS_DIR / "results"
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}
FORMAT = "lesson_lib.checkpoint"


# ------------------------------------------------------------------ paths and validation

def list_checkpoints() -> list[str]:
    """Names of the checkpoints shipped in ``assets/checkpoints``."""
    return sorted(p.stem for p in CHECKPOINT_DIR.glob("*.safetensors")
                  if p.with_suffix(".json").exists())


def _resolve(name_or_path) -> Path:
    """The ``.safetensors`` path for a shipped name or a user path (either file)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a checkpoint name or path, got {type(name_or_path).__name__}")
    if not str(name_or_path).strip():
        raise ValueError(f"the checkpoint name is empty; shipped checkpoints are "
                         f"{list_checkpoints()}, or pass a path to a .safetensors file")
    path = Path(name_or_path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a .safetensors file (with its .json "
                         "next to it) or a shipped checkpoint name")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ValueError(f"{path} looks like a pickle checkpoint ({path.suffix}); pickles can run "
                         "arbitrary code when loaded, so they are refused. Convert it to "
                         ".safetensors + .json with lesson_lib.pretrained.save.")
    if path.suffix in (".safetensors", ".json") or path.exists() or os.sep in str(name_or_path):
        path = path.with_suffix(".safetensors") if path.suffix in ("", ".json") else path
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint weights at {path}")
        return path
    known = list_checkpoints()
    if str(name_or_path) not in known:
        raise ValueError(f"unknown checkpoint {str(name_or_path)!r}; shipped checkpoints are "
                         f"{known}, or pass a path to a .safetensors file")
    return CHECKPOINT_DIR / f"{name_or_path}.safetensors"


def _check_safetensors_file(path: Path) -> None:
    """Refuse anything that is not a complete safetensors file, reading only its header."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise ValueError(f"{path} is a pickle/zip (torch.save) file, not safetensors; it is "
                         "refused without being unpickled")
    if len(head) < 9:
        raise ValueError(f"{path} is truncated ({size} bytes): a safetensors file starts with "
                         "an 8-byte header length")
    (n,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or 8 + n > size:
        raise ValueError(f"{path} is not a valid safetensors file: header claims {n} bytes but "
                         f"the file has {size} (truncated or corrupted)")
    with open(path, "rb") as f:
        f.seek(8)
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} has a corrupted safetensors header: {err}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} has a corrupted safetensors header: expected a JSON object "
                         f"of tensors, got a {type(header).__name__}")
    for key, v in header.items():
        offsets = v.get("data_offsets") if isinstance(v, dict) else None
        if key != "__metadata__" and not (
                isinstance(offsets, list) and len(offsets) == 2
                and all(is_int(o) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise ValueError(f"{path} has a corrupted safetensors header: tensor {key!r} has "
                             f"data_offsets {offsets!r}; expected [start, end] with "
                             "0 <= start <= end")
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end != size:
        raise ValueError(f"{path} is truncated or corrupted: expected {8 + n + end} bytes, "
                         f"found {size}")


def _read_json(path: Path) -> dict:
    side = path.with_suffix(".json")
    if not side.exists():
        raise FileNotFoundError(f"{path} has no JSON sidecar: expected {side} with the model "
                                "config next to the weights")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{side} is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT \
            or not isinstance(meta.get("kind"), str):
        raise ValueError(f"{side} is not a lesson_lib checkpoint config (expected "
                         f"'format': '{FORMAT}' and a 'kind')")
    return meta


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the new one."""
    path = Path(path)
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # safetensors creates files private to the owner
        os.replace(tmp, path)  # atomic: readers see the old file or the new one
    finally:
        if tmp.exists():
            tmp.unlink()


# ------------------------------------------------------------------ models <-> files

MODEL_KINDS: dict[str, Callable[[dict], nn.Module]] = {  # kind -> build(config)
    "gpt": lambda c: GPT(GPTConfig(**c)),
    "transformer": lambda c: Transformer(**c),
    "image-captioner": lambda c: ImageCaptioner(CaptionerConfig(**c)),
}


def _model_spec(model: nn.Module) -> tuple[str, dict]:
    if isinstance(model, GPT):
        return "gpt", asdict(model.config)
    if isinstance(model, Transformer):
        return "transformer", dict(model.init_args)
    extra = getattr(model, "checkpoint_spec", None)
    if extra is not None:
        return extra()
    raise TypeError(f"cannot save a {type(model).__name__}: expected a GPT or a Transformer, "
                    "or a model with a checkpoint_spec() -> (kind, config) method")


def _build_model(kind: str, config: dict) -> nn.Module:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](config)
    except TypeError as err:
        raise ValueError(f"the config does not fit a {kind} model: {err}") from None


def save(model: nn.Module, tokenizer, path, meta: Optional[dict] = None) -> Path:
    """Write ``path.safetensors`` and ``path.json`` atomically; return the weights path."""
    kind, config = _model_spec(model)
    path = Path(path)
    path = path.with_suffix(".safetensors") if path.suffix in ("", ".json", ".safetensors") \
        else path.with_name(path.name + ".safetensors")
    side = {"format": FORMAT, "version": 1, "kind": kind, "config": config,
            "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
            "meta": meta or {}}
    _atomic_write(path, lambda tmp: save_model(model, str(tmp)))
    _atomic_write(path.with_suffix(".json"),
                  lambda tmp: tmp.write_text(json.dumps(side, indent=1), encoding="utf-8"))
    return path


def load_weights(model: nn.Module, name_or_path) -> nn.Module:
    """Load checked safetensors weights into an existing ``model`` (strict)."""
    path = _resolve(name_or_path)
    _check_safetensors_file(path)
    try:
        load_model(model, str(path), strict=True)
    except RuntimeError as err:
        detail = " ".join(line.strip() for line in str(err).splitlines()[:2])  # + first reason
        raise ValueError(f"the weights in {path} do not match the model: "
                         f"{detail[:400]}") from None
    except SafetensorError as err:  # a header that parses as JSON but describes bad tensors
        raise ValueError(f"{path} is a corrupted safetensors file: {str(err)[:300]}") from None
    return model


def load(name_or_path):
    """``(model, tokenizer)`` from a shipped name or a path; the model is in eval mode."""
    path = _resolve(name_or_path)
    _check_safetensors_file(path)  # a pickle is reported as one, even without a sidecar
    meta = _read_json(path)
    model = _build_model(meta["kind"], meta.get("config", {}))
    load_weights(model, path)
    tok = meta.get("tokenizer")
    tokenizer = Tokenizer.from_dict(tok) if tok else None
    model.meta = meta.get("meta", {})
    return model.eval(), tokenizer


# ------------------------------------------------------------------ training state (resume)

def save_train_state(path, optimizer, iteration: int, generator, history: dict) -> None:
    """Optimizer moments, step and RNG states next to a checkpoint: ``path.train.*``."""
    base = Path(path).with_suffix("")
    sd = optimizer.state_dict()
    tensors = {f"state.{pid}.{k}": v.contiguous() for pid, st in sd["state"].items()
               for k, v in st.items() if isinstance(v, torch.Tensor)}
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.batches"] = generator.get_state()
    info = {"iter": iteration, "param_groups": sd["param_groups"], "history": history}
    _atomic_write(base.with_name(base.name + ".train.safetensors"),
                  lambda tmp: save_file(tensors, str(tmp)))
    _atomic_write(base.with_name(base.name + ".train.json"),
                  lambda tmp: tmp.write_text(json.dumps(info), encoding="utf-8"))


def load_train_state(path, optimizer):
    """Restore ``optimizer`` and the RNGs; return ``(start_iter, batch_generator)``."""
    base = Path(path).with_suffix("")
    tpath = base.with_name(base.name + ".train.safetensors")
    jpath = base.with_name(base.name + ".train.json")
    for p in (tpath, jpath):
        if not p.exists():
            raise FileNotFoundError(f"no training state at {p}; was the run saved with "
                                    "CheckpointWriter?")
    _check_safetensors_file(tpath)
    try:
        tensors = load_file(str(tpath))
    except SafetensorError as err:
        raise ValueError(f"{tpath} is a corrupted safetensors file: {str(err)[:300]}") from None
    try:
        info = json.loads(jpath.read_text(encoding="utf-8"))
        info["iter"], info["param_groups"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{jpath} is not a training state written by save_train_state "
                         f"(expected JSON with 'iter' and 'param_groups'): {err!r}") from None
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator = torch.Generator()
    generator.set_state(tensors["rng.batches"])
    return info["iter"], generator
