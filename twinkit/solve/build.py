"""Turn a validated case into physics objects: the mesh and the model (one place maps names)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from twinkit.case import Case, CaseError, LoadedCase
from twinkit.case.base import Q
from twinkit.case.checks import vector_errors
from twinkit.case.mesh import (
    BoxMesh,
    BracketMesh,
    FileMesh,
    FurnaceMesh,
    IntervalMesh,
    PlateWithHoleMesh,
    QuarterAnnulusMesh,
    RectangleMesh,
)
from twinkit.solve.formulas import time_value


def scalar(q: Any) -> Any:
    """Case value → physics value: Q → float or Param, lists → tuples, others unchanged."""
    from twinkit.physics.params import Param

    if isinstance(q, Q):
        if q.formula or q.table is not None:
            return time_value(q)
        return Param(q.param, q.sign) if q.param else q.si
    if isinstance(q, list | tuple):
        return tuple(scalar(v) for v in q)
    return q


def resolve(q: Any, values: Mapping[str, float]) -> Any:
    """Case value → number, looking parameter references up in `values`."""
    from twinkit.physics.params import value_of

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
    """The RegionMesh of a case for the given parameter values; CaseError when DOLFINx or gmsh
    cannot build it from the dimensions given (e.g. a length of 1e-19 m: "zero")."""
    try:
        return _build_mesh(loaded, values, comm)
    except RuntimeError as e:
        if type(e) is not RuntimeError:
            raise
        raise CaseError(
            f"{loaded.path}: mesh: cannot be built from these dimensions ({e})"
        ) from None


def _build_mesh(loaded: LoadedCase, values: Mapping[str, float], comm: Any = None):
    from mpi4py import MPI

    from twinkit.physics import domain

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
        from twinkit.physics.geometry import plate_with_hole

        return plate_with_hole(
            r(m.width), r(m.height), r(m.radius), r(m.size), r(m.hole_size), m.order, comm=comm
        )
    if isinstance(m, QuarterAnnulusMesh):
        from twinkit.physics.geometry import quarter_annulus

        return quarter_annulus(r(m.inner_radius), r(m.outer_radius), r(m.size), m.order, comm=comm)
    if isinstance(m, BracketMesh):
        from twinkit.physics.bracket import bracket

        extra = {k: r(getattr(m, k)) for k in ("width", "base_length", "height") if getattr(m, k)}
        return bracket(
            r(m.thickness), r(m.fillet_radius), r(m.hole_diameter), r(m.size), **extra, comm=comm
        )
    if isinstance(m, FurnaceMesh):
        from twinkit.physics.glass_furnace import furnace_mesh

        return furnace_mesh(furnace_geometry(m, values), comm)
    assert isinstance(m, FileMesh)
    path = loaded.mesh_file()
    assert path is not None
    limit = loaded.case.solver.limits.max_cells
    return domain.read_file(path, r(m.size) if m.size else None, comm, limit)


def furnace_geometry(m: FurnaceMesh, values: Mapping[str, float]):
    """The FurnaceGeometry of a furnace mesh spec (no boost zone without boost_position)."""
    from twinkit.physics.glass_furnace import FurnaceGeometry

    given = {
        f.name: resolve(getattr(m, f.name), values)
        for f in dataclasses.fields(FurnaceGeometry)
        if getattr(m, f.name, None) is not None
    }
    if m.boost_position is None:
        given["boost_width"] = 0.0
    return FurnaceGeometry(**given)


def _probes_and_qois(case: Case):
    from twinkit.physics.problem import Probe, QoI

    probes = [Probe(n, scalar(p.point), p.field) for n, p in case.probes.items()]
    qois = [
        QoI(n, q.type, q.region, q.component, q.field or "", scalar(q.point) if q.point else None)
        for n, q in case.outputs.qoi.items()
        if q.type != "expression"  # evaluated after the solve (twinkit.case.derived)
    ]
    return probes, qois


def _options(case: Case):
    from twinkit.physics.problem import SolverOptions

    s = case.solver
    return SolverOptions(s.degree, s.linear_solver, rtol=s.rtol, max_iterations=s.max_iterations)


def _heat_bcs(case: Case) -> list:
    """The thermal boundary conditions of a case as physics.heat objects."""
    from twinkit.physics import heat

    bc_types = {
        "temperature": heat.FixedTemperature,
        "heat_flux": heat.HeatFlux,
        "convection": heat.Convection,
        "radiation": heat.Radiation,
    }
    return [convert(b, bc_types[b.type]) for b in case.boundary_conditions if b.type in bc_types]


def heat_problem(case: Case, qois=None, probes=None):
    from twinkit.physics import heat

    p, q = _probes_and_qois(case)
    ts = case.solver.time
    return heat.HeatProblem(
        materials=[convert(m, heat.ThermalMaterial) for m in case.materials.values()],
        bcs=_heat_bcs(case),
        sources=[convert(ld, heat.HeatSource) for ld in case.loads if ld.type == "heat_source"],
        qois=q if qois is None else qois,
        probes=p if probes is None else probes,
        time=convert(ts, heat.TimeStepping) if ts else None,
        options=_options(case),
    )


def elastic_problem(case: Case, qois=None, probes=None):
    from twinkit.physics import elasticity as el

    supports = {"fixed": el.Fixed, "displacement": el.Displacement}
    surface_loads = {"traction": el.Traction, "pressure": el.Pressure, "force": el.Force}
    load_types = {"body_force": el.BodyForce, "gravity": el.Gravity}
    bcs = case.boundary_conditions
    p, q = _probes_and_qois(case)
    return el.ElasticityProblem(
        materials=[_elastic_material(m) for m in case.materials.values()],
        bcs=[convert(b, supports[b.type]) for b in bcs if b.type in supports],
        loads=[convert(b, surface_loads[b.type]) for b in bcs if b.type in surface_loads]
        + [convert(ld, load_types[ld.type]) for ld in case.loads if ld.type in load_types],
        qois=q if qois is None else qois,
        probes=p if probes is None else probes,
        plane=case.solver.plane,
        formulation=case.solver.formulation,
        options=_options(case),
        stress_recovery=case.outputs.stress_recovery,
        fields=tuple(f for f in case.outputs.fields or () if f in el.TENSOR_FIELDS),
        thickness=None if case.solver.thickness is None else scalar(case.solver.thickness),
    )


def _elastic_material(m: Any):
    """An ElasticMaterial; the initial strain as (component, value) pairs."""
    from twinkit.physics import elasticity as el

    material = convert(m.model_copy(update={"initial_strain": None}), el.ElasticMaterial)
    strain = tuple((k, scalar(v)) for k, v in (m.initial_strain or {}).items())
    return dataclasses.replace(material, initial_strain=strain)


def _melt(case: Case):
    """The single material of a glass_flow case as a Melt (ρ = c_p = k = 1, β = Ra if
    nondimensional)."""
    from twinkit.physics import glass_flow as gf

    laws = {
        "constant": gf.ConstantViscosity,
        "vft": gf.VFTViscosity,
        "exponential": gf.ExponentialViscosity,
    }
    (m,) = case.materials.values()
    assert m.viscosity is not None  # checked by the case schema
    law = convert(m.viscosity, laws[m.viscosity.law])
    factor = scalar(m.viscosity.factor) if m.viscosity.factor is not None else None
    if case.nondimensional is None:
        return dataclasses.replace(convert(m, gf.Melt), viscosity=law, viscosity_factor=factor)
    T_ref = scalar(m.reference_temperature) if m.reference_temperature else 0.0
    ra = scalar(case.nondimensional.rayleigh)
    return gf.Melt(
        law,
        1.0,
        1.0,
        1.0,
        thermal_expansion=ra,
        reference_temperature=T_ref,
        viscosity_factor=factor,
    )


def _perturbed_start(case: Case, domain: Any):
    """T₀(x) = T_b + (T_t − T_b) ζ + A (T_b − T_t) cos(πξ) sin(πζ), with ξ, ζ ∈ [0, 1] the
    horizontal (x) and vertical (last axis) coordinates scaled to the mesh's bounding box and
    T_b, T_t the temperatures prescribed on `bottom` and `top` (parameters stay live)."""
    import numpy as np
    from mpi4py import MPI

    from twinkit.physics.fields import reduce_array

    spec = case.solver.initial_perturbation
    assert spec is not None
    fixed = {b.region: scalar(b.value) for b in case.boundary_conditions if b.type == "temperature"}
    T_b, T_t, A = fixed["bottom"], fixed["top"], scalar(spec.amplitude)
    x = domain.mesh.geometry.x
    comm = domain.mesh.comm
    lo = reduce_array(comm, x.min(axis=0), MPI.MIN)
    hi = reduce_array(comm, x.max(axis=0), MPI.MAX)
    ax = domain.gdim - 1

    def T0(x: Any, c: Any) -> Any:
        import ufl

        xi = (x[0] - lo[0]) / (hi[0] - lo[0])
        zeta = (x[ax] - lo[ax]) / (hi[ax] - lo[ax])
        Tb, Tt = c(T_b), c(T_t)
        wave = ufl.cos(np.pi * xi) * ufl.sin(np.pi * zeta)
        return Tb + (Tt - Tb) * zeta + c(A) * (Tb - Tt) * wave

    return T0


def glass_flow_problem(loaded: LoadedCase, domain: Any):
    """The GlassFlowProblem of a glass_flow case on `domain` (its dimension fixes gravity)."""
    from twinkit.physics import glass_flow as gf
    from twinkit.physics import heat

    case = loaded.case
    errors = vector_errors(case, domain.gdim)
    if errors:
        raise CaseError("\n".join(f"{loaded.path}: {key}: {msg}" for key, msg in errors))
    for i, b in enumerate(case.boundary_conditions):
        if b.type == "free_slip":
            try:
                gf._normal_axis(domain, b.region)
            except ValueError as e:
                raise CaseError(f"{loaded.path}: boundary_conditions[{i}]: {e}") from None
    flow_types = {"no_slip": gf.NoSlip, "free_slip": gf.FreeSlip, "velocity": gf.Velocity}
    bcs, loads, s = case.boundary_conditions, case.loads, case.solver
    g = 1.0 if case.nondimensional else 9.81  # down the last axis, unless a gravity load says
    gravity = tuple(-g if i == domain.gdim - 1 else 0.0 for i in range(domain.gdim))
    for ld in loads:
        if ld.type == "gravity":
            gravity = scalar(ld.acceleration)
    probes, qois = _probes_and_qois(case)
    if s.initial_perturbation is not None:
        T0: Any = _perturbed_start(case, domain)
    else:
        T0 = scalar(s.initial_temperature)
    # numerics left out of the case keep the model's defaults (P2 temperature, its tolerances)
    given = s.model_fields_set
    numerics: dict[str, Any] = {
        key: getattr(s, name)
        for key, name in (
            ("temperature_degree", "degree"),
            ("rtol", "rtol"),
            ("max_iterations", "max_iterations"),
        )
        if name in given
    }
    return gf.GlassFlowProblem(
        melt=_melt(case),
        flow_bcs=[convert(b, flow_types[b.type]) for b in bcs if b.type in flow_types],
        thermal_bcs=_heat_bcs(case),
        sources=[convert(ld, heat.HeatSource) for ld in loads if ld.type == "heat_source"],
        body_forces=[convert(ld, gf.BodyForce) for ld in loads if ld.type == "body_force"],
        gravity=gravity,
        qois=qois,
        probes=probes,
        supg=s.stabilization == "supg",
        initial_temperature=T0,
        thresholds={
            n: scalar(q.threshold) for n, q in case.outputs.qoi.items() if q.threshold is not None
        },
        **numerics,
    )


def build_model(loaded: LoadedCase, domain: Any, values: Mapping[str, float]):
    """The physics model named by the case, compiled on `domain`."""
    from twinkit.solve.position_checks import check_position_formulas

    check_position_formulas(loaded, domain, values)
    case = loaded.case
    if case.model == "heat_conduction":
        from twinkit.physics.heat import HeatConduction

        return HeatConduction(domain, heat_problem(case), values)
    if case.model == "elasticity":
        from twinkit.physics.elasticity import Elasticity

        return Elasticity(domain, elastic_problem(case), values)
    if case.model == "thermo_elasticity":
        from twinkit.physics.heat import HEAT_QOIS
        from twinkit.physics.thermo_elasticity import ThermoElasticity

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
    if case.model == "glass_flow":
        from twinkit.physics.glass_flow import GlassFlow

        return GlassFlow(domain, glass_flow_problem(loaded, domain), values)
    if case.model == "glass_furnace":
        from twinkit.physics import glass_furnace as gfu

        assert isinstance(case.mesh, FurnaceMesh) and case.furnace is not None  # schema-checked
        probes, qois = _probes_and_qois(case)
        furnace = convert(case.furnace, gfu.Furnace)
        furnace = dataclasses.replace(furnace, melt=_melt(case))
        geometry = furnace_geometry(case.mesh, values)
        return gfu.GlassFurnace(domain, geometry, furnace, values, qois, probes)
    raise AssertionError(case.model)
