"""Tiny helpers to author a chapter notebook from a script.

    from nbbuild import md, code, notes, write
    write("notebooks/01_attention.ipynb", [
        md("# 1. Attention", slide="slide"),
        code("import torch"),
        notes("Speaker note: ask the class first."),
    ])

Every cell gets ``metadata.slideshow.slide_type``: ``slide`` (new slide),
``subslide`` (derivation below), ``fragment``, ``notes`` (speaker notes)
or ``-`` (same slide). The notebook is written stripped of outputs; the
committed ``.ipynb`` is the source from then on.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat


def _cell(kind: str, source: str, slide: str, **meta):
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source.strip("\n"))
    cell.metadata["slideshow"] = {"slide_type": slide}
    cell.metadata.update(meta)
    cell.pop("id", None)
    return cell


def md(source: str, slide: str = "-"):
    if slide == "-" and source.lstrip().startswith(("# ", "## ")):
        slide = "slide"
    return _cell("markdown", source, slide)


def code(source: str, slide: str = "-", hidden: bool = False):
    """A code cell; ``hidden=True`` collapses it (used for exercise solutions)."""
    meta = {"jupyter": {"source_hidden": True}, "tags": ["solution"]} if hidden else {}
    return _cell("code", source, slide, **meta)


def notes(source: str):
    return _cell("markdown", source, "notes")


def write(path: str | Path, cells) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nb.cells = list(cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    nbformat.validate(nb)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
