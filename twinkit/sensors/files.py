"""Recorded sensor data: the long table (CSV or Parquet) and per-sensor statistics over a window.

Columns: `timestamp` (ISO-8601, or epoch seconds, ms, µs or ns), `sensor`, `value`, `unit`,
optional `quality`. A row whose time lies far from all the others (a logger's clock gone wrong)
is dropped as `far_from_rest`, so that it cannot become the calibration window. The other rows
are put in time order (each moved row counted as `reordered`) and then pass the same
`SensorValidator` as a live stream.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, units
from twinkit.sensors.readings import Reading, SensorValidator, parse_time

COLUMNS = ("timestamp", "sensor", "value", "unit")


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise CaseError(f"{path}: sensor file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as f:  # Excel's "CSV UTF-8": a BOM
                reader = csv.DictReader(f)
                header = [h.strip() for h in reader.fieldnames or []]
                reader.fieldnames = header
                rows = list(reader)
        elif suffix in (".parquet", ".pq"):
            from twinkit.extras import require

            require("pyarrow", f"{path}: reading Parquet")
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            header, rows = table.column_names, table.to_pylist()
        else:
            raise CaseError(f"{path}: expected a .csv or .parquet sensor file")
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CaseError(f"{path}: cannot read the sensor file ({e})") from None
    except Exception as e:  # pyarrow's errors for a file that is not Parquet
        if isinstance(e, CaseError):
            raise
        raise CaseError(f"{path}: not a readable Parquet file ({e})") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CaseError(
            f"{path}: missing column(s) {', '.join(missing)}; expected "
            f"{', '.join(COLUMNS)}[, quality]; found {', '.join(map(str, header)) or 'none'}"
        )
    return rows


def _time_or_nan(t: Any) -> float:
    try:
        return parse_time(t)
    except (ValueError, TypeError):
        return -math.inf


def _moved(times: list[float]) -> set[int]:
    """Rows outside one longest non-decreasing run of `times`: the fewest rows to move."""
    tails: list[float] = []  # patience sorting, keeping the index chain
    tail_idx: list[int] = []
    prev = [-1] * len(times)
    for i, t in enumerate(times):
        k = bisect.bisect_right(tails, t)
        prev[i] = tail_idx[k - 1] if k else -1
        if k == len(tails):
            tails.append(t)
            tail_idx.append(i)
        else:
            tails[k], tail_idx[k] = t, i
    keep, i = set(), tail_idx[-1] if tail_idx else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return set(range(len(times))) - keep


def _far(times: list[float]) -> set[int]:
    """Rows further from the bulk of the data (all but the earliest and latest 1 %, at least one
    row each) than the bulk is long (at least an hour); none when there are under 10 rows."""
    known = sorted(t for t in times if math.isfinite(t))
    if len(known) < 10:
        return set()
    k = max(1, len(known) // 100)
    lo, hi = known[k], known[-1 - k]
    margin = max(hi - lo, 3600.0)
    first, last = lo - margin, hi + margin
    return {i for i, t in enumerate(times) if math.isfinite(t) and not first <= t <= last}


def read_sensor_file(path: str | Path, validator: SensorValidator) -> list[Reading]:
    """Accepted readings of a long-table file, in time order; rejections counted in `validator`."""
    rows = _rows(Path(path))
    times = [_time_or_nan(r["timestamp"]) for r in rows]
    far = _far(times)
    for i in sorted(far):
        validator.reject(str(rows[i]["sensor"]).strip(), "far_from_rest",
                         f"t={str(rows[i]['timestamp'])[:40]}")  # fmt: skip
    rows = [r for i, r in enumerate(rows) if i not in far]
    times = [t for i, t in enumerate(times) if i not in far]
    timed = [i for i, t in enumerate(times) if t > -math.inf]  # the others: bad_timestamp
    for i in sorted(timed[j] for j in _moved([times[i] for i in timed])):
        validator.reject(str(rows[i]["sensor"]), "reordered", f"t={str(rows[i]['timestamp'])[:40]}")
    order = sorted(range(len(rows)), key=times.__getitem__)
    out = []
    for i in order:
        r = rows[i]
        reading = validator.check(
            r["timestamp"], str(r["sensor"]).strip(), r["value"], r["unit"], r.get("quality", "")
        )
        if reading is not None:
            out.append(reading)
    return out


@dataclass(frozen=True)
class SensorStats:
    """Mean, sample standard deviation and count of one sensor's good readings in a window."""

    mean: float
    std: float
    n: int
    unit: str


def parse_window(text: str | None) -> float | None:
    """A window length such as '1h' or '30 min' in seconds (None: all data)."""
    if text is None:
        return None
    try:
        w = units.parse(text, "s")
    except units.UnitError as e:
        raise CaseError(f"--window {text}: {e}") from None
    if w <= 0:
        raise CaseError(f"--window {text}: must be positive")
    return w


def window_stats(
    readings: Iterable[Reading], window: float | None = None
) -> tuple[dict[str, SensorStats], tuple[float, float]]:
    """Per-sensor statistics over the last `window` seconds of data (all data if None).

    Returns the statistics and the window (start, end) in epoch seconds.
    """
    good = [r for r in readings if math.isfinite(r.value)]
    if not good:
        return {}, (math.nan, math.nan)
    end = max(r.t for r in good)
    start = min(r.t for r in good) if window is None else end - window
    by: dict[str, list[Reading]] = {}
    for r in good:
        if r.t >= start:
            by.setdefault(r.sensor, []).append(r)
    stats = {}
    for name, rs in by.items():
        v = [r.value for r in rs]
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else math.nan
        stats[name] = SensorStats(m, sd, len(v), rs[0].unit)
    return stats, (start, end)
