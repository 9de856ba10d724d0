"""Values in and out of the API: numbers with units going in, pint quantities in the units of the
case coming out, and the small HTML tables that Jupyter shows."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from twinkit.case import CaseError
from twinkit.case.display import DisplayUnits, difference_unit, pretty


class CaseLike(Protocol):
    """What the API's result objects need of the case they came from (`twinkit.api.case.Case`)."""

    loaded: Any
    display: DisplayUnits

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...

    def values(self, given: Mapping[str, Any]) -> dict[str, float]: ...


def as_text(name: str, value: Any, si_unit: str) -> str:
    """A value a user passed for `name` as a quantity string: unit strings stay as written,
    pint quantities keep their unit, plain numbers are SI (`si_unit`)."""
    if isinstance(value, str):
        return value
    if hasattr(value, "magnitude") and hasattr(value, "units"):
        return f"{float(value.magnitude)!r} {value.units}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise CaseError(f"{name}={value!r}: expected a number with units, e.g. '1.5 {si_unit}'")
    return f"{float(value)!r} {si_unit}" if si_unit and si_unit != "1" else repr(float(value))


def si_array(name: str, value: Any, si_unit: str) -> np.ndarray:
    """`value` (a quantity string, a pint quantity, or numbers in SI) as SI floats."""
    from twinkit.case import units

    if isinstance(value, str):
        try:
            return np.asarray(units.parse(value, si_unit or "1"))
        except units.UnitError as e:
            raise CaseError(f"{name}={value!r}: {e}") from None
    if hasattr(value, "magnitude") and hasattr(value, "units"):
        try:
            return np.asarray(value.to(si_unit or "").magnitude, dtype=float)
        except Exception:
            raise CaseError(
                f"{name}={value}: expected units compatible with {si_unit or 'a number'}"
            ) from None
    return np.asarray(value, dtype=float)


class Quantities(Mapping[str, Any]):
    """Named values, stored in SI; `q[name]` is a pint Quantity in the unit the case shows it in,
    `q.si(name)` the SI number (as in the files)."""

    def __init__(
        self,
        values: Mapping[str, Any],
        units: Mapping[str, str],
        display: DisplayUnits,
        std: Mapping[str, Any] | None = None,
        title: str = "",
    ):
        self._values = dict(values)
        self._units = dict(units)
        self._std = dict(std or {})
        self.display = display
        self.title = title

    def __getitem__(self, name: str) -> Any:
        return self.display.quantity(name, self._values[name], self.unit_si(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def si(self, name: str) -> Any:
        """The SI value of `name` (a float, or an array for many points)."""
        return self._values[name]

    def si_std(self, name: str) -> Any:
        """The SI standard deviation of `name` (as in the files)."""
        return self._std[name]

    def unit_si(self, name: str) -> str:
        return self._units.get(name, "")

    def std(self, name: str) -> Any:
        """The standard deviation of `name` as a pint Quantity (a difference: no offset)."""
        from twinkit.case import units

        si = self.unit_si(name)
        unit = self.display.unit(name, si)
        spread = self.display.spread(name, np.asarray(self._std[name]), si)
        return units.registry().Quantity(spread, "" if unit == "1" else difference_unit(unit))

    def text(self, name: str) -> str:
        """'1600 °C' or '2.9 ± 0.04 W/(m^2*K)' (scalars only)."""
        std = self._std.get(name)
        return self.display.format(
            name, float(self._values[name]), self.unit_si(name), None if std is None else float(std)
        )

    def rows(self) -> list[list[str]]:
        out = []
        for n in self:
            v = np.asarray(self._values[n])
            if v.ndim == 0:
                unit = pretty(self.display.unit(n, self.unit_si(n)))
                text = self.text(n)
                out.append([n, without_unit(text, unit), unit])
            else:
                out.append([n, f"{v.size} values", pretty(self.display.unit(n, self.unit_si(n)))])
        return out

    def _repr_html_(self) -> str:
        return html_table(["name", "value", "unit"], self.rows(), self.title)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={self.text(n)!s}" for n in self if np.ndim(self._values[n]) == 0)
        return f"{type(self).__name__}({body})"


def without_unit(text: str, unit: str) -> str:
    """'1600 °C' → '1600' (the unit goes in its own column)."""
    return text[: -len(unit)].strip() if unit and text.endswith(unit) else text


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> str:
    """A plain HTML table (Jupyter styles it)."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    caption = f"<caption>{esc(title)}</caption>" if title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The same table as plain text, for `repr`."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))
    return "\n".join(
        [line, *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)]
    )
