"""The history's database: its tables, and one connection to SQLite or PostgreSQL by URL
(`twinkit.twin.history` writes to it, `twinkit.twin.history_read` and the dashboard read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinkit.case import CaseError
from twinkit.redaction import redact, redact_text

FILE_NAME = "history.sqlite"

# table → its columns after `id` and `asset` (`?` DOUBLE PRECISION, `#` bytes, else TEXT)
TABLES = {
    "readings": (
        "t?",
        "received?",
        "sensor",
        "value?",
        "unit",
        "status",
        "reason",
        "detail",
        "payload",
    ),  # fmt: skip
    "updates": (
        "n?",
        "t?",
        "case_hash",
        "surrogate_hash",
        "readings_from?",
        "readings_to?",
        "readings?",
        "seconds?",
    ),  # fmt: skip
    "update_values": ("n?", "kind", "name", "value?", "std?", "measured?", "sigma?", "unit"),
    "alerts": ("t?", "received?", "state", "kind", "key", "message", "data"),
    # a virtual field's snapshot every `LiveOptions.field_history_every` of plant time: its
    # update, plant time, unit, shape (JSON) and the mean and std (float32, little-endian)
    "field_snapshots": ("n?", "t?", "name", "unit", "shape", "mean#", "std#"),
}
INDEXES = (
    # at most one accepted or repaired reading per sensor and time, one update per number
    "CREATE UNIQUE INDEX IF NOT EXISTS readings_once ON readings (asset, sensor, t) "
    "WHERE status <> 'rejected'",
    "CREATE INDEX IF NOT EXISTS readings_t ON readings (asset, t)",
    "CREATE UNIQUE INDEX IF NOT EXISTS updates_once ON updates (asset, n)",
    "CREATE INDEX IF NOT EXISTS updates_t ON updates (asset, t)",
    "CREATE UNIQUE INDEX IF NOT EXISTS update_values_once ON update_values (asset, n, kind, name)",
    "CREATE UNIQUE INDEX IF NOT EXISTS alerts_once ON alerts (asset, t, key, state)",
    "CREATE UNIQUE INDEX IF NOT EXISTS field_snapshots_once ON field_snapshots (asset, name, t)",
)
BLOB = {False: "BLOB", True: "BYTEA"}  # a `#` column in SQLite, PostgreSQL


def columns(table: str) -> list[str]:
    return [c.rstrip("?#") for c in TABLES[table]]


def history_url(text: str | Path) -> str:
    """A history location as a URL: `sqlite:///relative/file`, `sqlite:////absolute/file`,
    `postgresql://user@host:port/db`, or a plain file path (SQLite)."""
    text = str(text)
    if text.startswith(("postgresql://", "postgres://", "sqlite:///")):
        return text
    if "://" in text:
        raise CaseError(
            f"--history {redact(text)}: expected sqlite:///FILE, postgresql://... or a file path"
        )
    return f"sqlite:///{text}"


class Database:
    """One connection, SQLite (stdlib) or PostgreSQL (psycopg2): `?` placeholders for both."""

    def __init__(self, url: str, create: bool = True):
        self.url = history_url(url)
        self.postgres = not self.url.startswith("sqlite:///")
        try:
            self.conn = self._connect(create)
            if create:
                self._schema()
        except CaseError:
            raise
        except Exception as e:  # unreachable server, bad credentials, unwritable file
            why = redact_text(f"{type(e).__name__}: {e}", self.url)
            raise CaseError(f"history {redact(self.url)}: cannot open ({why})") from None

    def _connect(self, create: bool) -> Any:
        if self.postgres:
            from twinkit.extras import require

            require("psycopg2", "a PostgreSQL history")
            import psycopg2

            dsn = self.url.replace("postgres://", "postgresql://", 1)
            # a server that stops answering is noticed within about 25 s, not TCP's minutes
            return psycopg2.connect(dsn, connect_timeout=5, keepalives_idle=10,
                                    keepalives_interval=5, keepalives_count=3)  # fmt: skip
        import sqlite3

        path = Path(self.url.removeprefix("sqlite:///"))
        if not create and not path.is_file():
            raise CaseError(f"history {path}: no such file (has the live twin run with it?)")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        # a lock held by another writer fails the commit after 2 s (retried) instead of stalling
        conn = sqlite3.connect(path, timeout=2, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _schema(self) -> None:
        key = "id BIGSERIAL PRIMARY KEY" if self.postgres else "id INTEGER PRIMARY KEY"
        for table, cols in TABLES.items():
            types = {"?": "DOUBLE PRECISION", "#": BLOB[self.postgres]}
            defs = ", ".join(f"{c.rstrip('?#')} {types.get(c[-1], 'TEXT')}" for c in cols)
            self.run(f"CREATE TABLE IF NOT EXISTS {table} ({key}, asset TEXT NOT NULL, {defs})")
        self.run("CREATE TABLE IF NOT EXISTS twin_state "
                 "(asset TEXT PRIMARY KEY, saved DOUBLE PRECISION, state TEXT)")  # fmt: skip
        # the latest virtual field per asset and name (replaced, never a series), and the mesh
        self.run("CREATE TABLE IF NOT EXISTS fields (asset TEXT NOT NULL, name TEXT NOT NULL, "
                 "n DOUBLE PRECISION, t DOUBLE PRECISION, saved DOUBLE PRECISION, doc TEXT, "
                 "PRIMARY KEY (asset, name))")  # fmt: skip
        for sql in INDEXES:
            self.run(sql)
        self.conn.commit()

    def run(self, sql: str, params: tuple = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return cur

    def insert(self, table: str, rows: list[tuple]) -> None:
        """Insert rows (asset first); a row already there is left alone."""
        if not rows:
            return
        names = ", ".join(["asset", *columns(table)])
        cur = self.conn.cursor()
        if self.postgres:
            from psycopg2.extras import execute_values

            sql = f"INSERT INTO {table} ({names}) VALUES %s ON CONFLICT DO NOTHING"
            execute_values(cur, sql, rows, page_size=1000)
        else:
            marks = ", ".join("?" * (len(TABLES[table]) + 1))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            cur.executemany(sql, rows)

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # already broken
            pass
