"""Quantities with units ("100 degC", "750 W/(m^2*K)", "3 mm") converted to SI floats by pint."""

from __future__ import annotations

from functools import cache
from typing import Any


class UnitError(ValueError):
    """A quantity cannot be parsed or has the wrong dimension."""


@cache
def registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def parse(text: str | float | int, unit: str) -> float:
    """Value of `text` expressed in `unit` (an SI unit such as 'K' or 'W/(m^2*K)').

    Bare numbers are accepted only for dimensionless quantities (unit '1').
    """
    import pint

    if isinstance(text, bool):
        raise UnitError(f"expected a quantity in units compatible with {unit}, not a boolean")
    if isinstance(text, int | float):
        if unit == "1":
            return float(text)
        raise UnitError(
            f"a bare number is ambiguous here: give units compatible with {unit}, "
            f"e.g. '{text} {unit}'"
        )
    if not isinstance(text, str):
        raise UnitError(f"expected a quantity such as '1 {unit}', got {type(text).__name__}")
    q = _quantity(text, f"1 {unit}")
    try:
        return float(q.to(unit).magnitude)
    except pint.errors.DimensionalityError:
        raise UnitError(
            f"'{text}' has dimension {q.dimensionality}; expected units compatible with {unit}"
        ) from None


def _quantity(text: str, example: str = "1 m") -> Any:
    """`text` as a pint Quantity; UnitError naming the unknown unit or the unreadable text."""
    import pint

    ureg = registry()
    try:
        q = ureg.Quantity(text.strip())
    except pint.errors.UndefinedUnitError as e:
        names = ", ".join(f"'{n}'" for n in e.unit_names)
        raise UnitError(f"unknown unit {names} in '{text}'") from None
    except Exception:
        raise UnitError(f"cannot read '{text}' as a quantity (e.g. '{example}')") from None
    return q if isinstance(q, ureg.Quantity) else ureg.Quantity(q, "")


def compatible(a: str, b: str) -> bool:
    """Whether two units have the same dimension."""
    ureg = registry()
    return bool(ureg.Unit(a).dimensionality == ureg.Unit(b).dimensionality)


def dimension_of(text: str | float | int) -> Any:
    """pint dimensionality of a quantity string (dimensionless for numbers)."""
    ureg = registry()
    if isinstance(text, int | float):
        return ureg.dimensionless.dimensionality
    return _quantity(text).dimensionality


def si_value(text: str | float | int) -> float:
    """Magnitude in coherent SI base units (°C → K, mm → m, kN → N ...)."""
    if isinstance(text, int | float):
        return float(text)
    return float(_quantity(text).to_base_units().magnitude)
