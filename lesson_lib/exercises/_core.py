"""The shared machinery of the exercise checkers: verdicts with hints."""
from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass

import torch


@dataclass
class Feedback:
    """A checker's verdict. Truthy when passed; shows itself in a notebook."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✅ Correct" if self.passed else "❌ Not yet"
        return f"{mark}: {self.message}"

    def _repr_markdown_(self) -> str:
        mark = "✅ **Correct**" if self.passed else "❌ **Not yet**"
        return f"{mark}: {self.message}"


def passed(message: str = "well done.") -> Feedback:
    return Feedback(True, message)


def failed(hint: str) -> Feedback:
    return Feedback(False, hint)


def checker(fn):
    """Turn an exception raised by the learner's code into a hint, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Feedback:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the learner's code failed: say where
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            return failed(f"your code raised {type(exc).__name__}: {exc} "
                          f"(line {frame.lineno}: `{(frame.line or '').strip()}`)")

    return wrapper


def compare(got, expected, what: str, atol: float = 1e-5) -> Feedback | None:
    """None when ``got`` matches ``expected``; otherwise a failed Feedback naming the
    difference. Test the result with ``is not None``: a failed Feedback is falsy."""
    if not isinstance(got, torch.Tensor):
        return failed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        return failed(f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if not torch.isfinite(got).all():
        return failed(f"{what} contains NaN or inf")
    err = (got.double() - expected.double()).abs().max().item()
    if err > atol:
        return failed(f"{what} differs from the reference by up to {err:.3g}")
    return None
