"""`mpirun -n 2 twinkit solve CASE` gives the same QoIs and sensors as a serial run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
MPIRUN = shutil.which("mpirun", path=str(BIN)) or shutil.which("mpirun")
CASES = ["cases/heatsink.yaml", "cases/benchmarks/lame.yaml", "cases/furnace.yaml"]


def _solve(case: str, out: Path, ranks: int) -> dict:
    cmd = [str(BIN / "twinkit"), "solve", case, "--out", str(out), "--no-plots"]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((out / "summary.json").read_text())


@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.skipif(MPIRUN is None, reason="no mpirun next to the interpreter or on PATH")
@pytest.mark.parametrize("case", CASES)
def test_parallel_matches_serial(tmp_path, case):
    serial = _solve(case, tmp_path / "serial", 1)
    parallel = _solve(case, tmp_path / "parallel", 2)
    assert parallel["mpi_ranks"] == 2
    assert parallel["dofs"] == serial["dofs"]
    for group in ("qoi", "sensors"):
        assert serial[group], f"{case} has no {group} to compare"
        for name, value in serial[group].items():
            assert parallel[group][name] == pytest.approx(value, rel=1e-8, abs=1e-12), name
