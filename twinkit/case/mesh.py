"""The case's `mesh:` section: built-in generators (with their named regions) or a mesh file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    PositiveInt,
    Tag,
)

from twinkit.case.base import Length, Strict


class IntervalMesh(Strict):
    generator: Literal["interval"]
    length: Length
    cells: PositiveInt


class RectangleMesh(Strict):
    generator: Literal["rectangle"]
    length: Length
    height: Length
    cells: tuple[PositiveInt, PositiveInt]
    cell_type: Literal["triangle", "quadrilateral"] = "triangle"


class BoxMesh(Strict):
    generator: Literal["box"]
    length: Length
    width: Length
    height: Length
    cells: tuple[PositiveInt, PositiveInt, PositiveInt]
    cell_type: Literal["tetrahedron", "hexahedron"] = "tetrahedron"


class PlateWithHoleMesh(Strict):
    generator: Literal["plate_with_hole"]
    width: Length
    height: Length
    radius: Length
    size: Length
    hole_size: Length | None = None
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class QuarterAnnulusMesh(Strict):
    generator: Literal["quarter_annulus"]
    inner_radius: Length
    outer_radius: Length
    size: Length
    order: Literal[1, 2] = 1  # 2: curved (quadratic) cells


class BracketMesh(Strict):
    generator: Literal["bracket"]
    thickness: Length
    fillet_radius: Length
    hole_diameter: Length
    size: Length
    width: Length | None = None
    base_length: Length | None = None
    height: Length | None = None


class FurnaceMesh(Strict):
    """Longitudinal section of a melting tank (physics.glass_furnace.furnace_mesh); the boost
    zone exists when `boost_position` is given."""

    generator: Literal["furnace"]
    length: Length
    depth: Length
    batch_length: Length
    inlet_height: Length
    throat_height: Length
    size: Length
    boost_position: Length | None = None
    boost_width: Length | None = None
    boost_height: Length | None = None
    boost_elevation: Length | None = None


class FileMesh(Strict):
    """A gmsh `.geo`/`.msh` file or any meshio format with named regions (path relative to case)."""

    file: str
    size: Length | None = None


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
        return g if g in GENERATOR_REGIONS else None
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
