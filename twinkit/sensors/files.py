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
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, units
from twinkit.sensors.readings import Reading, SensorValidator, parse_time

COLUMNS = ("timestamp", "sensor", "value", "unit")
# what one sensor file may hold: ~0.7 kB of memory and ~25 µs per row as read (1 million rows of
# the furnace's readings: 1.4 GB, 25 s for `twinkit calibrate`); beyond, a shorter period
MAX_ROWS = 5_000_000
MAX_LINE = 65_536  # characters in one line of a CSV file
MAX_PARQUET_BYTES = 2**30  # a Parquet file's column data, uncompressed
MAX_TEXT = 65_536  # characters in one text value of a Parquet file


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise CaseError(f"{path}: sensor file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            header, rows = _csv_rows(path)
        elif suffix in (".parquet", ".pq"):
            header, rows = _parquet_rows(path)
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


def _too_many(path: Path, rows: int) -> None:
    if rows > MAX_ROWS:
        raise CaseError(
            f"{path}: more than {MAX_ROWS:,} rows, the most a sensor file may have (about 3.5 GB "
            "of memory as read); give a shorter period"
        )


def _lines(f: Any, path: Path) -> Iterator[str]:
    """The file's lines, each at most `MAX_LINE` characters: a line's fields are held in memory
    at once, so one line of a gigabyte would be."""
    for number, line in enumerate(iter(lambda: f.readline(MAX_LINE + 1), ""), start=1):
        if len(line) > MAX_LINE:
            raise CaseError(f"{path}: line {number} is longer than {MAX_LINE:,} characters")
        yield line


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:  # Excel's "CSV UTF-8": a BOM
        reader = csv.DictReader(_lines(f, path))
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        rows = list(itertools.islice(reader, MAX_ROWS + 1))
    _too_many(path, len(rows))
    return header, rows


def _parquet_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of a Parquet file's columns that twinkit reads (`COLUMNS`, quality), its sizes
    checked first: a few kB of Parquet can hold a billion run-length-encoded rows (150 kB held
    10 million), or one text value of a gigabyte that a thousand rows repeat (4 kB held 100 MB
    in 1,000 rows: reading them filled the memory). Text is read as its distinct values
    (Arrow's dictionary), each checked before any row is made."""
    from twinkit.extras import require

    require("pyarrow", f"{path}: reading Parquet")
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    first = pq.ParquetFile(path)
    schema, meta = first.schema_arrow, first.metadata
    _too_many(path, meta.num_rows)
    wanted = [f for f in schema if f.name in (*COLUMNS, "quality")]
    for f in wanted:
        if pa.types.is_nested(f.type):
            raise CaseError(f"{path}: column {f.name} is a {f.type}; expected numbers or text")
    names = {f.name for f in wanted}
    size = sum(meta.row_group(i).column(j).total_uncompressed_size
               for i in range(meta.num_row_groups) for j in range(meta.num_columns)
               if meta.row_group(i).column(j).path_in_schema in names)  # fmt: skip
    if size > MAX_PARQUET_BYTES:
        raise CaseError(
            f"{path}: {size / 2**30:.1f} GiB of column data uncompressed, more than the "
            f"{MAX_PARQUET_BYTES / 2**30:.0f} GiB a sensor file may have"
        )
    text = [f.name for f in wanted if _text(pa, f.type)]
    table = pq.ParquetFile(path, read_dictionary=text).read(columns=[f.name for f in wanted])
    for name in table.column_names:
        for chunk in table.column(name).chunks:
            values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
            if not _text(pa, values.type):
                continue
            longest = pc.max(pc.binary_length(values)).as_py() or 0
            if longest > MAX_TEXT:
                raise CaseError(
                    f"{path}: column {name} holds a value of {longest:,} bytes; at most "
                    f"{MAX_TEXT:,} are read"
                )
    return schema.names, table.to_pylist()


def _text(pa: Any, t: Any) -> bool:
    """Whether Arrow type ``t`` is text or bytes (or a dictionary of them)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return any(f(t) for f in (pa.types.is_string, pa.types.is_large_string,
                              pa.types.is_binary, pa.types.is_large_binary))  # fmt: skip


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
