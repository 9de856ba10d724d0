"""Heat conduction chains into elasticity through a case file (thermo_elasticity)."""

import pytest

from twinkit.case import load_case
from twinkit.solve.runner import CaseRunner

CASE = """
model: thermo_elasticity
parameters:
  T_hot: {value: 120 degC, range: [20 degC, 220 degC], role: operating}
mesh: {generator: rectangle, length: 1 m, height: 0.1 m, cells: [20, 2]}
materials:
  steel:
    youngs_modulus: 200 GPa
    poisson_ratio: 0.3
    thermal_expansion: 1.2e-5 1/K
    reference_temperature: 20 degC
    conductivity: 50 W/(m*K)
boundary_conditions:
  - {type: temperature, region: left, value: $T_hot}
  - {type: temperature, region: right, value: $T_hot}
  - {type: displacement, region: left, value: [0 m, null]}
  - {type: displacement, region: bottom, value: [null, 0 m]}
probes:
  end: {point: [1 m, 0.05 m], field: displacement_x}
  T_mid: {point: [0.5 m, 0.05 m], field: temperature}
outputs:
  qoi:
    vm: {type: max_von_mises}
    T_max: {type: max_temperature}
solver: {plane: stress}
"""


def test_uniform_heating_expands_freely(tmp_path):
    """Uniform ΔT on a bar free to expand: u(L) = α ΔT L and no stress (plane stress)."""
    path = tmp_path / "bar.yaml"
    path.write_text(CASE)
    runner = CaseRunner(load_case(path))
    for T_hot in (393.15, 493.15):
        r = runner.solve({"T_hot": T_hot})
        assert r.solver.converged
        dT = T_hot - 293.15
        assert r.sensors["T_mid"] == pytest.approx(T_hot, rel=1e-12)
        assert r.sensors["end"] == pytest.approx(1.2e-5 * dT * 1.0, rel=1e-8)
        assert r.qoi["vm"] < 1e-6 * 200e9 * 1.2e-5 * dT
        assert set(r.fields) == {"temperature", "displacement", "von_mises"}
