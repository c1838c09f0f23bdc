"""Export the executed chapters as offline slide decks and handouts.

    python tools/export.py slides     # build/slides/NN_name.slides.html
    python tools/export.py html       # build/html/NN_name.html + index.html
    python tools/export.py pdf        # build/pdf/NN_name.pdf (Chromium via playwright)

Every deck and handout works from ``file://`` with no network: reveal.js,
require.js, jQuery, MathJax and the widget manager come from the npm
registry at build time (``tools/web/package.json``, installed with
``npm ci``) and are copied into a relative ``assets/`` folder; plotly.js
comes from the plotly Python package. The templates in ``tools/templates``
are nbconvert's own with each CDN load swapped for a local file.

Chapters are taken from ``build/executed/`` (written by the notebook tests)
and executed here when missing or older than the notebook. Live
``FigureWidget`` plots need a kernel; in exports they become static plotly
figures of their last state, with a note saying so.
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
WEB = ROOT / "tools" / "web"
TEMPLATES = ROOT / "tools" / "templates"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CSS_URL = re.compile(r"""(?:@import\s+|url\()\s*["']?(https?://[^"')\s]+)""", re.I)
PDF_MARGIN_MM = 12  # page margin of the PDF handouts, on every side
# Handouts wrap long lines of code and output instead of clipping them at the cell's edge or
# the page's; wide images and figures shrink to the page.
HANDOUT_CSS = """<style id="handout-wrap">
.jp-Cell pre, .jp-OutputArea-output pre, .jp-RenderedText pre, .highlight pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; }
.jp-InputArea-editor, .jp-CodeMirrorEditor, .highlight, .jp-OutputArea-output,
.jp-RenderedText, .jp-Cell-inputWrapper, .jp-Cell-outputWrapper { overflow: visible !important; }
.jp-RenderedImage img, .jp-RenderedSVG svg, .jp-RenderedHTMLCommon img { max-width: 100% !important;
  height: auto !important; }
.jp-RenderedHTMLCommon table { max-width: 100%; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { overflow-wrap: anywhere; }
@media print { .jp-Cell { break-inside: auto; } .plotly-graph-div { max-width: 100%; } }
</style>"""
CDN_SCRIPT = re.compile(r"""<script[^>]*\bsrc\s*=\s*["']https?://[^"']*["'][^>]*>\s*</script>""",
                        re.I)

ASSETS = {  # node_modules path -> path under assets/
    "reveal.js/dist": "reveal.js/dist",
    "reveal.js/plugin/notes": "reveal.js/plugin/notes",
    "requirejs/require.js": "require.js",
    "jquery/dist/jquery.min.js": "jquery.min.js",
    "mathjax/es5/tex-svg-full.js": "mathjax/tex-svg-full.js",
    "@jupyter-widgets/html-manager/dist": "html-manager",
}


def chapters(names=()) -> list[Path]:
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        found = [p for p in found if any(p.stem.startswith(n) for n in names)]
    return found


def ensure_node_modules() -> Path:
    modules = WEB / "node_modules"
    if not (modules / "reveal.js").exists():
        print("installing the web assets with npm ci (tools/web/package-lock.json)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=WEB,
                       check=True)
    return modules


def copy_assets(out: Path) -> None:
    import plotly

    modules = ensure_node_modules()
    dest = out / "assets"
    for src, rel in ASSETS.items():
        target = dest / rel
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if (modules / src).is_dir():
            shutil.copytree(modules / src, target)
        else:
            shutil.copy2(modules / src, target)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not (dest / "plotly.min.js").exists():
        shutil.copy2(plotly_js, dest / "plotly.min.js")


def executed(path: Path, timeout: int = 600):
    """The executed copy of ``path``, running it first when missing or stale."""
    import nbformat
    from nbclient import NotebookClient

    out = BUILD / "executed" / path.name
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return nbformat.read(out, as_version=4)
    print(f"executing {path.name}")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return nb


def _descendants(model_id: str, state: dict) -> set[str]:
    seen, todo = set(), [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        todo.extend(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[mid].get("state", {}))))
    return seen


def _model_state(model: dict) -> dict:
    """A widget model's state with its binary buffers (saved separately) put back as arrays."""
    import base64

    import numpy as np

    state = copy.deepcopy(model.get("state", {}))
    for buf in model.get("buffers", []):
        *parents, spec_key, _ = buf["path"]  # [..., key, "buffer"]: key holds {dtype, shape}
        holder = state
        try:
            for key in parents:
                holder = holder[key]
            spec = holder[spec_key]
        except (KeyError, IndexError, TypeError):
            continue  # a buffer of a message that is no longer in the state
        raw = base64.b64decode(buf["data"])
        holder[spec_key] = np.frombuffer(raw, dtype=spec.get("dtype", "float64")).reshape(
            spec.get("shape", [-1]))
    return state


def _figure_of(state: dict):
    """The plotly figure a FigureWidget showed last: its data plus its last update message."""
    import plotly.graph_objects as go

    fig = go.Figure(data=state.get("_widget_data", []), layout=state.get("_widget_layout", {}))
    restyle, relayout, update = (state.get(k) or {} for k in
                                 ("_py2js_restyle", "_py2js_relayout", "_py2js_update"))
    try:
        if restyle:
            fig.plotly_restyle(restyle["restyle_data"], restyle.get("restyle_traces"))
        if relayout:
            fig.plotly_relayout(relayout["relayout_data"])
        if update:
            fig.plotly_update(update.get("style_data"), update.get("layout_data"),
                              update.get("style_traces"))
    except (KeyError, TypeError, ValueError):
        pass  # an update we cannot replay: show the figure as first drawn
    return fig


def freeze_live_plots(nb):
    """Replace widget outputs that hold a plotly FigureWidget by static plotly figures."""
    import plotly.io as pio

    nb = copy.deepcopy(nb)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    frozen: set[str] = set()
    for cell in nb.cells:
        new_outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            ids = _descendants(view["model_id"], state) if view else set()
            figures = [_model_state(state[i]) for i in sorted(ids)
                       if "_widget_data" in state[i].get("state", {})]
            live = any(state[i].get("model_module") == "anywidget" for i in ids)
            if not live:
                new_outputs.append(out)
                continue
            frozen |= ids
            parts = ['<p class="frozen-widget"><em>A live widget: run this chapter in '
                     'JupyterLab to drive it. Below is its last state.</em></p>']
            for fig_state in figures:
                fig = _figure_of(fig_state)
                parts.append(pio.to_html(fig, include_plotlyjs=False, full_html=False))
            new_outputs.append({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": "\n".join(parts)}})
        if "outputs" in cell:
            cell["outputs"] = new_outputs
    # The widget manager loads every model in the saved state, so any anywidget left there
    # (shown or not) would fetch its code from a CDN: drop those and whatever refers to them.
    gone = set(frozen) | {i for i, m in state.items() if m.get("model_module") == "anywidget"}
    while True:
        refers = {i for i, m in state.items() if i not in gone and set(
            re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(m.get("state", {})))) & gone}
        if not refers:
            break
        gone |= refers
    for model_id in gone:
        state.pop(model_id, None)
    for cell in nb.cells:  # a view of a dropped model can no longer be drawn
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") in gone:
                out["data"] = {"text/html": "<p><em>A live widget: run this chapter in "
                                            "JupyterLab to use it.</em></p>"}
    return nb


class _Loads(HTMLParser):
    """Collect what a page loads: src/href of real elements and url()s in styles."""

    LOADING = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src",
               "video": "src", "embed": "src", "link": "href"}

    def __init__(self):
        super().__init__()
        self.urls, self._in_style = set(), False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        want = self.LOADING.get(tag)
        if want and re.match(r"https?://", attrs.get(want) or "", re.I):
            if tag != "link" or (attrs.get("rel") or "").lower() in ("stylesheet", "preload",
                                                                      "icon", "modulepreload"):
                self.urls.add(attrs[want])
        self.urls.update(CSS_URL.findall(attrs.get("style") or ""))
        self._in_style = tag == "style"

    def handle_data(self, data):
        if self._in_style:
            self.urls.update(CSS_URL.findall(data))

    def handle_endtag(self, tag):
        self._in_style = False


def external_urls(text: str) -> list[str]:
    """Every http(s) address the page itself would load: script, style, font, image sources."""
    parser = _Loads()
    parser.feed(text)
    return sorted(parser.urls)


def offline_outputs(nb):
    """Drop plotly's set-up output, which inlines plotly.js ('notebook' renderer) or imports
    it from a CDN ('notebook_connected'): the page loads assets/plotly.min.js once. Drop
    the CDN script tags plotly adds to each figure too (the page loads a local MathJax)."""
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            page = out.get("data", {}).get("text/html")
            if isinstance(page, str):
                if "window.PlotlyConfig" in page and "plotly-graph-div" not in page:
                    continue  # plotly's set-up, no figure in it
                out["data"]["text/html"] = CDN_SCRIPT.sub("", page)
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return nb


def export(kind: str, names=()) -> dict:
    from nbconvert import HTMLExporter, SlidesExporter
    from traitlets.config import Config

    out = BUILD / ("slides" if kind == "slides" else "html")
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    c = Config()
    common = dict(require_js_url="assets/require.js", jquery_url="assets/jquery.min.js",
                  mathjax_url="assets/mathjax/tex-svg-full.js",
                  widget_renderer_url="assets/html-manager/embed-amd.js",
                  extra_template_basedirs=[str(TEMPLATES)], extra_template_paths=[str(TEMPLATES)])
    if kind == "slides":
        exporter = SlidesExporter(config=c, template_name="offline_reveal",
                                  reveal_url_prefix="assets/reveal.js", reveal_theme="white",
                                  reveal_scroll=True, **common)
        suffix = ".slides.html"
    else:
        exporter = HTMLExporter(config=c, template_name="offline_lab", theme="light", **common)
        suffix = ".html"
    report = {}
    for path in chapters(names):
        start = time.perf_counter()
        nb = offline_outputs(freeze_live_plots(executed(path)))
        body, _ = exporter.from_notebook_node(nb, resources={"offline_prefix": "assets"})
        if kind == "html":
            body = body.replace("</head>", HANDOUT_CSS + "\n</head>", 1)
        target = out / f"{path.stem}{suffix}"
        target.write_text(body, encoding="utf-8")
        urls = external_urls(body)
        report[target.name] = {"bytes": len(body.encode()), "external_urls": urls,
                               "seconds": round(time.perf_counter() - start, 1)}
        print(f"{target.relative_to(ROOT)}: {len(body) / 1e6:.1f} MB, "
              f"{len(urls)} external URLs")
    if kind == "html":
        write_index(out, suffix)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def learning_goals(path: Path) -> tuple[str, list[str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"]) if nb["cells"] else ""
    title = next((ln.lstrip("# ").strip() for ln in first.splitlines() if ln.startswith("#")),
                 path.stem)
    goals = [re.sub(r"^\s*(\d+\.|[-*])\s*", "", ln).strip() for ln in first.splitlines()
             if re.match(r"^\s*(\d+\.|[-*])\s+", ln)]
    return title, goals


def write_index(out: Path, suffix: str) -> None:
    items = []
    for path in chapters():
        title, goals = learning_goals(path)
        goal_list = "".join(f"<li>{html.escape(g)}</li>" for g in goals)
        items.append(f'<li><a href="{path.stem}{suffix}">{html.escape(title)}</a>'
                     f"<ul>{goal_list}</ul></li>")
    (out / "index.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Transformer → GPT-4, built and seen: handouts</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.5}"
        "li ul{font-size:90%;color:#444}</style></head><body>"
        "<h1>Transformer → GPT-4, built and seen</h1><p>Chapter handouts, in order.</p>"
        f"<ol start='0'>{''.join(items)}</ol></body></html>", encoding="utf-8")


def export_pdf(names=(), browser=None) -> None:
    """Print each chapter's HTML handout to build/pdf with Chromium (``browser``, or one
    launched here)."""
    export("html", names)
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
            try:
                export_pdf_with(launched, names)
            finally:
                launched.close()
    else:
        export_pdf_with(browser, names)


def export_pdf_with(browser, names=()) -> None:
    out = BUILD / "pdf"
    out.mkdir(parents=True, exist_ok=True)
    # An A4-wide window, so that figures that size themselves at load (plotly) fit the page.
    page = browser.new_page(viewport={"width": 794, "height": 1123})
    margin = f"{PDF_MARGIN_MM}mm"
    for path in chapters(names):
        page.goto((BUILD / "html" / f"{path.stem}.html").as_uri(), wait_until="load")
        page.wait_for_timeout(1500)
        page.evaluate(FIT_PLOTLY)
        page.wait_for_timeout(500)
        page.pdf(path=str(out / f"{path.stem}.pdf"), format="A4", print_background=True,
                 margin={"top": margin, "bottom": margin, "left": margin, "right": margin})
        print(f"build/pdf/{path.stem}.pdf")
    page.close()


# A plotly figure drawn wider than the page (a fixed layout width) is zoomed to the page's width.
FIT_PLOTLY = """() => {
  let n = 0;
  for (const gd of document.querySelectorAll('.plotly-graph-div')) {
    const box = gd.closest('.jp-OutputArea-output') || gd.parentElement;
    const outer = gd.parentElement === box ? gd : gd.parentElement;  // plotly's own wrapper div
    const wide = Math.max(outer.scrollWidth, gd._fullLayout ? gd._fullLayout.width : 0);
    if (wide > box.clientWidth) { outer.style.zoom = (box.clientWidth / wide).toFixed(3); n++; }
  }
  return n;
}"""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--disable-quic"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["slides", "html", "pdf"])
    parser.add_argument("names", nargs="*", help="chapter prefixes, e.g. 01 03 (default: all)")
    args = parser.parse_args(argv)
    if args.kind == "pdf":
        export_pdf(args.names)
        return 0
    report = export(args.kind, args.names)
    leaks = {k: v["external_urls"] for k, v in report.items() if v["external_urls"]}
    if leaks:
        print("external URLs left:", json.dumps(leaks, indent=1))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
