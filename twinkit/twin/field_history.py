"""Reading the virtual fields' snapshots back from the live twin's history (`tk.field_history`,
`tk.field_at`, `twinkit history --field`): one field of one asset as an xarray Dataset.

The Dataset has `mean` and `std` (float32, the field's unit in `units`) over (time, node) or
(time, node, component) for a vector field, the coordinates `time` (UTC, naive datetime64),
`update` (the update's number) and, when the history holds the mesh, `node_x`, `node_y`,
`node_z` and `cells`. The snapshots are those `twinkit.twin.virtual_field` kept, one per
`LiveOptions.field_history_every` of plant time.
"""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

import numpy as np

from twinkit.case import CaseError
from twinkit.redaction import redact
from twinkit.sensors.timestamps import iso_utc
from twinkit.twin.history_db import Database
from twinkit.twin.history_read import fetch
from twinkit.twin.virtual_field import MESH

SELECT = "SELECT asset, n, t, unit, shape, mean, std FROM field_snapshots WHERE name = ?"


def read_fields(url: str, name: str, since: float | None = None, until: float | None = None,
                asset: str | None = None) -> Any:  # fmt: skip
    """The snapshots of field `name` with plant time in [since, until] (epoch s), oldest first."""
    with _open(url) as db:
        asset = _asset(db, name, asset)
        sql, params = SELECT + " AND asset = ?", list[Any]([name, asset])
        for op, bound in ((">=", since), ("<=", until)):
            if bound is not None:
                sql += f" AND t {op} ?"
                params.append(bound)
        rows = _fetch(db, sql + " ORDER BY t", params)
        if not rows:  # none in the window: the field's shape and unit from any snapshot
            any_row = _fetch(db, SELECT + " AND asset = ? ORDER BY t LIMIT 1", [name, asset])
            return _dataset(name, asset, any_row, _mesh(db, asset), empty=True)
        return _dataset(name, asset, rows, _mesh(db, asset))


def field_at(url: str, name: str, t: float, asset: str | None = None) -> Any:
    """The snapshot of field `name` nearest before plant time `t` (or at it), without the time
    dimension (`time` and `update` are scalar coordinates)."""
    with _open(url) as db:
        asset = _asset(db, name, asset)
        sql = SELECT + " AND asset = ? AND t <= ? ORDER BY t DESC LIMIT 1"
        rows = _fetch(db, sql, [name, asset, t])
        if not rows:
            first = _fetch(db, SELECT + " AND asset = ? ORDER BY t LIMIT 1", [name, asset])
            raise CaseError(f"field {name}: no snapshot at or before {iso_utc(t)}; the first is at "
                            f"{iso_utc(first[0][2])}")  # fmt: skip
        return _dataset(name, asset, rows, _mesh(db, asset)).isel(time=0)


def _open(url: str) -> closing[Database]:
    """The history, read-only (never created), closed after use."""
    return closing(Database(url, create=False))


def _fetch(db: Database, sql: str, params: list) -> list[tuple]:
    # no such table: a history written before field snapshots
    return fetch(db, sql, tuple(params), "field snapshots")


def _asset(db: Database, name: str, asset: str | None) -> str:
    """The asset whose snapshots of `name` are read: `asset`, or the only one that has some."""
    sql = "SELECT DISTINCT asset, name FROM field_snapshots"
    found = _fetch(db, sql + (" WHERE asset = ?" if asset is not None else ""),
                   [] if asset is None else [asset])  # fmt: skip
    names = sorted({n for _, n in found})
    if name not in names:
        where = "" if asset is None else f" of asset {asset}"
        stored = f"stored: {', '.join(names)}" if names else "none stored (field history off?)"
        raise CaseError(f"field {name}: no snapshots{where} in {redact(db.url)}; {stored}")
    assets = sorted({a for a, n in found if n == name})
    if len(assets) > 1:
        raise CaseError(f"field {name}: several assets have it ({', '.join(assets)}); "
                        "choose one (--asset)")  # fmt: skip
    return assets[0]


def _mesh(db: Database, asset: str) -> dict[str, Any]:
    try:
        rows = _fetch(db, "SELECT doc FROM fields WHERE asset = ? AND name = ?", [asset, MESH])
    except CaseError:
        return {}
    return json.loads(rows[0][0]) if rows else {}


def _dataset(name: str, asset: str, rows: list[tuple], mesh: dict[str, Any],
             empty: bool = False) -> Any:  # fmt: skip
    import xarray as xr

    shape = tuple(json.loads(rows[0][4]))
    unit = rows[0][3] or ""
    if empty:
        rows = []

    def stack(col: int) -> np.ndarray:
        flat = [np.frombuffer(bytes(r[col]), dtype="<f4").reshape(shape) for r in rows]
        return np.stack(flat) if flat else np.zeros((0, *shape), dtype=np.float32)

    last = "component" if len(shape) < 2 or shape[-1] <= 3 else f"{name}_component"
    dims = ("time", "node", last)[: 1 + len(shape)]
    times = np.array([np.datetime64(round(float(r[2]) * 1e6), "us") for r in rows],
                     dtype="datetime64[ns]")  # fmt: skip
    attrs = {"units": unit, "field": name}
    ds = xr.Dataset(
        {"mean": (dims, stack(5), attrs | {"long_name": f"{name}, posterior mean"}),
         "std": (dims, stack(6), attrs | {"long_name": f"{name}, posterior std"})},
        coords={"time": ("time", times, {"long_name": "plant time (UTC)"}),
                "update": ("time", np.array([int(r[1]) for r in rows], dtype=np.int64))},
        attrs={"field": name, "asset": asset, "source": "twinkit live twin: field snapshots"},
    )  # fmt: skip
    for k in ("node_x", "node_y", "node_z"):
        if len(mesh.get(k, ())) == shape[0]:
            ds.coords[k] = ("node", np.asarray(mesh[k]), {"units": "m"})
    try:
        ds["cells"] = (("cell", "cell_vertex"), np.asarray(mesh["cells"], dtype=np.int64))
    except (KeyError, ValueError):  # no cells, or of mixed kinds
        pass
    return ds
