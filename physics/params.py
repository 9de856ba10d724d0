"""Scalars that may refer to named parameters, and the pool of `fem.Constant`s that carries them.

Every coefficient of a weak form is a `fem.Constant`, so a parameter sweep changes constant values
and re-solves without compiling a form again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Param:
    """A reference to a named parameter (its value is supplied at solve time, in SI units),
    optionally scaled (`scale=-1` for "-$load")."""

    name: str
    scale: float = 1.0


@dataclass(frozen=True)
class TimeSeries:
    """A value tabulated in time (SI), linear between the points, constant beyond the ends."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values) or not self.times:
            raise ValueError("a time series needs as many values as times, at least one")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("the times of a time series must increase")

    def at(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))


Scalar = float | Param | TimeSeries
"""A number (SI), a parameter reference, a `TimeSeries`, or a function of the spatial
coordinate returning a UFL expression (e.g. a manufactured source `lambda x: ufl.sin(x[0])`),
or of (x, pool) to build profiles from parameters and time
(`lambda x, c: c(Param("T_peak")) * ufl.sin(c.time() / 40) - x[0]`)."""


def value_of(s: Scalar, params: Mapping[str, float]) -> float:
    """Numeric value of a scalar, looking parameters up in `params`."""
    if isinstance(s, Param):
        if s.name not in params:
            raise KeyError(f"no value given for parameter '{s.name}'")
        return s.scale * float(params[s.name])
    if isinstance(s, TimeSeries):
        return s.at(0.0)
    return float(s)


class ConstantPool:
    """Creates `fem.Constant`s for scalars and updates the parameter-backed ones per solve."""

    def __init__(self, mesh, params: Mapping[str, float]):
        self._mesh = mesh
        self._linked: list[tuple[object, int | None, Param]] = []  # (constant, component, ref)
        self._params = dict(params)
        self._time: Any = None
        self._series: list[tuple[object, TimeSeries]] = []

    def time(self):
        """The `fem.Constant` holding the time t (s) that time-dependent values read."""
        from dolfinx import default_scalar_type, fem

        if self._time is None:
            self._time = fem.Constant(self._mesh, default_scalar_type(0.0))
        return self._time

    def set_time(self, t: float) -> None:
        """Set t, and every tabulated value to its value at t."""
        self.time().value = t
        for c, series in self._series:
            c.value = series.at(t)  # type: ignore[attr-defined]

    @property
    def time_dependent(self) -> bool:
        """Whether a value built so far depends on time."""
        return self._time is not None or bool(self._series)

    def __call__(self, s: Scalar | Callable[..., Any]):
        """A fem.Constant for `s`, or a UFL expression if `s` is a function of x."""
        from dolfinx import default_scalar_type, fem

        if callable(s):
            import inspect

            import ufl

            x = ufl.SpatialCoordinate(self._mesh)
            return s(x, self) if len(inspect.signature(s).parameters) == 2 else s(x)
        c = fem.Constant(self._mesh, default_scalar_type(value_of(s, self._params)))
        if isinstance(s, Param):
            self._linked.append((c, None, s))
        elif isinstance(s, TimeSeries):
            self._series.append((c, s))
        return c

    def vector(self, comps: tuple[Scalar, ...]):
        """A vector constant (all components given)."""
        from dolfinx import default_scalar_type, fem

        c = fem.Constant(
            self._mesh, np.array([value_of(s, self._params) for s in comps], default_scalar_type)
        )
        for i, s in enumerate(comps):
            if isinstance(s, Param):
                self._linked.append((c, i, s))
        return c

    def update(self, params: Mapping[str, float]) -> None:
        """Set every parameter-backed constant from `params` (SI values)."""
        self._params.update(params)
        for c, comp, ref in self._linked:
            v = value_of(ref, self._params)
            if comp is None:
                c.value = v  # type: ignore[attr-defined]
            else:
                c.value[comp] = v  # type: ignore[attr-defined]

    @property
    def values(self) -> dict[str, float]:
        return dict(self._params)
