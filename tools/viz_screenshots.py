"""Screenshots of the visualizer's plotly views at 1280 x 720, for the docs and the README.

    .venv/bin/python tools/viz_screenshots.py [--out docs/screenshots] [--steps 300]

Each view is written to a self-contained HTML file (plotly.js inline, no
network) and opened in Debian's Chromium through playwright at a 1280 x 720
viewport. The views:

* ``presentation.png``: ``viz.presentation_attention`` on the shipped
  ``shakespeare-char`` model, words instead of characters;
* ``model-view.png``: ``viz.model_view``, every head of that model;
* ``head-view.png``, ``loss-strip.png``, ``logit-lens.png``: the other views;
* ``attention-over-training-start.png`` and ``-end.png``: a small model
  trained here for 120 steps (seconds) with ``viz.AttentionRecorder``, the
  scrubber at its first step and after a click at the end of its slider.

Playwright's own browser download is never used (``/usr/bin/chromium``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lesson_lib import pretrained, viz  # noqa: E402
from lesson_lib.gpt import GPT, GPTConfig, sharpen_attention_init  # noqa: E402
from lesson_lib.lens import layer_logits, token_losses  # noqa: E402
from lesson_lib.train import TrainConfig, train  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks? It is the east."


def shakespeare_figures() -> dict:
    model, tok = pretrained.load("shakespeare-char")
    ids = torch.tensor([tok.encode(TEXT)])
    with torch.no_grad():
        attn = model(ids, return_attn=True)[2][:, 0]  # (L, H, T, T)
    chars = list(TEXT)
    return {
        "presentation": viz.presentation_attention(  # a previous-word head
            attn, TEXT, layer=1, head=3, query=viz.word_groups(chars)[1].index("window"),
            title="Attention between words (shakespeare-char)"),
        "model-view": viz.model_view(attn, chars),
        "head-view": viz.head_view(attn[:, :, :32, :32], chars[:32], layer=1),
        "loss-strip": viz.loss_strip(token_losses(model, ids)[0], chars),
        "logit-lens": viz.logit_lens(layer_logits(model, ids)[:, 0, :32], chars[:32], tok,
                                     ids=ids[0, :32]),
    }


def training_figure(steps: int):
    """A 2-layer GPT learns to continue a repeated random sequence; attention recorded.

    Each training text is 12 random letters written twice. Once a head learns
    to look 11 positions back, at the letter after the earlier copy of the
    current one, the second half is predicted perfectly: the scrubber shows
    that head's stripe appear, between steps 20 and 70 or so.
    """
    vocab, half = 24, 12
    letters = [chr(ord("a") + i) for i in range(vocab)]

    def batch(g, size=32):
        x = torch.randint(0, vocab, (size, half), generator=g)
        seq = torch.cat([x, x], 1)  # (B, 2 * half)
        return seq[:, :-1], seq[:, 1:]

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab, 2 * half, n_layer=2, n_head=4, n_embd=64))
    sharpen_attention_init(model, 0.3)
    probe = torch.cat([torch.randint(0, vocab, (half,), generator=torch.Generator().manual_seed(5))]
                      * 2)[:-1]
    recorder = viz.AttentionRecorder(probe, every=5)
    train(model, batch, None, TrainConfig(max_iters=steps, lr=3e-3, warmup_iters=20,
                                          eval_interval=steps, eval_iters=2),
          callbacks=[recorder])
    return viz.attention_over_training(
        recorder.maps, recorder.steps, [letters[i] for i in probe.tolist()], layer=0,
        title="A copying head forms (layer 0)")


def shoot(figures: dict, out: Path, scrub_to_end=("attention-over-training",)) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        for name, fig in figures.items():
            html = Path(tmp) / f"{name}.html"
            fig.write_html(html, include_plotlyjs=True, full_html=True)
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.wait_for_timeout(400)
            if name in scrub_to_end:
                page.screenshot(path=str(out / f"{name}-start.png"))
                written.append(out / f"{name}-start.png")
                rail = page.locator(".slider-rail-rect").first.bounding_box()
                page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
                page.mouse.move(2, 718)  # away from the plot: no mode bar in the picture
                page.wait_for_timeout(400)
                page.screenshot(path=str(out / f"{name}-end.png"))
                written.append(out / f"{name}-end.png")
            else:
                page.screenshot(path=str(out / f"{name}.png"))
                written.append(out / f"{name}.png")
        browser.close()
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--steps", type=int, default=120, help="training steps of the scrubber")
    parser.add_argument("--only", choices=["shakespeare", "training"], default=None)
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    if args.only in (None, "shakespeare"):
        figures.update(shakespeare_figures())
    if args.only in (None, "training"):
        figures["attention-over-training"] = training_figure(args.steps)
    for path in shoot(figures, out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
