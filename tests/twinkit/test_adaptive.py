"""`twinkit sample --adaptive`: rounds of FE samples where the ensemble disagrees; the dataset
contract, the recorded design, resuming a killed run (mid-batch and mid-choice), bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from twinkit.case import CaseError, load_case

# A heated plate with a nonlinear response in h (log scale) and k; ambient fixed.
PLATE = """\
name: plate
model: heat_conduction
seed: 3
mesh: {generator: rectangle, length: 0.2 m, height: 0.1 m, cells: [8, 4]}
parameters:
  k: {value: 50 W/(m*K), range: [10 W/(m*K), 400 W/(m*K)], role: design, scale: log}
  h: {value: 100 W/(m^2*K), range: [10 W/(m^2*K), 1000 W/(m^2*K)], role: latent, scale: log}
  T_hot: {value: 100 degC, range: [50 degC, 150 degC], role: operating}
  ambient: {value: 20 degC}
materials:
  plate: {conductivity: $k}
boundary_conditions:
  - {type: temperature, region: left, value: $T_hot}
  - {type: convection, region: top, h: $h, ambient: $ambient}
  - {type: convection, region: right, h: $h, ambient: $ambient}
probes:
  T_end: {point: [0.2 m, 0.05 m]}
outputs:
  qoi:
    Q_top: {type: heat_flow, region: top}
"""
N, N0, BATCH, TEST = 14, 8, 3, 2


def adaptive(case: Path, out: Path, n: int = N, initial: int = N0, batch: int = BATCH):
    from twinkit.sweep.adaptive import AdaptiveOptions, run_adaptive
    from twinkit.sweep.run import SweepOptions

    opts = SweepOptions(n, test_samples=TEST, progress=False)
    return run_adaptive(case, out, opts, AdaptiveOptions(initial, batch, pool=256, epochs=100))


def open_dataset(folder: Path):
    import xarray as xr

    with xr.open_dataset(folder / "dataset.nc") as ds:
        return ds.load()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("adaptive")
    case = root / "plate.yaml"
    case.write_text(PLATE)
    s = adaptive(case, root / "data")
    return case, root / "data", s


def test_rounds_fill_the_design_and_keep_the_contract(finished):
    from twinkit.sweep.dataset import contract_problems
    from twinkit.sweep.design import make_design

    case, out, s = finished
    assert s["counts"] == {"ok": N + TEST, "failed": 0, "total": N + TEST, "computed": N + TEST,
                           "reused": 0}  # fmt: skip
    ds = open_dataset(out)
    assert contract_problems(ds) == [] and ds.attrs["doe"] == "adaptive"
    assert list(ds["split"].values) == ["train"] * N + ["test"] * TEST
    record = json.loads(ds.attrs["adaptive"])
    assert record["rounds"] == [list(range(N0)), [8, 9, 10], [11, 12, 13]]
    x = np.column_stack([ds[n].values for n in ("k", "h", "T_hot")])
    # the first N0 points and the test points are the plain sweep's: Sobol prefix, same test set
    plain = make_design(load_case(case), N0, "sobol", TEST).points
    np.testing.assert_array_equal(x[:N0], plain[:N0])
    np.testing.assert_array_equal(x[N:], plain[N0:])
    assert len(np.unique(x[:N].round(12), axis=0)) == N  # no point twice
    for j, (lo, hi) in enumerate([(10, 400), (10, 1000), (323.15, 423.15)]):
        assert lo <= x[:, j].min() and x[:, j].max() <= hi
    assert np.isfinite(ds["qoi_Q_top"]).all() and np.isfinite(ds["field_temperature"]).all()


def test_batch_spreads_out(finished):
    """A round's points keep a distance from each other and from the earlier samples."""
    _, out, _ = finished
    ds = open_dataset(out)
    u = np.column_stack([np.log(ds["k"]), np.log(ds["h"]), ds["T_hot"]])[:N]
    u = (u - u.min(0)) / np.ptp(u, axis=0)
    d = np.sqrt(((u[:, None] - u[None]) ** 2).sum(-1)) + np.eye(N) * 9
    initial_spacing = np.median(d[:N0, :N0].min(1))
    assert d[N0:].min() > 0.25 * initial_spacing, (d[N0:].min(), initial_spacing)


def test_resume_after_kill_mid_batch_and_mid_choice(finished, tmp_path):
    import shutil

    case, done, _ = finished
    reference = json.loads((done / "sweep.json").read_text())
    # killed while the last round's samples ran: two of its three files missing
    out = tmp_path / "data"
    shutil.copytree(done, out)
    (out / "dataset.nc").unlink()
    for i in (12, 13):
        (out / "samples" / f"{i:06d}.npz").unlink()
    s = adaptive(case, out)
    assert s["counts"]["computed"] == 2 and s["counts"]["ok"] == N + TEST
    assert json.loads((out / "sweep.json").read_text())["points"] == reference["points"]
    # killed after a round was solved, before the next was chosen: the same points are chosen
    state = json.loads((out / "sweep.json").read_text())
    state |= {"points": state["points"][:11], "rounds": state["rounds"][:2]}
    state["pool_picked"] = state["pool_picked"][:3]
    (out / "sweep.json").write_text(json.dumps(state))
    for i in (11, 12, 13):
        (out / "samples" / f"{i:06d}.npz").unlink()
    s = adaptive(case, out)
    assert s["counts"]["computed"] == 3
    np.testing.assert_allclose(
        json.loads((out / "sweep.json").read_text())["points"], reference["points"], rtol=1e-12
    )
    with pytest.raises(CaseError, match="differs from this one: adaptive="):
        adaptive(case, out, batch=2)


def test_bad_options_are_user_errors(finished, tmp_path):
    case, _, _ = finished
    with pytest.raises(CaseError, match="--initial 4: the first surrogate needs at least 8"):
        adaptive(case, tmp_path / "a", initial=4)
    with pytest.raises(CaseError, match="--batch 0"):
        adaptive(case, tmp_path / "b", batch=0)
    from typer.testing import CliRunner

    from twinkit.cli import app

    r = CliRunner().invoke(app, ["sample", str(case), "--batch", "2", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--initial and --batch go with --adaptive" in r.stderr


def test_cli_runs_an_adaptive_sweep(finished, tmp_path):
    from typer.testing import CliRunner

    from twinkit.cli import app

    case, _, _ = finished
    # without --test, as docs/sweeps.md runs it (no held-out set: it failed reshaping none)
    args = ["sample", str(case), "-n", "10", "--adaptive", "--initial", "8", "--batch", "2",
            "--out", str(tmp_path / "cli")]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "10 ok, 0 failed of 10 samples" in r.stdout
    assert "adaptive design: 2 rounds of 8, 2 training samples" in r.stdout


@pytest.mark.slow
def test_adaptive_benchmark_reuses_the_sobol_sweep(finished, tmp_path):
    """benchmarks/adaptive.py end to end on the plate: the Sobol arm and the adaptive arm's
    first points come from one Sobol sweep, and only the adaptive points are solved."""
    import subprocess
    import sys

    from twinkit.sweep.run import SweepOptions, run_sweep

    case, _, _ = finished
    run_sweep(case, tmp_path / "sobol", SweepOptions(16, test_samples=3, progress=False))
    root = Path(__file__).parents[2]
    cmd = [sys.executable, root / "benchmarks" / "adaptive.py", case, "--reuse",
           tmp_path / "sobol", "--out", tmp_path / "adaptive", "-n", "12", "--initial", "8",
           "--batch", "2", "--sobol-sizes", "8,12,16", "--no-field", "--epochs", "100",
           "--json", tmp_path / "a.json"]  # fmt: skip
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "adaptive arm: 11 FE samples copied" in r.stderr  # 8 initial + 3 test
    s = json.loads((tmp_path / "a.json").read_text())
    assert s["adaptive"]["counts"]["computed"] == 4  # two rounds of two
    assert [row["fe_solves"] for row in s["arms"]["sobol"]] == [8, 12, 16]
    assert [row["fe_solves"] for row in s["arms"]["adaptive"]] == [8, 10, 12]
    first = s["arms"]["sobol"][0], s["arms"]["adaptive"][0]  # same 8 samples, same model
    assert first[0]["scalar_error"] == pytest.approx(first[1]["scalar_error"], rel=1e-9)
    assert all(np.isfinite(row["sensor_rmse_K"]) for row in s["arms"]["adaptive"])
