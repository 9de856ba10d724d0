"""`twinkit solve`: one case, one parameter point, all outputs written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from twinkit.case import CaseError, load_case


def solve_case(case_path: Path, overrides: Mapping[str, str], out: Path | None, plots: bool = True):
    """Solve a case file and write summary.json, fields and pictures to `out`.

    Returns the physics Result and the path of summary.json. The summary is written even when the
    solver fails to converge (with `converged: false`), so nothing computed is lost.
    """
    from mpi4py import MPI

    from twinkit.solve.output import summary, write_fields, write_json
    from twinkit.solve.runner import CaseRunner

    loaded = load_case(case_path)
    try:
        values = loaded.case.parameter_values(overrides)
    except CaseError as e:
        raise CaseError(f"{loaded.path}: parameters: {e}") from None
    out = out or Path("runs") / loaded.name
    comm = MPI.COMM_WORLD
    runner = CaseRunner(loaded, comm)
    result = runner.solve(values)
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
    files = write_fields(out, fields)
    if plots and loaded.case.outputs.plots and comm.size == 1:
        from twinkit.solve.plotting import plot_field

        velocity = fields.get("velocity")  # drawn as arrows over the temperature
        for name, u in fields.items():
            over = velocity if name == "temperature" else None
            unit = units.get(name, _field_unit(name))
            plot_field(u, out / f"{name}.png", unit=unit, arrows=over)
            files.append(f"{name}.png")
    extra = {
        "dofs": int(runner.model.ndofs),
        "mpi_ranks": comm.size,
        "files": files,
    }
    path = out / "summary.json"
    if comm.rank == 0:
        write_json(path, summary(loaded, result, units, extra))
    return result, path


def _field_unit(name: str) -> str:
    return {
        "temperature": "K",
        "displacement": "m",
        "von_mises": "Pa",
        "velocity": "m/s",
        "pressure": "Pa",
    }.get(name, "")
