"""Every shipped asset rebuilds: each recipe's smoke build runs and writes what it should."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lesson_lib import pretrained
from lesson_lib.checkpoints import CHECKPOINT_DIR, list_checkpoints, load
from lesson_lib.recipes import RECIPES, RecipeRun
from lesson_lib.scaling import load_runs

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RESULTS = {"finetune", "scaling-sweep", "small-lm-runs", "finetune-curves",
                   "noisy-data-runs"}  # results files, not checkpoints


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_every_shipped_asset_has_a_recipe_and_every_recipe_a_shipped_asset():
    assert set(list_checkpoints()) <= set(RECIPES)
    for name, r in RECIPES.items():
        assert r.shipped_path.exists(), f"{name}: no shipped {r.shipped_path}"
        assert (r.shipped_in == CHECKPOINT_DIR) == (name not in SHIPPED_RESULTS)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_numbers_have_stated_tolerances(name):
    r = RECIPES[name]
    doc = json.loads(r.shipped_path.read_text(encoding="utf-8"))
    numbers = r.numbers(doc)
    assert numbers, f"{name} checks no numbers"
    for label, value in numbers.items():
        tol, why = r.tolerance_of(label)
        assert isinstance(value, (int, float)) and math.isfinite(value), (label, value)
        assert 0 < tol < 0.2 and len(why) > 20, (label, tol, why)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_smoke_build_writes_what_the_full_build_writes(name, tmp_path):
    r = RECIPES[name]
    path = pretrained.build(name, tmp_path, smoke=True)
    assert path.parent == tmp_path and path.exists()
    doc = json.loads((tmp_path / r.output).read_text(encoding="utf-8"))
    shipped = json.loads(r.shipped_path.read_text(encoding="utf-8"))
    meta = doc.get("meta", doc)
    assert meta["recipe"] == name and meta["smoke"] is True and meta["rebuild_seconds"] >= 0
    # the same kinds of numbers as the shipped asset, so verify can compare them
    assert len(r.numbers(doc)) >= 1
    assert set(r.numbers(doc)) == set(r.numbers(shipped)) or name == "scaling-sweep"
    if name in SHIPPED_RESULTS:
        assert set(doc) >= set(shipped) - {"rebuild_seconds", "rebuild_cpu_seconds"}
        if name == "scaling-sweep":
            runs = load_runs(tmp_path / r.output)
            assert all(run["compute_flops"] > 0 for run in runs)
    else:
        model, _ = load(path)  # loads through the checkpoint format, like a shipped one
        assert not model.training and model.meta["smoke"] is True
        shipped_model, _ = load(name)
        assert type(model) is type(shipped_model)


def test_smoke_refuses_to_overwrite_shipped_assets():
    with pytest.raises(ValueError, match="smoke build needs out_dir"):
        pretrained.build("toy-reverse", smoke=True)


def test_compare_flags_a_gap_beyond_tolerance():
    name = "toy-reverse"
    shipped = json.loads(RECIPES[name].shipped_path.read_text(encoding="utf-8"))
    rows = pretrained.compare(name, shipped, shipped)
    assert rows and all(row["ok"] and row["gap"] == 0 for row in rows)
    worse = json.loads(json.dumps(shipped))
    worse["meta"]["exact_match"] -= 0.5
    rows = pretrained.compare(name, shipped, worse)
    assert not rows[0]["ok"] and rows[0]["gap"] == pytest.approx(0.5)
    assert "MISMATCH" in pretrained.format_table(name, rows)
    del worse["meta"]["exact_match"]
    with pytest.raises(KeyError):
        pretrained.compare(name, shipped, worse)


def test_recipe_run_records_time_and_settings():
    with RecipeRun("demo", smoke=True) as run:
        sum(range(10_000))
        meta = run.meta(score=0.5)
    assert meta["recipe"] == "demo" and meta["smoke"] is True and meta["score"] == 0.5
    assert meta["rebuild"] == "python -m lesson_lib.pretrained build demo"
    assert meta["rebuild_seconds"] >= 0 and meta["torch_threads"] == torch.get_num_threads()
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        RecipeRun("demo").meta()


def _burn(n: int) -> float:
    """Busy work in a worker process; returns the worker's own CPU seconds."""
    import time

    sum(i * i for i in range(n))
    return time.process_time()


def test_recipe_run_counts_the_cpu_of_worker_processes():
    from concurrent.futures import ProcessPoolExecutor

    with RecipeRun("demo") as run:
        with ProcessPoolExecutor(max_workers=2) as pool:
            worker_cpu = sum(pool.map(_burn, [2_000_000, 2_000_000]))
        meta = run.meta()
    assert worker_cpu > 0.05
    assert meta["rebuild_cpu_seconds"] >= 0.8 * round(worker_cpu, 1)


def test_cli_lists_recipes_and_runs_a_smoke_build(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "lesson_lib.pretrained", *a],  # noqa: E731
                                    cwd=ROOT, capture_output=True, text=True, timeout=300,
                                    env=env)
    out = run("list")
    assert out.returncode == 0
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("recipes: "))
    assert line.removeprefix("recipes: ").split(", ") == sorted(RECIPES)
    out = run("build", "safety-base", "--smoke", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "safety-base.safetensors").exists()
    out = run("build", "safety-base", "--smoke")
    assert out.returncode == 2 and "--smoke needs --out" in out.stderr
