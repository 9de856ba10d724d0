"""`twinkit plant`: a simulated plant publishing sensor readings over MQTT, the live twin's test
bench.

The truth is a surrogate evaluated at the plant's latent point, which drifts linearly over the
run (`drift`: relative change at the end). Each tick publishes one reading per probe the
surrogate predicts, and the operating inputs as streams, with Gaussian noise (a probe's `noise`
from the case's `sensors:` section where it has one, else relative); some readings drop out and
some messages are bad (malformed JSON, no unit, wrong unit, a non-number, an implausible value).
Plant time runs `speed` times faster than the wall clock.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from twinkit.case import CaseError, LoadedCase
from twinkit.sensors.readings import rules_from_case

BAD_KINDS = ("malformed_json", "missing_unit", "wrong_unit", "bad_value", "out_of_range")


@dataclass(frozen=True)
class PlantOptions:
    asset: str = "plant"
    rate: float = 10.0  # ticks per wall-clock second
    speed: float = 60.0  # plant seconds per wall-clock second
    duration: float = 60.0  # wall-clock seconds (the drift completes at the end)
    start: Mapping[str, float] = field(default_factory=dict)  # latent truth at t0 (SI)
    drift: Mapping[str, float] = field(default_factory=dict)  # relative change over the run
    noise: float | None = None  # relative probe noise (None: the case's noise, else 1 %)
    input_noise: float = 0.001  # relative noise of the measured operating inputs
    dropout: float = 0.02
    bad: float = 0.05
    seed: int = 0
    t0: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Plant:
    """The truth and the message stream; `tick(k)` returns the messages of tick k."""

    def __init__(self, loaded: LoadedCase, surrogate: Any, opts: PlantOptions):
        c, self.s, self.opts = loaded.case, surrogate, opts
        for n in [*opts.start, *opts.drift]:
            if n not in surrogate.inputs:
                raise CaseError(f"--set/--drift {n}: not an input of the surrogate")
        self.truth0 = {n: c.parameters[n].si for n in surrogate.inputs} | dict(opts.start)
        self.probes = [p for p in c.probes if f"sensor_{p}" in surrogate.outputs]
        self.inputs = [n for n in surrogate.inputs if c.parameters[n].role != "latent"]
        rules = rules_from_case(loaded)
        self.units = {n: r.unit for n, r in rules.items()}
        self.upper = {n: r.upper for n, r in rules.items()}
        self.case_noise = {p: rules[p].noise for p in self.probes}
        self.rng = np.random.default_rng(opts.seed)
        self.sent: Counter = Counter()
        self.ticks = int(round(opts.duration * opts.rate))

    def time(self, k: int) -> float:
        return self.opts.t0 + k * self.opts.speed / self.opts.rate

    def truth(self, t: float) -> dict[str, float]:
        """The plant's inputs at plant time `t` (drifting latent parameters included)."""
        span = self.ticks * self.opts.speed / self.opts.rate
        f = min(max((t - self.opts.t0) / span, 0.0), 1.0)
        return {n: v * (1 + self.opts.drift.get(n, 0.0) * f) for n, v in self.truth0.items()}

    def tick(self, k: int) -> list[tuple[str, bytes]]:
        t = self.time(k)
        x = self.truth(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = self.s.predict({n: x[n] for n in self.s.inputs})
        values = {p: float(pred.mean[f"sensor_{p}"][0]) for p in self.probes}
        σ = {p: self.noise(p, v) for p, v in values.items()}
        σ |= {n: self.opts.input_noise * abs(x[n]) for n in self.inputs}
        values |= {n: x[n] for n in self.inputs}
        stamp: Any = t if k % 2 else datetime.fromtimestamp(t, UTC).isoformat()
        out = []
        for name, v in values.items():
            u = self.rng.random()
            if u < self.opts.dropout:
                self.sent["dropped"] += 1
                continue
            msg = {"t": stamp, "value": v + σ[name] * self.rng.standard_normal(),
                   "unit": self.units[name]}  # fmt: skip
            payload = json.dumps(msg).encode()
            if u < self.opts.dropout + self.opts.bad:
                kind, payload = self._bad(msg, name)
                self.sent[kind] += 1
            else:
                self.sent["good"] += 1
            out.append((f"plant/{self.opts.asset}/sensors/{name}", payload))
        return out

    def noise(self, probe: str, value: float) -> float:
        """Std of one reading of `probe` (SI): `--noise` relative, else the case's, else 1 %."""
        if self.opts.noise is not None:
            return self.opts.noise * abs(value)
        return self.case_noise[probe] or 0.01 * abs(value)

    def _bad(self, msg: dict, name: str) -> tuple[str, bytes]:
        kinds = [k for k in BAD_KINDS if k != "out_of_range" or self.upper[name] < np.inf]
        kind = kinds[self.rng.integers(len(kinds))]
        if kind == "malformed_json":
            return kind, json.dumps(msg).encode()[: -1 - int(self.rng.integers(5))]
        m = dict(msg)
        if kind == "missing_unit":
            del m["unit"]
        elif kind == "wrong_unit":
            m["unit"] = "Pa" if self.units[name] != "Pa" else "K"
        elif kind == "bad_value":
            m["value"] = "n/a"
        else:
            m["value"] = 10 * abs(self.upper[name]) + 1
        return kind, json.dumps(m).encode()


def run_plant(
    plant: Plant,
    publish: Callable[[str, bytes], None],
    stop: threading.Event | None = None,
) -> Counter:
    """Publish every tick at the wall-clock rate until the run ends or `stop` is set."""
    stop = stop or threading.Event()
    period, start = 1.0 / plant.opts.rate, time.monotonic()
    for k in range(plant.ticks + 1):
        if stop.is_set():
            break
        for topic, payload in plant.tick(k):
            publish(topic, payload)
        delay = start + (k + 1) * period - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    return plant.sent
