"""What every session of one dashboard server shares: the case and its display units, the
history being polled, the surrogate (for the what-if panel) and the broker connection that
publishes acknowledgements."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from twinkit.case.display import DisplayUnits
from twinkit.dashboard.source import HistorySource

log = logging.getLogger("twinkit.dashboard")


class Acknowledger:
    """Publishes an alert's acknowledgement on `plant/<asset>/ack` (what `twinkit live` listens
    to, `twinkit.twin.alerts.Alerts.ack_message`); connects on first use."""

    def __init__(self, cfg: Any, asset: str):
        self.cfg, self.topic = cfg, f"plant/{asset}/ack"
        self.conn: Any = None
        self.lock = threading.Lock()

    def ack(self, key: str, by: str = "dashboard") -> str:
        """Publish; returns what the page says about it."""
        from twinkit.sensors.mqtt import Connection

        with self.lock:
            if self.conn is None:
                self.conn = Connection(self.cfg)
                if not self.conn.start(wait=5):
                    self.conn.stop()
                    self.conn = None
                    return f"no broker answered at {self.cfg.host}:{self.cfg.port}; not sent"
            self.conn.publish(self.topic, {"key": key, "by": by})
        log.info("acknowledged %s on %s", key, self.topic)
        return f"acknowledgement of {key} sent on {self.topic}; the twin records it"

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.stop()
                self.conn = None


@dataclass
class Context:
    """The shared state of one dashboard server (see `twinkit.dashboard.serve`)."""

    loaded: Any  # twinkit.case.LoadedCase
    source: HistorySource
    asset: str
    acknowledger: Acknowledger | None
    surrogate: Any  # twinkit.surrogates.Surrogate, or None
    surrogate_note: str  # where it came from, or why there is none

    @cached_property
    def display(self) -> DisplayUnits:
        return DisplayUnits.from_case(self.loaded.case)

    def units(self, name: str) -> str:
        """The SI unit of a sensor, parameter or QoI of the case."""
        from twinkit.case.objectives import output_units

        c = self.loaded.case
        if name in c.outputs.qoi:
            return output_units(c, name)[0]
        if self.surrogate is not None and f"qoi_{name}" in self.surrogate.units:
            return str(self.surrogate.units[f"qoi_{name}"])
        return self.rules[name].unit if name in self.rules else ""

    def qois(self) -> list[str]:
        """The virtual sensors: the case's QoIs and those the surrogate predicts (the twin
        records each of the latter at every update)."""
        names = list(self.loaded.case.outputs.qoi)
        if self.surrogate is not None:
            names += [o[4:] for o in self.surrogate.outputs if o.startswith("qoi_")]
        return list(dict.fromkeys(names))

    @cached_property
    def rules(self) -> dict[str, Any]:
        from twinkit.sensors.readings import rules_from_case

        return rules_from_case(self.loaded)


def find_surrogate(loaded: Any, path: Path | None) -> tuple[Any, str]:
    """The surrogate at `path` (default: where `twinkit train` puts it), or None and why."""
    from twinkit.training import default_surrogate, read_surrogate

    where = Path(path) if path is not None else default_surrogate(loaded)
    if not where.exists():
        return None, (
            f"no surrogate file for this case at {where}: train one (twinkit train) or start "
            "the dashboard with --surrogate FILE to see the what-if panel"
        )
    try:
        return read_surrogate(where), f"surrogate {where}"
    except Exception as e:  # a file that is not a surrogate: the rest of the page still works
        return None, f"{where}: cannot read the surrogate ({e})"
