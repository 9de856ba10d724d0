"""What `twinkit optimize` optimizes: a case's objectives and constraints, evaluated.

`Goals.evaluate` turns predicted means and stds into objective values and constraint values `g`
(feasible when `g ≤ 0`; each divided by its bound's magnitude so that violations of different
outputs compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from twinkit.case import CaseError, LoadedCase, units
from twinkit.case.objectives import bound_unit, output_units


@dataclass(frozen=True)
class Bound:
    """`output` ≤ `value` (kind 'max') or ≥ `value` (kind 'min'), in SI `unit`."""

    output: str
    kind: str
    value: float
    unit: str
    text: str


@dataclass(frozen=True)
class Goals:
    """Objectives `(output, direction)` and bounds of a case; `robust` = k in mean ± k·std."""

    objectives: tuple[tuple[str, str], ...]
    bounds: tuple[Bound, ...]
    units: dict[str, str]
    robust: float = 0.0

    @classmethod
    def from_case(cls, loaded: LoadedCase, robust: float = 0.0) -> Goals:
        case = loaded.case
        spec = case.optimization
        if spec is None:
            raise CaseError(
                f"{loaded.path}: optimization: the case has no optimization section; add e.g. "
                "'optimization: {objectives: [{output: mass, direction: minimize}]}'"
            )
        if robust < 0:
            raise CaseError(f"--robust {robust}: expected k ≥ 0 (penalty k·std)")
        unit_of = {o.output: output_units(case, o.output)[0] for o in spec.objectives}
        bounds = []
        for c in spec.constraints:
            for kind, text in (("max", c.max), ("min", c.min)):
                if text is not None:
                    unit = bound_unit(text, output_units(case, c.output))
                    unit_of[c.output] = unit
                    bounds.append(Bound(c.output, kind, units.parse(text, unit), unit, str(text)))
        objectives = tuple((o.output, o.direction) for o in spec.objectives)
        return cls(objectives, tuple(bounds), unit_of, robust)

    @property
    def outputs(self) -> list[str]:
        """Every output the goals need, objectives first."""
        return list(
            dict.fromkeys([o for o, _ in self.objectives] + [b.output for b in self.bounds])
        )

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def evaluate(
        self, mean: Mapping[str, np.ndarray], std: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Objective values (n, n_objectives) and constraint values g (n, n_bounds), g ≤ 0 feasible.

        With `robust` = k, a minimized output counts as mean + k·std, a maximized one as
        mean − k·std, and each bound is checked on the pessimistic side.
        """
        k = self.robust
        sign = {"minimize": 1.0, "maximize": -1.0}
        f = np.stack([mean[o] + sign[d] * k * std[o] for o, d in self.objectives], axis=1)
        g = [
            (mean[b.output] + k * std[b.output] - b.value)
            if b.kind == "max"
            else (b.value - mean[b.output] + k * std[b.output])
            for b in self.bounds
        ]
        scale = [abs(b.value) or 1.0 for b in self.bounds]
        n = f.shape[0]
        return f, (np.stack(g, axis=1) / scale if g else np.zeros((n, 0)))
