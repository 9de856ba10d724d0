"""`twinkit solve`: one case, one parameter point, all outputs written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.case.checks import FIELD_UNITS
from twinkit.case.display import DisplayUnits


def solve_case(case_path: Path, overrides: Mapping[str, str], out: Path | None, plots: bool = True):
    """Solve a case file and write summary.json, fields and pictures to `out`.

    Returns the physics Result and the path of summary.json. The summary is written even when the
    solver fails to converge (with `converged: false`), so nothing computed is lost.
    """
    loaded = load_case(case_path)
    return solve_loaded(loaded, overrides, out, plots, DisplayUnits.from_case(loaded.case))


def solve_loaded(
    loaded: LoadedCase,
    overrides: Mapping[str, str],
    out: Path | None,
    plots: bool,
    display: DisplayUnits,
    runner: Any = None,
) -> tuple[Any, Path]:
    """`solve_case` for a case already loaded; pictures in the `display` units. A `runner`
    (`CaseRunner`) kept between calls reuses its mesh and compiled forms."""
    from mpi4py import MPI

    from twinkit.files import write_json
    from twinkit.solve.output import summary, write_fields
    from twinkit.solve.runner import CaseRunner

    try:
        values = loaded.case.parameter_values(overrides)
    except CaseError as e:
        raise CaseError(f"{loaded.path}: parameters: {e}") from None
    out = out or Path("runs") / loaded.name
    comm = MPI.COMM_WORLD
    runner = runner or CaseRunner(loaded, comm)
    time, every = loaded.case.solver.time, loaded.case.outputs.fields_every
    series = None
    if time is not None and every is not None:
        from twinkit.solve.output import FieldSeries

        if comm.rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        comm.barrier()
        series = FieldSeries(out, every, time.steps)
    try:
        result = runner.solve(values, on_step=series)
    finally:
        series_files = series.close() if series is not None else []
    units = dict(result.units) | {p: loaded.case.parameter_unit(p) for p in values}
    result.units = units

    wanted = loaded.case.outputs.fields
    fields = result.fields if wanted is None else {}
    for name in wanted or ():
        if name not in result.fields:
            raise CaseError(
                f"{loaded.path}: outputs.fields: '{name}' is not a field of model "
                f"{loaded.case.model}; it has {sorted(result.fields)}"
            )
        fields[name] = result.fields[name]

    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    files = write_fields(out, fields) + series_files
    if plots and loaded.case.outputs.plots and comm.size == 1:
        from twinkit.solve.plotting import plot_field

        velocity = fields.get("velocity")  # drawn as arrows over the temperature
        for name, u in fields.items():
            if u.ufl_shape and name not in ("displacement", "velocity"):
                continue  # a tensor (stress, strain) or principal values: ParaView, not a PNG
            over = velocity if name == "temperature" else None
            unit = units.get(name, FIELD_UNITS.get(name, ""))
            shown = display.linear(name, unit) if unit else None
            plot_field(u, out / f"{name}.png", unit=unit, arrows=over, display=shown)
            files.append(f"{name}.png")
    if result.history:
        from twinkit.solve.output import write_time_series

        if comm.rank == 0:
            write_time_series(out / "timeseries.nc", loaded, result, units)
        files.append("timeseries.nc")
    extra = {
        "dofs": int(runner.model.ndofs),
        "mpi_ranks": comm.size,
        "files": files,
    }
    path = out / "summary.json"
    if comm.rank == 0:
        write_json(path, summary(loaded, result, units, extra))
    return result, path
