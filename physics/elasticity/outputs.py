"""The elasticity model's outputs: quantities of interest (von Mises, displacement, reaction
force, mass, safety factor), probe values, units (mixin of `Elasticity`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.elasticity.forms import _Law
from twinkit.physics.elasticity.problem import ElasticityProblem
from twinkit.physics.params import ConstantPool
from twinkit.physics.problem import QoI


class ElasticityOutputs:
    """QoIs, sensors and units of the solution (`u`, `von_mises`); `Elasticity` sets the state
    below."""

    domain: RegionMesh
    problem: ElasticityProblem
    c: ConstantPool
    laws: list[_Law]
    W: Any
    V: Any
    w: Any
    u: Any
    von_mises: Any
    _residual: Callable[[Any, Any], Any]
    _evaluator: Any
    _qoi_forms: dict[str, Any]

    def units(self) -> dict[str, str]:
        per_len = "" if self.domain.gdim == 3 else "/m"
        kind_units = {
            "max_von_mises": "Pa",
            "max_displacement": "m",
            "reaction_force": "N" + per_len,
            "mass": "kg" + per_len,
            "safety_factor": "1",
        }
        u = {q.name: kind_units[q.kind] for q in self.problem.qois}
        return u | {p.name: "Pa" if p.field == "von_mises" else "m" for p in self.problem.probes}

    def sensors(self) -> dict[str, float]:
        from twinkit.physics.probes import PointEvaluator

        probes = self.problem.probes
        if not probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(self.domain.mesh, probes, self.c.values)
        uvals = self._evaluator(self.u)
        vm = (
            self._evaluator(self.von_mises) if any(p.field == "von_mises" for p in probes) else None
        )
        out = {}
        for i, p in enumerate(probes):
            if p.field == "von_mises":
                out[p.name] = float(vm[i])  # type: ignore[index]
            elif p.field.startswith("displacement_"):
                out[p.name] = float(uvals[i, "xyz".index(p.field[-1])])
            else:
                out[p.name] = float(np.linalg.norm(uvals[i]))
        return out

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _qoi(self, q: QoI) -> float:
        from twinkit.physics.fields import assemble_scalar, nodal_extreme

        if q.kind == "max_von_mises":
            return nodal_extreme(self.von_mises, self.domain, q.region, True)
        if q.kind == "max_displacement":
            return self._max_displacement(q.region)
        if q.kind == "reaction_force":
            return assemble_scalar(self._reaction_form(q))
        if q.kind == "mass":
            return assemble_scalar(self._mass_form(q))
        return self._safety_factor(q.region)

    def _max_displacement(self, region: str | None) -> float:
        from twinkit.physics.fields import region_dofs

        dofs = region_dofs(self.V, self.domain, region)
        mag = np.linalg.norm(self.u.x.array.reshape(-1, self.domain.gdim)[dofs], axis=1)
        return float(self.domain.mesh.comm.allreduce(mag.max(initial=0.0), op=MPI.MAX))

    def _reaction_form(self, q: QoI):
        """Force that the support on q.region exerts on the body, component q.component.

        The residual tested with the indicator w of the region's dofs of that component:
        R(u_h; w) = ∫ σ(u_h):ε(w) − ℓ(w) = ∫_Γ (σn)·e_i, consistent with the discrete equations.
        """
        from dolfinx import fem

        if q.name not in self._qoi_forms:
            assert q.region is not None and q.component is not None
            if not 0 <= q.component < self.domain.gdim:
                raise ValueError(f"QoI '{q.name}': component {q.component} out of range")
            w = fem.Function(self.W)
            U = self.W.sub(0) if self.problem.formulation == "mixed" else self.W
            dofs = fem.locate_dofs_topological(
                U.sub(q.component), self.domain.tdim - 1, self.domain.facets(q.region)
            )
            w.x.array[dofs] = 1.0
            self._qoi_forms[q.name] = fem.form(self._residual(self.w, w))
        return self._qoi_forms[q.name]

    def _mass_form(self, q: QoI):
        """∫ ρ over the body, or over q.region (materials that cover it)."""
        from dolfinx import fem

        if q.name not in self._qoi_forms:
            terms = []
            for law in self.laws:
                regions = law.material.regions
                if q.region is None:
                    terms += [law.rho * dx for dx in law.dxs]
                elif regions is None or q.region in regions:
                    terms.append(law.rho * self.domain.dx(q.region))
            if not terms:
                raise ValueError(f"QoI '{q.name}': no material covers region '{q.region}'")
            self._qoi_forms[q.name] = fem.form(sum(terms[1:], terms[0]))
        return self._qoi_forms[q.name]

    def _safety_factor(self, region: str | None) -> float:
        """min over materials (in `region`) of yield strength / max von Mises stress."""
        factors = []
        for law in self.laws:
            m = law.material
            if region is not None and m.regions is not None and region not in m.regions:
                continue
            sy = float(self.c(m.yield_strength).value)
            if sy <= 0.0:
                continue
            names: Sequence[str | None] = [region] if region or not m.regions else m.regions
            vm = max(nodal_max(self.von_mises, self.domain, r) for r in names)
            factors.append(sy / vm if vm > 0 else np.inf)
        if not factors:
            raise ValueError("safety_factor needs a material with a positive yield_strength")
        return float(min(factors))


def nodal_max(f, domain: RegionMesh, region: str | None) -> float:
    from twinkit.physics.fields import nodal_extreme

    return nodal_extreme(f, domain, region, True)
