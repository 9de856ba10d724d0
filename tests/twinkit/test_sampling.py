"""`twinkit sample`: the design of experiments, the dataset contract, failures, kill -9 and resume,
and the same sweep on a Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twinkit.case import CaseError, load_case
from twinkit.process import sigpipe_ignored
from twinkit.sweep.design import make_design

# A heated plate; k and h log-uniform, T_hot linear, ambient fixed (not varied).
PLATE = """\
name: plate
model: heat_conduction
seed: 7
mesh: {{generator: rectangle, length: {length}, height: 0.1 m, cells: [{nx}, {ny}]}}
parameters:
  k: {{value: 50 W/(m*K), range: [10 W/(m*K), 400 W/(m*K)], role: design, scale: log}}
  h: {{value: 100 W/(m^2*K), range: [10 W/(m^2*K), 1000 W/(m^2*K)], role: latent, scale: log}}
  T_hot: {{value: 100 degC, range: [50 degC, 150 degC], role: operating}}
  ambient: {{value: 20 degC}}
{extra}materials:
  plate: {{conductivity: $k}}
boundary_conditions:
  - {{type: temperature, region: left, value: $T_hot}}
  - {{type: convection, region: top, h: $h, ambient: $ambient}}
  - {{type: convection, region: right, h: $h, ambient: $ambient}}
probes:
  T_end: {{point: [{length}, 0.05 m]}}
outputs:
  qoi:
    T_max: {{type: max_temperature}}
    Q_top: {{type: heat_flow, region: top}}
solver: {{degree: 2}}
"""


def plate(write_case, nx: int = 8, ny: int = 4, length: str = "0.2 m", extra: str = "") -> Path:
    return write_case(PLATE.format(nx=nx, ny=ny, length=length, extra=extra), "plate.yaml")


def sweep(case: Path, out: Path, n: int, **kw):
    from twinkit.sweep.run import SweepOptions, run_sweep

    return run_sweep(case, out, SweepOptions(n, progress=False, **kw))


def open_dataset(folder: Path):
    import xarray as xr

    with xr.open_dataset(folder / "dataset.nc") as ds:  # plain xarray, no engine named
        return ds.load()


# ---- design of experiments ---------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sobol", "lhs"])
def test_design_reproducible_in_bounds_and_log_uniform(write_case, method):
    loaded = load_case(plate(write_case))
    d = make_design(loaded, 64, method)
    assert d.inputs == ("k", "h", "T_hot")  # ranged only; 'ambient' stays nominal
    np.testing.assert_array_equal(d.points, make_design(loaded, 64, method).points)
    for j, name in enumerate(d.inputs):
        lo, hi = loaded.case.parameters[name].bounds
        assert lo <= d.points[:, j].min() and d.points[:, j].max() <= hi
    # both designs stratify each axis in halves: exactly half the points lie below the middle,
    # the geometric middle for log scale (k, h), the arithmetic one for linear (T_hot)
    k, h, T = d.points.T
    assert np.sum(k < np.sqrt(10 * 400)) == 32 and np.sum(h < np.sqrt(10 * 1000)) == 32
    assert np.sum(T < 373.15) == 32
    assert np.sum(h < (10 + 1000) / 2) > 48  # log-uniform: most points below the linear middle
    values = d.values(loaded.case, 3)
    assert values["ambient"] == pytest.approx(293.15) and values["k"] == d.points[3, 0]


def test_seed_and_held_out_test_set(write_case):
    loaded = load_case(plate(write_case))
    a = make_design(loaded, 8, "sobol", n_test=5)
    b = make_design(loaded, 16, "lhs", n_test=5)
    assert a.split == ["train"] * 8 + ["test"] * 5
    # the test set is its own stream: the same whatever the training size and method
    np.testing.assert_array_equal(a.points[8:], b.points[16:])
    assert not np.isin(a.points[8:, 0], a.points[:8, 0]).any()
    other = load_case(write_case(loaded.path.read_text().replace("seed: 7", "seed: 8"), "s8.yaml"))
    assert not np.allclose(make_design(other, 8, "sobol").points, a.points[:8])


def test_design_samples_lie_on_the_design_slice(write_case, cli, tmp_path):
    """The last k training points vary the design parameters (k, spread over their range) and
    hold the others at their nominal values; the rest of the design and the test set do not
    change; the sweep records it, and a folder of another slice refuses to mix."""
    loaded = load_case(plate(write_case))
    plain, d = make_design(loaded, 16, "sobol", 4), make_design(loaded, 16, "sobol", 4, 4)
    assert d.doe == "sobol+4 design" and plain.doe == "sobol"
    np.testing.assert_array_equal(d.points[:12], plain.points[:12])  # a prefix of the same stream
    np.testing.assert_array_equal(d.points[16:], plain.points[16:])  # the same test set
    k, h, T = d.points[12:16].T
    assert np.all(h == pytest.approx(100.0)) and np.all(T == pytest.approx(373.15))
    assert k.min() < np.sqrt(10 * 400) < k.max() and len(set(k)) == 4  # stratified over k's range
    assert not np.any(np.isclose(plain.points[12:16, 1], 100.0))
    with pytest.raises(CaseError, match="from 0 to the 16 training samples, got 17"):
        make_design(loaded, 16, "sobol", 0, 17)
    out = tmp_path / "data"
    s = sweep(plate(write_case), out, 4, test_samples=1, design_samples=2)
    assert s["doe"] == "sobol+2 design" and s["samples"] == {"train": 4, "test": 1, "design": 2}
    assert open_dataset(out).attrs["doe"] == "sobol+2 design"
    r = cli("sample", plate(write_case), "-n", "4", "--test", "1", "--out", out)
    assert r.returncode == 2 and "doe='sobol+2 design' (this run: 'sobol')" in r.output


def test_design_samples_need_design_parameters(write_case, cli, tmp_path):
    case = write_case(PLATE.format(nx=8, ny=4, length="0.2 m", extra="").replace(
        "role: design", "role: operating"), "nodesign.yaml")  # fmt: skip
    r = cli("sample", case, "-n", "4", "--design-samples", "2", "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" not in r.output
    assert "design samples (2) need parameters with role design" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "-n/--samples: expected a whole number of samples from 1 to 1,000,000"),
        (["-n", "-3"], "got -3"),
        (["-n", "99999999999"], "got 99999999999"),  # a MemoryError (1.5 TB) before
        (["--method", "grid"], "--method: 'grid' is not a design method; expected one of"),
        (["--test", "-1"], "--test: expected a whole number of test samples from 0 to"),
        (["--test", "2000000"], "got 2000000"),
        (["--out", "existing.txt"], "is a file, not a folder"),  # FileExistsError, exit 1 before
        # a link to itself: exists() said no, the sweep ran, and ELOOP was exit 1 after it
        (["--out", "loop/x"], "is a symbolic link that leads nowhere (or to itself)"),
        (["--workers", "0"], "--workers: expected a number of worker processes >= 1"),
    ],
)
def test_bad_options(write_case, cli, tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing.txt").write_text("not a folder")
    (tmp_path / "loop").symlink_to("loop")
    r = cli("sample", plate(write_case), "--out", tmp_path / "out", *args)
    assert r.returncode == 2, r.output
    flat = " ".join(r.output.replace("│", " ").split())  # typer's box wraps at 80 columns
    assert message in flat and "Traceback" not in r.output


def test_no_ranged_parameter(write_case, base_case, cli, tmp_path):
    case = write_case(base_case)
    r = cli("sample", case, "--out", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.output
    assert f"{case}: parameters: no parameter has a range" in r.output
    with pytest.raises(CaseError, match="no parameter has a range"):
        make_design(load_case(case), 4)


# ---- the dataset -------------------------------------------------------------------------------
def test_dataset_contract_and_resume(write_case, tmp_path):
    from twinkit.sweep.dataset import contract_problems

    case, out = plate(write_case), tmp_path / "data"
    s = sweep(case, out, 6, test_samples=2)
    assert s["counts"] == {"ok": 8, "failed": 0, "total": 8, "computed": 8, "reused": 0}
    assert s == json.loads((out / "summary.json").read_text()) | {"folder": str(out)}
    ds = open_dataset(out)
    assert contract_problems(ds) == []
    design = make_design(load_case(case), 6, "sobol", 2)
    for j, name in enumerate(design.inputs):
        np.testing.assert_array_equal(ds[name].values, design.points[:, j])
    assert ds["k"].attrs == {
        **{"units": "W/(m*K)", "lower": 10.0, "upper": 400.0, "role": "design"},
        **{"scale": "log", "kind": "input"},
    }
    assert "ambient" not in ds and json.loads(ds.attrs["inputs"]) == ["k", "h", "T_hot"]
    assert ds["qoi_T_max"].attrs == {"units": "K", "kind": "qoi"}
    assert list(ds["split"].values) == ["train"] * 6 + ["test"] * 2
    assert list(ds["status"].values) == ["ok"] * 8 and (ds["iterations"] >= 1).all()
    assert ds.attrs["case"] == "plate" and ds.attrs["doe"] == "sobol" and ds.attrs["seed"] == 7
    # max temperature sits on the heated edge
    np.testing.assert_allclose(ds["qoi_T_max"], ds["T_hot"], rtol=1e-10)
    # fields at the mesh vertices: (8+1) x (4+1) nodes, triangles; the field at the probe's
    # vertex is the probe's value
    T = ds["field_temperature"]
    assert T.dims == ("sample", "node") and T.shape == (8, 45) and T.attrs["units"] == "K"
    assert ds["cells"].shape == (64, 3) and ds["cells"].attrs["cell_type"] == "triangle"
    assert ds["cells"].values.max() == 44
    x, y = ds["node_x"].values, ds["node_y"].values
    probe = np.argmin(np.hypot(x - 0.2, y - 0.05))
    assert ds["sensor"].values.tolist() == ["T_end"] and ds["sensor_units"].values[0] == "K"
    np.testing.assert_allclose(T.values[:, probe], ds["sensors"].values[:, 0], rtol=1e-10)

    again = sweep(case, out, 6, test_samples=2)  # the same command: nothing to compute
    assert again["counts"]["reused"] == 8 and again["counts"]["computed"] == 0
    with pytest.raises(CaseError, match=r"samples=6 \(this run: 7\)"):
        sweep(case, out, 7, test_samples=2)
    with pytest.raises(CaseError, match="case_hash="):
        sweep(plate(write_case, nx=10), out, 6, test_samples=2)
    # samples from other solver code are not mixed into the dataset
    assert ds.attrs["solver_hash"] == json.loads((out / "sweep.json").read_text())["solver_hash"]
    state = json.loads((out / "sweep.json").read_text())
    (out / "sweep.json").write_text(json.dumps(state | {"solver_hash": "0123456789abcdef"}))
    with pytest.raises(CaseError, match="solver_hash=.*the solver code changed"):
        sweep(plate(write_case), out, 6, test_samples=2)


def test_no_fields_when_the_mesh_varies(write_case, tmp_path):
    extra = "  L: {value: 0.2 m, range: [0.15 m, 0.25 m], role: design}\n"
    out = tmp_path / "data"
    s = sweep(plate(write_case, length="$L", extra=extra), out, 3)
    assert s["counts"]["ok"] == 3 and s["fields"] == []
    ds = open_dataset(out)
    assert "cells" not in ds and not [v for v in ds.variables if str(v).startswith("field_")]
    assert ds.attrs["mesh_hash"] == "varies" and json.loads(ds.attrs["fields"]) == []


def test_a_new_geometry_frees_the_old_mesh_and_model_at_once(write_case):
    """The old DOLFINx and PETSc objects sit in reference cycles; unless the runner collects
    them when it re-meshes, a geometric sweep holds every sample's matrices until Python's cyclic
    collector happens to run (the bracket grew by ~250 MB per sample)."""
    import gc
    import weakref

    from mpi4py import MPI

    from twinkit.solve.runner import CaseRunner

    extra = "  L: {value: 0.2 m, range: [0.15 m, 0.25 m], role: design}\n"
    loaded = load_case(plate(write_case, length="$L", extra=extra))
    runner = CaseRunner(loaded, MPI.COMM_SELF)
    values = loaded.case.parameter_values()
    runner.solve(values | {"L": 0.15})
    old_model, old_mesh = weakref.ref(runner.model), weakref.ref(runner.domain.mesh)
    gc.disable()  # only the runner may collect
    try:
        runner.solve(values | {"L": 0.25})
        assert old_model() is None and old_mesh() is None
        kept = weakref.ref(runner.model)
        runner.solve(values | {"L": 0.25, "k": 40.0})  # same geometry: model and mesh kept
        assert kept() is runner.model
    finally:
        gc.enable()


def test_failed_samples_are_recorded_and_the_sweep_goes_on(write_case, tmp_path, monkeypatch):
    from twinkit.solve.runner import CaseRunner

    solve = CaseRunner.solve

    def flaky(self, values):
        if values["h"] > 300:
            raise RuntimeError("PETSc error 76: boom")
        result = solve(self, values)
        if values["k"] < 30:
            result.solver.converged, result.solver.message = False, "diverged: its"
        return result

    monkeypatch.setattr(CaseRunner, "solve", flaky)
    case, out = plate(write_case), tmp_path / "data"
    s = sweep(case, out, 16)
    k, h, _ = make_design(load_case(case), 16).points.T
    raised, diverged = h > 300, (h <= 300) & (k < 30)
    assert raised.any() and diverged.any() and (~raised & ~diverged).any()
    assert s["counts"]["failed"] == int(raised.sum() + diverged.sum())
    assert s["counts"]["ok"] == 16 - s["counts"]["failed"]
    ds = open_dataset(out)
    status, message = ds["status"].values, ds["message"].values
    assert (status[raised] == "failed").all() and (status[diverged] == "failed").all()
    assert all(m == "RuntimeError: PETSc error 76: boom" for m in message[raised])
    assert all(m == "diverged: its" for m in message[diverged])
    ok = status == "ok"
    assert np.isfinite(ds["qoi_T_max"].values[ok]).all()
    assert np.isnan(ds["qoi_T_max"].values[~ok]).all()
    assert np.isnan(ds["field_temperature"].values[~ok]).all()
    assert {f["sample"] for f in s["failures"]} == set(np.flatnonzero(~ok).tolist())


# ---- kill -9 and resume; Dask -----------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.slow
def test_kill_9_and_resume(write_case, tmp_path, cli_process):
    from twinkit.sweep.dataset import contract_problems
    from twinkit.sweep.store import read_sample

    case, out, n = plate(write_case, nx=60, ny=30), tmp_path / "data", 24
    args = ["sample", str(case), "-n", str(n), "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "twinkit.cli", *args], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("samples/0*.npz"))) < 3:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    while [w for w in workers if Path(f"/proc/{w}").exists()]:  # the workers follow
        assert time.monotonic() < deadline, "worker processes outlived the killed sweep"
        time.sleep(0.05)

    done = sorted(out.glob("samples/0*.npz"))
    assert 3 <= len(done) < n, "kill the sweep while it runs"
    for f in done:  # no corrupt file: each one reads
        assert read_sample(f).status == "ok"
    assert not (out / "dataset.nc").exists()
    stamps = {f.name: (f.stat().st_ino, f.stat().st_mtime_ns) for f in done}

    r = cli_process(*args)
    assert r.returncode == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["reused"] == len(done)
    assert summary["counts"]["computed"] == n - len(done) and summary["counts"]["ok"] == n
    assert {f: (p.stat().st_ino, p.stat().st_mtime_ns) for f, p in _named(done)} == stamps
    ds = open_dataset(out)
    assert contract_problems(ds) == [] and ds.sizes["sample"] == n
    assert (ds["status"] == "ok").all() and np.isfinite(ds["field_temperature"]).all()
    assert not list(out.glob("**/.*.tmp"))


@pytest.mark.slow
def test_one_writer_per_sweep_folder(write_case, tmp_path, cli_process):
    """A second `twinkit sample` on a folder that a running one holds is refused at once (exit 2,
    naming the folder); after kill -9 of the first the lock is gone and a rerun resumes, solving
    each remaining sample once."""
    case, out, n = plate(write_case, nx=160, ny=80), tmp_path / "data", 16
    args = ["sample", str(case), "-n", str(n), "--out", str(out)]
    first = subprocess.Popen([sys.executable, "-m", "twinkit.cli", *args],
                             stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("samples/0*.npz")):
            assert first.poll() is None and time.monotonic() < deadline, "the sweep did not start"
            time.sleep(0.01)
        # frozen mid-sweep (its workers too), still holding the lock: however slowly the second
        # command starts on a loaded machine, the first cannot finish meanwhile
        os.killpg(first.pid, signal.SIGSTOP)
        second = cli_process(*args)
        assert first.poll() is None, "the first sweep ended before the second was refused"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    assert second.returncode == 2 and "Traceback" not in second.output, second.output
    assert f"{out}: another twinkit sample or run is writing to this sweep folder" in second.stderr

    done = len(list(out.glob("samples/0*.npz")))
    assert 1 <= done < n, "kill the first sweep while it runs"
    r = cli_process(*args)
    assert r.returncode == 0, r.output
    counts = json.loads((out / "summary.json").read_text())["counts"]
    assert counts["reused"] == done and counts["computed"] == n - done and counts["ok"] == n


def _named(paths: list[Path]) -> list[tuple[str, Path]]:
    return [(p.name, p) for p in paths]


@pytest.mark.slow
def test_dask_cluster_equals_local(write_case, tmp_path):
    from dask.distributed import LocalCluster

    case = plate(write_case)
    kw = {"processes": True, "n_workers": 2, "threads_per_worker": 1, "host": "127.0.0.1"}
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as after importing dolfinx (PETSc)
    with LocalCluster(dashboard_address=None, **kw) as cluster:
        remote = sweep(
            case, tmp_path / "dask", 6, test_samples=2, scheduler=cluster.scheduler_address
        )
    assert sigpipe_ignored()  # a dying scheduler raises an error, it does not kill the sweep
    local = sweep(case, tmp_path / "local", 6, test_samples=2)
    assert remote["counts"] == local["counts"] and remote["scheduler"]
    a, b = open_dataset(tmp_path / "dask"), open_dataset(tmp_path / "local")
    for name in ["k", "h", "T_hot", "qoi_T_max", "qoi_Q_top", "sensors", "field_temperature"]:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-12, atol=0)
    assert (a["status"].values == b["status"].values).all()
    np.testing.assert_array_equal(a["cells"].values, b["cells"].values)
