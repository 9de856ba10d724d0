"""The contract every surrogate model kind must meet (Optuna's BasicSamplerTestCase pattern).

Kinds: an MLP ensemble on scalar QoIs, POD + ensemble on sensors (mixed units), POD + ensemble on
a scalar field and on a vector field. Data: the analytic fin plate (3 inputs, one log-scale),
64 training and 64 held-out samples.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from surrogate_kinds import CONTRACT_CONFIG, config, only

from twinkit.surrogates import SurrogateRangeWarning, TrainConfig, fit_surrogate, load_surrogate
from twinkit.surrogates.baselines import RBFBaseline
from twinkit.surrogates.evaluate import evaluate

KINDS = ["scalar_mlp", "pod_sensors", "pod_field", "pod_vector_field", "kriging"]

# Accuracy bars on held-out data, 64 training samples of a smooth 3-input function. The issue asks
# R² > 0.99 of the furnace QoIs and a 1 % field error with 256 samples; Adam + L-BFGS reach
# R² ≈ 0.9999 and 0.1 % here, so the bars sit well below what a correct fit does (R² > 0.999,
# 0.5 %) and far above what a broken one does (a fit without L-BFGS gives ~0.3 %, RBF 0.7 %). The
# vector field (∇T, up to ~40x larger at high h) gets 1 %. Every kind must also be no worse than
# the RBF baseline by more than 10 % (the bar).
R2_MIN = 0.999
FIELD_REL_L2 = {"temperature": 0.005, "gradient": 0.01}


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


def _test_x(fin_split) -> np.ndarray:
    return fin_split[1].x


def test_names_and_shapes(kind, trained, fin_split):
    s = trained(kind)
    test = only(fin_split[1], kind)
    assert s.inputs == ["power", "h", "t_amb"]
    assert s.bounds == {"power": (1e3, 5e3), "h": (10.0, 100.0), "t_amb": (273.15, 323.15)}
    assert s.outputs == test.outputs
    assert s.fields == list(test.fields)
    p = s.predict(test.x[:7])
    assert set(p.mean) == set(p.std) == set(s.outputs) | set(s.fields)
    for name in s.outputs:
        assert p.mean[name].shape == p.std[name].shape == (7,)
    for name in s.fields:
        assert p.mean[name].shape == p.std[name].shape == (7, *test.fields[name].shape[1:])
    for v in p.std.values():
        assert np.all(np.isfinite(v)) and np.all(v >= 0)
    # a dict of scalars is one point; a dict of arrays broadcasts
    one = s.predict({"power": 2e3, "h": 30.0, "t_amb": 300.0})
    assert all(v.shape[0] == 1 for v in one.mean.values())
    many = s.predict({"power": test.x[:7, 0], "h": test.x[:7, 1], "t_amb": test.x[:7, 2]})
    for name in p.mean:
        np.testing.assert_array_equal(many.mean[name], p.mean[name])
    mean, std = s.torch_scalar(torch.from_numpy(test.x[:7]))
    assert mean.shape == std.shape == (7, len(s.outputs))
    # predict runs the networks in float32 (EnsembleMLP.predict), torch_scalar in float64
    for j, name in enumerate(s.outputs):
        np.testing.assert_allclose(mean[:, j].detach().numpy(), p.mean[name], rtol=1e-6)
        np.testing.assert_allclose(std[:, j].detach().numpy(), p.std[name], rtol=1e-3)


def test_bad_inputs_name_the_problem(trained):
    s = trained("scalar_mlp")
    with pytest.raises(ValueError, match=r"missing \['t_amb'\], unknown \['T_amb'\]"):
        s.predict({"power": 2e3, "h": 30.0, "T_amb": 300.0})
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        s.predict(np.ones((4, 2)))


def test_save_load_same_predictions(kind, trained, fin_split, tmp_path):
    s = trained(kind)
    path = s.save(tmp_path / "model.pt")
    raw = torch.load(path, weights_only=True)  # only tensors and plain containers inside
    assert raw["format"] == "twinkit-surrogate" and raw["inputs"] == s.inputs
    assert raw["meta"]["seed"] == CONTRACT_CONFIG.train.seed
    assert "torch" in raw["meta"]["versions"]
    loaded = load_surrogate(path)
    assert (loaded.inputs, loaded.outputs, loaded.fields) == (s.inputs, s.outputs, s.fields)
    assert loaded.bounds == s.bounds and loaded.units == s.units
    x = _test_x(fin_split)
    a, b = s.predict(x), loaded.predict(x)
    for name in a.mean:
        np.testing.assert_array_equal(a.mean[name], b.mean[name])
        np.testing.assert_array_equal(a.std[name], b.std[name])


def test_same_seed_same_model(kind, fin_split):
    data = only(fin_split[0], kind)
    quick = replace(config(kind), train=TrainConfig(members=2, epochs=40, seed=11))
    x = _test_x(fin_split)
    s1, s2 = (fit_surrogate(data, quick) for _ in range(2))
    p1, p2 = s1.predict(x), s2.predict(x)
    other = replace(quick, train=replace(quick.train, seed=12))
    p3 = fit_surrogate(data, other).predict(x)
    kriged = {h.names[j] for h in s1.scalar_heads if h.kriging for j in h.kriged_columns()[0]}
    assert (kind == "kriging") == bool(kriged)
    # a field's POD codes are GPs by default ("auto"), fitted deterministically too
    fitted = kriged | {h.names[0] for h in s1.field_heads.values() if h.kriging is not None}
    assert bool(s1.field_heads) == bool(fitted - kriged)
    for name in p1.mean:
        np.testing.assert_array_equal(p1.mean[name], p2.mean[name])
        np.testing.assert_array_equal(p1.std[name], p2.std[name])
        if name not in fitted:  # maximum likelihood does not draw at random
            assert not np.allclose(p1.mean[name], p3.mean[name], rtol=1e-6, atol=0)


def test_a_fit_restores_the_callers_deterministic_setting(fin_split):
    data = only(fin_split[0], "scalar_mlp")
    quick = replace(config("scalar_mlp"), train=TrainConfig(members=2, epochs=5, seed=11))
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())  # fmt: skip
    try:
        for mode, warn_only in ((False, False), (True, True), (True, False)):
            torch.use_deterministic_algorithms(mode, warn_only=warn_only)
            fit_surrogate(data, quick)
            assert torch.are_deterministic_algorithms_enabled() is mode
            assert torch.is_deterministic_algorithms_warn_only_enabled() is warn_only
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_outside_range_warns_or_raises(kind, trained):
    s = trained(kind)
    inside = {"power": 2e3, "h": 10.0, "t_amb": 323.15}  # on the bounds is inside
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.predict(inside, strict=True)
    outside = inside | {"h": 5.0}
    with pytest.warns(SurrogateRangeWarning, match=r"h in \[10, 100\]"):
        p = s.predict(outside)
    assert all(np.all(np.isfinite(v)) for v in p.mean.values())
    with pytest.raises(ValueError, match=r"outside the surrogate's validity range: h"):
        s.predict(outside, strict=True)


def test_accuracy_beats_bars_and_rbf(kind, trained, fin_split):
    train, test = (only(d, kind) for d in fin_split)
    m = evaluate(trained(kind).predict(test.x), test, train)
    rbf = evaluate(RBFBaseline(train).predict(test.x), test, train)
    for name, v in m["outputs"].items():
        assert v["r2"] > R2_MIN, (name, v)
    for name, v in m["fields"].items():
        assert v["rel_l2"] < FIELD_REL_L2[name], (name, v)
    ours = [v["rel_rmse"] for v in m["outputs"].values()] + [
        v["rel_l2"] for v in m["fields"].values()
    ]
    theirs = [v["rel_rmse"] for v in rbf["outputs"].values()] + [
        v["rel_l2"] for v in rbf["fields"].values()
    ]
    assert np.mean(ours) <= 1.1 * np.mean(theirs), (ours, theirs)


def test_uncertainty_roughly_calibrated(kind, trained, fin_split):
    """About 95 % of held-out truths inside ± 2 std, and the std not inflated to get there."""
    train, test = (only(d, kind) for d in fin_split)
    m = evaluate(trained(kind).predict(test.x), test, train)
    scores = list(m["outputs"].values()) + list(m["fields"].values())
    cover = np.mean([v["coverage"] for v in scores])
    assert 0.85 <= cover <= 1.0, cover
    p = trained(kind).predict(test.x)
    truth = {n: np.hstack([test.qoi, test.sensors])[:, j] for j, n in enumerate(test.outputs)}
    truth |= test.fields
    for name, y in truth.items():
        rmse = np.sqrt(np.mean((p.mean[name] - y) ** 2))
        assert np.sqrt(np.mean(p.std[name] ** 2)) < 3 * rmse, name


@pytest.mark.parametrize("model", ["pod_sensors", "kriging"])
def test_torch_scalar_is_differentiable(model, trained, fin_split):
    s = trained(model)
    x = torch.from_numpy(fin_split[1].x[:3]).requires_grad_(True)
    mean, std = s.torch_scalar(x)
    (mean.sum() + std.sum()).backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))
    # the mean's gradient is its derivative: central differences (h = 1e-3 of the range: below,
    # the GPs' round-off, ~1e-8 of the values for these ill-conditioned kernels, swamps them)
    x2 = x.detach().clone().requires_grad_(True)
    s.torch_scalar(x2)[0].sum().backward()
    h = 1e-3 * (s.scaler.upper - s.scaler.lower)
    with torch.no_grad():
        for i in range(len(h)):
            step = torch.zeros_like(x)
            step[:, i] = float(h[i])
            sums = [s.torch_scalar(x + sign * step)[0].sum() for sign in (1, -1)]
            fd = float(sums[0] - sums[1]) / (2 * h[i])
            np.testing.assert_allclose(float(x2.grad[:, i].sum()), fd, rtol=1e-3)
    # d(T_tip)/d(t_amb) ≈ 1 for the fin (T = t_amb + ...): the surrogate learnt the physics
    x1 = x.detach().clone().requires_grad_(True)
    m1, _ = s.torch_scalar(x1)
    m1[:, s.outputs.index("sensor_T_tip")].sum().backward()
    np.testing.assert_allclose(x1.grad[:, 2].numpy(), 1.0, atol=0.15)
