"""`twinkit run`: the main job end to end on a cheap plate, skipping what is up to date, rerunning
from the stage whose inputs changed, and failing with one clear message."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from twinkit.case import load_case

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("solve", "sample", "train", "calibrate", "optimize", "verify", "report")
H_TRUE = 900.0  # W/(m^2*K): the latent point the sensor readings come from (nominal 750)

# NAFEMS T4 geometry, coarse: a design, an operating and a latent parameter; three sensors
PLATE = """\
name: plate
model: heat_conduction
seed: 3
parameters:
  T_hot: {value: 100 degC, range: [60 degC, 140 degC], role: design}
  k: {value: 52 W/(m*K), range: [40 W/(m*K), 60 W/(m*K)], role: operating}
  h: {value: 750 W/(m^2*K), range: [400 W/(m^2*K), 1200 W/(m^2*K)], role: latent, scale: log}
mesh: {generator: rectangle, length: 0.6 m, height: 1.0 m, cells: [6, 10]}
materials:
  plate: {conductivity: $k}
boundary_conditions:
  - {type: temperature, region: bottom, value: $T_hot}
  - {type: convection, region: right, h: $h, ambient: 0 degC}
  - {type: convection, region: top, h: $h, ambient: 0 degC}
probes:
  T_A: {point: [0.6 m, 0.2 m]}
  T_B: {point: [0.3 m, 0.5 m]}
  T_C: {point: [0.6 m, 0.6 m]}
outputs:
  qoi:
    T_mean: {type: mean_temperature}
sensors:
  T_A: {noise: 0.2 K}
  T_B: {noise: 0.2 K}
  T_C: {noise: 0.2 K}
optimization:
  objectives: [{output: T_mean, direction: maximize}]
  constraints:
    - {output: T_A, max: 12 degC}
run: {samples: 12, test: 4, members: 2, epochs: 200, trials: 15, sensors: plate.csv}
"""


def _fe(case: Path, values: dict[str, float]):
    from mpi4py import MPI

    from twinkit.solve.runner import CaseRunner

    loaded = load_case(case)
    return CaseRunner(loaded, MPI.COMM_SELF).solve(loaded.case.parameter_values() | values)


def _write_readings(case: Path, path: Path) -> None:
    """30 readings per sensor, 10 minutes apart, 0.2 K noise, from FE at h = H_TRUE."""
    sensors = _fe(case, {"h": H_TRUE}).sensors
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "sensor", "value", "unit"])
        for m in range(30):
            for name, v in sensors.items():
                w.writerow([1.7e9 + 600 * m, name, v + 0.2 * rng.standard_normal(), "K"])


@pytest.fixture
def plate(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # runs/plate/ lands in tmp_path
    case = tmp_path / "plate.yaml"
    case.write_text(PLATE)
    _write_readings(case, tmp_path / "plate.csv")
    return case


def _actions(out: Path) -> dict[str, str]:
    return json.loads((out / "run.json").read_text())["last_run"]["actions"]


@pytest.mark.slow
def test_run_end_to_end_then_skips_and_reruns_from_the_changed_stage(
    plate, tmp_path, cli, monkeypatch
):
    out = tmp_path / "runs" / "plate"
    r = cli("run", plate)
    assert r.returncode == 0, r.output
    assert _actions(out) == dict.fromkeys(STAGES, "ran")
    record = json.loads((out / "run.json").read_text())
    assert all(record["stages"][s]["status"] == "done" for s in STAGES)
    # a quarter of the sweep's training samples on the design slice: T_hot varied, k and h nominal
    sweep = json.loads((out / "data" / "summary.json").read_text())
    assert sweep["samples"] == {"train": 12, "test": 4, "design": 3}
    points = np.array(json.loads((out / "data" / "sweep.json").read_text())["points"])
    np.testing.assert_allclose(points[9:12, 1:], [[52.0, 750.0]] * 3)
    assert len(set(points[9:12, 0])) == 3 and not np.any(np.isclose(points[:9, 2], 750.0))

    page = (out / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # nominal field, parity, calibration fit, history, best design's field
    assert all(len(i) > 5000 for i in images)
    for title in ("Nominal solution", "Held-out metrics", "Calibration", "Best design", "Stages"):
        assert title in page
    assert "gp RMSE" in page and "rbf RMSE" in page and "<script" not in page

    # the best design was solved with FE at the calibrated latent value
    opt = json.loads((out / "optimize" / "summary.json").read_text())
    cal = json.loads((out / "calibration" / "summary.json").read_text())
    check = json.loads((out / "verify" / "summary.json").read_text())["checks"][0]
    design = opt["best"][0]["design"]
    h = cal["estimates"]["h"]["value"]
    assert opt["fixed"]["h"]["value"] == h and 400 <= h <= 1200
    fe = _fe(plate, {"T_hot": design["T_hot"], "h": h}).qoi["T_mean"]
    assert check["outputs"]["T_mean"]["fe"] == pytest.approx(fe, rel=1e-9)
    pred = opt["best"][0]["predicted"]["T_mean"]["mean"]
    assert check["outputs"]["T_mean"]["relative_error"] == pytest.approx(abs(pred - fe) / fe)
    # the optimize stage's FE search solved the best design; verify took its check, unsolved
    assert opt["best"][0]["verification"] == check
    fe_search = opt["fe"]
    assert 1 <= len(fe_search["solves"]) <= 5 and fe_search["repeated_designs"] == 0
    feasible = [r["outputs"]["T_mean"]["fe"] for r in fe_search["solves"] if r["feasible"]]
    assert check["outputs"]["T_mean"]["fe"] == max(feasible)  # the best FE-feasible one

    # nothing changed: every stage is up to date and no output is rewritten
    files = {
        p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "run.json"
    }
    r = cli("run", plate)
    assert r.returncode == 0, r.output
    assert _actions(out) == dict.fromkeys(STAGES, "skipped")
    assert "7 up to date" in r.stdout
    assert {p: p.stat().st_mtime_ns for p in files} == files

    # other training/calibration/optimisation code (not solver code): train onwards, sweep kept
    monkeypatch.setattr("twinkit.pipeline.stages.code_hash", lambda: "other code")
    r = cli("run", plate)
    assert r.returncode == 0, r.output
    assert _actions(out) == dict.fromkeys(STAGES[:2], "skipped") | dict.fromkeys(STAGES[2:], "ran")

    # a tighter constraint: only the optimisation and what follows it rerun
    plate.write_text(PLATE.replace("max: 12 degC", "max: 11 degC"))
    r = cli("run", plate)
    assert r.returncode == 0, r.output
    assert _actions(out) == dict.fromkeys(STAGES[:4], "skipped") | dict.fromkeys(STAGES[4:], "ran")
    assert json.loads((out / "optimize" / "summary.json").read_text())["constraints"][0]["max"] == (
        pytest.approx(284.15)
    )

    # other readings: calibration onwards; unusable ones fail that stage, earlier outputs stay
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,sensor,value,unit\n2024-05-01T06:00:00Z,T_X,300,K\n")
    surrogate = (out / "surrogate.pt").read_bytes()
    r = cli("run", plate, "--sensors", bad)
    assert r.returncode == 2 and "Traceback" not in r.output
    assert "stage 'calibrate' failed" in r.output and "no readings of a sensor" in r.output
    assert _actions(out) == dict.fromkeys(STAGES[:3], "skipped") | {"calibrate": "failed"}
    assert json.loads((out / "run.json").read_text())["stages"]["calibrate"]["status"] == "failed"
    assert (out / "surrogate.pt").read_bytes() == surrogate and (out / "report.html").exists()


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("samples: 12", "samples: 4", "run.samples: expected a number greater than or equal to 8"),
        ("sensors: plate.csv", "sensors: nowhere.csv", "run.sensors: 'nowhere.csv': no such file"),
        ("trials: 15", "trails: 15", "run.trails: unknown key; did you mean 'trials'?"),
        ("trials: 15", "trials: 15, design_samples: 13", "run.design_samples: 13 is more than"),
    ],
)
def test_a_bad_case_is_one_message_and_exit_2(tmp_path, cli, monkeypatch, old, new, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plate.csv").write_text("timestamp,sensor,value,unit\n")
    case = tmp_path / "plate.yaml"
    case.write_text(PLATE.replace(old, new))
    r = cli("run", case)
    assert r.returncode == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists()
    v = cli("validate", case)  # validate says so too (it said ok to a missing sensor file)
    assert v.returncode == 2 and message in v.output, v.output


def test_options_are_checked_before_anything_runs(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plate.csv").write_text("timestamp,sensor,value,unit\n")
    case = tmp_path / "plate.yaml"
    case.write_text(PLATE)
    r = cli("run", case, "--samples", "3")
    assert r.returncode == 2 and "--samples 3: expected at least 8" in r.output
    r = cli("run", case, "--sensors", tmp_path / "missing.csv")
    assert r.returncode == 2 and "missing.csv: sensor file not found" in r.output
    assert not (tmp_path / "runs").exists()


def test_furnace_sensor_file_is_clean_and_records_its_truth():
    """The replayed plant data shipped with the furnace passes the case's own rules."""
    from twinkit.sensors.files import read_sensor_file, window_stats
    from twinkit.sensors.readings import SensorValidator, rules_from_case

    case = load_case(ROOT / "cases" / "furnace.yaml", check_regions=False)
    path = ROOT / "cases" / case.case.run.sensors  # type: ignore[operator]
    assert path.stat().st_size < 50_000
    validator = SensorValidator(rules_from_case(case))
    stats, (start, end) = window_stats(read_sensor_file(path, validator))
    assert validator.report()["rejected"] == 0 and end - start == pytest.approx(6 * 3600)
    assert set(stats) == set(case.case.probes) | {"pull_rate"}
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    values = case.case.parameter_values()
    for name in ("wall_htc", "absorption"):
        assert truth["truth"][name]["value"] != pytest.approx(values[name])  # not the nominal
    for name, v in truth["fe_sensors"].items():  # 37 readings, 2 K noise each
        assert stats[name].mean == pytest.approx(v, abs=4 * 2 / np.sqrt(37))
        assert stats[name].std == pytest.approx(2.0, rel=0.4)
    assert stats["pull_rate"].mean == pytest.approx(truth["truth"]["pull_rate"]["value"], rel=0.01)
