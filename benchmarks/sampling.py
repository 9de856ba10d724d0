"""Sweep throughput: N samples on K workers against N x (single solve time) / K.

The single solve time is the mean wall time of one sample (mesh if it changes, solve, outputs) in
a warm process: the same N design points solved one after the other by one `SampleWorker`, after
one warm-up solve that compiles the forms. Each sweep is then run from scratch with
`twinkit.sweep.run.run_sweep` (design, worker start-up, per-sample files, dataset assembly) for each
K, and its wall time is compared with the ideal N x t / K. Target: ratio <= 1.15.

    .venv/bin/python benchmarks/sampling.py                      # bracket, N = 16, K = 1, 2
    .venv/bin/python benchmarks/sampling.py --case cases/heatsink.yaml -n 64 --workers 1 2 4
"""

from __future__ import annotations

import os

# PETSc's OpenBLAS is single-threaded; keep numpy's from spinning against the workers
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from mpi4py import MPI  # noqa: E402, F401  (before petsc4py)

ROOT = Path(__file__).parents[1]


def single_solve_seconds(case: Path, n: int, method: str) -> tuple[float, float, float, int]:
    """Mean wall and CPU seconds per sample in one warm process, the first (cold) one's wall
    seconds, and the DOFs."""
    from twinkit.case import load_case
    from twinkit.sweep.design import make_design
    from twinkit.sweep.worker import SampleWorker

    loaded = load_case(case)
    design = make_design(loaded, n, method)
    store_fields = not (loaded.case.mesh_parameters() & set(design.inputs))
    worker = SampleWorker(str(case), loaded.hash, store_fields)
    t0 = time.perf_counter()
    worker.run(-1, loaded.case.parameter_values())  # warm-up: compiles the forms
    cold = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        rec = worker.run(i, design.values(loaded.case, i))
        if rec.status != "ok":
            print(f"  sample {i} failed: {rec.message}")
    wall, cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
    return wall, cpu, cold, int(worker.runner.model.ndofs)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the sweep's worker processes)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def sweep_seconds(case: Path, n: int, workers: int, method: str, folder: Path) -> dict:
    from twinkit.sweep.run import SweepOptions, run_sweep

    t0, c0 = time.perf_counter(), cpu_seconds()
    summary = run_sweep(case, folder, SweepOptions(n, method, workers=workers, progress=False))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"wall_s": wall, "cpu_s": cpu, "ok": summary["counts"]["ok"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", type=Path, default=ROOT / "cases" / "bracket.yaml")
    ap.add_argument("-n", "--samples", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--method", default="sobol", choices=["sobol", "lhs"])
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    case, n = args.case.resolve(), args.samples

    t1, c1, cold, ndofs = single_solve_seconds(case, n, args.method)
    print(f"case {case.name}, N = {n} samples ({args.method}), {os.cpu_count()} CPUs")
    print(f"single solve (warm process, mean over the N points): {t1:.3f} s wall, {c1:.3f} s CPU")
    print(f"first solve in a process (forms compiled or from cache): {cold:.3f} s; DOFs {ndofs}")
    print(f"load average before the sweeps: {os.getloadavg()[0]:.2f}")
    head = f"{'K':>3} {'wall s':>9} {'ideal N*t/K s':>14} {'ratio':>7} {'samples/s':>10}"
    print(head + f" {'CPU s':>8} {'CPU/(N*t_cpu)':>14}  ok")
    rows = []
    for k in args.workers:
        with tempfile.TemporaryDirectory(prefix="twinkit-sampling-") as tmp:
            r = sweep_seconds(case, n, k, args.method, Path(tmp) / "data")
        ideal = n * t1 / k
        row = {"workers": k, **r, "ideal_s": ideal, "ratio": r["wall_s"] / ideal}
        row["cpu_ratio"] = r["cpu_s"] / (n * c1)
        rows.append(row)
        print(
            f"{k:>3} {r['wall_s']:>9.2f} {ideal:>14.2f} {row['ratio']:>7.3f} "
            f"{n / r['wall_s']:>10.3f} {r['cpu_s']:>8.1f} {row['cpu_ratio']:>14.3f}  {r['ok']}/{n}"
        )
    print("target: ratio <= 1.15 (wall needs K idle cores; CPU/(N*t_cpu) is the sweep's own")
    print("overhead in work, whatever else runs on the machine)")
    if args.json:
        figures = {"case": str(case), "samples": n, "single_s": t1, "single_cpu_s": c1}
        figures |= {"first_s": cold, "loadavg": os.getloadavg()}
        args.json.write_text(json.dumps(figures | {"ndofs": ndofs, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
