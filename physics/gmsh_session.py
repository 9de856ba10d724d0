"""A context manager for the gmsh API (initialise quietly, always finalise)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def gmsh_session(verbosity: int = 0) -> Iterator[None]:
    """gmsh initialised without the user's configuration files (``~/.gmshrc``,
    ``~/.gmsh-options``): an option set there, such as ``Mesh.MeshSizeFactor``, would change
    every mesh twinkit builds, unrecorded in the case or its provenance."""
    import gmsh

    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 1 if verbosity else 0)
    gmsh.option.setNumber("General.Verbosity", verbosity)
    try:
        gmsh.model.add("twinkit")
        yield
    finally:
        gmsh.clear()
        if started:
            gmsh.finalize()
