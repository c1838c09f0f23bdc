"""Predictable scaling: fit a power law to small runs, predict a bigger one.

The GPT-4 Technical Report (OpenAI 2023, §3 "Predictable Scaling") fits the
final loss of small training runs with a power law plus an *irreducible
loss* term (the form of Henighan et al. 2020)::

    L(C) = a · C^(-b) + c        a, b > 0, c >= 0

where ``C`` is the training compute, and uses it to predict the final loss
of GPT-4 from runs with up to 10,000x less compute (§3.1, Figure 1). Its
``L(C) = aC^b + c`` writes the exponent with its sign; here ``b`` is positive.

Compute is counted as in Kaplan et al. (2020, §2.1): a forward and backward
pass cost about ``6 · N`` floating-point operations per token, where ``N``
is the number of non-embedding parameters, so a run on ``D`` tokens costs
``C ≈ 6 · N · D`` (:func:`compute_flops`).

:func:`fit_power_law` needs no optimiser library: for a fixed ``c`` the law
is a straight line in log-log space, ``log(L - c) = log a - b · log C``,
so linear least squares gives ``a`` and ``b``. A grid over ``c`` in
``[0, min(L))`` followed by a golden-section refinement picks the ``c``
whose curve has the smallest squared error in ``log L``.

:func:`train_run` trains one member of a family of character-level GPTs
with a fixed recipe (the same optimiser, schedule and data for every size)
and returns the numbers a fit needs; the ``scaling-sweep`` recipe in
``lesson_lib.recipes_gpt4`` runs the whole family into
``assets/results/scaling.json`` (:func:`load_runs` reads it back).

Left out: the joint law in parameters and data ``L(N, D)`` (Hoffmann et al.
2022), compute-optimal allocation, learning-rate transfer across widths,
and the capability forecasts of the report's §3.2 (HumanEval pass rate).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .checks import check_int, check_number

__all__ = ["PowerLaw", "fit_power_law", "compute_flops", "train_run", "load_runs",
           "RESULTS_PATH"]

RESULTS_PATH = Path(__file__).resolve().parent.parent / "assets" / "results" / "scaling.json"


def compute_flops(n_params, tokens) -> float:
    """Training compute ``C ≈ 6 · N · D`` in floating-point operations.

    ``N`` non-embedding parameters, ``D`` training tokens; 2 FLOPs per
    parameter per token for the forward pass and 4 for the backward pass.

    >>> compute_flops(1_000, 2_000)
    12000000.0
    """
    for name, x in (("n_params", n_params), ("tokens", tokens)):
        check_number(name, x, min=0, min_open=True)
    return 6.0 * float(n_params) * float(tokens)


def _as_positive_array(name: str, values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got "
                        f"{type(values).__name__}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per run), got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {float(arr[i]):g}: every value must be positive "
                         "and finite")
    return arr


@dataclass(frozen=True)
class PowerLaw:
    """``L(C) = a · C^(-b) + c``: a fitted scaling law."""

    a: float  # scale of the reducible loss, in the units of C^b
    b: float  # exponent: each 10x of compute divides the reducible loss by 10^b
    c: float  # irreducible loss: the floor the curve approaches as C grows

    def predict(self, compute):
        """The law at ``compute``: a number gives a float, an array or list an array of
        the same shape, a tensor a tensor. Every value must be positive and finite.

        >>> PowerLaw(a=8.0, b=0.5, c=1.0).predict(16.0)
        3.0
        """
        is_tensor = isinstance(compute, torch.Tensor)
        values = compute.detach().cpu().double().numpy() if is_tensor else compute
        if isinstance(values, bool):
            raise TypeError("compute must be a number or an array of numbers, got a bool")
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"compute must be a number or an array of numbers, got "
                            f"{type(compute).__name__}") from None
        flat = _as_positive_array("compute", arr.reshape(-1))
        out = (self.a * flat ** (-self.b) + self.c).reshape(arr.shape)
        if is_tensor:
            dtype = compute.dtype if compute.is_floating_point() else torch.float64
            return torch.as_tensor(out, dtype=dtype)
        return float(out) if arr.ndim == 0 else out

    __call__ = predict

    def __str__(self) -> str:
        return f"L(C) = {self.a:.4g} · C^(-{self.b:.4f}) + {self.c:.4f}"


def _line_fit(logc: np.ndarray, loss: np.ndarray, c: float):
    """For a fixed floor ``c``: least squares of log(L - c) on log C; return (A, b, sse).

    ``A`` is the intercept (log a); ``sse`` is the squared error in log L.
    """
    y = np.log(loss - c)  # (n,)
    X = np.stack([np.ones_like(logc), logc], axis=1)  # (n, 2)
    (A, slope), *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = np.exp(A + slope * logc) + c  # (n,)
    sse = float(np.sum((np.log(pred) - np.log(loss)) ** 2))
    return float(A), float(-slope), sse


def fit_power_law(compute, loss, n_grid: int = 400) -> PowerLaw:
    """Fit ``L(C) = a · C^(-b) + c`` (with ``c >= 0``) to runs; return a :class:`PowerLaw`.

    ``compute`` and ``loss`` hold one value per run (lists, arrays or 1-D
    tensors of positive finite numbers, at least 3 runs). The irreducible
    loss ``c`` is searched in ``[0, min(loss))``; for each ``c`` the other
    two parameters come from a straight-line fit in log-log space. Worked
    example, data made from ``a = 8, b = 0.5, c = 1``::

        C = 1, 4, 16, 64   ->   L = 9, 5, 3, 2

    >>> fit = fit_power_law([1, 4, 16, 64], [9, 5, 3, 2])
    >>> round(fit.a, 3), round(fit.b, 3), round(fit.c, 3)
    (8.0, 0.5, 1.0)
    """
    C = _as_positive_array("compute", compute)
    L = _as_positive_array("loss", loss)
    if C.shape != L.shape:
        raise ValueError(f"compute has {C.size} values but loss has {L.size}: "
                         "expected one loss per run")
    if C.size < 3:
        raise ValueError(f"need at least 3 runs to fit a, b and c, got {C.size}")
    if np.unique(C).size < 2:
        raise ValueError("every run has the same compute; a scaling law needs runs "
                         "of different sizes")
    n_grid = check_int("n_grid", n_grid, min=10)
    shift = float(np.mean(np.log(C)))  # centre log C: fit in units of the geometric mean
    logc = np.log(C) - shift  # (n,)
    top = float(L.min()) * (1.0 - 1e-9)
    grid = np.concatenate([[0.0], top * (1.0 - np.geomspace(1.0, 1e-6, n_grid))[1:]])
    errors = np.array([_line_fit(logc, L, c)[2] for c in grid])  # (n_grid,)
    i = int(np.argmin(errors))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    phi = (math.sqrt(5.0) - 1.0) / 2.0  # golden-section search on [lo, hi]
    x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
    f1, f2 = _line_fit(logc, L, x1)[2], _line_fit(logc, L, x2)[2]
    for _ in range(60):
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - phi * (hi - lo)
            f1 = _line_fit(logc, L, x1)[2]
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + phi * (hi - lo)
            f2 = _line_fit(logc, L, x2)[2]
    candidates = [(errors[i], grid[i]), (f1, x1), (f2, x2)]
    c = min(candidates)[1]
    A, b, _ = _line_fit(logc, L, c)
    a = math.exp(A + b * shift)  # undo the centring: a · C^-b = e^A · (C / e^shift)^-b
    return PowerLaw(a=a, b=b, c=float(c))


@torch.no_grad()
def _val_loss(model, ids: torch.Tensor, block_size: int, n_windows: int) -> float:
    """Mean next-token loss over ``n_windows`` evenly spaced windows of ``ids``."""
    starts = torch.linspace(0, len(ids) - block_size - 1, n_windows).long()  # (n,)
    idx = starts[:, None] + torch.arange(block_size)  # (n, T)
    was_training = model.training
    model.eval()
    losses = [model(ids[i], ids[i + 1])[1] for i in idx.split(64)]
    model.train(was_training)
    return float(torch.stack(losses).mean())


def train_run(ids: torch.Tensor, vocab_size: int, n_layer: int, n_embd: int,
              n_head: int, max_iters: int, batch_size: int = 32, block_size: int = 64,
              lr: float = 3e-3, seed: int = 0, val_frac: float = 0.1,
              n_val_windows: int = 256, callbacks=()) -> dict:
    """Train one GPT of the family on ``ids``; return the numbers a scaling fit needs.

    Every size gets the same recipe (AdamW, warm-up then cosine decay to
    ``lr / 10``, no dropout), trains on the first ``1 - val_frac`` of
    ``ids`` and is scored on ``n_val_windows`` fixed windows of the rest.
    Returns ``{"n_params", "tokens", "compute_flops", "val_loss", "seconds",
    "config"}`` with ``n_params`` the non-embedding parameter count.
    ``callbacks`` go to ``lesson_lib.train.train`` (e.g. a ``ProgressBar``).
    """
    from .data import train_val_split
    from .gpt import GPT, GPTConfig
    from .train import TrainConfig, train

    if not isinstance(ids, torch.Tensor) or ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of token ids, got "
                         f"{getattr(ids, 'shape', type(ids).__name__)}")
    train_ids, val_ids = train_val_split(ids, 1.0 - val_frac)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size, block_size, n_layer, n_head, n_embd))
    config = TrainConfig(max_iters=max_iters, batch_size=batch_size, block_size=block_size,
                         lr=lr, min_lr=lr / 10, warmup_iters=max(1, max_iters // 20),
                         eval_interval=max_iters + 1, eval_iters=1, seed=seed)
    start = time.perf_counter()
    train(model, train_ids, None, config, callbacks)
    seconds = time.perf_counter() - start
    n_params = model.num_params(non_embedding=True)
    tokens = max_iters * batch_size * block_size
    return {"n_params": n_params, "tokens": tokens,
            "compute_flops": compute_flops(n_params, tokens),
            "val_loss": _val_loss(model, val_ids, block_size, n_val_windows),
            "seconds": round(seconds, 2),
            "config": {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd,
                       "max_iters": max_iters, "batch_size": batch_size,
                       "block_size": block_size, "lr": lr, "seed": seed}}


def load_runs(path: Optional[Path] = None) -> list[dict]:
    """The runs of a sweep file (default: the shipped ``assets/results/scaling.json``)."""
    path = Path(path) if path is not None else RESULTS_PATH
    if not path.exists():
        raise FileNotFoundError(f"no scaling results at {path}; rebuild them with "
                                "'python -m lesson_lib.pretrained build scaling-sweep'")
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"{path} must hold {{'runs': [...]}} with at least one run")
    for i, run in enumerate(runs):
        missing = {"n_params", "tokens", "compute_flops", "val_loss"} - set(run)
        if missing:
            raise ValueError(f"run {i} of {path} lacks {sorted(missing)}")
    return runs
