"""The sweep's durable files: one per finished sample, the vertex mesh, the state file.

Every file is written atomically (temporary file, fsync, `os.replace`, fsync of the folder), so a
sweep killed at any moment leaves only whole files behind. `DIR/samples/NNNNNN.npz` holds one
sample (numpy arrays only: read back with `allow_pickle=False`); `DIR/samples/mesh-HASH.npz` the
vertex mesh of the stored fields. `twinkit.sweep.dataset` assembles them into the dataset contract.
One process at a time writes to a folder (`sweep_lock`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.case import CaseError
from twinkit.files import Busy, atomic_write, exclusive, load_npz, remove_file

OK, FAILED = "ok", "failed"


@dataclass
class VertexMesh:
    """The mesh of stored fields: node coordinates (n, 3), cells (n_cells, n_vertices)."""

    nodes: np.ndarray
    cells: np.ndarray
    cell_type: str
    hash: str


@dataclass
class SampleRecord:
    """What one sample produced, in SI units; `fields` are values at the vertices of `mesh_hash`."""

    index: int
    status: str
    message: str = ""
    seconds: float = 0.0
    iterations: int = 0
    qoi: dict[str, float] = field(default_factory=dict)
    sensors: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    mesh_hash: str = ""
    mesh: VertexMesh | None = None  # sent along by workers; stored once per hash


@contextmanager
def sweep_lock(folder: Path) -> Iterator[None]:
    """Own the sweep folder `folder` for the block: its lock file `.NAME.lock` lies beside it (so
    that removing the folder to start afresh keeps it). CaseError at once if another process
    holds it: two sweeps in one folder would solve the same samples and clash on its files."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(folder.parent / f".{folder.name}.lock"):
            yield
    except Busy:
        raise CaseError(
            f"{folder}: another twinkit sample or run is writing to this sweep folder; wait for "
            "it to finish (then rerun to reuse its samples), or give another --out"
        ) from None


def _savez(arrays: dict[str, Any]) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        with open(p, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, **arrays)

    return write


def remove_temporaries(folder: Path, prefixes: tuple[str, ...], owner: Path | None = None) -> None:
    """Delete `prefix*.tmp` files: leftovers of writes that a killed sweep never finished; only
    inside `owner` (default `folder`), the sweep's folder."""
    for prefix in prefixes:
        for p in folder.glob(f"{prefix}*.tmp"):
            remove_file(p, owner or folder)


def sample_path(folder: Path, index: int) -> Path:
    return folder / "samples" / f"{index:06d}.npz"


def _names_values(d: dict[str, Any], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.array(list(d), dtype=str), np.array(list(d.values()), dtype=dtype)


def write_sample(folder: Path, rec: SampleRecord) -> None:
    """Store one sample durably (and its vertex mesh, the first time that mesh is seen)."""
    samples = folder / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    m = rec.mesh
    if m is not None and not (samples / f"mesh-{m.hash}.npz").exists():
        arrays = {"nodes": m.nodes, "cells": m.cells, "cell_type": np.array(m.cell_type)}
        atomic_write(samples / f"mesh-{m.hash}.npz", _savez(arrays))
    qn, qv = _names_values(rec.qoi, float)
    sn, sv = _names_values(rec.sensors, float)
    un, uv = _names_values(rec.units, str)
    data = {
        "index": np.array(rec.index),
        "status": np.array(rec.status),
        "message": np.array(rec.message),
        "seconds": np.array(rec.seconds),
        "iterations": np.array(rec.iterations),
        "mesh_hash": np.array(rec.mesh_hash),
        **{"qoi_names": qn, "qoi_values": qv, "sensor_names": sn, "sensor_values": sv},
        **{"unit_names": un, "unit_values": uv},
        **{f"field_{k}": v for k, v in rec.fields.items()},
    }
    atomic_write(sample_path(folder, rec.index), _savez(data))


def read_sample(path: Path) -> SampleRecord:
    """Read a sample file (numpy arrays only, never pickles; no compressed members)."""
    with load_npz(path) as z:
        return SampleRecord(
            index=int(z["index"]),
            status=str(z["status"]),
            message=str(z["message"]),
            seconds=float(z["seconds"]),
            iterations=int(z["iterations"]),
            qoi=dict(zip(z["qoi_names"].tolist(), z["qoi_values"].tolist(), strict=True)),
            sensors=dict(zip(z["sensor_names"].tolist(), z["sensor_values"].tolist(), strict=True)),
            units=dict(zip(z["unit_names"].tolist(), z["unit_values"].tolist(), strict=True)),
            fields={k.removeprefix("field_"): z[k] for k in z.files if k.startswith("field_")},
            mesh_hash=str(z["mesh_hash"]),
        )


def read_mesh(folder: Path, mesh_hash: str) -> VertexMesh:
    with load_npz(folder / "samples" / f"mesh-{mesh_hash}.npz") as z:
        return VertexMesh(z["nodes"], z["cells"], str(z["cell_type"]), mesh_hash)


def finished_samples(folder: Path, total: int) -> Iterator[int]:
    """Indices (< total) whose sample file is present and readable; unreadable ones are dropped."""
    for i in range(total):
        p = sample_path(folder, i)
        if not p.exists():
            continue
        try:
            if read_sample(p).index == i:
                yield i
                continue
        except Exception:  # noqa: BLE001 - an unreadable file is simply computed again
            pass
        remove_file(p, folder)


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write the sweep's state file (JSON) atomically."""
    text = json.dumps(state, indent=1) + "\n"

    def write(p: Path) -> None:
        p.write_text(text)

    atomic_write(path, write)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state file's contents, or None if there is none."""
    return json.loads(path.read_text()) if path.exists() else None
