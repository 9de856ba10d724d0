"""What a case's values must satisfy beyond their own key: a parameter's range within the rule of
every key that refers to it (a `$k` conductivity must stay positive), probe points with one
coordinate per mesh dimension, a consistent geometry, and the cost of a solve under
`solver.limits` (estimated cells and time steps), all checked before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twinkit.case.base import Q, rule_error
from twinkit.case.mesh import (
    GENERATOR_GDIM,
    BoxMesh,
    BracketMesh,
    FurnaceMesh,
    IntervalMesh,
    PlateWithHoleMesh,
    QuarterAnnulusMesh,
    RectangleMesh,
)
from twinkit.case.spec import CaseSpec, quantities
from twinkit.case.units import clip

# cells per unit area (volume) at element size h: 2.3/h² for triangles (equilateral: √3/4 h²
# each), 8.5/h³ for tetrahedra (regular: h³/(6√2) each); an estimate, not a count
TRIANGLES, TETRAHEDRA = 2.3, 8.5
BRACKET_DEFAULTS = {"width": 0.04, "base_length": 0.06, "height": 0.06}  # physics.bracket


def reference_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Keys whose parameter can take a value that the key's rule refuses."""
    errors = []
    for path, q in quantities(case):
        p = case.parameters.get(q.param) if q.param is not None else None
        if p is None or q.rule == "finite":
            continue
        for v in sorted({q.sign * p.bounds[0], q.sign * p.bounds[1], q.sign * p.si}):
            problem = rule_error(q.rule, v, q.unit)
            if problem:
                errors.append((path, f"'{clip(q.text)}': parameter '{q.param}' can be {v:.6g}; "
                               + problem.split(";")[0]))  # fmt: skip
                break
    return errors


def probe_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Probe points of a generated mesh have one coordinate per dimension (file meshes: checked
    when the mesh is read)."""
    gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
    if not gdim:
        return []
    return [
        (f"probes.{name}.point", f"has {len(p.point)} coordinates; the mesh is {gdim}D")
        for name, p in case.probes.items()
        if len(p.point) != gdim
    ]


def _extremes(case: CaseSpec) -> tuple[Callable[[Q | None], float], Callable[[Q | None], float]]:
    """(largest, smallest) value a quantity can take over its parameter's range (NaN if unknown)."""

    def values(q: Q | None) -> list[float]:
        if q is None:
            return [math.nan]
        if q.param is None:
            return [q.si if q.si is not None else math.nan]
        p = case.parameters.get(q.param)
        return [math.nan] if p is None else [q.sign * b for b in p.bounds]

    return (lambda q: max(values(q))), (lambda q: min(values(q)))


def _below(a: float, b: float) -> bool:
    return math.isnan(a) or math.isnan(b) or a < b  # NaN: a bad reference, reported elsewhere


def geometry_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Generated geometries that cannot be built (a hole wider than the plate ...)."""
    m = case.mesh
    hi, lo = _extremes(case)
    errors = []
    if isinstance(m, QuarterAnnulusMesh) and not _below(hi(m.inner_radius), lo(m.outer_radius)):
        errors.append(("mesh.inner_radius", "must be smaller than outer_radius"))
    if isinstance(m, PlateWithHoleMesh) and not _below(
        hi(m.radius), min(lo(m.width), lo(m.height))
    ):
        errors.append(("mesh.radius", "must be smaller than the plate's width and height"))
    return errors


def _per(amount: float, size: float, dim: int) -> float:
    """amount / size**dim without overflow or division by zero (inf when huge)."""
    try:
        return amount / size**dim if size > 0 else math.inf
    except (OverflowError, ZeroDivisionError):
        return math.inf


def _count(n: int) -> float:
    return float(min(n, 10**300))


def estimated_cells(case: CaseSpec) -> tuple[str, float] | None:
    """(key, cells) a generated mesh has at most about (parameters at their worst); None for a
    mesh file (read with its size when solved)."""
    m = case.mesh
    hi, lo = _extremes(case)
    if isinstance(m, IntervalMesh):
        return "mesh.cells", _count(m.cells)
    if isinstance(m, RectangleMesh):
        return "mesh.cells", _count(math.prod(m.cells) * (2 if m.cell_type == "triangle" else 1))
    if isinstance(m, BoxMesh):
        return "mesh.cells", _count(math.prod(m.cells) * (6 if m.cell_type == "tetrahedron" else 1))
    if isinstance(m, PlateWithHoleMesh):
        r, w, h, size = hi(m.radius), hi(m.width), hi(m.height), lo(m.size)
        fine = lo(m.hole_size) if m.hole_size is not None else size / 5
        d = max(min(w, h) - r, 0.0) / 2  # the hole's size grows to `size` over this distance
        zone = math.pi / 4 * (r + d + r) * d
        return "mesh.size", TRIANGLES * (_per(w * h, size, 2) + _per(zone, fine, 2))
    if isinstance(m, QuarterAnnulusMesh):
        ro, ri = hi(m.outer_radius), lo(m.inner_radius)
        return "mesh.size", TRIANGLES * _per(math.pi / 4 * (ro + ri) * (ro - ri), lo(m.size), 2)
    if isinstance(m, BracketMesh):
        dims = {k: hi(getattr(m, k)) if getattr(m, k) else v for k, v in BRACKET_DEFAULTS.items()}
        volume = dims["width"] * hi(m.thickness) * (dims["base_length"] + dims["height"])
        return "mesh.size", TETRAHEDRA * _per(volume, lo(m.size), 3)
    if isinstance(m, FurnaceMesh):
        return "mesh.size", TRIANGLES * _per(hi(m.length) * hi(m.depth), lo(m.size), 2)
    return None


def cost_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """A mesh or a time stepping beyond `solver.limits`."""
    limits = case.solver.limits
    errors = []
    found = estimated_cells(case)
    if found is not None and found[1] > limits.max_cells:  # NaN (a bad reference) passes
        key, n = found
        errors.append(
            (key, f"makes about {n:.3g} cells, more than solver.limits.max_cells "
             f"({limits.max_cells:,}); raise that limit for a mesh this fine")
        )  # fmt: skip
    t = case.solver.time
    if t is not None and t.steps > limits.max_steps:
        errors.append(
            ("solver.time.steps", f"{t.steps:,} steps, more than solver.limits.max_steps "
             f"({limits.max_steps:,}); raise that limit for this many")
        )  # fmt: skip
    return errors


def bounds_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Every check of this module."""
    return reference_errors(case) + probe_errors(case) + geometry_errors(case) + cost_errors(case)
