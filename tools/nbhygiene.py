"""Check (or fix) that committed notebooks are stripped and carry slide metadata.

    python tools/nbhygiene.py           # list problems, exit 1 if any
    python tools/nbhygiene.py --fix     # strip outputs, add missing slide types

A cell without a slide type becomes a fragment-free "-" (same slide) cell,
except a markdown cell starting with "# " or "## ", which opens a slide.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def problems(nb: dict) -> list[str]:
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        slide = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if slide not in SLIDE_TYPES:
            out.append(f"cell {i}: slide_type {slide!r} not in {sorted(SLIDE_TYPES)}")
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count")):
            out.append(f"cell {i}: has outputs or an execution count (strip it)")
    return out


def fix(nb: dict) -> dict:
    for cell in nb.get("cells", []):
        meta = cell.setdefault("metadata", {})
        show = meta.setdefault("slideshow", {})
        if show.get("slide_type") not in SLIDE_TYPES:
            src = "".join(cell.get("source", ""))
            opens = cell["cell_type"] == "markdown" and src.lstrip().startswith(("# ", "## "))
            show["slide_type"] = "slide" if opens else "-"
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            for key in ("execution", "ExecuteTime"):
                meta.pop(key, None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv if not p.startswith("-")] or sorted(NOTEBOOKS.glob("*.ipynb"))
    bad = 0
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if "--fix" in argv:
            path.write_text(json.dumps(fix(nb), indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            continue
        for line in problems(nb):
            print(f"{path.name}: {line}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
