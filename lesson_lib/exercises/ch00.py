"""Chapter 00 warm-up: softmax, the function every attention layer ends with.

The checker compares the learner's softmax with ``torch.softmax`` on three
inputs: small random rows, one row of large numbers (where ``exp``
overflows), and a batch whose rows lie far apart (where subtracting one
maximum for the whole tensor underflows the other rows). Clipping the
inputs keeps the output finite but wrong, so values are compared, not only
finiteness.
"""
import torch

from ._core import checker, compare, failed, passed


def _values(t: torch.Tensor) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in t.flatten().tolist()) + ")"


@checker
def check_softmax(fn) -> "Feedback":  # noqa: F821
    """Check ``fn(x)``: softmax over the last axis, stable for large inputs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, generator=g)
    bad = compare(fn(x), torch.softmax(x, -1), "softmax(x)")
    if bad is not None:
        if isinstance(fn(x), torch.Tensor) and fn(x).shape == x.shape:
            if torch.allclose(fn(x).sum(0), torch.ones(5)):
                return failed("your rows do not sum to 1 but your columns do: "
                              "normalise over the last axis (dim=-1)")
        return bad
    big = torch.tensor([[1000.0, 1001.0, 1002.0]])
    out = fn(big)
    if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
        return failed("softmax([1000, 1001, 1002]) overflowed to NaN/inf: exp(1000) is too "
                      "large for a float. Softmax does not change when every entry of a row "
                      "moves by the same amount: which shift keeps every exponent small?")
    bad = compare(out, torch.softmax(big, -1), "softmax([1000, 1001, 1002])")
    if bad is not None:
        if isinstance(out, torch.Tensor) and out.shape == big.shape:
            want = _values(torch.softmax(big, -1))
            return failed(f"softmax([1000, 1001, 1002]) should be {want}, you gave "
                          f"{_values(out)}: finite, but wrong. Clipping or scaling the inputs "
                          "changes the answer; shifting a whole row by one amount does not")
        return bad
    # Rows far apart: one shift for the whole tensor underflows the rows far below it.
    spread = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -998.0], [0.5, 0.0, -0.5]])
    out = fn(spread)
    want = torch.softmax(spread, -1)
    bad = compare(out, want, "softmax of rows far apart")
    if bad is not None:
        if isinstance(out, torch.Tensor) and out.shape == spread.shape and bool(
                torch.allclose(out[0], want[0], atol=1e-5)):
            return failed("the first row, [1000, 1001, 1002], is right but the rows far below "
                          f"it are not (row [-1000, -999, -998] gave {_values(out[1])}): did you "
                          "shift by the maximum of the whole tensor? Each row needs its own shift")
        return bad
    return passed("rows sum to 1, large inputs stay finite, and each row is shifted by its "
                  "own maximum.")
