"""2D benchmark geometries meshed with gmsh (OpenCASCADE kernel, built on rank 0).

Each returns a RegionMesh with named facet regions and the cell region ``domain``. ``order=2``
gives curved (quadratic) cells, so that a curved boundary does not limit the convergence rate
of P2 elements.
"""

from __future__ import annotations

from mpi4py import MPI

from twinkit.physics.domain import ALL_CELLS, MeshError, RegionMesh, gmsh_model_to_regionmesh


def plate_with_hole(
    width: float,
    height: float,
    radius: float,
    size: float,
    hole_size: float | None = None,
    order: int = 1,
    comm=MPI.COMM_WORLD,
) -> RegionMesh:
    """Quarter plate [0, width] x [0, height] minus the quarter disk r < radius at the origin.

    Facet regions: ``left`` (x = 0, symmetry), ``bottom`` (y = 0, symmetry), ``right``
    (x = width), ``top`` (y = height), ``hole``. The element size grows from ``hole_size``
    (default size/5) at the hole to ``size`` at a distance of half the ligament.
    """
    if not 0 < radius < min(width, height):
        raise MeshError(f"plate_with_hole: radius={radius} must lie in (0, min(width, height))")
    _check_size("plate_with_hole", size, order)
    hole_size = size / 5 if hole_size is None else hole_size
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    with gmsh_session():
        if comm.rank == 0:
            occ = gmsh.model.occ
            plate = occ.addRectangle(0, 0, 0, width, height)
            disk = occ.addDisk(0, 0, 0, radius, radius)
            (_, surf), *_ = occ.cut([(2, plate)], [(2, disk)])[0]
            occ.synchronize()
            lines = {
                "left": _curve_on(gmsh, lambda x, y: abs(x) < 1e-9 * width),
                "bottom": _curve_on(gmsh, lambda x, y: abs(y) < 1e-9 * height),
                "right": _curve_on(gmsh, lambda x, y: abs(x - width) < 1e-9 * width),
                "top": _curve_on(gmsh, lambda x, y: abs(y - height) < 1e-9 * height),
                "hole": _curve_on(
                    gmsh, lambda x, y: abs(x * x + y * y - radius**2) < 1e-9 * radius**2
                ),
            }
            _name_groups(gmsh, lines, [surf], dim=2)
            ligament = min(width, height) - radius
            _graded(gmsh, lines["hole"], hole_size, size, ligament / 2, dim=1)
            _generate(gmsh, 2, order)
        return gmsh_model_to_regionmesh(gmsh, 2, comm, "plate_with_hole")


def quarter_annulus(
    inner_radius: float, outer_radius: float, size: float, order: int = 1, comm=MPI.COMM_WORLD
) -> RegionMesh:
    """Quarter of the ring inner_radius < r < outer_radius, x, y >= 0, uniform element size.

    Facet regions: ``inner``, ``outer``, ``left`` (x = 0), ``bottom`` (y = 0).
    """
    if not 0 < inner_radius < outer_radius:
        raise MeshError(
            f"quarter_annulus: need 0 < inner_radius ({inner_radius}) < outer_radius "
            f"({outer_radius})"
        )
    _check_size("quarter_annulus", size, order)
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    a, b = inner_radius, outer_radius
    with gmsh_session():
        if comm.rank == 0:
            occ = gmsh.model.occ
            ring = occ.cut([(2, occ.addDisk(0, 0, 0, b, b))], [(2, occ.addDisk(0, 0, 0, a, a))])[0]
            quarter = occ.addRectangle(0, 0, 0, b, b)
            (_, surf), *_ = occ.intersect(ring, [(2, quarter)])[0]
            occ.synchronize()
            lines = {
                "inner": _curve_on(gmsh, lambda x, y: abs(x * x + y * y - a * a) < 1e-9 * b * b),
                "outer": _curve_on(gmsh, lambda x, y: abs(x * x + y * y - b * b) < 1e-9 * b * b),
                "left": _curve_on(gmsh, lambda x, y: abs(x) < 1e-9 * b),
                "bottom": _curve_on(gmsh, lambda x, y: abs(y) < 1e-9 * b),
            }
            _name_groups(gmsh, lines, [surf], dim=2)
            gmsh.option.setNumber("Mesh.MeshSizeMax", size)
            gmsh.option.setNumber("Mesh.MeshSizeMin", size)
            _generate(gmsh, 2, order)
        return gmsh_model_to_regionmesh(gmsh, 2, comm, "quarter_annulus")


# ---- helpers shared with physics.bracket --------------------------------------------------


def _check_size(what: str, size: float, order: int) -> None:
    if not size > 0:
        raise MeshError(f"{what}: size={size} must be positive")
    if order not in (1, 2):
        raise MeshError(f"{what}: order={order} must be 1 or 2")


def _curve_on(gmsh, predicate) -> list[int]:
    """Boundary curves whose midpoint satisfies predicate(x, y)."""
    out = []
    for _, tag in gmsh.model.getEntities(1):
        lo, hi = gmsh.model.getParametrizationBounds(1, tag)
        x, y, _ = gmsh.model.getValue(1, tag, [(lo[0] + hi[0]) / 2])
        if predicate(x, y):
            out.append(tag)
    if not out:
        raise MeshError("gmsh geometry: a boundary region has no curves (geometry construction)")
    return out


def _name_groups(gmsh, boundary: dict[str, list[int]], cells: list[int], dim: int) -> None:
    for name, tags in boundary.items():
        gmsh.model.addPhysicalGroup(dim - 1, tags, name=name)
    gmsh.model.addPhysicalGroup(dim, cells, name=ALL_CELLS)


def _graded(
    gmsh, entities: list[int], fine: float, coarse: float, distance: float, dim: int
) -> None:
    """Element size `fine` on the entities, growing linearly to `coarse` at `distance`."""
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    f.setNumbers(dist, "CurvesList" if dim == 1 else "SurfacesList", entities)
    f.setNumber(dist, "Sampling", 100)
    thr = f.add("Threshold")
    f.setNumber(thr, "InField", dist)
    f.setNumber(thr, "SizeMin", fine)
    f.setNumber(thr, "SizeMax", coarse)
    f.setNumber(thr, "DistMin", 0.0)
    f.setNumber(thr, "DistMax", distance)
    f.setAsBackgroundMesh(thr)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)


def _generate(gmsh, dim: int, order: int) -> None:
    gmsh.model.mesh.generate(dim)
    if order > 1:
        gmsh.model.mesh.setOrder(order)
