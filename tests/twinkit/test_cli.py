"""The `twinkit` command line end to end: help, solve, summary.json, --set overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NAFEMS_T4 = Path(__file__).parents[2] / "cases" / "benchmarks" / "nafems_t4.yaml"
H_PARAMETER = (
    "parameters:\n"
    '  h: {value: "750 W/(m^2*K)", range: ["100 W/(m^2*K)", "1000 W/(m^2*K)"], role: latent}\n'
)


def test_help(cli_processes):
    console_script = Path(sys.executable).parent / "twinkit"
    results = cli_processes(["--help"], ["validate", "--help"], ["solve", "--help"])
    if console_script.exists():
        p = subprocess.run([console_script, "--help"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "Usage: twinkit [OPTIONS] COMMAND" in p.stdout
    top, validate, solve = results
    for r in results:
        assert r.returncode == 0, r.output
        assert "Traceback" not in r.output
    assert "validate" in top.stdout and "solve" in top.stdout and "--debug" in top.stdout
    assert "Case file (YAML)" in validate.stdout
    assert "--set" in solve.stdout and "--out" in solve.stdout and "--no-plots" in solve.stdout


def test_version(cli):
    from twinkit import __version__

    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"twinkit {__version__}"


@pytest.mark.slow
def test_solve_nafems_t4(tmp_path, cli_process):
    """The documented outputs of `twinkit solve`, and the benchmark value, from a real process."""
    out = tmp_path / "t4"
    r = cli_process("solve", NAFEMS_T4, "--out", out)
    assert r.returncode == 0, r.output
    assert "Traceback" not in r.output and "T_A" in r.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert {"case", "parameters", "qoi", "sensors", "units", "solver"} <= summary.keys()
    assert summary["case"] == "nafems_t4"
    assert summary["parameters"] == {}
    solver = summary["solver"]
    assert solver["converged"] is True
    assert isinstance(solver["iterations"], int) and solver["iterations"] >= 1
    assert isinstance(solver["seconds"], float) and solver["seconds"] >= 0
    assert set(summary["qoi"]) == {"T_max", "heat_in"}
    assert summary["units"]["T_A"] == "K" and summary["units"]["T_max"] == "K"
    # NAFEMS T4: T(0.6 m, 0.2 m) = 18.25 degC; 1 % of the value in degC
    assert summary["sensors"]["T_A"] - 273.15 == pytest.approx(18.25, rel=0.01)
    assert summary["qoi"]["T_max"] == pytest.approx(373.15)

    for name in ("temperature.xdmf", "temperature.h5", "temperature.pvd", "temperature.png"):
        assert (out / name).stat().st_size > 0, name
    assert {"temperature.xdmf", "temperature.pvd", "temperature.png"} <= set(summary["files"])
    assert not list(out.glob("*.tmp")), "summary.json is written atomically"


def _h_case(write_case, base_case: str) -> Path:
    edited = base_case.replace("region: right, h: 750 W/(m^2*K)", "region: right, h: $h").replace(
        "region: top, h: 750 W/(m^2*K)", "region: top, h: $h"
    )
    assert edited.count("$h") == 2
    return write_case(edited + H_PARAMETER, "h_case.yaml")


def test_set_overrides_a_parameter(tmp_path, base_case, write_case, cli):
    """More convection cools the plate: T_A falls as --set h rises; summary records h in SI."""
    path = _h_case(write_case, base_case)
    t_a, h = [], []
    for setting in ("h=100 W/(m^2*K)", None, "h=1 kW/(m^2*K)"):
        out = tmp_path / str(setting)
        args = ["--set", setting] if setting else []
        r = cli("solve", path, "--no-plots", "--out", out, *args)
        assert r.returncode == 0, r.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["units"]["h"] == "W/(m^2*K)"
        h.append(summary["parameters"]["h"])
        t_a.append(summary["sensors"]["T_A"])
        assert not list(out.glob("*.png"))
    assert h == pytest.approx([100.0, 750.0, 1000.0])
    assert t_a[0] > t_a[1] > t_a[2]
    assert t_a[0] - t_a[2] > 10.0  # a real change, not round-off


def test_failed_solve_leaves_no_summary(tmp_path, base_case, write_case, cli):
    """A solve that stops with an error writes no summary.json, not even part of one."""
    path = write_case(base_case + "outputs:\n  fields: [pressure]\n")
    out = tmp_path / "out"
    r = cli("solve", path, "--no-plots", "--out", out)
    assert r.returncode == 2, r.output
    assert "outputs.fields" in r.stderr and "'pressure'" in r.stderr
    assert "temperature" in r.stderr  # what the model does have
    assert not (out / "summary.json").exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_solve_refuses_a_bad_case_before_writing(tmp_path, base_case, write_case, cli):
    path = write_case(base_case.replace("52 W/(m*K)", "52 W/(m*Kelvinz)"))
    out = tmp_path / "out"
    r = cli("solve", path, "--out", out)
    assert r.returncode == 2, r.output
    assert "materials.plate.conductivity" in r.stderr and "Kelvinz" in r.stderr
    assert not out.exists()
