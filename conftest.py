"""Pytest root configuration.

The PyPI DOLFINx wheel's petsc4py finds libmpi only after mpi4py has loaded it, so import mpi4py
before any test module imports dolfinx.
"""

from mpi4py import MPI  # noqa: F401
