"""Designs and the main job: `optimize` and `run`."""

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
    is_user_error,
    out_folder,
    parse_sets,
    state,
)


@app.command()
@guard
def optimize(
    case: CaseArg,
    trials: Annotated[
        int, typer.Option("--trials", help="Total finished trials the study should hold.")
    ] = 200,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna storage URL (default sqlite:///<out>/study.db)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the case's name).")
    ] = None,
    surrogate: Annotated[
        Path | None,
        typer.Option("--surrogate", help="Surrogate file (default runs/<case>/surrogate.pt)."),
    ] = None,
    verify: Annotated[
        int, typer.Option("--verify", help="FE-solve the best design or K Pareto designs (0: no).")
    ] = 1,
    robust: Annotated[
        float, typer.Option("--robust", help="Judge designs by mean ± K·std of the surrogate.")
    ] = 0.0,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Largest relative surrogate-vs-FE objective error.")
    ] = 0.01,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Fix a non-design parameter: name=value (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default runs/<case>/optimize).", callback=out_folder
        ),
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write history.png (and pareto.png).")] = True,
    fe_budget: Annotated[
        int,
        typer.Option(
            "--fe-budget",
            help="Spend up to N FE solves chosen by Bayesian optimisation (total in the study).",
        ),
    ] = 0,
    no_surrogate: Annotated[
        bool,
        typer.Option("--no-surrogate", help="With --fe-budget: start from nothing (no sweep)."),
    ] = False,
    ei_tolerance: Annotated[
        float,
        typer.Option("--ei-tolerance", help="Stop when the expected improvement < this × best."),
    ] = 1e-4,
    fe_workers: Annotated[
        int,
        typer.Option(
            "--fe-workers",
            help="With --fe-budget: up to K designs per round, solved at once on K processes.",
        ),
    ] = 1,
) -> None:
    """Optimize the design parameters on the surrogate; verify the best designs with FE.

    With --fe-budget N the FE solves are chosen one at a time (in rounds of up to K with
    --fe-workers K) by a constrained expected improvement on the surrogate (or, with
    --no-surrogate, on the FE results alone), until the expected improvement left is below
    --ei-tolerance or N solves are spent."""
    from twinkit.api.case import load_case
    from twinkit.api.optimize import optimize as run_study
    from twinkit.api.surrogate import load_surrogate
    from twinkit.cli.console import fe_progress, optimization_table
    from twinkit.optimization.goals import Goals
    from twinkit.training import default_surrogate

    c = load_case(case, check_regions=verify > 0 or fe_budget > 0)
    goals = Goals.from_case(c.loaded, robust)  # a case with nothing to optimise says so first
    if no_surrogate and not fe_budget:
        fail("--no-surrogate needs --fe-budget N (the FE solves to spend)", EXIT_INVALID)
    if fe_workers != 1 and not fe_budget:
        fail("--fe-workers: only with --fe-budget N (the FE search's rounds)", EXIT_INVALID)
    sur = None if no_surrogate else load_surrogate(surrogate or default_surrogate(c.loaded), c)
    result = run_study(
        c,
        sur,
        trials=trials,
        verify=verify,
        robust=robust,
        tolerance=tolerance,
        storage=storage,
        study=study,
        fix=parse_sets(set_ or []),
        out=out,
        plots=plots,
        fe_budget=fe_budget,
        ei_tolerance=ei_tolerance,
        progress=fe_progress(c, goals.units) if fe_budget else None,
        fe_workers=fe_workers,
    )
    failure = optimization_table(result)
    if failure:
        fail(failure, EXIT_FAILED)


@app.command()
@guard
def run(
    case: CaseArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder (default runs/<case>).", callback=out_folder),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("-n", "--samples", help="Training samples (default: run.samples).")
    ] = None,
    test: Annotated[int | None, typer.Option("--test", help="Held-out samples (run.test).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Sweep workers.")] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="Optimisation trials.")] = None,
    sensors: Annotated[
        Path | None, typer.Option("--sensors", help="Sensor file (default: run.sensors).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun every stage.")] = False,
) -> None:
    """The main job: solve, sample, train, calibrate, optimize, verify, report.html.

    Stages whose inputs did not change since their last run are skipped (OUT/run.json)."""
    from twinkit.api.case import load_case
    from twinkit.api.run import run as run_job
    from twinkit.pipeline.job import StageError

    try:
        run_job(load_case(case), out, samples, test, workers, trials, sensors, force)
    except StageError as e:
        if state["debug"]:
            raise
        code = EXIT_INVALID if is_user_error(e.cause) else EXIT_FAILED
        fail(f"{e} (earlier stages' outputs are kept; run with --debug for the traceback)", code)
