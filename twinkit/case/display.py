"""Units as the user wrote them: what people see is in the units the case file used.

Files stay SI (with their `units` maps); consoles, reports, plots and notebook tables convert.
A parameter is shown in the unit of its own value (`200 t/day` stays t/day); any other quantity
in the unit its case first wrote for that dimension (a case that writes `1600 degC` sees every
temperature in °C), unless `outputs.display` names a unit for it (`heat_input: kW/m`).
Outputs take the unit of their own bounds or sensor ranges first (`max: 125 MPa` shows stresses
in MPa even if Young's modulus was written in GPa). Differences and standard deviations convert
without the offset (a std of 2 K is 2 °C).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twinkit.case import units
from twinkit.case.base import Q
from twinkit.case.spec import CaseSpec, quantities

_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
# how a unit is printed, where the written name is not what people read
_PRETTY = {"degC": "°C", "degF": "°F", "celsius": "°C", "fahrenheit": "°F"}


def written_unit(text: str | float) -> str:
    """The unit part of a quantity as written: '200 t/day' → 't/day' ('' if none)."""
    if not isinstance(text, str) or text.strip().lstrip("-").startswith("$"):
        return ""
    return _NUMBER.sub("", text, count=1).strip()


def _dimension(unit: str) -> str:
    return str(units.registry().Unit(unit).dimensionality)


@dataclass(frozen=True)
class DisplayUnits:
    """Which unit each quantity is shown in; SI where the case says nothing."""

    by_name: Mapping[str, str] = field(default_factory=dict)
    by_dimension: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def si(cls) -> DisplayUnits:
        return cls()

    @classmethod
    def from_case(cls, case: CaseSpec) -> DisplayUnits:
        by_dimension: dict[str, str] = {}
        by_name: dict[str, str] = {}
        # outputs first: a bound or a sensor range is written in the unit people read it in
        for name, texts in _output_texts(case):
            for text in texts:
                unit = written_unit(text) if text is not None else ""
                if unit and _known(unit):
                    by_name.setdefault(name, unit)
                    by_dimension.setdefault(_dimension(unit), unit)
        for name, p in case.parameters.items():
            unit = written_unit(p.value if p.value is not None else p.range[0])  # type: ignore[index]
            if unit:
                by_name[name] = unit
                by_dimension.setdefault(p.dimension, unit)
        for _, q in quantities(case):
            unit = _written(q)
            if unit:
                by_dimension.setdefault(_dimension(q.unit), unit)
        by_name.update(case.outputs.display)
        return cls(by_name, by_dimension)

    def unit(self, name: str, si_unit: str) -> str:
        """The unit `name` (SI unit `si_unit`) is shown in."""
        if name in self.by_name:
            return self.by_name[name]
        if not si_unit or si_unit == "1":
            return si_unit
        try:
            return self.by_dimension.get(_dimension(si_unit), si_unit)
        except Exception:  # a unit pint does not know is shown as it is
            return si_unit

    def value(self, name: str, si_value: Any, si_unit: str) -> tuple[Any, str]:
        """(value, unit) of an SI value (a number or an array) as `name` is shown."""
        unit = self.unit(name, si_unit)
        if unit == si_unit:
            return si_value, unit
        return units.registry().Quantity(si_value, si_unit).to(unit).magnitude, unit

    def linear(self, name: str, si_unit: str) -> tuple[str, float, float]:
        """(unit, scale, offset): shown = scale · SI + offset."""
        offset, unit = self.value(name, 0.0, si_unit)
        one, _ = self.value(name, 1.0, si_unit)
        return unit, float(one - offset), float(offset)

    def spread(self, name: str, si_std: Any, si_unit: str) -> Any:
        """A std or difference in the unit `name` is shown in (scale only, no offset)."""
        _, scale, _ = self.linear(name, si_unit)
        return si_std * abs(scale)

    def quantity(self, name: str, si_value: Any, si_unit: str) -> Any:
        """A pint Quantity in the unit `name` is shown in."""
        v, unit = self.value(name, si_value, si_unit)
        return units.registry().Quantity(v, "" if unit == "1" else unit)

    def format(
        self, name: str, si_value: float, si_unit: str, std: float | None = None, digits: int = 6
    ) -> str:
        """'1600 °C', '200 t/day', '2.9 ± 0.035 W/(m^2*K)'."""
        v, unit = self.value(name, si_value, si_unit)
        text = f"{float(v):.{digits}g}"
        if std is not None:
            text += f" ± {self.spread(name, std, si_unit):.{min(digits, 3)}g}"
        return f"{text} {pretty(unit)}".rstrip() if unit != "1" else text


def difference_unit(unit: str) -> str:
    """The unit of a difference or std of `unit`: degC → delta_degC (no offset); others as is."""
    try:
        multiplicative = units.registry().Quantity(1, unit)._is_multiplicative
    except Exception:
        return unit
    return unit if multiplicative else f"delta_{unit}"


def pretty(unit: str) -> str:
    """A unit as people read it: degC → °C; '1' → ''."""
    if unit == "1":
        return ""
    return re.sub(r"\b(degC|degF|celsius|fahrenheit)\b", lambda m: _PRETTY[m.group(1)], unit)


def _output_texts(case: CaseSpec) -> list[tuple[str, tuple[Any, ...]]]:
    """(output, the quantities written for it): optimisation bounds, alert bounds, sensor ranges."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    if case.optimization is not None:
        out += [(c.output, (c.max, c.min)) for c in case.optimization.constraints]
    out += [(name, tuple(bounds)) for name, bounds in case.alerts.qoi.items()]
    out += [(name, tuple(s.range or ())) for name, s in case.sensors.items()]
    return out


def _known(unit: str) -> bool:
    try:
        units.registry().Unit(unit)
    except Exception:
        return False
    return True


def _written(q: Q) -> str:
    unit = written_unit(q.text)
    if not unit:
        return ""
    try:
        return unit if units.compatible(unit, q.unit) else ""
    except Exception:
        return ""
