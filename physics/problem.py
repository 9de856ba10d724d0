"""Problem data shared by all models: probes, quantities of interest, linear-solver choice."""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any

from twinkit.physics.params import Scalar


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
    field: str = ""  # kinds max, min, mean, point: the field they read
    point: tuple[Scalar, ...] | None = None  # kind point


@dataclass(frozen=True)
class SolverOptions:
    """Numerics. `linear_solver`: auto (direct up to `direct_limit` DOFs), direct, iterative."""

    degree: int = 1
    linear_solver: str = "auto"
    direct_limit: int = 200_000  # 2D; in 3D LU fill-in grows faster than CG+GAMG work
    direct_limit_3d: int = 50_000
    rtol: float = 1e-10
    max_iterations: int = 50


def linear_solver_options(
    options: SolverOptions, ndofs: int, symmetric: bool, tdim: int = 2
) -> dict[str, object]:
    """PETSc KSP/PC options for the choice in `options` (MUMPS LU, or CG/GMRES + GAMG)."""
    limit = options.direct_limit_3d if tdim == 3 else options.direct_limit
    direct = options.linear_solver == "direct" or (
        options.linear_solver == "auto" and ndofs <= limit
    )
    if direct:
        return {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    return {
        "ksp_type": "cg" if symmetric else "gmres",
        "ksp_rtol": 1e-8,  # 1e-10 costs ~30 % more iterations for no visible change in results
        "ksp_max_it": 1000,
        "pc_type": "gamg",
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
    }


# ICNTL(14), MUMPS's workspace over its estimate in %, is doubled up to this after a factorisation
# that ran out of it (INFOG(1) = -9). blankenbach_2b's jump to the full viscosity contrast needed
# more than the 200 % the glass-flow solver starts with on one machine (AMD EPYC) and not on
# others, with the same wheels: pivoting on a saddle point follows round-off. Before, every later
# factorisation failed too (MUMPS keeps its analysis) and the solve with them
MUMPS_WORKSPACE_MAX = 3200


def more_mumps_workspace(ksp: Any) -> bool:
    """After `ksp`'s LU factorisation failed for want of workspace (MUMPS INFOG(1) = -9 or -8):
    double ICNTL(14), the workspace's relaxation in % of the estimate, and have the next solve
    start the factorisation afresh (analysis included: MUMPS sizes its workspace there). False
    if it was not that, or the workspace is at `MUMPS_WORKSPACE_MAX`: then retrying is no use."""
    from petsc4py import PETSc

    if ksp.getConvergedReason() != PETSc.KSP.ConvergedReason.DIVERGED_PCSETUP_FAILED:
        return False
    pc = ksp.getPC()
    try:
        factor = pc.getFactorMatrix()
        if factor.getMumpsInfog(1) not in (-8, -9):
            return False
        relax = factor.getMumpsIcntl(14)
    except Exception:  # noqa: BLE001 - not MUMPS: nothing to grow
        return False
    if relax >= MUMPS_WORKSPACE_MAX:
        return False
    grown = min(2 * max(relax, 20), MUMPS_WORKSPACE_MAX)
    PETSc.Options()[f"{pc.getOptionsPrefix() or ''}mat_mumps_icntl_14"] = grown
    pc.reset()  # the next solve makes a new factor matrix, which reads the option
    return True


_counter = itertools.count()


def petsc_prefix(owner: object, name: str) -> str:
    """A unique PETSc options prefix for `owner`; its options are removed when `owner` dies.

    dolfinx leaves a problem's options in PETSc's global database, and prefixes built from
    `id()` can be recycled, so a later model could inherit stale options.
    """
    prefix = f"twinkit_{name}_{next(_counter)}_"
    weakref.finalize(owner, _forget_options, prefix)
    return prefix


def _forget_options(prefix: str) -> None:
    try:
        from petsc4py import PETSc

        opts = PETSc.Options()
        for key in list(opts.getAll()):
            if key.startswith(prefix):
                opts.delValue(key)
    except Exception:  # interpreter shutdown: nothing left to clean
        pass
