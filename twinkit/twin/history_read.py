"""Reading the live twin's history back (`twinkit history`, `tk.history`): one kind of record at a
time, in a time window, as a pandas DataFrame whose times are UTC timestamps and values SI.

- `readings`: t, received, sensor, value, unit, status (accepted, repaired, rejected), reason,
  detail, payload (the start of a rejected message).
- `updates`: one row per value of each update: t, update, kind (parameter, input, sensor, qoi),
  name, value, std, measured and sigma (sensors: the reading's mean and its residual in σ), unit,
  and the update's lineage: case_hash, surrogate_hash, readings_from, readings_to, readings
  (the time range and count of the readings it used), seconds (its computing time).
- `alerts`: t, received, state (raised, cleared), kind, key, message, data (JSON).

`t` is plant time (a reading's timestamp; for a rejected reading the twin's plant clock when it
came); `received` is the wall clock. A window (`since`, `until`) applies to `t`; a duration
(`6h`) counts back from the history's newest record (`newest`), not from the wall clock, so that
a history replayed or copied from a plant, whose plant times lie in the past, reads the same as
a live one (where the newest record is a moment old).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from typing import Any

from twinkit.case import CaseError
from twinkit.redaction import redact, redact_text
from twinkit.twin.history_db import Database, columns

KINDS = ("readings", "updates", "alerts")
TIMES = ("t", "received", "readings_from", "readings_to")


def time_bound(
    value: Any, option: str, now: float | Callable[[], float | None] | None = None
) -> float | None:
    """Epoch seconds from a duration before `now` ('6h', '30 min'), a time (ISO-8601, epoch
    seconds, a datetime) or None. `now`: epoch s, or a function giving it (called only for a
    duration); None (or a function giving None): the wall clock."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    from twinkit.sensors.timestamps import parse_time

    try:
        return parse_time(text)
    except ValueError:
        pass
    from twinkit.case.units import UnitError, parse

    try:
        seconds = parse(text, "s")
    except UnitError:
        raise CaseError(
            f"{option} {text}: expected a duration (6h, 30 min) or a time (2026-01-01T06:00Z)"
        ) from None
    if callable(now):
        now = now()
    return (time.time() if now is None else now) - seconds


def newest(url: str, asset: str | None = None) -> float | None:
    """The plant time of the history's newest reading or update (of `asset` if given); None
    for a history without any."""
    cond, params = (" WHERE asset = ?", (asset,)) if asset is not None else ("", ())
    with closing(Database(url, create=False)) as db:
        found = [fetch(db, f"SELECT MAX(t) FROM {table}{cond}", params, table)[0][0]
                 for table in ("readings", "updates")]  # fmt: skip
    times = [float(t) for t in found if t is not None]
    return max(times) if times else None


def _query(kind: str, since: float | None, until: float | None, asset: str | None) -> tuple:
    prefix = "u." if kind == "updates" else ""
    where: list[str] = []
    params: list[Any] = []
    for op, bound in ((">=", since), ("<=", until)):
        if bound is not None:
            where.append(f"{prefix}t {op} ?")
            params.append(bound)
    if asset is not None:
        where.append(f"{prefix}asset = ?")
        params.append(asset)
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    if kind == "updates":
        lineage = [f"u.{c}" for c in columns("updates")[2:]]
        values = [f"v.{c}" for c in columns("update_values")[1:]]
        sql = (
            f"SELECT u.asset, u.t, u.n, {', '.join(values + lineage)} FROM updates u "
            f"JOIN update_values v ON v.asset = u.asset AND v.n = u.n{cond} "
            "ORDER BY u.asset, u.t, u.n, v.id"
        )
        names = ["asset", "t", "update", *columns("update_values")[1:], *columns("updates")[2:]]
    else:
        names = ["asset", *columns(kind)]
        sql = f"SELECT {', '.join(names)} FROM {kind}{cond} ORDER BY asset, t, id"
    return sql, tuple(params), names


def fetch(db: Database, sql: str, params: tuple, what: str) -> list[tuple]:
    """The rows of `sql`, with its read transaction ended (PostgreSQL opens one); a database the
    twin has not written yet (or not this table) is one message naming the history and `what`."""
    try:
        rows = db.run(sql, tuple(params)).fetchall()
    except Exception as e:
        why = redact_text(str(e).strip(), db.url)
        raise CaseError(f"history {redact(db.url)}: cannot read {what} ({why})") from None
    db.conn.commit()
    return rows


def read_history(
    url: str,
    kind: str = "readings",
    since: float | None = None,
    until: float | None = None,
    asset: str | None = None,
) -> Any:
    """The records of `kind` in [since, until] (epoch seconds) as a pandas DataFrame."""
    import pandas as pd

    if kind not in KINDS:
        raise CaseError(f"--kind {kind}: expected one of {', '.join(KINDS)}")
    sql, params, names = _query(kind, since, until, asset)
    with closing(Database(url, create=False)) as db:
        rows = fetch(db, sql, params, kind)
    df = pd.DataFrame.from_records(rows, columns=names)
    for c in TIMES:
        if c in df:
            df[c] = pd.to_datetime(df[c].astype(float), unit="s", utc=True)
    for c in ("update", "readings"):
        if c in df:
            df[c] = df[c].astype("int64")
    return df


def write_table(df: Any, fmt: str, path: Any = None) -> str | None:
    """`df` as CSV (returned as text when `path` is None) or Parquet (`path` needed)."""
    if fmt == "csv":
        text = df.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        return text
    if fmt == "parquet":
        if path is None:
            raise CaseError("--format parquet needs --output FILE")
        from twinkit.extras import require

        require("pyarrow", "Parquet output")
        df.to_parquet(path, index=False)
        return None
    raise CaseError(f"--format {fmt}: expected csv or parquet")
