"""The fields each model produces, and the checks of probes, QoIs and `outputs.fields` that name
them (structural outputs: stress and strain components, principal stresses, von Mises, Tresca).

The names mirror `physics.elasticity` (`SCALAR_FIELDS`, `TENSOR_FIELDS`, `FIELD_QOIS`); a test
keeps them equal, so that validation stays free of FE imports.
"""

from __future__ import annotations

from twinkit.case.mesh import GENERATOR_GDIM
from twinkit.case.spec import CaseSpec

COMPONENTS = ("xx", "yy", "zz", "xy", "yz", "xz")
STRESS_FIELDS = (
    *(f"stress_{c}" for c in COMPONENTS),
    "principal_1",
    "principal_2",
    "principal_3",
    "von_mises",
    "tresca",
)
STRAIN_FIELDS = tuple(f"strain_{c}" for c in COMPONENTS)
DISPLACEMENT_FIELDS = ("displacement_x", "displacement_y", "displacement_z")
ELASTIC_SCALARS = DISPLACEMENT_FIELDS + STRESS_FIELDS + STRAIN_FIELDS
ELASTIC_PROBES = ("", "displacement", *ELASTIC_SCALARS)
FIELD_QOIS = ("max", "min", "mean", "point")
ELASTIC_QOIS = ("max_von_mises", "max_displacement", "reaction_force", "mass", "safety_factor")
HEAT_QOIS = ("min_temperature", "max_temperature", "mean_temperature", "heat_flow")
HEAT_PROBES = ("", "temperature")
# fields a model writes (outputs.fields); the tensor fields only when named there
MODEL_FIELDS = {
    "heat_conduction": ("temperature",),
    "elasticity": ("displacement", "von_mises", "stress", "strain", "principal_stress", "tresca"),
}
MODEL_FIELDS["thermo_elasticity"] = MODEL_FIELDS["heat_conduction"] + MODEL_FIELDS["elasticity"]
STRUCTURAL = ("elasticity", "thermo_elasticity")


def field_unit(field: str, model: str) -> str:
    """SI unit of a scalar field that a probe or QoI of ``model`` reads ('' is the model's main
    field: the displacement of a structural model, the temperature of the others)."""
    if field in STRESS_FIELDS:  # von_mises among them
        return "Pa"
    if field in STRAIN_FIELDS:
        return "1"
    if field.startswith("velocity"):
        return "m/s"
    if field == "temperature" or (not field and model not in STRUCTURAL):
        return "K"
    return "m"  # a displacement


def field_errors(case: CaseSpec) -> list[tuple[str, str]]:
    """Probe fields, QoI types (with their `field` and `point`), `outputs.fields` and
    `outputs.stress_recovery` that the model (heat or structural) does not have."""
    model = case.model
    if model not in MODEL_FIELDS:
        return []  # the glass models are checked in twinkit.case.checks
    structural = model in STRUCTURAL
    qoi_kinds = (HEAT_QOIS if model != "elasticity" else ()) + (
        ELASTIC_QOIS + FIELD_QOIS if structural else ()
    )
    probe_fields = tuple(
        dict.fromkeys(
            (HEAT_PROBES if model != "elasticity" else ()) + (ELASTIC_PROBES if structural else ())
        )
    )
    errors: list[tuple[str, str]] = []
    for name, p in case.probes.items():
        if p.field not in probe_fields:
            errors.append(
                (
                    f"probes.{name}.field",
                    f"'{p.field}' is not a field of model {model}; expected one of "
                    + ", ".join(f for f in probe_fields if f),
                )
            )
    gdim = GENERATOR_GDIM.get(getattr(case.mesh, "generator", ""), 0)
    for name, q in case.outputs.qoi.items():
        key = f"outputs.qoi.{name}"
        if q.type == "expression":
            continue  # twinkit.case.derived
        if q.type not in qoi_kinds:
            errors.append(
                (
                    f"{key}.type",
                    f"'{q.type}' is not a QoI of model {model}; expected one of "
                    + ", ".join((*qoi_kinds, "expression")),
                )
            )
            continue
        field_kind = q.type in FIELD_QOIS
        if field_kind and q.field not in ELASTIC_SCALARS:
            errors.append(
                (
                    f"{key}.field",
                    f"type {q.type} needs a field, one of " + ", ".join(ELASTIC_SCALARS)
                    if q.field is None
                    else f"'{q.field}' is not a field of model {model}; expected one of "
                    + ", ".join(ELASTIC_SCALARS),
                )
            )
        if q.field is not None and not field_kind:
            errors.append((f"{key}.field", "applies only to types " + ", ".join(FIELD_QOIS)))
        if (q.type == "point") != (q.point is not None):
            what = "required by type point" if q.point is None else "applies only to type point"
            errors.append((f"{key}.point", what))
        elif q.point is not None and gdim and len(q.point) != gdim:
            errors.append((f"{key}.point", f"has {len(q.point)} coordinates; the mesh is {gdim}D"))
    for name in case.outputs.fields or ():
        if name not in MODEL_FIELDS[model]:
            errors.append(
                (
                    "outputs.fields",
                    f"'{name}' is not a field of model {model}; expected one of "
                    + ", ".join(MODEL_FIELDS[model]),
                )
            )
    if "stress_recovery" in case.outputs.model_fields_set and not structural:
        errors.append(
            ("outputs.stress_recovery", "applies only to models elasticity and thermo_elasticity")
        )
    return errors
