"""Running the live twin and the simulated plant against a broker: `twinkit live`, `twinkit plant`.

SIGINT and SIGTERM stop either cleanly; the twin then writes its state, and the next start with the
same `--state` file resumes from it. The twin handles messages on a thread of its own, so a stop
never waits for more than `GRACE` seconds on a message: if one is still being handled then, the
state saved last (every 10 s) stays. A broker that refuses the credentials stops both with an
error (exit code 2); one that does not answer is retried by the twin and named by the plant.
With `opcua` the readings come from an OPC UA server (`twinkit.sensors.opcua`), beside or
instead of the broker; the same holds for it. Without a broker the state file and the history
are the twin's only outputs.

The twin's history (`twinkit.twin.history`) is committed at least every half second, between two
messages, with the state; a restart resumes from whichever of the history's state and the state
file is newer, so a twin killed with SIGKILL continues its history where the last commit left it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinkit.process import single_threaded
from twinkit.sensors.mqtt import BrokerConfig, Connection

if TYPE_CHECKING:
    from twinkit.sensors.opcua import ServerConfig

log = logging.getLogger("twinkit.twin.live")
GRACE = 3.0  # s a stop waits for the messages already queued, then for the one being handled


class _Worker(threading.Thread):
    """Handles the twin's messages, one at a time under `lock`, until `finish` is called; then
    handles what is queued until the inbox is empty or the deadline passes."""

    def __init__(self, twin: Any):
        super().__init__(name="twin", daemon=True)  # a daemon: a hung message cannot keep the
        self.twin, self.lock = twin, threading.Lock()  # process alive
        self.deadline = float("inf")

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            item = self.twin.next_message(timeout=0.1)
            if item is None:
                if self.deadline < float("inf"):
                    return
                with self.lock:  # alerts escalate also while no message comes
                    self.twin.alerts.tick()
                    self.twin.idle()  # the virtual fields, when due
                continue
            with self.lock:
                self.twin.handle(item)

    def finish(self, grace: float) -> bool:
        """Stop within `grace` s; whether it did (False: a message is still being handled)."""
        self.deadline = time.monotonic() + grace
        self.join(grace + 0.2)
        return not self.is_alive()

    def flush(self, timeout: float) -> bool:
        """Commit the twin's history between two messages; False if none ended in time."""
        if not self.lock.acquire(timeout=timeout):
            return False
        try:
            self.twin.flush()
        finally:
            self.lock.release()
        return True

    def save(self, path: Path, timeout: float) -> bool:
        """Write the twin's state between two messages; False if none ended within `timeout` s."""
        if not self.lock.acquire(timeout=timeout):
            return False
        try:
            self.twin.save(path)
        finally:
            self.lock.release()
        return True


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Set `stop` on SIGINT/SIGTERM (main thread only); returns a function restoring handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, lambda signum, frame: stop.set())

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore


def serve_twin(
    twin: Any,
    cfg: BrokerConfig | None,
    stop: threading.Event,
    state_path: Path | None = None,
    topic: str | None = None,
    duration: float | None = None,
    save_every: float = 10.0,
    opcua: ServerConfig | None = None,
) -> Connection | None:
    """Run `twin` (a `LiveTwin`) until `stop` is set or `duration` s passed; save its state
    every `save_every` s and at the end. BrokerRefused (ServerRefused) if the broker (the OPC UA
    server) refuses the credentials."""
    conn, sources = None, _opcua_sources(twin, opcua)
    if cfg is not None:
        topic = topic or f"plant/{twin.opts.asset}/sensors/+"
        # ack: alert keys. A message is acknowledged once handled: the broker keeps the ones
        # still queued in the twin's inbox for a twin killed meanwhile (its persistent session)
        conn = Connection(cfg, [topic, twin.topics["ack"]], twin.on_message, ack_after=True)
        twin.publish = lambda t, doc, retain: conn.publish(t, doc, retain)
        twin.alerts.publish = twin.publish
        sources.insert(0, conn)
    worker = _Worker(twin)
    worker.start()
    for source in sources:
        source.start()
    start = time.monotonic()
    end = start + duration if duration else float("inf")
    saved, waiting = None, True
    try:
        while not stop.wait(0.1) and time.monotonic() < end:
            for source in sources:
                source.check()
            if twin.history is not None and twin.history.due():
                worker.flush(timeout=0.1)
            if waiting and time.monotonic() - start > 10:
                for source in sources:
                    if not source.answered.is_set():
                        log.warning("no answer from %s yet; still trying", _where(source))
                waiting = False
            if state_path and time.monotonic() - (saved or start) > save_every:
                if worker.save(state_path, timeout=1.0):
                    saved = time.monotonic()
    finally:
        for source in sources[conn is not None :]:
            source.close()  # no more readings; the broker stays for the last state and alerts
        finished = worker.finish(GRACE)
        if state_path and finished and worker.save(state_path, timeout=1.0):
            log.info("wrote the twin state to %s", state_path)
        elif state_path:
            kept = f"kept the one saved {time.monotonic() - saved:.0f} s ago" if saved else "none"
            log.warning("a message was still being handled after %g s; the twin state in %s: %s",
                        GRACE, state_path, kept)  # fmt: skip
        if twin.history is not None and finished:  # a database that is down: a second, no more
            twin.history.close(twin.state(), timeout=1.0)
        for source in sources:
            source.stop()
        if twin.alerts.router is not None:
            twin.alerts.router.close(timeout=1.0)  # webhooks: post what is queued, briefly
    return conn


def _opcua_sources(twin: Any, cfg: ServerConfig | None) -> list[Any]:
    if cfg is None:
        return []
    from twinkit.sensors.opcua import OpcuaSource

    return [OpcuaSource(cfg, twin.opts.asset, twin.on_message)]


def _where(source: Any) -> str:
    c = source.cfg
    return c.url if hasattr(c, "url") else f"the broker at {c.host}:{c.port}"


def live_command(
    case: Path,
    cfg: BrokerConfig | None,
    surrogate_path: Path | None,
    state_path: Path | None,
    opts: Any,
    topic: str | None,
    duration: float | None,
    history: str | None = None,
    opcua: ServerConfig | None = None,
) -> Any:
    """`twinkit live`: load, resume from the newer of the state file and the `history`'s state
    (a URL; None: no history), serve until a signal. Readings from the broker `cfg` and/or the
    OPC UA server `opcua`."""
    from twinkit.case import load_case
    from twinkit.training import default_surrogate
    from twinkit.training import read_surrogate as load
    from twinkit.twin.live import LiveTwin

    single_threaded()
    # one session per asset: readings sent while the twin is down wait
    if cfg is not None and not cfg.client_id:
        cfg = replace(cfg, client_id=f"twinkit-live-{opts.asset}"[:23], session=True)
    loaded = load_case(case, check_regions=False)
    path = surrogate_path or default_surrogate(loaded)
    twin = LiveTwin(loaded, load(path), opts)
    twin.surrogate_hash = file_hash(path)
    resume(twin, state_path, history)
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        serve_twin(twin, cfg, stop, state_path, topic, duration, opcua=opcua)
    finally:
        restore()
    return twin


def file_hash(path: Path) -> str:
    """The first 16 hex digits of a file's SHA-256 (a surrogate's identity in the lineage)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def resume(twin: Any, state_path: Path | None, history: str | None) -> None:
    """Attach the history (if any) and continue from the newer of the two saved states: the
    history's is committed every half second, the file every 10 s and at a clean stop."""
    import json

    from twinkit.redaction import redact
    from twinkit.twin.history import History

    saved: list[tuple[dict, str]] = []
    if state_path and state_path.exists():
        try:
            saved.append((json.loads(state_path.read_text()), str(state_path)))
        except (OSError, ValueError):
            twin.restore(state_path)  # says what is wrong with it
    if history is not None:
        twin.attach(h := History(history, twin.opts.asset))
        last = h.last_state()
        if last is not None:
            saved.append((last, f"history {redact(h.url)}"))
    if not saved:
        return
    s, source = max(saved, key=lambda x: (x[0].get("updates", 0), _plant_time(x[0])))
    twin.load(s, source)
    log.info("resumed from %s after %d updates", source, twin.updates)


def _plant_time(s: dict) -> float:
    t = s.get("t")
    return t if isinstance(t, int | float) and t == t else float("-inf")


def plant_command(case: Path, cfg: BrokerConfig, truth: Path, opts: Any) -> dict[str, int]:
    """`twinkit plant`: publish the simulated plant's readings until the run ends or a signal."""
    from twinkit.case import load_case
    from twinkit.training import read_surrogate as load
    from twinkit.twin.plant import Plant, run_plant

    single_threaded()
    loaded = load_case(case, check_regions=False)
    plant = Plant(loaded, load(truth), opts)
    conn = Connection(cfg)
    if not conn.start(wait=10):
        conn.stop()
        conn.check()
        from twinkit.case import CaseError

        raise CaseError(f"--mqtt {cfg.host}:{cfg.port}: no broker answered within 10 s")
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        sent = run_plant(plant, lambda t, p: conn.publish(t, p), stop)
    finally:
        restore()
        time.sleep(0.5)  # let the last messages leave
        conn.stop()
    return dict(sent)
