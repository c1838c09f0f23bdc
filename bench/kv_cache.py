"""How much does the KV cache save when generating text?

Times ``GPT.generate`` with and without the cache on a model the size of the
shakespeare-char checkpoint and prints the speed-up. Two cases:

* ``fits``: prompt + new tokens stay within ``block_size``, so every step
  after the prompt feeds a single position through the cached layers;
* ``slides``: the text outgrows ``block_size`` part-way, after which both
  paths recompute the cropped window each step (positions are absolute).

Usage: ``python bench/kv_cache.py [--new-tokens 200] [--repeats 3]``.
Prints one line per case and a last line ``speedup=<float>`` for ``fits``.
"""
from __future__ import annotations

import argparse

import torch

from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.timing import interleaved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-layer", type=int, default=6)
    parser.add_argument("--n-head", type=int, default=6)
    parser.add_argument("--n-embd", type=int, default=384)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--vocab-size", type=int, default=65)
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--prompt", type=int, default=16, help="prompt length for 'fits'")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = GPTConfig(args.vocab_size, args.block_size, args.n_layer, args.n_head, args.n_embd)
    model = GPT(config).to(args.device).eval()
    print(f"model: {args.n_layer} layers x {args.n_head} heads x {args.n_embd} wide, "
          f"block_size {args.block_size}, {model.num_params() / 1e6:.2f}M non-embedding "
          f"params, device {args.device}, {torch.get_num_threads()} threads")

    cases = {
        "fits": min(args.prompt, args.block_size - args.new_tokens),
        "slides": args.block_size - args.new_tokens // 4,
    }
    ratios = {}
    for name, prompt_len in cases.items():
        prompt = torch.randint(0, args.vocab_size, (1, max(prompt_len, 1)), device=args.device)
        out = {}

        def run(cache: bool, prompt=prompt, out=out):
            gen = torch.Generator(device=args.device).manual_seed(0)
            out[cache] = model.generate(prompt, args.new_tokens, temperature=1.0,
                                        use_cache=cache, generator=gen)
            if args.device != "cpu":
                torch.cuda.synchronize()

        run(True)  # warm-up
        times = interleaved(lambda: run(True), lambda: run(False), rounds=args.repeats)  # A B B A
        t_cache, t_plain = min(times["a"]), min(times["b"])
        same = torch.equal(out[True], out[False])
        ratios[name] = t_plain / t_cache
        n = args.new_tokens
        print(f"{name:6s} prompt {prompt.shape[1]:4d} + {n} new: "
              f"no cache {t_plain:.3f} s ({n / t_plain:.0f} tok/s), "
              f"cache {t_cache:.3f} s ({n / t_cache:.0f} tok/s), "
              f"speed-up x{ratios[name]:.2f}, same tokens: {same}")
    print(f"speedup={ratios['fits']:.2f}")


if __name__ == "__main__":
    main()
