"""A test double of the Surrogate API that is exact for a 1D slab (and so equals its FE solution).

Slab 0 ≤ x ≤ L, heat flux q into x = 0, convection h to ambient T_a at x = L, conductivity k:
T(x) = T_a + q/h + q (L − x)/k, linear, so P1 finite elements reproduce it at the nodes.
`SLAB_CASE` is the same problem as a case file; the calibration and live tests use both.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

L, T_AMBIENT = 0.5, 300.0
PROBES = {"T0": 0.0, "T1": 0.125, "T2": 0.25, "T3": 0.375, "T4": 0.5}

SLAB_CASE = """\
name: slab
model: heat_conduction
mesh: {generator: interval, length: 0.5 m, cells: 8}
parameters:
  power: {value: 2 kW/m^2, range: [1 kW/m^2, 3 kW/m^2], role: operating}
  k: {value: 10 W/(m*K), range: [5 W/(m*K), 20 W/(m*K)], role: latent}
  h: {value: 50 W/(m^2*K), range: [20 W/(m^2*K), 120 W/(m^2*K)], role: latent, scale: log}
materials:
  wall: {conductivity: $k}
boundary_conditions:
  - {type: heat_flux, region: left, value: $power}
  - {type: convection, region: right, h: $h, ambient: 300 K}
probes:
  T0: {point: [0 m]}
  T1: {point: [0.125 m]}
  T2: {point: [0.25 m]}
  T3: {point: [0.375 m]}
  T4: {point: [0.5 m]}
outputs:
  qoi:
    T_max: {type: max_temperature}
  plots: false
"""
# the slab's sensor rules (live twin tests) and the plant's starting point
SLAB_SENSORS = """\
sensors:
  T0: {range: [250 K, 1000 K], stuck: 5 min}
  T1: {range: [250 K, 1000 K], stuck: 5 min}
  T2: {range: [250 K, 1000 K], stuck: 5 min}
  T3: {range: [250 K, 1000 K], stuck: 5 min}
  T4: {range: [250 K, 1000 K], stuck: 5 min}
  power: {range: [0 W/m^2, 10 kW/m^2]}
"""
SLAB_START = {"power": 1800.0, "k": 12.0, "h": 60.0}


class SurrogateRangeWarning(UserWarning):
    """An input outside the validity range."""


@dataclass
class Prediction:
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]


class SlabSurrogate:
    """Exact slab temperatures with a constant predictive std `model_std` (K)."""

    inputs = ["power", "k", "h"]
    input_units = {"power": "W/m^2", "k": "W/(m*K)", "h": "W/(m^2*K)"}
    bounds = {"power": (1e3, 3e3), "k": (5.0, 20.0), "h": (20.0, 120.0)}
    outputs = ["qoi_T_max", *(f"sensor_{p}" for p in PROBES)]
    fields = ["temperature"]

    def __init__(self, model_std: float = 0.05, nodes: int = 9):
        self.model_std = model_std
        self.node_x = np.linspace(0.0, L, nodes)
        self._x = np.array([0.0, *PROBES.values()])

    def torch_scalar(self, x):  # torch.Tensor (n, 3) → mean, std (n, 6)
        import torch

        q, k, h = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        mean = T_AMBIENT + q / h + q * (L - torch.as_tensor(self._x)) / k
        return mean, torch.full_like(mean, self.model_std)

    def _array(self, x: Mapping[str, float | np.ndarray] | np.ndarray) -> np.ndarray:
        if isinstance(x, Mapping):
            cols = [np.atleast_1d(np.asarray(x[n], dtype=float)) for n in self.inputs]
            return np.stack(np.broadcast_arrays(*cols), axis=1)
        return np.atleast_2d(np.asarray(x, dtype=float))

    def predict(self, x, strict: bool = False) -> Prediction:
        import torch

        a = self._array(x)
        lo, hi = np.array([self.bounds[n] for n in self.inputs]).T
        if np.any((a < lo) | (a > hi)):
            if strict:
                raise ValueError("input outside the surrogate's validity range")
            warnings.warn("input outside the validity range", SurrogateRangeWarning, stacklevel=2)
        with torch.no_grad():
            m, s = self.torch_scalar(torch.as_tensor(a, dtype=torch.float64))
        mean = {o: m[:, i].numpy() for i, o in enumerate(self.outputs)}
        std = {o: s[:, i].numpy() for i, o in enumerate(self.outputs)}
        q, k, h = a[:, :1], a[:, 1:2], a[:, 2:3]
        mean["temperature"] = T_AMBIENT + q / h + q * (L - self.node_x) / k
        std["temperature"] = np.full_like(mean["temperature"], self.model_std)
        return Prediction(mean, std)

    def truth(self, power: float, k: float, h: float) -> dict[str, float]:
        """Sensor values (probe names) at one point."""
        return {p: T_AMBIENT + power / h + power * (L - x) / k for p, x in PROBES.items()}
