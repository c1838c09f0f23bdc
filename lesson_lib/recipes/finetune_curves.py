"""Recipe ``finetune-curves``: chapter 08's two live fine-tuning runs, with what they print.

Chapter 08 fine-tunes ``shakespeare-char`` on the classification task
(Hamlet or A Midsummer Night's Dream?) twice: from the pre-trained weights
and from random weights (GPT-1 §5, Table 5, "without pre-training"), both
with L3 = L2 + 0.5 L1 and the settings of the ``finetune`` recipe
(``finetune_results.SETTINGS``, seed 0). These are the seed-0
classification runs of ``assets/results/finetune.json``; this file keeps
what the chapter shows of them: every step's training loss, the held-out
accuracy, and each test example's prediction and class probabilities. The
notebook reads them; its ``TRAIN_LIVE = True`` runs both again::

    python -m lesson_lib.pretrained build finetune-curves

Left out: the fine-tuned weights, and other tasks and seeds (they are in
``finetune.json``).
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from ..checkpoints import RESULTS_DIR, atomic_write_text
from ..finetune import encode_examples, make_task
from .finetune_results import SETTINGS, SMOKE, run_one
from .registry import RecipeRun, recipe

__all__ = ["TASK", "INITS", "LAM", "SEED", "load_results"]

TASK = "classification"  # the task the chapter fine-tunes live
INITS = ("pretrained", "random")  # GPT-1's "without pre-training" ablation
LAM, SEED = 0.5, 0  # the auxiliary LM weight (GPT-1 section 4.1) and the fine-tuning seed


def _run(job) -> dict:
    """One fine-tuning run in a worker process (one PyTorch thread): its JSON record."""
    init, settings = job
    torch.set_num_threads(1)  # a worker process: one thread, as the chapter's kernel
    data = make_task(TASK, n_train=settings["n_train"], n_test=settings["n_test"],
                     seed=settings["data_seed"])
    r = run_one(TASK, data, init, LAM, SEED, settings=settings)
    x_test, y_test = encode_examples(data.test, TASK, r["tokenizer"])
    with torch.no_grad():
        probs = r["classifier"].eval()(x_test)[0].softmax(-1)  # (N_TEST, classes)
    return {"init": init, "accuracy": r["accuracy"], "predictions": r["predictions"],
            "labels": y_test.tolist(), "probs": [[round(p, 4) for p in row]
                                                 for row in probs.tolist()],
            "step_loss": [round(v, 5) for v in r["history"]["step_loss"]],
            "seconds": round(r["history"]["seconds"], 1), "chance": data.chance}


def _run_here(job) -> dict:
    """``_run`` in this process, leaving its thread count as it was."""
    threads = torch.get_num_threads()
    try:
        return _run(job)
    finally:
        torch.set_num_threads(threads)


def load_results(path=None) -> dict:
    """The shipped ``finetune_curves.json`` (or the one at ``path``)."""
    path = Path(path) if path is not None else RESULTS_DIR / "finetune_curves.json"
    return json.loads(path.read_text(encoding="utf-8"))


@recipe("finetune-curves", shipped_in=RESULTS_DIR, output="finetune_curves.json",
        numbers=lambda doc: {f"{init} accuracy": doc["runs"][init]["accuracy"]
                             for init in INITS},
        tolerance={"*": (0.06, "2 binomial standard errors of an accuracy near 0.5 on 300 "
                               "test examples (0.029 each); the finetune recipe's two seeds "
                               "differ by up to 0.05")})
def finetune_curves(out_dir: Path, smoke: bool = False) -> Path:
    """Chapter 08's two classification runs (about 3 minutes on 2 CPUs, one run each)."""
    settings = SMOKE if smoke else SETTINGS
    with RecipeRun("finetune-curves", smoke) as run:
        jobs = [(init, settings) for init in INITS]
        if smoke:  # seconds of work: starting two processes would take longer
            rows = [_run_here(job) for job in jobs]
        else:
            with ProcessPoolExecutor(max_workers=len(INITS)) as pool:
                rows = list(pool.map(_run, jobs))
        doc = {"task": TASK, "lam": LAM, "seed": SEED,
               "settings": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in settings.items()},
               "runs": {row.pop("init"): row for row in rows}, **run.meta(workers=len(INITS))}
    print("finetune-curves: " + ", ".join(f"{init} accuracy {doc['runs'][init]['accuracy']:.3f}"
                                          for init in INITS))
    return atomic_write_text(Path(out_dir) / "finetune_curves.json", json.dumps(doc, indent=1))
