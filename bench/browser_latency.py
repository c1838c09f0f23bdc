"""How long from a slider move to the redrawn plot, in the browser, in voila and in JupyterLab?

One notebook, written to a temporary folder: the shipped ``shakespeare-char``
GPT in an ``AttentionExplorer`` on a text of T = 32 characters. Each server
(voila, then JupyterLab, both on 127.0.0.1 with a token) serves it to
Debian's Chromium, driven by playwright; the explorer's ``query`` slider is
then moved by one arrow key at a time, back and forth, and each move is
timed inside the page: from the key's ``keydown`` to the first animation
frame that shows the new query on both of its plots (the outline on the
map, and the bars of its row). That span holds
the whole path: the slider's message to the kernel, ``update(query=...)``,
the restyle messages back, and plotly's redraw.

For scale, two more numbers from the same run: the same ``update`` timed
in this process, with no browser, and the floor of the path, a slider
whose kernel callback only rewrites a line of text (``echo``), timed in
the browser in the same way.

The goal is a median of at most 100 ms on 2 cores. The numbers depend on
what else the machine runs (the load average is printed); compare the two
servers within one run.

Usage: ``python bench/browser_latency.py [--moves 30] [--servers voila lab]``.
Prints one line per server and a last line ``voila_ms=<float> lab_ms=<float>``.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))  # the servers as the browser tests run them

from conftest import CHROMIUM, FLAGS, free_port, which  # noqa: E402
from test_live import (  # noqa: E402
    VOILA_FLAGS,
    _open_notebook,
    _run_all_and_wait,
    _serve,
    _stop,
)

TEXT = "But soft, what light through yon"  # T = 32 characters, one token each
GOAL_MS = 100.0
CELL = f"""import ipywidgets as W

from lesson_lib import pretrained
from lesson_lib.viz import AttentionExplorer

model, tok = pretrained.load("shakespeare-char")
explorer = AttentionExplorer(model, tok, {TEXT!r}, layer=0, head=4)
explorer.widget.add_class("latency-explorer")
slider, line = W.IntSlider(value=16, max=31, description="echo"), W.HTML("16")
slider.observe(lambda change: setattr(line, "value", str(change["new"])), names="value")
W.VBox([explorer.widget, W.VBox([slider, line]).add_class("latency-echo")])"""

# Arm a one-shot timer: keydown starts it, the first animation frame that shows the whole
# answer stops it (the explorer: the query outline on its map moved and its bars are the
# new query's; echo: its text changed). window.__lat resolves to the milliseconds between.
ARM = """(what) => {
    const box = document.querySelector('.latency-' + what);
    const [map, bars] = box.querySelectorAll('.js-plotly-plot');
    const digest = (gd) => JSON.stringify([gd.layout.shapes, gd.layout.title]);
    const parts = map ? () => [digest(map), digest(bars)]
                      : () => [box.querySelector('.widget-html').innerText];
    const start_parts = parts();
    const sig = () => parts().every((p, i) => p !== start_parts[i]) ? 'new' : 'old';
    const before = sig();
    window.__lat = new Promise((resolve, reject) => {
        const start = (event) => {
            const t0 = event.timeStamp;
            const frame = () => {
                if (sig() !== before) resolve(performance.now() - t0);
                else if (performance.now() - t0 > 30000) reject(new Error('no redraw in 30 s'));
                else requestAnimationFrame(frame);
            };
            requestAnimationFrame(frame);
        };
        window.addEventListener('keydown', start, {capture: true, once: true});
    });
}"""


def write_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "latency.ipynb"
    nbformat.write(nb, path)
    return path


def time_moves(page, moves: int) -> dict[str, list[float]]:
    """Move each slider ``moves`` times by one key, back and forth; milliseconds each."""
    page.locator(".latency-explorer .js-plotly-plot").first.wait_for(timeout=300_000)
    page.wait_for_timeout(2000)
    times = {}
    for what in ("explorer", "echo"):
        box = page.locator(f".latency-{what}").first
        box.scroll_into_view_if_needed()
        handle = box.locator(":scope > .widget-slider .noUi-handle, "
                             ":scope > .widget-slider [role=slider]").first
        times[what] = []
        for k in range(moves + 2):  # the first two warm the path up and are not kept
            page.evaluate(ARM, what)
            handle.press("ArrowLeft" if k % 2 == 0 else "ArrowRight")
            ms = page.evaluate("() => window.__lat")
            if k >= 2:
                times[what].append(ms)
            page.wait_for_timeout(300)  # let the kernel go idle between moves
    return times


def in_voila(browser, nb: Path, tmp: Path, moves: int) -> dict[str, list[float]]:
    port, token = free_port(), secrets.token_hex(16)
    cmd = [which("voila"), str(nb), *VOILA_FLAGS, f"--port={port}", f"--token={token}",
           "--no-browser"]
    proc = _serve(cmd, port, token, tmp, probe=None)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?token={token}", wait_until="domcontentloaded",
                  timeout=300_000)
        times = time_moves(page, moves)
        context.close()
        return times
    finally:
        _stop(proc)


def in_lab(browser, nb: Path, tmp: Path, moves: int) -> dict[str, list[float]]:
    port, token = free_port(), secrets.token_hex(16)
    cmd = [which("jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={nb.parent}", "--LabApp.news_url=None"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = _serve(cmd, port, token, tmp)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        _open_notebook(page, f"http://127.0.0.1:{port}", token, nb.name)
        _run_all_and_wait(page)
        times = time_moves(page, moves)
        context.close()
        return times
    finally:
        _stop(proc)


def kernel_side_ms(moves: int) -> float:
    """``update(query=...)`` alone, in this process: what the kernel spends per move."""
    from lesson_lib import pretrained
    from lesson_lib.viz import AttentionExplorer

    model, tok = pretrained.load("shakespeare-char")
    ex = AttentionExplorer(model, tok, TEXT, layer=0, head=4)
    times = []
    for k in range(moves):
        start = time.perf_counter()
        ex.update(query=len(TEXT) - 1 - k % 2)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=30, help="slider moves timed per server")
    parser.add_argument("--servers", nargs="+", default=["voila", "lab"],
                        choices=["voila", "lab"])
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()
    print(f"T = {len(TEXT)} tokens; {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"{'kernel only':>14}: {kernel_side_ms(args.moves):7.1f} ms median "
          "(AttentionExplorer.update, no browser)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        nb = write_notebook(Path(tmp))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for server in args.servers:
            run = in_voila if server == "voila" else in_lab
            log_dir = Path(tmp) / server
            log_dir.mkdir()
            measured = run(browser, nb, log_dir, args.moves)
            for what, times in measured.items():
                median = statistics.median(times)
                p90 = sorted(times)[int(0.9 * (len(times) - 1))]
                verdict = "" if what == "echo" else (
                    "  ok" if median <= GOAL_MS else "  over the goal")
                print(f"{server + ' ' + what:>14}: {median:7.1f} ms median, {p90:.1f} ms p90, "
                      f"{min(times):.1f} ms best, n = {len(times)}{verdict}")
            results[server] = statistics.median(measured["explorer"])
        browser.close()
    print(" ".join(f"{name}_ms={ms:.1f}" for name, ms in results.items()))


if __name__ == "__main__":
    main()
