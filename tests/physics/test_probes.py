"""Point evaluation: points on a curved boundary, within round-off of the mesh, are found."""

import numpy as np
import pytest

from twinkit.physics.geometry import plate_with_hole
from twinkit.physics.probes import PointEvaluator, ProbeError


def test_point_on_a_curved_boundary_within_round_off():
    """gmsh puts the hole's vertex (0, a) at x = 4e-16: the point (0, a) lies outside every cell
    by round-off, and used to be refused as 'outside the mesh' on fine meshes."""
    d = plate_with_hole(0.2, 0.2, 0.01, 0.01, 0.25e-3, order=2)
    x = d.mesh.geometry.x
    assert x[:, 0].min() >= 0.0
    ev = PointEvaluator(d.mesh, np.array([[0.0, 0.01], [0.01, 0.0]]))
    assert ev._cells.size == 2
    with pytest.raises(ProbeError, match="outside the mesh"):
        PointEvaluator(d.mesh, np.array([[0.0, 0.0099]]))  # inside the hole
