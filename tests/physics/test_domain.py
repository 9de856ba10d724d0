"""Meshes with named regions: generators, gmsh .geo/.msh files and meshio formats."""

from pathlib import Path

import meshio
import numpy as np
import pytest

from twinkit.physics import domain
from twinkit.physics.domain import MeshError, read_file, region_names

MESHES = Path(__file__).parents[2] / "meshes"


def test_rectangle_regions_and_measures():
    from dolfinx import fem

    m = domain.rectangle(2.0, 1.0, 4, 2)
    assert sorted(m.facet_regions()) == ["bottom", "left", "right", "top"]
    assert m.cell_regions() == ["domain"]
    one = fem.Constant(m.mesh, 1.0)
    assert fem.assemble_scalar(fem.form(one * m.ds("top"))) == pytest.approx(2.0)
    assert fem.assemble_scalar(fem.form(one * m.ds("left"))) == pytest.approx(1.0)
    assert fem.assemble_scalar(fem.form(one * m.dx("domain"))) == pytest.approx(2.0)
    with pytest.raises(MeshError, match="no facet region 'side'.*bottom"):
        m.ds("side")


def test_box_regions():
    m = domain.box((1.0, 2.0, 3.0), (2, 2, 2))
    assert sorted(m.facet_regions()) == ["back", "bottom", "front", "left", "right", "top"]


def test_geo_file_is_meshed_with_its_physical_groups():
    geo = MESHES / "heatsink.geo"
    assert region_names(geo) == {"spreader": 2, "fins": 2, "heated": 1, "air": 1}
    coarse = read_file(geo, size=0.004)
    fine = read_file(geo, size=0.002)
    assert coarse.gdim == 2 and coarse.tdim == 2
    n = [x.mesh.topology.index_map(2).size_global for x in (coarse, fine)]
    assert n[1] > 2 * n[0]  # `size` controls the mesh
    from dolfinx import fem

    one = fem.Constant(fine.mesh, 1.0)
    assert fem.assemble_scalar(fem.form(one * fine.ds("heated"))) == pytest.approx(0.06)
    area = 0.06 * 0.008 + 3 * 0.004 * 0.03
    total = sum(fem.assemble_scalar(fem.form(one * fine.dx(r))) for r in ("spreader", "fins"))
    assert total == pytest.approx(area)


def test_msh_file(tmp_path):
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    with gmsh_session():
        gmsh.open(str(MESHES / "heatsink.geo"))
        gmsh.model.mesh.generate(2)
        gmsh.write(str(tmp_path / "hs.msh"))
    m = read_file(tmp_path / "hs.msh")
    assert set(m.regions) == {"spreader", "fins", "heated", "air"}


def test_meshio_format_with_cell_sets(tmp_path):
    """An Abaqus .inp (no gmsh names): regions come from its element sets."""
    pts = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0]], float)
    tri_left = np.array([[0, 1, 4], [0, 4, 3]])
    tri_right = np.array([[1, 2, 5], [1, 5, 4]])
    bottom = np.array([[0, 1], [1, 2]])
    mesh = meshio.Mesh(
        pts,
        [("triangle", tri_left), ("triangle", tri_right), ("line", bottom)],
        cell_sets={"cold": [[0, 1], [], []], "hot": [[], [0, 1], []], "base": [[], [], [0, 1]]},
    )
    mesh.write(tmp_path / "two.inp")
    m = read_file(tmp_path / "two.inp")
    assert set(m.regions) == {"cold", "hot", "base"}
    assert m.regions["base"][0] == 1 and m.regions["hot"][0] == 2
    assert m.mesh.topology.index_map(2).size_global == 4


def _vtu_of_zeros(path, points):
    """A VTU file whose points, all zero, are zlib blocks of 32 KiB repeated: ~2 kB per MB."""
    import base64
    import struct
    import zlib

    size, block = 1 << 15, zlib.compress(bytes(1 << 15), 9)
    points -= points % 4096  # whole blocks
    n = points * 24 // size

    def encoded(header, body):
        return base64.b64encode(header).decode() + base64.b64encode(body).decode()

    def small(a):
        raw = np.asarray(a, dtype=np.int64).tobytes()
        packed = zlib.compress(raw)
        return encoded(struct.pack("<4I", 1, len(raw), len(raw), len(packed)), packed)

    xyz = encoded(struct.pack(f"<{3 + n}I", n, size, size, *[len(block)] * n), block * n)
    arrays = [("Points", "Float64", 'NumberOfComponents="3" ', xyz)] + [
        (name, "Int64", "", small(v)) for name, v in (("connectivity", [0, 1, 2]),
                                                      ("offsets", [3]), ("types", [5]))
    ]  # fmt: skip
    data = [f'<DataArray type="{t}" Name="{name}" {extra}format="binary">{data}</DataArray>'
            for name, t, extra, data in arrays]  # fmt: skip
    body = f"<Points>{data[0]}</Points><Cells>{''.join(data[1:])}</Cells>"
    path.write_text(
        '<?xml version="1.0"?>\n<VTKFile type="UnstructuredGrid" version="0.1" '
        'byte_order="LittleEndian" compressor="vtkZLibDataCompressor"><UnstructuredGrid>'
        f'<Piece NumberOfPoints="{points}" NumberOfCells="1">{body}</Piece>'
        "</UnstructuredGrid></VTKFile>\n"
    )
    return path


def test_a_compressed_mesh_file_is_read_within_the_memory_its_cell_limit_gives(tmp_path):
    """meshio inflates VTU's zlib blocks (and MED's HDF5 datasets): 2.7 MB of VTU took 3.5 GB
    in `twinkit validate`, 22 MB would have taken ~25. It reads them in a child process bounded
    by solver.limits.max_cells, as gmsh runs a .geo."""
    path = _vtu_of_zeros(tmp_path / "zeros.vtu", 100_000_000)  # 2.4 GB of points
    assert path.stat().st_size < 6_000_000
    with pytest.raises(MeshError, match=r"zeros\.vtu: reading it needs more than 1\.0 GiB of "
                       r"memory \(the limit for solver\.limits\.max_cells = 1,000\)"):  # fmt: skip
        read_file(path, max_cells=1000)
    small = _vtu_of_zeros(tmp_path / "small.vtu", 4096)
    with pytest.raises(MeshError, match=r"small\.vtu: the mesh has no named regions"):
        read_file(small, max_cells=1000)  # read: it fits


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(MeshError, match="not found"):
        read_file(tmp_path / "nowhere.msh")
    bad = tmp_path / "bad.vtu"
    bad.write_text("not a mesh")
    with pytest.raises(MeshError, match="bad.vtu"):
        read_file(bad)


def test_curves_and_points_of_a_3d_file_are_regions_constraints_can_hold(tmp_path):
    geo = tmp_path / "cube.geo"
    geo.write_text(
        'SetFactory("OpenCASCADE");\nBox(1) = {0, 0, 0, 1, 1, 1};\n'
        'Physical Volume("solid") = {1};\nPhysical Surface("top") = {6};\n'
        'Physical Curve("x_axis") = {9};\nPhysical Point("origin") = {2};\n'
    )
    m = read_file(geo, size=0.5)
    x = m.mesh.geometry.x
    dim, edges = m.entities("x_axis")
    assert dim == 1 and edges.size >= 2
    from dolfinx import mesh as dmesh

    ends = dmesh.entities_to_geometry(m.mesh, 1, edges)
    assert np.allclose(x[ends][..., 1:], 0.0)  # every edge lies on y = z = 0
    dim, points = m.entities("origin")
    assert dim == 0 and points.size == 1
    assert m.entities("top")[0] == 2 and m.interior_facets("top") == 0
    with pytest.raises(MeshError, match="'x_axis' is a curve \\(dimension 1\\) of the 3D mesh"):
        m.ds("x_axis")


def test_the_users_gmsh_options_do_not_change_twinkits_meshes(tmp_path, monkeypatch):
    """gmsh reads ~/.gmsh-options at initialisation unless told not to: a size factor there
    would refine every built-in mesh without the case saying so."""
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    (tmp_path / ".gmsh-options").write_text("Mesh.MeshSizeFactor = 0.5;\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    with gmsh_session():
        assert gmsh.option.getNumber("Mesh.MeshSizeFactor") == 1.0
