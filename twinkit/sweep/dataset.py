"""The dataset contract (docs/sweeps.md): a sweep's samples as one xarray Dataset in `dataset.nc`.

`assemble` builds it from the durable sample files of `twinkit.sweep.store`; `write_dataset`
saves it atomically (NetCDF, engine h5netcdf); any reader opens it with `xarray.open_dataset`,
twinkit with `read_dataset`, which first refuses a file that points at other files.
Failed samples keep their inputs, status and message; their outputs are NaN.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase
from twinkit.case.checks import FIELD_UNITS
from twinkit.files import write_netcdf
from twinkit.sweep.design import Design
from twinkit.sweep.provenance import solver_hash
from twinkit.sweep.store import OK, SampleRecord, read_mesh, read_sample, sample_path
from twinkit.version import __version__

REQUIRED_ATTRS = (
    *("case", "case_hash", "twinkit_version", "mesh_hash", "seed", "created", "doe"),
    *("inputs", "qois", "fields", "solver_options"),
)


def _names(first: list[str], recs: list[SampleRecord], attr: str) -> list[str]:
    """`first` (the case's names), then any other name the samples report, in order seen."""
    return list(dict.fromkeys(first + [k for r in recs for k in getattr(r, attr)]))


def _table(recs: list[SampleRecord], names: list[str], attr: str) -> np.ndarray:
    return np.array([[getattr(r, attr).get(k, np.nan) for k in names] for r in recs], dtype=float)


def assemble(folder: Path, design: Design, loaded: LoadedCase) -> Any:
    """The Dataset of a finished sweep in `folder` (every sample of `design` has its file)."""
    import xarray as xr

    case = loaded.case
    n = design.n_train + design.n_test
    recs = [read_sample(sample_path(folder, i)) for i in range(n)]
    ok = [r for r in recs if r.status == OK]
    units: dict[str, str] = {}
    for r in reversed(ok):
        units |= r.units
    ds = xr.Dataset(coords={"sample": np.arange(n)})
    for j, name in enumerate(design.inputs):
        p = case.parameters[name]
        lo, hi = p.bounds
        attrs = {"units": case.parameter_unit(name), "lower": lo, "upper": hi, "role": p.role}
        attrs |= {"scale": p.scale, "kind": "input"}
        ds[name] = ("sample", design.points[:, j].astype(np.float64), attrs)

    qois = _names(list(case.outputs.qoi), ok, "qoi")
    for name, column in zip(qois, _table(recs, qois, "qoi").T.reshape(len(qois), n), strict=True):
        ds[f"qoi_{name}"] = ("sample", column, {"units": units.get(name, ""), "kind": "qoi"})

    sensors = _names(list(case.probes), ok, "sensors")
    xyz = np.full((len(sensors), 3), np.nan)
    for k, name in enumerate(sensors):
        if name in case.probes:
            point = [q.si for q in case.probes[name].point]
            xyz[k] = point + [0.0] * (3 - len(point))
    ds["sensors"] = (
        ("sample", "sensor"),
        _table(recs, sensors, "sensors").reshape(n, len(sensors)),
    )
    ds["sensors"].attrs["kind"] = "sensor"
    ds = ds.assign_coords(
        sensor=("sensor", np.array(sensors, dtype=str)),
        sensor_x=("sensor", xyz[:, 0]),
        sensor_y=("sensor", xyz[:, 1]),
        sensor_z=("sensor", xyz[:, 2]),
        sensor_units=("sensor", np.array([units.get(s, "") for s in sensors], dtype=str)),
    )

    hashes = sorted({r.mesh_hash for r in ok})
    fields = _names([], ok, "fields")
    if fields:
        _add_fields(ds, folder, recs, fields, hashes, units)

    ds["status"] = ("sample", np.array([r.status for r in recs], dtype=str))
    ds["message"] = ("sample", np.array([r.message for r in recs], dtype=str))
    ds["seconds"] = ("sample", np.array([r.seconds for r in recs]), {"units": "s"})
    ds["seconds"].attrs["description"] = "wall time of the sample in its worker (mesh, solve)"
    ds["iterations"] = ("sample", np.array([r.iterations for r in recs], dtype=np.int64))
    ds["split"] = ("sample", np.array(design.split, dtype=str))
    ds.attrs = {
        "case": loaded.name,
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "solver_hash": solver_hash(),
        "mesh_hash": hashes[0] if len(hashes) == 1 else ("varies" if hashes else ""),
        "seed": design.seed,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "doe": design.doe,
        "inputs": json.dumps(list(design.inputs)),
        "qois": json.dumps(qois),
        "fields": json.dumps(fields),
        "solver_options": json.dumps(case.solver.model_dump(), default=str),
    }
    return ds


def _add_fields(ds: Any, folder: Path, recs: list[SampleRecord], fields: list[str], hashes, units):
    """`field_<name>` (sample, node[, component]) and the vertex mesh, NaN for failed samples."""
    if len(hashes) != 1:
        raise RuntimeError(
            f"{folder}: the samples' fields live on {len(hashes)} different meshes; fields are "
            "stored only for sweeps whose mesh does not change"
        )
    mesh = read_mesh(folder, hashes[0])
    ds.coords["node_x"], ds.coords["node_y"], ds.coords["node_z"] = (
        ("node", mesh.nodes[:, k]) for k in range(3)
    )
    ds["cells"] = (("cell", "cell_vertex"), mesh.cells, {"cell_type": mesh.cell_type})
    for name in fields:
        shape = next(r.fields[name].shape for r in recs if name in r.fields)
        values = np.full((len(recs), *shape), np.nan)
        for i, r in enumerate(recs):
            if name in r.fields:
                values[i] = r.fields[name]
        # vectors share `component`; a tensor (stress: 6) has its own, e.g. `stress_component`
        last = "component" if values.shape[-1] <= 3 else f"{name}_component"
        dims = ("sample", "node", last)[: values.ndim]
        unit = units.get(name, FIELD_UNITS.get(name, ""))
        ds[f"field_{name}"] = (dims, values, {"units": unit, "kind": "field"})


def write_dataset(ds: Any, path: Path) -> None:
    """Save `ds` as NetCDF (h5netcdf) atomically: readers see the old file or the new one."""
    write_netcdf(ds, path)


def contract_problems(ds: Any) -> list[str]:
    """What `ds` lacks of the dataset contract (empty if it complies)."""
    problems = [f"attribute '{a}' is missing" for a in REQUIRED_ATTRS if a not in ds.attrs]
    needed = ["status", "message", "seconds", "iterations", "split", "sensors"]
    needed += json.loads(ds.attrs.get("inputs", "[]"))
    needed += [f"qoi_{q}" for q in json.loads(ds.attrs.get("qois", "[]"))]
    fields = json.loads(ds.attrs.get("fields", "[]"))
    needed += [f"field_{f}" for f in fields] + (["cells"] if fields else [])
    problems += [f"variable '{v}' is missing" for v in needed if v not in ds.variables]
    for v in json.loads(ds.attrs.get("inputs", "[]")):
        if v in ds and ds[v].attrs.get("kind") != "input":
            problems.append(f"input '{v}' lacks attrs kind='input'")
    return problems


def read_dataset(path: Path) -> Any:
    """The dataset in `path`, loaded into memory; CaseError if it is not a readable NetCDF file
    or points at other files (whose bytes it would read as its own)."""
    import xarray as xr

    from twinkit.physics.linked_files import references

    try:
        refs = references(path)  # HDF5 (NetCDF4) external links, external storage, virtual data
    except OSError as e:
        raise CaseError(f"{path}: not a readable dataset ({e})") from None
    if refs:
        shown = "; ".join(refs[:3]) + (f"; and {len(refs) - 3} more" if len(refs) > 3 else "")
        raise CaseError(f"{path}: refused: it points at other files ({shown})")
    try:
        with xr.open_dataset(path) as ds:  # the sampler writes h5netcdf; any NetCDF reads
            _fits_in_memory(path, ds)
            return ds.load()
    except CaseError:
        raise
    except (OSError, ValueError) as e:
        raise CaseError(f"{path}: not a readable dataset ({e})") from None
    except MemoryError:  # within what is available, but not what this process may have
        raise CaseError(f"{path}: its variables do not fit in this process's memory") from None


def memory_available() -> int:
    """Bytes a new allocation can have without swapping (Linux's MemAvailable); elsewhere the
    machine's physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _fits_in_memory(path: Path, ds: Any) -> None:
    """CaseError if the variables of ``ds`` (opened, not yet read) would not fit in the memory
    available. A few kB of NetCDF can declare a variable of any size, compressed or never
    written (its fill value): loaded, 40 GB of it filled the memory."""
    sizes = {name: int(v.size) * v.dtype.itemsize for name, v in ds.variables.items()}
    need, free = sum(sizes.values()), memory_available()
    if need > free:
        name = max(sizes, key=lambda k: sizes[k])
        gb = 1024.0**3
        raise CaseError(
            f"{path}: its variables would take {need / gb:.1f} GiB in memory ('{name}', "
            f"{' x '.join(map(str, ds.variables[name].shape))}, {sizes[name] / gb:.1f} GiB), "
            f"more than the {free / gb:.1f} GiB available; not read"
        )
