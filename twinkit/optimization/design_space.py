"""The optimization problem on a surrogate: design space, fixed inputs, predictions of the goals.

Design parameters vary within their case range intersected with the surrogate's validity range
(so no design leaves it). Latent parameters are fixed at calibrated values when a calibration
summary exists (`runs/<case>/calibration/summary.json`, `estimates: {name: {value, std}}`), else at
their nominal values; operating and fixed parameters at nominal values or `--set` overrides.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase
from twinkit.optimization.goals import Goals


@dataclass(frozen=True)
class Dimension:
    """One design parameter: SI bounds, log scale."""

    lower: float
    upper: float
    log: bool


@dataclass
class Problem:
    """Goals over `space`, with every other parameter in `fixed` (SI); `sources` says why."""

    goals: Goals
    space: dict[str, Dimension]
    fixed: dict[str, float]
    sources: dict[str, str]
    surrogate: Any

    def values(self, design: Mapping[str, float]) -> dict[str, float]:
        """All parameter values (SI) of one design, for an FE solve."""
        return self.fixed | {n: float(design[n]) for n in self.space}

    def predict(
        self, designs: Sequence[Mapping[str, float]]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Surrogate mean and std (n,) of every goal output at `designs`."""
        s = self.surrogate
        n = len(designs)
        cols = {
            name: np.array([d[name] for d in designs], dtype=float)
            if name in self.space
            else np.full(n, self.fixed[name])
            for name in s.inputs
        }
        p = s.predict(np.stack([cols[name] for name in s.inputs], axis=1))
        mean, std = {}, {}
        for out in self.goals.outputs:
            if out in self.space:
                mean[out], std[out] = cols[out], np.zeros(n)
            else:
                key = surrogate_key(self.goals, out, s)
                mean[out] = np.asarray(p.mean[key], dtype=float).reshape(n)
                std[out] = np.asarray(p.std[key], dtype=float).reshape(n)
        return mean, std


def surrogate_key(goals: Goals, output: str, surrogate: Any) -> str:
    """The surrogate output holding case output `output` ('qoi_<name>' or 'sensor_<name>')."""
    for key in (f"qoi_{output}", f"sensor_{output}"):
        if key in surrogate.outputs:
            return key
    raise CaseError(
        f"the surrogate has no output for '{output}' (looked for qoi_{output}, sensor_{output}); "
        f"it predicts {', '.join(surrogate.outputs)}: retrain it on this case"
    )


def read_calibration(path: Path, loaded: LoadedCase) -> dict[str, float]:
    """Calibrated latent values from a calibration summary; {} if the file does not exist."""
    if not path.exists():
        return {}
    try:
        estimates = json.loads(path.read_text())["estimates"]
        out = {name: float(e["value"]) for name, e in estimates.items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CaseError(
            f"{path}: not a calibration summary (expected estimates: {{name: {{value, std}}}}): {e}"
        ) from None
    params = loaded.case.parameters
    for name, v in out.items():
        if name not in params or params[name].role != "latent":
            raise CaseError(f"{path}: estimates.{name}: not a latent parameter of {loaded.path}")
        if not math.isfinite(v):
            raise CaseError(f"{path}: estimates.{name}.value: {v} is not a number")
    return out


def build_problem(
    loaded: LoadedCase,
    goals: Goals,
    surrogate: Any,
    overrides: Mapping[str, str],
    calibration: Path,
) -> Problem:
    """Check the case against the surrogate and fix every non-design parameter. Without a
    surrogate (None: an FE-only search) the design space is the case's ranges."""
    case = loaded.case
    design = [n for n, p in case.parameters.items() if p.role == "design"]
    if not design:
        raise CaseError(f"{loaded.path}: parameters: no parameter has role design")
    for name in overrides:
        if name in design:
            raise CaseError(f"--set {name}: a design parameter; optimize chooses its value")
    fixed = case.parameter_values(overrides)
    sources = {n: "--set" if n in overrides else "nominal" for n in fixed}
    for name, v in read_calibration(calibration, loaded).items():
        if name not in overrides:
            fixed[name], sources[name] = v, f"calibration ({calibration})"
    inputs = surrogate.inputs if surrogate is not None else []
    unknown = [n for n in inputs if n not in case.parameters]
    if unknown:
        raise CaseError(
            f"the surrogate's inputs {unknown} are not parameters of {loaded.path}; "
            "was it trained on another case?"
        )
    space: dict[str, Dimension] = {}
    for name in design:
        p = case.parameters[name]
        lo, hi = p.bounds
        if surrogate is None:
            space[name] = Dimension(lo, hi, p.scale == "log")
            del fixed[name], sources[name]
            continue
        if name not in surrogate.inputs:
            raise CaseError(
                f"{loaded.path}: parameters.{name}: a design parameter the surrogate does not take "
                f"(its inputs: {', '.join(surrogate.inputs)}); retrain it with this one varied"
            )
        slo, shi = surrogate.bounds[name]
        lo, hi = max(lo, slo), min(hi, shi)
        if not lo < hi:
            raise CaseError(
                f"{loaded.path}: parameters.{name}: range {list(p.bounds)} and the surrogate's "
                f"validity range [{slo:.6g}, {shi:.6g}] do not overlap"
            )
        space[name] = Dimension(lo, hi, p.scale == "log")
        del fixed[name], sources[name]
    for name in inputs:
        if name in fixed:
            slo, shi = surrogate.bounds[name]
            if not slo <= fixed[name] <= shi:
                raise CaseError(
                    f"parameter {name} = {fixed[name]:.6g} ({sources[name]}) lies outside the "
                    f"surrogate's validity range [{slo:.6g}, {shi:.6g}]"
                )
    for out in goals.outputs:
        if out not in space and surrogate is not None:
            surrogate_key(goals, out, surrogate)
    return Problem(goals, space, fixed, sources, surrogate)
