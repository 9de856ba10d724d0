"""Furnace performance and mesh convergence; Blankenbach 1a against a plain DOLFINx script.

    python benchmarks/furnace.py            # everything (≈ 25 min on 2 cores)
    python benchmarks/furnace.py --quick    # skip the finest mesh
    python benchmarks/furnace.py --corners  # also every corner of the parameter box

Prints: DOFs, Newton iterations and seconds of the first furnace solve at the default resolution
and of later solves in the same process at other parameter values (warm start, forms compiled
once); the QoIs on a sequence of meshes with their change against the finest; Blankenbach 1a with
twinkit and with benchmarks/blankenbach_bare.py (same discretisation), first and warm solve.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # the bare script next to this file

QOIS = ("min_temperature", "mean_temperature", "spring_zone", "heat_input", "max_velocity")
SENSOR = "TC_bottom_3"


def _case(size: str | None = None, path: Path = ROOT / "cases" / "furnace.yaml"):
    from twinkit.case import load_case

    if size is None:
        return load_case(path)
    text = path.read_text().replace("  size: 0.125 m", f"  size: {size}")
    tmp = Path(tempfile.mkdtemp()) / "furnace.yaml"
    tmp.write_text(text)
    return load_case(tmp)


def furnace_timings(later: int = 6) -> None:
    from twinkit.solve.runner import CaseRunner
    from twinkit.sweep.design import make_design

    loaded = _case()
    c = loaded.case
    t0 = time.perf_counter()
    runner = CaseRunner(loaded)
    r = runner.solve(c.parameter_values())
    build = time.perf_counter() - t0 - r.solver.seconds
    print(f"furnace default mesh: {runner.model.ndofs} DOFs; mesh + forms {build:.2f} s")
    print(f"  first solve : {r.solver.seconds:6.2f} s, {r.solver.iterations:4d} Newton its")
    design = make_design(loaded, later)  # the points `twinkit sample -n LATER` would solve
    means = {}
    for start in ("last solution", "anchor (nominal)"):
        if start.startswith("anchor"):  # as sweep workers run: every solve from the nominal state
            runner.solve(c.parameter_values())
            runner.model.set_anchor()
        times = []
        for i in range(later):
            s = runner.solve(design.values(c, i)).solver
            times.append(s.seconds)
            print(
                f"  later solve from {start}: {s.seconds:6.2f} s, {s.iterations:4d} Newton its, "
                f"converged={s.converged}"
            )
        means[start] = mean = sum(times) / len(times)
        print(f"  later solves from {start}: mean {mean:.2f} s = "
              f"{mean / r.solver.seconds:.2f} × the first")  # fmt: skip
    a, b = means.values()
    print(f"  anchored / last-solution start: {b / a:.2f}")
    print(f"  target: default solve < 20 s: {'met' if r.solver.seconds < 20 else 'NOT met'}")


def corners() -> None:
    """All 2ⁿ corners of the parameter box, each started from the nominal state (as sweeps run)."""
    from twinkit.solve.runner import CaseRunner
    from twinkit.sweep.design import varied_parameters

    loaded = _case()
    c = loaded.case
    names = varied_parameters(loaded)
    runner = CaseRunner(loaded, anchored=True)
    print(f"corners of the box ({' '.join(names)}; bit 0 = lower bound):")
    failed, seconds, nan = 0, [], float("nan")
    for corner in range(2 ** len(names)):
        values = c.parameter_values() | {
            n: c.parameters[n].bounds[(corner >> j) & 1] for j, n in enumerate(names)
        }
        r = runner.solve(values)
        seconds.append(r.solver.seconds)
        failed += not r.solver.converged
        bits = format(corner, f"0{len(names)}b")[::-1]
        print(
            f"  {bits} converged={r.solver.converged} its={r.solver.iterations:4d} "
            f"{r.solver.seconds:6.1f} s  min T {r.qoi.get('min_temperature', nan):.1f} K, "
            f"heat input {r.qoi.get('heat_input', nan) / 1e3:.1f} kW/m"
        )
    print(f"  {failed} of {len(seconds)} corners failed; {sum(seconds):.0f} s in all")


def mesh_convergence(sizes: list[str]) -> None:
    from twinkit.solve.runner import CaseRunner

    rows = []
    for size in sizes:
        loaded = _case(size)
        runner = CaseRunner(loaded)
        r = runner.solve(loaded.case.parameter_values())
        rows.append((size, runner.model.ndofs, r))
        print(
            f"  size {size}: {runner.model.ndofs} DOFs, {r.solver.seconds:.1f} s, "
            f"converged={r.solver.converged}"
        )
    ref = rows[-1][2]
    print(f"{'size':>8} {'DOFs':>7} " + " ".join(f"{q:>22}" for q in (*QOIS, SENSOR)))
    for size, ndofs, r in rows:
        if not r.solver.converged:
            print(f"{size:>8} {ndofs:>7} did not converge")
            continue
        cells = []
        for q in QOIS:
            v, v_ref = r.qoi[q], ref.qoi[q]
            cells.append(f"{v:12.5g} ({(v - v_ref) / abs(v_ref):+7.2%})")
        v, v_ref = r.sensors[SENSOR], ref.sensors[SENSOR]
        cells.append(f"{v:12.5g} ({(v - v_ref) / abs(v_ref):+7.2%})")
        print(f"{size:>8} {ndofs:>7} " + " ".join(cells))


def blankenbach() -> None:
    import blankenbach_bare

    from twinkit.solve.runner import CaseRunner

    loaded = _case(path=ROOT / "cases" / "benchmarks" / "blankenbach_1a.yaml")
    runner = CaseRunner(loaded)
    tw = []
    for ra in (1e4, 1.05e4):
        r = runner.solve({"Ra": ra})
        tw.append((r.solver.seconds, r.solver.iterations, r.qoi["Nu"], r.qoi["vrms"]))
    bare = blankenbach_bare.solve(32, (1e4, 1.05e4))
    print(f"Blankenbach 1a, 32×32, {runner.model.ndofs} DOFs (bare {bare[0]['ndofs']})")
    print(f"{'':14} {'first s':>8} {'its':>4} {'warm s':>7} {'its':>4} {'Nu':>10} {'Vrms':>10}")
    print(
        f"{'twinkit':14} {tw[0][0]:8.2f} {tw[0][1]:4d} {tw[1][0]:7.2f} {tw[1][1]:4d} "
        f"{tw[0][2]:10.6f} {tw[0][3]:10.5f}"
    )
    b0, b1 = bare
    print(
        f"{'plain DOLFINx':14} {b0['seconds']:8.2f} {b0['iterations']:4d} {b1['seconds']:7.2f} "
        f"{b1['iterations']:4d} {b0['Nu']:10.6f} {b0['vrms']:10.5f}"
    )
    print(
        f"ratio twinkit/plain: first {tw[0][0] / b0['seconds']:.2f}, "
        f"warm {tw[1][0] / b1['seconds']:.2f}"
        "  (reference Nu 4.884409, Vrms 42.864947)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the finest mesh")
    ap.add_argument("--corners", action="store_true", help="also solve every corner of the box")
    args = ap.parse_args(argv)
    furnace_timings()
    if args.corners:
        corners()
    sizes = ["0.2 m", "0.15 m", "0.125 m", "0.1 m", "0.07 m"] + ([] if args.quick else ["0.05 m"])
    print("mesh convergence (change against the finest):")
    mesh_convergence(sizes)
    blankenbach()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
