"""Case-file basics: `CaseError`, quantities with units (`Q`), the strict model base, parameters."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    model_validator,
)

from twinkit.case import units


class CaseError(ValueError):
    """An invalid case file. The message is meant for the user as is."""


@dataclass(frozen=True)
class Q:
    """A quantity in SI (`si`), or a reference to parameter `param`; `unit` is the SI unit."""

    si: float | None
    param: str | None
    unit: str
    text: str
    sign: float = 1.0  # "-$name" refers to minus the parameter

    def __repr__(self) -> str:
        return self.text


def _parse_quantity(v: Any, unit: str) -> Q:
    if isinstance(v, Q):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").startswith("$"):
        ref = v.strip()
        sign = -1.0 if ref.startswith("-") else 1.0
        name = ref.lstrip("-")[1:].strip("{}")
        if not name.isidentifier():
            raise ValueError(f"'{v}' is not a valid parameter reference (use $name or -$name)")
        return Q(None, name, unit, v, sign)
    try:
        return Q(units.parse(v, unit), None, unit, str(v))
    except units.UnitError as e:
        raise ValueError(str(e)) from None


def quantity(unit: str) -> PlainValidator:
    """Validator for a quantity convertible to SI unit `unit` (or a `$parameter`)."""
    return PlainValidator(partial(_parse_quantity, unit=unit))


Length = Annotated[Q, quantity("m")]
Temperature = Annotated[Q, quantity("K")]
Dimensionless = Annotated[Q, quantity("1")]
Stress = Annotated[Q, quantity("Pa")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- parameters --------------------------------------------------------------------------------
Role = Literal["design", "operating", "latent", "fixed"]


class Parameter(Strict):
    """A named input: a value, a range (lower, upper) or both; role says who controls it."""

    value: str | float | None = None
    range: tuple[str | float, str | float] | None = None
    role: Role = "fixed"
    scale: Literal["linear", "log"] = "linear"
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.value is None and self.range is None:
            raise ValueError("give a value, a range [lower, upper], or both")
        texts = [t for t in (self.value, *(self.range or ())) if t is not None]
        dims = set()
        for t in texts:
            try:
                dims.add(str(units.dimension_of(t)))
                units.si_value(t)
            except units.UnitError as e:
                raise ValueError(str(e)) from None
        if len(dims) > 1:
            raise ValueError(f"value and range have different dimensions: {sorted(dims)}")
        if self.range is not None:
            lo, hi = (units.si_value(t) for t in self.range)
            if lo > hi:
                raise ValueError(f"range lower {self.range[0]} is above upper {self.range[1]}")
            if self.scale == "log" and lo <= 0:
                raise ValueError("a log-scale range needs a positive lower bound")
            if self.value is not None and not lo <= units.si_value(self.value) <= hi:
                raise ValueError(f"value {self.value} lies outside the range {list(self.range)}")
        if self.role in ("design", "operating", "latent") and self.range is None:
            raise ValueError(f"a {self.role} parameter needs a range [lower, upper]")
        return self

    @property
    def si(self) -> float:
        """Nominal SI value: the value, else the middle of the range (geometric if log)."""
        if self.value is not None:
            return units.si_value(self.value)
        lo, hi = self.bounds
        return (lo * hi) ** 0.5 if self.scale == "log" else 0.5 * (lo + hi)

    @property
    def bounds(self) -> tuple[float, float]:
        if self.range is None:
            return (self.si, self.si)
        lo, hi = (units.si_value(t) for t in self.range)
        return lo, hi

    @property
    def dimension(self) -> str:
        t = self.value if self.value is not None else self.range[0]  # type: ignore[index]
        return str(units.dimension_of(t))
