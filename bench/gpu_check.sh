#!/usr/bin/env bash
# GPU check: the training CLI data-parallel over every GPU of this machine, in bfloat16, with
# GPT-2 small's shape (12 layers, width 768, 1024 positions, vocabulary padded to 50,304).
# Prints tokens per second over all GPUs, per GPU, and MFU (model FLOPs utilisation: achieved
# FLOP/s over the GPU's dense bfloat16 peak). It needs CUDA GPUs and is not part of make test
# or make bench.
#
#   bench/gpu_check.sh [TEXT_FILE] [ITERS]
#
# TEXT_FILE defaults to the shipped corpus, tokenized per character (fast, offline); the
# model's vocabulary is padded to GPT-2's 50,304 so that every step costs what a GPT-2 step
# costs. The first steps include compilation (--compile); the tokens/s printed is the
# CLI's, over the whole run, so run enough ITERS (default 60) for them to be small.
# PEAK_TFLOPS=... overrides the peak looked up from the GPU's name.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=${1:-assets/corpus/shakespeare.txt}
ITERS=${2:-60}
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$NGPU" -lt 1 ]; then
    echo "gpu_check: no CUDA GPU is visible to PyTorch; nothing to check" >&2
    exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m lesson_lib.train.shards "$DATA" --out "$WORK/shards" --tokenizer char

ACCUM=4                          # micro-batch of 12 sequences per GPU, as nanoGPT
BATCH=$((12 * NGPU * ACCUM))
echo "== $NGPU GPU(s), global batch $BATCH x 1024 tokens, bfloat16, torch.compile"
"$PY" -m torch.distributed.run --standalone --nproc_per_node="$NGPU" -m lesson_lib.train \
    --data "$WORK/shards" --out "$WORK/run" --preset gpt2-small --pad-vocab 50304 \
    --batch-size "$BATCH" --grad-accum "$ACCUM" --max-iters "$ITERS" --warmup-iters 10 \
    --eval-interval "$ITERS" --eval-iters 1 --dtype bfloat16 --device cuda --compile \
    --no-progress

"$PY" - "$WORK/run/history.json" "$NGPU" <<'EOF'
import json
import os
import sys

import torch

history, n_gpu = json.load(open(sys.argv[1])), int(sys.argv[2])
name = torch.cuda.get_device_name(0)
# dense bfloat16 peaks in TFLOP/s (vendor data sheets, SXM parts where there are two)
peaks = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "L4": 121, "A10": 125,
         "4090": 165, "3090": 71}
peak = float(os.environ.get("PEAK_TFLOPS") or next(
    (v for k, v in peaks.items() if k in name), "nan"))
tps = history["tokens_per_s"]
mfu = tps * history["flops_per_token"] / (n_gpu * peak * 1e12)
print(f"GPU {name} x {n_gpu}: {tps:,.0f} tokens/s in all, {tps / n_gpu:,.0f} per GPU, "
      f"{history['flops_per_token'] / 1e9:.2f} GFLOP a token")
print(f"MFU {100 * mfu:.1f}% of {peak:g} TFLOP/s bfloat16 per GPU"
      + ("" if peak == peak else " (unknown GPU: set PEAK_TFLOPS)"))
print(f"world_size={history['world_size']} dtype={history['dtype']} "
      f"val_loss={history['val_loss'][-1]:.4f}")
EOF
