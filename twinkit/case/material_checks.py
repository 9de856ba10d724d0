"""Checks of the prescribed fields a material may carry in elasticity: a temperature or
temperature rise for the thermal strain (model elasticity; thermo_elasticity computes its
temperature) and an initial strain (components that exist in the mesh's dimension)."""

from __future__ import annotations

from twinkit.case.mesh import GENERATOR_GDIM
from twinkit.case.spec import CaseSpec

ELASTIC_MODELS = ("elasticity", "thermo_elasticity")


def prescribed_field_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """(key path, message) of each prescribed temperature or initial strain that does not fit."""
    errors = []
    gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
    for name, m in case.materials.items():
        key = f"materials.{name}"
        for prop in ("temperature", "temperature_change"):
            if getattr(m, prop) is None:
                continue
            if case.model != "elasticity":
                why = (
                    "thermo_elasticity computes the temperature"
                    if case.model == "thermo_elasticity"
                    else f"not model {case.model}"
                )
                errors.append((f"{key}.{prop}", f"applies only to model elasticity ({why})"))
            elif m.thermal_expansion is None:
                errors.append((f"{key}.thermal_expansion", f"required by {prop}"))
        if m.temperature is not None and m.temperature_change is not None:
            errors.append((f"{key}.temperature_change", "give a temperature or a change, not both"))
        if m.temperature_change is not None and m.reference_temperature is not None:
            errors.append(
                (f"{key}.reference_temperature", "unused with temperature_change (a rise above it)")
            )
        if m.initial_strain is None:
            continue
        if case.model not in ELASTIC_MODELS:
            errors.append(
                (f"{key}.initial_strain", "applies only to models " + ", ".join(ELASTIC_MODELS))
            )
        if gdim == 2:
            for comp in m.initial_strain:
                if comp in ("xz", "yz"):
                    errors.append(
                        (f"{key}.initial_strain.{comp}", "a 2D mesh has xx, yy, zz, xy only")
                    )
    return errors
