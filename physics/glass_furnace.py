r"""Glass-melting tank: a 2D longitudinal section of a soda-lime furnace, built on `glass_flow`.

Geometry (x along the tank, y up; regions in quotes)::

      'inlet'  'batch' (blanket)        'surface' (open glass, radiated by the crown)
    y=D +--->---+=========+------------------------------------------+
        |                                                             | 'front_wall'
   'back_wall'               'melt'          +--------+               |
        |                                    | 'boost'|               +---> 'throat'
    y=0 +------------------------------------+--------+---------------+
        x=0                       'bottom'                          x=L

Physics: Boussinesq Stokes + energy (see `twinkit.physics.glass_flow`) with
- DGG-1 Vogel–Fulcher–Tammann viscosity, phonon + Rosseland radiative conductivity with the
  absorption coefficient a_R (latent: glass colour/redox);
- the glass surface radiating with the crown: q_in = σ ε (T_crown(x)⁴ − T⁴), with
  T_crown(x) = T_peak − ΔT (1 − exp(−((x − x_hs)/(0.35 L))²)) peaking at the hot spot x_hs;
- the batch blanket: no slip, melting heat drawn as h_b (T − T_b);
- the pull: melt entering at `inlet` at T_in with u = ṁ/(ρ W h_in), leaving through the throat
  (natural outflow);
- walls and bottom: no slip, losses U (T − T_amb) through the refractory (U latent: it grows as
  the refractory wears);
- electric boosting: power P spread over the 'boost' cells.
Per unit tank width W: flows in W/m. Sweepable parameters: everything but the geometry, the
tank width and the density (they set the inflow speed and the boost density when compiled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import MeshError, RegionMesh, gmsh_model_to_regionmesh
from twinkit.physics.glass_flow import (
    FLOW_QOIS,
    FreeSlip,
    GlassFlow,
    GlassFlowProblem,
    Melt,
    NoSlip,
    Velocity,
    VFTViscosity,
)
from twinkit.physics.heat import Convection, FixedTemperature, HeatSource, Radiation
from twinkit.physics.params import ConstantPool, Param, Scalar, value_of
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import Probe, QoI
from twinkit.physics.result import Result

WALLS = ("back_wall", "bottom", "front_wall")
FURNACE_QOIS = FLOW_QOIS + (
    "heat_input",  # crown radiation into the glass + boost power
    "wall_losses",  # through back wall, bottom and front wall
    "batch_heat",  # drawn by the melting batch
    "enthalpy_outflow",  # carried out by the pull (throat − inlet), incl. the inlet's conduction
    "energy_imbalance",  # (input − all outputs) / input: closes to solver precision
    "spring_zone",  # x where the surface flow divides (backwards to the batch / forwards)
)


@dataclass(frozen=True)
class FurnaceGeometry:
    length: float = 10.0
    depth: float = 1.2
    batch_length: float = 2.5
    inlet_height: float = 0.3
    throat_height: float = 0.4
    boost_position: float = 6.0  # x of the boost zone's centre
    boost_width: float = 1.0
    boost_height: float = 0.3
    boost_elevation: float = 0.1  # gap between bottom and boost zone
    size: float = 0.1  # element size


def soda_lime_melt(absorption: Scalar = 150.0, reference_temperature: Scalar = 1423.15) -> Melt:
    """DGG-1 float glass (docs/validation.md): VFT viscosity capped at 1e5 Pa·s (glass below about
    900 °C is practically solid), phonon 1.2 W/(m·K) plus Rosseland radiation."""
    return Melt(
        VFTViscosity(-2.601, 4330.9, 519.25, max_viscosity=1e5),
        conductivity=1.2,
        density=2350.0,
        specific_heat=1300.0,
        thermal_expansion=5e-5,
        reference_temperature=reference_temperature,
        absorption=absorption,
        refractive_index=1.5,
    )


@dataclass(frozen=True)
class Furnace:
    """Operating, design and latent data of the tank (SI; values may be `Param`s)."""

    crown_peak_temperature: Scalar = 1873.15
    hot_spot_position: Scalar = 6.0
    crown_drop: Scalar = 150.0
    crown_emissivity: Scalar = 0.9
    boost_power: Scalar = 0.0  # W, whole tank
    pull_rate: Scalar = 200e3 / 86400  # kg/s (200 t/day)
    wall_htc: Scalar = 2.5  # W/(m² K), refractory + outside
    tank_width: float = 8.0
    inlet_temperature: Scalar = 1423.15
    batch_temperature: Scalar = 1373.15
    batch_htc: Scalar = 500.0
    ambient_temperature: Scalar = 313.15
    quality_temperature: Scalar = 1573.15  # melt below this is poorly refined
    melt: Melt = field(default_factory=soda_lime_melt)


def furnace_mesh(g: FurnaceGeometry, comm=MPI.COMM_WORLD) -> RegionMesh:
    """Triangulate the tank section with named boundary parts and the boost zone."""
    L, D = g.length, g.depth
    checks = [
        (0 < g.batch_length < L, f"batch_length={g.batch_length} must lie in (0, length={L})"),
        (0 < g.inlet_height < D, f"inlet_height={g.inlet_height} must lie in (0, depth={D})"),
        (0 < g.throat_height < D, f"throat_height={g.throat_height} must lie in (0, depth={D})"),
        (g.size > 0, f"size={g.size} must be positive"),
    ]
    boost = g.boost_width > 0 and g.boost_height > 0
    if boost:
        x0, x1 = g.boost_position - g.boost_width / 2, g.boost_position + g.boost_width / 2
        y0, y1 = g.boost_elevation, g.boost_elevation + g.boost_height
        checks.append((0 < x0 and x1 < L and 0 < y0 and y1 < D, "boost zone must lie inside"))
    for ok, msg in checks:
        if not ok:
            raise MeshError(f"furnace: {msg}")
    import gmsh

    from twinkit.physics.gmsh_session import gmsh_session

    with gmsh_session():
        if comm.rank == 0:
            geo = gmsh.model.geo
            corners = [
                (0, 0),
                (L, 0),
                (L, g.throat_height),
                (L, D),
                (g.batch_length, D),
                (0, D),
                (0, D - g.inlet_height),
            ]
            names = ["bottom", "throat", "front_wall", "surface", "batch", "inlet", "back_wall"]
            pts = [geo.addPoint(x, y, 0, g.size) for x, y in corners]
            lines = [geo.addLine(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
            outer = geo.addCurveLoop(lines)
            holes, boost_surface = [], None
            if boost:
                bp = [
                    geo.addPoint(x, y, 0, g.size / 2)
                    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
                ]
                bl = [geo.addLine(bp[i], bp[(i + 1) % 4]) for i in range(4)]
                loop = geo.addCurveLoop(bl)
                holes = [loop]
                boost_surface = geo.addPlaneSurface([loop])
            melt = geo.addPlaneSurface([outer, *holes])
            geo.synchronize()
            for name, line in zip(names, lines, strict=True):
                gmsh.model.addPhysicalGroup(1, [line], name=name)
            gmsh.model.addPhysicalGroup(2, [melt], name="melt")
            if boost_surface is not None:
                gmsh.model.addPhysicalGroup(2, [boost_surface], name="boost")
            gmsh.option.setNumber("Mesh.MeshSizeMax", g.size)
            gmsh.model.mesh.generate(2)
        return gmsh_model_to_regionmesh(gmsh, 2, comm, "furnace")


def crown_temperature(f: Furnace, length: float):
    """T_crown(x) as a function of (x, constants), peaking at the hot spot."""

    def profile(x, c: ConstantPool):
        import ufl

        shape = ufl.exp(-(((x[0] - c(f.hot_spot_position)) / (0.35 * length)) ** 2))
        return c(f.crown_peak_temperature) - c(f.crown_drop) * (1 - shape)

    return profile


def furnace_problem(
    domain: RegionMesh,
    g: FurnaceGeometry,
    f: Furnace,
    params: Mapping[str, float],
    qois: Sequence[QoI] = (),
    probes: Sequence[Probe] = (),
    degree: int = 2,
) -> GlassFlowProblem:
    """The generic buoyant-flow problem that models the tank."""
    rho = value_of(f.melt.density, params)
    width = value_of(f.tank_width, params)
    inflow = _scaled(f.pull_rate, 1.0 / (rho * width * g.inlet_height), params)
    sources = []
    if "boost" in domain.regions:
        area = g.boost_width * g.boost_height
        sources.append(HeatSource(_scaled(f.boost_power, 1.0 / (width * area), params), "boost"))
    thresholds = {q.name: f.quality_temperature for q in qois if q.kind == "fraction_below"}
    return GlassFlowProblem(
        melt=f.melt,
        flow_bcs=[
            Velocity("inlet", (inflow, 0.0)),
            NoSlip("batch"),
            FreeSlip("surface"),
            *(NoSlip(w) for w in WALLS),
        ],
        thermal_bcs=[
            FixedTemperature("inlet", f.inlet_temperature),
            Convection("batch", f.batch_htc, f.batch_temperature),
            Radiation("surface", f.crown_emissivity, crown_temperature(f, g.length)),
            *(Convection(w, f.wall_htc, f.ambient_temperature) for w in WALLS),
        ],
        sources=sources,
        gravity=(0.0, -9.81),
        qois=[q for q in qois if q.kind in FLOW_QOIS],
        probes=probes,
        temperature_degree=degree,
        initial_temperature=f.inlet_temperature,
        thresholds=thresholds,
    )


def _scaled(s: Scalar, factor: float, params: Mapping[str, float]) -> Scalar:
    if isinstance(s, Param):
        return Param(s.name, s.scale * factor)
    return value_of(s, params) * factor


class GlassFurnace:
    """The tank model: `GlassFlow` plus the furnace's energy balance and spring-zone QoIs."""

    primary = "temperature"

    def __init__(
        self,
        domain: RegionMesh,
        geometry: FurnaceGeometry,
        furnace: Furnace,
        params: Mapping[str, float],
        qois: Sequence[QoI] = (),
        probes: Sequence[Probe] = (),
    ):
        unknown = [q.kind for q in qois if q.kind not in FURNACE_QOIS]
        if unknown:
            raise ValueError(f"unknown furnace QoI kinds {unknown}; expected {FURNACE_QOIS}")
        self.domain, self.geometry, self.furnace = domain, geometry, furnace
        self.qoi_specs = list(qois)
        problem = furnace_problem(domain, geometry, furnace, params, qois, probes)
        self.flow = GlassFlow(domain, problem, params)
        self._surface_line: PointEvaluator | None = None

    @property
    def ndofs(self) -> int:
        return self.flow.ndofs

    def set_anchor(self) -> None:
        self.flow.set_anchor()

    def solve(self, params: Mapping[str, float] | None = None) -> Result:
        result = self.flow.solve(params)
        if result.solver.converged:
            balance = self.energy_balance()
            for q in self.qoi_specs:
                if q.kind in balance:
                    result.qoi[q.name] = balance[q.kind]
                elif q.kind == "spring_zone":
                    result.qoi[q.name] = self.spring_zone()
            result.qoi = {q.name: result.qoi[q.name] for q in self.qoi_specs}
        flow = "W/m"
        units = {k: flow for k in ("heat_input", "wall_losses", "batch_heat", "enthalpy_outflow")}
        units |= {"energy_imbalance": "1", "spring_zone": "m"}
        result.units |= {q.name: units[q.kind] for q in self.qoi_specs if q.kind in units}
        return result

    def energy_balance(self) -> dict[str, float]:
        """Heat flows per unit tank width (W/m) from fluxes consistent with the discrete energy
        equation, so that input − outputs vanishes to solver precision."""
        m = self.flow
        crown = -m._heat_flow("surface")
        boost = m._qoi(QoI("boost", "source_heat"))
        walls = sum(m._heat_flow(w) for w in WALLS)
        batch = m._heat_flow("batch")
        advected = m._qoi(QoI("advected", "advected_heat"))
        inlet = m._heat_flow("inlet")  # conduction across the inlet (Dirichlet) boundary
        enthalpy = advected + inlet
        heat_in = crown + boost
        out = walls + batch + enthalpy
        return {
            "heat_input": heat_in,
            "wall_losses": walls,
            "batch_heat": batch,
            "enthalpy_outflow": enthalpy,
            "energy_imbalance": (heat_in - out) / heat_in if heat_in else float("nan"),
        }

    def spring_zone(self, samples: int = 400) -> float:
        """The spring zone on the glass surface (`spring_zone_position`); NaN if none."""
        g = self.geometry
        if self._surface_line is None:
            xs = np.linspace(g.batch_length, g.length, samples + 2)[1:-1]
            pts = np.column_stack([xs, np.full_like(xs, g.depth)])
            self._surface_line = PointEvaluator(self.domain.mesh, pts)
        u = self.flow.fields()["velocity"]
        return spring_zone_position(self._surface_line.points[:, 0], self._surface_line(u)[:, 0])


def spring_zone_position(xs: np.ndarray, ux: np.ndarray) -> float:
    """Where the surface flow divides: backwards (to the batch) on one side, forwards on the other.

    Secondary convection cells make several places where the surface velocity `ux` (at the
    increasing positions `xs`) turns from negative to positive. The spring zone is the one from
    which the surface flow spreads most: the minimum of F(x) = ∫ ux dx, which lies at such a
    turn. A weak secondary cell hardly changes F, so it does not move the spring zone (taking
    the steepest turn instead made the position jump between cells: a surrogate's R² of 0.88).
    NaN if the surface flows one way only.
    """
    up = np.flatnonzero((ux[:-1] < 0) & (ux[1:] >= 0))
    if not up.size:
        return float("nan")
    dx = np.diff(xs)
    F = np.concatenate([[0.0], np.cumsum(0.5 * (ux[1:] + ux[:-1]) * dx)])
    t = -ux[up] / (ux[up + 1] - ux[up])  # linear ux: the zero between the two points
    at_zero = F[up] + 0.5 * ux[up] * t * dx[up]  # F at the zero (trapezoid up to it)
    i = int(np.argmin(at_zero))
    return float(xs[up[i]] + t[i] * dx[up[i]])


def default_probes(g: FurnaceGeometry) -> list[Probe]:
    """Six bottom thermocouples along the tank and two in the side walls."""
    xs = np.linspace(0.1, 0.9, 6) * g.length
    bottom = [Probe(f"TC_bottom_{i + 1}", (float(x), 0.0)) for i, x in enumerate(xs)]
    walls = [
        Probe("TC_back_wall", (0.0, 0.4 * g.depth)),
        Probe("TC_front_wall", (g.length, 0.7 * g.depth)),
    ]
    return bottom + walls
