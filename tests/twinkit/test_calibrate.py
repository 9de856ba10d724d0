"""Batch calibration: synthetic readings from an FE truth → latent parameters with uncertainty.

The slab's surrogate double (`analytic_surrogate.py`) is exact, so the FE solution at a random
latent point is the truth the calibration must recover from 1 % noisy readings.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE, SlabSurrogate

from twinkit.case import load_case
from twinkit.surrogates.calibrate import Calibration, Observation, Prior
from twinkit.twin.calibrate import Options, run_calibrate

T0 = 1_714_564_800.0


def fe_truth(case_path, values):
    from mpi4py import MPI

    from twinkit.solve.runner import CaseRunner

    loaded = load_case(case_path)
    return CaseRunner(loaded, MPI.COMM_WORLD).solve(loaded.case.parameter_values() | values)


def write_readings(path, sensors, power, seed, noise=0.01, minutes=90, bad=True):
    """One reading per sensor and minute with relative `noise`; the pull-like operating input
    `power` arrives as a stream too. Adds a few bad rows when `bad`."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(minutes):
        t = T0 + 60 * m
        for name, v in sensors.items():
            rows.append([t, name, v * (1 + noise * rng.standard_normal()), "K", "good"])
        rows.append([t, "power", power / 1000 * (1 + 0.001 * rng.standard_normal()), "kW/m^2", ""])
    if bad:
        rows += [[T0 + 30, "T0", "oops", "K", ""], [T0 + 60, "T0", 400, "K", "good"]]
        rows += [[T0 + 90, "T1", 400, "Pa", ""], [T0 + 90, "T9", 400, "K", ""]]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "sensor", "value", "unit", "quality"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """The FE solution at a random latent point (not the nominal one)."""
    d = tmp_path_factory.mktemp("slab")
    case = d / "slab.yaml"
    case.write_text(SLAB_CASE)
    rng = np.random.default_rng(7)
    point = {"power": 1800.0, "k": float(rng.uniform(6, 18)), "h": float(rng.uniform(25, 110))}
    result = fe_truth(case, point)
    assert result.solver.converged
    return case, point, result.sensors


def test_recovers_fe_truth_within_2_std_and_5_percent(truth, tmp_path):
    case, point, sensors = truth
    data = write_readings(tmp_path / "data.csv", sensors, point["power"], seed=1)
    opts = Options(window="1h", mcmc=2000)
    summary, path = run_calibrate(case, data, None, tmp_path / "out", opts, SlabSurrogate())
    est = summary["estimates"]
    for n in ("k", "h"):
        e = est[n]
        assert abs(e["value"] - point[n]) < 2 * e["std"], (n, e, point[n])
        assert abs(e["value"] - point[n]) < 0.05 * point[n]
        assert e["identifiable"] and e["inside_range"]
        lo, hi = e["interval95"]
        assert lo < e["value"] < hi
        mc = summary["calibration"]["mcmc"]
        assert mc["mean"][n] == pytest.approx(e["value"], abs=0.3 * e["std"])
        assert mc["std"][n] == pytest.approx(e["std"], rel=0.2)
    assert summary["calibration"]["seconds"] < 5
    assert summary["inputs"]["power"]["source"] == "measured"
    assert summary["inputs"]["power"]["value"] == pytest.approx(point["power"], rel=1e-3)
    assert set(summary["sensors"]) == set(sensors)
    for n, s in summary["sensors"].items():
        assert s["n"] == 61 and s["noise_source"] == "estimated"  # 1 h window, 1 per minute
        assert s["noise"] == pytest.approx(0.01 * sensors[n], rel=0.3)
        assert abs(s["normalized_residual"]) < 4
    q = summary["data_quality"]["by_reason"]
    assert q == {
        "reordered": 4,
        "bad_value": 1,
        "duplicate": 1,
        "wrong_unit": 1,
        "unknown_sensor": 1,
    }
    assert summary["virtual"]["T_max"]["value"] == pytest.approx(sensors["T0"], rel=0.01)
    T = summary["virtual"]["temperature_min"]
    assert T["value"] == pytest.approx(sensors["T4"], rel=0.01) and T["std"] > 0
    assert sorted(summary["files"]) == ["fields.nc", "fit.png"]
    assert (tmp_path / "out" / "fit.png").stat().st_size > 10_000
    assert json.loads(path.read_text())["estimates"]["k"]["value"] == est["k"]["value"]
    import xarray as xr

    with xr.open_dataset(tmp_path / "out" / "fields.nc") as ds:
        assert ds["temperature_mean"].shape == (9,)
        assert float(ds["temperature_mean"][0]) == pytest.approx(sensors["T0"], rel=0.01)


def test_posterior_narrows_as_sensors_are_added(truth):
    _, point, sensors = truth
    s = SlabSurrogate()
    priors = {"k": Prior.from_range(10, 5, 20), "h": Prior.from_range(50, 20, 120, log=True)}
    stds, ratios = [], []
    for names in (["T0"], ["T0", "T4"], ["T0", "T2", "T4"], list(sensors)):
        obs = {f"sensor_{n}": Observation(sensors[n], 0.01 * sensors[n] / 8) for n in names}
        post = Calibration(s, priors, obs, {"power": point["power"]}).fit(restarts=2)
        stds.append([post.std["k"], post.std["h"]])
        ratios.append(max(post.std_ratio.values()))
    stds = np.array(stds)
    assert np.all(np.diff(stds, axis=0) < 0), stds
    assert ratios[0] > 0.5 > 0.1 > ratios[-1]  # one sensor: k and h are not separable


def test_correlation_and_restarts(truth):
    _, point, sensors = truth
    obs = {f"sensor_{n}": Observation(v, 0.5) for n, v in sensors.items()}
    priors = {"k": Prior.from_range(10, 5, 20), "h": Prior.from_range(50, 20, 120, log=True)}
    post = Calibration(SlabSurrogate(), priors, obs, {"power": point["power"]}).fit(restarts=5)
    assert len(post.restarts) == 5 and post.objective == min(post.restarts)
    assert post.hessian_ok
    assert post.corr.shape == (2, 2) and np.allclose(np.diag(post.corr), 1)
    assert -1 < post.corr[0, 1] < 0  # both lower the temperatures: anti-correlated estimates


def test_cli_calibrate_and_fe_check(truth, tmp_path, cli, monkeypatch):
    case, point, sensors = truth
    data = write_readings(tmp_path / "data.csv", sensors, point["power"], seed=2, bad=False)
    monkeypatch.setattr("twinkit.training.read_surrogate", lambda path: SlabSurrogate())
    r = cli("calibrate", case, "--sensors", data, "--surrogate", case, "--out", tmp_path / "o",
            "--verify", "--window", "30 min")  # fmt: skip
    assert r.returncode == 0, r.output
    assert "calibration" in r.stdout and "accepted" in r.stdout
    assert (
        "FE check at the calibrated point: converged; largest relative surrogate - FE: " in r.stdout
    )
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    checked = summary["verification"]["sensors"]
    assert summary["verification"]["converged"] and set(checked) == set(sensors)
    assert all(v["fe"] == pytest.approx(v["surrogate"], rel=1e-3) for v in checked.values())
    assert all(s["n"] == 31 for s in summary["sensors"].values())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sensors", "missing.csv"], "missing.csv: sensor file not found"),
        (["--sensors", "data.csv", "--window", "1 kg"], "--window 1 kg"),
        (["--sensors", "data.csv", "--missing", "guess"], "--missing guess"),
        (["--sensors", "data.csv", "--surrogate", "nope.pt"], "nope.pt: surrogate file not found"),
    ],
)
def test_cli_errors(truth, tmp_path, cli, monkeypatch, args, message):
    case, point, sensors = truth
    write_readings(tmp_path / "data.csv", sensors, point["power"], seed=3, minutes=2)
    monkeypatch.chdir(tmp_path)
    if "--surrogate" not in args:
        monkeypatch.setattr("twinkit.training.read_surrogate", lambda path: SlabSurrogate())
    r = cli("calibrate", case, *args)
    assert r.returncode == 2 and message in r.stderr, r.output
    assert "Traceback" not in r.output


def test_no_usable_sensor_is_a_clear_error(truth, tmp_path):
    case, point, _ = truth
    data = write_readings(tmp_path / "d.csv", {}, point["power"], seed=4, bad=False)
    with pytest.raises(Exception, match="no readings of a sensor the surrogate predicts"):
        run_calibrate(case, data, None, tmp_path / "o", None, SlabSurrogate())


def test_prior_from_range():
    p = Prior.from_range(50, 20, 120, log=True)
    assert (
        p.log and p.mean == pytest.approx(math.log(50)) and p.std == pytest.approx(math.log(6) / 4)
    )
    assert Prior.from_range(10, 5, 20) == Prior(10, 3.75, False)
