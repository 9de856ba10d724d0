"""Virtual field sensors of the live twin: each field of the surrogate (temperature, velocity, ...)
over the posterior ensemble, mean and std at every mesh node.

Each member's inputs go through the field head (`Head.mean_std`, one batched call); the mean is
the members' mean and the variance the law of total variance, as for the QoIs
(`EnsembleFilter.predict`): var = var over members of the member means (the posterior's spread,
n − 1 in the denominator) + mean over members of the surrogate's variance (its own uncertainty).

The field is not computed in the update (it would add its cost to every update): an update leaves
the ensemble's inputs (a copy, microseconds), and the twin computes the field from them when no
message waits, at most every `every` s of wall time (`LiveOptions.field_every`). The latest field
is published and replaced: `field.npz` in the run folder (replaced atomically), one row per field
in the history's `fields` table (replaced), and a retained MQTT message per field.

A series is kept too, for looking back: the first update of every `history_every` s of plant
time (`LiveOptions.field_history_every`, 15 min; periods aligned on the epoch, so at 14:00,
14:15, ...) keeps its inputs until the twin is idle, and its fields go, mean and std as float32,
into the history's `field_snapshots` table, in the history's next batch commit (read back by
`twinkit.twin.field_history`). At most one snapshot per period (and one more per restart): a
day, 86,400 / `history_every` × 8 bytes × the values of all fields (the furnace: 96 × 40 kB,
3.9 MB). A twin never idle for a whole period (a replay faster than it keeps up with) skips that
period: the next period's first update takes the waiting place.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

FILE_NAME = "field.npz"
MESH = "#mesh"  # the history's `fields` row of the mesh's nodes and cells


def ensemble_field(surrogate: Any, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every field of `surrogate` over the ensemble of inputs `x` (members, n_inputs), SI: name →
    (mean, std), each of the field's shape per sample ((node,) or (node, component))."""
    x = np.asarray(x, dtype=np.float64)
    out = {}
    for name, (m, s) in _members(surrogate, x).items():  # (members, *shape) each
        spread = m.var(0, ddof=1) if len(m) > 1 else np.zeros(m.shape[1:])
        out[name] = (m.mean(0), np.sqrt(spread + (s * s).mean(0)))
    return out


def _members(surrogate: Any, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each member's field mean and std: through the field heads only (a `Surrogate`), else
    through `predict` (any surrogate with `fields`). No range warning: the ensemble may stray
    past the training box, as it does for the QoIs."""
    heads = getattr(surrogate, "field_heads", None)
    if heads is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = surrogate.predict(x)
        return {n: (np.asarray(p.mean[n]), np.asarray(p.std[n])) for n in surrogate.fields}
    import torch

    from twinkit.surrogates.mlp import one_thread_inference

    xs = torch.from_numpy(surrogate.scaler.transform(x))
    out = {}
    with one_thread_inference():
        for name, head in heads.items():
            m, s = head.mean_std(xs)  # (members, p)
            out[name] = (m.reshape(len(x), *head.shape), s.reshape(len(x), *head.shape))
    return out


def values(a: Any) -> list[float]:
    """Values rounded to 7 significant digits (float32's precision), flat, JSON-ready: their
    JSON is as short as float32's (vectorised: formatting each float32 took 30 ms a furnace)."""
    v = np.asarray(a, dtype=np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(v != 0, 6 - np.floor(np.log10(np.abs(v))), 0)
        scale = 10.0 ** np.clip(digits, -300, 300)
        r = np.round(v * scale) / scale
    return np.where(np.isfinite(r), r, v).tolist()


def mesh_doc(mesh: dict[str, np.ndarray]) -> dict[str, Any]:
    """The surrogate's mesh as JSON: node coordinates (7 digits) and cells (node indices)."""
    doc: dict[str, Any] = {k: values(mesh[k]) for k in ("node_x", "node_y", "node_z") if k in mesh}
    if "cells" in mesh:
        doc["cells"] = np.asarray(mesh["cells"]).tolist()
    return doc


class VirtualFields:
    """The twin's field sensors: `mark` after an update, `refresh` when idle."""

    def __init__(self, surrogate: Any, every: float, run_dir: Path, topic: str, mesh_topic: str,
                 history_every: float = 0.0):  # fmt: skip
        self.s, self.every, self.topic, self.mesh_topic = surrogate, every, topic, mesh_topic
        self.history_every = history_every  # plant s between snapshots (0: none)
        self.path = run_dir / FILE_NAME
        self.pending: tuple[int, float, np.ndarray] | None = None  # (update, t, inputs)
        self.snap: tuple[int, float, np.ndarray] | None = None  # a period's first, to keep
        self.period = -math.inf  # the plant-time period of the latest snapshot
        self.last = -np.inf  # monotonic time of the last computation
        self.latest: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.update, self.t = 0, float("nan")  # of the latest field
        self.mesh_sent = False
        self.seconds: deque[float] = deque(maxlen=1000)  # per computation, the last 1000

    def mark(self, update: int, t: float, x: np.ndarray) -> None:
        """The ensemble's inputs after update number `update` at plant time `t` (the first of a
        new period of plant time is also kept for a snapshot)."""
        self.pending = (update, t, x)
        if self.history_every > 0 and math.isfinite(t) and t // self.history_every > self.period:
            self.period = t // self.history_every
            self.snap = self.pending  # a later update replaces `pending`, not this

    def due(self) -> bool:
        late = self.pending is not None and time.monotonic() - self.last >= self.every
        return late or self.snap is not None

    def refresh(self, publish: Any, history: Any = None, force: bool = False) -> bool:
        """Compute the field of the pending ensemble if due (or `force`d), publish and store it,
        and the snapshot waiting (into `history`); whether it computed any."""
        snapped = self.snapshot(history)
        if self.pending is None:
            return snapped is not None
        same = snapped is not None and snapped[0] == self.pending[0]  # the snapshot is the latest
        if not (force or self.due() or same):
            return snapped is not None
        t0 = time.perf_counter()
        self.update, self.t, x = self.pending
        self.pending = None
        self.latest = snapped[1] if snapped is not None and same else ensemble_field(self.s, x)
        self.last = time.monotonic()
        docs = {name: self.doc(name) for name in self.latest}
        if not self.mesh_sent:
            mesh = mesh_doc(getattr(self.s, "mesh", None) or {})
            publish(self.mesh_topic, mesh, True)
            if history is not None:
                history.field(MESH, 0, float("nan"), mesh)
            self.mesh_sent = True
        for name, doc in docs.items():
            publish(f"{self.topic}/{name}", doc, True)
            if history is not None:
                history.field(name, self.update, self.t, doc)
        self.save()
        self.seconds.append(time.perf_counter() - t0)
        return True

    def snapshot(self, history: Any) -> tuple[int, dict] | None:
        """The waiting snapshot's fields into `history` (none without one): (update, fields)."""
        if self.snap is None or history is None:
            self.snap = None
            return None
        n, t, x = self.snap
        self.snap = None
        fields = ensemble_field(self.s, x)
        for name, (mean, std) in fields.items():
            history.field_snapshot(name, n, t, self.unit(name), mean, std)
        return n, fields

    def unit(self, name: str) -> str:
        return str(getattr(self.s, "units", {}).get(name, ""))

    def doc(self, name: str) -> dict[str, Any]:
        """One field's message: plant time, update number, unit, shape, mean and std (7 digits,
        flat, node-major: a vector field's components of a node are neighbours)."""
        from datetime import UTC, datetime

        mean, std = self.latest[name]
        return {
            "t": datetime.fromtimestamp(self.t, UTC).isoformat(),
            "update": self.update,
            "unit": self.unit(name),
            "shape": list(mean.shape),
            "mean": values(mean),
            "std": values(std),
        }

    def save(self) -> None:
        """The latest field into `field.npz` (replaced atomically): t, update, the mesh and
        NAME_mean, NAME_std per field (float32)."""
        from twinkit.files import atomic_write

        arrays: dict[str, Any] = {"t": self.t, "update": self.update}
        arrays |= {k: np.asarray(v) for k, v in (getattr(self.s, "mesh", None) or {}).items()}
        for name, (mean, std) in self.latest.items():
            arrays[f"{name}_mean"] = mean.astype(np.float32)
            arrays[f"{name}_std"] = std.astype(np.float32)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
                np.savez(f, **arrays)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, write)


def read_field(path: str | Path) -> dict[str, np.ndarray]:
    """A `field.npz` written by the live twin, as a dict of arrays (`twinkit.files.load_npz`:
    ValueError for compressed members, which could inflate to any size)."""
    from twinkit.files import load_npz

    with load_npz(Path(path)) as f:
        return {k: f[k] for k in f.files}
