"""Run every chapter notebook top to bottom in a fresh kernel, offline.

Executed copies go to ``build/executed/`` (the slide and handout exports
reuse them) and the wall time of each run to ``build/notebook_times.json``.
The 120 s budget per chapter is reported there, not asserted: timings
belong to benchmarks, and CI machines vary.
"""
import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import prose_numbers  # noqa: E402, I001  (tools/: numbers in prose must be printed by chapters)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILD = ROOT / "build"
MAX_EXECUTED_BYTES = 5_000_000  # an executed chapter with its widget state (plotly.js: 4.8 MB)


def _text_outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            yield cell, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    (BUILD / "executed").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, BUILD / "executed" / path.name)
    times_file = BUILD / "notebook_times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    times[path.stem] = round(seconds, 1)
    times_file.write_text(json.dumps(times, indent=1, sort_keys=True))
    print(f"{path.stem}: {seconds:.1f} s")
    for _cell, out in _text_outputs(nb):
        assert out.get("output_type") != "error", f"{path.name}: error output {out.get('ename')}"
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            pytest.fail(f"{path.name}: stderr output (a warning?): {out.get('text')[:500]}")
        text = out.get("text", "") or out.get("data", {}).get("text/plain", "")
        assert "Warning" not in text, f"{path.name}: warning in output: {text[:300]}"
    if path.name[:2] in prose_numbers.CHECKED:
        typed = prose_numbers.unexplained(nb, path.name[:2])
        assert not typed, (f"{path.name}: numbers in prose that no output shows:\n"
                           + "\n".join(typed))
    size = (BUILD / "executed" / path.name).stat().st_size
    assert size <= MAX_EXECUTED_BYTES, (
        f"{path.name}: executed with its widget state it is {size / 1e6:.1f} MB, over "
        f"{MAX_EXECUTED_BYTES / 1e6:.0f} MB. A copy of plotly.js per figure? Draw live plots "
        "with lesson_lib.viz.LiveFigure, not go.FigureWidget, and plain figures with the "
        "renderer 'plotly_mimetype+notebook_connected', not '+notebook'.")


TIMING = re.compile(r"\d+(\.\d+)?\s*(ms|µs|s|sec|seconds|it/s|tokens/s|tok/s)\b|×|"
                    r"\bx faster|speed-?up|took|elapsed|wall|\btimes?\b|\btimings?\b", re.I)
RERUN = "02_multi_head_attention"  # trains a model: a good test of seeded determinism


def _printed_text(nb) -> list[str]:
    """Every line a notebook printed, leaving out lines that report timings."""
    lines = []
    for _cell, out in _text_outputs(nb):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            text = out.get("text", "")
        elif out.get("output_type") in ("execute_result", "display_data") \
                and "application/vnd.jupyter.widget-view+json" not in out.get("data", {}):
            text = out.get("data", {}).get("text/plain", "")
        else:
            continue
        lines += [ln for ln in text.splitlines() if not TIMING.search(ln)
                  and not re.search(r"at 0x[0-9a-f]+", ln)]
    return lines


def test_rerun_prints_the_same_numbers():
    """Same seeds, same numbers: a second fresh run prints the same text (timings aside)."""
    first = BUILD / "executed" / f"{RERUN}.ipynb"
    if not first.exists():
        pytest.skip(f"run test_notebook_runs_clean[{RERUN}] first")
    nb = nbformat.read(ROOT / "notebooks" / f"{RERUN}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    before, after = _printed_text(nbformat.read(first, as_version=4)), _printed_text(nb)
    assert before, "the notebook printed nothing to compare"
    assert before == after
