"""Ctrl-C and SIGTERM (issue 15): a command stops within 2 s with exit code 130 (SIGINT) or 143
(SIGTERM) and one line saying "interrupted", keeps what it had finished and reports nothing
half-done as a result. Real processes, real signals, sent once the work has started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _start(*args: str | Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "twinkit.cli", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _interrupt(proc: subprocess.Popen, sig: int) -> tuple[float, str, str]:
    """Send `sig`; (seconds until the process ended, stdout, stderr)."""
    assert proc.poll() is None, "the command ended before it could be interrupted"
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:  # a child that outlived it may hold its output open
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the command's output stayed open after it was killed (its children?)")
    return time.monotonic() - t0, out, err


def _one_line_interrupted(err: str, name: str = "interrupted") -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"error: {name}"], err[-3000:]


@pytest.mark.slow
def test_ctrl_c_stops_a_furnace_solve_within_2_s_and_writes_no_result(tmp_path):
    """SIGINT while the furnace is meshed, compiled and solved (PETSc turns the interrupt into a
    failed Newton step and the solver would go on for many seconds): exit 130 within 2 s, no
    summary.json, no traceback."""
    out = tmp_path / "out"
    proc = _start("solve", ROOT / "cases" / "furnace.yaml", "--out", out, "--no-plots")
    assert proc.stderr is not None
    line = proc.stderr.readline()  # printed (on stderr) before meshing starts
    assert line.startswith("solving furnace"), line
    time.sleep(2.0)  # into meshing, compiling and the first Newton steps (about 12 s in all)
    seconds, _, err = _interrupt(proc, signal.SIGINT)
    assert proc.returncode == 130 and seconds < 2.0, (proc.returncode, seconds, err[-3000:])
    _one_line_interrupted(err)
    assert not (out / "summary.json").exists()


PLATE = """\
name: plate
model: heat_conduction
seed: 7
mesh: {generator: rectangle, length: 0.2 m, height: 0.1 m, cells: [160, 80]}
parameters:
  k: {value: 50 W/(m*K), range: [10 W/(m*K), 400 W/(m*K)], role: design, scale: log}
  h: {value: 100 W/(m^2*K), range: [10 W/(m^2*K), 1000 W/(m^2*K)], role: latent, scale: log}
materials:
  plate: {conductivity: $k}
boundary_conditions:
  - {type: temperature, region: left, value: 100 degC}
  - {type: convection, region: right, h: $h, ambient: 20 degC}
outputs:
  qoi:
    T_max: {type: max_temperature}
solver: {degree: 2}
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "sig", "name"),
    [(1, signal.SIGINT, "interrupted"), (2, signal.SIGTERM, "interrupted by SIGTERM")],
    ids=["1 worker, SIGINT", "2 workers, SIGTERM"],
)
def test_an_interrupted_sweep_keeps_its_samples_and_resumes(tmp_path, workers, sig, name):
    """Interrupted after some samples: they stay (each whole and ok; none of the samples cut
    short is stored as failed), no dataset or summary is written, the workers end, and the same
    command then solves only the rest."""
    from twinkit.sweep.store import read_sample

    case, out, n = tmp_path / "plate.yaml", tmp_path / "data", 16
    case.write_text(PLATE)
    args = ("sample", case, "-n", n, "--workers", workers, "--out", out)
    proc = _start(*args)
    deadline = time.monotonic() + 120
    while len(list(out.glob("samples/0*.npz"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep did not start"
        time.sleep(0.01)
    children = [
        int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    ]
    seconds, _, err = _interrupt(proc, sig)
    assert proc.returncode == 128 + sig and seconds < 2.0, (proc.returncode, seconds, err[-3000:])
    _one_line_interrupted(err, name)
    while [c for c in children if Path(f"/proc/{c}").exists()]:
        assert time.monotonic() < deadline, "worker processes outlived the interrupted sweep"
        time.sleep(0.05)

    done = sorted(out.glob("samples/0*.npz"))
    assert 2 <= len(done) < n
    assert [read_sample(f).status for f in done] == ["ok"] * len(done)
    assert not (out / "dataset.nc").exists() and not (out / "summary.json").exists()
    again = subprocess.run(
        [sys.executable, "-m", "twinkit.cli", *map(str, args)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr[-3000:]
    counts = json.loads((out / "summary.json").read_text())["counts"]
    assert counts["reused"] == len(done) and counts["ok"] == n


@pytest.mark.slow
def test_ctrl_c_stops_twinkit_run_in_its_sweep(tmp_path):
    """`twinkit run` interrupted in its sweep stage: exit 130 within 2 s; the nominal solve stays
    recorded as done, the sweep stage is not (the next run resumes it), its samples stay."""
    case, out = tmp_path / "plate.yaml", tmp_path / "run"
    case.write_text(PLATE)
    proc = _start("run", case, "--out", out, "-n", 16, "--test", 0)
    deadline = time.monotonic() + 120
    while len(list(out.glob("data/samples/0*.npz"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep did not start"
        time.sleep(0.01)
    seconds, _, err = _interrupt(proc, signal.SIGINT)
    assert proc.returncode == 130 and seconds < 2.0, (proc.returncode, seconds, err[-3000:])
    _one_line_interrupted(err)
    stages = json.loads((out / "run.json").read_text())["stages"]
    assert stages["solve"]["status"] == "done" and "sample" not in stages, stages
    assert not (out / "data" / "dataset.nc").exists()


def _fe_trials(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
            return int(c.execute("SELECT count(*) FROM trials").fetchone()[0])
    except sqlite3.Error:  # the study not created yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "kill -9"])
def test_an_fe_search_on_two_workers_interrupted_keeps_its_solves_and_ends_its_workers(
    tmp_path, sig
):
    """`twinkit optimize --fe-budget --fe-workers 2` stopped after some FE solves: with Ctrl-C,
    exit 130 within 2 s and one line; killed with -9, nothing to say. Either way its worker
    processes end (no solve goes on without it), the solves made are in the study, and the same
    command continues from them."""
    from beam_surrogate import BEAM_CASE

    case, out = tmp_path / "beam.yaml", tmp_path / "o"
    case.write_text(BEAM_CASE)
    args = ("optimize", case, "--fe-budget", "12", "--no-surrogate", "--fe-workers", "2",
            "--out", out, "--no-plots")  # fmt: skip
    proc = _start(*args)
    deadline = time.monotonic() + 120
    while _fe_trials(out / "study.db") < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the search did not start"
        time.sleep(0.05)
    children = [
        int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    ]
    assert len(children) >= 2  # the workers (and the pools' resource tracker)
    seconds, _, err = _interrupt(proc, sig)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and seconds < 2.0, (proc.returncode, seconds, err[-3000:])
        progress = [line for line in err.splitlines() if line.startswith("FE solve ")]
        assert len(progress) >= 2  # stderr: the solves' lines, then one line for the interrupt
        _one_line_interrupted("\n".join(err.splitlines()[len(progress) :]))
    else:
        assert proc.returncode == -signal.SIGKILL
    while [c for c in children if Path(f"/proc/{c}").exists()]:
        assert time.monotonic() < deadline, "worker processes outlived the interrupted search"
        time.sleep(0.05)
    made = _fe_trials(out / "study.db")
    assert made >= 2
    again = subprocess.run(
        [sys.executable, "-m", "twinkit.cli", *map(str, args)], capture_output=True, text=True
    )
    assert again.returncode in (0, 1), again.stderr[-3000:]
    fe = json.loads((out / "summary.json").read_text())["fe"]
    assert len(fe["solves"]) - fe["this_run"] == made and fe["repeated_designs"] == 0
