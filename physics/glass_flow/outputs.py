"""The glass-flow model's outputs: fields, quantities of interest (Nusselt, vrms, heat flows
consistent with the discrete energy equation, ...), probe values, units (mixin of
`GlassFlow`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.glass_flow.problem import FLOW_QOIS, GlassFlowProblem
from twinkit.physics.heat import FixedTemperature, bc_outflow
from twinkit.physics.params import ConstantPool
from twinkit.physics.probes import PointEvaluator
from twinkit.physics.problem import QoI


class GlassFlowOutputs:
    """Fields, QoIs, sensors and units of the state `w` = (u, p, T); `GlassFlow` sets the
    state below."""

    domain: RegionMesh
    problem: GlassFlowProblem
    c: ConstantPool
    w: Any
    spaces: list
    _split: tuple
    rho_cp: Any
    k: Any
    q: Any
    _energy_residual: Callable[[Any], Any]
    _evaluator: PointEvaluator | None
    _forms: dict[str, Any]

    def fields(self) -> dict[str, Any]:
        u = self.w.sub(0).collapse()
        p = self.w.sub(1).collapse()
        T = self.w.sub(2).collapse()
        u.name, p.name, T.name = "velocity", "pressure", "temperature"
        return {"temperature": T, "velocity": u, "pressure": p}

    def units(self) -> dict[str, str]:
        flow = {2: "W/m", 3: "W"}[self.domain.tdim]
        kinds = {
            "vrms": "m/s",
            "max_velocity": "m/s",
            "nusselt": "1",
            "heat_flow": flow,
            "advected_heat": flow,
            "source_heat": flow,
            "fraction_below": "1",
        }
        u = {q.name: kinds.get(q.kind, "K") for q in self.problem.qois}
        return u | {
            p.name: "m/s" if p.field.startswith("velocity") else "K" for p in self.problem.probes
        }

    def sensors(self) -> dict[str, float]:
        if not self.problem.probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(
                self.domain.mesh, self.problem.probes, self.c.values
            )
        f = self.fields()
        out = {}
        T_vals = self._evaluator(f["temperature"])
        u_vals = self._evaluator(f["velocity"])
        for i, p in enumerate(self.problem.probes):
            if p.field in ("", "temperature"):
                out[p.name] = float(T_vals[i])
            elif p.field == "velocity":
                out[p.name] = float(np.linalg.norm(u_vals[i]))
            else:
                out[p.name] = float(u_vals[i]["xyz".index(p.field[-1])])
        return out

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _integral(self, key: str, make) -> float:
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar

        if key not in self._forms:
            self._forms[key] = fem.form(make())
        return assemble_scalar(self._forms[key])

    def _qoi(self, q: QoI) -> float:
        import ufl
        from dolfinx import fem

        from twinkit.physics.fields import nodal_extreme

        u, _, T = self._split
        one = fem.Constant(self.domain.mesh, 1.0)
        if q.kind in ("heat_flow", "nusselt"):
            flow = self._heat_flow(q.region)
            if q.kind == "heat_flow":
                return flow
            # Blankenbach's Nu = −∫_top ∂T/∂y dx / ∫_bottom T dx is, for k = ΔT = H = 1, the
            # outflow through `region` per unit length of it.
            region = str(q.region)
            return flow / self._integral(q.name + "/len", lambda: one * self.domain.ds(region))
        dx = self.domain.dx(q.region)
        if q.kind == "vrms":
            num = self._integral(q.name + "/num", lambda: ufl.dot(u, u) * dx)
            return float(np.sqrt(num / self._integral(q.name + "/den", lambda: one * dx)))
        if q.kind == "max_velocity":
            V, dofs = self.spaces[0]
            vals = self.w.x.array[dofs].reshape(-1, self.domain.gdim)
            owned = V.dofmap.index_map.size_local
            local = np.linalg.norm(vals[:owned], axis=1).max(initial=0.0)
            return float(self.domain.mesh.comm.allreduce(local, op=MPI.MAX))
        if q.kind in ("min_temperature", "max_temperature"):
            T_h = self.fields()["temperature"]
            return nodal_extreme(T_h, self.domain, q.region, q.kind == "max_temperature")
        if q.kind == "mean_temperature":
            num = self._integral(q.name + "/num", lambda: T * dx)
            return num / self._integral(q.name + "/den", lambda: one * dx)
        if q.kind == "fraction_below":
            threshold = self.problem.thresholds.get(q.name)
            if threshold is None:
                raise ValueError(f"QoI '{q.name}': fraction_below needs a threshold temperature")
            Tc = self.c(threshold)
            num = self._integral(q.name + "/num", lambda: ufl.conditional(ufl.lt(T, Tc), 1, 0) * dx)
            return num / self._integral(q.name + "/den", lambda: one * dx)
        if q.kind == "advected_heat":
            return self._integral(q.name, lambda: self.rho_cp * ufl.dot(u, ufl.grad(T)) * dx)
        if q.kind == "source_heat":
            return self._integral(q.name, lambda: self.q * dx)
        raise ValueError(f"unknown glass-flow QoI kind '{q.kind}'; expected one of {FLOW_QOIS}")

    def _heat_flow(self, region: str | None) -> float:
        """Heat leaving through a boundary region, consistent with the discrete energy equation."""
        from dolfinx import fem

        if region is None:
            raise ValueError("heat_flow needs a boundary region")
        key = "flow/" + region
        if key not in self._forms:
            c = self.c
            T = self._split[2]
            natural = [
                bc_outflow(bc, T, c) * self.domain.ds(region)
                for bc in self.problem.thermal_bcs
                if bc.region == region and not isinstance(bc, FixedTemperature)
            ]
            if natural:
                form = sum(natural[1:], natural[0])
            elif any(
                isinstance(bc, FixedTemperature) and bc.region == region
                for bc in self.problem.thermal_bcs
            ):
                VT, _ = self.spaces[2]
                w = fem.Function(VT)
                facets = self.domain.facets(region)
                w.x.array[fem.locate_dofs_topological(VT, self.domain.tdim - 1, facets)] = 1.0
                form = -self._energy_residual(w)
            else:
                form = fem.Constant(self.domain.mesh, 0.0) * self.domain.ds(region)
            self._forms[key] = fem.form(form)
        from twinkit.physics.fields import assemble_scalar

        return assemble_scalar(self._forms[key])
