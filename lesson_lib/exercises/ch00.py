"""Chapter 00 warm-up: softmax, the function every attention layer ends with."""
import torch

from ._core import checker, compare, failed, passed


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
    if not torch.isfinite(out).all():
        return failed("softmax([1000, 1001, 1002]) overflowed to NaN/inf: subtract the row "
                      "maximum before exp(); softmax(x) == softmax(x - max(x))")
    return passed("rows sum to 1 and large inputs stay finite.")
