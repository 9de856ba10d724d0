"""A parametric 3D L-bracket meshed with gmsh (OpenCASCADE), for the bracket product twin.

The L-profile lies in the x-z plane and is extruded along y by ``width``::

    z
    |  ___
    | |   |  upright (x in [0, t]), bolt hole along x at mid-width,
    | |   |  centred in the straight part above the fillet
    | |   |
    | |   (_______________
    | |___________________|  base plate (z in [0, t]), bottom face z = 0 bolted down
    +------------------------------ x

Regions: cells ``domain``; facets ``base`` (bottom face z = 0, the support; it also serves as the
heated face of a thermal case), ``hole`` (bolt-hole surface, where the load goes), ``fillet``
(inner fillet surface, only when fillet_radius > 0), ``top`` (z = height), ``end`` (x =
base_length), ``surface`` (every other face: sides and flats). All lengths in metres.
"""

from __future__ import annotations

from mpi4py import MPI

from twinkit.physics.domain import ALL_CELLS, MeshError, RegionMesh, gmsh_model_to_regionmesh
from twinkit.physics.geometry import _graded


def check_bracket(
    thickness: float,
    fillet_radius: float,
    hole_diameter: float,
    size: float,
    width: float,
    base_length: float,
    height: float,
) -> None:
    """Raise MeshError, naming the parameter, if the dimensions do not make a valid bracket."""
    for name, v in (
        ("thickness", thickness),
        ("hole_diameter", hole_diameter),
        ("size", size),
        ("width", width),
        ("base_length", base_length),
        ("height", height),
    ):
        if not v > 0:
            raise MeshError(f"bracket: {name}={v} must be positive")
    if fillet_radius < 0:
        raise MeshError(f"bracket: fillet_radius={fillet_radius} must not be negative")
    if thickness + fillet_radius >= base_length:
        raise MeshError(
            f"bracket: fillet_radius={fillet_radius} too big: thickness + fillet_radius must be "
            f"less than base_length={base_length}"
        )
    room = height - thickness - fillet_radius  # straight part of the upright above the fillet
    if hole_diameter >= min(room, width):
        raise MeshError(
            f"bracket: hole_diameter={hole_diameter} too big: it must be less than the width "
            f"({width}) and the straight upright above the fillet (height - thickness - "
            f"fillet_radius = {room:.6g})"
        )


def hole_centre(thickness: float, fillet_radius: float, width: float, height: float):
    """(y, z) of the bolt-hole axis: mid-width, middle of the straight upright."""
    return width / 2, (thickness + fillet_radius + height) / 2


def bracket(
    thickness: float,
    fillet_radius: float,
    hole_diameter: float,
    size: float,
    width: float = 0.04,
    base_length: float = 0.06,
    height: float = 0.06,
    feature_size: float | None = None,
    comm=MPI.COMM_WORLD,
) -> RegionMesh:
    """Mesh an L-bracket (tetrahedra, element size `size`, `feature_size` at fillet and hole).

    Parameters
    ----------
    thickness
        Plate thickness of base and upright (m).
    fillet_radius
        Radius of the inner fillet joining base and upright (m); 0 for a sharp corner.
    hole_diameter
        Diameter of the bolt hole through the upright (m).
    size
        Element size away from the features (m); ``feature_size`` defaults to
        min(size, thickness, hole_diameter) / 3 (and the fillet radius / 2 if smaller).
    width, base_length, height
        Overall dimensions (m): extent along y, base extent along x, upright extent along z.
    """
    t, r, d = thickness, fillet_radius, hole_diameter
    check_bracket(t, r, d, size, width, base_length, height)
    fine = feature_size or min(size, t, d, *([2 * r] if r > 0 else [])) / 3
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    with gmsh_session():
        if comm.rank == 0:
            occ = gmsh.model.occ
            vol = _extruded_profile(occ, t, r, width, base_length, height)
            yc, zc = hole_centre(t, r, width, height)
            cyl = occ.addCylinder(-t, yc, zc, 3 * t, 0, 0, d / 2)
            (_, vol), *_ = occ.cut([(3, vol)], [(3, cyl)])[0]
            occ.synchronize()
            faces = _classify_faces(gmsh, t, r, d, width, base_length, height, yc, zc)
            for name, tags in faces.items():
                gmsh.model.addPhysicalGroup(2, tags, name=name)
            gmsh.model.addPhysicalGroup(3, [vol], name=ALL_CELLS)
            features = faces["hole"] + faces.get("fillet", [])
            _graded(gmsh, features, fine, size, max(2 * size, t), dim=2)
            gmsh.model.mesh.generate(3)
        return gmsh_model_to_regionmesh(gmsh, 3, comm, "bracket")


def _extruded_profile(occ, t, r, width, length, height) -> int:
    """The L-profile (with inner fillet arc) in the x-z plane, extruded along y; volume tag."""
    corners = [(0, 0), (length, 0), (length, t), (t + r, t), (t, t + r), (t, height), (0, height)]
    if r == 0:
        del corners[4]
    pts = [occ.addPoint(x, 0, z) for x, z in corners]
    curves = []
    for i in range(len(pts)):
        a, b = pts[i], pts[(i + 1) % len(pts)]
        if r > 0 and i == 3:
            centre = occ.addPoint(t + r, 0, t + r)
            curves.append(occ.addCircleArc(a, centre, b))
        else:
            curves.append(occ.addLine(a, b))
    surf = occ.addPlaneSurface([occ.addCurveLoop(curves)])
    out = occ.extrude([(2, surf)], 0, width, 0)
    return next(tag for dim, tag in out if dim == 3)


def _classify_faces(gmsh, t, r, d, width, length, height, yc, zc) -> dict[str, list[int]]:
    eps = 1e-3 * t  # OCC bounding boxes carry a small tolerance
    faces: dict[str, list[int]] = {"base": [], "hole": [], "top": [], "end": [], "surface": []}
    if r > 0:
        faces["fillet"] = []
    for _, tag in gmsh.model.getEntities(2):
        x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, tag)
        if z1 < eps:
            faces["base"].append(tag)
        elif z0 > height - eps:
            faces["top"].append(tag)
        elif x0 > length - eps:
            faces["end"].append(tag)
        elif (
            x0 > -eps
            and x1 < t + eps
            and y0 > yc - d / 2 - eps
            and y1 < yc + d / 2 + eps
            and z0 > zc - d / 2 - eps
            and z1 < zc + d / 2 + eps
        ):
            faces["hole"].append(tag)
        elif r > 0 and x0 > t - eps and x1 < t + r + eps and z0 > t - eps and z1 < t + r + eps:
            if x1 - x0 > eps and z1 - z0 > eps:  # the curved face, not a flat neighbour
                faces["fillet"].append(tag)
            else:
                faces["surface"].append(tag)
        else:
            faces["surface"].append(tag)  # every other free face: sides, inner and outer flats
    missing = [name for name, tags in faces.items() if not tags]
    if missing:
        raise MeshError(f"bracket: could not identify the faces {missing} (geometry construction)")
    return faces
