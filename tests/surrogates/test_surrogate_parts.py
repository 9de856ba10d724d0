"""Building blocks: scaling, POD, metrics, calibration, data reading, baselines, files, export."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from surrogates import from_dataset, load_surrogate
from surrogates.baselines import GPBaseline, RBFBaseline
from surrogates.fit import calibration_factor
from surrogates.metrics import coverage, field_rel_l2, r2, rel_rmse
from surrogates.normalise import InputScaler
from surrogates.pod import LinearCodec, n_modes
from surrogates.synthetic import fin_dataset, write_netcdf


def test_input_scaler_maps_box_to_unit_cube_log_in_log_space():
    s = InputScaler.from_bounds([(1.0, 3.0), (10.0, 1000.0)], [False, True])
    x = np.array([[1.0, 10.0], [3.0, 1000.0], [2.0, 100.0]])
    np.testing.assert_allclose(s.transform(x), [[-1, -1], [1, 1], [0, 0]], atol=1e-15)
    np.testing.assert_allclose(s.transform_torch(torch.from_numpy(x)).numpy(), s.transform(x))
    assert s.outside(np.array([[0.5, 100.0], [2.0, 100.0]])).tolist() == [
        [True, False],
        [False, False],
    ]
    with pytest.raises(ValueError, match="log-scale input needs a positive lower bound"):
        InputScaler.from_bounds([(0.0, 1.0)], [True])


def test_pod_keeps_the_rank_and_reconstructs_low_rank_data():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 200)) + 5.0  # rank 3 around a mean
    codec = LinearCodec.pod(y, 0.99999, per_column=False)
    assert codec.n_codes == 3 and codec.energy == pytest.approx(1.0)
    np.testing.assert_allclose(codec.decode(codec.encode(y)), y, atol=1e-10)
    z = torch.from_numpy(codec.encode(y))
    np.testing.assert_allclose(codec.decode_torch(z).numpy(), y, atol=1e-10)
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.89) == 1  # 9 / 10.01 ≥ 0.89
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.9) == 2
    assert n_modes(np.array([3.0, 1.0, 0.1]), 0.9995) == 3


def test_metrics_known_values():
    y = np.array([[1.0], [2.0], [3.0]])
    assert r2(y, y)[0] == 1.0 and r2(y, np.full_like(y, 2.0))[0] == 0.0
    assert rel_rmse(y, y + 0.2)[0] == pytest.approx(0.1)  # RMSE 0.2 over range 2
    assert coverage(y, y + 1.0, np.array([[0.4], [0.5], [1.0]]))[0] == pytest.approx(2 / 3)
    u = np.array([[3.0, 4.0]])
    assert field_rel_l2(u, u * 1.01)[0] == pytest.approx(0.01)


def test_calibration_factor_recovers_a_misscaled_spread():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.5, 2.0, size=(20000, 1))
    residual = rng.normal(size=sigma.shape) * sigma
    c = calibration_factor(residual, sigma / 3.0, 0.95, np.array([1e-12]))
    assert c[0] == pytest.approx(3.0 * 1.96 / 2.0, rel=0.03)  # 2 c σ/3 = 1.96 σ


def test_from_dataset_drops_failed_samples_and_reads_netcdf(tmp_path):
    ds = fin_dataset(n_train=16, n_test=8, nx=5, n_failed=3)
    path = tmp_path / "dataset.nc"
    write_netcdf(ds, path)
    import xarray as xr

    with xr.open_dataset(path) as back:
        data = from_dataset(back.load())
    assert data.n == 21 and data.inputs == ["power", "h", "t_amb"]
    assert data.log_inputs == {"power": False, "h": True, "t_amb": False}
    assert data.sensor_names == ["sensor_T_root", "sensor_T_mid", "sensor_T_tip", "sensor_q_tip"]
    assert data.units["sensor_q_tip"] == "W/m^2" and data.units["temperature"] == "K"
    assert data.fields["temperature"].shape == (21, 25) and data.mesh["cells"].shape == (32, 3)


def test_from_dataset_names_a_missing_attribute():
    ds = fin_dataset(n_train=16, n_test=0, nx=4)
    del ds["h"].attrs["upper"]
    with pytest.raises(ValueError, match=r"run\.nc: input 'h' has no attribute 'upper'"):
        from_dataset(ds, "run.nc")


def test_baselines_interpolate_and_gp_gives_std():
    data = from_dataset(fin_dataset(n_train=32, n_test=0, nx=5))
    rbf = RBFBaseline(data, energy=1.0).predict(data.x)  # all modes: exact at the samples
    np.testing.assert_allclose(rbf.mean["qoi_T_max"], data.qoi[:, 0], rtol=1e-8)
    np.testing.assert_allclose(rbf.mean["temperature"], data.fields["temperature"], rtol=1e-6)
    gp = GPBaseline(data, restarts=0).predict(data.x[:4])
    assert gp.std["sensor_T_tip"].shape == (4,) and np.all(gp.std["sensor_T_tip"] >= 0)


def test_load_refuses_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a twinkit surrogate file"):
        load_surrogate(tmp_path / "other.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="not a readable surrogate file"):
        load_surrogate(tmp_path / "evil.pt")


def test_load_names_a_format_version_it_does_not_read(trained, tmp_path):
    trained("pod_sensors").save(tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    for version, message in ((1, r"older twinkit.*twinkit train"), (99, "newer")):
        torch.save(state | {"format_version": version}, tmp_path / f"v{version}.pt")
        with pytest.raises(ValueError, match=message):
            load_surrogate(tmp_path / f"v{version}.pt")


def test_onnx_export_matches_torch(trained, fin_split, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from surrogates.export import export_onnx

    s = trained("pod_sensors")
    path = export_onnx(s, tmp_path / "sensors.onnx")
    x = fin_split[1].x[:50]
    mean, std = ort.InferenceSession(str(path)).run(None, {"x": x})
    with torch.no_grad():
        tm, ts = s.torch_scalar(torch.from_numpy(x))
    np.testing.assert_allclose(mean, tm.numpy(), rtol=1e-5, atol=0)
    np.testing.assert_allclose(std, ts.numpy(), rtol=1e-5, atol=0)


def test_plots_write_pngs(tmp_path):
    from surrogates.plots import learning_curve_plot, parity_plot

    y = np.linspace(0.0, 1.0, 10)
    parity_plot({"a": y}, {"a": y * 1.01}, {"a": y * 0 + 0.01}, {"a": "K"}, tmp_path / "p.png")
    curve = {"sizes": [16, 32], "surrogate": {"e": [0.1, 0.05]}, "rbf": {"e": [0.2, 0.1]}}
    learning_curve_plot(curve, tmp_path / "c.png")
    for name in ("p.png", "c.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
