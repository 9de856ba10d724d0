"""The live twin's history: every reading (accepted, repaired or rejected, with its reason), every
update (estimates ± std, predicted sensors and QoIs, residuals, lineage), every alert and the
virtual fields' snapshots (`twinkit.twin.virtual_field`), written
as it happens into a database chosen by URL: an SQLite file (the default,
`runs/<case>/history.sqlite`) or PostgreSQL (`postgresql://user@host/db`) for a plant.

Rows are buffered and committed together every `every` seconds (0.5 s) or `rows` rows, with the
twin's state in the same transaction, by a thread of their own (the twin never waits for the
database): a twin killed with SIGKILL loses at most what it handled since the last commit, and a
restart resumes from the state that matches the history, so nothing is written twice (a unique
index on each table refuses a second copy all the same). SQLite runs
in WAL mode (readers never block the twin) with synchronous=NORMAL: a killed process loses
nothing committed; a power cut may lose the last commits. A database that fails (a PostgreSQL
restart, a full disk) is retried every second; rows wait in memory meanwhile, up to `MAX_ROWS`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from twinkit.case import CaseError
from twinkit.redaction import redact, redact_text
from twinkit.twin.history_db import TABLES, Database, columns, history_url

log = logging.getLogger("twinkit.twin.history")
MAX_ROWS = 2_000_000  # rows waiting for a failed database; beyond them new rows are dropped
RETRY = 1.0  # s between attempts to reach a failed database


class History:
    """The writer the live twin holds: `reading`, `update` and `alert` buffer rows; `commit`
    hands them, with the twin's state, to a writer thread that writes each batch in one
    transaction (`due` says when to commit; `sync` waits until all is written). The twin never
    waits for the database: one that is slow or down only makes the batches wait."""

    def __init__(self, url: str | Path, asset: str = "plant", every: float = 0.5,
                 rows: int = 5000):  # fmt: skip
        self.url, self.asset, self.every, self.rows = history_url(url), asset, every, rows
        self.db: Database | None = Database(self.url)
        self.buffers: dict[str, list[tuple]] = {t: [] for t in TABLES}
        self.buffered = 0  # rows not yet handed to the writer
        self.dropped = 0  # rows lost because the database was down too long
        self.written = 0
        self.failing = False  # the last write failed
        self._next = time.monotonic() + every
        self._batches: deque[tuple[dict[str, list[tuple]], int, str | None, list[tuple]]] = deque()
        self._fields: dict[str, tuple] = {}  # name → the latest field's row, until committed
        self._queued = 0  # rows in `_batches`
        self._cv = threading.Condition()
        self._closing = False
        self._give_up = math.inf  # when a closed history stops trying
        self._writer = threading.Thread(target=self._run, name="history", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"History({redact(self.url)!r}, asset={self.asset!r})"

    @property
    def pending(self) -> int:
        """Rows not written yet (buffered or waiting for the writer)."""
        return self.buffered + self._queued

    # ---- rows ---------------------------------------------------------------------------------
    def _add(self, table: str, row: tuple) -> None:
        if self.pending >= MAX_ROWS:
            self.dropped += 1
            if math.log10(self.dropped).is_integer():
                log.error("history %s unreachable: %d rows dropped", redact(self.url),
                          self.dropped)  # fmt: skip
            return
        self.buffers[table].append((self.asset, *row))
        self.buffered += 1

    def reading(
        self, t: float, sensor: str, value: float | None, unit: str | None, status: str,
        reason: str | None = None, detail: str | None = None, payload: bytes | None = None,
    ) -> None:  # fmt: skip
        """One reading: `status` accepted, repaired or rejected (then `reason`, `detail`, and
        the start of the raw `payload`)."""
        raw = None if payload is None else _text(payload[:200].decode("utf-8", "replace"))
        if value is not None and not math.isfinite(value):
            value = None
        self._add("readings", (t, time.time(), _text(sensor[:64]), value, unit, status, reason,
                               detail and _text(detail[:200]), raw))  # fmt: skip

    def update(self, n: int, t: float, lineage: dict[str, Any], values: list[tuple]) -> None:
        """Update number `n` at plant time `t`: its lineage (case_hash, surrogate_hash,
        readings_from, readings_to, readings, seconds) and its values, rows of (kind, name,
        value, std, measured, sigma, unit)."""
        self._add("updates", (n, t, *(lineage.get(c) for c in columns("updates")[2:])))
        for v in values:
            self._add("update_values", (n, *v))

    def field(self, name: str, n: int, t: float, doc: dict[str, Any]) -> None:
        """The latest virtual field `name` (`twinkit.twin.virtual_field`) of update `n`: it
        replaces the one stored (one row per asset and name; MESH the mesh)."""
        self._fields[name] = (self.asset, name, n, t if math.isfinite(t) else None, time.time(),
                              json.dumps(doc))  # fmt: skip

    def field_snapshot(self, name: str, n: int, t: float, unit: str, mean: Any, std: Any) -> None:
        """A snapshot of virtual field `name` of update `n` at plant time `t`, kept (a series,
        unlike `field`): mean and std as float32 bytes, little-endian, in their shape's order."""
        import numpy as np

        m, s = (np.ascontiguousarray(a, dtype="<f4") for a in (mean, std))
        self._add("field_snapshots", (n, t, name, unit, json.dumps(list(m.shape)), m.tobytes(),
                                      s.tobytes()))  # fmt: skip

    def alert(self, t: float, doc: dict[str, Any]) -> None:
        """An alert raised or cleared (and, later, acknowledged) at plant time `t`."""
        known = ("state", "kind", "key", "message", "t")
        data = json.dumps({k: v for k, v in doc.items() if k not in known}, default=float)
        row = (t, time.time(), doc["state"], doc["kind"], doc["key"], doc["message"], data)
        self._add("alerts", row)

    # ---- commits ------------------------------------------------------------------------------
    def due(self) -> bool:
        """Whether `commit` should run now: enough rows, or rows older than `every`."""
        waiting = self.buffered > 0 or bool(self._fields)
        return self.buffered >= self.rows or (waiting and time.monotonic() >= self._next)

    def commit(self, state: dict[str, Any] | None = None) -> bool:
        """Hand the buffered rows and `state` (as it is now) to the writer, to be written in one
        transaction; returns whether the last write succeeded."""
        self._next = time.monotonic() + self.every
        if self.buffered or state is not None or self._fields:
            doc = None if state is None else json.dumps(state, default=float)
            fields, self._fields = list(self._fields.values()), {}
            with self._cv:
                self._batches.append((self.buffers, self.buffered, doc, fields))
                self._queued += self.buffered
                self._cv.notify_all()
            self.buffers = {t: [] for t in TABLES}
            self.buffered = 0
        return not self.failing

    def sync(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over is written; False if `timeout` s passed first."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._batches, timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._batches or self._closing)
                if not self._batches:
                    return
                buffers, n, doc, fields = self._batches[0]
            if self._write(buffers, doc, fields):
                with self._cv:
                    self._batches.popleft()
                    self._queued -= n
                    self.written += n
                    self._cv.notify_all()
            else:
                with self._cv:  # try again after RETRY s, or give up once closed
                    if self._closing and time.monotonic() > self._give_up:
                        return
                    self._cv.wait(RETRY)

    def _write(self, buffers: dict[str, list[tuple]], doc: str | None,
               fields: list[tuple] | None = None) -> bool:  # fmt: skip
        try:
            if self.db is None:
                self.db = Database(self.url)
                log.info("history %s reachable again", redact(self.url))
            for table, rows in buffers.items():
                self.db.insert(table, rows)
            if doc is not None:
                self.db.run(
                    "INSERT INTO twin_state (asset, saved, state) VALUES (?, ?, ?) ON CONFLICT "
                    "(asset) DO UPDATE SET saved = excluded.saved, state = excluded.state",
                    (self.asset, time.time(), doc),
                )
            for row in fields or []:
                self.db.run(
                    "INSERT INTO fields (asset, name, n, t, saved, doc) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (asset, name) DO UPDATE SET n = excluded.n, t = excluded.t, "
                    "saved = excluded.saved, doc = excluded.doc",
                    row,
                )
            self.db.conn.commit()
        except Exception as e:
            self._failed(e)
            return False
        self.failing = False
        return True

    def _failed(self, e: Exception) -> None:
        why = str(e) if isinstance(e, CaseError) else f"cannot write ({type(e).__name__}: {e})"
        why = " ".join(redact_text(why, self.url).split())
        if not why.startswith("history "):
            why = f"history {redact(self.url)}: {why}"
        if not self.failing:
            log.warning("%s; %d rows wait, retrying every %g s", why, self.pending, RETRY)
        self.failing = True
        if self.db is not None:
            try:
                self.db.conn.rollback()
            except Exception:  # the connection is gone
                pass
            self.db.close()
            self.db = None

    def last_state(self) -> dict[str, Any] | None:
        """The twin state committed last with the history of this asset, or None (call it
        before the first commit: it shares the writer's connection)."""
        if self.db is None:
            return None
        row = self.db.run("SELECT state FROM twin_state WHERE asset = ?", (self.asset,)).fetchone()
        self.db.conn.commit()  # end the read transaction (PostgreSQL opens one)
        return None if row is None else json.loads(row[0])

    def close(self, state: dict[str, Any] | None = None, timeout: float = 5.0) -> None:
        """Commit what is buffered (with `state`), wait up to `timeout` s for it to be written,
        stop the writer and close."""
        self.commit(state)
        self._give_up = time.monotonic() + timeout
        self.sync(timeout)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._writer.join(timeout + RETRY)
        if self.pending:
            log.error("history %s: %d rows could not be written", redact(self.url), self.pending)
        if self.db is not None:
            self.db.close()
            self.db = None


def _text(s: str) -> str:
    """Text from a message as a database keeps it: PostgreSQL refuses NUL characters (one such
    row would fail every commit), so they are written as the escape \\x00."""
    return s.replace("\x00", "\\x00")


def record_update(twin: Any, est: dict, std: dict, pred: dict, obs: dict) -> None:
    """A live twin's update into its history: the estimates, the measured inputs, each sensor's
    prediction beside its measured mean (residual in σ), the QoIs over the posterior ensemble
    (virtual sensors), and the lineage (case and surrogate hashes, the readings it used)."""
    from twinkit.case.objectives import output_units

    w, c = twin.window, twin.loaded.case
    rows: list[tuple] = [("parameter", n, est[n], std[n], None, None, twin.units[n])
                         for n in est]  # fmt: skip
    rows += [("input", n, v, None, None, None, twin.units[n]) for n, v in twin.fixed.items()]
    for o, (m, s) in pred.items():
        name = o.partition("_")[2]
        if o.startswith("sensor_") and name in twin.rules:
            y = obs.get(o)
            z = None if y is None else (y[0] - m) / math.hypot(y[1], s)
            rows.append(("sensor", name, m, s, y and y[0], z, twin.rules[name].unit))
        elif o.startswith("qoi_"):  # virtual sensors: the QoIs over the posterior ensemble
            unit = output_units(c, name)[0] if name in c.outputs.qoi else ""
            rows.append(("qoi", name, m, s, None, None, unit))
    for name, f in twin.forecast.items():  # when a wear limit will be reached (epoch s)
        for suffix, key in (("", "crossing"), (":lower", "lower"), (":upper", "upper")):
            if f.get(key) is not None:
                rows.append(("forecast", name + suffix, f[key], None, None, None, "s"))
    lineage = {
        "case_hash": twin.loaded.hash,
        "surrogate_hash": twin.surrogate_hash,
        "readings_from": w[0] if w[2] else None,
        "readings_to": w[1] if w[2] else None,
        "readings": w[2],
        "seconds": twin.update_seconds[-1],
    }
    twin.history.update(twin.updates, twin.t, lineage, rows)
