"""A viscosity law times a factor of position (`viscosity.factor`, a depth term): it multiplies
η where the law is evaluated, and `validate` checks its dimension and sign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CASES = Path(__file__).parents[2] / "cases" / "benchmarks"
BLANKENBACH_1A = (CASES / "blankenbach_1a.yaml").read_text().replace("[32, 32]", "[8, 8]")
VISCOSITY = "viscosity: {law: constant, value: 1 Pa*s}"


def _vrms(cli, write_case, tmp_path, text: str, name: str) -> float:
    r = cli("solve", write_case(text, f"{name}.yaml"), "--out", tmp_path / name)
    assert r.returncode == 0, r.output
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["solver"]["converged"]
    return summary["qoi"]["vrms"]


def test_a_factor_scales_the_viscosity(cli, write_case, tmp_path):
    """Nondimensional Stokes: η → 2η with Ra → 2 Ra leaves u and T unchanged (the pressure
    doubles), so Vrms is the same to solver precision (ignoring the factor, Ra = 2e4 would
    convect about twice as fast)."""
    base = _vrms(cli, write_case, tmp_path, BLANKENBACH_1A, "base")
    doubled = BLANKENBACH_1A.replace("value: 1e4", "value: 2e4").replace(
        VISCOSITY, 'viscosity: {law: constant, value: 1 Pa*s, factor: "2 + 0 * y / (1 m)"}'
    )
    assert _vrms(cli, write_case, tmp_path, doubled, "doubled") == pytest.approx(base, rel=1e-6)


@pytest.mark.parametrize(
    ("factor", "message"),
    [
        ('"exp(log(64) * y)"', "exp() needs a dimensionless argument"),
        ('"1 - 2 * y / (1 m)"', "expected a positive value"),
        ('"exp(t / (1 s))"', "t is not known here"),
        ("{table: f.csv, unit: '1'}", "a table in time does not apply here"),
    ],
)
def test_validate_refuses_a_bad_factor(cli, write_case, factor, message):
    text = BLANKENBACH_1A.replace(
        VISCOSITY, f"viscosity: {{law: constant, value: 1 Pa*s, factor: {factor}}}"
    )
    r = cli("validate", write_case(text))
    assert r.returncode == 2, r.output
    assert "materials.fluid.viscosity" in r.output and "factor" in r.output
    assert message in r.output
