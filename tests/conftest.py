import json
import os
import sys

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
# Kernels started by the notebook tests inherit this: set iteration order is fixed.
os.environ.setdefault("PYTHONHASHSEED", "0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))



@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: tiny models gain nothing from threads, and spinning
    threads crawl on a busy machine. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CHAPTER_BUDGET_S = 120  # each chapter, in a fresh kernel on one thread
COURSE_BUDGET_S = 360  # all thirteen together (goal: 300)


def pytest_terminal_summary(terminalreporter):
    """After a notebook run, each chapter's seconds, the total, and those over budget.

    Reads ``build/notebook_times.json`` (written by ``tests/test_notebooks.py``);
    chapters not run in this session show their last recorded time, marked.
    A report, not a check: timings depend on the machine.
    """
    tr = terminalreporter
    ran = {rep.nodeid.rsplit("[", 1)[-1].rstrip("]") for reports in tr.stats.values()
           for rep in reports if getattr(rep, "when", None) == "call"
           and "test_notebook_runs_clean[" in getattr(rep, "nodeid", "")}
    times_file = os.path.join(ROOT, "build", "notebook_times.json")
    if not ran or not os.path.exists(times_file):
        return
    with open(times_file, encoding="utf-8") as f:
        times = json.load(f)
    tr.write_sep("-", f"notebook times (budget {CHAPTER_BUDGET_S} s a chapter, "
                      f"{COURSE_BUDGET_S} s for all)")
    for name, seconds in sorted(times.items()):
        over = "  OVER" if seconds > CHAPTER_BUDGET_S else ""
        earlier = "" if name in ran else "  (earlier run)"
        tr.write_line(f"{name:<40} {seconds:7.1f} s{over}{earlier}")
    total = sum(times.values())
    over = [name for name, seconds in sorted(times.items()) if seconds > CHAPTER_BUDGET_S]
    tr.write_line(f"{'total of ' + str(len(times)) + ' chapters':<40} {total:7.1f} s"
                  f"{'  OVER' if total > COURSE_BUDGET_S else ''}")
    tr.write_line(f"over {CHAPTER_BUDGET_S} s: {', '.join(over) if over else 'none'}")
