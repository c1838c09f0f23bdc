"""Shipped models and results: load them, list them, rebuild them, verify them.

``load(name_or_path) -> (model, tokenizer)`` and ``list_checkpoints()``
come from ``lesson_lib.checkpoints`` (the file format); this module adds the
command line that rebuilds every shipped asset from its recipe
(``lesson_lib.recipes``)::

    python -m lesson_lib.pretrained list
    python -m lesson_lib.pretrained build shakespeare-char [--out DIR] [--smoke]
    python -m lesson_lib.pretrained verify shakespeare-char

``build --smoke`` runs the real recipe at a toy size in seconds (the tests
run every one). ``verify`` rebuilds an asset in full into a temporary
folder and compares the numbers its shipped JSON records with the
rebuild's, within the tolerance the recipe states; it prints a table and
exits with status 1 on a mismatch. ``make verify`` runs it for all.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from .checkpoints import (
    CHECKPOINT_DIR,
    RESULTS_DIR,
    list_checkpoints,
    load,
    load_train_state,
    load_weights,
    save,
    save_train_state,
)
from .recipes import RECIPES

__all__ = ["CHECKPOINT_DIR", "RESULTS_DIR", "list_checkpoints", "load", "save", "load_weights",
           "save_train_state", "load_train_state", "build", "verify", "compare"]


def _recipe(name: str):
    if name not in RECIPES:
        raise ValueError(f"no recipe named {name!r}; recipes are {sorted(RECIPES)}")
    return RECIPES[name]


def build(name: str, out_dir=None, smoke: bool = False) -> Path:
    """Rebuild asset ``name`` by its recipe into ``out_dir`` (default: where it is shipped).

    ``smoke=True`` runs the same recipe at a toy size; it needs an ``out_dir``
    so that a toy never overwrites a shipped asset.
    """
    r = _recipe(name)
    if smoke and out_dir is None:
        raise ValueError("a smoke build needs out_dir, so it never overwrites the shipped "
                         f"{r.shipped_path}")
    out = Path(out_dir) if out_dir is not None else r.shipped_in
    out.mkdir(parents=True, exist_ok=True)
    return r.build(out, smoke)


def compare(name: str, shipped: dict, rebuilt: dict) -> list[dict]:
    """Rows ``{"number", "shipped", "rebuilt", "gap", "tolerance", "ok", "why"}``.

    Each of the recipe's numbers is compared between two JSON documents of
    the same asset; a number missing from either counts as a mismatch.
    """
    r = _recipe(name)
    want, got = r.numbers(shipped), r.numbers(rebuilt)
    rows = []
    for label in sorted(set(want) | set(got)):
        tol, why = r.tolerance_of(label)
        a, b = want.get(label), got.get(label)
        gap = abs(a - b) if a is not None and b is not None else math.inf
        rows.append({"number": label, "shipped": a, "rebuilt": b, "gap": gap,
                     "tolerance": tol, "ok": gap <= tol, "why": why})
    return rows


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def verify(name: str, out_dir=None) -> list[dict]:
    """Rebuild ``name`` in full (into ``out_dir`` or a temporary folder) and compare."""
    r = _recipe(name)
    shipped = _read(r.shipped_path)
    with tempfile.TemporaryDirectory(prefix=f"verify-{name}-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        build(name, out)
        return compare(name, shipped, _read(out / r.output))


def format_table(name: str, rows: list[dict]) -> str:
    """A plain-text table of :func:`compare`'s rows."""
    fmt = lambda v: "missing" if v is None else f"{v:.4f}"  # noqa: E731
    width = max(len(r["number"]) for r in rows)
    lines = [f"{name}: {sum(r['ok'] for r in rows)}/{len(rows)} numbers within tolerance",
             f"  {'number':{width}}  {'shipped':>8}  {'rebuilt':>8}  {'gap':>7}  {'allowed':>7}"]
    for r in rows:
        lines.append(f"  {r['number']:{width}}  {fmt(r['shipped']):>8}  {fmt(r['rebuilt']):>8}  "
                     f"{r['gap']:7.4f}  {r['tolerance']:7.4f}  {'ok' if r['ok'] else 'MISMATCH'}")
    lines.append(f"  tolerance: {rows[0]['why']}" if len({r['why'] for r in rows}) == 1 else
                 "  tolerances: " + "; ".join(sorted({r["why"] for r in rows})))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``list``, ``build NAME [--out DIR] [--smoke]`` or ``verify NAME [NAME ...]``."""
    parser = argparse.ArgumentParser(prog="python -m lesson_lib.pretrained",
                                     description="List, rebuild or verify the shipped assets.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list shipped checkpoints and recipes")
    b = sub.add_parser("build", help="rebuild an asset by its recipe")
    b.add_argument("name", choices=sorted(RECIPES))
    b.add_argument("--out", default=None, help="output folder (default: where it is shipped)")
    b.add_argument("--smoke", action="store_true",
                   help="the same recipe at a toy size, in seconds (needs --out)")
    v = sub.add_parser("verify", help="rebuild in full and compare with the shipped numbers")
    v.add_argument("names", nargs="+", choices=sorted(RECIPES) + ["all"], metavar="NAME")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        print("shipped:", ", ".join(list_checkpoints()) or "(none)")
        print("recipes:", ", ".join(sorted(RECIPES)))
        return 0
    if args.cmd == "build":
        if args.smoke and args.out is None:
            parser.error("--smoke needs --out DIR, so a toy never overwrites a shipped asset")
        print(f"wrote {build(args.name, args.out, smoke=args.smoke)}")
        return 0
    names = sorted(RECIPES) if "all" in args.names else args.names
    failed = []
    for name in names:
        rows = verify(name)
        print(format_table(name, rows), flush=True)
        if not all(r["ok"] for r in rows):
            failed.append(name)
    print(f"verify: {len(names) - len(failed)}/{len(names)} assets reproduce"
          + (f"; mismatched: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
