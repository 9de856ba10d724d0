"""OPC UA readings for the live twin (asyncua): node ids mapped to the case's sensors.

The server and the map are `twinkit.sensors.opcua_map`'s. `OpcuaSource` subscribes to data
changes of every mapped node and turns each into the message an MQTT sensor topic would carry,
`{"t", "value", "unit", "quality"}` on `plant/<asset>/sensors/<sensor>`, so the twin validates,
records and assimilates it exactly as it does MQTT readings: `t` is the source timestamp (else
the server's, else the time of arrival), the unit the map's (else the node's EngineeringUnits),
and a status code that is not Good (Bad or Uncertain) becomes the quality the validator rejects
as `bad_quality`.

The client runs in a thread of its own with an asyncio loop. A server that goes away is
reconnected with a backoff of 1 s doubling to `MAX_DELAY`, and the subscription made again. A
server that refuses the client (user name or password, security policy or certificate, an
unknown node id, a node without a unit) is not retried: `refused` says why, for the caller to
stop with it. The security policy, certificate and key are `twinkit.sensors.opcua_security`'s;
with none, a user name and password bring a warning that they may travel in clear. Credentials
are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from twinkit.sensors.limits import MAX_DETAIL, short
from twinkit.sensors.opcua_map import PERIOD, NodeMap, ServerConfig, node_map
from twinkit.sensors.opcua_security import ServerRefused, refusal, secure

__all__ = [
    "NodeMap",
    "OpcuaSource",
    "PERIOD",
    "ServerConfig",
    "ServerRefused",
    "message",
    "node_map",
]

log = logging.getLogger("twinkit.sensors.opcua")
QUEUE = 100  # values the server keeps per node between two publishes
MAX_DELAY = 10.0  # s: the longest wait between two connection attempts
MAX_MESSAGE = 16 * 1024 * 1024  # bytes: the largest message the client asks for
# status codes that another try would get again: credentials, security, the map
_REFUSED = ("BadUser", "BadIdentity", "BadSecurity", "BadCertificate", "BadTcpEndpointUrl",
            "BadNodeId", "BadAttributeId", "BadNotReadable")  # fmt: skip


def message(value: Any, status: Any, source: Any, server: Any, unit: str) -> bytes:
    """The MQTT-shaped payload of one data change (a `DataValue`'s parts)."""
    stamp = source or server
    if isinstance(stamp, datetime):
        t = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    else:
        t = time.time()
    good = status is None or status.is_good()
    quality = "good" if good else str(getattr(status, "name", status))[:MAX_DETAIL]
    if isinstance(value, float) and not math.isfinite(value):
        value = None if math.isnan(value) else value  # JSON has no NaN; missing is what it is
    elif isinstance(value, str):
        value = value[:MAX_DETAIL]  # a long string is not a number either
    elif value is not None and not isinstance(value, bool | int | float):
        value = short(value)  # arrays, structures: refused as bad_value
    doc = {"t": t, "value": value, "unit": unit, "quality": quality}
    return json.dumps(doc, default=str).encode()


class OpcuaSource:
    """An asyncua client on a thread of its own that keeps reconnecting; each data change
    goes to `on_message(topic, payload)` (on that thread: it must not block)."""

    def __init__(self, cfg: ServerConfig, asset: str, on_message: Callable[[str, bytes], None]):
        from twinkit.extras import require

        require("asyncua", "OPC UA readings (twinkit live --opcua)")
        self.cfg, self.on_message = cfg, on_message
        self.topics = {m.node: f"plant/{asset}/sensors/{m.sensor}" for m in cfg.nodes}
        self.units: dict[str, str] = {m.node: m.unit for m in cfg.nodes if m.unit}
        self.connected = threading.Event()
        self.answered = threading.Event()  # connected, or refused for good
        self.refused: str | None = None
        self.reconnects = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="opcua", daemon=True)

    def start(self, wait: float = 0.0) -> bool:
        """Connect in the background; wait up to `wait` s for the server to accept or refuse."""
        cfg = self.cfg
        if cfg.security is None and (cfg.username is not None or cfg.password is not None):
            log.warning("OPC UA server %s: no security policy, so the user name and password may "
                        "travel in clear; on a network others can read, connect with one "
                        "(--opcua-security Basic256Sha256,SignAndEncrypt)", cfg.url)  # fmt: skip
        self._thread.start()
        if wait:
            self.answered.wait(wait)
        return self.connected.is_set()

    def check(self) -> None:
        """ServerRefused if the server refused this client or its node map for good."""
        if self.refused is not None:
            raise ServerRefused(f"--opcua {self.cfg.url}: {self.refused}")

    def close(self) -> None:
        """Ask the client to disconnect (returns at once)."""
        self._stopping.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop has ended
                pass

    def stop(self, timeout: float = 1.5) -> None:
        """Disconnect, waiting up to `timeout` s."""
        self.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from asyncua import ua

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if self._stopping.is_set():
            return
        delay, said = 1.0, False
        while not self._stop.is_set():
            try:
                await self._session()
            except ServerRefused as e:
                return self._refuse(str(e))
            except ua.UaStatusCodeError as e:
                if type(e).__name__.startswith(_REFUSED):
                    return self._refuse(refusal(type(e).__name__, self.cfg.security))
                said = self._lost(e, said)
            except Exception as e:  # anything else a server can cause: try again, never die
                said = self._lost(e, said)
            if self.connected.is_set():  # it was up: the next try comes soon
                self.connected.clear()
                delay, said = 1.0, self._lost(ConnectionError("connection lost"), False)
            if self._stop.is_set():
                return
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass
            delay = min(2 * delay, MAX_DELAY)

    def _refuse(self, why: str) -> None:
        self.refused = why
        log.error("OPC UA server %s: %s", self.cfg.url, why)
        self.answered.set()

    def _lost(self, e: BaseException, said: bool) -> bool:
        """Log the first failure of an outage (not every retry)."""
        if not said and not self._stop_requested():
            log.warning("OPC UA server %s: %s; trying again (every %g s at most)",
                        self.cfg.url, short(e) if str(e) else type(e).__name__,
                        MAX_DELAY)  # fmt: skip
        return True

    def _stop_requested(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _session(self) -> None:
        """One connection: subscribe to every node, pass data changes on until the stop or the
        connection is lost."""
        from asyncua import Client, ua
        from asyncua.client.ua_client import UaClientState

        assert self._stop is not None
        client = Client(self.cfg.url, timeout=4, watchdog_intervall=1.0)
        client.max_messagesize, client.max_chunkcount = MAX_MESSAGE, 64
        await asyncio.wait_for(secure(client, self.cfg.security), 10)
        if self.cfg.username is not None:
            client.set_user(self.cfg.username)
        if self.cfg.password is not None:
            client.set_password(self.cfg.password)
        await asyncio.wait_for(client.connect(), 10)
        try:
            nodes = [client.get_node(m.node) for m in self.cfg.nodes]
            for m, n in zip(self.cfg.nodes, nodes, strict=True):
                if m.node not in self.units:
                    self.units[m.node] = await self._unit(m, n)
            by_id = {n.nodeid: m.node for m, n in zip(self.cfg.nodes, nodes, strict=True)}
            handler = _Handler(self, by_id)
            ms = 1000 * self.cfg.period
            sub = await client.create_subscription(ms, handler)
            done = await sub.subscribe_data_change(
                nodes, queuesize=QUEUE, sampling_interval=ua.Duration(ms)
            )
            pairs = zip(self.cfg.nodes, done, strict=True)
            bad = [
                f"{m.sensor} ({m.node}): {r.name}" for m, r in pairs if isinstance(r, ua.StatusCode)
            ]
            if bad:
                raise ServerRefused(f"cannot subscribe to {'; '.join(bad)}")
            self.reconnects += self.answered.is_set()
            self.connected.set()
            self.answered.set()
            log.info("subscribed to %d nodes at %s", len(nodes), self.cfg.url)
            while not self._stop.is_set() and client.uaclient.state is UaClientState.CONNECTED:
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.2)
                except TimeoutError:
                    pass
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), 1.0)
            except Exception:  # a server that is gone: nothing to say goodbye to
                log.debug("disconnect from %s failed", self.cfg.url, exc_info=True)

    async def _unit(self, m: NodeMap, node: Any) -> str:
        """The node's EngineeringUnits (its display name), checked against the sensor."""
        from asyncua import ua

        try:
            prop = await node.get_child(ua.QualifiedName("EngineeringUnits", 0))
            eu = await prop.read_value()
            unit = eu.DisplayName.Text
        except (ua.UaError, AttributeError):
            unit = None
        if not isinstance(unit, str) or not unit.strip():
            raise ServerRefused(
                f"sensor {m.sensor} ({m.node}): the node has no EngineeringUnits; give the unit "
                f"in the map ({{node: {m.node}, unit: ...}})"
            )
        return unit.strip()[:MAX_DETAIL]


class _Handler:
    """asyncua's data-change callback: a message for the twin, never blocking."""

    def __init__(self, source: OpcuaSource, by_id: dict[Any, str]):
        self.source, self.by_id = source, by_id

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        key = self.by_id.get(node.nodeid)
        if key is None:
            return
        dv = data.monitored_item.Value
        s = self.source
        value = dv.Value.Value if dv.Value is not None else None
        payload = message(value, dv.StatusCode, dv.SourceTimestamp, dv.ServerTimestamp,
                          s.units.get(key, ""))  # fmt: skip
        s.on_message(s.topics[key], payload)

    def status_change_notification(self, status: Any) -> None:
        """The server ended the subscription (e.g. on shutdown): the connection check sees it."""
        code = getattr(status, "Status", status)
        log.info("OPC UA subscription status: %s", getattr(code, "name", short(code)))
