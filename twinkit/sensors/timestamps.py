"""Reading times: epoch seconds from what a plant sends, and the checks that keep one bad clock
from stalling the twin.

A number is read as epoch seconds, milliseconds, microseconds or nanoseconds by its magnitude
(the four ranges of the sane epoch range, 1990 to 2100, do not overlap); anything else is not a
time. A reading further ahead of the wall clock than the skew is from the `future`. One further
ahead of the plant clock (the latest accepted reading) than `jump` is held until readings of
several sensors agree on the new time (the plant really went quiet for a while: all are used)
or it is clear that they will not (it is refused as from the `future`).
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

    A reading ahead of the plant clock is held (`hold`), not refused: if later ones confirm the
    jump (the plant was quiet for a while), the held ones are `released` and used; they are
    `refused` once a newer reading more than `jump` from them is held, once more than `HELD`
    are held, or once `confirm` readings have been accepted at the old time since.
    """

    skew: float | None = None
    jump: float | None = None
    confirm: int = 3
    now: Callable[[], float] = time.time
    t: float = -math.inf  # the plant clock: the latest accepted reading's time
    # held readings: (sensor, time, the caller's item, accepted readings when it was held)
    _ahead: list[tuple[str, float, Any, int]] = field(default_factory=list)
    _accepted: int = 0
    released: list[Any] = field(default_factory=list)  # items of held readings, confirmed
    refused: list[tuple[Any, str]] = field(default_factory=list)  # (item, why), not confirmed

    HELD = 16

    def horizon(self) -> float:
        """The latest time a reading may have now (the wall clock plus the skew)."""
        return math.inf if self.skew is None else self.now() + self.skew

    def beyond_wall(self, ts: float) -> str | None:
        """Why `ts` is beyond the wall clock's horizon (a message for the log), or None."""
        return f"{ts - self.now():.0f} s ahead of the wall clock" if ts > self.horizon() else None

    def hold(self, ts: float, sensor: str, streams: int, item: Any = None) -> str | None:
        """Why the reading (`item`, kept for the caller) at `ts` is held, or None if it is not
        ahead of the plant clock by more than `jump`, or if it confirms the jump: then the held
        readings within `jump` of it move to `released` and the plant clock to `ts`. Held
        readings that can no longer be confirmed move to `refused`."""
        if self.jump is None or not math.isfinite(self.t) or ts <= self.t + self.jump:
            return None
        keep = [e for e in self._ahead if abs(e[1] - ts) <= self.jump][-(self.HELD - 1) :]
        kept = {id(e) for e in keep}
        self._drop([e for e in self._ahead if id(e) not in kept])
        self._ahead = [*keep, (sensor, ts, item, self._accepted)]
        needed = max(1, min(self.confirm, streams))
        if len(self._ahead) >= self.confirm and len({e[0] for e in self._ahead}) >= needed:
            self.released += [e[2] for e in sorted(self._ahead[:-1], key=lambda e: e[1])]
            self._ahead = []  # the plant clock moved on: a gap in the data
            self.t = max(self.t, ts)
            return None
        return f"{ts - self.t:.0f} s ahead of the plant clock"

    def _drop(self, entries: list[tuple[str, float, Any, int]]) -> None:
        self.refused += [(e[2], f"{e[1] - self.t:.0f} s ahead of the plant clock") for e in entries]

    def held(self) -> list[tuple[str, float, Any, int]]:
        """The held readings: (sensor, time, item, readings accepted since it was held)."""
        return [(s, ts, item, self._accepted - at) for s, ts, item, at in self._ahead]

    def restore_held(self, held: list[tuple[str, float, Any, int]]) -> None:
        """Hold again what `held` gave (a resumed twin)."""
        self._ahead = [(s, ts, item, self._accepted - n) for s, ts, item, n in held][-self.HELD :]

    def accept(self, ts: float) -> None:
        self.t = max(self.t, ts)
        self._accepted += 1
        if self._ahead:  # readings at the old time go on: the held ones were not a gap
            stale = [e for e in self._ahead if self._accepted - e[3] >= self.confirm]
            self._ahead = [e for e in self._ahead if self._accepted - e[3] < self.confirm]
            self._drop(stale)
