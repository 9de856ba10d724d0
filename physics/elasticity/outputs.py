"""The elasticity model's outputs: quantities of interest (von Mises, displacement, reaction
force, mass, safety factor), probe values, units (mixin of `Elasticity`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from mpi4py import MPI

from twinkit.physics.domain import RegionMesh
from twinkit.physics.elasticity.forms import _Law
from twinkit.physics.elasticity.problem import (
    DISPLACEMENT_FIELDS,
    FIELD_QOIS,
    ElasticityProblem,
)
from twinkit.physics.elasticity.recovery import PRINCIPAL, STRAIN_FIELDS, derived
from twinkit.physics.params import ConstantPool, value_of
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
    recovered: dict[str, Any]  # name → recovery.Recovery
    _evaluator: Any
    _qoi_forms: dict[str, Any]
    _field_cache: dict[str, Any]

    def units(self) -> dict[str, str]:
        per_len = "" if self.domain.gdim == 3 or self.problem.thickness is not None else "/m"
        kind_units = {
            "max_von_mises": "Pa",
            "max_displacement": "m",
            "reaction_force": "N" + per_len,
            "mass": "kg" + per_len,
            "safety_factor": "1",
        }
        u = {
            q.name: field_unit(q.field) if q.kind in FIELD_QOIS else kind_units[q.kind]
            for q in self.problem.qois
        }
        return u | {p.name: field_unit(p.field) for p in self.problem.probes}

    def extra_fields(self) -> dict[str, Any]:
        """The fields named in `problem.fields`: recovered stress and strain (6 components, VTK's
        symmetric-tensor order), principal stresses (σ1 ≥ σ2 ≥ σ3) and Tresca."""
        from dolfinx import fem

        out = {}
        for name in self.problem.fields:
            if name in ("stress", "strain"):
                out[name] = self.recovered[name].field
                continue
            r = self.recovered["stress"]
            if name not in self._field_cache:
                shape = (3,) if name == "principal_stress" else ()
                V = fem.functionspace(r.R.mesh, (r.family, r.degree, shape))
                self._field_cache[name] = fem.Function(V, name=name)
            f = self._field_cache[name]
            v = r.values()
            if name == "principal_stress":
                f.x.array[:] = np.stack([derived(n, v) for n in PRINCIPAL], axis=1).ravel()
            else:
                f.x.array[:] = derived(name, v)
            out[name] = f
        return out

    def _at_points(self, fields: Sequence[str], evaluator: Any) -> dict[str, np.ndarray]:
        """Values of scalar fields (displacement components, stress and strain scalars) at the
        evaluator's points; stress and strain from their recovered fields."""
        out: dict[str, np.ndarray] = {}
        tensors: dict[str, np.ndarray] = {}
        for name in fields:
            if name in out:
                continue
            if name in DISPLACEMENT_FIELDS or name in ("", "displacement"):
                u = tensors.setdefault("u", evaluator(self.u))
                out[name] = (
                    np.linalg.norm(u, axis=1)
                    if name in ("", "displacement")
                    else u[:, "xyz".index(name[-1])]
                )
            else:
                kind = "strain" if name.startswith("strain_") else "stress"
                v = tensors.setdefault(kind, evaluator(self.recovered[kind].field))
                out[name] = derived(name, v)
        return out

    def sensors(self) -> dict[str, float]:
        from twinkit.physics.probes import PointEvaluator

        probes = self.problem.probes
        if not probes:
            return {}
        if self._evaluator is None:
            self._evaluator = PointEvaluator.for_probes(self.domain.mesh, probes, self.c.values)
        vals = self._at_points([p.field for p in probes], self._evaluator)
        return {p.name: float(vals[p.field][i]) for i, p in enumerate(probes)}

    def qois(self) -> dict[str, float]:
        return {q.name: self._qoi(q) for q in self.problem.qois}

    def _qoi(self, q: QoI) -> float:
        from twinkit.physics.fields import assemble_scalar, nodal_extreme

        if q.kind == "max_von_mises":
            return nodal_extreme(self.von_mises, self.domain, q.region, True)
        if q.kind == "max_displacement":
            return self._max_displacement(q.region)
        t = self.problem.thickness
        depth = 1.0 if t is None else value_of(t, self.c.values)  # per metre, or per body
        if q.kind == "reaction_force":
            return depth * assemble_scalar(self._reaction_form(q))
        if q.kind == "mass":
            return depth * assemble_scalar(self._mass_form(q))
        if q.kind in FIELD_QOIS:
            return self._field_qoi(q)
        return self._safety_factor(q.region)

    def _field_qoi(self, q: QoI) -> float:
        """max, min or mean over q.region (nodal values; the mean integrates the field) or the
        value at q.point of scalar field q.field."""
        from dolfinx import fem

        from twinkit.physics.fields import assemble_scalar, region_dofs
        from twinkit.physics.probes import PointEvaluator

        if q.kind == "point":
            if q.name not in self._qoi_forms:
                point = np.array([[value_of(x, self.c.values) for x in q.point or ()]])
                self._qoi_forms[q.name] = PointEvaluator(self.domain.mesh, point, [q.name])
            return float(self._at_points([q.field], self._qoi_forms[q.name])[q.field][0])
        if q.field in DISPLACEMENT_FIELDS:
            space, values = (
                self.V,
                self.u.x.array.reshape(-1, self.domain.gdim)[:, "xyz".index(q.field[-1])],
            )
        else:
            r = self.recovered["strain" if q.field.startswith("strain_") else "stress"]
            space, values = r.scalar_space, derived(q.field, r.values())
        if q.kind == "mean":
            if q.name not in self._qoi_forms:
                if q.field in DISPLACEMENT_FIELDS:  # a blocked space's node i is block i
                    degree = space.ufl_element().embedded_superdegree
                    space = fem.functionspace(self.domain.mesh, ("Lagrange", degree))
                f = fem.Function(space)
                one = fem.Constant(self.domain.mesh, 1.0)
                dx = self.domain.dx(q.region)
                self._qoi_forms[q.name] = (f, fem.form(f * dx), fem.form(one * dx))
            f, num, den = self._qoi_forms[q.name]
            f.x.array[:] = values
            return assemble_scalar(num) / assemble_scalar(den)
        vals = values[region_dofs(space, self.domain, q.region)]
        comm = self.domain.mesh.comm
        if q.kind == "max":
            return float(comm.allreduce(vals.max(initial=-np.inf), op=MPI.MAX))
        return float(comm.allreduce(vals.min(initial=np.inf), op=MPI.MIN))

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
            # the reaction on a support: facets, or (from a file) edges and points
            dofs = fem.locate_dofs_topological(U.sub(q.component), *self.domain.entities(q.region))
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


def field_unit(name: str) -> str:
    """SI unit of a probe or QoI field of the elasticity model."""
    return (
        "1"
        if name in STRAIN_FIELDS
        else "m"
        if name.startswith("displacement") or not name
        else "Pa"
    )
