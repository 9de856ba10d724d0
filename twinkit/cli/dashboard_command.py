"""`twinkit dashboard`: the live twin's dashboard in the browser, read from its history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinkit.cli.app import app, guard


@app.command()
@guard
def dashboard(
    case: Annotated[
        Path | None, typer.Argument(help="Case file (YAML); none with --fleet.", show_default=False)
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="The history to show: sqlite:///FILE, a file, or postgresql://USER@HOST/DB; "
            "default runs/<case>/history.sqlite.",
        ),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker", help="MQTT broker HOST:PORT: the acknowledge button publishes there."
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Listen on this address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Listen on this port.")] = 5006,
    asset: Annotated[str, typer.Option("--asset", help="The asset (topics plant/<asset>/...).")] = (
        "plant"
    ),
    surrogate: Annotated[
        Path | None,
        typer.Option(
            "--surrogate",
            help="Surrogate for the what-if panel (default runs/<case>/surrogate.pt).",
        ),
    ] = None,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet", help="A fleet file (twinkit fleet): list its assets, a page for each."
        ),
    ] = None,
) -> None:
    """Serve the live twin's dashboard in the browser, read from its history.

    Sensors against the twin ± 2σ, latent parameters and their forecast, virtual sensors, alerts
    (acknowledge), data quality and a what-if panel."""
    import logging

    from twinkit.api.history import history_location
    from twinkit.dashboard import serve
    from twinkit.sensors.mqtt import BrokerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cfg = BrokerConfig.from_address(broker, None) if broker else None
    if (case is None) == (fleet is None):
        from twinkit.case import CaseError

        raise CaseError("give a case file or --fleet FILE (one of them)")
    if fleet is not None:
        from twinkit.dashboard.fleet import serve_fleet
        from twinkit.twin.fleet_file import load_fleet

        say = "fleet dashboard at {} (Ctrl+C stops)"
        serve_fleet(load_fleet(fleet), cfg, host, port, ready=lambda u: typer.echo(say.format(u)))
        return
    assert case is not None
    url = history_location(case, history)
    serve(case, url, cfg, host, port, asset, surrogate,
          ready=lambda u: typer.echo(f"dashboard at {u} (Ctrl+C stops)"))  # fmt: skip
