"""Regions a case names: each exists in the mesh and has a dimension its use allows.

A constraint (a fixed temperature, a fixed or prescribed displacement) may hold a facet region or,
from a mesh file, a gmsh physical curve or point (an edge or a point of a 3D mesh, a point of a 2D
one). Loads and fluxes (heat flux, convection, radiation, traction, pressure, force) act on facets;
materials and volume loads on cells. Generators name facet and cell regions only.
"""

from __future__ import annotations

from typing import Any

from twinkit.case.base import CaseError
from twinkit.case.mesh import GENERATOR_REGIONS, FileMesh
from twinkit.case.units import clip

CONSTRAINTS = ("temperature", "fixed", "displacement")  # Dirichlet conditions
FLOW_MODELS = ("glass_flow", "glass_furnace")  # slip conditions need a facet's normal
REACTIONS = ("reaction_force", "heat_flow")  # QoIs read on a constraint's region
KIND = {0: "point", 1: "curve", 2: "surface", 3: "volume"}


def mesh_region_dims(loaded: Any) -> dict[str, int | None]:
    """Region names the mesh will have; dimension known for files, None for generators."""
    m = loaded.case.mesh
    if isinstance(m, FileMesh):
        f = loaded.mesh_file()
        assert f is not None
        if not f.is_file():
            raise CaseError(
                f"{loaded.path}: mesh.file: '{clip(m.file, 200)}': mesh file not found at {f}"
            )
        from twinkit.physics.domain import MeshError, region_names

        try:
            return dict(region_names(f))
        except MeshError as e:
            raise CaseError(f"{loaded.path}: mesh.file: {e}") from None
    return {r: None for r in GENERATOR_REGIONS[m.generator]}


def _uses(case: Any) -> list[tuple[str, str, str]]:
    """(key, region, what it needs: 'constraint', 'facet', 'cell' or 'boundary') per region."""
    used: list[tuple[str, str, str]] = []
    flow = case.model in FLOW_MODELS
    for i, bc in enumerate(case.boundary_conditions):
        need = "constraint" if bc.type in CONSTRAINTS and not flow else "facet"
        used.append((f"boundary_conditions[{i}].region", bc.region, need))
    for i, ld in enumerate(case.loads):
        if getattr(ld, "region", None):
            used.append((f"loads[{i}].region", str(ld.region), "cell"))
    for name, mat in case.materials.items():
        for j, r in enumerate(mat.regions or ()):
            used.append((f"materials.{name}.regions[{j}]", r, "cell"))
    for name, q in case.outputs.qoi.items():
        if q.region:
            need = "constraint" if q.type in REACTIONS else "boundary"
            used.append((f"outputs.qoi.{name}.region", q.region, need))
    return used


def _allowed(need: str, tdim: int) -> set[int]:
    return {
        "constraint": set(range(tdim)),
        "facet": {tdim - 1},
        "cell": {tdim},
        "boundary": {tdim - 1, tdim},
    }[need]


def _dimension_error(key: str, region: str, d: int, need: str, tdim: int, what: str) -> str:
    allowed = sorted(_allowed(need, tdim))
    wants = " or ".join(f"{KIND[a]} (dimension {a})" for a in allowed)
    return (
        f"{key}: region '{clip(region)}' is a {KIND[d]} (dimension {d}) of the {tdim}D mesh; "
        f"{what} needs a {wants} region"
    )


def check_mesh_regions(loaded: Any) -> None:
    """Every region named in the case exists in the mesh, with a dimension its use allows."""
    regions = mesh_region_dims(loaded)
    case = loaded.case
    have = clip(sorted(regions), 300)
    dims = [d for d in regions.values() if d is not None]
    tdim = max(dims, default=0)
    flow = case.model in FLOW_MODELS
    bad = []
    for key, r, need in _uses(case):
        if r not in regions:
            if r != "domain":
                bad.append(
                    f"{loaded.path}: {key}: region '{clip(r)}' is not in the mesh; it has {have}"
                )
            continue
        d = regions[r]
        if d is None or d in _allowed(need, tdim):
            continue
        what = {
            "constraint": "a constraint",
            "facet": f"a {case.model} boundary condition" if flow else "a load or flux",
            "cell": "a material or volume load",
            "boundary": "this QoI",
        }[need]
        bad.append(f"{loaded.path}: " + _dimension_error(key, r, d, need, tdim, what))
    if len(bad) > 20:
        bad = bad[:20] + [f"{loaded.path}: ... and {len(bad) - 20} more regions not in the mesh"]
    if bad:
        raise CaseError("\n".join(bad))
