"""The case's `mesh:` section: built-in generators (with their named regions) or a mesh file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
)

from twinkit.case.base import Count, Position, PositiveLength, Strict


class IntervalMesh(Strict):
    generator: Literal["interval"]
    length: PositiveLength
    cells: Count


class RectangleMesh(Strict):
    generator: Literal["rectangle"]
    length: PositiveLength
    height: PositiveLength
    cells: tuple[Count, Count]
    cell_type: Literal["triangle", "quadrilateral"] = "triangle"


class BoxMesh(Strict):
    generator: Literal["box"]
    length: PositiveLength
    width: PositiveLength
    height: PositiveLength
    cells: tuple[Count, Count, Count]
    cell_type: Literal["tetrahedron", "hexahedron"] = "tetrahedron"


class PlateWithHoleMesh(Strict):
    generator: Literal["plate_with_hole"]
    width: PositiveLength
    height: PositiveLength
    radius: PositiveLength
    size: PositiveLength
    hole_size: PositiveLength | None = None
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class QuarterAnnulusMesh(Strict):
    generator: Literal["quarter_annulus"]
    inner_radius: PositiveLength
    outer_radius: PositiveLength
    size: PositiveLength
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class BracketMesh(Strict):
    generator: Literal["bracket"]
    thickness: PositiveLength
    fillet_radius: PositiveLength
    hole_diameter: PositiveLength
    size: PositiveLength
    width: PositiveLength | None = None
    base_length: PositiveLength | None = None
    height: PositiveLength | None = None


class FurnaceMesh(Strict):
    """Longitudinal section of a melting tank (physics.glass_furnace.furnace_mesh); the boost
    zone exists when `boost_position` is given."""

    generator: Literal["furnace"]
    length: PositiveLength
    depth: PositiveLength
    batch_length: PositiveLength
    inlet_height: PositiveLength
    throat_height: PositiveLength
    size: PositiveLength
    boost_position: Position | None = None
    boost_width: PositiveLength | None = None
    boost_height: PositiveLength | None = None
    boost_elevation: Position | None = None


class FileMesh(Strict):
    """A gmsh `.geo`/`.msh` file or any meshio format with named regions (path relative to case)."""

    file: str = Field(min_length=1, max_length=4096)
    size: PositiveLength | None = None


GENERATOR_REGIONS: dict[str, tuple[str, ...]] = {
    "interval": ("left", "right", "domain"),
    "rectangle": ("left", "right", "bottom", "top", "domain"),
    "box": ("left", "right", "front", "back", "bottom", "top", "domain"),
    "plate_with_hole": ("left", "right", "bottom", "top", "hole", "domain"),
    "quarter_annulus": ("inner", "outer", "left", "bottom", "domain"),
    "bracket": ("base", "hole", "fillet", "top", "end", "surface", "domain"),
    "furnace": (
        "bottom",
        "throat",
        "front_wall",
        "surface",
        "batch",
        "inlet",
        "back_wall",
        "melt",
        "boost",
        "domain",
    ),
}


def _mesh_kind(v: Any) -> str | None:
    if isinstance(v, dict):
        if "file" in v:
            return "file"
        g = v.get("generator")
        return g if isinstance(g, str) and g in GENERATOR_REGIONS else None
    if isinstance(v, BaseModel):
        return getattr(v, "generator", "file")
    return None


MeshSpec = Annotated[
    Annotated[IntervalMesh, Tag("interval")]
    | Annotated[RectangleMesh, Tag("rectangle")]
    | Annotated[BoxMesh, Tag("box")]
    | Annotated[PlateWithHoleMesh, Tag("plate_with_hole")]
    | Annotated[QuarterAnnulusMesh, Tag("quarter_annulus")]
    | Annotated[BracketMesh, Tag("bracket")]
    | Annotated[FurnaceMesh, Tag("furnace")]
    | Annotated[FileMesh, Tag("file")],
    Discriminator(
        _mesh_kind,
        custom_error_type="mesh_kind",
        custom_error_message=(
            "expected 'file: PATH' or 'generator:' one of " + ", ".join(GENERATOR_REGIONS)
        ),
    ),
]


GENERATOR_GDIM = {
    "interval": 1,
    "rectangle": 2,
    "plate_with_hole": 2,
    "quarter_annulus": 2,
    "box": 3,
    "bracket": 3,
    "furnace": 2,
}
