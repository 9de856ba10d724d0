"""A test double of the Surrogate API: a cantilever beam (Euler–Bernoulli) with a known optimum.

Beam of length L, width w, thickness t, tip load F: mass = ρLwt, root stress σ = 6FL/(wt²),
tip deflection δ = 4FL³/(Ewt³). Minimizing the mass subject to σ ≤ σ_max and δ ≤ δ_max puts t at
its upper bound (both limits favour thickness at equal mass) and w where the active limit binds:
w* = max(6FL/(σ_max t²), 4FL³/(E δ_max t³)). `BEAM_CASE` is the same problem as a case file.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

L, E, RHO, F = 0.1, 210e9, 7850.0, 1000.0
SIGMA_MAX, DELTA_MAX = 150e6, 0.2e-3
T_RANGE, W_RANGE = (4e-3, 12e-3), (10e-3, 60e-3)

BEAM_CASE = """\
name: beam
model: elasticity
seed: 3
mesh: {generator: box, length: 0.1 m, width: $width, height: $thickness, cells: [8, 2, 2]}
parameters:
  thickness: {value: 8 mm, range: [4 mm, 12 mm], role: design}
  width: {value: 30 mm, range: [10 mm, 60 mm], role: design}
  load: {value: 1 kN, range: [0.5 kN, 2 kN], role: operating}
  stiffness: {value: 210 GPa, range: [150 GPa, 250 GPa], role: latent}
materials:
  steel: {youngs_modulus: $stiffness, poisson_ratio: 0.3, density: 7850 kg/m^3}
boundary_conditions:
  - {type: fixed, region: left}
  - {type: force, region: right, value: [0 N, 0 N, -$load]}
probes:
  tip: {point: [0.1 m, 0 m, 0 m], field: displacement_z}
outputs:
  qoi:
    mass: {type: mass}
    stress: {type: max_von_mises}
    deflection: {type: max_displacement}
optimization:
  objectives:
    - {output: mass, direction: minimize}
  constraints:
    - {output: stress, max: 150 MPa}
    - {output: deflection, max: 0.2 mm}
"""


def optimum(sigma_max: float = SIGMA_MAX, delta_max: float = DELTA_MAX) -> dict[str, float]:
    """The constrained minimum-mass design and its mass."""
    t = T_RANGE[1]
    w = max(6 * F * L / (sigma_max * t**2), 4 * F * L**3 / (E * delta_max * t**3))
    return {"thickness": t, "width": w, "mass": RHO * L * w * t}


class SurrogateRangeWarning(UserWarning):
    """An input outside the validity range."""


@dataclass
class Prediction:
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]


class BeamSurrogate:
    """Exact beam formulas; std = `relative_std` × |mean|; `bias` scales the deflection."""

    inputs = ["thickness", "width", "load", "stiffness"]
    input_units = {"thickness": "m", "width": "m", "load": "N", "stiffness": "Pa"}
    outputs = ["qoi_mass", "qoi_stress", "qoi_deflection", "sensor_tip"]
    fields: list[str] = []

    def __init__(self, relative_std: float = 0.01, bias: float = 1.0, bounds=None):
        self.relative_std = relative_std
        self.bias = bias
        self.bounds = bounds or {
            "thickness": T_RANGE,
            "width": W_RANGE,
            "load": (500.0, 2000.0),
            "stiffness": (150e9, 250e9),
        }
        self.calls = 0

    def _array(self, x: Mapping[str, float | np.ndarray] | np.ndarray) -> np.ndarray:
        if isinstance(x, Mapping):
            cols = [np.atleast_1d(np.asarray(x[n], dtype=float)) for n in self.inputs]
            return np.stack(np.broadcast_arrays(*cols), axis=1)
        return np.atleast_2d(np.asarray(x, dtype=float))

    def _formulas(self, x: np.ndarray) -> np.ndarray:
        t, w, f, e = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
        delta = self.bias * 4 * f * L**3 / (e * w * t**3)
        return np.stack([RHO * L * w * t, 6 * f * L / (w * t**2), delta, -delta], axis=1)

    def predict(self, x, strict: bool = False) -> Prediction:
        self.calls += 1
        a = self._array(x)
        lo = np.array([self.bounds[n][0] for n in self.inputs])
        hi = np.array([self.bounds[n][1] for n in self.inputs])
        if ((a < lo) | (a > hi)).any():
            if strict:
                raise ValueError("input outside the validity range")
            warnings.warn("input outside the validity range", SurrogateRangeWarning, stacklevel=2)
        y = self._formulas(a)
        return Prediction(
            {n: y[:, i] for i, n in enumerate(self.outputs)},
            {n: self.relative_std * np.abs(y[:, i]) for i, n in enumerate(self.outputs)},
        )

    def torch_scalar(self, x):
        import torch

        y = torch.as_tensor(self._formulas(x.detach().numpy()))
        return y, self.relative_std * y.abs()

    def save(self, path) -> None:
        raise NotImplementedError("a test double")
