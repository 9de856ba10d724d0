"""Meshes with named regions: built-in generators, gmsh `.geo`/`.msh` files and meshio formats.

A region is a named set of cells (subdomain), facets (boundary part) or, from a file, edges and
points (gmsh physical curves and points of a 3D mesh, points of a 2D one), where constraints may
go. Generators name theirs (`left`, `right`, `bottom`, `top`, ... and `domain` for all cells);
files use gmsh physical names.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.regions import ALL_CELLS, KIND, MeshError, RegionMesh

__all__ = [
    "ALL_CELLS",
    "MeshError",
    "RegionMesh",
    "box",
    "from_mesh_data",
    "gmsh_model_to_regionmesh",
    "interval",
    "read_file",
    "read_gmsh",
    "read_meshio",
    "rectangle",
    "region_names",
]


def _tag_boxes(msh, markers: dict[str, Any]) -> RegionMesh:
    """Tag facets of a generated mesh by geometric markers and all cells as 'domain'."""
    from dolfinx import mesh as dmesh

    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    idx, vals, regions = [], [], {}
    for tag, (name, marker) in enumerate(markers.items(), start=1):
        f = dmesh.locate_entities_boundary(msh, tdim - 1, marker)
        idx.append(f)
        vals.append(np.full(f.size, tag, np.int32))
        regions[name] = (tdim - 1, tag)
    i = np.concatenate(idx).astype(np.int32)
    v = np.concatenate(vals)
    order = np.argsort(i, kind="stable")
    # A corner facet cannot lie on two sides, so tags never collide (box edges are not facets).
    facet_tags = dmesh.meshtags(msh, tdim - 1, i[order], v[order])
    ncells = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    cells = np.arange(ncells, dtype=np.int32)
    cell_tags = dmesh.meshtags(msh, tdim, cells, np.ones_like(cells))
    regions[ALL_CELLS] = (tdim, 1)
    return RegionMesh(msh, cell_tags, facet_tags, regions)


def interval(length: float, cells: int, comm=MPI.COMM_WORLD) -> RegionMesh:
    """[0, length] with regions left, right."""
    from dolfinx import mesh as dmesh

    msh = dmesh.create_interval(comm, cells, [0.0, length])
    return _tag_boxes(
        msh,
        {"left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], length)},
    )


def rectangle(
    lx: float, ly: float, nx: int, ny: int, cell_type: str = "triangle", comm=MPI.COMM_WORLD
) -> RegionMesh:
    """[0, lx] x [0, ly] with regions left, right, bottom, top."""
    from dolfinx import mesh as dmesh

    ct = dmesh.CellType.quadrilateral if cell_type == "quadrilateral" else dmesh.CellType.triangle
    msh = dmesh.create_rectangle(comm, [np.zeros(2), np.array([lx, ly])], [nx, ny], ct)
    return _tag_boxes(
        msh,
        {
            "left": lambda x: np.isclose(x[0], 0.0),
            "right": lambda x: np.isclose(x[0], lx),
            "bottom": lambda x: np.isclose(x[1], 0.0),
            "top": lambda x: np.isclose(x[1], ly),
        },
    )


def box(
    lengths: tuple[float, float, float],
    cells: tuple[int, int, int],
    cell_type: str = "tetrahedron",
    comm=MPI.COMM_WORLD,
) -> RegionMesh:
    """[0, lx] x [0, ly] x [0, lz] with regions left/right (x), front/back (y), bottom/top (z)."""
    from dolfinx import mesh as dmesh

    ct = dmesh.CellType.hexahedron if cell_type == "hexahedron" else dmesh.CellType.tetrahedron
    lx, ly, lz = lengths
    msh = dmesh.create_box(comm, [np.zeros(3), np.array(lengths)], list(cells), ct)
    return _tag_boxes(
        msh,
        {
            "left": lambda x: np.isclose(x[0], 0.0),
            "right": lambda x: np.isclose(x[0], lx),
            "front": lambda x: np.isclose(x[1], 0.0),
            "back": lambda x: np.isclose(x[1], ly),
            "bottom": lambda x: np.isclose(x[2], 0.0),
            "top": lambda x: np.isclose(x[2], lz),
        },
    )


def from_mesh_data(data, what: str) -> RegionMesh:
    """Wrap `dolfinx.io.gmsh.MeshData`, keeping named physical groups of every dimension."""
    msh = data.mesh
    tdim = msh.topology.dim
    regions = {
        name: (int(g.dim), int(g.tag))
        for name, g in data.physical_groups.items()
        if 0 <= g.dim <= tdim
    }
    lower = {tdim - 2: data.ridge_tags, tdim - 3: data.peak_tags}
    entity_tags = {d: t for d, t in lower.items() if d >= 0 and t is not None}
    for d in {d for d, _ in regions.values() if d < tdim - 1}:
        if d not in entity_tags:
            raise MeshError(f"{what}: {KIND[d]} groups are named but none is tagged")
        msh.topology.create_connectivity(d, tdim)
    if not any(d == tdim for d, _ in regions.values()):
        regions.pop(ALL_CELLS, None)
    if data.facet_tags is None and any(d == tdim - 1 for d, _ in regions.values()):
        raise MeshError(f"{what}: facet groups are named but no facets are tagged")
    msh.topology.create_connectivity(tdim - 1, tdim)
    return RegionMesh(msh, data.cell_tags, data.facet_tags, regions, entity_tags)


def gmsh_model_to_regionmesh(gmsh_mod, gdim: int, comm=MPI.COMM_WORLD, what: str = "gmsh model"):
    """Convert the current gmsh model (built on rank 0) to a RegionMesh on `comm`."""
    from dolfinx.io import gmsh as gmshio

    data = gmshio.model_to_mesh(gmsh_mod.model, comm, 0, gdim=gdim)
    return from_mesh_data(data, what)


def _model_dim(gmsh_mod) -> int:
    """Topological dimension of the highest physical group (the cells of the mesh)."""
    groups = gmsh_mod.model.getPhysicalGroups()
    return max((d for d, _ in groups), default=gmsh_mod.model.getDimension())


def _mesh_gdim(gmsh_mod, dim: int) -> int:
    """2 for a meshed model of dimension <= 2 lying in the plane z = 0, else 3."""
    _, xyz, _ = gmsh_mod.model.mesh.getNodes()
    return 2 if dim <= 2 and np.all(np.asarray(xyz)[2::3] == 0.0) else 3


def _checked(path: Path) -> None:
    """MeshError if the `.geo` script ``path`` holds what twinkit does not run
    (`twinkit.physics.geo_script`)."""
    from twinkit.physics.geo_script import ScriptError, check_script

    try:
        check_script(path)
    except ScriptError as e:
        raise MeshError(str(e)) from None


def _open(gmsh_mod, path: Path) -> None:
    """gmsh.open of a data file (`.msh`): scripts run in a child (`twinkit.physics.gmsh_child`).
    A file that does not begin as a mesh is refused: gmsh would run it as a script, here."""
    from twinkit.physics.geo_script import is_data

    if not is_data(path):
        raise MeshError(
            f"{path}: not a gmsh mesh file: it does not begin with $MeshFormat (gmsh would run "
            "it as a script; a script goes in a .geo file)"
        )
    try:
        gmsh_mod.open(str(path))
    except Exception as e:  # gmsh may give no reason (counts beyond what the file holds)
        why = str(e) or "it gave no reason: a section shorter than its counts say?"
        raise MeshError(f"{path}: gmsh could not read it ({why})") from None


def read_gmsh(
    path: Path, size: float | None = None, comm=MPI.COMM_WORLD, max_cells: float | None = None
) -> RegionMesh:
    """Read a gmsh `.msh`; or mesh a `.geo` (optionally with characteristic length `size`), or
    read another format with meshio, in a child process bounded in time and memory
    (`twinkit.physics.gmsh_child`: refused when it would make more than `max_cells` cells, runs
    too long or crashes) and read the `.msh` it writes."""
    import gmsh

    from twinkit.physics import gmsh_child
    from twinkit.physics.gmsh_session import gmsh_session

    with tempfile.TemporaryDirectory(prefix="twinkit-mesh-") as tmp:
        if comm.rank == 0:
            data = path
            if path.suffix != ".msh":
                data = Path(tmp) / "mesh.msh"
                gmsh_child.run(_child_mode(path, "mesh"), path, data, size, max_cells)
        with gmsh_session():
            if comm.rank == 0:
                _open(gmsh, data)
                gdim = _mesh_gdim(gmsh, _model_dim(gmsh))
            else:
                gdim = 0
            gdim = comm.bcast(gdim, root=0)
            return gmsh_model_to_regionmesh(gmsh, gdim, comm, str(path))


def _check_links(path: Path) -> None:
    """MeshError if the data file `path` points at other files (`twinkit.physics.linked_files`)."""
    from twinkit.physics.linked_files import references

    try:
        refs = references(path)
    except Exception as e:  # an unreadable HDF5 or XML file
        raise MeshError(f"{path}: cannot read it ({e})") from None
    if refs:
        raise MeshError(f"{path}: refused: it points at other files ({'; '.join(refs[:3])})")


def _child_mode(path: Path, what: str) -> str:
    """The `gmsh_child` mode that gives ``what`` (mesh, regions) of ``path``, a `.geo` script or
    a file meshio reads, checked first (`_checked`, `_check_links`)."""
    if path.suffix == ".geo":
        _checked(path)
        return what
    _check_links(path)
    return f"meshio-{what}"


def read_meshio(path: Path, comm=MPI.COMM_WORLD, max_cells: float | None = None) -> RegionMesh:
    """Read any meshio format with named regions (gmsh physical names or cell sets): meshio runs
    in the bounded child (`read_gmsh`), formats such as VTU and MED holding compressed data
    that could fill the memory."""
    return read_gmsh(path, None, comm, max_cells)


def region_names(path: Path) -> dict[str, int]:
    """Named regions of a mesh file and their dimensions, read without building a dolfinx mesh."""
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    if path.suffix == ".msh":
        with gmsh_session():
            _open(gmsh, path)
            return {gmsh.model.getPhysicalName(d, t): d for d, t in gmsh.model.getPhysicalGroups()}
    from twinkit.physics import gmsh_child  # a script, or another format: read in a child

    mode = _child_mode(path, "regions")
    with tempfile.TemporaryDirectory(prefix="twinkit-mesh-") as tmp:
        found = Path(tmp) / "regions.json"
        gmsh_child.run(mode, path, found, None, None)
        return {str(k): int(v) for k, v in json.loads(found.read_text()).items()}


def read_file(
    path: Path, size: float | None = None, comm=MPI.COMM_WORLD, max_cells: float | None = None
) -> RegionMesh:
    """Read a mesh file by suffix: gmsh `.geo`/`.msh` or any meshio format."""
    if not path.exists():
        raise MeshError(f"{path}: mesh file not found")
    return read_gmsh(path, size, comm, max_cells)
