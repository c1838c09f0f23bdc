"""One data-parallel step written out by hand, in real processes: what DDP does (chapter 13).

``run(world_size=2)`` starts ``world_size`` Python processes on this machine
(``distributed.launch_local``), each a rank of a gloo process group on
127.0.0.1, and returns what each reports. Every rank:

1. builds the same small GPT (same seed, so the same initial weights);
2. draws the same global batch of ``GLOBAL_BATCH`` windows of the course
   corpus and keeps its rows ``r * B/W`` to ``(r + 1) * B/W``;
3. runs forward and backward on its rows: a gradient of its own;
4. all-reduces the gradients (``dist.all_reduce``: every rank receives the
   sum over ranks) and divides by W: the mean, the same on every rank;
5. takes one AdamW step from it: the weights stay identical everywhere.

It then times, for several numbers of rows per rank, forward + backward and
the all-reduce of every gradient, flattened into one buffer as DDP's
buckets do. DDP (``torch.nn.parallel.DistributedDataParallel``) does steps
3-4 for you, and overlaps the all-reduce of early buckets with the rest of
the backward pass; ``lesson_lib.train`` uses it under torchrun.

``setup()`` gives the model and the global batch, so that a notebook can
compute the one-process answer and compare.

Left out: overlap of communication with computation, and gradient
compression; the demo waits for each all-reduce on purpose, to time it.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from ..data import get_batch, load_corpus
from ..gpt import GPT, GPTConfig
from ..timing import best_of
from ..tokenizers import CharTokenizer
from . import distributed
from .loop import TrainConfig, make_optimizer

__all__ = ["GLOBAL_BATCH", "BLOCK", "GRAD_NAME", "ROWS_PER_RANK", "setup", "weights_digest",
           "run"]

GLOBAL_BATCH = 8  # rows of the global batch (B): split over the ranks
BLOCK = 32  # characters per window (T)
GRAD_NAME = "blocks.0.attn.q_proj.weight"  # the gradient each rank reports in full
ROWS_PER_RANK = (2, 8, 32)  # batch sizes whose compute and communication are timed
SEED = 0


def setup():
    """``(model, (x, y), tokenizer)``: the small GPT and the global batch every rank draws."""
    text = load_corpus()[:200_000]
    tok = CharTokenizer.from_text(text)
    ids = torch.tensor(tok.encode(text))  # (N,)
    torch.manual_seed(SEED)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=BLOCK, n_layer=2, n_head=2,
                          n_embd=64))
    batch = get_batch(ids, BLOCK, GLOBAL_BATCH, torch.Generator().manual_seed(SEED))
    return model, batch, tok


def weights_digest(model) -> str:
    """A short fingerprint of every weight's bytes: equal digests mean identical weights."""
    h = hashlib.sha256()
    for t in model.state_dict().values():
        h.update(t.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _all_reduce_mean(grads: list, world_size: int) -> None:
    flat = torch.cat([g.reshape(-1) for g in grads])  # one buffer, as DDP's buckets
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def _rank_main(out_dir: Path) -> None:
    torch.set_num_threads(1)
    here, _, joined = distributed.start(torch.device("cpu"))
    r, W = here.rank, here.world_size
    model, (x, y), tok = setup()
    share = GLOBAL_BATCH // W
    mine = slice(r * share, (r + 1) * share)
    loss = model(x[mine], y[mine])[1]
    loss.backward()
    params = [p for p in model.parameters()]
    grads = [p.grad for p in params]
    named = dict(model.named_parameters())
    before = named[GRAD_NAME].grad.clone()
    norm_before = float(torch.cat([g.reshape(-1) for g in grads]).norm())
    _all_reduce_mean(grads, W)
    after = named[GRAD_NAME].grad.clone()
    norm_after = float(torch.cat([g.reshape(-1) for g in grads]).norm())
    opt = make_optimizer(model, TrainConfig(lr=1e-3))
    opt.step()
    for _ in range(3):  # the first all-reduces also set up the connections: not timed
        _all_reduce_mean([torch.zeros(1000)], W)
    timings = []
    for rows in ROWS_PER_RANK:
        xb, yb = get_batch(torch.randint(tok.vocab_size, (10_000,)), BLOCK, rows,
                           torch.Generator().manual_seed(rows))

        def compute(xb=xb, yb=yb):
            model.zero_grad(set_to_none=True)
            model(xb, yb)[1].backward()

        compute()
        grads = [p.grad for p in params]
        dist.barrier()
        compute_s = best_of(compute, 3)
        dist.barrier()
        reduce_s = best_of(lambda grads=grads: _all_reduce_mean(grads, W), 5)
        timings.append({"rows": rows, "tokens": rows * BLOCK, "compute_s": compute_s,
                        "allreduce_s": reduce_s})
    report = {"rank": r, "world_size": W, "backend": dist.get_backend(),
              "rows": [mine.start, mine.stop], "first_text": tok.decode(x[mine][0].tolist()),
              "loss": float(loss), "grad_before": before.tolist(), "grad_after": after.tolist(),
              "grad_norm_before": norm_before, "grad_norm_after": norm_after,
              "digest": weights_digest(model), "n_params": sum(p.numel() for p in params),
              "timings": timings}
    (out_dir / f"rank{r}.json").write_text(json.dumps(report), encoding="utf-8")
    distributed.stop(joined)


def run(world_size: int = 2, timeout: float = 300.0) -> list:
    """Start the ranks, wait for them, and return their reports, rank 0 first."""
    with tempfile.TemporaryDirectory(prefix="ddp-demo-") as tmp:
        done = distributed.launch_local(["-m", "lesson_lib.train.ddp_demo", tmp], world_size,
                                        timeout, env={"OMP_NUM_THREADS": "1"})
        for r, result in enumerate(done):
            if result.returncode != 0:
                raise RuntimeError(f"rank {r} of the demo failed (exit {result.returncode}):\n"
                                   f"{result.stderr[-2000:]}")
        return [json.loads((Path(tmp) / f"rank{r}.json").read_text(encoding="utf-8"))
                for r in range(world_size)]


if __name__ == "__main__":
    _rank_main(Path(sys.argv[1]))
