"""One sweep worker: solves samples with one CaseRunner, so forms compile once per worker.

`run_sample` is the task that local worker processes and Dask workers run. It never raises for a
failed solve: an exception or a solver that did not converge becomes a record with status
"failed" and its message, and the sweep goes on.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twinkit.sweep.store import FAILED, OK, SampleRecord, VertexMesh

_workers: dict[tuple[str, str], SampleWorker] = {}
_lock = threading.Lock()  # a Dask worker may run tasks in threads; DOLFINx objects are not shared


class SampleWorker:
    """Solves samples of one case in this process, reusing mesh and compiled forms."""

    def __init__(self, case_path: str, case_hash: str, store_fields: bool):
        from mpi4py import MPI  # before dolfinx (PyPI wheels)

        from twinkit.case import load_case
        from twinkit.solve.runner import CaseRunner

        self.loaded = load_case(case_path, check_regions=False)
        if self.loaded.hash != case_hash:
            raise RuntimeError(
                f"{case_path}: the case file on this worker differs from the sweep's "
                f"(hash {self.loaded.hash}, expected {case_hash})"
            )
        self.runner = CaseRunner(self.loaded, MPI.COMM_SELF, anchored=True)
        self.store_fields = store_fields
        self._mesh: Any = None
        self._vertex_mesh: VertexMesh | None = None
        self._spaces: dict[tuple[int, ...], Any] = {}
        self._geometry_hash = ""

    def run(self, index: int, values: Mapping[str, float]) -> SampleRecord:
        t0 = time.perf_counter()
        try:
            result = self.runner.solve(values)
            s = result.solver
            rec = SampleRecord(index, OK if s.converged else FAILED, s.message, 0.0, s.iterations)
            if not s.converged:
                rec.message = s.message or "the solver did not converge"
            else:
                rec.qoi, rec.sensors = dict(result.qoi), dict(result.sensors)
                rec.units = dict(result.units)
                meshes = [u.function_space.mesh for u in result.fields.values()]
                rec.mesh_hash = self._mesh_hash((meshes or [self.runner.domain.mesh])[0])
                if self.store_fields:
                    wanted = self.loaded.case.outputs.fields
                    rec.fields = {
                        k: self._at_vertices(u)
                        for k, u in result.fields.items()
                        if wanted is None or k in wanted
                    }
                    rec.mesh = self._vertex_mesh
        except Exception as e:  # noqa: BLE001 - a failed sample is data, the sweep goes on
            rec = SampleRecord(index, FAILED, f"{type(e).__name__}: {e}")
        rec.seconds = time.perf_counter() - t0
        return rec

    def _mesh_hash(self, mesh: Any) -> str:
        if mesh is not self._mesh:
            self._mesh, self._spaces, self._vertex_mesh = mesh, {}, None
            h = hashlib.sha256(np.ascontiguousarray(mesh.geometry.x).tobytes())
            h.update(np.ascontiguousarray(mesh.geometry.dofmaps[0]).tobytes())
            self._geometry_hash = h.hexdigest()[:16]
        return self._geometry_hash

    def _at_vertices(self, u: Any) -> np.ndarray:
        """Values of `u` at the mesh vertices: its interpolant in P1 (vector P1 for vectors)."""
        from dolfinx import fem

        mesh = u.function_space.mesh
        self._mesh_hash(mesh)
        shape = tuple(u.ufl_shape)
        if shape not in self._spaces:
            self._spaces[shape] = fem.functionspace(mesh, ("Lagrange", 1, shape))
        V = self._spaces[shape]
        if self._vertex_mesh is None:
            V1 = fem.functionspace(mesh, ("Lagrange", 1))
            self._vertex_mesh = _vertex_mesh(V1, self._geometry_hash)
        if not np.array_equal(V.dofmap.list, self._vertex_mesh.cells):
            raise RuntimeError(f"field '{u.name}': its P1 space numbers the vertices differently")
        w = fem.Function(V)
        w.interpolate(u)
        n = V.dofmap.index_map.size_local
        values = w.x.array[: n * V.dofmap.index_map_bs]
        return values.reshape(n, -1) if shape else values.copy()


def _vertex_mesh(V1: Any, mesh_hash: str) -> VertexMesh:
    """Node coordinates and cells of a scalar P1 space (its dofs are the mesh vertices)."""
    n = V1.dofmap.index_map.size_local
    nodes = np.ascontiguousarray(V1.tabulate_dof_coordinates()[:n], dtype=np.float64)
    cells = np.ascontiguousarray(V1.dofmap.list, dtype=np.int64)
    return VertexMesh(nodes, cells, V1.mesh.topology.cell_type.name, mesh_hash)


def run_sample(
    case_path: str, case_hash: str, store_fields: bool, index: int, values: Mapping[str, float]
) -> SampleRecord:
    """Solve sample `index` at `values` (SI) with this process's worker for the case."""
    key = (str(Path(case_path).resolve()), case_hash)
    with _lock:
        worker = _workers.get(key)
        if worker is None:
            try:
                worker = _workers[key] = SampleWorker(case_path, case_hash, store_fields)
            except Exception as e:  # noqa: BLE001
                return SampleRecord(index, FAILED, f"{type(e).__name__}: {e}")
        return worker.run(index, values)


def init_worker(case_path: str, case_hash: str, store_fields: bool) -> None:
    """Process-pool initializer: exit with the parent (and leave Ctrl-C to it); build the worker
    before the first task."""
    from twinkit.process import worker_process

    worker_process()  # Ctrl-C reaches the sweep, which ends us; a sweep killed with -9 too
    key = (str(Path(case_path).resolve()), case_hash)
    try:
        _workers[key] = SampleWorker(case_path, case_hash, store_fields)
    except Exception:  # noqa: BLE001 - run_sample tries again and records the failure
        pass
