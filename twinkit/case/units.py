"""Quantities with units ("100 degC", "750 W/(m^2*K)", "3 mm") converted to SI floats by pint.

A quantity is a number followed by a unit expression. Both are read with bounded cost: the
number by `float`, the unit by pint's unit parser (never Python's `eval`), after checks that keep
pint from computing huge exact integers (`K**9**9**9`) or spending time quadratic in the length:
at most `MAX_LENGTH` characters, exponents plain numbers of magnitude at most `MAX_EXPONENT`, one
level (no `m**2**3`, no `(m**2)**3`). Conversions are cached per unit expression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

MAX_LENGTH = 200  # characters in a quantity or unit string
MAX_EXPONENT = 10
MAX_UNITS = 200  # different unit expressions in one file (each costs pint about a millisecond)

_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
_EXPONENT_OP = re.compile(r"\*\*|\^")
_EXPONENT_VALUE = re.compile(r"\s*(\(\s*)?([-+]?(?:\d+\.?\d*|\.\d+))(?(1)\s*\))")


class UnitError(ValueError):
    """A quantity cannot be parsed or has the wrong dimension."""


def clip(text: Any, n: int = 60) -> str:
    """`text` (as str) cut to `n` characters, for messages that quote what the user wrote."""
    s = text if isinstance(text, str) else str(text)
    return s if len(s) <= n else s[: n - 3] + "..."


def clip_names(names: Iterable[Any], n: int = 12) -> str:
    """The first `n` of `names`, comma-separated, and how many more there are."""
    items = [clip(x, 64) for x in names]
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


@cache
def registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def check_unit_text(unit: str, whole: str | None = None) -> None:
    """UnitError unless `unit` is short and its exponents are small plain numbers, one level."""
    whole = unit if whole is None else whole
    if len(whole) > MAX_LENGTH:
        raise UnitError(
            f"'{clip(whole)}' is {len(whole)} characters long; at most {MAX_LENGTH} are read"
        )
    if "\x00" in whole:
        raise UnitError(f"{clip(whole)!r} contains a NUL character")
    for op in _EXPONENT_OP.finditer(unit):
        m = _EXPONENT_VALUE.match(unit, op.end())
        rest = unit[m.end() :].lstrip() if m else ""
        bad = (
            m is None
            or abs(float(m.group(2))) > MAX_EXPONENT
            or rest.startswith(("**", "^"))
            or _group_before(unit, op.start())
        )
        if bad:
            raise UnitError(
                f"'{clip(whole)}': exponents must be plain numbers between -{MAX_EXPONENT} and "
                f"{MAX_EXPONENT}, one level (e.g. 'W/(m^2*K)')"
            )


def _group_before(unit: str, at: int) -> bool:
    """Whether the base of the exponent at `at` is a parenthesised group holding an exponent."""
    i = len(unit[:at].rstrip()) - 1
    if i < 0 or unit[i] != ")":
        return False
    depth = 0
    for j in range(i, -1, -1):
        depth += {")": 1, "(": -1}.get(unit[j], 0)
        if depth == 0:
            return bool(_EXPONENT_OP.search(unit, j, i))
    return True  # unbalanced: pint would refuse it anyway


def _split(text: str) -> tuple[float, str]:
    """(number, unit expression) of a quantity string; UnitError if it is not one."""
    check_unit_text(text)
    m = _NUMBER.match(text)
    if m is None:
        if re.match(r"\s*[-+]?(nan|inf)", text, re.IGNORECASE):
            raise UnitError(f"'{clip(text)}' is not a finite number")
        raise UnitError(f"cannot read '{clip(text)}' as a quantity: it must start with a number")
    unit = text[m.end() :].strip()
    value = float(m.group(1))
    if not math.isfinite(value):
        raise UnitError(f"'{clip(text)}' is not a finite number")
    if unit.startswith("/"):
        unit = "1" + unit  # '5 / s'
    return value, unit


def unit_expressions(values: Iterable[Any]) -> set[str]:
    """The different unit expressions in the quantity strings among `values`."""
    found = set()
    for v in values:
        if isinstance(v, str) and len(v) <= MAX_LENGTH and (m := _NUMBER.match(v)):
            found.add(v[m.end() :].strip())
    return found


@lru_cache(maxsize=4096)
def _unit(unit: str) -> Any:
    """The pint Unit of a unit expression ('' → dimensionless)."""
    import pint

    check_unit_text(unit)
    ureg = registry()
    try:
        return ureg.parse_units(unit) if unit else ureg.dimensionless
    except pint.errors.UndefinedUnitError as e:
        names = ", ".join(f"'{clip(n, 40)}'" for n in e.unit_names)
        raise UnitError(f"unknown unit {names}") from None
    except Exception:
        raise UnitError(f"cannot read '{clip(unit)}' as a unit (e.g. 'W/(m^2*K)')") from None


@lru_cache(maxsize=4096)
def _affine(unit: str, target: str | None) -> tuple[float, float] | None:
    """(a, b): value in `target` (None: SI base units) = a·value + b; None when not affine
    (logarithmic units). pint's DimensionalityError when the dimensions differ."""
    ureg = registry()
    u = _unit(unit)

    def to(x: float) -> float:
        q = ureg.Quantity(x, u)
        return float((q.to_base_units() if target is None else q.to(target)).magnitude)

    b, a1, a2 = to(0.0), to(1.0), to(2.0)
    a = a1 - b
    return (a, b) if math.isclose(a2 - a1, a, rel_tol=1e-12, abs_tol=1e-300) else None


def _convert(text: str, target: str | None) -> float:
    import pint

    value, unit = _split(text)
    try:
        ab = _affine(unit, target)
        if ab is None:
            q = registry().Quantity(value, _unit(unit))
            out = float((q.to_base_units() if target is None else q.to(target)).magnitude)
        else:
            out = ab[0] * value + ab[1]
    except UnitError as e:
        raise UnitError(f"'{clip(text)}': {e}") from None
    except pint.errors.DimensionalityError:
        raise UnitError(
            f"'{clip(text)}' has dimension {_unit(unit).dimensionality}; expected units "
            f"compatible with {target}"
        ) from None
    if not math.isfinite(out):
        raise UnitError(f"'{clip(text)}' is not finite in SI units")
    return out


def parse(text: str | float | int, unit: str) -> float:
    """Value of `text` expressed in `unit` (an SI unit such as 'K' or 'W/(m^2*K)').

    Bare numbers are accepted only for dimensionless quantities (unit '1'); every value is finite.
    """
    if isinstance(text, bool):
        raise UnitError(f"expected a quantity in units compatible with {unit}, not a boolean")
    if isinstance(text, int | float):
        if unit != "1":
            raise UnitError(
                f"a bare number is ambiguous here: give units compatible with {unit}, "
                f"e.g. '{clip(text, 30)} {unit}'"
            )
        return _finite(text)
    if not isinstance(text, str):
        raise UnitError(f"expected a quantity such as '1 {unit}', got {type(text).__name__}")
    return _convert(text, unit)


def _finite(x: int | float) -> float:
    try:
        v = float(x)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise UnitError(f"{clip(x, 30)} is not a finite number")
    return v


def compatible(a: str, b: str) -> bool:
    """Whether two units have the same dimension."""
    return bool(_unit(a).dimensionality == _unit(b).dimensionality)


def dimension_of(text: str | float | int) -> Any:
    """pint dimensionality of a quantity string (dimensionless for numbers)."""
    if isinstance(text, int | float):
        return registry().dimensionless.dimensionality
    if not isinstance(text, str):
        raise UnitError(f"expected a quantity such as '1 m', got {type(text).__name__}")
    try:
        return _unit(_split(text)[1]).dimensionality
    except UnitError as e:
        msg = str(e)
        raise UnitError(msg if clip(text) in msg else f"'{clip(text)}': {msg}") from None


def si_value(text: str | float | int) -> float:
    """Magnitude in coherent SI base units (°C → K, mm → m, kN → N ...)."""
    if isinstance(text, int | float):
        return _finite(text)
    if not isinstance(text, str):
        raise UnitError(f"expected a quantity such as '1 m', got {type(text).__name__}")
    return _convert(text, None)


def si_unit(text: str | float | int) -> str:
    """The SI (base) unit of a quantity string, as pint writes it short: '20 degC' → 'K'."""
    if isinstance(text, int | float) or not isinstance(text, str):
        return "1"
    return _si_unit(_split(text)[1])


@lru_cache(maxsize=1024)
def _si_unit(unit: str) -> str:
    base = registry().Quantity(1.0, _unit(unit)).to_base_units().units
    return f"{base:~}" or "1"
