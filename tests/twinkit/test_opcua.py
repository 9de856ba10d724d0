"""OPC UA readings: an asyncua server started here on 127.0.0.1 feeds the live twin (the slab of
`analytic_surrogate`, served by `serve_twin` in a thread). Accepted readings reach the history
and update the twin, a Bad status is rejected as `bad_quality`, a restarted server is
reconnected, an unknown node id stops the twin with a message; node maps are checked before
anything connects, and what a hostile server sends is refused by the reading checks."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from analytic_surrogate import PROBES, SLAB_CASE, L, SlabSurrogate

from twinkit.case import CaseError, load_case
from twinkit.sensors.opcua import NodeMap, ServerConfig, ServerRefused, message, node_map
from twinkit.sensors.readings import SensorValidator, rules_from_case
from twinkit.twin.history_read import read_history
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.service import resume, serve_twin

asyncua = pytest.importorskip("asyncua")
ua = asyncua.ua

SENSORS = (
    "sensors:\n"
    + "".join(
        f'  {p}: {{range: [250 K, 1000 K], opcua: {{node: "ns=2;s=Slab.{p}", unit: K}}}}\n'
        for p in ("T0", "T1", "T2", "T3")
    )
    + '  T4: {range: [250 K, 1000 K], opcua: "ns=2;s=Slab.T4"}\n'
    + '  power: {opcua: {node: "ns=2;s=Slab.note", unit: W/m^2}}\n'  # a hostile node: 1 MB text
)  # unit: EngineeringUnits (degC)
TRUE = {"power": 2000.0, "k": 10.0, "h": 40.0}  # the twin starts at h = 50


def true_t(x: float) -> float:
    q, k, h = TRUE["power"], TRUE["k"], TRUE["h"]
    return 300.0 + q / h + q * (L - x) / k


class OpcuaServer:
    """An asyncua server on its own thread and loop, with the slab's five temperatures;
    `setup(server)`, a coroutine function, configures it before it starts (e.g. its security)."""

    def __init__(self, port: int, users: Any = None, setup: Any = None):
        self.port, self.users, self.vars, self.t0 = port, users, {}, time.time() - 3600
        self.setup = setup
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self, t: float) -> None:
        self.server = asyncua.Server(user_manager=self.users)
        await self.server.init()
        self.server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/")
        if self.setup is not None:
            await self.setup(self.server)
        idx = await self.server.register_namespace("urn:twinkit:test")
        slab = await self.server.nodes.objects.add_object(idx, "Slab")
        for p in PROBES:
            v = await slab.add_variable(ua.NodeId(f"Slab.{p}", idx), p, 0.0, ua.VariantType.Double)
            self.vars[p] = v
        eu = ua.EUInformation(DisplayName=ua.LocalizedText("degC"), Description=ua.LocalizedText())
        name = ua.QualifiedName("EngineeringUnits", 0)
        await self.vars["T4"].add_property(ua.NodeId("Slab.T4.EU", idx), name, eu)
        for p in PROBES:
            await self.vars[p].write_value(self._value(p, t))
        huge = ua.Variant("x" * 1_000_000, ua.VariantType.String)
        await slab.add_variable(ua.NodeId("Slab.note", idx), "note", huge)
        await self.server.start()

    def start(self, t: float) -> None:
        """Start the server, its values stamped `t`."""
        self.call(self._start(t))

    def stop(self) -> None:
        self.call(self.server.stop())

    @staticmethod
    def _value(p: str, t: float, value: float | None = None, status: int = 0) -> ua.DataValue:
        if value is None:  # the true slab, with a little noise; T4 in degC
            value = true_t(PROBES[p]) - (273.15 if p == "T4" else 0.0) + 0.01 * math.sin(t)
        stamp = datetime.fromtimestamp(t, UTC)
        return ua.DataValue(ua.Variant(value, ua.VariantType.Double), ua.StatusCode(status),
                            SourceTimestamp=stamp, ServerTimestamp=stamp)  # fmt: skip

    def write(self, p: str, t: float, value: float | None = None, status: int = 0) -> None:
        self.call(self.vars[p].write_value(self._value(p, t, value, status)))

    def round(self, t: float) -> None:
        """All five sensors at plant time `t`."""
        for p in PROBES:
            self.write(p, t)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SENSORS)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


class Operators:
    """A user manager that lets in one user name and password."""

    def get_user(self, iserver, username=None, password=None, certificate=None):  # noqa: ANN001
        from asyncua.crypto.permission_rules import User, UserRole

        return User(role=UserRole.User) if (username, password) == ("op", "right") else None


def running(s: OpcuaServer):
    """A fixture's body: `s` started, then stopped and closed."""
    s.start(s.t0)
    yield s
    try:
        s.stop()
    finally:
        s.close()


@pytest.fixture(params=[None, Operators()], ids=["anonymous", "users"])
def server(request):
    yield from running(OpcuaServer(free_port(), request.param))


def wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("server", [None], indirect=True, ids=["anonymous"])
def test_readings_reach_the_history_and_the_twin(tmp_path, loaded, server):
    url = f"sqlite:///{tmp_path}/h.sqlite"
    opts = LiveOptions(cadence=60.0, process_std=0.3, seed=1, max_skew=None, run_dir=tmp_path)
    twin = LiveTwin(loaded, SlabSurrogate(), opts)
    resume(twin, None, url)
    cfg = ServerConfig.from_url(f"opc.tcp://127.0.0.1:{server.port}/", node_map(loaded), env={})
    stop, state = threading.Event(), tmp_path / "state.json"
    served = threading.Thread(target=serve_twin, args=(twin, None, stop, state),
                              kwargs={"opcua": cfg})  # fmt: skip
    served.start()
    try:
        t0 = server.t0
        assert wait_for(lambda: twin.validator.accepted == 5)  # the values at subscription
        for k in range(1, 6):  # 5 rounds 30 s of plant time apart: updates at 60 s
            server.round(t0 + 30 * k)
        assert wait_for(lambda: twin.validator.accepted == 30)
        assert twin.updates == 2 and twin.filter.estimate()[0]["h"] < 48  # moved toward 40
        server.write("T2", t0 + 200, 1.0, ua.StatusCodes.BadSensorFailure)
        assert wait_for(lambda: twin.validator.counts[("T2", "bad_quality")] == 1)
        server.write("T3", t0 + 210, math.nan)
        assert wait_for(lambda: twin.validator.counts[("T3", "missing")] == 1)

        server.stop()  # the server goes away, comes back on the same port
        time.sleep(1.5)
        server.start(t0 + 300)
        assert wait_for(lambda: twin.validator.accepted == 35, timeout=20)  # resubscribed
        server.round(t0 + 330)
        assert wait_for(lambda: twin.validator.accepted == 40)
    finally:
        stopped = time.monotonic()
        stop.set()
        served.join(5)
    assert not served.is_alive() and time.monotonic() - stopped < 5
    assert json.loads(state.read_text())["updates"] == twin.updates
    readings = read_history(url, "readings")
    ok = readings[readings.status == "accepted"]
    assert len(ok) == twin.validator.accepted and set(ok.sensor) == set(PROBES)
    t4 = ok[ok.sensor == "T4"].sort_values("t")["value"]  # degC by the node's EngineeringUnits
    assert t4.iloc[1] == pytest.approx(true_t(L) + 0.01 * math.sin(t0 + 30), abs=1e-6)
    bad = readings[readings.status == "rejected"]
    assert sorted(zip(bad.sensor, bad.reason, strict=True)) == [
        ("T2", "bad_quality"), ("T3", "missing"), ("power", "bad_value"), ("power", "bad_value")
    ]  # the text at each subscription: cut short, refused  # fmt: skip
    assert len(read_history(url, "updates").drop_duplicates("update")) == twin.updates


@pytest.mark.parametrize("server", [Operators()], indirect=True, ids=["users"])
def test_wrong_credentials_or_node_stop_the_twin_with_a_message(tmp_path, loaded, server):
    """Not retried: the twin stops at once, saying what the server refused."""
    twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(max_skew=None, run_dir=tmp_path))
    url = f"opc.tcp://127.0.0.1:{server.port}"
    nodes = (*node_map(loaded)[:4], NodeMap("T4", "ns=2;s=Slab.nothing", "K"))
    for env, refused in [
        ({}, "BadUserAccessDenied .*TWINKIT_OPCUA_USERNAME"),
        ({"TWINKIT_OPCUA_USERNAME": "op", "TWINKIT_OPCUA_PASSWORD": "wrong"}, "BadUserAccess"),
        ({"TWINKIT_OPCUA_USERNAME": "op", "TWINKIT_OPCUA_PASSWORD": "right"},
         r"cannot subscribe to T4 \(ns=2;s=Slab.nothing\): BadNodeIdUnknown"),
    ]:  # fmt: skip
        cfg = ServerConfig.from_url(url, nodes, env=env)
        start = time.monotonic()
        with pytest.raises(ServerRefused, match=refused):
            serve_twin(twin, None, threading.Event(), duration=15, opcua=cfg)
        assert time.monotonic() - start < 8


def test_the_command_checks_the_map_first(tmp_path, cli):
    """`twinkit live` says what is wrong (exit 2) before it loads a surrogate or connects."""
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SENSORS.replace("ns=2;s=Slab.T1", "Slab.T1"))
    (tmp_path / "map.yaml").write_text("T0: {node: ns=2;s=X, unit: W}\n")
    url = "opc.tcp://127.0.0.1:1"
    for args, said in [
        (["--opcua", url, "--opcua-map", tmp_path / "map.yaml"], "map.yaml: T0.unit: 'W'"),
        (["--opcua", url], "sensors.T1.opcua"),
        (["--opcua", "127.0.0.1:4840"], "expected opc.tcp://HOST:PORT"),
        ([], "give --mqtt HOST:PORT, --opcua opc.tcp://HOST:PORT or both"),
        (["--mqtt", "localhost:1", "--opcua-map", tmp_path / "map.yaml"], "needs --opcua"),
    ]:
        r = cli("live", tmp_path / "slab.yaml", *args, "--state", tmp_path / "s.json")
        assert r.returncode == 2 and said in r.stderr, r.output
        assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("T9: ns=2;s=X", "no sensor 'T9'"),
        ("T0: Slab.T0", "'Slab.T0' is not a node id"),
        ("T0: {node: ns=2;s=X, unit: kg}", r"T0.unit: 'kg'"),
        ("T0: ns=2;s=X\nT1: ns=2;s=X", "node ns=2;s=X is also sensor T0's"),
        ("T0: [1, 2]", "expected a node id or"),
        ("[]", "expected sensor: node id"),
        ("T0: ns=2;s=X\nT0: ns=2;s=Y", "key 'T0' is given twice"),  # the last one won
    ],
)
def test_a_wrong_map_is_named(tmp_path, loaded, doc, match):
    (tmp_path / "map.yaml").write_text(doc)
    with pytest.raises(CaseError, match=match):
        node_map(loaded, tmp_path / "map.yaml")


def test_the_case_map_and_the_url_are_checked(loaded):
    assert node_map(loaded)[0] == NodeMap("T0", "ns=2;s=Slab.T0", "K")
    assert node_map(loaded)[4] == NodeMap("T4", "ns=2;s=Slab.T4", None)
    for url in ("localhost:4840", "opc.tcp://:4840", "opc.tcp://host:port"):
        with pytest.raises(CaseError, match="expected opc.tcp://HOST:PORT"):
            ServerConfig.from_url(url, ())
    with pytest.raises(CaseError, match="no credentials in the URL"):
        ServerConfig.from_url("opc.tcp://me:secret@localhost:4840", ())
    cfg = ServerConfig.from_url("opc.tcp://h:1", (), env={"TWINKIT_OPCUA_PASSWORD": "secret"})
    assert cfg.password == "secret" and "secret" not in repr(cfg)


def test_a_hostile_server_is_refused_by_the_reading_checks(loaded):
    v = SensorValidator(rules_from_case(loaded), "skip")
    good = ua.StatusCode(ua.StatusCodes.Good)
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def reason(value, status=good, unit="K", k=[0]):  # noqa: B006 (a counter of times)
        k[0] += 1
        payload = message(value, status, t.replace(second=k[0]), None, unit)
        assert len(payload) < 400  # whatever came, what goes on is small
        r = v.check_mqtt("plant/plant/sensors/T1", payload)
        return "accepted" if r is not None else v.last_reason

    assert reason(400.0) == "accepted"
    assert reason(math.nan) == "missing"
    assert reason(math.inf) == "missing"
    assert reason("x" * 10_000_000) == "bad_value"
    assert reason([1.0, 2.0]) == "bad_value"
    assert reason(True) == "bad_value"
    assert reason(1e300) == "out_of_range"
    assert reason(400.0, ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)) == "bad_quality"
    assert reason(400.0, ua.StatusCode(ua.StatusCodes.BadSensorFailure)) == "bad_quality"
    assert reason(400.0, unit="K**9**9**9") == "wrong_unit"
