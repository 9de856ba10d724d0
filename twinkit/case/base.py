"""Case-file basics: `CaseError`, quantities with units (`Q`), the strict model base, parameters,
and the rules every name and quantity must satisfy (finite, positive, above absolute zero ...)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    model_validator,
)
from pydantic import Strict as StrictType

from twinkit.case import units
from twinkit.case.units import clip


class CaseError(ValueError):
    """An invalid case file. The message is meant for the user as is."""


# ---- names -------------------------------------------------------------------------------------
# Names become folder names (the case) and keys of files (parameters, probes, QoIs, materials).
_NAME = re.compile(r"(?!\.)[\w.-]{1,64}")
NAME_RULE = "letters, digits, '_', '-' and '.', not starting with '.', at most 64 characters"


def check_name(name: str) -> str:
    """`name` if it is a valid name; ValueError saying what a name may hold otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{clip(repr(name))} is not a valid name: use {NAME_RULE}")
    return name


Name = Annotated[str, AfterValidator(check_name)]


# ---- quantities --------------------------------------------------------------------------------
# rule → (test of the SI value, what is expected); every quantity is also finite
RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "finite": (lambda v: True, "a finite value"),
    "positive": (lambda v: v > 0, "a positive value"),
    "nonnegative": (lambda v: v >= 0, "a value of 0 or more"),
    "absolute": (lambda v: v >= 0, "a temperature at or above absolute zero (0 K)"),
    "fraction": (lambda v: 0 <= v <= 1, "a value between 0 and 1"),
    "poisson": (lambda v: -1 < v < 0.5, "a value above -1 and below 0.5"),
    "index": (lambda v: v >= 1, "a value of 1 or more"),
}


def rule_error(rule: str, si: float, unit: str) -> str | None:
    """What is wrong with SI value `si` under `rule` (None if nothing)."""
    ok, expected = RULES[rule]
    if math.isfinite(si) and ok(si):
        return None
    shown = f"{si:.6g}" + ("" if unit == "1" else f" {unit}")
    return f"expected {expected}; it is {shown}"


@dataclass(frozen=True)
class Q:
    """A quantity in SI (`si`), or a reference to parameter `param`; `unit` is the SI unit;
    `rule` what its value must satisfy (`RULES`; checked against a parameter's range)."""

    si: float | None
    param: str | None
    unit: str
    text: str
    sign: float = 1.0  # "-$name" refers to minus the parameter
    rule: str = "finite"
    formula: bool = False  # `text` is a formula of t, x, y, z and parameters (timevalues)
    table: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # (times s, values SI)
    steady: bool = False  # a formula of x, y, z and parameters only, never of t

    def __repr__(self) -> str:
        return self.text


def _parse_quantity(v: Any, unit: str, rule: str = "finite") -> Q:
    if isinstance(v, Q):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").startswith("$"):
        ref = v.strip()
        sign = -1.0 if ref.startswith("-") else 1.0
        name = ref.lstrip("-")[1:].strip("{}")
        if not name.isidentifier() or len(name) > 64:
            raise ValueError(
                f"'{clip(v)}' is not a valid parameter reference (use $name or -$name)"
            )
        return Q(None, name, unit, v, sign, rule)
    try:
        si = units.parse(v, unit)
    except units.UnitError as e:
        raise ValueError(str(e)) from None
    problem = rule_error(rule, si, unit)
    if problem:
        raise ValueError(problem)
    return Q(si, None, unit, str(v), 1.0, rule)


def quantity(unit: str, rule: str = "finite") -> PlainValidator:
    """Validator for a quantity convertible to SI unit `unit` (or a `$parameter`) whose value
    satisfies `rule` (a key of `RULES`)."""
    return PlainValidator(partial(_parse_quantity, unit=unit, rule=rule))


Length = Annotated[Q, quantity("m")]  # a coordinate or displacement: any sign
PositiveLength = Annotated[Q, quantity("m", "positive")]
# a whole number > 0 as written: not `true` (which pydantic's PositiveInt took for 1) nor 8.0
Count = Annotated[int, StrictType(), Field(gt=0)]
Position = Annotated[Q, quantity("m", "nonnegative")]
Temperature = Annotated[Q, quantity("K", "absolute")]
TemperatureDifference = Annotated[Q, quantity("K")]
Dimensionless = Annotated[Q, quantity("1")]
Stress = Annotated[Q, quantity("Pa")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ---- parameters --------------------------------------------------------------------------------
Role = Literal["design", "operating", "latent", "fixed"]


class Parameter(Strict):
    """A named input: a value, a range (lower, upper) or both; role says who controls it.

    The SI values and the dimension are worked out once, when the parameter is validated."""

    value: str | float | None = None
    range: tuple[str | float, str | float] | None = None
    role: Role = "fixed"
    scale: Literal["linear", "log"] = "linear"
    description: str = ""
    _si: float = PrivateAttr(0.0)
    _bounds: tuple[float, float] = PrivateAttr((0.0, 0.0))
    _dimension: str = PrivateAttr("")

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.value is None and self.range is None:
            raise ValueError("give a value, a range [lower, upper], or both")
        texts = [t for t in (self.value, *(self.range or ())) if t is not None]
        dims, si = set(), {}
        for t in texts:
            try:
                dims.add(str(units.dimension_of(t)))
                si[id(t)] = units.si_value(t)
            except units.UnitError as e:
                raise ValueError(str(e)) from None
        if len(dims) > 1:
            raise ValueError(f"value and range have different dimensions: {sorted(dims)}")
        self._dimension = dims.pop()
        if self.range is not None:
            lo, hi = (si[id(t)] for t in self.range)
            shown = [clip(t, 40) for t in self.range]
            if lo > hi:
                raise ValueError(f"range lower {shown[0]} is above upper {shown[1]}")
            if self.scale == "log" and lo <= 0:
                raise ValueError("a log-scale range needs a positive lower bound")
            if self.value is not None and not lo <= si[id(self.value)] <= hi:
                raise ValueError(f"value {clip(self.value, 40)} lies outside the range {shown}")
            self._bounds = (lo, hi)
        if self.role in ("design", "operating", "latent") and self.range is None:
            raise ValueError(f"a {self.role} parameter needs a range [lower, upper]")
        if self.value is not None:
            self._si = si[id(self.value)]
        else:
            lo, hi = self._bounds
            self._si = (lo * hi) ** 0.5 if self.scale == "log" else 0.5 * (lo + hi)
        if self.range is None:
            self._bounds = (self._si, self._si)
        return self

    @property
    def si(self) -> float:
        """Nominal SI value: the value, else the middle of the range (geometric if log)."""
        return self._si

    @property
    def bounds(self) -> tuple[float, float]:
        return self._bounds

    @property
    def dimension(self) -> str:
        return self._dimension
