"""Data-parallel training: several processes, one model, one global batch.

``torchrun --nproc_per_node=N -m lesson_lib.train ...`` starts N copies of
the program and tells each its ``RANK`` (0..N-1), the ``WORLD_SIZE`` N and
where to meet (``MASTER_ADDR``, ``MASTER_PORT``). PyTorch's
DistributedDataParallel (DDP; Li et al. 2020, "PyTorch Distributed") then
does the rest. Every step, in every process:

1. draw the **global** batch of B rows, the very batch one process would
   draw (every rank holds the same batch generator, seeded alike);
2. keep this rank's share, rows ``r * B/N`` to ``(r + 1) * B/N``;
3. forward and backward on that share; during backward DDP **all-reduces**
   the gradients, so that every rank ends up with their mean;
4. take the same optimizer step from the same gradients: the weights stay
   identical everywhere, with no weights ever sent.

The mean of N equally sized shard means is the mean of the batch, so N
processes compute the gradient one process computes (up to the order of
float additions). Gradient accumulation is the same idea in time instead of
space: ``grad_accum`` micro-batches, one after the other, gradients summed.

Processes meet through a *backend*: gloo (CPU tensors, any machine) or NCCL
(CUDA GPUs). Example, on one machine::

    torchrun --standalone --nproc_per_node=2 -m lesson_lib.train --data my.txt --out runs/x

Left out: several machines' rendezvous set-up (torchrun's ``--nnodes`` and
``--rdzv-endpoint`` do it unchanged), sharded optimizers (ZeRO/FSDP) and
tensor or pipeline parallelism: every process here holds the whole model.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["World", "world", "start", "stop", "backend_for", "micro_batch_size", "rows",
           "mean_over_ranks", "gather_rng_states", "launch_local"]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0  # 0 .. world_size - 1; rank 0 logs, evaluates and writes files
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine: which GPU to use

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} must be an integer "
                         "(torchrun sets it)") from None


def world() -> World:
    """The current process group's view, or ``World()`` when there is none."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))
    return World()


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA, ``gloo`` for the CPU; a clear error when it is missing."""
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build; "
                           "expected a build with distributed support to run under torchrun")
    if device.type == "cuda":
        if not dist.is_nccl_available():
            raise RuntimeError("the NCCL backend is not available in this PyTorch build, and "
                               "CUDA tensors need it; install a CUDA build with NCCL, or train "
                               "on the CPU with --device cpu (gloo)")
        return "nccl"
    if device.type == "cpu":
        if not dist.is_gloo_available():
            raise RuntimeError("the gloo backend is not available in this PyTorch build; "
                               "expected gloo for --device cpu")
        return "gloo"
    raise ValueError(f"data-parallel training needs --device cpu (gloo) or cuda (NCCL), "
                     f"got {device.type!r}")


def start(device: torch.device, timeout_minutes: float = 30.0):
    """Join the process group that ``torchrun`` describes; ``(World, device, joined_now)``.

    Without torchrun (no ``WORLD_SIZE`` above 1) this is one process and
    nothing happens. Under torchrun with CUDA, rank r on a machine takes
    GPU ``LOCAL_RANK``. ``joined_now`` says whether :func:`stop` should
    leave the group again (False when the caller had already joined one).
    """
    if dist.is_available() and dist.is_initialized():
        return world(), device, False
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return World(), device, False
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    backend = backend_for(device)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local} but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s); expected "
                             "--nproc_per_node <= the number of GPUs")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=size,
                            timeout=timedelta(minutes=timeout_minutes))
    return World(rank, size, local), device, True


def stop(joined_now: bool) -> None:
    """Leave the process group if :func:`start` joined it."""
    if joined_now and dist.is_initialized():
        dist.destroy_process_group()


def micro_batch_size(batch_size: int, world_size: int, grad_accum: int) -> int:
    """Rows per forward pass: ``batch_size / (world_size * grad_accum)``, or a ValueError.

    Example: a global batch of 480 on 8 GPUs with 5 micro-batches each is 12.
    """
    parts = world_size * grad_accum
    if batch_size % parts:
        raise ValueError(f"the global batch of {batch_size} rows does not split into "
                         f"{world_size} process(es) x {grad_accum} micro-batch(es); expected "
                         f"--batch-size to be a multiple of {parts}")
    return batch_size // parts


def rows(batch, start: int, stop: int) -> tuple:
    """Rows ``start:stop`` of every tensor in ``batch`` (a tuple such as ``(x, y)``)."""
    if not isinstance(batch, (tuple, list)):
        raise TypeError(f"a batch must be a tuple of tensors such as (x, y), got "
                        f"{type(batch).__name__}")
    out = []
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor) or t.dim() == 0 or t.shape[0] < stop:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"element {i} of the batch is {shape}; expected a tensor with at "
                             f"least {stop} rows (the batch size) to split across processes")
        out.append(t[start:stop])
    return tuple(out)


def mean_over_ranks(value: Tensor) -> Tensor:
    """The mean of ``value`` over all processes (itself when there is one process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)  # gloo has no AVG
    return value / dist.get_world_size()


def gather_rng_states(device: torch.device) -> list:
    """Every rank's dropout RNG state (the generator of ``device``), indexed by rank."""
    state = torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [state]
    on = device if dist.get_backend() == "nccl" else torch.device("cpu")
    mine = state.to(on)
    states = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(states, mine)
    return [s.cpu() for s in states]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_local(args: list, world_size: int = 2, timeout: float = 300.0,
                 env: dict | None = None, cwd=None) -> list:
    """Run ``python *args`` as ranks 0..world_size-1 on this machine; their outputs.

    What ``torchrun --standalone`` does, in a few lines: each process gets
    ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and a free ``MASTER_PORT`` on
    127.0.0.1, and they meet there. Returns one ``CompletedProcess`` per rank
    (``returncode``, ``stdout``, ``stderr``); a rank that runs past
    ``timeout`` seconds is killed, with the others.
    """
    port = _free_port()
    base = {**os.environ, **(env or {}), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            "WORLD_SIZE": str(world_size), "LOCAL_WORLD_SIZE": str(world_size)}
    cmd = [sys.executable, *map(str, args)]
    procs = [subprocess.Popen(cmd, cwd=cwd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              env={**base, "RANK": str(r), "LOCAL_RANK": str(r)})
             for r in range(world_size)]
    done = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(cmd, p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return done
