"""Problem data shared by all models: probes, quantities of interest, linear-solver choice."""

from __future__ import annotations

from dataclasses import dataclass

from physics.params import Scalar


@dataclass(frozen=True)
class Probe:
    """A named point where a field is sampled (a sensor)."""

    name: str
    point: tuple[Scalar, ...]
    field: str = ""  # empty: the model's primary field


@dataclass(frozen=True)
class QoI:
    """A named scalar output: `kind` is model specific (e.g. max_temperature, max_von_mises)."""

    name: str
    kind: str
    region: str | None = None
    component: int | None = None


@dataclass(frozen=True)
class SolverOptions:
    """Numerics. `linear_solver`: auto (direct up to `direct_limit` DOFs), direct, iterative."""

    degree: int = 1
    linear_solver: str = "auto"
    direct_limit: int = 200_000
    rtol: float = 1e-10
    max_iterations: int = 50


def linear_solver_options(
    options: SolverOptions, ndofs: int, symmetric: bool, prefix: str = ""
) -> dict[str, object]:
    """PETSc KSP/PC options for the choice in `options` (MUMPS LU, or CG/GMRES + GAMG)."""
    direct = options.linear_solver == "direct" or (
        options.linear_solver == "auto" and ndofs <= options.direct_limit
    )
    if direct:
        return {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    return {
        "ksp_type": "cg" if symmetric else "gmres",
        "ksp_rtol": 1e-10,
        "ksp_max_it": 1000,
        "pc_type": "gamg",
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
    }
