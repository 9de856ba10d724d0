"""What a model returns: fields, quantities of interest, probe values and solver status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SolverStatus:
    converged: bool
    iterations: int
    seconds: float
    message: str = ""
    # a result that converged but needs a look (e.g. the motionless state of a convecting flow)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Result:
    """Output of one solve. Fields are dolfinx Functions; numbers are in SI units."""

    fields: dict[str, Any]
    qoi: dict[str, float]
    sensors: dict[str, float]
    units: dict[str, str]
    solver: SolverStatus
    parameters: dict[str, float] = field(default_factory=dict)
    # a transient run: "time" and each probe and QoI per step (from t = 0), SI
    history: dict[str, list[float]] = field(default_factory=dict)
