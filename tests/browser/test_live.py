"""The live notebooks in real JupyterLab, and the visualizer dashboard in voila.

Each server binds 127.0.0.1 on a free port with a token, is driven by
Chromium, and is stopped by its PID at the end.
"""
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, free_port, which

NOTEBOOKS = ROOT / "notebooks"


def _serve(cmd, port, token, tmp_path, probe="/api/status"):
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), PYTHONHASHSEED="0")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if probe:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}?token={token}", timeout=2)
            else:  # voila serving one notebook has no API: wait for the port to listen
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    _stop(proc)
    pytest.fail(f"server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def lab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    cmd = [which("jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={NOTEBOOKS}", "--LabApp.news_url=None"]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    proc = _serve(cmd, port, token, tmp_path)
    yield f"http://127.0.0.1:{port}", token
    _stop(proc)
    assert proc.poll() is not None, "the JupyterLab server is still running"


def _run_all_and_wait(page, timeout_s=400):
    """Run All Cells from the menu, then wait for the kernel to stay idle with no cell queued."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    deadline, idle_since = time.time() + timeout_s, None
    page.wait_for_timeout(2000)
    while time.time() < deadline:
        busy = page.evaluate("""() => document.body.innerText.includes('| Busy')
            || [...document.querySelectorAll('.jp-InputArea-prompt')]
                   .some(p => p.textContent.includes('*'))""")
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = time.time()
        elif time.time() - idle_since > 3:
            return
        page.wait_for_timeout(1000)
    pytest.fail("the notebook did not finish running in time")


def _no_errors(page, name):
    errors = page.evaluate("""() => [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent.slice(0, 300))""")
    assert not errors, f"{name}: error or stderr output in JupyterLab: {errors[:3]}"


def _open_notebook(page, base, token, name):
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function("""() => document.querySelector('.jp-Notebook-ExecutionIndicator,'
        + ' .jp-KernelStatus') !== null || document.body.innerText.includes('Idle')""",
                           timeout=60_000)
    page.wait_for_timeout(2000)


@pytest.mark.parametrize("chapter", ["01_attention.ipynb", "03_positional_encoding.ipynb"])
def test_chapter_runs_in_jupyterlab(browser, lab, chapter, shots):
    if not (NOTEBOOKS / chapter).exists():
        pytest.skip(f"{chapter} is not written yet")
    base, token = lab
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    _open_notebook(page, base, token, chapter)
    _run_all_and_wait(page)
    _no_errors(page, chapter)
    images = page.locator(".jp-OutputArea-output img").count()
    plots = page.locator(".jp-OutputArea-output .plotly-graph-div").count()
    assert images + plots > 0, f"{chapter}: no attention map or plot rendered"
    if chapter.startswith("03"):
        _drive_positional_explorer(page)
    page.screenshot(path=str(shots / f"lab-{chapter.replace('.ipynb', '')}.png"))
    context.close()


def _figure_signature(widget):
    return widget.evaluate("""w => [...w.querySelectorAll('.js-plotly-plot')].map(gd =>
        JSON.stringify([gd.layout && gd.layout.title, (gd.data || []).map(t =>
        t.z ? t.z.length + ':' + JSON.stringify(t.z[t.z.length - 1]).slice(0, 80) : t.y
        ? JSON.stringify(t.y).slice(0, 80) : '')])).join('|')""")


def _changed(page, widget, before, timeout_s=30) -> bool:
    """Poll until the widget's plot differs from ``before`` (the kernel answers asynchronously)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_timeout(1000)
        if _figure_signature(widget) != before:
            return True
    return False


def _drive_slider(page, widget, before, attempts=3, timeout_s=30) -> bool:
    """Focus the widget's first slider and press arrow keys until its plot changes."""
    for _ in range(attempts):
        handle = widget.locator(".widget-slider .noUi-handle, "
                                ".widget-slider [role=slider]").first
        handle.scroll_into_view_if_needed()
        for _ in range(3):
            handle.press("ArrowLeft")  # focuses the handle, then sends the key to it
        if _changed(page, widget, before, timeout_s=timeout_s):
            return True
    return False


def _drive_positional_explorer(page):
    """The PositionalEncodingExplorer renders and a slider changes its plot."""
    widget = page.locator(".jp-OutputArea-output .widget-box:has(.widget-slider)"
                          ":has(.js-plotly-plot)").last
    widget.wait_for(timeout=60_000)
    widget.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    before = _figure_signature(widget)
    assert before and _drive_slider(page, widget, before), \
        "moving the slider did not change the explorer's plot"


@pytest.fixture
def dashboard(tmp_path):
    nb = NOTEBOOKS / "12_visualizer.ipynb"
    if not nb.exists():
        pytest.skip("12_visualizer.ipynb is not written yet")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [which("voila"), str(nb), "--Voila.ip=127.0.0.1", f"--port={port}",
           f"--token={token}", "--no-browser"]
    proc = _serve(cmd, port, token, tmp_path, probe=None)
    yield f"http://127.0.0.1:{port}/?token={token}"
    _stop(proc)


def test_visualizer_dashboard_in_voila(page, dashboard, shots, tmp_path):
    """Known flake, not understood: on some first loads the slider moves in the page but
    the plot never redraws (once with "[anywidget] Failed to initialize model"; once voila
    logged that the kernel websocket closed right after connecting). It happened on about
    1 load in 5 when this test ran alone, and on most runs after the deck and JupyterLab
    tests, hence `make browser` runs it first; a second load has always answered alone."""
    seen = []
    for load in range(2):
        page.problems.clear()  # judge the page that worked, report the one that did not
        page.goto(dashboard, wait_until="domcontentloaded")
        page.wait_for_selector(".jupyter-widgets .js-plotly-plot", timeout=180_000)
        # voila renders cells as they run; wait for the last ones (the exercise solutions).
        page.wait_for_function("document.body.innerText.split('Correct').length > 2",
                               timeout=300_000)
        page.wait_for_timeout(2000)
        widget = page.locator(".widget-box:has(.widget-slider):has(.js-plotly-plot)").first
        widget.scroll_into_view_if_needed()
        before = _figure_signature(widget)
        readout = widget.locator(".widget-readout").first
        start = readout.inner_text()
        if _drive_slider(page, widget, before, attempts=3, timeout_s=40):
            break
        # Record whether the key presses reached the slider (its readout moves in the page
        # alone) or the kernel never answered; then load the dashboard once more.
        errors = [p for p in page.problems if "page error" in p]
        seen.append(f"load {load}: slider readout {start} -> {readout.inner_text()}, "
                    f"page errors {errors}")
        page.screenshot(path=str(shots / f"visualizer-dashboard-stuck-{load}.png"),
                        full_page=True)
    else:
        log = (tmp_path / "server.log").read_text(errors="replace")[-1500:]
        pytest.fail(f"driving a widget did not change its plot ({'; '.join(seen)}); "
                    f"voila log: {log}")
    page.screenshot(path=str(shots / "visualizer-dashboard.png"), full_page=True)
    # voila's default template asks a CDN for an icon font; nothing else may go out.
    problems = [p for p in page.problems if not re.search(r"fontawesome|\.woff2?|\.ttf", p)]
    assert not [p for p in problems if "page error" in p], problems
