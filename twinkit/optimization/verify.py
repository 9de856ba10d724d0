"""FE verification of optimized designs: re-solve, compare with the surrogate, check the bounds.

A design is *verified* when the FE solve converges, every bound holds on the FE values, and each
objective's surrogate prediction is within `tolerance` (relative) of its FE value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinkit.case import LoadedCase
from twinkit.optimization.design_space import Problem


@dataclass
class FEOutcome:
    """Outputs of one FE solve (QoIs, probes and parameters by name, SI)."""

    values: dict[str, float]
    outputs: dict[str, float]
    converged: bool
    seconds: float
    message: str = ""
    result: Any = field(default=None, repr=False)  # the physics Result, when there is one
    worker: int | None = None  # solved by `fe_workers.FEWorkers`: the key its worker keeps it by


FESolve = Callable[[Mapping[str, float]], FEOutcome]


class CaseSolver:
    """Solves a case at given parameter values with `twinkit.solve.runner.CaseRunner` (serial)."""

    def __init__(self, loaded: LoadedCase):
        self.loaded = loaded
        self._runner: Any = None
        self.solves = 0

    def __call__(self, values: Mapping[str, float]) -> FEOutcome:
        if self._runner is None:
            from mpi4py import MPI

            from twinkit.solve.runner import CaseRunner

            self._runner = CaseRunner(self.loaded, MPI.COMM_SELF, anchored=True)
        t0 = time.perf_counter()
        r = self._runner.solve(dict(values))
        self.solves += 1
        outputs = dict(values) | r.qoi | r.sensors
        s = r.solver
        return FEOutcome(dict(values), outputs, s.converged, time.perf_counter() - t0, s.message, r)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def check_design(
    problem: Problem,
    design: Mapping[str, float],
    fe: FEOutcome,
    tolerance: float,
    prediction: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Prediction vs FE for every goal output of one design, and the verdict. The prediction is
    the surrogate's, or `prediction` ({output: (mean, std)}, e.g. the FE search's model before
    it solved the design)."""
    goals = problem.goals
    if prediction is None:
        mean, std = problem.predict([design])
        prediction = {o: (float(mean[o][0]), float(std[o][0])) for o in goals.outputs}
    rows: dict[str, Any] = {}
    for out in goals.outputs:
        got = fe.outputs.get(out) if fe.converged else None
        p_mean, p_std = (None if v != v else float(v) for v in prediction[out])  # NaN: none made
        rows[out] = {
            "predicted": p_mean,
            "std": p_std,
            "fe": got,
            "relative_error": None if got is None or p_mean is None else _relative(p_mean, got),
            "unit": goals.units.get(out, ""),
        }
    bounds = []
    for b in goals.bounds:
        v = rows[b.output]["fe"]
        ok = v is not None and (v <= b.value if b.kind == "max" else v >= b.value)
        bounds.append({"output": b.output, b.kind: b.value, "fe": v, "satisfied": bool(ok)})
    errors = [rows[o]["relative_error"] for o, _ in goals.objectives]
    accurate = fe.converged and all(e is not None and e <= tolerance for e in errors)
    return {
        "design": {n: float(design[n]) for n in problem.space},
        "outputs": rows,
        "bounds": bounds,
        "fe_converged": fe.converged,
        "fe_message": fe.message,
        "fe_seconds": round(fe.seconds, 3),
        "max_objective_error": max((e for e in errors if e is not None), default=None),
        "within_tolerance": bool(accurate),
        "feasible": bool(fe.converged and all(b["satisfied"] for b in bounds)),
        "verified": bool(accurate and all(b["satisfied"] for b in bounds)),
    }


def verify_designs(
    problem: Problem, designs: Sequence[Mapping[str, float]], solve: FESolve, tolerance: float
) -> tuple[list[dict[str, Any]], list[FEOutcome]]:
    """FE-solve each design and compare; returns the checks and the FE outcomes."""
    outcomes = [solve(problem.values(d)) for d in designs]
    checks = [
        check_design(problem, d, o, tolerance) for d, o in zip(designs, outcomes, strict=True)
    ]
    return checks, outcomes


def objective_gap(checks: Sequence[dict[str, Any]], objective: str) -> float | None:
    """Largest relative surrogate-vs-FE error of `objective` over the checks."""
    errs = [c["outputs"][objective]["relative_error"] for c in checks]
    errs = [e for e in errs if e is not None]
    return float(np.max(errs)) if errs else None
