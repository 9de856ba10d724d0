"""Outputs that are a field's extreme, predicted as the extreme of the field's prediction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import qmc

from twinkit.surrogates import FitConfig, TrainingData, fit_surrogate, load_surrogate
from twinkit.surrogates.extremes import candidates, near_nodes, pick

NODES = np.linspace(0.0, 1.0, 41)


def _field(x: np.ndarray) -> np.ndarray:
    """(n, 41) values on a line: two bumps whose heights follow the inputs, so the field's
    maximum moves from one to the other across x1 = x2, a kink no smooth model of it holds."""
    bump = lambda c: np.exp(-0.5 * ((NODES - c) / 0.08) ** 2)  # noqa: E731
    a, b, c = x[:, :1], x[:, 1:2], x[:, 2:3]
    return 300.0 + (20 + 50 * a**2) * bump(0.25) + (20 + 50 * np.sin(2 * b)) * bump(0.75) + 5 * c**2


def _data(x: np.ndarray) -> TrainingData:
    f = _field(x)
    names = ["a", "b", "c"]
    return TrainingData(
        inputs=names,
        input_units=dict.fromkeys(names, "1"),
        bounds=dict.fromkeys(names, (0.0, 1.0)),
        log_inputs=dict.fromkeys(names, False),
        x=x,
        qoi_names=["qoi_peak", "qoi_mean"],
        qoi=np.column_stack([f.max(1), f.mean(1)]),
        sensor_names=[],
        sensors=np.zeros((len(x), 0)),
        fields={"temperature": f},
        units={"qoi_peak": "K", "qoi_mean": "K", "temperature": "K"},
    )


@pytest.fixture(scope="module")
def fitted():
    train = _data(qmc.Sobol(3, seed=0).random(32))
    test = _data(qmc.LatinHypercube(3, seed=1).random(64))
    return fit_surrogate(train), train, test


def test_candidates_are_outputs_equal_to_a_fields_extreme():
    x = qmc.Sobol(3, seed=0).random(16)
    d = _data(x)
    y = d.qoi.copy()
    assert candidates(d.qoi_names, y, d.fields) == [(0, "temperature", "max")]
    y[:2, 0] += 1.0  # differs on 2 of 16 samples (the solver's extreme between nodes): still
    assert candidates(d.qoi_names, y, d.fields) == [(0, "temperature", "max")]
    y[:5, 0] += 1.0  # 5 of 16: not the field's extreme
    assert candidates(d.qoi_names, y, d.fields) == []
    vec = {"u": np.stack([d.fields["temperature"], 0 * d.fields["temperature"]], axis=2)}
    assert candidates(["m"], -d.qoi[:, :1], {"t": -d.fields["temperature"]}) == [(0, "t", "min")]
    assert candidates(["m"], d.qoi[:, :1], vec) == [(0, "u", "max")]  # of the magnitude
    # the nodes near the maximum: around both bumps, none at the ends of the line
    nodes = NODES[near_nodes(d.fields["temperature"], d.qoi[:, 0], "max")]
    assert nodes.min() > 0.1 and nodes.max() < 0.9 and ((nodes > 0.4) & (nodes < 0.6)).sum() <= 1


def test_pick_numpy_and_torch_agree_and_take_the_std_at_the_extremes_node():
    v = np.array([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]])
    s = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    for kind, mean, std in (("max", [3.0, 6.0], [0.2, 0.6]), ("min", [1.0, 4.0], [0.1, 0.5])):
        m, sd = pick(v, s, kind)
        mt, st = pick(torch.from_numpy(v), torch.from_numpy(s), kind)
        np.testing.assert_allclose(m, mean)
        np.testing.assert_allclose(sd, std)
        np.testing.assert_allclose(mt.numpy(), mean)
        np.testing.assert_allclose(st.numpy(), std)
    m, sd = pick(np.stack([v, 0 * v], 2), np.stack([s, s], 2), "max")  # a vector field
    np.testing.assert_allclose(m, [3.0, 6.0])
    np.testing.assert_allclose(sd, np.sqrt(2) * np.array([0.2, 0.6]))


def test_a_kinked_peak_is_predicted_from_the_field(fitted):
    sur, train, test = fitted
    info = sur.meta["training"]["extremes"]
    assert [(e["output"], e["field"], e["kind"], e["kept"]) for e in info] == [
        ("qoi_peak", "temperature", "max", True)
    ]
    assert info[0]["cv_rmse_extreme"] < info[0]["cv_rmse_own"]
    assert [e.output for e in sur.extremes] == ["qoi_peak"]
    truth = test.qoi[:, 0]
    p = sur.predict(test.x)
    own = replace(sur, extremes=[]).predict(test.x)
    rmse = lambda m: float(np.sqrt(np.mean((m - truth) ** 2)))  # noqa: E731
    # the field's codes are smooth in the inputs, and its maximum holds the kink
    assert rmse(p.mean["qoi_peak"]) < 0.2 * rmse(own.mean["qoi_peak"])
    cover = np.mean(np.abs(p.mean["qoi_peak"] - truth) <= 1.96 * p.std["qoi_peak"])
    assert 0.85 <= cover <= 1.0
    np.testing.assert_array_equal(p.mean["qoi_mean"], own.mean["qoi_mean"])  # the rest as before
    assert sur.outputs == ["qoi_peak", "qoi_mean"]


def test_the_extreme_is_the_same_through_torch_a_file_and_onnx(fitted, tmp_path):
    sur, _, test = fitted
    x = test.x[:20]
    p = sur.predict(x)
    xt = torch.from_numpy(x).requires_grad_(True)
    m, s = sur.torch_scalar(xt)
    np.testing.assert_allclose(m[:, 0].detach().numpy(), p.mean["qoi_peak"], rtol=1e-9)
    np.testing.assert_allclose(s[:, 0].detach().numpy(), p.std["qoi_peak"], rtol=1e-6)
    m[:, 0].sum().backward()  # differentiable: gradients reach the inputs
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0
    loaded = load_surrogate(sur.save(tmp_path / "s.pt"))
    q = loaded.predict(x)
    np.testing.assert_array_equal(q.mean["qoi_peak"], p.mean["qoi_peak"])
    np.testing.assert_array_equal(q.std["qoi_peak"], p.std["qoi_peak"])
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from twinkit.surrogates.export import export_onnx

    mean, _ = ort.InferenceSession(str(export_onnx(sur, tmp_path / "s.onnx"))).run(None, {"x": x})
    np.testing.assert_allclose(mean[:, 0], p.mean["qoi_peak"], rtol=1e-7)


@pytest.mark.parametrize("mixture", [False, True])
def test_the_gps_of_an_output_an_extreme_replaces_are_not_evaluated(fitted, mixture):
    """`Surrogate.predict` skips the GPs of an output that an extreme replaces (a code of that
    output alone: its GP, or both GPs of its mixture): on many points (one GP at a time) the
    others are as before, and every output is as the differentiable formula, which evaluates
    all."""
    _, train, test = fitted
    config = FitConfig(model="gp", scalar_mixture_from=16 if mixture else None)
    sur = fit_surrogate(train, config)
    head = sur.scalar_heads[0]
    k = head.kriging
    assert k is not None and (k.mix is not None) == mixture
    gps = {0, 2} if mixture else {0}  # code 0's GPs: GP i of each kernel's two
    assert [e.output for e in sur.extremes] == ["qoi_peak"] and sur._replaced(head) == gps
    x = np.repeat(test.x, 4, axis=0)  # 256 points
    xs = torch.from_numpy(sur.scaler.transform(x))
    (m, s), (m0, s0) = (k.mean_std(xs, skip) for skip in (frozenset(), gps))
    assert not s0[:, 0].any() and m0[:, 0].unique().numel() == 1  # its mean offset only
    np.testing.assert_array_equal(m0[:, 1:], m[:, 1:])
    np.testing.assert_array_equal(s0[:, 1:], s[:, 1:])
    p = sur.predict(x)
    mt, st = (v.detach().numpy() for v in sur.torch_scalar(torch.from_numpy(x)))
    for j, name in enumerate(sur.outputs):
        np.testing.assert_allclose(p.mean[name], mt[:, j], rtol=1e-9)
        np.testing.assert_allclose(p.std[name], st[:, j], rtol=1e-6)


def test_networks_only_or_extremes_off_fit_none(fitted):
    _, train, _ = fitted
    config = FitConfig(model="mlp")
    config = replace(config, train=replace(config.train, epochs=50, members=4))
    assert fit_surrogate(train, config).extremes == []
    off = fit_surrogate(train, FitConfig(extremes=False))
    assert off.extremes == [] and "extremes" not in off.meta["training"]


def test_a_file_whose_extreme_names_no_output_is_refused(fitted, tmp_path):
    sur, _, _ = fitted
    sur.save(tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    state["extremes"][0]["output"] = "qoi_nothing"
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: a damaged surrogate file.*qoi_nothing"):
        load_surrogate(tmp_path / "bad.pt")
