"""Power-law fits recover known laws; the shipped sweep supports the chapter's claim."""
import math

import numpy as np
import pytest
import torch

from lesson_lib.scaling import (
    PowerLaw,
    compute_flops,
    fit_power_law,
    load_runs,
    train_run,
)


def law(C, a, b, c):
    return a * np.asarray(C, dtype=np.float64) ** (-b) + c


def test_compute_flops_is_six_n_d():
    assert compute_flops(1_000, 2_000) == 12_000_000.0
    assert compute_flops(2.5e5, 1e6) == pytest.approx(1.5e12)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError),
                                        (float("nan"), ValueError), (float("inf"), ValueError),
                                        ("12", TypeError), (True, TypeError)])
def test_compute_flops_rejects_bad_sizes(bad, error):
    with pytest.raises(error, match="n_params"):
        compute_flops(bad, 10)


def test_hand_checkable_example():
    fit = fit_power_law([1, 4, 16, 64], [9, 5, 3, 2])  # a = 8, b = 0.5, c = 1
    assert (fit.a, fit.b, fit.c) == pytest.approx((8.0, 0.5, 1.0), rel=1e-4)


@pytest.mark.parametrize("a,b,c", [(50.0, 0.12, 1.2), (8.0, 0.5, 0.3), (3e3, 0.3, 2.0),
                                   (20.0, 0.08, 0.0)])
def test_recovers_known_law_without_noise(a, b, c):
    C = np.geomspace(1e9, 1e14, 8)
    fit = fit_power_law(C, law(C, a, b, c))
    assert fit.b == pytest.approx(b, rel=1e-3)
    assert fit.c == pytest.approx(c, abs=1e-3 * (1 + c))
    assert fit.a == pytest.approx(a, rel=1e-2)


def test_pure_power_law_matches_numpy_polyfit():
    """With c = 0 the law is a line in log-log space: compare with numpy's least squares."""
    rng = np.random.default_rng(0)
    C = np.geomspace(1e8, 1e12, 9)
    L = 30.0 * C ** -0.1 * (1 + 0.002 * rng.standard_normal(9))
    slope, intercept = np.polyfit(np.log(C), np.log(L), 1)
    fit = fit_power_law(C, L)
    # the free floor can only lower the error; with data this straight it stays near 0
    pred_free = fit.predict(C)
    pred_line = np.exp(intercept + slope * np.log(C))

    def err(p):
        return np.sum((np.log(p) - np.log(L)) ** 2)

    assert err(pred_free) <= err(pred_line) + 1e-12
    assert fit.b == pytest.approx(-slope, rel=0.15)


def test_noisy_fit_extrapolates_within_a_few_percent():
    rng = np.random.default_rng(1)
    C = np.geomspace(1e10, 1e13, 6)
    L = law(C, 40.0, 0.1, 1.0) * (1 + 0.003 * rng.standard_normal(6))
    fit = fit_power_law(C, L)
    far = 1e14  # 10x beyond the largest run
    assert fit.predict(far) == pytest.approx(law(far, 40.0, 0.1, 1.0), rel=0.03)
    assert fit.c >= 0


def test_predict_accepts_numbers_lists_arrays_tensors():
    pl = PowerLaw(a=8.0, b=0.5, c=1.0)
    assert pl.predict(16) == 3.0 and isinstance(pl.predict(16.0), float)
    np.testing.assert_allclose(pl.predict([1, 4]), [9.0, 5.0])
    out = pl(torch.tensor([64.0]))
    assert isinstance(out, torch.Tensor) and out.item() == pytest.approx(2.0)
    assert "C^(-0.5000)" in str(pl)
    assert pl.predict(np.int64(4)) == 5.0 and pl.predict(np.float32(16)) == 3.0
    assert pl.predict(np.array([[1.0, 4.0]])).shape == (1, 2)


def test_fit_accepts_tensors():
    C = torch.logspace(9, 12, 5, dtype=torch.float64)
    fit = fit_power_law(C, torch.as_tensor(law(C.numpy(), 10.0, 0.2, 0.5)))
    assert fit.b == pytest.approx(0.2, rel=1e-3)


@pytest.mark.parametrize("compute,loss,match", [
    ([1, 2, 3], [3, 2], "compute has 3 values but loss has 2"),
    ([1, 2], [3, 2], "at least 3 runs"),
    ([1, -2, 3], [3, 2, 1], r"compute\[1\] = -2"),
    ([1, 2, 3], [3, float("nan"), 1], r"loss\[1\] = nan"),
    ([1, 2, 3], [3, 0, 1], r"loss\[1\] = 0"),
    ([[1, 2, 3]], [[3, 2, 1]], "1-D"),
    ([5, 5, 5], [3, 2, 1], "same compute"),
])
def test_bad_inputs_raise_clear_errors(compute, loss, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(compute, loss)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="compute"):
        fit_power_law(["a", "b", "c"], [3, 2, 1])
    with pytest.raises(ValueError, match="positive and finite"):
        PowerLaw(1.0, 0.5, 0.0).predict(0.0)
    with pytest.raises(TypeError, match="compute"):
        PowerLaw(1.0, 0.5, 0.0).predict("big")
    with pytest.raises(TypeError, match="bool"):
        PowerLaw(1.0, 0.5, 0.0).predict(True)


def test_train_run_reports_six_n_d():
    ids = torch.randint(0, 11, (3000,))
    run = train_run(ids, 11, n_layer=1, n_embd=16, n_head=2, max_iters=3, batch_size=4,
                    block_size=8, n_val_windows=8)
    assert run["tokens"] == 3 * 4 * 8
    assert run["n_params"] == 12 * 16 * 16 + 13 * 16 + 2 * 16  # 1 block: 12 C^2 + 13 C + final LN
    assert run["compute_flops"] == 6 * run["n_params"] * run["tokens"]
    assert 0 < run["val_loss"] < 2 * math.log(11)


def test_shipped_sweep_is_predictable():
    runs = sorted(load_runs(), key=lambda r: r["compute_flops"])
    assert len(runs) >= 5
    C = [r["compute_flops"] for r in runs]
    L = [r["val_loss"] for r in runs]
    assert C[-1] / C[0] >= 30
    for r in runs:
        assert r["compute_flops"] == pytest.approx(6 * r["n_params"] * r["tokens"])
    assert all(x > y for x, y in zip(L, L[1:])), "loss must fall as compute grows"
    fit = fit_power_law(C[:-1], L[:-1])
    assert abs(fit.predict(C[-1]) - L[-1]) / L[-1] <= 0.05


def test_load_runs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="scaling-sweep"):
        load_runs(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"runs": [{"n_params": 1}]}')
    with pytest.raises(ValueError, match="lacks"):
        load_runs(bad)
