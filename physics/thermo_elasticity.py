r"""Thermal stress: heat conduction, then elasticity loaded by the thermal strain of that field.

One-way coupling: :math:`\varepsilon_\mathrm{th} = \alpha (T - T_\mathrm{ref}) I` from the steady or
final temperature; the mechanical state does not feed back into the heat problem. A transient run's
time series holds the thermal probes and QoIs (the mechanical ones are of the final state).
"""

from __future__ import annotations

from collections.abc import Mapping

from twinkit.physics.domain import RegionMesh
from twinkit.physics.elasticity import Elasticity, ElasticityProblem
from twinkit.physics.heat import HeatConduction, HeatProblem
from twinkit.physics.result import Result, SolverStatus


class ThermoElasticity:
    """Chains `HeatConduction` into `Elasticity` on one mesh; both compile once."""

    primary = "displacement"

    def __init__(
        self,
        domain: RegionMesh,
        heat: HeatProblem,
        elastic: ElasticityProblem,
        params: Mapping[str, float],
    ):
        self.domain = domain
        self.heat = HeatConduction(domain, heat, params)
        self.elastic = Elasticity(domain, elastic, params, temperature=self.heat.T)

    @property
    def on_step(self):
        """The heat model's per-step callback (a transient run)."""
        return self.heat.on_step

    @on_step.setter
    def on_step(self, f) -> None:
        self.heat.on_step = f

    @property
    def ndofs(self) -> int:
        return self.heat.ndofs + self.elastic.ndofs

    def solve(self, params: Mapping[str, float] | None = None) -> Result:
        h = self.heat.solve(params)
        if not h.solver.converged:
            h.solver.message = f"heat conduction: {h.solver.message}"
            return h
        e = self.elastic.solve(params)
        status = SolverStatus(
            e.solver.converged,
            h.solver.iterations + e.solver.iterations,
            h.solver.seconds + e.solver.seconds,
            f"elasticity: {e.solver.message}" if e.solver.message else "",
        )
        return Result(
            fields=h.fields | e.fields,
            qoi=h.qoi | e.qoi,
            sensors=h.sensors | e.sensors,
            units=h.units | e.units,
            solver=status,
            parameters=e.parameters,
            history=h.history,  # the thermal probes and QoIs of a transient run, per step
        )
