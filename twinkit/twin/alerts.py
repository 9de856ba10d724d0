"""Alert episodes of the live twin: one alert when a condition starts, none again until it clears.

Kinds: `sensor_fault` (a stream mostly rejected as implausible, or stuck), `drift` (a latent
parameter moved beyond its relative threshold from the baseline estimate), `residual` (a sensor
beyond k·σ from the twin's prediction), `qoi_limit` (a predicted QoI outside its limits) and
`forecast` (a latent parameter's trend reaches its limit within the horizon).
Raising and clearing have hysteresis, so a value hovering at a threshold gives one alert; a
forecast also has an off-delay (`clear_after`, plant time): it clears only once its clear
condition has held that long, so a forecast flickering in and out gives one alert.

Event management: each alert has a severity (info, warning, critical: `SEVERITY` per kind, the
case's `alerts.severity` overrides). One episode per key is open at a time; raises while it is
open are counted (`repeats`), not sent again. An episode can be acknowledged (`ack`); one left
unacknowledged for `escalate_after` seconds of the clock escalates (severity up one level, sent
and routed again) until it is critical. Every message (raised, escalated, acknowledged, cleared)
goes to the alerts topic and to the routes it matches (`twinkit.twin.routing`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from twinkit.sensors.timestamps import iso_utc

log = logging.getLogger("twinkit.twin.alerts")
SEVERITIES = ("info", "warning", "critical")
SEVERITY = {"sensor_fault": "warning", "drift": "warning", "residual": "info",
            "qoi_limit": "critical", "forecast": "warning"}  # fmt: skip
Publish = Callable[[str, Any, bool], None]


class Router(Protocol):
    def send(self, doc: dict[str, Any], publish: Publish) -> None: ...

    def close(self, timeout: float = 1.0) -> None: ...


class Alerts:
    """Open episodes and the alerts raised; `publish(topic, doc, retain)` sends each message.

    `clock` (wall-clock seconds, injectable for tests) times acknowledgement and escalation;
    `t` given to `update` is plant time."""

    def __init__(
        self,
        topic: str,
        publish: Publish,
        severity: Mapping[str, str] | None = None,
        escalate_after: float | None = None,
        router: Router | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.topic, self.publish = topic, publish
        self.severity = SEVERITY | dict(severity or {})
        self.escalate_after, self.router, self.clock = escalate_after, router, clock
        self.active: dict[str, dict[str, Any]] = {}  # key → its open episode
        self.raised: list[dict[str, Any]] = []  # the most recent 100
        self.count: dict[str, int] = {}
        self.record: Callable[[float, dict[str, Any]], None] | None = None  # the history's

    def update(
        self, key: str, start: bool, end: bool, t: float, kind: str, message: str,
        clear_after: float = 0.0, **data: Any,
    ) -> None:  # fmt: skip
        """Raise `key` if `start` and not open (count a repeat if open); clear it if open and
        `end` has held for `clear_after` s of plant time (an off-delay: a condition that comes
        back meanwhile keeps the episode open)."""
        ep = self.active.get(key)
        if ep is None and start:
            now = self.clock()
            ep = {"key": key, "kind": kind, "severity": self.severity.get(kind, "warning"),
                  "raised": iso_utc(t), "since": now, "repeats": 0, "acknowledged": None,
                  "escalations": 0, "message": message, "data": data}  # fmt: skip
            self.active[key] = ep
            self._send("raised", ep, t, message, data)
            self.count[kind] = self.count.get(kind, 0) + 1
        elif ep is not None and end:
            since = ep.setdefault("clearing", t)  # plant time the clear condition began
            if t - since >= clear_after:
                del self.active[key]
                self._send("cleared", ep, t, f"cleared: {message}", data)
        elif ep is not None:
            ep.pop("clearing", None)
            if start:
                ep["repeats"] += 1

    def ack(self, key: str, by: str = "") -> bool:
        """Acknowledge the open episode `key`: no more escalation. False if none is open."""
        ep = self.active.get(key)
        if ep is None:
            log.warning("acknowledgement of %r: no such open alert", key[:200])
            return False
        if ep["acknowledged"] is None:
            now = self.clock()
            ep["acknowledged"] = {"t": iso_utc(now), "by": by[:200]}
            self._send("acknowledged", ep, now, f"acknowledged: {ep['message']}", ep["data"])
        return True

    def ack_message(self, payload: bytes) -> bool:
        """An acknowledgement from MQTT: the key as text, or JSON `{"key": ..., "by": ...}`."""
        text = payload[:4096].decode("utf-8", "replace").strip()
        key, by = text, ""
        if text.startswith("{"):
            try:
                doc = json.loads(text)
                key, by = str(doc.get("key", "")), str(doc.get("by", ""))
            except (ValueError, AttributeError):
                log.warning("acknowledgement: not a JSON object with a key")
                return False
        return self.ack(key, by)

    def tick(self) -> None:
        """Escalate the open, unacknowledged episodes older than `escalate_after`."""
        if self.escalate_after is None:
            return
        now = self.clock()
        for ep in self.active.values():
            if ep["acknowledged"] is not None or ep["severity"] == SEVERITIES[-1]:
                continue
            if now - ep["since"] >= self.escalate_after:
                level = SEVERITIES.index(ep["severity"]) if ep["severity"] in SEVERITIES else 0
                ep["severity"], ep["since"] = SEVERITIES[level + 1], now
                ep["escalations"] += 1
                self._send("escalated", ep, now, f"escalated to {ep['severity']} "
                           f"(unacknowledged): {ep['message']}", ep["data"])  # fmt: skip

    def _send(self, state: str, ep: dict[str, Any], t: float, message: str, data: dict) -> None:
        doc = {"state": state, "kind": ep["kind"], "key": ep["key"], "severity": ep["severity"],
               "t": iso_utc(t), "message": message, "repeats": ep["repeats"],
               "acknowledged": ep["acknowledged"], **data}  # fmt: skip
        if state == "raised":
            self.raised = [*self.raised[-99:], doc]
            log.warning("alert %s (%s): %s", ep["key"], ep["severity"], message)
        self.publish(self.topic, doc, False)
        if self.router is not None:
            self.router.send(doc, self.publish)
        if self.record is not None:
            self.record(t, doc)

    def summary(self) -> dict[str, Any]:
        """For the twin's published state: open keys, counts and the open episodes."""
        open_ = [{k: v for k, v in ep.items() if k not in ("data", "since", "clearing")}
                 for ep in self.active.values()]  # fmt: skip
        return {"active": sorted(self.active), "count": self.count, "open": open_}

    def state(self) -> dict[str, Any]:
        return {"active": self.active, "raised": self.raised, "count": self.count}

    def load(self, s: dict[str, Any]) -> None:
        active = s["active"]
        if isinstance(active, list):  # states written before episodes were kept
            active = {k: {"key": k, "kind": k.split(":", 1)[0], "severity":
                          self.severity.get(k.split(":", 1)[0], "warning"), "raised": None,
                          "since": self.clock(), "repeats": 0, "acknowledged": None,
                          "escalations": 0, "message": k, "data": {}} for k in active}  # fmt: skip
        self.active, self.raised, self.count = dict(active), list(s["raised"]), dict(s["count"])


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


def forecast_check(
    alerts: Alerts,
    t: float,
    forecasts: Mapping[str, Any],
    horizons: Mapping[str, float],
    texts: Mapping[str, str],
    clear_after: Mapping[str, float] | None = None,
) -> None:
    """A forecast crossing (`twinkit.twin.forecast.Forecast`) within its horizon; cleared once
    none has been predicted, or it has lain beyond 1.25 horizons, for `clear_after[name]` s of
    plant time (default: none). `texts`: each forecast in words."""
    for name, f in forecasts.items():
        h, eta = horizons[name], f.eta
        alerts.update(
            f"forecast:{name}", eta is not None and eta <= h, eta is None or eta > 1.25 * h, t,
            "forecast", texts[name], (clear_after or {}).get(name, 0.0), parameter=name,
            eta=eta, crossing=f.crossing, lower=f.lower, upper=f.upper, limit=f.limit,
        )  # fmt: skip
