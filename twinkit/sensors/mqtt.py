"""MQTT connection for the live twin and the simulated plant (paho-mqtt, callback API v2).

Credentials come from the environment (`TWINKIT_MQTT_USERNAME`, `TWINKIT_MQTT_PASSWORD` or
`TWINKIT_MQTT_PASSWORD_FILE`), never from the command line, and are never logged. TLS is on
with `--tls` (optionally a CA file, client certificate and key). The client reconnects by itself
after a broker restart and subscribes again; what the caller keeps (the twin's state) is untouched.
With `ack_after=True` a QoS-1 message is acknowledged only when the caller says it is done with
it (the third argument of `on_message`, a function to call): until then the broker keeps it, and
delivers it again to a client that died holding it (the live twin's persistent session).
A broker that answers but refuses the client (bad user name or password, not authorised, a client
id it will not take, banned) is not retried: `refused` says why, for the caller to stop with it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinkit.case import CaseError
from twinkit.process import ignore_sigpipe
from twinkit.sensors.credentials import env_credentials

log = logging.getLogger("twinkit.sensors.mqtt")
# CONNACK reason codes that another try would get again (MQTT 5 numbering; paho maps 3.1.1's):
# client id not valid, bad user name or password, not authorised, banned, bad authentication
REFUSED = {133, 134, 135, 138, 140}


class BrokerRefused(CaseError):
    """The broker answered and refused the connection (credentials, authorisation)."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to connect. `password` is kept out of repr and logs."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    client_id: str = ""
    keepalive: int = 15
    session: bool = False  # a persistent session (needs a client_id): the broker keeps QoS-1
    # messages for the client while it is away and delivers them when it comes back

    @classmethod
    def from_address(
        cls, address: str, env: Mapping[str, str] | None = None, **tls: Any
    ) -> BrokerConfig:
        """`HOST:PORT` (port 1883, or 8883 with TLS, if omitted) plus credentials from `env`."""
        env = os.environ if env is None else env
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
        default = 8883 if tls.get("tls") else 1883
        try:
            p = int(port) if port else default
        except ValueError:
            raise CaseError(f"--mqtt {address}: expected HOST:PORT, e.g. localhost:1883") from None
        if not host or not 0 < p < 65536:
            raise CaseError(f"--mqtt {address}: expected HOST:PORT, e.g. localhost:1883")
        return cls(host, p, *env_credentials(env, "TWINKIT_MQTT"), **tls)


class Connection:
    """A paho client that keeps reconnecting; `on_message(topic, payload)` runs on its thread
    (`on_message(topic, payload, ack)` with `ack_after`: `ack()` acknowledges the message)."""

    def __init__(
        self,
        cfg: BrokerConfig,
        subscriptions: list[str] = [],  # noqa: B006 (read only)
        on_message: Callable[..., None] | None = None,
        ack_after: bool = False,
    ):
        from twinkit.extras import require

        require("paho", "the MQTT connection (twinkit live, twinkit plant)")
        import paho.mqtt.client as mqtt

        self.cfg, self.subscriptions, self.reconnects = cfg, list(subscriptions), 0
        self.connected = threading.Event()
        self.answered = threading.Event()  # connected, or refused for good
        self.refused: str | None = None  # the broker's reason, e.g. "Not authorized"
        self._ever = self._stopping = False
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                        clean_session=not (cfg.session and cfg.client_id))  # fmt: skip
        if cfg.username is not None:
            c.username_pw_set(cfg.username, cfg.password)
        if cfg.tls:
            c.tls_set(ca_certs=cfg.ca_certs, certfile=cfg.certfile, keyfile=cfg.keyfile)
        c.reconnect_delay_set(min_delay=1, max_delay=4)
        c.max_queued_messages_set(10_000)
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        if on_message is not None and ack_after:
            c.manual_ack_set(True)
            c.on_message = lambda client, userdata, msg: on_message(
                msg.topic, bytes(msg.payload), lambda: client.ack(msg.mid, msg.qos)
            )
        elif on_message is not None:
            c.on_message = lambda client, userdata, msg: on_message(msg.topic, bytes(msg.payload))
        self.client = c

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.cfg.host, self.cfg.port,
                      reason_code)  # fmt: skip
            if reason_code.value in REFUSED:
                self.refused = str(reason_code)
                self.answered.set()
                client.disconnect()
            return
        self.reconnects += self._ever
        self._ever = True
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self.connected.set()
        self.answered.set()
        log.info("connected to %s:%d", self.cfg.host, self.cfg.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()
        if self._stopping or self.refused:
            return
        log.warning("disconnected from %s:%d (%s); reconnecting", self.cfg.host, self.cfg.port,
                    reason_code)  # fmt: skip

    def start(self, wait: float = 0.0) -> bool:
        """Connect in the background (retrying while the broker is down); wait up to `wait` s
        for the broker to accept or refuse. Returns whether it is connected."""
        ignore_sigpipe()
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        self.client.loop_start()
        if wait:
            self.answered.wait(wait)
        return self.connected.is_set()

    def check(self) -> None:
        """BrokerRefused if the broker refused this client for good."""
        if self.refused is not None:
            raise BrokerRefused(
                f"--mqtt {self.cfg.host}:{self.cfg.port}: the broker refused the connection: "
                f"{self.refused} (user name and password come from TWINKIT_MQTT_USERNAME and "
                "TWINKIT_MQTT_PASSWORD or TWINKIT_MQTT_PASSWORD_FILE)"
            )

    def publish(self, topic: str, payload: Any, retain: bool = False, qos: int = 1) -> None:
        """Publish JSON (or bytes as they are); queued while disconnected."""
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload, default=float)
        self.client.publish(topic, data, qos=qos, retain=retain)

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
