"""Data files that point at other files, which a reader would follow: HDF5 external links,
datasets stored in external files and virtual datasets (HDF5, NetCDF4, MED), and the heavy-data
references and XIncludes of an XDMF file. Checked before a mesh or a dataset is read, so that a
crafted file cannot make twinkit read another file's bytes as its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """Whether `path` is an HDF5 file (the signature at 0 or a power of two from 512 on)."""
    with path.open("rb") as f:
        offset = 0
        while True:
            f.seek(offset)
            head = f.read(8)
            if head == HDF5_SIGNATURE:
                return True
            if len(head) < 8 or offset > 1 << 30:
                return False
            offset = 512 if offset == 0 else offset * 2


def hdf5_references(path: Path) -> list[str]:
    """What in the HDF5 file `path` points at other files (empty for a self-contained file)."""
    try:
        import h5py
    except ImportError:
        return ["an HDF5 file, and h5py (needed to check it) is not installed"]
    found: list[str] = []

    def links(group: Any) -> None:
        for key in group:
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                found.append(f"{group.name.rstrip('/')}/{key}: a link to file {link.filename!r}")

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            links(obj)
        elif isinstance(obj, h5py.Dataset):
            if obj.external:
                found.append(f"/{name}: data stored in file {obj.external[0][0]!r}")
            if obj.is_virtual:
                found.append(f"/{name}: a virtual dataset (data from other files)")

    with h5py.File(path, "r") as f:
        links(f)
        f.visititems(visit)
    return found


def xdmf_references(path: Path) -> list[str]:
    """Heavy data of the XDMF file `path` that lies outside its folder, and XIncludes."""
    import xml.etree.ElementTree as ET

    root = path.resolve().parent
    found = []
    for el in ET.parse(path).iter():
        tag = str(el.tag)
        if tag.endswith("}include") or tag == "include":
            found.append(f"an XInclude of {el.get('href')!r}")
        elif tag == "DataItem" and (el.get("Format") or "").upper() in ("HDF", "BINARY"):
            name = (el.text or "").strip().split(":")[0]
            target = (root / name).resolve()
            if target != root and root not in target.parents:
                found.append(f"data in {name!r}, outside {root}")
            elif target.is_file() and is_hdf5(target):
                found += [f"{name}{r}" for r in hdf5_references(target)]
    return found


def references(path: Path) -> list[str]:
    """What in the data file `path` points at other files: checks HDF5 and XDMF files."""
    if path.suffix.lower() in (".xdmf", ".xmf"):
        return xdmf_references(path)
    return hdf5_references(path) if is_hdf5(path) else []
