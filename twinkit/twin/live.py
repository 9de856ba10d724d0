"""The live twin: validated MQTT readings → sequential calibration (EnKF) → state and alerts.

Readings arrive on `plant/<asset>/sensors/<sensor>`. Every `cadence` seconds of plant time
(the readings' timestamps, not the wall clock) the twin assimilates the readings that came since
the last update, publishes its state (retained) to `plant/<asset>/twin/state` and each estimate
to `plant/<asset>/twin/parameters/<name>`, and alerts to `plant/<asset>/alerts`.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, LoadedCase, units
from twinkit.sensors.readings import NanPolicy, SensorValidator, rules_from_case
from twinkit.twin.alerts import Alerts, drift_check, limit_check

log = logging.getLogger("twinkit.twin.live")
FAULTS = {"out_of_range", "rate_limit", "stuck", "bad_quality"}
STATE_FORMAT = "twinkit-live-state"


@dataclass(frozen=True)
class LiveOptions:
    asset: str = "plant"
    cadence: float = 60.0  # plant seconds between updates
    members: int = 64  # ensemble size
    process_std: float = 0.1  # random-walk drift allowed, prior widths per √hour
    warmup: int = 5  # updates before drift and residual alerts; the drift baseline is taken then
    nan_policy: NanPolicy = "hold"
    seed: int = 0


class LiveTwin:
    """The twin's state and logic, without a network: feed it messages, it publishes."""

    def __init__(
        self,
        loaded: LoadedCase,
        surrogate: Any,
        opts: LiveOptions | None = None,
        publish: Callable[[str, Any, bool], None] = lambda topic, doc, retain: None,
    ):
        from twinkit.surrogates.calibrate import Calibration, Prior
        from twinkit.surrogates.enkf import EnsembleFilter

        c, self.opts = loaded.case, opts or LiveOptions()
        unknown = [n for n in surrogate.inputs if n not in c.parameters]
        if unknown:
            raise CaseError(f"{loaded.path}: surrogate inputs {unknown} are not case parameters")
        latent = [n for n in surrogate.inputs if c.parameters[n].role == "latent"]
        if not latent:
            raise CaseError(f"{loaded.path}: no latent parameter among the surrogate's inputs")
        priors = {
            n: Prior.from_range(
                c.parameters[n].si, *c.parameters[n].bounds, c.parameters[n].scale == "log"
            )  # fmt: skip
            for n in latent
        }
        fixed = {n: c.parameters[n].si for n in surrogate.inputs if n not in priors}
        self.loaded, self.s, self.fixed = loaded, surrogate, fixed
        self.units = {n: c.parameter_unit(n) for n in surrogate.inputs}
        self.rules = rules_from_case(loaded)
        self.validator = SensorValidator(self.rules, self.opts.nan_policy)
        self.cal = Calibration(surrogate, priors, {}, fixed)
        self.filter = EnsembleFilter(self.cal, self.opts.members, self.opts.process_std,
                                     self.opts.seed)  # fmt: skip
        self.publish = publish
        prefix = f"plant/{self.opts.asset}"
        self.topics = {"state": f"{prefix}/twin/state", "params": f"{prefix}/twin/parameters"}
        self.alerts = Alerts(f"{prefix}/alerts", publish)
        self.limits = {
            n: (
                -math.inf if lo is None else units.si_value(lo),
                math.inf if hi is None else units.si_value(hi),
            )
            for n, (lo, hi) in c.alerts.qoi.items()
        }
        self.pending: dict[str, list[float]] = {}
        self.recent: dict[str, deque[bool]] = {}  # per sensor: was each reading a fault?
        self.updates, self.last_t, self.t = 0, math.nan, math.nan
        self.baseline: dict[str, float] = {}
        self.doc: dict[str, Any] = {}
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.latency: deque[float] = deque(maxlen=100_000)  # seconds per reading
        self.update_seconds: deque[float] = deque(maxlen=100_000)

    # ---- readings ------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes) -> None:
        """For the MQTT thread: queue the message (processed by `drain`)."""
        self.inbox.put((time.perf_counter(), topic, payload))

    def drain(self, timeout: float = 0.0) -> int:
        """Process queued messages (waiting up to `timeout` s for the first); returns the count."""
        n = 0
        try:
            item = self.inbox.get(timeout=timeout) if timeout else self.inbox.get_nowait()
            while True:
                self.process(item[1], item[2])
                self.latency.append(time.perf_counter() - item[0])
                n += 1
                item = self.inbox.get_nowait()
        except queue.Empty:
            return n

    def process(self, topic: str, payload: bytes) -> None:
        """Validate one message; update when a cadence of plant time has passed. Never raises."""
        try:
            self._process(topic, payload)
        except Exception:  # the twin keeps running; the failure is logged and counted
            log.exception("failed to process a message on %s", topic)
            self.validator.counts[("", "internal_error")] += 1

    def _process(self, topic: str, payload: bytes) -> None:
        v = self.validator
        v.last_reason = None
        r = v.check_mqtt(topic, payload)
        sensor = topic.rsplit("/", 1)[-1]
        if sensor in self.rules and v.last_reason not in ("malformed_json", "bad_topic"):
            hist = self.recent.setdefault(sensor, deque(maxlen=20))
            hist.append(r is None and v.last_reason in FAULTS)
            bad = sum(hist) / len(hist)
            stuck = v.last_reason == "stuck"
            self.alerts.update(
                f"sensor_fault:{sensor}", stuck or (len(hist) >= 10 and bad >= 0.5),
                bad <= 0.1 and r is not None, r.t if r else self._now(), "sensor_fault",
                f"sensor {sensor}: {v.last_reason or 'faulty'} ({bad:.0%} of recent readings)",
                sensor=sensor,
            )  # fmt: skip
        if r is None or not math.isfinite(r.value):
            return
        self.pending.setdefault(r.sensor, []).append(r.value)
        if math.isnan(self.last_t):
            self.last_t = r.t
        self.t = max(r.t, self.t) if math.isfinite(self.t) else r.t
        if self.t - self.last_t >= self.opts.cadence:
            self.update()

    def _now(self) -> float:
        return self.t if math.isfinite(self.t) else time.time()

    # ---- the update ----------------------------------------------------------------------
    def _observations(self) -> dict[str, tuple[float, float]]:
        obs = {}
        for n, vals in self.pending.items():
            if n not in self.loaded.case.probes or f"sensor_{n}" not in self.s.outputs:
                continue
            m = sum(vals) / len(vals)
            σ = self.rules[n].noise
            if σ is None:
                σ = 0.01 * abs(m)
            obs[f"sensor_{n}"] = (m, σ / math.sqrt(len(vals)))
        return obs

    def update(self) -> None:
        """Forecast to now, assimilate the pending readings, check alerts, publish."""
        t0 = time.perf_counter()
        measured = {n: sum(v) / len(v) for n, v in self.pending.items() if n in self.fixed}
        self.fixed |= measured
        self.cal.set_fixed(measured)
        self.filter.forecast(self.t - self.last_t)
        obs = self._observations()
        self.filter.update(obs)
        est, std = self.filter.estimate()
        pred = self.filter.predict()
        self.update_seconds.append(time.perf_counter() - t0)
        self.updates += 1
        self.last_t, self.pending = self.t, {}
        k, warm = self.loaded.case.alerts.residual, self.updates > self.opts.warmup
        residuals = {}
        for o, (y, σ) in obs.items():
            m, s = pred[o]
            z = (y - m) / math.hypot(σ, s)
            residuals[o.removeprefix("sensor_")] = {"measured": y, "predicted": m, "sigma": z}
            n = o.removeprefix("sensor_")
            self.alerts.update(
                f"residual:{n}", warm and abs(z) > k, abs(z) < 0.5 * k, self.t, "residual",
                f"sensor {n}: measured {y:.6g}, twin {m:.6g} ({z:+.1f} σ)", sensor=n, sigma=z,
            )  # fmt: skip
        if self.updates == self.opts.warmup:
            self.baseline = dict(est)
        if warm:
            drift_check(self.alerts, self.t, est, self.baseline, self.loaded.case.alerts.drift)
        limit_check(self.alerts, self.t, pred, self.limits)  # type: ignore[arg-type]
        self._publish(est, std, pred, residuals)

    def _publish(self, est: dict, std: dict, pred: dict, residuals: dict) -> None:
        t = datetime.fromtimestamp(self.t, UTC).isoformat()
        params = {
            n: {
                "value": est[n],
                "std": std[n],
                "unit": self.units[n],
                "baseline": self.baseline.get(n),
            }  # fmt: skip
            for n in est
        }
        self.doc = {
            "t": t,
            "updates": self.updates,
            "parameters": params,
            "inputs": {n: v for n, v in self.fixed.items()},
            "virtual": {
                o.removeprefix("qoi_"): {"value": m, "std": s}
                for o, (m, s) in pred.items()
                if o.startswith("qoi_")
            },
            "sensors": residuals,
            "quality": self.validator.report(),
            "alerts": {"active": sorted(self.alerts.active), "count": self.alerts.count},
        }
        self.publish(self.topics["state"], self.doc, True)
        for n, p in params.items():
            self.publish(f"{self.topics['params']}/{n}", {"t": t, **p}, True)

    # ---- resume --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "case_hash": self.loaded.hash,
            "inputs": list(self.s.inputs),
            "updates": self.updates,
            "last_t": self.last_t,
            "t": self.t,
            "fixed": self.fixed,
            "baseline": self.baseline,
            "filter": self.filter.state(),
            "alerts": self.alerts.state(),
            "validator": self.validator.state(),
            "recent": {n: list(h) for n, h in self.recent.items()},
            "pending": self.pending,
        }

    def save(self, path: Path) -> None:
        """Write the state atomically (JSON)."""
        from twinkit.files import write_json

        write_json(path, self.state())

    def restore(self, path: Path) -> None:
        """Continue from a state written by `save`; CaseError if it belongs to another twin."""
        try:
            s = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise CaseError(f"{path}: cannot read the twin state ({e})") from None
        if s.get("format") != STATE_FORMAT or s.get("inputs") != list(self.s.inputs):
            raise CaseError(f"{path}: not a state of this twin (inputs {self.s.inputs})")
        self.updates, self.last_t, self.t = s["updates"], s["last_t"], s["t"]
        self.fixed = dict(s["fixed"])
        self.cal.set_fixed(self.fixed)
        self.baseline = dict(s["baseline"])
        self.filter.load(s["filter"])
        self.alerts.load(s["alerts"])
        self.validator.load(s["validator"])
        self.recent = {n: deque(h, maxlen=20) for n, h in s["recent"].items()}
        self.pending = {n: list(v) for n, v in s["pending"].items()}
