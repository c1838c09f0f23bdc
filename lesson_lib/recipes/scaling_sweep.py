"""Recipe ``scaling-sweep``: chapter 11's runs for predictable scaling.

Six character-level GPTs of growing width and depth, each on more tokens
than the last (127x compute from the smallest to the largest), trained with
one fixed recipe (``lesson_lib.scaling.train_run``). The result is
``assets/results/scaling.json``; no checkpoint is kept: the numbers are the
result. A power law fitted to all but the largest run predicts the
largest::

    python -m lesson_lib.pretrained build scaling-sweep
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checkpoints import RESULTS_DIR, atomic_write_text
from ..data import load_corpus
from ..scaling import fit_power_law, train_run
from ..tokenizers import CharTokenizer
from ..train import ProgressBar
from .registry import RecipeRun, recipe

# (n_layer, n_head, n_embd, steps): bigger models also see more tokens (32 x 64 per step)
SCALING_FAMILY = ((1, 2, 32, 150), (2, 2, 48, 200), (2, 4, 64, 250), (3, 4, 80, 300),
                  (3, 4, 96, 350), (4, 4, 112, 400))
SMOKE_FAMILY = ((1, 2, 8, 2), (1, 2, 16, 3), (1, 2, 24, 4), (1, 2, 32, 5))


@recipe("scaling-sweep", shipped_in=RESULTS_DIR, output="scaling.json",
        numbers=lambda doc: {f"run {i} val_loss": r["val_loss"]
                             for i, r in enumerate(doc["runs"])},
        tolerance={"run 0 *": (0.17, "seeds 0, 1, 2 of the smallest run (150 steps) gave "
                                     "2.873, 2.795, 2.708: 2 standard deviations = 0.165"),
                   "*": (0.05, "seeds 0, 1, 2 of runs 1 and 2 gave 2 standard deviations of "
                               "0.02 and 0.047; the larger runs were not re-seeded")})
def scaling_sweep(out_dir: Path, smoke: bool = False) -> Path:
    """Six GPTs spanning 127x in compute -> ``scaling.json`` (about 10 minutes on 2 cores)."""
    with RecipeRun("scaling-sweep", smoke) as run:
        text = load_corpus()
        tok = CharTokenizer.from_text(text)
        ids = torch.tensor(tok.encode(text), dtype=torch.long)
        runs = []
        for n_layer, n_head, n_embd, steps in SMOKE_FAMILY if smoke else SCALING_FAMILY:
            bar = ProgressBar(f"L={n_layer} C={n_embd}")
            runs.append(train_run(ids, tok.vocab_size, n_layer, n_embd, n_head, steps,
                                  n_val_windows=16 if smoke else 256, callbacks=[bar]))
            print(f"  N={runs[-1]['n_params']:,} D={runs[-1]['tokens']:,} "
                  f"C={runs[-1]['compute_flops']:.3g} val_loss={runs[-1]['val_loss']:.4f}")
        fit = fit_power_law([r["compute_flops"] for r in runs[:-1]],
                            [r["val_loss"] for r in runs[:-1]])
        predicted = fit.predict(runs[-1]["compute_flops"])
        error = (predicted - runs[-1]["val_loss"]) / runs[-1]["val_loss"]
        result = {"runs": runs, "meta": run.meta(
            corpus="assets/corpus/shakespeare.txt (char-level)",
            val_text="last 10% of the corpus, evenly spaced windows of 64 characters",
            compute="compute_flops = 6 * n_params * tokens, n_params = non-embedding parameters",
            fit_all_but_largest={"a": fit.a, "b": fit.b, "c": fit.c,
                                 "predicted_largest": predicted, "relative_error": error})}
    print(f"scaling-sweep: {fit}; largest run predicted {predicted:.4f}, "
          f"measured {runs[-1]['val_loss']:.4f} ({error:+.2%})")
    return atomic_write_text(Path(out_dir) / "scaling.json", json.dumps(result, indent=1) + "\n")
