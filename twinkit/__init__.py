"""twinkit: physics-based product twins from case files.

A notebook starts with ``import twinkit as tk``::

    case = tk.load_case("cases/furnace.yaml")
    res = case.solve(crown_peak_temperature="1620 degC")
    sweep = case.sample(32, test=8, workers=2)
    sur = tk.train(sweep)
    cal = tk.calibrate(case, sur, "cases/furnace_sensors.csv")
    best = tk.optimize(case, sur, trials=200, verify=True)

The names below load their modules on first use, so ``import twinkit`` and ``twinkit --help``
stay fast. The command line (`twinkit.cli`) is a thin layer over the same functions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twinkit.version import __version__

_API = {
    "Case": "twinkit.api.case",
    "Result": "twinkit.api.case",
    "load_case": "twinkit.api.case",
    "Sweep": "twinkit.api.sweep",
    "Surrogate": "twinkit.api.surrogate",
    "Prediction": "twinkit.api.surrogate",
    "train": "twinkit.api.surrogate",
    "load_surrogate": "twinkit.api.surrogate",
    "Calibration": "twinkit.api.twin",
    "calibrate": "twinkit.api.twin",
    "TwinState": "twinkit.api.twin",
    "load_twin_state": "twinkit.api.twin",
    "history": "twinkit.api.history",
    "field_history": "twinkit.api.history",
    "field_at": "twinkit.api.history",
    "OptimizationResult": "twinkit.api.optimize",
    "optimize": "twinkit.api.optimize",
    "RunResult": "twinkit.api.run",
    "run": "twinkit.api.run",
    "example": "twinkit.api.run",
    "CaseError": "twinkit.case",
}
__all__ = [
    "Calibration",
    "Case",
    "CaseError",
    "OptimizationResult",
    "Prediction",
    "Result",
    "RunResult",
    "Surrogate",
    "Sweep",
    "TwinState",
    "__version__",
    "calibrate",
    "example",
    "field_at",
    "field_history",
    "history",
    "load_case",
    "load_surrogate",
    "load_twin_state",
    "optimize",
    "run",
    "train",
]

if TYPE_CHECKING:
    from twinkit.api.case import Case, Result, load_case
    from twinkit.api.history import field_at, field_history, history
    from twinkit.api.optimize import OptimizationResult, optimize
    from twinkit.api.run import RunResult, example, run
    from twinkit.api.surrogate import Prediction, Surrogate, load_surrogate, train
    from twinkit.api.sweep import Sweep
    from twinkit.api.twin import Calibration, TwinState, calibrate, load_twin_state
    from twinkit.case import CaseError


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'twinkit' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
