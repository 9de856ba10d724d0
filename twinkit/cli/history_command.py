"""`twinkit history`: the live twin's history as a table (readings, updates, alerts; CSV or
Parquet), or a virtual field's snapshots as NetCDF (`--field`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinkit.cli.app import CaseArg, app, guard
from twinkit.cli.twin_commands import _DB


@app.command("history")
@guard
def history_command(
    case: CaseArg,
    history: Annotated[
        str | None,
        typer.Option("--history", help=f"Read it here: {_DB}; default runs/<case>/history.sqlite."),
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="readings, updates (with lineage) or alerts.")
    ] = "readings",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="From this plant time (ISO-8601) or this long before the history's newest "
            "record (6h, 30 min; not the wall clock: a replayed history reads the same).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Up to this time or this long before the newest record."),
    ] = None,
    asset: Annotated[
        str | None, typer.Option("--asset", help="Only this asset (default: all).")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or parquet; netcdf with --field.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (CSV: default stdout).")
    ] = None,
    field: Annotated[
        str | None,
        typer.Option(
            "--field",
            help="Instead of a table: this virtual field's snapshots (mean, std) as NetCDF.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="With --field: only the snapshot at or before this time."),
    ] = None,
) -> None:
    """Print or save the live twin's history: readings, updates or alerts, in a time window, or
    a virtual field's snapshots (--field)."""
    if field is not None:
        _fields(case, field, since, until, at, asset, history, fmt, output)
        return
    from twinkit.api.history import history as read
    from twinkit.case import CaseError
    from twinkit.twin.history_read import write_table

    if at is not None:
        raise CaseError(f"--at {at}: only with --field NAME (tables take --since and --until)")
    table = read(case, kind, since, until, asset, history)
    text = write_table(table, fmt or "csv", output)
    if text is not None:
        typer.echo(text, nl=False)
    else:
        typer.echo(f"{len(table)} {kind} rows written to {output}", err=True)


def _fields(case: Path, name: str, since: str | None, until: str | None, at: str | None,
            asset: str | None, url: str | None, fmt: str | None,
            output: Path | None) -> None:  # fmt: skip
    """--field NAME: the snapshots in the window (or the one at --at) into a NetCDF file."""
    from twinkit.api.history import field_at, field_history
    from twinkit.case import CaseError
    from twinkit.files import write_netcdf

    if fmt not in (None, "netcdf"):
        raise CaseError(f"--format {fmt}: --field writes NetCDF (--format netcdf)")
    if output is None:
        raise CaseError(f"--field {name}: needs --output FILE.nc")
    if at is not None:
        if since is not None or until is not None:
            raise CaseError(f"--at {at}: give either --at or --since/--until")
        ds = field_at(case, name, at, asset, url)
        what = f"the snapshot of update {int(ds['update'])}"
    else:
        ds = field_history(case, name, since, until, asset, url)
        what = f"{ds.sizes['time']} snapshots"
    write_netcdf(ds, output)
    typer.echo(f"{what} of {name} written to {output}", err=True)
