"""Where training runs and in what precision: the one place that picks a device.

Model code never chooses a device or a dtype; it follows its input. This
module holds the choice, made once per run:

* ``pick_device("auto")`` takes CUDA if PyTorch sees a GPU, then Apple's
  MPS, then the CPU. Naming a device that is not there is a clear error,
  not a silent fall-back.
* ``autocast(device, "bfloat16")`` is the context the training loop runs
  its forward passes in. float32 means no autocast at all. Weights and the
  optimizer stay in float32 ("mixed" precision, Micikevicius et al. 2018).
* ``grad_scaler(device, "float16")``: float16 has 5 exponent bits, so small
  gradients underflow to 0; the scaler multiplies the loss before backward
  and divides the gradients after (skipping a step whose gradients
  overflowed). bfloat16 keeps float32's 8 exponent bits and needs none.

Example::

    >>> pick_device("cpu")
    device(type='cpu')
    >>> DTYPES["bfloat16"]
    torch.bfloat16

Left out: several GPUs in one process (use ``torchrun``, one process per
GPU: ``lesson_lib.train.distributed``), TPUs, and float8.
"""
from __future__ import annotations

import contextlib

import torch

from ..checks import check_choice

__all__ = ["DEVICES", "DTYPES", "pick_device", "available", "autocast", "grad_scaler", "describe",
           "check_device_name", "check_dtype_name"]

DEVICES = ("auto", "cpu", "cuda", "mps")  # what --device accepts ("cuda:1" also works)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available() -> list:
    """The device kinds this machine can train on, best first, e.g. ``['cpu']``."""
    return ([*(["cuda"] if torch.cuda.is_available() else []),
             *(["mps"] if _mps_available() else []), "cpu"])


def check_device_name(name) -> str:
    """``name`` if it is one of ``DEVICES`` or ``cuda:N``; else a ValueError naming it."""
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"device must be a str such as 'auto' or 'cuda', got "
                        f"{type(name).__name__} {name!r}")
    kind, _, index = name.partition(":")
    if name in DEVICES or (kind == "cuda" and index.isdigit()):
        return name
    raise ValueError(f"device {name!r} is not one of {', '.join(DEVICES)} (or cuda:N)")


def pick_device(name: str = "auto") -> torch.device:
    """The device to train on: ``auto`` is cuda, then mps, then cpu.

    A device that this machine lacks raises a ValueError saying which ones
    it has, e.g. ``device 'cuda' is not available here; available: cpu``.
    """
    name = check_device_name(name)
    if name == "auto":
        return torch.device(available()[0])
    kind = name.partition(":")[0]
    if kind not in available():
        why = ("this PyTorch was built without CUDA" if kind == "cuda" and not
               torch.backends.cuda.is_built() else "no such device was found")
        raise ValueError(f"device {name!r} is not available here ({why}); available: "
                         f"{', '.join(available())}")
    if kind == "cuda" and ":" in name and int(name.partition(":")[2]) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def check_dtype_name(name) -> str:
    """``name`` if it is a key of ``DTYPES``; else a ValueError naming it."""
    return check_choice("dtype", name, DTYPES)


def autocast(device: torch.device, dtype: str):
    """The context for forward passes: autocast to ``dtype``, or nothing for float32."""
    check_dtype_name(dtype)
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=DTYPES[dtype])


def grad_scaler(device: torch.device, dtype: str) -> torch.amp.GradScaler:
    """A gradient scaler, switched on for float16 only (a no-op otherwise)."""
    check_dtype_name(dtype)
    return torch.amp.GradScaler(torch.device(device).type, enabled=dtype == "float16")


def describe(device: torch.device) -> str:
    """One line for the log, e.g. ``cpu (2 threads)`` or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n > 1 else ''})"
    return str(device)
