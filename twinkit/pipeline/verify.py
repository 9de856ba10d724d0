"""The verify stage of `twinkit run`: FE re-solve of the designs an optimisation chose.

Reads `OUT/optimize/summary.json`. When its FE search solved the best design, its check and
picture are taken as they are (a design is never solved twice). Otherwise it rebuilds the same
problem (surrogate, calibrated latent values) and solves each chosen design with FE
(`twinkit.optimization.verify.verify_designs`). Writes `OUT/verify/summary.json` with predicted
vs FE per goal output, and a picture of the best design's main field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from twinkit.case import LoadedCase
from twinkit.case.display import DisplayUnits
from twinkit.files import write_json
from twinkit.version import __version__


def verify_best(
    loaded: LoadedCase, out: Path, calibration: Path, tolerance: float
) -> dict[str, Any]:
    """Verify the designs of `out/optimize/summary.json`; returns the written summary."""
    from twinkit.optimization.design_space import build_problem
    from twinkit.optimization.goals import Goals
    from twinkit.optimization.plots import plot_design_field
    from twinkit.optimization.verify import CaseSolver, verify_designs
    from twinkit.training import read_surrogate

    optimized = json.loads((out / "optimize" / "summary.json").read_text())
    chosen = optimized["best"]
    surrogate_path = out / "surrogate.pt"  # the one the designs were chosen on
    folder = out / "verify"
    folder.mkdir(parents=True, exist_ok=True)
    checks: list[dict[str, Any]] = []
    files: list[str] = []
    if chosen and optimized.get("fe", {}).get("solves"):
        # the FE search solved its best design already: its check and picture, no new solve
        checks = [d["verification"] for d in chosen]
        for name in optimized["files"]:
            if name not in ("history.png", "pareto.png"):
                shutil.copyfile(out / "optimize" / name, folder / name)
                files.append(name)
    elif chosen:
        surrogate = read_surrogate(surrogate_path)
        problem = build_problem(loaded, Goals.from_case(loaded), surrogate, {}, calibration)
        designs = [d["design"] for d in chosen]
        checks, outcomes = verify_designs(problem, designs, CaseSolver(loaded), tolerance)
        best = outcomes[0]
        if best.converged and best.result is not None:
            files = plot_design_field(best.result, folder, DisplayUnits.from_case(loaded.case))
    summary = {
        "case": loaded.name,
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "tolerance": tolerance,
        "checks": checks,
        "verified": bool(checks) and all(c["verified"] for c in checks),
        "files": files,
    }
    write_json(folder / "summary.json", summary)
    return summary
