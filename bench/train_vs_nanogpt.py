"""Is the training CLI as fast as nanoGPT on a CPU, for the same loss? Both, side by side.

Runs nanoGPT's CPU set-up for character-level Shakespeare (its README: 4
layers, 4 heads, width 128, no biases, block 64, batch 12, lr 1e-3 with 100
warm-up steps and cosine decay to 1e-4, AdamW beta2 0.99, weight decay 0.1,
clipping at 1.0, dropout 0, 20 evaluation batches per split every 250 steps)
as two programs, interleaved A B B A (``lesson_lib.timing.interleaved``):

* A: ``python -m lesson_lib.train ...`` (the training CLI, progress bar on);
* B: ``python DIR/train.py config/train_shakespeare_char.py --device=cpu
  --compile=False ...`` from your nanoGPT checkout.

Both read ``tinyshakespeare.txt`` (first 90% of the characters for
training, the last 10% for validation, one id per character of the file, as
nanoGPT's ``prepare.py`` does) and get the same ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS``. The wall time is the whole program: start-up,
tokenization, training, evaluation and checkpoints. nanoGPT also evaluates
at step 0 and takes one step more (its loop runs to ``max_iters``
inclusive). The last lines print each program's wall and CPU times, its
final validation loss (20 batches: about +-0.02 from seed to seed), the
ratio of CPU times (the work done, which the load of other programs on a
shared machine does not change) and, last, ``ratio = ours / nanoGPT`` of the
median wall times.

Our CLI imports ``lesson_lib.train`` before torch and so runs with
``OMP_WAIT_POLICY=PASSIVE`` (see ``lesson_lib/train/__init__.py``);
nanoGPT keeps OpenMP's default unless ``--nanogpt-passive`` gives it the
same setting, which isolates the work per step from the waiting policy.

Usage::

    git clone https://github.com/karpathy/nanoGPT ~/src/nanoGPT
    python bench/train_vs_nanogpt.py --nanogpt ~/src/nanoGPT [--threads 2] [--iters 500]

Without ``--nanogpt`` it prints how to get nanoGPT and exits 0; without the
text file (``--data``) it says so and exits 0. nanoGPT's code is only run,
never copied into this repository.
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lesson_lib.timing import interleaved  # noqa: E402

DATA = ROOT.parent / "shared/data/tinyshakespeare.txt"
NEEDED = ("train.py", "model.py", "configurator.py", "config/train_shakespeare_char.py")
OURS_LAST = re.compile(r"val_loss=(\S+) tokens_per_s=(\S+)")
NANOGPT_EVAL = re.compile(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)")


def prepare_nanogpt_data(text: str, work: Path) -> None:
    """nanoGPT's data/shakespeare_char/prepare.py, done here: train.bin, val.bin, meta.pkl."""
    import numpy as np

    folder = work / "data" / "shakespeare_char"
    folder.mkdir(parents=True)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    n = len(text)
    for name, part in (("train", text[:int(n * 0.9)]), ("val", text[int(n * 0.9):])):
        np.array([stoi[c] for c in part], dtype=np.uint16).tofile(folder / f"{name}.bin")
    meta = {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}
    (folder / "meta.pkl").write_bytes(pickle.dumps(meta))  # nanoGPT's format; we only write it


def commands(args, work: Path) -> tuple:
    ours = [sys.executable, "-m", "lesson_lib.train", "--data", str(args.data),
            "--out", str(work / "ours"), "--tokenizer", "char", "--block-size", "64",
            "--batch-size", "12", "--n-layer", "4", "--n-head", "4", "--n-embd", "128",
            "--no-bias", "--dropout", "0", "--max-iters", str(args.iters), "--lr", "1e-3",
            "--min-lr", "1e-4", "--warmup-iters", "100", "--beta2", "0.99",
            "--weight-decay", "0.1", "--grad-clip", "1.0", "--eval-interval",
            str(args.eval_interval), "--eval-iters", "20", "--seed", str(args.seed),
            "--device", "cpu"]
    nano = [sys.executable, str(args.nanogpt / "train.py"),
            str(args.nanogpt / "config/train_shakespeare_char.py"), "--device=cpu",
            "--compile=False", "--eval_iters=20", "--log_interval=1", "--block_size=64",
            "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128",
            f"--max_iters={args.iters}", f"--lr_decay_iters={args.iters}", "--dropout=0.0",
            f"--eval_interval={args.eval_interval}", f"--out_dir={work / 'nanogpt-out'}"]
    return ours, nano


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd, cwd, env, pattern, what: str, cpu: list) -> float:
    """Run one program to the end; its final validation loss. Appends its CPU seconds to ``cpu``."""
    before = _children_cpu_s()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    cpu.append(_children_cpu_s() - before)
    if result.returncode != 0:
        sys.exit(f"{what} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    found = pattern.findall(result.stdout)
    if not found:
        sys.exit(f"{what} printed no final validation loss:\n{result.stdout[-2000:]}")
    return float(found[-1][-1] if pattern is NANOGPT_EVAL else found[-1][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout (git clone ...)")
    parser.add_argument("--data", type=Path, default=DATA, help="the original tinyshakespeare.txt")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="OMP_NUM_THREADS for both (default: every core, torch's default)")
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=1, help="A B B A rounds")
    parser.add_argument("--seed", type=int, default=1337, help="ours; nanoGPT's is fixed at 1337")
    parser.add_argument("--nanogpt-passive", action="store_true",
                        help="give nanoGPT OMP_WAIT_POLICY=PASSIVE too")
    args = parser.parse_args()
    if args.nanogpt is None:
        print("No nanoGPT checkout given, so there is nothing to compare with. Get one and "
              "pass it:\n    git clone https://github.com/karpathy/nanoGPT ~/src/nanoGPT\n"
              "    python bench/train_vs_nanogpt.py --nanogpt ~/src/nanoGPT")
        return
    missing = [f for f in NEEDED if not (args.nanogpt / f).is_file()]
    if missing:
        sys.exit(f"--nanogpt {args.nanogpt}: not a nanoGPT checkout (missing "
                 f"{', '.join(missing)})")
    if not args.data.exists():
        print(f"skipped: {args.data} not found (the bench needs the original tinyshakespeare.txt)")
        return
    if args.iters % args.eval_interval:
        sys.exit(f"--iters {args.iters} must be a multiple of --eval-interval "
                 f"{args.eval_interval}, so that both programs evaluate at the end")
    with tempfile.TemporaryDirectory(prefix="vs-nanogpt-") as tmp:
        work = Path(tmp)
        prepare_nanogpt_data(args.data.read_text(encoding="utf-8"), work)
        shutil.copy(args.nanogpt / "configurator.py", work)  # train.py reads it from its cwd
        threads = str(args.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        ours_env = {**env, "PYTHONPATH": str(ROOT)}
        nano_env = {**env, "OMP_WAIT_POLICY": "PASSIVE"} if args.nanogpt_passive else env
        ours_cmd, nano_cmd = commands(args, work)
        losses = {"ours": [], "nanoGPT": []}
        cpu = {"ours": [], "nanoGPT": []}
        load_before = os.getloadavg()
        times = interleaved(
            lambda: losses["ours"].append(run(ours_cmd, ROOT, ours_env, OURS_LAST, "our CLI",
                                              cpu["ours"])),
            lambda: losses["nanoGPT"].append(run(nano_cmd, work, nano_env, NANOGPT_EVAL,
                                                 "nanoGPT", cpu["nanoGPT"])),
            rounds=args.rounds)
        load_after = os.getloadavg()
    print(f"threads={args.threads} iters={args.iters} eval_interval={args.eval_interval} "
          f"rounds={args.rounds} seed(ours)={args.seed} OMP_WAIT_POLICY(nanoGPT)="
          f"{nano_env.get('OMP_WAIT_POLICY', 'default')} cpus={os.cpu_count()}")
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}; after: {load_after[0]:.1f} {load_after[1]:.1f} "
          f"{load_after[2]:.1f}")
    for name, key in (("ours", "a"), ("nanoGPT", "b")):
        runs = ", ".join(f"{t:.1f} s" for t in times[key])
        print(f"{name:8s} wall {runs}; median {statistics.median(times[key]):.1f} s; CPU "
              f"{', '.join(f'{c:.1f} s' for c in cpu[name])}; val_loss "
              f"{', '.join(f'{v:.4f}' for v in losses[name])}")
    better = statistics.median(losses["ours"]) <= statistics.median(losses["nanoGPT"]) + 0.02
    print(f"validation loss: ours {statistics.median(losses['ours']):.4f}, nanoGPT "
          f"{statistics.median(losses['nanoGPT']):.4f} -> "
          f"{'equal or better (within 0.02)' if better else 'WORSE'}")
    cpu_ratio = statistics.median(cpu["ours"]) / statistics.median(cpu["nanoGPT"])
    print(f"CPU time ours / nanoGPT = {cpu_ratio:.3f} (the work done; other programs' load "
          "does not count in it, but spinning threads do)")
    print(f"ratio = ours / nanoGPT = {times['ratio']:.3f} (wall time, A B B A, same threads)")


if __name__ == "__main__":
    main()
