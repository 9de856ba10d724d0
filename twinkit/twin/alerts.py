"""Alert episodes of the live twin: one alert when a condition starts, none again until it clears.

Kinds: `sensor_fault` (a stream mostly rejected as implausible, or stuck), `drift` (a latent
parameter moved beyond its relative threshold from the baseline estimate), `residual` (a sensor
beyond k·σ from the twin's prediction) and `qoi_limit` (a predicted QoI outside its limits).
Raising and clearing have hysteresis, so a value hovering at a threshold gives one alert.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("twinkit.twin.alerts")


class Alerts:
    """Active episodes and the alerts raised; `publish(topic, doc, retain)` sends each one."""

    def __init__(self, topic: str, publish: Callable[[str, Any, bool], None]):
        self.topic, self.publish = topic, publish
        self.active: set[str] = set()
        self.raised: list[dict[str, Any]] = []  # the most recent 100
        self.count: dict[str, int] = {}
        self.record: Callable[[float, dict[str, Any]], None] | None = None  # the history's

    def update(
        self, key: str, start: bool, end: bool, t: float, kind: str, message: str, **data: Any
    ) -> None:
        """Raise `key` if `start` and not active; clear it if active and `end`."""
        if key not in self.active and start:
            self.active.add(key)
            self._send("raised", key, t, kind, message, data)
            self.count[kind] = self.count.get(kind, 0) + 1
        elif key in self.active and end:
            self.active.discard(key)
            self._send("cleared", key, t, kind, message, data)

    def _send(self, state: str, key: str, t: float, kind: str, message: str, data: dict) -> None:
        doc = {
            "state": state,
            "kind": kind,
            "key": key,
            "t": datetime.fromtimestamp(t, UTC).isoformat(),
            "message": message if state == "raised" else f"cleared: {message}",
            **data,
        }
        if state == "raised":
            self.raised = [*self.raised[-99:], doc]
            log.warning("alert %s: %s", key, message)
        self.publish(self.topic, doc, False)
        if self.record is not None:
            self.record(t, doc)

    def state(self) -> dict[str, Any]:
        return {"active": sorted(self.active), "raised": self.raised, "count": self.count}

    def load(self, s: dict[str, Any]) -> None:
        self.active, self.raised, self.count = set(s["active"]), list(s["raised"]), dict(s["count"])


def drift_check(
    alerts: Alerts, t: float, est: dict, baseline: dict, thresholds: dict[str, float]
) -> None:
    """Relative change of each latent estimate from its baseline against its threshold."""
    for name, thr in thresholds.items():
        if name not in est or not baseline.get(name):
            continue
        rel = (est[name] - baseline[name]) / abs(baseline[name])
        alerts.update(
            f"drift:{name}",
            abs(rel) > thr,
            abs(rel) < 0.5 * thr,
            t,
            "drift",
            f"{name} moved {rel:+.1%} from its baseline {baseline[name]:.6g} (threshold {thr:.0%})",
            parameter=name,
            value=est[name],
            baseline=baseline[name],
            relative_change=rel,
        )


def limit_check(
    alerts: Alerts, t: float, predicted: dict, limits: dict[str, tuple[float, float]]
) -> None:
    """Predicted QoIs (`qoi_<name>` means) against their [lower, upper] limits."""
    for name, (lo, hi) in limits.items():
        if f"qoi_{name}" not in predicted:
            continue
        v = predicted[f"qoi_{name}"][0]
        lo_c = lo + 0.01 * abs(lo) if math.isfinite(lo) else lo  # hysteresis: 1 % inside
        hi_c = hi - 0.01 * abs(hi) if math.isfinite(hi) else hi
        alerts.update(
            f"qoi:{name}",
            not lo <= v <= hi,
            lo_c <= v <= hi_c,
            t,
            "qoi_limit",
            f"predicted {name} = {v:.6g} is outside [{lo:.6g}, {hi:.6g}]",
            qoi=name,
            value=v,
        )
