"""Finite-element models (DOLFINx). Imports numpy, scipy, dolfinx/ufl/basix, gmsh, meshio only.

mpi4py is imported first: the PyPI DOLFINx wheel's petsc4py finds libmpi only once mpi4py
has loaded it.
"""

from mpi4py import MPI as _MPI  # noqa: F401  (must precede any petsc4py import)

__all__: list[str] = []
