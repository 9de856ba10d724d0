"""A glass flow at rest far above the onset of convection: left by a perturbed start, else
reported (converged, with a warning on the console and in summary.json)."""

import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "cases" / "benchmarks"


def _case(tmp_path: Path, nominal_ra: float, hot: str = "bottom") -> Path:
    """Blankenbach 1a on 16×16 cells without its initial perturbation, nominal Ra given."""
    text = (BENCHMARKS / "blankenbach_1a.yaml").read_text()
    text = text.replace("value: 1e4, description", f"value: {nominal_ra:g}, description")
    text = text.replace("cells: [32, 32]", "cells: [16, 16]")
    text = "\n".join(line for line in text.splitlines() if "initial_perturbation" not in line)
    if hot == "top":
        text = text.replace("region: bottom, value: 1 K", "region: bottom, value: 0 K")
        text = text.replace("region: top, value: 0 K", "region: top, value: 1 K")
    path = tmp_path / "cell.yaml"
    path.write_text(text)
    return path


def _solve(cli, path: Path, *options: str) -> tuple[dict, str]:
    r = cli("solve", path, "--out", path.parent / "out", "--no-plots", *options)
    assert r.returncode == 0, r.output
    return json.loads((path.parent / "out" / "summary.json").read_text()), r.output


def test_a_warm_start_from_below_onset_leaves_rest(tmp_path, cli):
    """Anchored at Ra = 500 (below onset: rest is right there), the solve at Ra = 1e4 starts at
    rest, which solves the equations exactly; the perturbed start finds the convecting cell."""
    s, _ = _solve(cli, _case(tmp_path, 500), "--set", "Ra=1e4")
    assert s["solver"]["converged"] and s["solver"]["warnings"] == []
    assert s["qoi"]["Nu"] == pytest.approx(4.884409, rel=5e-3)
    assert s["qoi"]["vrms"] == pytest.approx(42.864947, rel=5e-3)


def test_rest_that_a_perturbation_does_not_leave_is_reported(tmp_path, cli, monkeypatch):
    monkeypatch.setattr("twinkit.physics.glass_flow.solver.perturb", lambda model: None)
    s, out = _solve(cli, _case(tmp_path, 500), "--set", "Ra=1e4")
    assert s["solver"]["converged"]
    assert s["qoi"]["Nu"] == pytest.approx(1.0, abs=1e-3)
    (warning,) = s["solver"]["warnings"]
    assert "the flow is at rest" in warning and "Rayleigh number of about 1e+04" in warning
    assert "warning: the flow is at rest" in out


@pytest.mark.parametrize(("ra", "hot"), [(500, "bottom"), (1e5, "top")])
def test_rest_where_it_is_stable_is_not_reported(tmp_path, cli, ra, hot):
    """Below onset, or heated from above at any Ra, rest is the answer: no warning."""
    s, _ = _solve(cli, _case(tmp_path, ra, hot))
    assert s["solver"]["warnings"] == []
    assert abs(s["qoi"]["Nu"]) == pytest.approx(1.0, abs=1e-3)
