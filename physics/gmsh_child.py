"""Run a gmsh `.geo` script, or read a mesh file through meshio, in a process of its own,
bounded in time and memory.

A `.geo` file is a program. `twinkit.physics.geo_script` refuses what could act outside the
mesh, but what is left can still hurt the process that runs it: a loop runs forever, point
sizes, `Mesh.MeshSizeFactor`, size fields, transfinite counts or extrusion layers ask for far
more cells than `solver.limits.max_cells` (the size check sees only the bounding box and the
case's `size`), and gmsh itself can crash on a careless script (`Printf("%s", 1)` reads a number
as a string). So twinkit runs the checked script here, in a child process with an address-space
limit and a timeout (`run`): the parent gets the regions' names, or a `.msh` file that it reads
as data, or a `MeshError` that names the file and what went wrong.

Other formats (Abaqus `.inp`, MED, VTU, ...) are data, but compressed data: 2.7 MB of VTU
inflated to 1.2 GB of points (3.5 GB of memory in `twinkit validate`), and MED is HDF5, whose
datasets compress as well. meshio reads them here too (modes ``meshio-regions``,
``meshio-mesh``), the mesh handed back as MSH 2.2 with gmsh physical groups from its cell sets.

    python -P gmsh_child.py MODE FILE OUT SIZE MAX_CELLS MEMORY_BYTES

(run as a file, not as ``-m twinkit.physics...``: the child imports gmsh, or meshio, only.) The
child writes ``OUT``: the regions as JSON (``regions``) or the mesh as `.msh` (``mesh``); a
refusal is one line on stderr after ``ERROR_MARK`` and exit code ``REFUSED``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REFUSED = 3
ERROR_MARK = "twinkit-mesh-error: "
GIB = 1024**3
# the child's limits: running a script (no meshing) and meshing, plus per million cells allowed
SCRIPT_SECONDS = 60.0
MESH_SECONDS_PER_MILLION = 60.0
MEMORY_BASE = 1 * GIB
MEMORY_PER_CELL = 1024  # bytes of address space per cell allowed (gmsh's 3D mesher: ~0.3 kB)
DEFAULT_MAX_CELLS = 5_000_000  # `solver.limits.max_cells`' default
MAX_SECONDS = 7 * 86400.0  # whatever max_cells allows (poll() takes at most 2^31 ms)


def _cell_limit(max_cells: float | None) -> float:
    """The most cells a mesh may have: ``max_cells``, or `solver.limits.max_cells`' default."""
    return DEFAULT_MAX_CELLS if max_cells is None else max_cells


def limits(mode: str, max_cells: float | None) -> tuple[float, int]:
    """Seconds and bytes of address space the child may use."""
    cells = _cell_limit(max_cells)
    reads_all = mode in ("mesh", "meshio-regions", "meshio-mesh")
    seconds = SCRIPT_SECONDS + (MESH_SECONDS_PER_MILLION * cells / 1e6 if reads_all else 0)
    return min(seconds, MAX_SECONDS), int(min(MEMORY_BASE + MEMORY_PER_CELL * cells, 2.0**62))


def run(mode: str, geo: Path, out: Path, size: float | None, max_cells: float | None) -> None:
    """Run the (already checked) script ``geo`` in a child (``mode`` regions or mesh, writing
    ``out``), or read the mesh file ``geo`` with meshio (meshio-regions, meshio-mesh); MeshError
    naming ``geo`` if it is refused, fails, crashes or exceeds its limits."""
    from twinkit.physics.regions import MeshError

    size, max_cells = (None if v is None else float(v) for v in (size, max_cells))  # NumPy's
    seconds, memory = limits(mode, max_cells)
    tool, did, doing = ("gmsh", "ran this script", "running this script")
    if mode.startswith("meshio"):
        tool, did, doing = ("meshio", "read this file", "reading this file")
    args = [sys.executable, "-P", __file__, mode, str(geo), str(out),
            repr(size), repr(max_cells), str(memory)]  # fmt: skip
    # one thread for numpy's BLAS (gmsh imports numpy): many threads may not fit the memory limit
    env = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        # a home of its own, removed after: gmsh's GUI library writes its preferences under
        # $HOME at every start (~/.fltk), and reads ~/.petscrc; neither is the script's folder
        with tempfile.TemporaryDirectory(prefix="twinkit-gmsh-home-") as home:
            done = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=seconds,
                check=False,
                env=env | {"HOME": home, "XDG_CONFIG_HOME": home},
            )
    except subprocess.TimeoutExpired:
        raise MeshError(
            f"{geo}: {tool} {did} for more than {seconds:.0f} s"
            + (
                " (the limit for running a script without meshing it)"
                if mode == "regions"
                else f" (the limit for solver.limits.max_cells = {_cell_limit(max_cells):,.0f})"
            )
            + "; stopped"
        ) from None
    if done.returncode == 0:
        return
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith(ERROR_MARK)]
    if done.returncode == REFUSED and lines:
        raise MeshError(f"{geo}: {lines[-1][len(ERROR_MARK) :]}")
    if done.returncode == -signal.SIGSEGV:  # e.g. a Printf format that does not fit its values
        raise MeshError(f"{geo}: {tool} crashed (SIGSEGV) {doing}")
    name = signal.Signals(-done.returncode).name if done.returncode < 0 else done.returncode
    tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
    raise MeshError(
        f"{geo}: {tool} failed {doing} ({name}: {tail[0][:200]}; its memory limit: "
        f"{memory / GIB:.1f} GiB, from solver.limits.max_cells)"
    )


def _limit_self(memory: int, limit: tuple[float, int]) -> int:
    """Bound this process by itself too, not only by the parent's timeout: its address space
    (within the hard limit a shell may have set, `ulimit -v`), its CPU time, and its life (Linux:
    killed when the parent dies, by SIGKILL or the OOM killer, so that a looping script does not
    run on). Returns the address space allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        memory = min(memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
    cpu = int(limit[0]) + 5
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    if cpu_hard == resource.RLIM_INFINITY or cpu < cpu_hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu_hard))
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() == 1:  # the parent died before the line above
        sys.exit(REFUSED)
    return memory


def _cells(gmsh, dim: int) -> int:
    _, tags, _ = gmsh.model.mesh.getElements(dim)
    return sum(len(t) for t in tags)


def _main(argv: list[str]) -> int:
    mode, geo, out, size_s, cells_s, memory_s = argv
    size = None if size_s == "None" else float(size_s)
    max_cells = None if cells_s == "None" else float(cells_s)
    memory = _limit_self(int(memory_s), limits(mode, max_cells))
    if mode.startswith("meshio"):
        return _meshio_main(mode, Path(geo), Path(out), max_cells, memory)
    import gmsh

    gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    try:
        gmsh.open(geo)
    except Exception as e:
        return refuse(f"gmsh could not read it ({e})")
    groups = gmsh.model.getPhysicalGroups()
    dim = max((d for d, _ in groups), default=gmsh.model.getDimension())
    loose = _ungrouped(gmsh, dim) if groups else []
    if loose:  # the mesh file holds the physical groups' cells only (Mesh.SaveAll = 0)
        kind = {1: "curve", 2: "surface", 3: "volume"}.get(dim, "entity")
        return refuse(
            f"{kind}s {', '.join(map(str, loose[:10]))} are in no Physical "
            f"{kind.capitalize()}; the mesh would leave them out: add them to one, or delete them"
        )
    if mode == "regions":
        names = {gmsh.model.getPhysicalName(d, t): d for d, t in groups}
        Path(out).write_text(json.dumps(names))
        return 0
    if size is not None:
        if max_cells is not None:
            box = gmsh.model.getBoundingBox(-1, -1)
            extent = sorted((abs(box[k + 3] - box[k]) for k in range(3)), reverse=True)
            per = 2.3 if dim == 2 else 8.5 if dim == 3 else 1.0  # cells per size^dim
            cells = per * float(_prod(extent[: max(dim, 1)]) / size**dim)
            if cells > max_cells:
                return refuse(
                    f"size {size:g} m makes about {cells:.3g} cells, more than {max_cells:.3g} "
                    "(solver.limits.max_cells; raise it for a mesh this fine)"
                )
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", size)
    try:
        gmsh.model.mesh.generate(dim)
    except Exception as e:
        return refuse(f"gmsh could not mesh it ({e}; memory limit {memory / GIB:.1f} GiB)")
    n = _cells(gmsh, dim)
    if max_cells is not None and n > max_cells:
        return refuse(
            f"its mesh has {n:,} cells, more than {max_cells:,.0f} (solver.limits.max_cells; "
            "raise it for a mesh this fine)"
        )
    # the parent reads the file as the model it meshed: none of the script's save options (an
    # MSH 2.2 file repeats a cell of two physical groups, a scaling factor resizes the mesh)
    for option, value in (("Mesh.Binary", 1), ("Mesh.MshFileVersion", 4.1),
                          ("Mesh.ScalingFactor", 1), ("Mesh.SaveAll", 0),
                          ("Mesh.SaveElementTagType", 1), ("Mesh.PartitionSplitMeshFiles", 0),
                          ("Mesh.SaveParametric", 0), ("Mesh.SaveTopology", 0)):  # fmt: skip
        gmsh.option.setNumber(option, value)
    gmsh.write(out)
    gmsh.finalize()
    return 0


def refuse(msg: str) -> int:
    print(ERROR_MARK + msg, file=sys.stderr)
    return REFUSED


DIMENSION = {"vertex": 0, "line": 1, "triangle": 2, "quad": 2, "tetra": 3, "hexahedron": 3}


def _meshio_main(mode: str, path: Path, out: Path, max_cells: float | None, memory: int) -> int:
    """meshio's reading of ``path``: its regions as JSON, or the mesh as MSH 2.2 whose physical
    groups are the regions (`_with_physical_tags`)."""
    import meshio

    cells = _cell_limit(max_cells)
    try:
        m = meshio.read(path)
    except MemoryError:
        return refuse(
            f"reading it needs more than {memory / GIB:.1f} GiB of memory (the limit for "
            f"solver.limits.max_cells = {cells:,.0f})"
        )
    except SystemExit:  # meshio's way to say that a file is not of the format it names
        return refuse(f"meshio could not read it (not a readable {path.suffix or 'mesh'} file)")
    except Exception as e:
        return refuse(f"meshio could not read it ({e})")
    n = sum(len(b.data) for b in m.cells)
    if n > cells:
        return refuse(
            f"its mesh has {n:,} cells, more than {cells:,.0f} "
            "(solver.limits.max_cells; raise it for a mesh this fine)"
        )
    if mode == "meshio-regions":
        out.write_text(json.dumps(_regions(m)))
        return 0
    try:
        m = _with_physical_tags(m)
    except ValueError as e:
        return refuse(str(e))
    meshio.write(out, m, file_format="gmsh22", binary=False)
    return 0


def _regions(m) -> dict[str, int]:
    """Named regions of a meshio mesh and their dimensions."""
    if m.field_data:
        return {name: int(v[1]) for name, v in m.field_data.items()}
    out = {}
    for name, per_block in m.cell_sets.items():
        if name.startswith("gmsh:"):
            continue
        for block, idx in zip(m.cells, per_block, strict=True):
            if len(idx):
                out[name] = DIMENSION.get(block.type, -1)
    return out


def _with_physical_tags(m):
    """A meshio mesh with gmsh physical tags and names from its cell sets, if it has none."""
    import meshio
    import numpy as np

    if m.field_data and "gmsh:physical" in m.cell_data:
        if "gmsh:geometrical" not in m.cell_data:
            m.cell_data["gmsh:geometrical"] = m.cell_data["gmsh:physical"]
        return m
    if not m.cell_sets:
        raise ValueError("the mesh has no named regions (gmsh physical names or cell sets)")
    blocks, phys, field_data = [], [], {}
    named = {n: s for n, s in m.cell_sets.items() if not n.startswith("gmsh:")}
    for tag, (name, per_block) in enumerate(named.items(), start=1):
        dim = None
        for block, idx in zip(m.cells, per_block, strict=True):
            idx = np.asarray(idx, dtype=int)
            if idx.size == 0:
                continue
            dim = DIMENSION.get(block.type, -1)
            blocks.append(meshio.CellBlock(block.type, block.data[idx]))
            phys.append(np.full(idx.size, tag))
        if dim is not None:
            field_data[name] = np.array([tag, dim])
    # keep only the points the named cells use, numbered contiguously (dolfinx expects that)
    used = np.unique(np.concatenate([b.data.ravel() for b in blocks]))
    renumber = np.full(len(m.points), -1)
    renumber[used] = np.arange(used.size)
    blocks = [meshio.CellBlock(b.type, renumber[b.data]) for b in blocks]
    return meshio.Mesh(
        m.points[used],
        blocks,
        cell_data={"gmsh:physical": phys, "gmsh:geometrical": phys},
        field_data=field_data,
    )


def _ungrouped(gmsh, dim: int) -> list[int]:
    """Entities of dimension ``dim`` in no physical group of that dimension."""
    grouped = {
        e for _, t in gmsh.model.getPhysicalGroups(dim)
        for e in gmsh.model.getEntitiesForPhysicalGroup(dim, t)
    }  # fmt: skip
    return [t for _, t in gmsh.model.getEntities(dim) if t not in grouped]


def _prod(values: list[float]) -> float:
    p = 1.0
    for v in values:
        p *= v
    return p


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
