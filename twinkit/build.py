"""Turn a validated case into physics objects: the mesh and the model (one place maps names)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from twinkit.case import (
    BoxMesh,
    BracketMesh,
    Case,
    FileMesh,
    IntervalMesh,
    LoadedCase,
    PlateWithHoleMesh,
    Q,
    QuarterAnnulusMesh,
    RectangleMesh,
)


def scalar(q: Any) -> Any:
    """Case value → physics value: Q → float or Param, lists → tuples, others unchanged."""
    from physics.params import Param

    if isinstance(q, Q):
        return Param(q.param, q.sign) if q.param else q.si
    if isinstance(q, list | tuple):
        return tuple(scalar(v) for v in q)
    return q


def resolve(q: Any, values: Mapping[str, float]) -> Any:
    """Case value → number, looking parameter references up in `values`."""
    from physics.params import value_of

    v = scalar(q)
    if isinstance(v, tuple):
        return tuple(value_of(x, values) if x is not None else None for x in v)
    return value_of(v, values) if v is not None else None


def convert(obj: Any, cls: type) -> Any:
    """Build physics dataclass `cls` from the same-named attributes of a case object."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        v = getattr(obj, f.name, None)
        if v is not None:
            kwargs[f.name] = scalar(v)
    return cls(**kwargs)


def build_mesh(loaded: LoadedCase, values: Mapping[str, float], comm: Any = None):
    """The RegionMesh of a case for the given parameter values."""
    from mpi4py import MPI

    from physics import domain

    comm = comm or MPI.COMM_WORLD
    m = loaded.case.mesh
    r = lambda q: resolve(q, values)  # noqa: E731
    if isinstance(m, IntervalMesh):
        return domain.interval(r(m.length), m.cells, comm)
    if isinstance(m, RectangleMesh):
        return domain.rectangle(r(m.length), r(m.height), *m.cells, m.cell_type, comm)
    if isinstance(m, BoxMesh):
        return domain.box((r(m.length), r(m.width), r(m.height)), m.cells, m.cell_type, comm)
    if isinstance(m, PlateWithHoleMesh):
        from physics.geometry import plate_with_hole

        return plate_with_hole(
            r(m.width), r(m.height), r(m.radius), r(m.size), r(m.hole_size), m.order, comm=comm
        )
    if isinstance(m, QuarterAnnulusMesh):
        from physics.geometry import quarter_annulus

        return quarter_annulus(r(m.inner_radius), r(m.outer_radius), r(m.size), m.order, comm=comm)
    if isinstance(m, BracketMesh):
        from physics.bracket import bracket

        extra = {k: r(getattr(m, k)) for k in ("width", "base_length", "height") if getattr(m, k)}
        return bracket(
            r(m.thickness), r(m.fillet_radius), r(m.hole_diameter), r(m.size), **extra, comm=comm
        )
    assert isinstance(m, FileMesh)
    path = loaded.mesh_file()
    assert path is not None
    return domain.read_file(path, r(m.size) if m.size else None, comm)


def _probes_and_qois(case: Case):
    from physics.problem import Probe, QoI

    probes = [Probe(n, scalar(p.point), p.field) for n, p in case.probes.items()]
    qois = [QoI(n, q.type, q.region, q.component) for n, q in case.outputs.qoi.items()]
    return probes, qois


def _options(case: Case):
    from physics.problem import SolverOptions

    s = case.solver
    return SolverOptions(s.degree, s.linear_solver, rtol=s.rtol, max_iterations=s.max_iterations)


def heat_problem(case: Case, qois=None, probes=None):
    from physics import heat

    bc_types = {
        "temperature": heat.FixedTemperature,
        "heat_flux": heat.HeatFlux,
        "convection": heat.Convection,
        "radiation": heat.Radiation,
    }
    p, q = _probes_and_qois(case)
    ts = case.solver.time
    return heat.HeatProblem(
        materials=[convert(m, heat.ThermalMaterial) for m in case.materials.values()],
        bcs=[convert(b, bc_types[b.type]) for b in case.boundary_conditions if b.type in bc_types],
        sources=[convert(ld, heat.HeatSource) for ld in case.loads if ld.type == "heat_source"],
        qois=q if qois is None else qois,
        probes=p if probes is None else probes,
        time=convert(ts, heat.TimeStepping) if ts else None,
        options=_options(case),
    )


def elastic_problem(case: Case, qois=None, probes=None):
    from physics import elasticity as el

    supports = {"fixed": el.Fixed, "displacement": el.Displacement}
    surface_loads = {"traction": el.Traction, "pressure": el.Pressure, "force": el.Force}
    load_types = {"body_force": el.BodyForce, "gravity": el.Gravity}
    bcs = case.boundary_conditions
    p, q = _probes_and_qois(case)
    return el.ElasticityProblem(
        materials=[convert(m, el.ElasticMaterial) for m in case.materials.values()],
        bcs=[convert(b, supports[b.type]) for b in bcs if b.type in supports],
        loads=[convert(b, surface_loads[b.type]) for b in bcs if b.type in surface_loads]
        + [convert(ld, load_types[ld.type]) for ld in case.loads if ld.type in load_types],
        qois=q if qois is None else qois,
        probes=p if probes is None else probes,
        plane=case.solver.plane,
        formulation=case.solver.formulation,
        options=_options(case),
    )


def build_model(loaded: LoadedCase, domain: Any, values: Mapping[str, float]):
    """The physics model named by the case, compiled on `domain`."""
    case = loaded.case
    if case.model == "heat_conduction":
        from physics.heat import HeatConduction

        return HeatConduction(domain, heat_problem(case), values)
    if case.model == "elasticity":
        from physics.elasticity import Elasticity

        return Elasticity(domain, elastic_problem(case), values)
    if case.model == "thermo_elasticity":
        from physics.heat import HEAT_QOIS
        from physics.thermo_elasticity import ThermoElasticity

        probes, qois = _probes_and_qois(case)
        thermal_q = [q for q in qois if q.kind in HEAT_QOIS]
        thermal_p = [p for p in probes if p.field == "temperature"]
        return ThermoElasticity(
            domain,
            heat_problem(case, qois=thermal_q, probes=thermal_p),
            elastic_problem(
                case,
                qois=[q for q in qois if q not in thermal_q],
                probes=[p for p in probes if p not in thermal_p],
            ),
            values,
        )
    raise AssertionError(case.model)
