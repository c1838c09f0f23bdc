"""The PDF handouts print whole: no line of code or output is cut at the right margin.

``make pdf`` prints each chapter's HTML handout with Chromium. A line too long
for the page used to be clipped: by its cell's box, or by the page itself.
Two checks on chapter 03 (its ``sinusoidal_v1`` comments and wavelength table
were the clipped lines):

* every page, rendered to an image, has no ink in a thin band at the right
  edge of the printable area: Chromium clips whatever runs off the page exactly
  there, so ink in that band is a line that ran off;
* every line of code and of printed output is found whole in the PDF's text
  (whitespace aside, since wrapped lines break anywhere); a line clipped by its
  cell's box loses its end;
* in the handout laid out for print at the PDF's width, no code or output box
  (a figure included) is wider than the room it has, where it would be cut.
"""
import json
import os
import re

import numpy as np
import pypdfium2
import pytest
from conftest import ROOT, SHOTS

PDF_DIR = ROOT / "build" / "pdf"
CHAPTER = os.environ.get("PRINT_CHAPTER", "03")  # the chapter whose handout is printed
BAND_PT = 2.0  # width of the band at the right edge of the printable area, in points
INK = 110  # a grey level darker than this is ink (text, lines), not a light background


@pytest.fixture(scope="module")
def handout(browser):
    import export

    export.export_pdf([CHAPTER], browser=browser)
    found = sorted(PDF_DIR.glob(f"{CHAPTER}_*.pdf"))
    assert found, f"make pdf wrote no handout for chapter {CHAPTER}"
    return found[0]


def _pages(path):
    return pypdfium2.PdfDocument(str(path))


def test_nothing_runs_off_the_page(handout):
    pdf = _pages(handout)
    scale = 2.0  # pixels per point
    margin_px = int(round(_margin_pt() * scale))
    band = int(round(BAND_PT * scale))
    assert len(pdf) >= 3, f"{handout.name}: only {len(pdf)} pages"
    for i in range(len(pdf)):
        image = pdf[i].render(scale=scale).to_pil().convert("L")
        grey = np.asarray(image)  # (height, width)
        edge = grey.shape[1] - margin_px  # first column of the right margin
        strip = grey[:, edge - band:edge]
        if i == 1:
            SHOTS.mkdir(parents=True, exist_ok=True)
            image.save(SHOTS / f"print_{handout.stem}_page{i + 1}.png")
        rows = np.where((strip < INK).any(axis=1))[0]
        assert rows.size == 0, (f"{handout.name} page {i + 1}: ink at the right edge of the "
                                f"printable area, rows {rows.min()}..{rows.max()} of "
                                f"{grey.shape[0]}: a line ran off the page")
        assert (grey[:, edge:] >= INK).all(), f"{handout.name} page {i + 1}: ink in the margin"


def _margin_pt() -> float:
    import export

    return export.PDF_MARGIN_MM / 25.4 * 72


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_code_and_output_line_prints_whole(handout):
    pdf = _pages(handout)
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    # The prompts ("In [3]:") sit in the left column; text extraction may slot them into a
    # wrapped line of the cell beside them.
    printed = _squeeze(re.sub(r"(In|Out)\s*\[\d*\]:", "", text))
    nb = json.loads((ROOT / "build" / "executed" / f"{handout.stem}.ipynb").read_text())
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or cell["metadata"].get("jupyter", {}).get("source_hidden"):
            continue
        lines += "".join(cell["source"]).splitlines()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                lines += "".join(out["text"]).splitlines()
    lines = [ln for ln in lines if len(ln.strip()) >= 20]
    assert len(lines) > 50, f"only {len(lines)} lines to look for"
    missing = [ln for ln in lines if _squeeze(ln) not in printed]
    assert not missing, (f"{handout.name}: {len(missing)} of {len(lines)} lines are not printed "
                         f"whole, e.g. {missing[:3]}")


def test_no_box_is_wider_than_the_page(handout, page):
    """The HTML handout, laid out for print as make pdf does: nothing overflows its cell."""
    import export

    page.set_viewport_size({"width": 794, "height": 1123})
    page.emulate_media(media="print")
    page.goto((ROOT / "build" / "html" / f"{handout.stem}.html").as_uri(), wait_until="load")
    page.wait_for_timeout(1500)
    page.evaluate(export.FIT_PLOTLY)
    page.wait_for_timeout(500)
    wide = page.evaluate("""() => [...document.querySelectorAll(
            '.jp-OutputArea-output, .jp-InputArea-editor, .jp-MarkdownOutput')]
        .filter(el => el.scrollWidth > el.clientWidth + 2)
        .map(el => `${el.scrollWidth} > ${el.clientWidth}: `
                   + (el.innerText || el.className).slice(0, 60))""")
    assert not wide, f"{handout.stem}: boxes wider than the page: {wide[:5]}"
