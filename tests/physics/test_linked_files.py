"""Mesh files that point at other files are refused before they are read (issue 15): an XDMF
file's heavy data outside its folder, HDF5 external links, external storage, virtual datasets."""

from pathlib import Path

import meshio
import numpy as np
import pytest

from twinkit.physics.domain import MeshError, region_names
from twinkit.physics.linked_files import references


def _xdmf(folder: Path) -> Path:
    mesh = meshio.Mesh(
        np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float), [("triangle", [[0, 1, 2]])]
    )
    meshio.write(folder / "m.xdmf", mesh)
    return folder / "m.xdmf"


def test_xdmf_with_its_data_beside_it_is_read(tmp_path):
    path = _xdmf(tmp_path)
    assert references(path) == []
    assert region_names(path) == {}


def test_xdmf_whose_data_lies_elsewhere_is_refused(tmp_path):
    """The crafted file made meshio read another file's bytes as node coordinates."""
    (tmp_path / "case").mkdir()
    path = _xdmf(tmp_path)
    text = path.read_text().replace("m.h5:", f"{tmp_path / 'm.h5'}:")
    (tmp_path / "case" / "m.xdmf").write_text(text)
    with pytest.raises(MeshError, match="points at other files.*outside"):
        region_names(tmp_path / "case" / "m.xdmf")


def test_hdf5_external_link_is_found(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1.0]
    with h5py.File(tmp_path / "mesh.med", "w") as f:
        f.create_group("g")["link"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
    assert references(tmp_path / "mesh.med") == [f"/g/link: a link to file '{tmp_path}/other.h5'"]
    with pytest.raises(MeshError, match="points at other files"):
        region_names(tmp_path / "mesh.med")
