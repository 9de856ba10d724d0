"""benchmarks/surrogate.py runs end to end on a synthetic sweep and prints the issue's targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_benchmark_script_reports_targets(tmp_path):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    script = ROOT / "benchmarks" / "surrogate.py"
    cmd = [sys.executable, script, tmp_path / "fin", "--synthetic", "32", "--members", "2",
           "--epochs", "40", "--json", tmp_path / "b.json"]  # fmt: skip
    r = subprocess.run(
        list(map(str, cmd)), capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    for line in ("field temperature: mean rel. L2", "sensors in K: RMSE [K]", "QoIs: smallest R²",
                 "error / best baseline", "inference, 1000 points", "speed-up per sample over FE",
                 "training [s]"):  # fmt: skip
        assert line in r.stdout, line
    s = json.loads((tmp_path / "b.json").read_text())
    assert s["n_train"] == 32 and set(s["baselines"]) == {"rbf", "gp"}
    assert s["inference"]["fe_solve_mean_s"] == 1.0  # the synthetic sweep's stored solve time
