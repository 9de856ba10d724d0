"""`twinkit fleet`: one live-twin service for the assets of a fleet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinkit.cli.app import app, guard


@app.command()
@guard
def fleet(
    file: Annotated[Path, typer.Argument(help="Fleet file (YAML).", show_default=False)],
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker HOST:PORT (default the file's broker).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only read and check the fleet file and its cases.")
    ] = False,
    dashboard: Annotated[
        str | None,
        typer.Option("--dashboard", help="Also serve the fleet's dashboard at HOST:PORT."),
    ] = None,
    tls: Annotated[bool, typer.Option("--tls", help="Connect with TLS.")] = False,
    ca: Annotated[Path | None, typer.Option("--ca", help="TLS: CA certificate file.")] = None,
) -> None:
    """Run the live twins of several assets (a fleet file) in one service.

    One broker connection, a twin per asset (its case, surrogate, state, history, topics), a fleet
    summary on fleet/<name>/state."""
    import logging

    from twinkit.case import CaseError, load_case
    from twinkit.sensors.mqtt import BrokerConfig
    from twinkit.twin.fleet import fleet_command
    from twinkit.twin.fleet_file import load_fleet

    spec = load_fleet(file)
    for a in spec.assets.values():
        load_case(a.case, check_regions=False)  # every case's errors before anything starts
    if check:
        typer.echo(f"{file}: fleet {spec.name} with {len(spec.assets)} assets: "
                   f"{', '.join(spec.assets)}")  # fmt: skip
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    address = mqtt or spec.broker
    if address is None:
        raise CaseError(f"{file}: broker: not given; give broker: HOST:PORT or --mqtt")
    tls_files = {"ca_certs": str(ca)} if ca else {}
    cfg = BrokerConfig.from_address(address, None, tls=tls or bool(ca), **tls_files)
    host, _, port = (dashboard or "").rpartition(":")
    if dashboard and (not host or not port.isdigit()):
        raise CaseError(f"--dashboard {dashboard}: expected HOST:PORT")

    def serve_dashboard() -> None:
        from twinkit.dashboard.fleet import start_fleet

        start_fleet(spec, cfg, host, int(port))
        typer.echo(f"fleet dashboard at http://{host}:{port}/", err=True)

    service = fleet_command(spec, cfg, duration, serve_dashboard if dashboard else None)
    for n, a in service.status()["assets"].items():
        typer.echo(f"{n}: {a['updates']} updates; readings {a['accepted']} accepted, "
                   f"{a['rejected']} rejected; alerts {a['alerts']}; state in "
                   f"{spec.assets[n].state}")  # fmt: skip
