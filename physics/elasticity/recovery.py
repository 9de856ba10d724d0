r"""Recovered stress and strain: continuous nodal fields of the (discontinuous) FE stress, and the
scalars derived from them (principal stresses, von Mises, Tresca).

The stress of a displacement field of degree k is discontinuous (degree k − 1) across elements,
so its value at a point on an element boundary depends on which element is asked. Recovery makes
it continuous, in the Lagrange space of degree m = max(1, k − 1):

- ``projection``: the L2 projection, :math:`\int \sigma_h^* : \tau = \int \sigma(u_h) : \tau`
  for all :math:`\tau` (one mass-matrix solve per component, CG + Jacobi);
- ``average``: each node takes the unweighted mean of the values that the elements sharing it
  give there;
- ``none``: no recovery; the FE stress itself, in discontinuous Lagrange of degree m (a point on
  an element boundary takes one of its elements' values).

Components are stored in the global frame, in the order :data:`COMPONENTS` (symmetric-tensor
order of VTK, so ParaView reads a 6-component array as a tensor). In 2D the out-of-plane
:math:`\sigma_{zz}` (plane strain) or :math:`\varepsilon_{zz}` (plane stress) is included. Derived
scalars are computed node by node (or point by point, for probes) from the 3×3 tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

COMPONENTS = ("xx", "yy", "zz", "xy", "yz", "xz")
PRINCIPAL = ("principal_1", "principal_2", "principal_3")  # σ1 ≥ σ2 ≥ σ3
STRESS_FIELDS = (
    *(f"stress_{c}" for c in COMPONENTS),
    *PRINCIPAL,
    "von_mises",
    "tresca",
)
STRAIN_FIELDS = tuple(f"strain_{c}" for c in COMPONENTS)
RECOVERY = ("projection", "average", "none")
# fields written for ParaView on request (outputs.fields): name → number of components
TENSOR_FIELDS = {"stress": 6, "strain": 6, "principal_stress": 3, "tresca": 1}


def voigt(t, zz) -> Any:
    """The 6 components (COMPONENTS order) of a 2×2 or 3×3 UFL tensor; `zz` the out-of-plane
    component of a 2D one."""
    import ufl

    if t.ufl_shape[0] == 2:
        return ufl.as_vector([t[0, 0], t[1, 1], zz, t[0, 1], 0.0, 0.0])
    return ufl.as_vector([t[0, 0], t[1, 1], t[2, 2], t[0, 1], t[1, 2], t[0, 2]])


def tensors(v: np.ndarray) -> np.ndarray:
    """(n, 6) components → (n, 3, 3) symmetric tensors."""
    xx, yy, zz, xy, yz, xz = v.T
    return np.stack(
        [np.stack([xx, xy, xz], -1), np.stack([xy, yy, yz], -1), np.stack([xz, yz, zz], -1)], -2
    )


def derived(name: str, v: np.ndarray) -> np.ndarray:
    """Scalar `name` (a component, principal_i, von_mises, tresca) of (n, 6) stress or strain."""
    comp = name.rpartition("_")[2]
    if comp in COMPONENTS:
        return v[:, COMPONENTS.index(comp)]
    s = np.linalg.eigvalsh(tensors(v))[:, ::-1]  # descending: σ1 ≥ σ2 ≥ σ3
    if name in PRINCIPAL:
        return s[:, PRINCIPAL.index(name)]
    if name == "tresca":
        return s[:, 0] - s[:, 2]
    if name == "von_mises":
        d = np.diff(s[:, [0, 1, 2, 0]], axis=1)
        return np.sqrt(0.5 * (d**2).sum(axis=1))
    raise ValueError(f"unknown stress or strain output '{name}'")


class Recovery:
    """Nodal fields of 6-component tensors (stress, strain) given per material as UFL vectors.

    Parameters
    ----------
    domain
        The RegionMesh.
    parts
        One (UFL 6-vector, measures, owned cells) per material.
    degree
        Lagrange degree m of the recovered field.
    method
        ``projection``, ``average`` or ``none`` (see the module docstring).
    name
        The field's name (``stress``, ``strain``).
    """

    def __init__(
        self,
        domain: Any,
        parts: Sequence[tuple[Any, list, np.ndarray]],
        degree: int,
        method: str,
        name: str,
    ):
        import ufl
        from dolfinx import fem

        if method not in RECOVERY:
            raise ValueError(f"stress recovery '{method}': expected one of {RECOVERY}")
        mesh = domain.mesh
        self.method, self.parts = method, parts
        self.family = family = "Discontinuous Lagrange" if method == "none" else "Lagrange"
        self.degree = degree
        self.R = fem.functionspace(mesh, (family, degree, (6,)))
        self.scalar_space = fem.functionspace(mesh, (family, degree))
        self.field = fem.Function(self.R, name=name)
        if method == "projection":
            from dolfinx.fem.petsc import LinearProblem

            from twinkit.physics.problem import petsc_prefix

            p, q = ufl.TrialFunction(self.R), ufl.TestFunction(self.R)
            terms = [ufl.inner(vec, q) * dx for vec, dxs, _ in parts for dx in dxs]
            L = sum(terms[1:], terms[0])
            self._projector = LinearProblem(
                ufl.inner(p, q) * ufl.dx,
                L,
                u=self.field,
                petsc_options_prefix=petsc_prefix(self, f"recovery_{name}"),
                petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12},
            )
        else:
            self._dg = (
                self.field
                if method == "none"
                else fem.Function(fem.functionspace(mesh, ("Discontinuous Lagrange", degree, (6,))))
            )
            points = self._dg.function_space.element.interpolation_points
            self._exprs = [(fem.Expression(vec, points), cells) for vec, _, cells in parts]

    def update(self) -> None:
        """Recompute the field from the current solution."""
        if self.method == "projection":
            self._projector.solve()
        else:
            for expr, cells in self._exprs:
                self._dg.interpolate(expr, cells0=cells)
            if self.method == "average":
                self._average()
        self.field.x.scatter_forward()

    def _average(self) -> None:
        """Each node: the mean of its elements' values there (owned cells, summed across ranks)."""
        from dolfinx import la

        mesh = self.R.mesh
        owned = mesh.topology.index_map(mesh.topology.dim).size_local
        cells = np.unique(np.concatenate([c for _, _, c in self.parts]))
        cells = cells[cells < owned]
        nodes = self.R.dofmap.list[cells].ravel()
        src = self._dg.function_space.dofmap.list[cells].ravel()
        total = self.field.x.array.reshape(-1, 6)
        total[:] = 0.0
        np.add.at(total, nodes, self._dg.x.array.reshape(-1, 6)[src])
        count = la.vector(self.R.dofmap.index_map, 1)
        count.array[:] = 0.0
        np.add.at(count.array, nodes, 1.0)
        self.field.x.scatter_reverse(la.InsertMode.add)
        count.scatter_reverse(la.InsertMode.add)
        count.scatter_forward()
        self.field.x.scatter_forward()
        total /= np.maximum(count.array, 1.0)[:, None]

    def values(self) -> np.ndarray:
        """The nodal components, (nodes, 6)."""
        return self.field.x.array.reshape(-1, 6)
