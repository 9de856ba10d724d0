"""Finite-element models (DOLFINx). Imports numpy, scipy, dolfinx/ufl/basix, gmsh, meshio only.

mpi4py is imported first: the PyPI DOLFINx wheel's petsc4py finds libmpi only once mpi4py
has loaded it.

PETSc starts without its options files (``-skip_petscrc``): it would read ``.petscrc`` and
``petscrc`` in the working folder, a case bundle's folder for a user who runs it from there,
and ``~/.petscrc``. Their options can write files anywhere (``-log_view ascii:PATH``), start a
debugger, or change the solvers unrecorded. Options meant for PETSc go in the environment
variable ``PETSC_OPTIONS``, which it still reads.
"""

import sys as _sys

from mpi4py import MPI as _MPI  # noqa: F401  (must precede any petsc4py import)

if "petsc4py.PETSc" not in _sys.modules:  # PETSc not started yet (by a user's own import)
    import petsc4py as _petsc4py

    _petsc4py.init(["twinkit", "-skip_petscrc"])

__all__: list[str] = []
