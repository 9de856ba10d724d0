"""A dolfinx mesh with named regions (`RegionMesh`) and the error a mesh raises (`MeshError`).

Regions are gmsh physical groups, by dimension: cells, facets and, from a file, edges and points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALL_CELLS = "domain"
KIND = {0: "point", 1: "curve", 2: "surface", 3: "volume"}  # a region of that dimension


class MeshError(ValueError):
    """A mesh cannot be built or read (message names the file or generator)."""


@dataclass
class RegionMesh:
    """A dolfinx mesh with named cell and facet regions."""

    mesh: Any
    cell_tags: Any
    facet_tags: Any
    regions: dict[str, tuple[int, int]]  # name -> (topological dimension, tag)
    # dimension < tdim - 1 (gmsh curves and points) -> their MeshTags
    entity_tags: dict[int, Any] = field(default_factory=dict)
    _measures: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def tdim(self) -> int:
        return int(self.mesh.topology.dim)

    @property
    def gdim(self) -> int:
        return int(self.mesh.geometry.dim)

    def cell_regions(self) -> list[str]:
        return [n for n, (d, _) in self.regions.items() if d == self.tdim]

    def facet_regions(self) -> list[str]:
        return [n for n, (d, _) in self.regions.items() if d == self.tdim - 1]

    def _region(self, name: str, dim: int) -> int:
        kind = "cell" if dim == self.tdim else "facet"
        if name in self.regions and self.regions[name][0] != dim:
            d = self.regions[name][0]
            raise MeshError(
                f"region '{name}' is a {KIND[d]} (dimension {d}) of the {self.tdim}D mesh; this "
                f"needs a {kind} region (dimension {dim})"
            )
        if name not in self.regions:
            names = self.cell_regions() if dim == self.tdim else self.facet_regions()
            raise MeshError(f"no {kind} region '{name}' in the mesh; it has {sorted(names)}")
        return self.regions[name][1]

    def dx(self, name: str | None = None):
        """Volume measure over region `name` (all cells if None or 'domain')."""
        import ufl

        if "dx" not in self._measures:
            self._measures["dx"] = ufl.Measure(
                "dx", domain=self.mesh, subdomain_data=self.cell_tags
            )
        if name is None or (name == ALL_CELLS and self.cell_tags is None):
            return self._measures["dx"]
        if name == ALL_CELLS and ALL_CELLS not in self.regions:
            return self._measures["dx"]
        return self._measures["dx"](self._region(name, self.tdim))

    def ds(self, name: str):
        """Boundary measure over facet region `name`."""
        import ufl

        if "ds" not in self._measures:
            self._measures["ds"] = ufl.Measure(
                "ds", domain=self.mesh, subdomain_data=self.facet_tags
            )
        return self._measures["ds"](self._region(name, self.tdim - 1))

    def facets(self, name: str) -> np.ndarray:
        tag = self._region(name, self.tdim - 1)
        return self.facet_tags.indices[self.facet_tags.values == tag]

    def entities(self, name: str) -> tuple[int, np.ndarray]:
        """Dimension and mesh entities of a region a constraint may hold: facets, or (from a
        file) edges and points."""
        d, tag = self.regions.get(name, (self.tdim - 1, 0))
        if d >= self.tdim - 1:
            return self.tdim - 1, self.facets(name)
        tags = self.entity_tags[d]
        return d, tags.indices[tags.values == tag]

    def interior_facets(self, name: str) -> int:
        """How many facets of facet region `name` lie inside the mesh (two cells share them)."""
        from dolfinx import mesh as dmesh

        facets = self.facets(name)
        outer = dmesh.exterior_facet_indices(self.mesh.topology)
        owned = facets[facets < self.mesh.topology.index_map(self.tdim - 1).size_local]
        return int(self.mesh.comm.allreduce(np.setdiff1d(owned, outer).size))

    def cells(self, name: str | None) -> np.ndarray:
        if name is None or (name == ALL_CELLS and ALL_CELLS not in self.regions):
            cmap = self.mesh.topology.index_map(self.tdim)
            return np.arange(cmap.size_local, dtype=np.int32)
        tag = self._region(name, self.tdim)
        return self.cell_tags.indices[self.cell_tags.values == tag]
