"""The live twin's state for resuming: what `LiveTwin.state` holds, written atomically as JSON
(`save`) or with the history's commits, and read back (`restore`, `load`)."""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from pathlib import Path
from typing import Any

from twinkit.case import CaseError

log = logging.getLogger("twinkit.twin.live")
STATE_FORMAT = "twinkit-live-state"


def state(twin: Any) -> dict[str, Any]:
    """Everything the twin needs to continue, as JSON-able data."""
    return {
        "format": STATE_FORMAT,
        "case_hash": twin.loaded.hash,
        "inputs": list(twin.s.inputs),
        "updates": twin.updates,
        "last_t": twin.last_t,
        "t": twin.t,
        "fixed": twin.fixed,
        "baseline": twin.baseline,
        "filter": twin.filter.state(),
        "alerts": twin.alerts.state(),
        "forecast": twin.forecaster.state(),
        "validator": twin.validator.state(),
        "recent": {n: list(h) for n, h in twin.recent.items()},
        "pending": {n: {"sum": a, "n": k} for n, (a, k) in twin.pending.items()},
        "window": twin.window,
        "last": twin.doc,  # the last published state, for people (tk.load_twin_state)
    }


def save(twin: Any, path: Path) -> None:
    """Write the state atomically (JSON)."""
    from twinkit.files import write_json

    write_json(path, state(twin))


def restore(twin: Any, path: Path) -> None:
    """Continue from a state written by `save`; CaseError if it belongs to another twin."""
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CaseError(f"{path}: cannot read the twin state ({e})") from None
    load(twin, s, str(path))


def load(twin: Any, s: dict[str, Any], path: str) -> None:
    """Continue from a state (`state()`, from a file or the history) read from `path`."""
    if s.get("format") != STATE_FORMAT or s.get("inputs") != list(twin.s.inputs):
        raise CaseError(f"{path}: not a state of this twin (inputs {twin.s.inputs})")
    twin.updates, twin.last_t, twin.t = s["updates"], s["last_t"], s["t"]
    pending = {n: _sum_count(v) for n, v in s["pending"].items()}
    horizon = twin.validator.clock.horizon()
    if twin.t > horizon or twin.last_t > horizon:  # written before such readings were refused
        log.warning("%s: the saved plant time is in the future; the clock starts afresh", path)
        twin.last_t, twin.t, pending = math.nan, math.nan, {}
    twin.fixed = dict(s["fixed"])
    twin.cal.set_fixed(twin.fixed)
    twin.baseline = dict(s["baseline"])
    twin.filter.load(s["filter"])
    twin.alerts.load(s["alerts"])
    twin.forecaster.load(s.get("forecast"))
    twin.validator.load(s["validator"])
    twin.recent = {n: deque(h, maxlen=20) for n, h in s["recent"].items()}
    twin.pending = pending
    twin.window = list(s.get("window", [math.inf, -math.inf, 0]) if pending else twin.window)


def _sum_count(v: dict[str, float] | list[float]) -> list[float]:
    """A sensor's pending readings as [sum, n] (older states kept the list of values)."""
    return [v["sum"], v["n"]] if isinstance(v, dict) else [sum(v), len(v)]
