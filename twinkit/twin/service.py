"""Running the live twin and the simulated plant against a broker: `twinkit live`, `twinkit plant`.

SIGINT and SIGTERM stop either cleanly; the twin then writes its state, and the next start with the
same `--state` file resumes from it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinkit.process import single_threaded
from twinkit.sensors.mqtt import BrokerConfig, Connection

log = logging.getLogger("twinkit.twin.live")


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
    cfg: BrokerConfig,
    stop: threading.Event,
    state_path: Path | None = None,
    topic: str | None = None,
    duration: float | None = None,
    save_every: float = 10.0,
) -> Connection:
    """Run `twin` (a `LiveTwin`) until `stop` is set or `duration` s passed; save its state
    every `save_every` s and at the end."""
    topic = topic or f"plant/{twin.opts.asset}/sensors/+"
    conn = Connection(cfg, [topic], twin.on_message)
    twin.publish = lambda t, doc, retain: conn.publish(t, doc, retain)
    twin.alerts.publish = twin.publish
    conn.start()
    end = time.monotonic() + duration if duration else float("inf")
    saved = time.monotonic()
    try:
        while not stop.is_set() and time.monotonic() < end:
            twin.drain(timeout=0.1)
            if state_path and time.monotonic() - saved > save_every:
                twin.save(state_path)
                saved = time.monotonic()
        twin.drain()
    finally:
        if state_path:
            twin.save(state_path)
            log.info("wrote the twin state to %s", state_path)
        conn.stop()
    return conn


def live_command(
    case: Path,
    cfg: BrokerConfig,
    surrogate_path: Path | None,
    state_path: Path | None,
    opts: Any,
    topic: str | None,
    duration: float | None,
) -> Any:
    """`twinkit live`: load, resume if the state file exists, serve until a signal."""
    from twinkit.case import load_case
    from twinkit.training import default_surrogate
    from twinkit.training import read_surrogate as load
    from twinkit.twin.live import LiveTwin

    single_threaded()
    loaded = load_case(case, check_regions=False)
    twin = LiveTwin(loaded, load(surrogate_path or default_surrogate(loaded)), opts)
    if state_path and state_path.exists():
        twin.restore(state_path)
        log.info("resumed from %s after %d updates", state_path, twin.updates)
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        serve_twin(twin, cfg, stop, state_path, topic, duration)
    finally:
        restore()
    return twin


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
