"""What each sensor stream must satisfy: its SI unit and the case's `sensors:` rules.

Every probe of the case and every parameter is a stream (`rules_from_case`); the case's
`sensors:` section adds its noise, range, rate of change, stuck time and hold time, read in the
units the case wrote and stored in SI.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from twinkit.case import CaseError, LoadedCase, units
from twinkit.case.fields import field_unit


@dataclass(frozen=True)
class Rule:
    """What a stream must satisfy (SI). None switches a check off."""

    unit: str
    noise: float | None = None
    lower: float = -math.inf
    upper: float = math.inf
    rate: float | None = None  # per second
    stuck: float | None = None  # seconds
    hold: float | None = None  # seconds


def probe_unit(model: str, field_name: str) -> str:
    """SI unit of a probe of `field_name` in `model` ('' is the model's main field)."""
    return field_unit(field_name, model)


# any reading beyond this (SI) is no measurement: its square would overflow a float
PLAUSIBLE = 1e100


def rules_from_case(loaded: LoadedCase) -> dict[str, Rule]:
    """One `Rule` per stream: every probe and every parameter, with the case's `sensors:` rules.
    Before them every stream is plausible (within ±`PLAUSIBLE`), and a probe of an absolute
    temperature (not a scaled one: `nondimensional`) at or above 0 K; a parameter's unit may be a
    temperature difference (K), which may be negative. A range as written replaces the floor."""
    c = loaded.case
    absolute = c.nondimensional is None

    def rule(unit: str, probe: bool) -> Rule:
        floor = 0.0 if probe and absolute and unit == "K" else -PLAUSIBLE
        return Rule(unit, lower=floor, upper=PLAUSIBLE)

    rules = {n: rule(probe_unit(c.model, p.field), True) for n, p in c.probes.items()}
    rules |= {n: rule(c.parameter_unit(n), False) for n in c.parameters}
    for name, spec in c.sensors.items():
        base = rules[name]
        unit, key = base.unit, f"{loaded.path}: sensors.{name}"
        lo, hi = (_q(t, unit, f"{key}.range") for t in spec.range) if spec.range else (None, None)
        rules[name] = Rule(
            unit,
            noise=_q(spec.noise, unit, f"{key}.noise", diff=True),
            lower=base.lower if lo is None else max(lo, -PLAUSIBLE),
            upper=base.upper if hi is None else min(hi, PLAUSIBLE),
            rate=_q(spec.rate, f"({unit})/s", f"{key}.rate", diff=True),
            stuck=_q(spec.stuck, "s", f"{key}.stuck"),
            hold=_q(spec.hold, "s", f"{key}.hold"),
        )
    return rules


def _q(text: str | float | None, unit: str, key: str, diff: bool = False) -> float | None:
    """`text` in `unit`; `diff`: a difference, where degC/degF (absolute) would mislead."""
    if text is None:
        return None
    if diff and re.search(r"(?<!delta_)deg[CF]", str(text)):
        raise CaseError(
            f"{key}: '{text}' is a temperature difference: write K or delta_degC "
            "(degC is an absolute temperature)"
        )
    try:
        return units.parse(text, unit)
    except units.UnitError as e:
        raise CaseError(f"{key}: {e}") from None
