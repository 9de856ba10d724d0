"""The heat model's outputs: quantities of interest, probe values, units (mixin of
`HeatConduction`; the heat flow through a boundary is consistent with the discrete equations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.heat.forms import bc_outflow, conductivity
from twinkit.physics.heat.problem import HEAT_QOIS, FixedTemperature, HeatProblem
from twinkit.physics.params import ConstantPool
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import QoI


class HeatOutputs:
    """QoIs, sensors and units of the solution `T`; `HeatConduction` sets the state below."""

    domain: RegionMesh
    problem: HeatProblem
    c: ConstantPool
    V: Any
    T: Any
    _residual: Callable[..., Any]
    _evaluator: PointEvaluator | None
    _qoi_forms: dict[str, Any]

    def units(self) -> dict[str, str]:
        flow = {1: "W/m^2", 2: "W/m", 3: "W"}[self.domain.tdim]
        u = {q.name: flow if q.kind == "heat_flow" else "K" for q in self.problem.qois}
        return u | {p.name: "K" for p in self.problem.probes}

    def sensors(self) -> dict[str, float]:
        if not self.problem.probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(
                self.domain.mesh, self.problem.probes, self.c.values
            )
        vals = self._evaluator(self.T)
        return {p.name: float(v) for p, v in zip(self.problem.probes, vals, strict=True)}

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _qoi(self, q: QoI) -> float:
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar, nodal_extreme

        if q.kind in ("min_temperature", "max_temperature"):
            return nodal_extreme(self.T, self.domain, q.region, q.kind.startswith("max"))
        if q.kind == "mean_temperature":
            if q.name not in self._qoi_forms:
                self._qoi_forms[q.name] = (
                    fem.form(self.T * self.domain.dx(q.region)),
                    fem.form(fem.Constant(self.domain.mesh, 1.0) * self.domain.dx(q.region)),
                )
            num, den = self._qoi_forms[q.name]
            return assemble_scalar(num) / assemble_scalar(den)
        if q.kind == "heat_flow":
            return self._heat_flow(q)
        raise ValueError(f"unknown heat QoI kind '{q.kind}'; expected one of {HEAT_QOIS}")

    def _heat_flow(self, q: QoI) -> float:
        """Heat leaving through boundary region q.region (W in 3D, W/m in 2D).

        From the boundary condition's flux on natural boundaries; on a fixed-temperature boundary
        from the residual (the consistent 'reaction' flux), which is far more accurate than ∇T·n;
        zero on an insulated boundary. Only a region that partly overlaps boundary conditions of
        its own falls back to integrating −k∇T·n.
        """
        import ufl
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar

        if q.name not in self._qoi_forms:
            assert q.region is not None
            natural = [
                bc_outflow(bc, self.T, self.c) * self.domain.ds(q.region)
                for bc in self.problem.bcs
                if bc.region == q.region and not isinstance(bc, FixedTemperature)
            ]
            if natural:
                form = sum(natural[1:], natural[0])
            elif any(
                isinstance(bc, FixedTemperature) and bc.region == q.region
                for bc in self.problem.bcs
            ):
                w = fem.Function(self.V)
                dofs = fem.locate_dofs_topological(self.V, *self.domain.entities(q.region))
                w.x.array[dofs] = 1.0
                # The steady residual tested with w vanishes except for ∫_Γ k ∂T/∂n w = inflow.
                form = -self._residual(self.T, w)
            elif not self._touches_bcs(q.region):
                form = fem.Constant(self.domain.mesh, 0.0) * self.domain.ds(q.region)  # insulated
            else:
                n = ufl.FacetNormal(self.domain.mesh)
                k = conductivity(self.problem.materials[0], self.T, self.c)
                form = -k * ufl.dot(ufl.grad(self.T), n) * self.domain.ds(q.region)
            self._qoi_forms[q.name] = fem.form(form)
        return assemble_scalar(self._qoi_forms[q.name])

    def _touches_bcs(self, region: str) -> bool:
        facets = self.domain.facets(region)
        fdim = self.domain.tdim - 1
        held = [self.domain.entities(bc.region) for bc in self.problem.bcs]
        others = [e for d, e in held if d == fdim]  # a curve or point holds no facet
        local = any(np.intersect1d(facets, f).size for f in others)
        return bool(self.domain.mesh.comm.allreduce(local, op=MPI.LOR))
