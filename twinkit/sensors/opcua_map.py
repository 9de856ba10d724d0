"""Where the live twin's OPC UA readings come from: the server's URL and credentials, and the
node id (and unit) of each of the case's sensors. Checked here, before anything connects.

The map comes from the case (`sensors: {T_crown: {opcua: "ns=2;s=Furnace.T_crown"}}`, or
`{opcua: {node: ..., unit: degC}}`) or from a YAML file of the same shape (`--opcua-map`:
`T_crown: ns=2;s=Furnace.T_crown`). Credentials come from `TWINKIT_OPCUA_USERNAME` and
`TWINKIT_OPCUA_PASSWORD` (or `TWINKIT_OPCUA_PASSWORD_FILE`), never from the command line or the URL.
The security policy, certificate and key are `twinkit.sensors.opcua_security`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twinkit.case import CaseError, LoadedCase, units
from twinkit.sensors.credentials import env_credentials
from twinkit.sensors.limits import short, unit_problem
from twinkit.sensors.readings import rules_from_case

if TYPE_CHECKING:
    from twinkit.sensors.opcua_security import Security

PERIOD = 0.5  # s: publishing and sampling interval asked of the server
_NODE_ID = re.compile(r"^(ns=\d{1,5};|nsu=[^;]{1,200};)?[isgb]=.{1,200}$", re.S)


@dataclass(frozen=True)
class NodeMap:
    """One sensor's node; `unit` None: the node's EngineeringUnits."""

    sensor: str
    node: str
    unit: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Where to connect and what to subscribe to. `password` is kept out of repr and logs;
    `security` None: SecurityPolicy None."""

    url: str
    nodes: tuple[NodeMap, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    period: float = PERIOD
    security: Security | None = None

    @classmethod
    def from_url(
        cls, url: str, nodes: tuple[NodeMap, ...], env: Mapping[str, str] | None = None
    ) -> ServerConfig:
        """`opc.tcp://HOST:PORT[/PATH]` plus credentials from `env` (default: the environment)."""
        env = os.environ if env is None else env
        hint = "expected opc.tcp://HOST:PORT, e.g. opc.tcp://localhost:4840"
        try:
            u = urlsplit(url)
            port = u.port
        except ValueError:
            raise CaseError(f"--opcua {url}: {hint}") from None
        if u.scheme != "opc.tcp" or not u.hostname or port == 0:
            raise CaseError(f"--opcua {url}: {hint}")
        if u.username is not None or u.password is not None:
            raise CaseError(
                "--opcua: no credentials in the URL (they would show in the process list); "
                "set TWINKIT_OPCUA_USERNAME and TWINKIT_OPCUA_PASSWORD"
            )
        return cls(url, nodes, *env_credentials(env, "TWINKIT_OPCUA"))


def node_map(loaded: LoadedCase, path: Path | None = None) -> tuple[NodeMap, ...]:
    """The sensors' nodes: from the YAML file `path`, else the case's `sensors.<name>.opcua`.
    CaseError (with the key and value) for an unknown sensor, a malformed node id, a unit that
    does not fit the sensor, a node given twice, or no node at all."""
    rules = rules_from_case(loaded)
    if path is not None:
        import yaml

        from twinkit.case.reading import read_yaml

        try:  # the case files' reader: bounded, and a sensor given twice is an error
            doc = read_yaml(path)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
            raise CaseError(f"--opcua-map {path}: cannot read it ({e})") from None
        if not isinstance(doc, dict):
            raise CaseError(f"--opcua-map {path}: expected sensor: node id, one a line")
        entries = {str(k): (v, f"{path}: {k}") for k, v in doc.items()}
    else:
        entries = {
            n: (s.opcua, f"{loaded.path}: sensors.{n}.opcua")
            for n, s in loaded.case.sensors.items()
            if s.opcua is not None
        }
    found: dict[str, str] = {}
    out = []
    for sensor, (spec, key) in entries.items():
        if sensor not in rules:
            raise CaseError(f"{key}: no sensor {short(sensor)} (known: {', '.join(rules)})")
        node, unit = _entry(spec, key)
        if not _NODE_ID.match(node):
            raise CaseError(f"{key}: {short(node)} is not a node id, e.g. ns=2;s=Furnace.T")
        if node in found:
            raise CaseError(f"{key}: node {node} is also sensor {found[node]}'s")
        found[node] = sensor
        if unit is not None:
            _check_unit(unit, rules[sensor].unit, f"{key}.unit")
        out.append(NodeMap(sensor, node, unit))
    if not out:
        where = path or f"{loaded.path}: sensors.<name>.opcua"
        raise CaseError(f"--opcua: no sensor has a node id ({where}); e.g. T1: ns=2;s=Plant.T1")
    return tuple(out)


def _entry(spec: Any, key: str) -> tuple[str, str | None]:
    if isinstance(spec, str):
        return spec.strip(), None
    if isinstance(spec, dict) and set(spec) <= {"node", "unit"} and "node" in spec:
        node, unit = spec["node"], spec.get("unit")
        if isinstance(node, str) and (unit is None or isinstance(unit, str)):
            return node.strip(), unit
    raise CaseError(f"{key}: {short(spec)}: expected a node id or {{node: ..., unit: ...}}")


def _check_unit(unit: str, si: str, key: str) -> None:
    problem = unit_problem(unit)
    try:
        if problem:
            raise units.UnitError(problem)
        units.parse(f"1 {unit}", si)
    except units.UnitError as e:
        raise CaseError(f"{key}: {short(unit)}: {e}") from None
