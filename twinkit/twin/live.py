"""The live twin: validated MQTT readings → sequential calibration (EnKF) → state and alerts.

Readings arrive on `plant/<asset>/sensors/<sensor>`. Every `cadence` seconds of plant time
(the readings' timestamps, not the wall clock) the twin assimilates the readings that came since
the last update, publishes its state (retained) to `plant/<asset>/twin/state` and each estimate
to `plant/<asset>/twin/parameters/<name>`, and alerts to `plant/<asset>/alerts`. A surrogate
with fields also gives virtual field sensors (`twinkit.twin.virtual_field`), computed between
messages rather than in the update: `plant/<asset>/twin/field/<name>` (the mesh on
`plant/<asset>/twin/mesh`).

No message can stall it: a reading from the future (ahead of the wall clock by more than
`max_skew`) is rejected, and one ahead of the plant clock by more than `max_jump` is held until
other sensors confirm the jump (then used) or the plant's time goes on without it (rejected), so
the plant clock only moves with the plant; what it keeps is bounded (unknown sensors are counted
together, payloads, held readings and the inbox have limits).

A reading that arrives late, older than its sensor's latest (a broker restart, a publisher
resending its backlog after newer readings), is used if it is at most `max_lateness` seconds of
plant time older and not a duplicate: it goes into the next update with the others (`pending` is
what came since the last update, whatever its time). The EnKF's parameters follow a random walk,
so a reading minutes late observes nearly the state being updated: assimilating it now adds at
most the drift over its lateness to its error, which the window bounds; re-running assimilated
updates instead would cost an update per late reading and rewrite published states. Older ones
are refused (`too_late`); every reading is recorded once (a late one with the reason `late`).

With a `history` (`twinkit.twin.history.History`) every reading, update and alert is also
written to a database, committed with the twin's state every half second.
"""

from __future__ import annotations

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
from twinkit.case.display import DisplayUnits
from twinkit.sensors.limits import MAX_PAYLOAD
from twinkit.sensors.readings import Clock, NanPolicy, Reading, SensorValidator, rules_from_case
from twinkit.twin import live_state
from twinkit.twin.alerts import drift_check, forecast_check, limit_check
from twinkit.twin.forecast import Forecaster, describe
from twinkit.twin.history import History, record_update
from twinkit.twin.routing import alerts_from_case
from twinkit.twin.virtual_field import VirtualFields

log = logging.getLogger("twinkit.twin.live")
FAULTS = {"out_of_range", "rate_limit", "stuck", "bad_quality", "bad_timestamp", "future"}
INBOX = 100_000  # messages waiting to be processed; more are dropped (and counted)


@dataclass(frozen=True)
class LiveOptions:
    asset: str = "plant"
    cadence: float = 60.0  # plant seconds between updates
    members: int = 64  # ensemble size
    process_std: float = 0.1  # random-walk drift allowed, prior widths per √hour
    warmup: int = 5  # updates before drift and residual alerts; the drift baseline is taken then
    nan_policy: NanPolicy = "hold"
    seed: int = 0
    max_skew: float | None = 300.0  # s ahead of the wall clock (None: off, for replays)
    max_jump: float | None = 3600.0  # s ahead of the plant clock, unless other sensors agree
    max_lateness: float | None = 600.0  # s behind a sensor's latest reading (None: in order only)
    run_dir: Path | None = None  # where alert log files and field.npz go (default runs/<case>)
    field_every: float = 10.0  # wall s at least between two computations of the virtual fields
    field_history_every: float = 900.0  # plant s between kept field snapshots (0: none)


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
        clock = Clock(self.opts.max_skew, self.opts.max_jump)
        self.validator = SensorValidator(self.rules, self.opts.nan_policy, clock=clock,
                                         lateness=self.opts.max_lateness or 0.0)  # fmt: skip
        self.cal = Calibration(surrogate, priors, {}, fixed)
        self.filter = EnsembleFilter(self.cal, self.opts.members, self.opts.process_std,
                                     self.opts.seed)  # fmt: skip
        self.publish = publish
        prefix = f"plant/{self.opts.asset}"
        self.topics = {"state": f"{prefix}/twin/state", "params": f"{prefix}/twin/parameters"}
        self.topics["ack"] = f"{prefix}/ack"  # acknowledgements: an alert's key
        run_dir = self.opts.run_dir or Path("runs") / loaded.name
        self.alerts = alerts_from_case(loaded, f"{prefix}/alerts", publish, run_dir)
        self.forecaster = Forecaster.from_case(c)
        self.forecast: dict[str, dict[str, Any]] = {}  # the latest, per parameter
        self.display = DisplayUnits.from_case(c)
        self.limits = {
            n: (
                -math.inf if lo is None else units.si_value(lo),
                math.inf if hi is None else units.si_value(hi),
            )
            for n, (lo, hi) in c.alerts.qoi.items()
        }
        self.pending: dict[str, list[float]] = {}  # per sensor since the last update: [sum, n]
        self.recent: dict[str, deque[bool]] = {}  # per sensor: was each reading a fault?
        self.updates, self.last_t, self.t = 0, math.nan, math.nan
        self.baseline: dict[str, float] = {}
        self.doc: dict[str, Any] = {}
        self.inbox: queue.Queue = queue.Queue(INBOX)
        self.overflow = self._overflow_counted = 0  # messages dropped because the inbox was full
        self.latency: deque[float] = deque(maxlen=100_000)  # seconds per reading
        self.update_seconds: deque[float] = deque(maxlen=100_000)
        self.window = [math.inf, -math.inf, 0]  # the pending readings' first and last time, count
        self.history: History | None = None
        self.surrogate_hash = ""  # for the lineage of each update (the surrogate file's hash)
        self.fields: VirtualFields | None = None  # the surrogate's fields over the ensemble
        if getattr(surrogate, "fields", None):
            self.topics |= {"field": f"{prefix}/twin/field", "mesh": f"{prefix}/twin/mesh"}
            self.fields = VirtualFields(surrogate, self.opts.field_every, run_dir,
                                        self.topics["field"], self.topics["mesh"],
                                        self.opts.field_history_every)  # fmt: skip

    def attach(self, history: History) -> None:
        """Write every reading, update and alert to `history` from now on."""
        self.history = history
        self.alerts.record = history.alert

    # ---- readings ------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes, ack: Callable[[], Any] | None = None) -> None:
        """For the MQTT thread: queue the message (processed by `drain`). Never blocks: an
        oversized payload is queued cut short (and refused as `too_large`), one that finds the
        inbox full is dropped and counted as `inbox_full`. `ack` (the broker's acknowledgement)
        is called once the message is handled, or dropped: a twin killed before that gets it
        again from the broker."""
        item = (time.perf_counter(), topic[:1024], payload[: MAX_PAYLOAD + 1], ack)
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            self.overflow += 1
            if ack is not None:
                ack()

    def next_message(self, timeout: float = 0.0) -> tuple | None:
        """The next queued message, waiting up to `timeout` s; None if there is none."""
        try:
            return self.inbox.get(timeout=timeout) if timeout else self.inbox.get_nowait()
        except queue.Empty:
            return None

    def handle(self, item: tuple) -> None:
        """Process one queued message (received, topic, payload[, ack]), record its latency,
        acknowledge it to the broker."""
        self.process(item[1], item[2])
        self.latency.append(time.perf_counter() - item[0])
        if len(item) > 3 and item[3] is not None:
            item[3]()
        if self.inbox.empty():
            self.idle()

    def idle(self) -> None:
        """What waits for a moment without messages: the virtual fields of the latest update
        (at most every `field_every` s; never raises)."""
        if self.fields is not None and self.fields.due():
            try:
                self.fields.refresh(self.publish, self.history)
            except Exception:
                log.exception("failed to compute the virtual fields")

    def drain(self, timeout: float = 0.0) -> int:
        """Process queued messages (waiting up to `timeout` s for the first); returns the count."""
        n = 0
        item = self.next_message(timeout)
        while item is not None:
            self.handle(item)
            n += 1
            item = self.next_message()
        return n

    def process(self, topic: str, payload: bytes) -> None:
        """Validate one message; update when a cadence of plant time has passed. Never raises."""
        dropped = self.overflow - self._overflow_counted
        h = self.history
        if dropped:
            self.validator.counts[("", "inbox_full")] += dropped
            self._overflow_counted += dropped
            if h is not None:
                h.reading(self._now(), "", None, None, "rejected", "inbox_full",
                          f"{dropped} messages dropped")  # fmt: skip
        try:
            self.alerts.tick()  # escalation of unacknowledged alerts
            if topic == self.topics["ack"]:
                self.alerts.ack_message(payload)
                return
            self._process(topic, payload)
        except Exception:  # the twin keeps running; the failure is logged and counted
            log.exception("failed to process a message on %s", topic[:80])
            self.validator.counts[("", "internal_error")] += 1
            if h is not None:
                h.reading(self._now(), topic.rsplit("/", 1)[-1], None, None, "rejected",
                          "internal_error", None, payload)  # fmt: skip
        if h is not None and h.due():
            h.commit(self.state())

    def flush(self, wait: bool = False) -> None:
        """Commit the history now (with the state), if anything waits; `wait` until written."""
        if self.history is not None and self.history.buffered:
            self.history.commit(self.state())
        if wait and self.history is not None:
            self.history.sync()

    def _process(self, topic: str, payload: bytes) -> None:
        v = self.validator
        r = v.check_mqtt(topic, payload)  # sets or resets last_reason, last_detail, last_late
        this = (topic.rsplit("/", 1)[-1], r, v.last_reason, v.last_detail, v.last_late, payload)
        for outcome in v.take_released():  # readings held ahead of the plant clock, decided
            self._use(*outcome)
        if this[2] != "held":  # else it is used once the jump is confirmed or refused
            self._use(*this)

    def _use(self, sensor: str, r: Reading | None, reason: str | None, detail: str | None,
             late: bool, payload: bytes | None) -> None:  # fmt: skip
        """Record one validated reading, track its sensor's faults, add it to the pending."""
        if self.history is not None:
            if r is None:
                self.history.reading(self._now(), sensor, None, None, "rejected", reason,
                                     detail, payload)  # fmt: skip
            else:
                status = "repaired" if reason else "accepted"
                self.history.reading(r.t, r.sensor, r.value, r.unit, status,
                                     reason or ("late" if late else None))  # fmt: skip
        if sensor in self.rules and reason not in ("malformed_json", "bad_topic"):
            hist = self.recent.setdefault(sensor, deque(maxlen=20))
            hist.append(r is None and reason in FAULTS)
            bad = sum(hist) / len(hist)
            stuck = reason == "stuck"
            self.alerts.update(
                f"sensor_fault:{sensor}", stuck or (len(hist) >= 10 and bad >= 0.5),
                bad <= 0.1 and r is not None, r.t if r else self._now(), "sensor_fault",
                f"sensor {sensor}: {reason or 'faulty'} ({bad:.0%} of recent readings)",
                sensor=sensor,
            )  # fmt: skip
        if r is None or not math.isfinite(r.value):
            return
        acc = self.pending.setdefault(r.sensor, [0.0, 0])
        acc[0] += r.value
        acc[1] += 1
        w = self.window
        w[0], w[1], w[2] = min(w[0], r.t), max(w[1], r.t), w[2] + 1
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
        for n, (total, count) in self.pending.items():
            if n not in self.loaded.case.probes or f"sensor_{n}" not in self.s.outputs:
                continue
            m = total / count
            σ = self.rules[n].noise
            if σ is None:
                σ = 0.01 * abs(m)
            obs[f"sensor_{n}"] = (m, σ / math.sqrt(count))
        return obs

    def update(self) -> None:
        """Forecast to now, assimilate the pending readings, check alerts, publish."""
        t0 = time.perf_counter()
        measured = {n: total / k for n, (total, k) in self.pending.items() if n in self.fixed}
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
            self._forecast(est, std)
        limit_check(self.alerts, self.t, pred, self.limits)  # type: ignore[arg-type]
        self._publish(est, std, pred, residuals)
        if self.history is not None:
            record_update(self, est, std, pred, obs)
        if self.fields is not None:  # computed when idle (`idle`), not here
            self.fields.mark(self.updates, self.t, self.cal.inputs(self.filter.U).numpy())
        self.window = [math.inf, -math.inf, 0]

    def _forecast(self, est: dict, std: dict) -> None:
        """Add the estimates to the forecaster's series; forecast; alert within the horizon."""
        if not self.forecaster.settings:
            return
        self.forecaster.add(self.t, est, std)
        found, show = self.forecaster.forecasts(), self.display
        texts = {n: describe(f, show.format(n, f.limit, self.units[n])) for n, f in found.items()}
        settings = self.forecaster.settings.items()
        horizons = {n: s.horizon for n, s in settings}
        delays = {n: s.off_delay for n, s in settings}
        forecast_check(self.alerts, self.t, found, horizons, texts, delays)
        self.forecast = {n: f.doc() | {"unit": self.units[n], "text": texts[n]}
                         for n, f in found.items()}  # fmt: skip

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
            "alerts": self.alerts.summary(),
            "forecast": self.forecast,  # stored with the update by the history
        }
        self.publish(self.topics["state"], self.doc, True)
        for n, p in params.items():
            self.publish(f"{self.topics['params']}/{n}", {"t": t, **p}, True)

    # ---- resume (twinkit.twin.live_state) ------------------------------------------------
    def state(self) -> dict[str, Any]:
        return live_state.state(self)

    def save(self, path: Path) -> None:
        """Write the state atomically (JSON)."""
        live_state.save(self, path)

    def restore(self, path: Path) -> None:
        """Continue from a state written by `save`; CaseError if it belongs to another twin."""
        live_state.restore(self, path)

    def load(self, s: dict[str, Any], path: str) -> None:
        """Continue from a state (`state()`, from a file or the history) read from `path`."""
        live_state.load(self, s, path)
