"""Every chapter deck works offline from file://: reveal.js ready, no failed
request or console error, plotly figures drawn and their sliders live, no blank slide."""
import json
import os

import pytest
from conftest import ROOT, SHOTS

SLIDES = ROOT / "build" / "slides"


@pytest.fixture(scope="module")
def decks():
    import export

    names = os.environ.get("CHAPTERS", "").split()  # e.g. CHAPTERS="01 03" while writing one
    export.export("slides", names)
    found = sorted(p for p in SLIDES.glob("*.slides.html")
                   if not names or any(p.name.startswith(n) for n in names))
    assert found, "make slides produced no deck"
    return found


def _open(page, deck):
    page.on("request", lambda r: not r.url.startswith(("file://", "data:", "blob:", "about:"))
            and page.problems.append(f"network request {r.url}"))
    page.goto(deck.as_uri(), wait_until="load")
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)


def test_every_deck_is_offline_and_complete(page, decks):
    for deck in decks:
        page.problems.clear()
        _open(page, deck)
        n_slides = page.evaluate("Reveal.getTotalSlides()")
        assert n_slides >= 3, f"{deck.name}: only {n_slides} slides"
        blank = page.evaluate("""() => Reveal.getSlides().map((s, i) => [i,
            s.innerText.trim().length > 0 || s.querySelector('img, svg, canvas, .widget-area,'
            + ' .jupyter-widgets, .plotly-graph-div') !== null])
            .filter(x => !x[1]).map(x => x[0])""")
        assert not blank, f"{deck.name}: blank slides {blank}"
        page.wait_for_timeout(500)
        figures = page.evaluate("""() => [...document.querySelectorAll('.plotly-graph-div')]
            .map(d => d.querySelector('svg.main-svg') !== null)""")
        assert all(figures), f"{deck.name}: {figures.count(False)} plotly figures not drawn"
        assert not page.problems, f"{deck.name}: {page.problems[:5]}"


def _try_slider(page, index):
    """Drag the slider of the index-th figure that has one; True when the plot changed."""
    info = page.evaluate("""(n) => {
        const gds = [...document.querySelectorAll('.plotly-graph-div')]
            .filter(g => g.layout && g.layout.sliders && g.layout.sliders.length);
        if (n >= gds.length) return null;
        const gd = gds[n];
        const idx = Reveal.getIndices(gd.closest('section'));
        Reveal.slide(idx.h, idx.v);
        gd.id = gd.id || ('slider-fig-' + n);
        return {id: gd.id, before: JSON.stringify(gd.data.map(t => t.visible))};
    }""", index)
    if info is None:
        return None
    page.wait_for_timeout(800)
    rail = page.locator(f"[id=\"{info['id']}\"]").locator("rect.slider-rail-touch-rect").first
    rail.evaluate("r => r.scrollIntoView({block: 'center'})")  # long slides scroll
    page.wait_for_timeout(300)
    box = rail.bounding_box()
    if box is None:
        return False
    page.mouse.click(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2)
    page.wait_for_timeout(800)
    after = page.evaluate(f"""() => {{
        const gd = document.getElementById({json.dumps(info['id'])});
        return [JSON.stringify(gd.data.map(t => t.visible)),
                gd._fullLayout.sliders[0].active]; }}""")
    return after[1] != 0 and after[0] != info["before"]


def test_plotly_slider_changes_the_plot(page, decks):
    """Moving a plotly slider in a deck changes the plot (tried on the decks' slider figures)."""
    tried = 0
    for deck in decks:
        text = deck.read_text(encoding="utf-8")
        if "plotly-graph-div" not in text or '"sliders"' not in text:
            continue
        _open(page, deck)
        for index in range(3):
            moved = _try_slider(page, index)
            if moved is None:
                break
            tried += 1
            if moved:
                page.screenshot(path=str(SHOTS / f"{deck.stem}-slider.png"))
                return
    assert tried, "no deck has a plotly figure with a slider"
    pytest.fail(f"none of {tried} plotly sliders changed its plot when dragged")
