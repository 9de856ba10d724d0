"""What the dashboard shows, read from the live twin's history: new rows are fetched by their
database id (or update number) every poll, so a poll costs what was written since the last one,
whether the twin is running beside the dashboard or stopped long ago.

Series are kept whole in memory (lists of floats, SI) and cut down when a page asks for them:
`thin` keeps at most `max_points` points of a line, evenly spread, always with the newest.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinkit.redaction import redact, redact_text

log = logging.getLogger("twinkit.dashboard")
MAX_POINTS = 2000  # per line sent to a page


@dataclass
class Series:
    """One line over time: plant time (epoch s), value and std (None where none; a reading has
    no std: `std` stays empty); SI, with the unit. Plain lists: appending is what a poll does
    most, and `numpy.asarray(..., float)` turns None into NaN when a page asks."""

    unit: str = ""
    t: list[float] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    std: list[float | None] = field(default_factory=list)


def thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most `max_points` of `n` points, evenly spread, first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


class HistorySource:
    """The history of one asset as the dashboard needs it; `poll` fetches what is new.

    Attributes: `readings[sensor]` (accepted and repaired values), `quality[sensor]` (a Counter
    of 'accepted', 'repaired', 'rejected: <reason>'), `updates[kind][name]` (kind parameter,
    input, sensor, qoi), `forecast[name]` ({'crossing', 'lower', 'upper'}: epoch s, the latest
    update's), `alerts` (newest last: t, state, kind, key, severity, message), `fields[name]`
    (the latest virtual field's message, with `saved`; `twinkit.twin.virtual_field.MESH` the
    mesh), `version`
    (grows when anything new was read) and `error` (why the history cannot be read, or None).
    """

    def __init__(self, url: str, asset: str = "plant", every: float = 0.9):
        self.url, self.asset, self.every = url, asset, every
        self.readings: dict[str, Series] = defaultdict(Series)
        self.quality: dict[str, Counter] = defaultdict(Counter)
        self.updates: dict[str, dict[str, Series]] = defaultdict(lambda: defaultdict(Series))
        self.forecast: dict[str, dict[str, float]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.fields: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.error: str | None = None
        self.last_update: tuple[int, float] | None = None  # (number, plant time) of the latest
        self._db: Any = None
        self._last = {"readings": 0, "updates": 0, "alerts": 0}
        self._polled = -np.inf
        self._fields_saved = -np.inf  # when the newest field read was written (wall clock)

    def poll(self, force: bool = False) -> int:
        """Read what was written since the last poll (at most one poll per `every` s unless
        `force`); returns `version`. A history that cannot be read sets `error`."""
        now = time.monotonic()
        if not force and now - self._polled < self.every:
            return self.version
        self._polled = now
        try:
            if self._db is None:
                from twinkit.twin.history_db import Database

                self._db = Database(self.url, create=False)
            new = self._readings() + self._updates() + self._alerts() + self._fields()
            if self._db.postgres:
                self._db.conn.rollback()  # no transaction left open between polls
            self.error = None
        except Exception as e:  # not written yet, a server down: say so, try again next poll
            why = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            self.error = redact_text(why, self.url)
            if self._db is not None:
                self._db.close()
                self._db = None
            return self.version
        if new:
            self.version += 1
        return self.version

    def _rows(self, sql: str, since: int) -> list[tuple]:
        return self._db.run(sql, (self.asset, since)).fetchall()

    def _readings(self) -> int:
        rows = self._rows(
            "SELECT id, t, sensor, value, unit, status, reason FROM readings "
            "WHERE asset = ? AND id > ? ORDER BY id",
            self._last["readings"],
        )
        for _, t, sensor, value, unit, status, reason in rows:
            if status == "rejected":
                self.quality[sensor][f"rejected: {reason or 'unknown'}"] += 1
                continue
            self.quality[sensor][status] += 1
            s = self.readings[sensor]
            s.unit = unit or s.unit
            s.t.append(t)
            s.value.append(value)
        if rows:
            self._last["readings"] = rows[-1][0]
        return len(rows)

    def _updates(self) -> int:
        rows = self._rows(
            "SELECT u.n, u.t, v.kind, v.name, v.value, v.std, v.unit FROM updates u "
            "JOIN update_values v ON v.asset = u.asset AND v.n = u.n "
            "WHERE u.asset = ? AND u.n > ? ORDER BY u.n, v.id",
            self._last["updates"],
        )
        for _, t, kind, name, value, std, unit in rows:
            if kind == "forecast":
                base, _, which = name.partition(":")
                self.forecast.setdefault(base, {})[which or "crossing"] = value
                continue
            s = self.updates[kind][name]
            s.unit = unit or s.unit
            s.t.append(t)
            s.value.append(value)
            s.std.append(std)
        if rows:
            self._last["updates"] = int(rows[-1][0])
            self.last_update = (int(rows[-1][0]), float(rows[-1][1]))
        return len(rows)

    def _alerts(self) -> int:
        rows = self._rows(
            "SELECT id, t, state, kind, key, message, data FROM alerts "
            "WHERE asset = ? AND id > ? ORDER BY id",
            self._last["alerts"],
        )
        for _, t, state, kind, key, message, data in rows:
            try:
                doc = json.loads(data) if data else {}
            except ValueError:
                doc = {}
            severity = doc.get("severity", "") if isinstance(doc, dict) else ""
            self.alerts.append({"t": t, "state": state, "kind": kind, "key": key,
                                "severity": severity, "message": message})  # fmt: skip
        if rows:
            self._last["alerts"] = rows[-1][0]
        return len(rows)

    def _fields(self) -> int:
        """The virtual fields written since the last poll (one row per field, replaced)."""
        try:
            rows = self._db.run(
                "SELECT name, saved, doc FROM fields WHERE asset = ? AND saved > ? ORDER BY saved",
                (self.asset, self._fields_saved),
            ).fetchall()
        except Exception:  # a history from before the virtual fields: no such table
            if self._db.postgres:
                self._db.conn.rollback()
            return 0
        for name, saved, doc in rows:
            try:
                self.fields[name] = json.loads(doc) | {"saved": saved}
            except (TypeError, ValueError):
                continue
            self._fields_saved = max(self._fields_saved, saved)
        return len(rows)

    def open_alerts(self) -> list[str]:
        """Keys of the alerts raised (or escalated) and neither acknowledged nor cleared since."""
        last: dict[str, str] = {}
        for a in self.alerts:
            last[a["key"]] = a["state"]
        return [k for k, s in last.items() if s in ("raised", "escalated")]

    def where(self) -> str:
        return redact(self.url)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
