"""Sensor readings: units, data-quality rules and one validator for files and MQTT streams.

A stream is a probe of the case or a measured parameter (an operating input such as the pull
rate). Every reading passes `SensorValidator.check`: it converts the unit to SI and applies the
case's `sensors:` rules. A rejected or repaired reading is counted under its reason and logged;
nothing raises. Readings of a sensor are expected in time order, but one arriving late (older
than the sensor's latest, after a network or broker hiccup) is accepted if it is at most
`lateness` seconds of plant time older and not a duplicate (`SensorValidator`). What one
reading may cost is bounded (`limits`), and so is what the validator keeps: readings of unknown
sensors are counted together, under the sensor '?', and each sensor's window of recent times.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from twinkit.case import units
from twinkit.sensors.limits import decode, short, unit_problem
from twinkit.sensors.rules import Rule, probe_unit, rules_from_case
from twinkit.sensors.timestamps import Clock, parse_time

__all__ = [
    "Clock",
    "Reading",
    "Rule",
    "SensorValidator",
    "parse_time",
    "probe_unit",
    "rules_from_case",
]

log = logging.getLogger("twinkit.sensors.readings")

NanPolicy = Literal["skip", "hold", "flag"]
GOOD_QUALITY = {"", "ok", "good", "g", "192"}  # 192: OPC UA "good"
REPAIRED = {
    "missing_held",
    "missing_flagged",
    "reordered",
}  # kept, changed or marked; all other reasons drop


@dataclass(frozen=True)
class Reading:
    """One accepted reading: `t` in epoch seconds (UTC), `value` in the SI `unit`."""

    t: float
    sensor: str
    value: float
    unit: str
    quality: str = "ok"  # ok, held (a missing value repeated), missing (flagged, value NaN)


# a held reading's outcome: sensor, the reading (None: rejected), reason, detail, late, message
Released = tuple[str, "Reading | None", str | None, str | None, bool, bytes | None]


@lru_cache(maxsize=256)  # bounded: every message may name another unit
def _affine(unit: str, target: str) -> tuple[float, float]:
    """(a, b) with value_in_target = a·value + b; UnitError if incompatible."""
    b = units.parse(f"0 {unit}", target)
    return units.parse(f"1 {unit}", target) - b, b


LATE_KEEP = 2048  # reading times remembered per sensor for late readings (a bound on memory)
# ... and the newest of them in a saved state, which the live twin writes with every history
# commit (twice a second): 1 Hz sensors would otherwise put 600 times each in every commit
STATE_KEEP = 64


@dataclass
class _Track:
    t: float = -math.inf  # last reading's time (accepted or not)
    good_t: float = -math.inf  # last accepted value's time and value
    good: float = math.nan
    since: float = -math.inf  # when the value last changed
    # with a lateness window: the times of the readings in it (sorted; accepted or not, as `t`)
    # and their accepted values (NaN if refused); `floor`: the latest time forgotten early
    # (more than LATE_KEEP readings in the window), at or before which nothing is accepted late
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    floor: float = -math.inf


def _saved(tr: _Track) -> dict[str, Any]:
    """A track as a saved state keeps its window's newest STATE_KEEP times; what it drops
    moves the floor up (after a resume nothing older is accepted late)."""
    d = dict(vars(tr))
    if len(tr.times) > STATE_KEEP:
        d["floor"] = max(tr.floor, tr.times[-STATE_KEEP - 1])
        d["times"], d["values"] = tr.times[-STATE_KEEP:], tr.values[-STATE_KEEP:]
    return d


@dataclass
class SensorValidator:
    """Validates readings one at a time, in time order per sensor (batch and streaming alike).

    `lateness`: seconds of plant time a reading may be older than its sensor's latest and still
    be accepted (`late`, counted; `last_late` says the latest was): readings reordered by a
    network or broker hiccup are used, not lost. Within the window a reading at a time already
    seen is a `duplicate`; older ones are refused as `too_late`. 0 (the default; files are
    sorted first): any older reading is `out_of_order`. Each sensor remembers the times in its
    window, at most `LATE_KEEP` of them (more readings shorten its window).
    `counts[(sensor, reason)]` counts rejected and repaired readings; `accepted` the good ones.
    `clock` rejects readings from the `future` (no check by default; the live twin's: 5 min ahead
    of the wall clock, or 1 h ahead of the plant clock unless other sensors confirm the jump).
    A reading ahead of the plant clock is held (None, `last_reason` "held", not counted) until
    the clock confirms or refuses the jump (`Clock.hold`); its outcome then comes from
    `take_released`, as a check's does.
    """

    rules: dict[str, Rule]
    nan_policy: NanPolicy = "hold"
    counts: Counter = field(default_factory=Counter)
    accepted: int = 0
    last_reason: str | None = None  # the reason of the latest rejection or repair
    last_detail: str | None = None  # and what it said
    clock: Clock = field(default_factory=Clock)
    lateness: float = 0.0
    late: int = 0  # accepted late readings (also counted in `accepted`)
    last_late: bool = False  # whether the latest accepted reading was late
    _tracks: dict[str, _Track] = field(default_factory=dict)
    # outcomes of readings held ahead of the plant clock, decided later (`take_released`)
    released: list[Released] = field(default_factory=list)
    _payload: bytes | None = None  # the message being checked, kept with a held reading

    def reject(self, sensor: str, reason: str, detail: str = "") -> Reading | None:
        """Count (and log) a reading that is dropped or repaired for `reason`; returns None."""
        name = sensor if sensor in self.rules else ""  # unknown names: one count, not one each
        n = self.counts[(name, reason)] = self.counts[(name, reason)] + 1
        self.last_reason, self.last_detail = reason, detail or None
        # each one at DEBUG; the 1st, 10th, 100th ... of a kind at WARNING, so logs stay readable
        level = logging.WARNING if math.log10(n).is_integer() else logging.DEBUG
        log.log(level, "sensor %s: %s%s (%d so far)", sensor[:40] or "?", reason,
                f" ({detail})" if detail else "", n)  # fmt: skip
        return None

    def check(
        self, t: Any, sensor: str, value: Any, unit: Any, quality: Any = ""
    ) -> Reading | None:
        """The reading converted to SI, or None if rejected (the reason is counted)."""
        self.last_late, self.last_reason, self.last_detail = False, None, None
        r = self._check(t, sensor, value, unit, quality)
        if r is not None:
            self.clock.accept(r.t)
            self._resolve()  # held readings this one shows were not a gap
        return r

    def _check(self, t: Any, sensor: str, value: Any, unit: Any, quality: Any) -> Reading | None:
        rule = self.rules.get(sensor)
        if rule is None:
            return self.reject(sensor, "unknown_sensor", f"known: {', '.join(self.rules)}")
        try:
            ts = parse_time(t)
        except (ValueError, TypeError) as e:
            return self.reject(sensor, "bad_timestamp", str(e))
        if str(quality or "").strip().lower() not in GOOD_QUALITY:
            return self.reject(sensor, "bad_quality", short(quality))
        if not isinstance(unit, str) or not unit.strip():
            return self.reject(sensor, "missing_unit")
        problem = unit_problem(unit)
        if problem:
            return self.reject(sensor, "wrong_unit", problem)
        try:
            a, b = _affine(unit.strip(), rule.unit)
        except units.UnitError as e:
            return self.reject(sensor, "wrong_unit", str(e)[:200])
        try:
            if isinstance(value, bool):
                raise TypeError
            v = math.nan if value is None or value == "" else float(value)
        except (TypeError, ValueError, OverflowError):
            return self.reject(sensor, "bad_value", short(value))
        ahead = self.clock.beyond_wall(ts)
        if ahead:
            return self.reject(sensor, "future", ahead)
        # what checks the reading again, small and plain (a saved state holds it)
        item = (ts, sensor, None if math.isnan(v) else v if math.isfinite(v) else str(v), unit,
                "", self._payload)  # fmt: skip
        held = self.clock.hold(ts, sensor, len(self._tracks), item)
        self._resolve()  # what the clock decided about held readings, before this one
        if held:
            self.last_reason, self.last_detail = "held", held
            return None
        tr = self._tracks.setdefault(sensor, _Track())
        if ts == tr.t:
            return self.reject(sensor, "duplicate", f"t={ts}")
        if ts < tr.t:
            return self._late(ts, sensor, v if math.isnan(v) else a * v + b, rule, tr)
        tr.t = ts
        if self.lateness > 0:
            self._remember(tr, ts)
        if not math.isfinite(v):
            return self._missing(ts, sensor, rule, tr)
        v = a * v + b
        if not rule.lower <= v <= rule.upper:
            return self.reject(sensor, "out_of_range", f"{v:.6g} {rule.unit}")
        if rule.rate is not None and math.isfinite(tr.good_t):
            if abs(v - tr.good) > rule.rate * (ts - tr.good_t):
                return self.reject(sensor, "rate_limit", f"{tr.good:.6g} → {v:.6g}")
        if v != tr.good or not math.isfinite(tr.since):
            tr.since = ts
        elif rule.stuck is not None and ts - tr.since > rule.stuck:
            return self.reject(sensor, "stuck", f"{v:.6g} since t={tr.since}")
        tr.good_t, tr.good = ts, v
        if self.lateness > 0:
            tr.values[-1] = v
        self.accepted += 1
        return Reading(ts, sensor, v, rule.unit)

    def _resolve(self) -> None:
        """Held readings the clock refused or released (`Clock.hold`): checked now, in time
        order, each outcome appended to `released` for the caller; the `last_*` attributes are
        then those of the reading being checked again."""
        clock = self.clock
        if not (clock.refused or clock.released):
            return
        last = (self.last_reason, self.last_detail, self.last_late)
        for item, why in clock.refused:
            self.reject(item[1], "future", why)
            self.released.append((item[1], None, "future", why, False, item[5]))
        clock.refused = []
        items, clock.released = clock.released, []
        for item in items:
            self.last_reason = self.last_detail = None
            self._payload = item[5]
            r = self.check(*item[:5])
            self.released.append((item[1], r, self.last_reason, self.last_detail,
                                  self.last_late, item[5]))  # fmt: skip
        self.last_reason, self.last_detail, self.last_late = last

    def take_released(self) -> list[Released]:
        """The outcomes of held readings decided since the last call, oldest first."""
        out, self.released = self.released, []
        return out

    def _remember(self, tr: _Track, ts: float) -> None:
        """Keep `ts` (the sensor's latest) in its window; forget what fell out of it."""
        tr.times.append(ts)
        tr.values.append(math.nan)
        cut = bisect_left(tr.times, ts - self.lateness)
        if len(tr.times) - cut > LATE_KEEP:
            cut = len(tr.times) - LATE_KEEP
            tr.floor = max(tr.floor, tr.times[cut - 1])
        if cut:
            del tr.times[:cut], tr.values[:cut]

    def _late(self, ts: float, sensor: str, v: float, rule: Rule, tr: _Track) -> Reading | None:
        """A reading older than the sensor's latest (`v` in SI, NaN if missing): accepted if
        within the lateness window and not seen before. It is checked against its range and
        its predecessor in time (the rate); not held, and it leaves the stuck check alone
        (that follows the stream's newest values)."""
        behind = f"t={ts}, {tr.t - ts:.6g} s behind the sensor's latest"
        if self.lateness <= 0:
            return self.reject(sensor, "out_of_order", behind)
        i = bisect_left(tr.times, ts)
        if i < len(tr.times) and tr.times[i] == ts:
            return self.reject(sensor, "duplicate", f"t={ts} (late)")
        if ts < tr.t - self.lateness or ts <= tr.floor:
            return self.reject(sensor, "too_late", f"{behind} (lateness {self.lateness:g} s)")
        tr.times.insert(i, ts)
        tr.values.insert(i, math.nan)
        if math.isnan(v):
            if self.nan_policy == "flag":
                self.reject(sensor, "missing_flagged")
                return Reading(ts, sensor, math.nan, rule.unit, "missing")
            return self.reject(sensor, "missing")
        if not rule.lower <= v <= rule.upper:
            return self.reject(sensor, "out_of_range", f"{v:.6g} {rule.unit}")
        j = i - 1
        while j >= 0 and math.isnan(tr.values[j]):
            j -= 1
        if rule.rate is not None and j >= 0:
            if abs(v - tr.values[j]) > rule.rate * (ts - tr.times[j]):
                return self.reject(sensor, "rate_limit", f"{tr.values[j]:.6g} → {v:.6g} (late)")
        tr.values[i] = v
        self.accepted += 1
        self.late += 1
        self.last_late = True
        return Reading(ts, sensor, v, rule.unit)

    def _missing(self, ts: float, sensor: str, rule: Rule, tr: _Track) -> Reading | None:
        if self.nan_policy == "flag":
            self.reject(sensor, "missing_flagged")
            return Reading(ts, sensor, math.nan, rule.unit, "missing")
        if self.nan_policy == "hold" and rule.hold is not None and ts - tr.good_t <= rule.hold:
            self.reject(sensor, "missing_held")
            return Reading(ts, sensor, tr.good, rule.unit, "held")
        return self.reject(sensor, "missing")

    def check_mqtt(self, topic: str, payload: bytes) -> Reading | None:
        """A reading from an MQTT message on `plant/<asset>/sensors/<sensor>`, payload
        `{"t": ISO-8601 or epoch, "value": ..., "unit": "..."}` (optional "quality")."""
        parts = topic.split("/")
        if len(parts) < 2 or parts[-2] != "sensors" or not parts[-1]:
            return self.reject("", "bad_topic", short(topic))
        sensor = parts[-1]
        msg, reason, detail = decode(payload)
        if reason:
            return self.reject(sensor, reason, detail)
        if not isinstance(msg, dict) or "t" not in msg or "value" not in msg:
            return self.reject(sensor, "malformed_json", "expected {t, value, unit}")
        self._payload = payload
        try:
            return self.check(msg["t"], sensor, msg["value"], msg.get("unit"),
                              msg.get("quality", ""))  # fmt: skip
        finally:
            self._payload = None

    def state(self) -> dict[str, Any]:
        """Counters, per-sensor history and the plant clock, for a live twin that resumes."""
        return {
            "counts": [[s, r, n] for (s, r), n in self.counts.items()],
            "accepted": self.accepted,
            "late": self.late,
            "tracks": {s: _saved(tr) for s, tr in self._tracks.items()},
            "clock": self.clock.t,
            # readings held ahead of the plant clock, the start of their messages (as a history
            # keeps it) as Latin-1 text
            "held": [[s, ts, [*item[:5], None if item[5] is None else item[5][:200].decode(
                "latin-1")], n] for s, ts, item, n in self.clock.held()],
        }  # fmt: skip

    def load(self, state: dict[str, Any]) -> None:
        """Continue from `state`; times beyond the wall clock's horizon (a state written before
        readings from the future were refused) are forgotten, so they cannot stall the twin."""
        self.counts = Counter({(s, r): n for s, r, n in state["counts"]})
        self.accepted, self.late = state["accepted"], state.get("late", 0)
        self._tracks = {s: _Track(**tr) for s, tr in state["tracks"].items()}
        for s, tr in self._tracks.items():
            if "times" not in state["tracks"][s]:  # an older state: no window remembered
                tr.floor = tr.t
        horizon = self.clock.horizon()
        for s, tr in self._tracks.items():
            if tr.t > horizon:
                log.warning("sensor %s: forgot its last time %.0f, which is in the future", s, tr.t)
                self._tracks[s] = _Track()
        latest = max((tr.good_t for tr in self._tracks.values()), default=-math.inf)
        t = state.get("clock", latest)
        self.clock.t = t if t <= horizon else latest
        self.clock.restore_held([(s, ts, (*item[:5], None if item[5] is None else item[5].encode(
            "latin-1")), n) for s, ts, item, n in state.get("held", [])])  # fmt: skip

    def report(self) -> dict[str, Any]:
        """Counters for summaries and the live twin state: by reason and by sensor."""
        by_reason: Counter = Counter()
        by_sensor: dict[str, dict[str, int]] = {}
        for (s, r), n in sorted(self.counts.items()):
            by_reason[r] += n
            by_sensor.setdefault(s or "?", {})[r] = n
        dropped = sum(n for r, n in by_reason.items() if r not in REPAIRED)
        return {
            "accepted": self.accepted,
            "late": self.late,
            "rejected": dropped,
            "repaired": sum(by_reason[r] for r in REPAIRED),
            "by_reason": dict(by_reason),
            "by_sensor": by_sensor,
        }
