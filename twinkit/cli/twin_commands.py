"""The twin against the plant: `calibrate` (recorded data), `live` and `plant` (MQTT); the live
twin's `history` is in `twinkit.cli.history_command`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from twinkit.cli.app import CaseArg, app, guard, out_folder, parse_sets


@app.command()
@guard
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
        Path | None,
        typer.Option(
            "--out", help="Output folder (default runs/<case>/calibration).", callback=out_folder
        ),
    ] = None,
    restarts: Annotated[int, typer.Option("--restarts", min=1, help="MAP starts.")] = 4,
    mcmc: Annotated[int, typer.Option("--mcmc", min=0, help="MCMC samples (0: none).")] = 0,
    nan: Annotated[
        str, typer.Option("--missing", help="Missing values: skip, hold or flag.")
    ] = "hold",
    verify: Annotated[
        bool, typer.Option("--verify", help="One FE solve at the calibrated point.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit with code 3 when an estimate is outside its range or a measured input "
            "outside the surrogate's training range.",
        ),
    ] = False,
) -> None:
    """Estimate the latent parameters from sensor data (MAP ± Laplace std); write summary.json."""
    from twinkit.api.case import load_case
    from twinkit.api.surrogate import load_surrogate
    from twinkit.api.twin import calibrate as fit
    from twinkit.case import CaseError
    from twinkit.cli.app import EXIT_OUT_OF_RANGE
    from twinkit.cli.console import calibration_table
    from twinkit.training import default_surrogate

    if nan not in ("skip", "hold", "flag"):
        raise CaseError(f"--missing {nan}: expected skip, hold or flag")
    c = load_case(case, check_regions=False)
    sur = load_surrogate(surrogate or default_surrogate(c.loaded), c)
    cal = fit(c, sur, sensors, window, restarts, mcmc, nan, verify, out)
    calibration_table(cal)
    if strict and cal.warnings():
        typer.secho("error: out of range (--strict); see the warnings above", fg="red", err=True)
        raise typer.Exit(EXIT_OUT_OF_RANGE)


MqttArg = Annotated[str, typer.Option("--mqtt", help="Broker HOST:PORT.")]
AssetOpt = Annotated[str, typer.Option("--asset", help="Topics are plant/<asset>/...")]
TlsOpt = Annotated[bool, typer.Option("--tls", help="Connect with TLS.")]
CaOpt = Annotated[Path | None, typer.Option("--ca", help="TLS: CA certificate file.")]
CertOpt = Annotated[Path | None, typer.Option("--cert", help="TLS: client certificate.")]
KeyOpt = Annotated[Path | None, typer.Option("--key", help="TLS: client key.")]
_DB = "sqlite:///FILE, a file, or postgresql://USER@HOST/DB (password from PGPASSWORD or ~/.pgpass)"
HistoryOpt = Annotated[
    str | None,
    typer.Option(
        "--history",
        help=f"Record the history here: {_DB}; default history.sqlite beside the --state file; "
        "'off' for none.",
    ),
]


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


def _limit(text: str, option: str) -> float | None:
    """A time limit, or None for 'off'."""
    if text.strip().lower() in ("off", "none"):
        return None
    seconds = _seconds(text, option)
    if not seconds > 0:
        from twinkit.case import CaseError

        raise CaseError(f"{option} {text}: must be positive (or off)")
    return seconds


def _period(text: str, option: str) -> float:
    """A period of plant time, 0 for 'off' (or 0)."""
    if text.strip().lower() in ("off", "none"):
        return 0.0
    seconds = _seconds(text, option)
    if seconds < 0:
        from twinkit.case import CaseError

        raise CaseError(f"{option} {text}: must be positive, 0 or off")
    return seconds


@app.command()
@guard
def live(
    case: CaseArg,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker HOST:PORT: readings, state and alerts.")
    ] = None,
    opcua: Annotated[
        str | None,
        typer.Option("--opcua", help="Readings from this OPC UA server, opc.tcp://HOST:PORT."),
    ] = None,
    opcua_map: Annotated[
        Path | None,
        typer.Option(
            "--opcua-map", help="YAML file, sensor: node id (default: the case's sensors.*.opcua)."
        ),
    ] = None,
    opcua_security: Annotated[
        str | None,
        typer.Option(
            "--opcua-security",
            help="OPC UA security POLICY,MODE, e.g. Basic256Sha256,SignAndEncrypt (default None).",
        ),
    ] = None,
    opcua_cert: Annotated[
        Path | None, typer.Option("--opcua-cert", help="OPC UA: client certificate (PEM, DER).")
    ] = None,
    opcua_key: Annotated[
        Path | None,
        typer.Option(
            "--opcua-key",
            help="OPC UA: client private key (PEM, DER); an encrypted one's password from "
            "TWINKIT_OPCUA_KEY_PASSWORD.",
        ),
    ] = None,
    opcua_server_cert: Annotated[
        Path | None,
        typer.Option("--opcua-server-cert", help="OPC UA: trust only this server certificate."),
    ] = None,
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
    max_skew: Annotated[
        str,
        typer.Option(
            "--max-skew",
            help="Refuse readings further ahead of the wall clock; 'off' to replay or simulate "
            "faster than real time.",
        ),
    ] = "5 min",
    max_jump: Annotated[
        str,
        typer.Option(
            "--max-jump",
            help="Hold readings further ahead of the plant clock (the latest accepted "
            "reading) until 3 sensors agree (then use them) or readings at the old time go on "
            "(then refuse them); 'off' for no check.",
        ),
    ] = "1 h",
    max_lateness: Annotated[
        str,
        typer.Option(
            "--max-lateness",
            help="Use readings that arrive late (older than their sensor's latest, e.g. after a "
            "broker restart) up to this much plant time behind; older ones are refused; 'off' "
            "to accept readings in time order only.",
        ),
    ] = "10 min",
    history: HistoryOpt = None,
    field_history: Annotated[
        str,
        typer.Option(
            "--field-history",
            help="Plant time between kept snapshots of the virtual fields (in the history); "
            "0 or 'off' for none.",
        ),
    ] = "15 min",
    dashboard: Annotated[
        str | None,
        typer.Option(
            "--dashboard", help="Also serve the dashboard (twinkit dashboard) at HOST:PORT."
        ),
    ] = None,
    tls: TlsOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Run the live twin: readings in, estimates, forecasts and alerts out, all in its history.

    Subscribes to the sensors (MQTT, OPC UA), updates the estimates, publishes state and alerts
    (MQTT), records every reading, update and alert in its history."""
    import logging

    from twinkit.case import load_case
    from twinkit.twin.live import LiveOptions
    from twinkit.twin.service import live_command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cfg = _broker(mqtt, tls, ca, cert, key) if mqtt is not None else None
    loaded = load_case(case, check_regions=False)
    secure = (opcua_security, opcua_cert, opcua_key, opcua_server_cert)
    name, server = loaded.name, _opcua(loaded, opcua, opcua_map, mqtt, secure)
    state = state or Path("runs") / name / "live.json"
    url = _history_url(history, state.parent)
    if dashboard:
        _serve_dashboard(dashboard, case, url, cfg, asset, surrogate)
    opts = LiveOptions(
        asset, _seconds(cadence, "--cadence"), members, drift_rate,
        max_skew=_limit(max_skew, "--max-skew"), max_jump=_limit(max_jump, "--max-jump"),
        max_lateness=_limit(max_lateness, "--max-lateness"),
        run_dir=state.parent,  # alert log files go beside the state
        field_history_every=_period(field_history, "--field-history"),
    )  # fmt: skip
    if cfg is None:
        logging.getLogger("twinkit.twin.live").info(
            "no --mqtt: the twin's outputs are the state file %s and the history", state
        )
    twin = live_command(case, cfg, surrogate, state, opts, topic, duration, url, server)
    q = twin.validator.report()
    where = ""
    if twin.history is not None:
        from twinkit.redaction import redact

        where = f"; history in {redact(twin.history.url)}"
    typer.echo(
        f"stopped after {twin.updates} updates; readings {q['accepted']} accepted, "
        f"{q['rejected']} rejected; alerts {twin.alerts.count}; state in {state}{where}"
    )


def _opcua(
    loaded, url: str | None, nodes: Path | None, mqtt: str | None, secure: tuple = (None,) * 4
):
    """The OPC UA server, node map and security (checked now, before anything connects), or
    None. `secure`: --opcua-security, --opcua-cert, --opcua-key, --opcua-server-cert."""
    from twinkit.case import CaseError
    from twinkit.sensors.opcua import ServerConfig, node_map
    from twinkit.sensors.opcua_security import security

    if url is None:
        options = ("--opcua-map", "--opcua-security", "--opcua-cert", "--opcua-key",
                   "--opcua-server-cert")  # fmt: skip
        for option, value in zip(options, (nodes, *secure), strict=True):
            if value is not None:
                raise CaseError(f"{option} {value}: needs --opcua opc.tcp://HOST:PORT")
        if mqtt is None:
            raise CaseError("give --mqtt HOST:PORT, --opcua opc.tcp://HOST:PORT or both")
        return None
    import logging
    from dataclasses import replace

    logging.getLogger("asyncua").setLevel(logging.WARNING)  # its INFO is every notification
    server = ServerConfig.from_url(url, ())
    return replace(server, nodes=node_map(loaded, nodes), security=security(*secure))


def _serve_dashboard(
    address: str, case: Path, url: str | None, cfg: Any, asset: str, surrogate: Path | None
) -> None:
    """--dashboard HOST:PORT: the dashboard on a thread of this process, reading its history."""
    from twinkit.case import CaseError
    from twinkit.dashboard import start

    host, _, port = address.rpartition(":")
    if url is None or not host or not port.isdigit():
        why = "needs a history (not --history off)" if url is None else "expected HOST:PORT"
        raise CaseError(f"--dashboard {address}: {why}")
    start(case, url, cfg, host, int(port), asset, surrogate)
    typer.echo(f"dashboard at http://{host}:{port}/", err=True)


def _history_url(text: str | None, folder: Path) -> str | None:
    """--history: a URL or file, 'off' for none, by default history.sqlite in `folder`."""
    from twinkit.twin.history_db import FILE_NAME, history_url

    if text is not None and text.strip().lower() in ("off", "none"):
        return None
    return history_url(text or folder / FILE_NAME)


@app.command()
@guard
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
        typer.Option(
            "--drift", help="Relative drift over the run, e.g. wall_htc=0.5 (repeatable)."
        ),
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
    values = loaded.case.parameter_values(parse_sets(set_ or []))
    start = {n: values[n] for n in parse_sets(set_ or [])}
    drifts = {}
    for n, v in parse_sets(drift or []).items():
        try:
            drifts[n] = float(v)
        except ValueError:
            raise CaseError(f"--drift {n}={v}: expected a relative change, e.g. 0.5") from None
    opts = PlantOptions(
        asset, rate, speed, duration, start, drifts, noise, 0.001, dropout, bad, seed
    )
    sent = plant_command(case, _broker(mqtt, tls, ca, cert, key), truth, opts)
    typer.echo(f"published: {sent}")
