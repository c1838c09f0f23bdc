"""The recipe registry: what each shipped asset is, how it is rebuilt, how it is checked.

A recipe is a function ``build(out_dir: Path, smoke: bool) -> Path`` that
trains from fixed seeds and writes one asset into ``out_dir``: a checkpoint
(``NAME.safetensors`` + ``NAME.json``) or a results file (``NAME.json``).
``smoke=True`` runs the same code at a toy size (a few steps, a tiny model),
so a test can run every recipe in seconds and load what it wrote.

Registering one::

    @recipe("my-model", shipped_in=CHECKPOINT_DIR, output="my-model.json",
            numbers=lambda doc: {"val_loss": doc["meta"]["val_loss"]},
            tolerance={"val_loss": (0.03, "seed spread of 3 runs: 1.66-1.69")})
    def my_model(out_dir: Path, smoke: bool) -> Path:
        with RecipeRun("my-model", smoke) as run:
            ...
            meta = run.meta(val_loss=...)

``numbers`` picks, from the JSON the recipe writes, the numbers that
``python -m lesson_lib.pretrained verify`` compares between the shipped
file and a rebuild; ``tolerance`` gives each its allowed absolute gap and
where that gap was measured. ``RecipeRun`` is the one way every recipe
records its timing and settings.

Left out: caching of intermediate results (a rebuild starts from nothing).
"""
from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

__all__ = ["Recipe", "RECIPES", "recipe", "RecipeRun"]


@dataclass(frozen=True)
class Recipe:
    """One shipped asset and how to rebuild and check it."""

    name: str  # the asset's name, e.g. "shakespeare-char"
    build: Callable[[Path, bool], Path]  # (out_dir, smoke) -> path of what it wrote
    shipped_in: Path  # the folder of the shipped asset
    output: str  # the JSON file (in shipped_in or out_dir) whose numbers are checked
    numbers: Callable[[dict], dict]  # that JSON -> {label: number} compared by verify
    tolerance: dict = field(default_factory=dict)  # label pattern -> (abs gap, how measured)

    @property
    def shipped_path(self) -> Path:
        return self.shipped_in / self.output

    def tolerance_of(self, label: str) -> tuple[float, str]:
        """``(allowed absolute gap, where it was measured)`` for one number's label."""
        for pattern, tol in self.tolerance.items():
            if fnmatch.fnmatchcase(label, pattern):
                return tol
        raise KeyError(f"recipe {self.name!r} states no tolerance for {label!r}")


RECIPES: dict[str, Recipe] = {}  # asset name -> Recipe


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished worker processes (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def recipe(name: str, *, shipped_in: Path, output: str, numbers: Callable[[dict], dict],
           tolerance: dict) -> Callable:
    """Register ``fn(out_dir, smoke) -> Path`` as the recipe of asset ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a recipe needs a non-empty str name, got {name!r}")

    def register(fn: Callable) -> Callable:
        old = RECIPES.get(name)
        if old is not None and (old.build.__module__, old.build.__qualname__) != \
                (fn.__module__, fn.__qualname__):
            raise ValueError(f"recipe {name!r} is already registered by "
                             f"{old.build.__module__}.{old.build.__qualname__}")
        RECIPES[name] = Recipe(name, fn, Path(shipped_in), output, numbers, dict(tolerance))
        return fn
    return register


class RecipeRun:
    """Times a recipe and writes the metadata every asset records.

    ``with RecipeRun("toy-reverse", smoke) as run: ...; meta = run.meta(score=0.98)``
    gives ``{"recipe", "rebuild", "smoke", "rebuild_seconds",
    "rebuild_cpu_seconds", "torch_threads", "torch", "score"}``: how to
    rebuild the asset, how long this build took (wall seconds, and CPU
    seconds of the recipe and of worker processes that have finished) and
    on how many threads.
    """

    def __init__(self, name: str, smoke: bool = False):
        self.name, self.smoke = name, bool(smoke)
        self.wall = self.cpu = None

    def __enter__(self) -> "RecipeRun":
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        return None

    def seconds(self) -> float:
        """Wall-clock seconds since the run started."""
        if self.wall is None:
            raise RuntimeError("RecipeRun.seconds() outside its 'with' block")
        return time.perf_counter() - self.wall

    def meta(self, **numbers) -> dict:
        """The recipe's metadata so far, with ``numbers`` (settings and results) added."""
        if self.wall is None:
            raise RuntimeError("RecipeRun.meta() outside its 'with' block")
        return {"recipe": self.name,
                "rebuild": f"python -m lesson_lib.pretrained build {self.name}",
                "smoke": self.smoke,
                "rebuild_seconds": round(time.perf_counter() - self.wall, 1),
                "rebuild_cpu_seconds": round(_cpu_seconds() - self.cpu, 1),
                "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                **numbers}
