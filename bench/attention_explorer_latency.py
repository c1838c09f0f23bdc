"""How long does the attention explorer take to answer a change?

Times ``AttentionExplorer.update`` headless (the widget messages are built
and serialised as for a live front end; only the socket send is missing)
on the shipped ``shakespeare-char`` GPT, or on a random GPT of the same
size when the checkpoint is not there, with texts of about 60 characters:

* ``text``: a new text each time (a forward pass with the maps, then the redraw);
* ``layer/head``: a new (layer, head) on a cached text (slicing and redraw only);
* ``all heads``: switching the grid of every head of a layer on;
* ``query``: a new query row, as a click or hover does;
* ``forward``: the model's ``forward(idx, return_attn=True)`` alone, for scale.

The goal is a median of at most 50 ms, so typing and clicking feel live.
On a busy machine PyTorch's worker threads wait for each other at every
operation; ``--threads 1`` shows the cost without that wait.

Usage: ``python bench/attention_explorer_latency.py [--repeats 30] [--chars 60] [--threads N]``.
Prints one line per case and a last line ``text_ms=<float> layer_head_ms=<float>``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from lesson_lib import pretrained
from lesson_lib.data import load_corpus
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.tokenizers import CharTokenizer
from lesson_lib.viz import AttentionExplorer

GOAL_MS = 50.0


def load_model():
    if "shakespeare-char" in pretrained.list_checkpoints():
        model, tok = pretrained.load("shakespeare-char")
        return model, tok, "shakespeare-char checkpoint"
    tok = CharTokenizer.from_text(load_corpus())
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=6, n_head=6,
                          n_embd=192))
    return model, tok, "random GPT of the shakespeare-char size (no checkpoint found)"


def median_ms(fn, cases) -> float:
    times = []
    for case in cases:
        start = time.perf_counter()
        fn(case)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="changes timed per case")
    parser.add_argument("--chars", type=int, default=60, help="characters per text (T)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    model, tok, what = load_model()
    c = model.config
    corpus = load_corpus()
    step = len(corpus) // (args.repeats + 2)
    texts = [corpus[k * step:k * step + args.chars] for k in range(args.repeats + 2)]
    print(f"model: {what}; {c.n_layer} layers x {c.n_head} heads x {c.n_embd} wide; "
          f"T = {args.chars} tokens; {torch.get_num_threads()} threads")

    start = time.perf_counter()
    ex = AttentionExplorer(model, tok, texts[0])
    print(f"{'first build':>11}: {(time.perf_counter() - start) * 1000:7.1f} ms "
          "(imports plotly and ipywidgets once)")
    ex.update(text=texts[1], head="all")  # warm-up: every trace drawn once
    ex.update(head=0)

    pairs = [(k % c.n_layer, (k * 5) % c.n_head) for k in range(1, args.repeats + 1)]
    idx = torch.tensor([tok.encode(texts[0])])  # (1, T)
    model.eval()
    results = {}
    with torch.no_grad():
        results["forward"] = median_ms(lambda _: model(idx, return_attn=True), range(args.repeats))
    results["text"] = median_ms(lambda t: ex.update(text=t), texts[2:])
    results["layer/head"] = median_ms(lambda lh: ex.update(layer=lh[0], head=lh[1]), pairs)
    results["all heads"] = median_ms(
        lambda k: ex.update(layer=k % c.n_layer, head="all" if k % 2 else 0), range(args.repeats))
    results["query"] = median_ms(lambda k: ex.update(query=k % args.chars), range(args.repeats))
    for name, ms in results.items():
        verdict = "" if name == "forward" else ("  ok" if ms <= GOAL_MS else "  over the goal")
        print(f"{name:>11}: {ms:7.1f} ms median{verdict}")
    print(f"text_ms={results['text']:.1f} layer_head_ms={results['layer/head']:.1f}")


if __name__ == "__main__":
    main()
