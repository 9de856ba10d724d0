"""From a case to a surrogate: `validate`, `solve`, `sample`, `train`, and `example`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinkit.cli.app import (
    EXIT_FAILED,
    EXIT_INVALID,
    CaseArg,
    app,
    fail,
    guard,
    out_folder,
    parse_sets,
    rank,
)


@app.command()
@guard
def validate(case: CaseArg) -> None:
    """Check a case file: schema, units, parameter references, mesh file and region names."""
    from twinkit.api.case import load_case
    from twinkit.cli.console import case_table
    from twinkit.pipeline.job import RunOptions
    from twinkit.pipeline.run import prepare

    loaded = load_case(case)
    prepare(case, RunOptions(), loaded.loaded)  # what `run` would refuse: sensor file, settings
    case_table(loaded)


@app.command()
@guard
def solve(
    case: CaseArg,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a parameter: name=value with units (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default runs/<case>).", callback=out_folder),
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG pictures of the fields.")] = True,
) -> None:
    """Solve a case once; write summary.json, fields (XDMF, VTU) and PNGs."""
    from twinkit.api.case import load_case
    from twinkit.case import CaseError
    from twinkit.cli.console import result_table

    c, sets = load_case(case), parse_sets(set_ or [])
    try:  # the message names the option the value came from
        c.spec.parameter_values(sets)
    except CaseError as e:
        raise CaseError(f"{c.path}: parameters: {e}") from None
    if rank() == 0:  # meshing, compiling and solving a case may take a while
        typer.echo(f"solving {c.name} ({c.model}) ...", err=True)  # progress: stderr
    result = c.solve(out, plots, **sets)
    if rank() == 0:
        result_table(result)
    if not result.converged:
        fail(f"the solve failed: {result.solver.message}", EXIT_FAILED)


@app.command()
@guard
def sample(
    case: CaseArg,
    samples: Annotated[int, typer.Option("-n", "--samples", help="Training samples.")] = 64,
    workers: Annotated[int, typer.Option("--workers", help="Local worker processes.")] = 1,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default runs/<case>/data).", callback=out_folder
        ),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="Design: sobol or lhs.")] = "sobol",
    test: Annotated[int, typer.Option("--test", help="Held-out test samples (fixed set).")] = 0,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Run on this Dask scheduler (ADDRESS).")
    ] = None,
    adaptive: Annotated[
        bool, typer.Option("--adaptive", help="Add samples where a surrogate ensemble disagrees.")
    ] = False,
    initial: Annotated[
        int | None, typer.Option("--initial", help="Adaptive: first design size (default n/4).")
    ] = None,
    batch: Annotated[
        int | None, typer.Option("--batch", help="Adaptive: samples per round (default initial/4).")
    ] = None,
    design_samples: Annotated[
        int,
        typer.Option(
            "--design-samples", help="Of the training samples: design varied, the rest nominal."
        ),
    ] = 0,
) -> None:
    """Sweep the parameter ranges (resumable); write dataset.nc and summary.json."""
    from twinkit.api.case import load_case
    from twinkit.cli.console import sweep_line

    if not adaptive and (initial is not None or batch is not None):
        fail("--initial and --batch go with --adaptive", EXIT_INVALID)
    sweep = load_case(case, check_regions=False).sample(
        samples, test, workers, method, out, adaptive, initial, batch, scheduler,
        design_samples=design_samples,
    )  # fmt: skip
    sweep_line(sweep)
    if sweep.counts["ok"] == 0:
        fail("every sample failed", EXIT_FAILED)


@app.command()
@guard
def train(
    case: CaseArg,
    data: Annotated[
        Path | None, typer.Option("--data", help="Sweep folder (default runs/<case>/data).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default runs/<case>).", callback=out_folder),
    ] = None,
    members: Annotated[int, typer.Option("--members", min=1, help="Ensemble members.")] = 5,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="L-BFGS iterations (fields: half).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: the case's).")] = None,
    curve: Annotated[
        bool, typer.Option(help="Also train on subsets for the error-vs-training-size plot.")
    ] = True,
    baselines: Annotated[
        bool, typer.Option(help="Compare with RBF and Gaussian-process baselines.")
    ] = True,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Per output: auto (GP, ensemble or their blend, whichever cross-validates "
            "best), gp or mlp (that family for every output).",
        ),
    ] = "auto",
    kriging: Annotated[
        bool, typer.Option("--kriging", hidden=True, help="Same as --model gp (older name).")
    ] = False,
) -> None:
    """Train a surrogate on a sweep; write surrogate.pt, train_summary.json and PNGs."""
    from twinkit.api.case import load_case
    from twinkit.api.surrogate import train as train_surrogate
    from twinkit.api.sweep import Sweep
    from twinkit.cli.console import train_table

    c = load_case(case, check_regions=False)
    sweep = Sweep.open(c, data)
    sur = train_surrogate(
        sweep, out, members, epochs, seed, curve, baselines,
        model="gp" if kriging else model, plots=True, log=_log,
    )  # fmt: skip
    assert sur.summary is not None
    train_table(sur.summary, sur.summary_path, c.display)


def _log(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
@guard
def example(
    name: Annotated[str, typer.Argument(help="furnace, bracket or heatsink.")],
    folder: Annotated[Path, typer.Argument(help="Where to copy it (new or empty).")],
) -> None:
    """Copy an example case and the files it reads (sensor data, mesh) into FOLDER."""
    from twinkit.api.run import example as copy_example

    path = copy_example(name, folder)
    typer.echo(f"wrote {path}; try: twinkit run {path}")
