"""Reading times: epoch seconds from what a plant sends, and the checks that keep one bad clock
from stalling the twin.

A number is read as epoch seconds, milliseconds, microseconds or nanoseconds by its magnitude
(the four ranges of the sane epoch range, 1990 to 2100, do not overlap); anything else is not a
time. A reading further ahead of the wall clock than the skew is from the `future`; so is one
further ahead of the plant clock (the latest accepted reading) than `jump`, unless readings of
several sensors agree on the new time (the plant really went quiet for a while).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EPOCH_MIN = 631_152_000.0  # 1990-01-01T00:00:00Z
EPOCH_MAX = 4_102_444_800.0  # 2100-01-01T00:00:00Z
SCALES = ((1.0, "s"), (1e3, "ms"), (1e6, "µs"), (1e9, "ns"))
SANE = "epoch s, ms, µs or ns in 1990–2100"


def iso_utc(t: float) -> str:
    """Epoch seconds as ISO-8601 in UTC ('2026-01-01T00:30:00+00:00'), as histories and alerts
    write times."""
    return datetime.fromtimestamp(float(t), UTC).isoformat()


def parse_time(t: Any) -> float:
    """Epoch seconds from an ISO-8601 string (UTC if no zone) or a number of epoch seconds,
    milliseconds, microseconds or nanoseconds; ValueError unless it falls in 1990–2100."""
    if isinstance(t, bool):
        raise ValueError(f"bad timestamp {t!r}")
    try:
        if isinstance(t, int | float):
            return _epoch(float(t), t)
        s = str(t).strip()
        if len(s) > 64:
            raise ValueError(f"bad timestamp {s[:40]!r}... ({len(s)} characters)")
        try:
            v = float(s)
        except ValueError:
            d = datetime.fromisoformat(s)
            v = (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()
            if not EPOCH_MIN <= v < EPOCH_MAX:
                raise ValueError(f"timestamp {s!r} is outside 1990–2100") from None
            return v
        return _epoch(v, t)
    except OverflowError:
        raise ValueError(f"bad timestamp {str(t)[:40]!r} (not {SANE})") from None


def _epoch(v: float, t: Any) -> float:
    if math.isfinite(v):
        for scale, _ in SCALES:
            if EPOCH_MIN <= v / scale < EPOCH_MAX:
                return v / scale
    raise ValueError(f"bad timestamp {str(t)[:40]!r} (not {SANE})")


@dataclass
class Clock:
    """The plant clock and the checks against readings from the future.

    `skew`: seconds a reading may be ahead of the wall clock (None: no check, e.g. when replaying
    or simulating faster than real time); `jump`: seconds it may be ahead of the plant clock
    (None: no check) unless `confirm` readings from distinct sensors (as many as there are
    streams, if fewer) agree on the new time within `jump`. Both are off by default (a recorded
    file is checked as a whole instead); the live twin sets them (`LiveOptions`).
    """

    skew: float | None = None
    jump: float | None = None
    confirm: int = 3
    now: Callable[[], float] = time.time
    t: float = -math.inf  # the plant clock: the latest accepted reading's time
    _ahead: list[tuple[str, float]] = field(default_factory=list)

    def horizon(self) -> float:
        """The latest time a reading may have now (the wall clock plus the skew)."""
        return math.inf if self.skew is None else self.now() + self.skew

    def future(self, ts: float, sensor: str, streams: int) -> str | None:
        """Why `ts` is from the future (a message for the log), or None if it is not."""
        if ts > self.horizon():
            return f"{ts - self.now():.0f} s ahead of the wall clock"
        if self.jump is None or not math.isfinite(self.t) or ts <= self.t + self.jump:
            return None
        self._ahead = [(s, a) for s, a in self._ahead[-15:] if abs(a - ts) <= self.jump]
        self._ahead.append((sensor, ts))
        needed = max(1, min(self.confirm, streams))
        if len(self._ahead) >= self.confirm and len({s for s, _ in self._ahead}) >= needed:
            self._ahead = []  # the plant clock moved on: a gap in the data
            return None
        return f"{ts - self.t:.0f} s ahead of the plant clock"

    def accept(self, ts: float) -> None:
        self.t = max(self.t, ts)
