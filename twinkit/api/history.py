"""The live twin's history in a notebook: `tk.history(case, since="6h")` (the last 6 h of plant
time before the history's newest record) → a pandas DataFrame;
`tk.field_history(case, "temperature", since="1d")` and `tk.field_at(case, "temperature", t)` →
the virtual fields' snapshots as xarray Datasets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

TimeLike = str | float | datetime | None


def history_location(source: Any, url: str | None = None) -> str:
    """The history URL of `source`: a `tk.Case` or case file (its run folder,
    ``runs/<case>/history.sqlite``), a run folder, a history file, or a URL; `url` wins."""
    from twinkit.twin.history_db import FILE_NAME, history_url

    if url is not None:
        return history_url(url)
    if hasattr(source, "loaded"):
        return history_url(Path("runs") / source.name / FILE_NAME)
    text = str(source)
    if "://" in text:
        return history_url(text)
    path = Path(text)
    if path.suffix in (".yaml", ".yml"):
        from twinkit.case import load_case

        return history_url(Path("runs") / load_case(path, check_regions=False).name / FILE_NAME)
    return history_url(path / FILE_NAME if path.is_dir() else path)


def history(
    source: Any,
    kind: str = "readings",
    since: TimeLike = None,
    until: TimeLike = None,
    asset: str | None = None,
    url: str | None = None,
) -> Any:
    """What the live twin recorded, as a pandas DataFrame (times UTC, values SI).

    Parameters
    ----------
    source
        A `tk.Case` or case file (the history in its run folder), a run folder, a history
        file, or a database URL (``sqlite:///FILE``, ``postgresql://USER@HOST/DB``).
    kind
        ``readings`` (each with its status and, if refused, the reason), ``updates`` (one row
        per estimate, input, predicted sensor and QoI of each update, with its lineage) or
        ``alerts``.
    since, until
        A time window on plant time: ISO-8601 times, epoch seconds, datetimes, or durations
        before the history's newest record (``"6h"``: its last 6 hours of plant time, also
        for a history replayed or copied, whose plant times lie in the past).
    asset
        Only this asset's records (a database may hold several).
    url
        The history's URL, overriding where `source` points.
    """
    from twinkit.twin.history_read import read_history

    where = history_location(source, url)
    lo, hi = _window(where, since, until, asset)
    return read_history(where, kind, lo, hi, asset)


def _window(
    where: str, since: TimeLike, until: TimeLike, asset: str | None
) -> tuple[float | None, float | None]:
    """(since, until) in epoch s; durations count back from the newest record (read once)."""
    from functools import cache

    from twinkit.twin.history_read import newest, time_bound

    now = cache(lambda: newest(where, asset))
    return time_bound(since, "--since", now), time_bound(until, "--until", now)


def field_history(
    source: Any,
    name: str,
    since: TimeLike = None,
    until: TimeLike = None,
    asset: str | None = None,
    url: str | None = None,
) -> Any:
    """The snapshots of virtual field `name` the live twin kept (one per
    `field_history_every` of plant time), as an xarray Dataset: `mean` and `std` over
    (time, node[, component]), float32, with `units`; coordinates `time` (UTC), `update` and
    the mesh's `node_x`, `node_y`, `node_z`.

    Parameters
    ----------
    source, url, asset
        As for `history`; `asset` may be left out when one asset has the field.
    name
        The field: ``temperature``, ``velocity``, ... (the surrogate's fields).
    since, until
        A window on plant time, as for `history`.
    """
    from twinkit.twin.field_history import read_fields

    where = history_location(source, url)
    lo, hi = _window(where, since, until, asset)
    return read_fields(where, name, lo, hi, asset)


def field_at(
    source: Any, name: str, t: TimeLike, asset: str | None = None, url: str | None = None
) -> Any:
    """The snapshot of virtual field `name` nearest before plant time `t` (an ISO-8601 time,
    epoch seconds, a datetime, or a duration before the history's newest record), as an
    xarray Dataset over (node[, component]) with `time` and `update` as scalar coordinates;
    see `field_history`."""
    from twinkit.twin.field_history import field_at as read_at
    from twinkit.twin.history_read import newest, time_bound

    where = history_location(source, url)
    when = time_bound(t, "--at", lambda: newest(where, asset))
    if when is None:
        from twinkit.case import CaseError

        raise CaseError("field_at: give a time t")
    return read_at(where, name, when, asset)
