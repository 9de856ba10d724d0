"""One twin service for several assets (`twinkit fleet FILE`): one MQTT connection subscribes to
every asset's topics and hands each message to its asset's twin, which handles it on a thread of
its own (`twinkit.twin.service._Worker`), so one asset's bad messages, failing or slow updates
never hold up another's. Each asset keeps its own state file and history, as `twinkit live`.

Every `summary_every` s the service publishes (retained) on `fleet/<name>/state` which assets it
serves and how each is doing: `ok`, `waiting` (no update yet), `busy` (one message handled for
over `STALLED` s: a slow update) or `failed` (its thread died; the others go on). SIGINT/SIGTERM
stop all the assets together within `GRACE` s plus a second to write their states.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinkit.sensors.mqtt import BrokerConfig, Connection
from twinkit.twin.service import GRACE, _Worker

log = logging.getLogger("twinkit.twin.fleet")
STALLED = 5.0  # s on one message before an asset is reported busy


class AssetWorker(_Worker):
    """A `_Worker` that survives its twin's exceptions and says what it is doing."""

    def __init__(self, name: str, twin: Any):
        super().__init__(twin)
        self.name = f"twin:{name}"
        self.busy_since: float | None = None
        self.errors = 0

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            item = self.twin.next_message(timeout=0.1)
            if item is None and self.deadline < float("inf"):
                return
            try:
                with self.lock:
                    self.busy_since = time.monotonic()
                    if item is None:
                        self.twin.alerts.tick()  # alerts escalate also while no message comes
                        self.twin.idle()  # the virtual fields, when due
                    else:
                        self.twin.handle(item)
            except Exception:  # LiveTwin.process catches its own; this is the rest
                self.errors += 1
                log.exception("%s: failed to handle a message", self.name)
            finally:
                self.busy_since = None


@dataclass
class Member:
    """One asset of the fleet: its twin, where its state goes and the topic it reads."""

    name: str
    twin: Any  # twinkit.twin.live.LiveTwin
    state: Path | None
    topic: str
    case: str = ""


def matches(topic: str, pattern: str) -> bool:
    """MQTT topic matching (`+` one level, `#` the rest)."""
    t, p = topic.split("/"), pattern.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(t) == len(p)


class FleetService:
    """The members, their workers and the connection; `run` serves until `stop` is set."""

    def __init__(self, name: str, members: list[Member], cfg: BrokerConfig):
        self.name, self.members, self.cfg = name, {m.name: m for m in members}, cfg
        self.topic = f"fleet/{name}/state"
        self.unrouted = 0  # messages no asset subscribed to
        self.routes = [(m.twin.topics["ack"], m) for m in members] + [(m.topic, m) for m in members]
        subs = [t for t, _ in self.routes]
        self.conn = Connection(cfg, subs, self.on_message)
        for m in members:
            m.twin.publish = self.conn.publish
            m.twin.alerts.publish = self.conn.publish
        self.workers = {n: AssetWorker(n, m.twin) for n, m in self.members.items()}
        self.saved: dict[str, float] = {}
        self._rows: dict[str, dict[str, Any]] = {}  # the summary's last row per asset

    def on_message(self, topic: str, payload: bytes) -> None:
        """For the MQTT thread: queue the message for its asset's twin (never blocks)."""
        for pattern, m in self.routes:
            if matches(topic, pattern):
                m.twin.on_message(topic, payload)
                return
        self.unrouted += 1

    def status(self) -> dict[str, Any]:
        """The fleet's summary: per asset its case, status, updates, plant time, queue, alerts."""
        now, assets = time.monotonic(), {}
        for n, m in self.members.items():
            w, twin = self.workers[n], m.twin
            busy = w.busy_since is not None and now - w.busy_since > STALLED
            status = "failed" if w.ident and not w.is_alive() else "busy" if busy else (
                "ok" if twin.updates else "waiting")  # fmt: skip
            try:  # read while the asset's thread writes: a count may change under us
                q = twin.validator.report()
                self._rows[n] = {
                    "case": m.case, "updates": twin.updates, "t": twin.doc.get("t"),
                    "queued": twin.inbox.qsize(), "dropped": twin.overflow,
                    "accepted": q["accepted"], "rejected": q["rejected"],
                    "alerts": sum(list(twin.alerts.count.values())), "errors": w.errors,
                    "state": f"plant/{n}/twin/state",
                }  # fmt: skip
            except RuntimeError:  # changed size during iteration: the last row read, this once
                pass
            assets[n] = {"status": status} | self._rows.get(n, {"case": m.case})
        return {"fleet": self.name, "t": datetime.now(UTC).isoformat(timespec="seconds"),
                "connected": self.conn.connected.is_set(), "unrouted": self.unrouted,
                "assets": assets}  # fmt: skip

    def _save_all(self, timeout: float) -> None:
        for n, m in self.members.items():
            if m.state is not None and self.workers[n].save(m.state, timeout):
                self.saved[n] = time.monotonic()

    def _summary(self) -> None:
        try:
            self.conn.publish(self.topic, self.status(), retain=True)
        except Exception:  # a summary never stops the service
            log.exception("could not publish the fleet summary on %s", self.topic)

    def _write(self, m: Member) -> None:
        """Write one asset's state file and close its history, unless its worker still runs."""
        if self.workers[m.name].is_alive():
            log.warning("%s: a message was still being handled after %g s; its state file "
                        "keeps the last one saved", m.name, GRACE)  # fmt: skip
            return
        if m.state is not None:
            m.twin.save(m.state)
        if m.twin.history is not None:
            m.twin.history.close(m.twin.state(), timeout=1.0)

    def run(
        self,
        stop: threading.Event,
        duration: float | None = None,
        save_every: float = 10.0,
        summary_every: float = 2.0,
    ) -> None:
        """Serve until `stop` is set or `duration` s passed; BrokerRefused if refused."""
        for w in self.workers.values():
            w.start()
        self.conn.start()
        start = last_save = last_summary = time.monotonic()
        end = start + duration if duration else float("inf")
        try:
            while not stop.wait(0.1) and time.monotonic() < end:
                self.conn.check()
                for n, m in self.members.items():
                    if m.twin.history is not None and m.twin.history.due():
                        self.workers[n].flush(timeout=0.05)  # a busy asset: next time
                if time.monotonic() - last_save > save_every:
                    self._save_all(timeout=0.2)
                    last_save = time.monotonic()
                if time.monotonic() - last_summary > summary_every:
                    self._summary()
                    last_summary = time.monotonic()
        finally:
            self._stop()

    def _stop(self) -> None:
        """All workers finish together (`GRACE` s), then each state and history is written."""
        deadline = time.monotonic() + GRACE
        for w in self.workers.values():
            w.deadline = deadline
        for w in self.workers.values():
            w.join(max(deadline - time.monotonic(), 0.0) + 0.2)
        writers = [threading.Thread(target=self._write, args=(m,), name=f"save:{n}", daemon=True)
                   for n, m in self.members.items()]  # fmt: skip
        for t in writers:
            t.start()
        end = time.monotonic() + 1.5  # a database that is down: this long, no more
        for t in writers:
            t.join(max(end - time.monotonic(), 0.0))
        final = self.status()
        for n, a in final["assets"].items():  # still inside a message: busy, left behind
            a["status"] = "busy" if self.workers[n].is_alive() else "stopped"
        self.conn.publish(self.topic, final, retain=True)
        time.sleep(0.1)  # let the summary leave
        self.conn.stop()
        for m in self.members.values():
            if m.twin.alerts.router is not None:
                m.twin.alerts.router.close(timeout=0.5)


def build_members(fleet: Any, read: Callable[[Path], Any] | None = None) -> list[Member]:
    """A resumed `LiveTwin` per asset of `fleet` (a `twinkit.twin.fleet_file.Fleet`)."""
    from twinkit.case import load_case
    from twinkit.training import default_surrogate, read_surrogate
    from twinkit.twin.live import LiveOptions, LiveTwin
    from twinkit.twin.service import file_hash, resume

    members = []
    for n, a in fleet.assets.items():
        loaded = load_case(a.case, check_regions=False)
        path = a.surrogate or default_surrogate(loaded)
        opts = LiveOptions(n, a.cadence, a.members, a.drift_rate, max_skew=a.max_skew,
                           max_jump=a.max_jump, max_lateness=a.max_lateness,
                           field_history_every=a.field_history,
                           run_dir=a.state.parent)  # fmt: skip
        twin = LiveTwin(loaded, (read or read_surrogate)(path), opts)
        twin.surrogate_hash = file_hash(path)
        a.state.parent.mkdir(parents=True, exist_ok=True)
        resume(twin, a.state, a.history)
        members.append(Member(n, twin, a.state, a.topic, loaded.name))
    return members


def fleet_command(
    fleet: Any,
    cfg: BrokerConfig,
    duration: float | None = None,
    built: Callable[[], None] | None = None,
) -> FleetService:
    """`twinkit fleet`: build every asset's twin (then call `built`, e.g. to start the fleet's
    dashboard on the histories they opened), serve them until a signal or `duration`."""
    from dataclasses import replace

    from twinkit.process import single_threaded
    from twinkit.twin.service import stop_on_signals

    single_threaded()
    if not cfg.client_id:  # one session: readings sent while the service is down wait
        cfg = replace(cfg, client_id=f"twinkit-fleet-{fleet.name}"[:23], session=True)
    service = FleetService(fleet.name, build_members(fleet), cfg)
    if built is not None:
        built()
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        service.run(stop, duration)
    finally:
        restore()
    return service
