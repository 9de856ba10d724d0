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
    "twinkit.case.units": "UnitError",
    "twinkit.physics.domain": "MeshError",
    "twinkit.physics.probes": "ProbeError",
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


def _abort_other_ranks(e: Exception) -> None:
    """Under mpirun, one rank's error would leave the others waiting forever: say it, abort all."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.size == 1:
        return
    code = EXIT_INVALID if _is_user_error(e) else EXIT_FAILED
    typer.secho(f"error (rank {_rank()}): {e}", fg=typer.colors.RED, err=True)
    mpi.COMM_WORLD.Abort(code)


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
            _abort_other_ranks(e)
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
    from twinkit.solve.point import solve_case

    result, summary_path = solve_case(case, _parse_sets(set_ or []), out, plots)
    if _rank() == 0:
        _report(result, summary_path)
    if not result.solver.converged:
        _fail(f"the solver did not converge: {result.solver.message}", EXIT_FAILED)


@app.command()
@_guard
def sample(
    case: CaseArg,
    samples: Annotated[int, typer.Option("-n", "--samples", help="Training samples.")] = 64,
    workers: Annotated[int, typer.Option("--workers", help="Local worker processes.")] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default runs/<case>/data).")
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
) -> None:
    """Sweep the parameter ranges (resumable); write dataset.nc and summary.json."""
    from twinkit.sweep.run import SweepOptions, run_sweep

    opts = SweepOptions(samples, method, test, workers, scheduler)
    if adaptive:
        from twinkit.sweep.adaptive import default_options, run_adaptive

        s = run_adaptive(case, out, opts, default_options(samples, initial, batch))
    elif initial is not None or batch is not None:
        _fail("--initial and --batch go with --adaptive", EXIT_INVALID)
    else:
        s = run_sweep(case, out, opts)
    c, t = s["counts"], s["timings"]
    mean = f"{t['mean_solve_seconds']:.3g} s" if t["mean_solve_seconds"] is not None else "-"
    typer.echo(
        f"{c['ok']} ok, {c['failed']} failed of {c['total']} samples ({c['reused']} already "
        f"done); wall {t['wall_seconds']:.1f} s, mean {mean} per sample; wrote "
        f"{s['folder']}/dataset.nc"
    )
    if "adaptive" in s:
        rounds = s["adaptive"]["rounds"]
        sizes = ", ".join(str(len(r)) for r in rounds)
        typer.echo(f"adaptive design: {len(rounds)} rounds of {sizes} training samples")
    for f in s["failures"][:5]:
        typer.echo(f"  sample {f['sample']} failed: {f['message']}")
    if c["ok"] == 0:
        _fail("every sample failed", EXIT_FAILED)


@app.command()
@_guard
def calibrate(
    case: CaseArg,
    sensors: Annotated[
        Path, typer.Option("--sensors", help="Readings: CSV or Parquet long table.")
    ],
    window: Annotated[
        str | None, typer.Option("--window", help="Use the last WINDOW of data, e.g. 1h.")
    ] = None,
    surrogate: Annotated[
        Path | None,
        typer.Option("--surrogate", help="Surrogate file (default runs/<case>/surrogate.pt)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default runs/<case>/calibration).")
    ] = None,
    restarts: Annotated[int, typer.Option("--restarts", min=1, help="MAP starts.")] = 4,
    mcmc: Annotated[int, typer.Option("--mcmc", min=0, help="MCMC samples (0: none).")] = 0,
    nan: Annotated[
        str, typer.Option("--missing", help="Missing values: skip, hold or flag.")
    ] = "hold",
    verify: Annotated[
        bool, typer.Option("--verify", help="One FE solve at the calibrated point.")
    ] = False,
) -> None:
    """Estimate the latent parameters from sensor data (MAP ± Laplace std); write summary.json."""
    from twinkit.case import CaseError
    from twinkit.twin.calibrate import Options, report, run_calibrate

    if nan not in ("skip", "hold", "flag"):
        raise CaseError(f"--missing {nan}: expected skip, hold or flag")
    opts = Options(window, restarts, mcmc, nan, verify)  # type: ignore[arg-type]
    summary, path = run_calibrate(case, sensors, surrogate, out, opts)
    report(summary, path)


@app.command()
@_guard
def train(
    case: CaseArg,
    data: Annotated[
        Path | None, typer.Option("--data", help="Sweep folder (default runs/<case>/data).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default runs/<case>).")
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
    kriging: Annotated[
        bool,
        typer.Option(
            help="Blend a Gaussian process into each scalar output, weighted by "
            "cross-validation (more accurate on smooth outputs; predictions ~2x slower)."
        ),
    ] = False,
) -> None:
    """Train a surrogate on a sweep; write surrogate.pt, train_summary.json and PNGs."""
    from twinkit.train import report, train_case

    def log(message: str) -> None:
        typer.echo(message, err=True)

    summary, path = train_case(
        case, data, out, members, epochs, seed, curve, baselines, log=log, kriging=kriging
    )
    report(summary, path)


MqttArg = Annotated[str, typer.Option("--mqtt", help="Broker HOST:PORT.")]
AssetOpt = Annotated[str, typer.Option("--asset", help="Topics are plant/<asset>/...")]
TlsOpt = Annotated[bool, typer.Option("--tls", help="Connect with TLS.")]
CaOpt = Annotated[Path | None, typer.Option("--ca", help="TLS: CA certificate file.")]
CertOpt = Annotated[Path | None, typer.Option("--cert", help="TLS: client certificate.")]
KeyOpt = Annotated[Path | None, typer.Option("--key", help="TLS: client key.")]


def _broker(address: str, tls: bool, ca: Path | None, cert: Path | None, key: Path | None):
    """Broker settings; credentials come from TWINKIT_MQTT_USERNAME / _PASSWORD (_FILE)."""
    from twinkit.sensors.mqtt import BrokerConfig

    files = {"ca_certs": ca, "certfile": cert, "keyfile": key}
    given = {k: str(v) for k, v in files.items() if v}
    return BrokerConfig.from_address(address, None, tls=tls or bool(given), **given)


def _seconds(text: str, option: str) -> float:
    from twinkit.case import CaseError
    from twinkit.case.units import UnitError, parse

    try:
        return parse(text, "s")
    except UnitError as e:
        raise CaseError(f"{option} {text}: {e}") from None


@app.command()
@_guard
def live(
    case: CaseArg,
    mqtt: MqttArg,
    asset: AssetOpt = "plant",
    topic: Annotated[
        str | None,
        typer.Option("--topic", help="Subscribe here (default plant/<asset>/sensors/+)."),
    ] = None,
    surrogate: Annotated[
        Path | None,
        typer.Option("--surrogate", help="Surrogate file (default runs/<case>/surrogate.pt)."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="Resume from / save to this file (default runs/<case>/live.json)."
        ),
    ] = None,
    cadence: Annotated[
        str, typer.Option("--cadence", help="Plant time between updates, e.g. 1min.")
    ] = "1 min",
    members: Annotated[int, typer.Option("--members", min=8, help="Ensemble size.")] = 64,
    drift_rate: Annotated[
        float, typer.Option("--drift-rate", help="Allowed drift: prior widths per √hour.")
    ] = 0.1,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    tls: TlsOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Run the live twin: subscribe to sensors, update the estimates, publish state and alerts."""
    import logging

    from twinkit.case import load_case
    from twinkit.twin.live import LiveOptions
    from twinkit.twin.service import live_command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cfg = _broker(mqtt, tls, ca, cert, key)
    name = load_case(case, check_regions=False).name
    state = state or Path("runs") / name / "live.json"
    opts = LiveOptions(asset, _seconds(cadence, "--cadence"), members, drift_rate)
    twin = live_command(case, cfg, surrogate, state, opts, topic, duration)
    q = twin.validator.report()
    typer.echo(
        f"stopped after {twin.updates} updates; readings {q['accepted']} accepted, "
        f"{q['rejected']} rejected; alerts {twin.alerts.count}; state in {state}"
    )


@app.command()
@_guard
def plant(
    case: CaseArg,
    mqtt: MqttArg,
    truth: Annotated[Path, typer.Option("--truth", help="Surrogate file giving the truth.")],
    asset: AssetOpt = "plant",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="The plant's true value of a parameter: name=value."),
    ] = None,
    drift: Annotated[
        list[str] | None,
        typer.Option("--drift", help="Relative drift over the run, e.g. h_wall=0.5 (repeatable)."),
    ] = None,
    duration: Annotated[float, typer.Option("--duration", help="Wall-clock seconds.")] = 60.0,
    rate: Annotated[float, typer.Option("--rate", help="Ticks per second.")] = 10.0,
    speed: Annotated[float, typer.Option("--speed", help="Plant seconds per second.")] = 60.0,
    noise: Annotated[
        float | None,
        typer.Option("--noise", help="Relative sensor noise (default: the case's, else 1 %)."),
    ] = None,
    bad: Annotated[float, typer.Option("--bad", help="Fraction of bad messages.")] = 0.05,
    dropout: Annotated[float, typer.Option("--dropout", help="Fraction dropped.")] = 0.02,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    tls: TlsOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Simulate the plant: publish noisy sensor readings with drift, dropouts and bad messages."""
    from twinkit.case import CaseError, load_case
    from twinkit.twin.plant import PlantOptions
    from twinkit.twin.service import plant_command

    loaded = load_case(case, check_regions=False)
    values = loaded.case.parameter_values(_parse_sets(set_ or []))
    start = {n: values[n] for n in _parse_sets(set_ or [])}
    drifts = {}
    for n, v in _parse_sets(drift or []).items():
        try:
            drifts[n] = float(v)
        except ValueError:
            raise CaseError(f"--drift {n}={v}: expected a relative change, e.g. 0.5") from None
    opts = PlantOptions(
        asset, rate, speed, duration, start, drifts, noise, 0.001, dropout, bad, seed
    )
    sent = plant_command(case, _broker(mqtt, tls, ca, cert, key), truth, opts)
    typer.echo(f"published: {sent}")


@app.command()
@_guard
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
    refine: Annotated[
        bool, typer.Option("--refine", help="Retrain on FE results until a design verifies.")
    ] = False,
    refine_rounds: Annotated[int, typer.Option("--refine-rounds", help="Most retrains.")] = 3,
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
        Path | None, typer.Option("--out", help="Output folder (default runs/<case>/optimize).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write history.png (and pareto.png).")] = True,
) -> None:
    """Optimize the design parameters on the surrogate; verify the best designs with FE."""
    from twinkit.optimize.driver import Options, optimize_case, report

    opts = Options(
        trials=trials,
        storage=storage,
        study=study,
        surrogate=surrogate,
        verify=verify,
        refine=refine,
        refine_rounds=refine_rounds,
        robust=robust,
        tolerance=tolerance,
        out=out,
        plots=plots,
        overrides=_parse_sets(set_ or []),
    )
    summary, path = optimize_case(case, opts)
    failure = report(summary, path)
    if failure:
        _fail(failure, EXIT_FAILED)


@app.command()
@_guard
def run(
    case: CaseArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder (default runs/<case>).")
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
    from twinkit.run.pipeline import RunOptions, StageError, run_case

    opts = RunOptions(out, samples, test, workers, trials, sensors, force)
    try:
        run_case(case, opts)
    except StageError as e:
        if _state["debug"]:
            raise
        code = EXIT_INVALID if _is_user_error(e.cause) else EXIT_FAILED
        _fail(f"{e} (earlier stages' outputs are kept; run with --debug for the traceback)", code)


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
