"""The case as data: every section of a case file as one typed, immutable object (SI values).

`CaseSpec` holds the fields and what can be read off them; `twinkit.case.loading.Case` adds the
checks across sections (`twinkit.case.checks`) that a case must pass to be loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator

from twinkit.case import units
from twinkit.case.base import CaseError, Name, Parameter, Q, Strict, check_name
from twinkit.case.materials import BoundaryCondition, Load, Material
from twinkit.case.mesh import MeshSpec
from twinkit.case.sections import (
    AlertSpec,
    FurnaceSpec,
    Nondimensional,
    OptimizationSpec,
    Outputs,
    ProbeSpec,
    RunSpec,
    SensorSpec,
    SolverSpec,
)
from twinkit.case.units import clip, clip_names


class CaseSpec(Strict):
    name: str = ""  # the run folder's name (default: the file's stem); checked as a name
    description: str = ""
    model: Literal[
        "heat_conduction", "elasticity", "thermo_elasticity", "glass_flow", "glass_furnace"
    ]
    nondimensional: Nondimensional | None = None  # glass_flow only
    furnace: FurnaceSpec | None = None  # glass_furnace only
    seed: int = Field(0, ge=0, lt=2**32)
    mesh: MeshSpec
    parameters: dict[Name, Parameter] = {}
    materials: dict[Name, Material] = Field(min_length=1)
    boundary_conditions: list[BoundaryCondition] = []
    loads: list[Load] = []
    probes: dict[Name, ProbeSpec] = {}
    outputs: Outputs = Outputs()
    solver: SolverSpec = SolverSpec()
    optimization: OptimizationSpec | None = None
    sensors: dict[str, SensorSpec] = {}
    alerts: AlertSpec = AlertSpec()
    run: RunSpec = RunSpec()
    _units: dict[str, str] | None = PrivateAttr(None)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v) if v else v

    # ---- convenience --------------------------------------------------------------------------
    def parameter_values(self, overrides: Mapping[str, str] | None = None) -> dict[str, float]:
        """Nominal SI values of all parameters, with `overrides` ({name: '6 mm'}) applied."""
        values = {n: p.si for n, p in self.parameters.items()}
        for name, text in (overrides or {}).items():
            if name not in self.parameters:
                raise CaseError(
                    f"--set {clip(name)}: no such parameter; defined: {clip_names(self.parameters)}"
                )
            p = self.parameters[name]
            example = p.value if p.value is not None else p.range[0]  # type: ignore[index]
            try:
                dim = str(units.dimension_of(text))
                v = units.si_value(text)
            except units.UnitError as e:
                raise CaseError(f"--set {name}={text}: {e}; expected e.g. '{example}'") from None
            if dim != p.dimension:
                raise CaseError(
                    f"--set {name}={text}: has dimension {dim}; expected units compatible with "
                    f"'{example}' ({p.dimension})"
                )
            lo, hi = p.bounds
            if p.range is not None and not lo <= v <= hi:
                raise CaseError(
                    f"--set {name}={text}: outside the parameter's range {list(p.range)}"
                )
            values[name] = v
        return values

    def parameter_unit(self, name: str) -> str:
        """SI unit of a parameter, taken from the first key that refers to it (else from its
        value: the SI unit of what it was written in)."""
        if self._units is None:  # one walk over the case, not one per parameter
            found: dict[str, str] = {}
            for _, q in quantities(self):
                if q.param is not None:
                    found.setdefault(q.param, q.unit)
            self._units = found
        if name in self._units or name not in self.parameters:
            return self._units.get(name, "1")
        p = self.parameters[name]
        return units.si_unit(p.value if p.value is not None else p.range[0])  # type: ignore[index]

    def mesh_parameters(self) -> set[str]:
        """Parameters the geometry depends on (changing them re-meshes)."""
        return {q.param for _, q in quantities(self.mesh) if q.param}


def quantities(obj: Any, path: str = "") -> list[tuple[str, Q]]:
    """All quantities in a validated case object, with their key paths."""
    out: list[tuple[str, Q]] = []
    if isinstance(obj, Q):
        return [(path, obj)]
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out += quantities(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += quantities(v, f"{path}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            out += quantities(v, f"{path}[{i}]")
    return out
