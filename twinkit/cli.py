"""The `twinkit` command line. Thin: parse, call, report. Heavy imports happen inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="twinkit: physics-based product twins from case files.",
)
_state = {"debug": False}

EXIT_INVALID = 2  # bad case file, unit, mesh, option
EXIT_FAILED = 1  # the computation ran but did not succeed (e.g. solver did not converge)

USER_ERRORS = {
    "twinkit.case": "CaseError",
    "twinkit.units": "UnitError",
    "physics.domain": "MeshError",
    "physics.probes": "ProbeError",
}


def _is_user_error(e: BaseException) -> bool:
    for module, cls in USER_ERRORS.items():
        mod = sys.modules.get(module)
        if mod is not None and isinstance(e, getattr(mod, cls)):
            return True
    return False


def _rank() -> int:
    mpi = sys.modules.get("mpi4py.MPI")
    return int(mpi.COMM_WORLD.rank) if mpi is not None else 0


def _fail(message: str, code: int) -> NoReturn:
    if _rank() == 0:
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _guard(fn):
    """Run a command body; user errors become one message and exit code 2, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as e:
            if _state["debug"]:
                raise
            if _is_user_error(e):
                _fail(str(e), EXIT_INVALID)
            _fail(f"{type(e).__name__}: {e} (run with --debug for the traceback)", EXIT_FAILED)

    return wrapper


def _version(value: bool) -> None:
    if value:
        from twinkit import __version__

        typer.echo(f"twinkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


CaseArg = Annotated[Path, typer.Argument(help="Case file (YAML).", show_default=False)]


@app.command()
@_guard
def validate(case: CaseArg) -> None:
    """Check a case file: schema, units, parameter references, mesh file and region names."""
    from rich.console import Console
    from rich.table import Table

    from twinkit.case import load_case

    loaded = load_case(case)
    c = loaded.case
    con = Console()
    con.print(
        f"[green]ok[/green] {case}: case '{loaded.name}', model {c.model}, hash {loaded.hash}"
    )
    if c.parameters:
        t = Table("parameter", "role", "nominal (SI)", "range (SI)", "unit")
        for name, p in c.parameters.items():
            lo, hi = p.bounds
            rng = f"[{lo:.6g}, {hi:.6g}]" + (" log" if p.scale == "log" else "")
            t.add_row(name, p.role, f"{p.si:.6g}", rng if p.range else "", c.parameter_unit(name))
        con.print(t)


def _parse_sets(sets: list[str]) -> dict[str, str]:
    out = {}
    for s in sets:
        name, eq, value = s.partition("=")
        if not eq or not name.strip() or not value.strip():
            from twinkit.case import CaseError

            raise CaseError(f"--set '{s}': expected name=value, e.g. --set thickness='6 mm'")
        out[name.strip()] = value.strip()
    return out


@app.command()
@_guard
def solve(
    case: CaseArg,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a parameter: name=value with units (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default runs/<case>).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG pictures of the fields.")] = True,
) -> None:
    """Solve a case once; write summary.json, fields (XDMF, VTU) and PNGs."""
    from twinkit.solve import solve_case

    result, summary_path = solve_case(case, _parse_sets(set_ or []), out, plots)
    if _rank() == 0:
        _report(result, summary_path)
    if not result.solver.converged:
        _fail(f"the solver did not converge: {result.solver.message}", EXIT_FAILED)


def _report(result, summary_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table("output", "value", "unit", title="results (SI)")
    for kind in ("qoi", "sensors"):
        for name, v in getattr(result, kind).items():
            t.add_row(name, f"{v:.6g}", result.units.get(name, ""))
    con.print(t)
    s = result.solver
    con.print(
        f"solver: converged={s.converged} iterations={s.iterations} seconds={s.seconds:.2f}; "
        f"wrote {summary_path}"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
