"""Recipe ``finetune``: chapter 08's fine-tuning of ``shakespeare-char`` on GPT-1's four tasks.

For each task of ``lesson_lib.finetune.TASKS`` (data from ``make_task``) it
fine-tunes, with one fixed budget, the three variants that GPT-1's two
ablations compare (Radford et al. 2018, §5, Table 5): the pre-trained model
with ``lam = 0.5`` (GPT-1's L3), the same without the auxiliary LM loss
(``lam = 0``), and the same architecture from random weights with
``lam = 0.5`` ("without pre-training"), over two seeds, and scores held-out
accuracy. Runs go to two worker processes (one PyTorch thread each). The
numbers go to ``assets/results/finetune.json``; no checkpoint is kept. The
smoke build runs every task and variant for a few steps on a few examples::

    python -m lesson_lib.pretrained build finetune

Left out: a learning-rate search per task (one setting for all, below; a
quick check of 1e-4 and 3e-4 on classification gave no better accuracy),
the fourth combination (random weights, lam = 0), and more seeds.
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from statistics import mean

import torch

from ..checkpoints import RESULTS_DIR, atomic_write_text, load
from ..finetune import (
    TASKS,
    GPTClassifier,
    add_special_tokens,
    encode_examples,
    finetune,
    make_task,
    predict,
)
from ..gpt import GPT
from ..train import TrainConfig
from .registry import RecipeRun, recipe

RESULTS_PATH = RESULTS_DIR / "finetune.json"
SETTINGS = dict(  # one fine-tuning budget for every task and variant
    base="shakespeare-char",  # the pre-trained checkpoint
    n_train=1000, n_test=300, data_seed=0,  # examples per task (make_task)
    max_iters=200, batch_size=16, lr=1e-3, min_lr=1e-4, warmup_iters=20,  # TrainConfig
    weight_decay=0.01,  # GPT-1 section 4.1: w = 0.01
    seeds=(0, 1),  # fine-tuning seeds: head init, new token rows, batch order
)
SMOKE = dict(SETTINGS, n_train=16, n_test=8, max_iters=2, batch_size=4, warmup_iters=1,
             seeds=(0,))  # the same code at a toy size
VARIANTS = (("pretrained", 0.5), ("pretrained", 0.0), ("random", 0.5))  # (init, lam)
WORKERS = 2  # processes, one PyTorch thread each


def run_one(task: str, data, init: str, lam: float, seed: int, settings: dict = SETTINGS,
            callbacks=()) -> dict:
    """Fine-tune one variant and score it: ``{"accuracy", "predictions", "history", ...}``."""
    if init not in ("pretrained", "random"):
        raise ValueError(f"init must be 'pretrained' or 'random', got {init!r}")
    base, tok = load(settings["base"])
    if init == "random":
        torch.manual_seed(seed)
        base = GPT(base.config)  # same architecture, fresh weights
    gpt, tok = add_special_tokens(base, tok, seed=seed)
    torch.manual_seed(seed)  # the head's initial weights
    clf = GPTClassifier(gpt, task, n_classes=len(data.label_names))
    idx, labels = encode_examples(data.train, task, tok)
    test_idx, test_labels = encode_examples(data.test, task, tok)
    config = TrainConfig(max_iters=settings["max_iters"], batch_size=settings["batch_size"],
                         lr=settings["lr"], min_lr=settings["min_lr"],
                         warmup_iters=settings["warmup_iters"],
                         weight_decay=settings["weight_decay"], eval_interval=10**9,
                         eval_iters=1, seed=seed)
    history = finetune(clf, idx, labels, config, lam=lam, callbacks=callbacks)
    pred = predict(clf, test_idx)
    return {"task": task, "init": init, "lam": lam, "seed": seed,
            "accuracy": round((pred == test_labels).float().mean().item(), 4),
            "train_seconds": round(history["seconds"], 1), "predictions": pred.tolist(),
            "history": history, "classifier": clf, "tokenizer": tok}


def _run_job(job) -> dict:
    """One (task, init, lam, seed) in a worker process; returns the JSON row."""
    torch.set_num_threads(1)
    task, init, lam, seed, s = job
    data = make_task(task, n_train=s["n_train"], n_test=s["n_test"], seed=s["data_seed"])
    r = run_one(task, data, init, lam, seed, settings=s)
    row = {k: r[k] for k in ("task", "init", "lam", "seed", "accuracy", "train_seconds")}
    row["chance"] = data.chance
    return row


def _numbers(doc: dict) -> dict:
    """Mean held-out accuracy of each task and variant, over the seeds."""
    out = {}
    for task in doc["chance"]:
        for init, lam in doc["variants"]:
            accs = [r["accuracy"] for r in doc["runs"]
                    if (r["task"], r["init"], r["lam"]) == (task, init, lam)]
            out[f"{task} {init} lam={lam}"] = mean(accs)
    return out


@recipe("finetune", shipped_in=RESULTS_DIR, output="finetune.json", numbers=_numbers,
        tolerance={"*": (0.06, "2 standard errors of a mean of 2 seeds x 300 test examples "
                               "(0.029 per seed at p = 0.5); the shipped seed pairs differ "
                               "by up to 0.05")})
def finetune_results(out_dir: Path, smoke: bool = False) -> Path:
    """Every task x the three variants x seeds; held-out accuracy (about 28 min on 2 CPUs)."""
    s = SMOKE if smoke else SETTINGS
    with RecipeRun("finetune", smoke) as run:
        # the longest tasks first, so the two workers finish together
        jobs = [(task, init, lam, seed, s) for task in reversed(TASKS) for init, lam in VARIANTS
                for seed in s["seeds"]]
        runs, chance = [], {}
        with ProcessPoolExecutor(max_workers=WORKERS) as pool:
            futures = [pool.submit(_run_job, job) for job in jobs]
            for done, future in enumerate(as_completed(futures), 1):
                row = future.result()
                chance[row["task"]] = row.pop("chance")
                runs.append(row)
                print(f"[{done}/{len(jobs)} runs, {run.seconds():.0f} s] {row['task']} "
                      f"{row['init']} lam={row['lam']} seed={row['seed']}: accuracy "
                      f"{row['accuracy']:.3f} (chance {chance[row['task']]:.3f})", flush=True)
        order = {job[:4]: i for i, job in enumerate(jobs)}
        runs.sort(key=lambda r: order[(r["task"], r["init"], r["lam"], r["seed"])])
        result = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
                  "variants": [list(v) for v in VARIANTS],
                  "chance": {t: chance[t] for t in TASKS}, "runs": runs,
                  **run.meta(workers=WORKERS)}
    return atomic_write_text(Path(out_dir) / "finetune.json", json.dumps(result, indent=1))
