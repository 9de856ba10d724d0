"""Event management: alerts carry a severity, are de-duplicated, acknowledged (API and MQTT),
escalate when left unacknowledged, and are routed by the case's rules to MQTT topics, a webhook
(received here by an HTTP server on 127.0.0.1) or a log file in the run folder. A webhook that
hangs or fails never stalls the twin; the case's new keys are validated with clear messages.

Escalation runs on an injected clock, so no test sleeps for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from mosquitto import running_broker

from twinkit.case import CaseError, load_case
from twinkit.sensors.mqtt import Connection
from twinkit.twin.alerts import Alerts
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.routing import Routes, WebhookOptions
from twinkit.twin.service import serve_twin

T = 1.7e9  # plant time, epoch s


class Clock:
    """An injected wall clock: `now` moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sent:
    """What was published: (topic, doc)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []

    def __call__(self, topic, doc, retain):
        self.messages.append((topic, json.loads(json.dumps(doc))))

    def on(self, topic: str) -> list[dict]:
        return [d for t, d in self.messages if t == topic]


class Hook(BaseHTTPRequestHandler):
    """Records each POST; `mode` of the server: ok, fail (HTTP 500) or hang (never answers)."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((json.loads(body), self.headers.get("Authorization")))
        if self.server.mode == "hang":
            self.server.release.wait(30)
            return
        self.send_response(500 if self.server.mode == "fail" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    """Start HTTP servers on 127.0.0.1 at free ports: `start(mode)` → (url, server)."""
    servers = []

    def start(mode: str = "ok"):
        s = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        s.daemon_threads, s.mode, s.posts, s.release = True, mode, [], threading.Event()
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return f"http://127.0.0.1:{s.server_address[1]}/hook", s

    yield start
    for s in servers:
        s.release.set()
        s.shutdown()
        s.server_close()


def wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def slab(tmp_path, alerts: str):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS + alerts)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def test_severity_defaults_overrides_and_one_episode_per_key():
    sent = Sent()
    alerts = Alerts("a", sent, severity={"drift": "critical"})
    for k in range(5):  # the condition holds five times: one alert, four repeats
        alerts.update("drift:h", True, False, T + k, "drift", "h moved")
    alerts.update("residual:T1", True, False, T, "residual", "T1 off")
    raised = [d for d in sent.on("a") if d["state"] == "raised"]
    assert [(d["key"], d["severity"]) for d in raised] == [
        ("drift:h", "critical"), ("residual:T1", "info")]  # fmt: skip
    assert alerts.active["drift:h"]["repeats"] == 4 and alerts.count == {"drift": 1, "residual": 1}
    alerts.update("drift:h", False, True, T + 9, "drift", "h moved")
    cleared = sent.on("a")[-1]
    assert cleared["state"] == "cleared" and cleared["repeats"] == 4
    alerts.update("drift:h", True, False, T + 20, "drift", "h moved")  # a new episode
    assert sent.on("a")[-1]["state"] == "raised" and alerts.count["drift"] == 2


def test_unacknowledged_alert_escalates_and_is_rerouted(tmp_path):
    clock, sent = Clock(), Sent()
    loaded = slab(tmp_path, """alerts:
  escalate_after: 2 h
  routes:
    - {match: {severity: critical}, mqtt: plant/alerts/oncall}
    - {match: {kind: drift}, mqtt: plant/alerts/maintenance}
""")  # fmt: skip
    routes = Routes(loaded.case.alerts.routes, tmp_path)
    alerts = Alerts("a", sent, {}, loaded.case.alerts.escalate_after.si, routes, clock)
    alerts.update("drift:h", True, False, T, "drift", "h moved")
    assert [d["severity"] for d in sent.on("plant/alerts/maintenance")] == ["warning"]
    assert sent.on("plant/alerts/oncall") == []
    clock.now += 7199
    alerts.tick()
    assert len(sent.on("a")) == 1  # not yet
    clock.now += 1
    alerts.tick()
    escalated = sent.on("plant/alerts/oncall")
    assert [(d["state"], d["severity"]) for d in escalated] == [("escalated", "critical")]
    assert "escalated to critical" in escalated[0]["message"]
    clock.now += 10 * 7200
    alerts.tick()  # critical is the top: no more
    assert len(sent.on("a")) == 2 and alerts.active["drift:h"]["escalations"] == 1


def test_acknowledged_over_mqtt_does_not_escalate(tmp_path):
    """Through the twin: `plant/<asset>/ack` with the key (text or JSON) acknowledges it."""
    loaded = slab(tmp_path, "alerts:\n  escalate_after: 30 min\n")
    clock, sent = Clock(), Sent()
    twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(asset="f1", run_dir=tmp_path), sent)
    twin.alerts.clock = clock
    twin.alerts.update("drift:h", True, False, T, "drift", "h moved")
    twin.alerts.update("drift:k", True, False, T, "drift", "k moved")
    twin.alerts.update("sensor_fault:T1", True, False, T, "sensor_fault", "T1 stuck")
    twin.on_message("plant/f1/ack", b"drift:h")
    twin.on_message("plant/f1/ack", json.dumps({"key": "drift:k", "by": "operator"}).encode())
    twin.on_message("plant/f1/ack", b"no:such-key")
    assert twin.drain() == 3
    acks = [d for d in sent.on("plant/f1/alerts") if d["state"] == "acknowledged"]
    assert [(d["key"], d["acknowledged"]["by"]) for d in acks] == [
        ("drift:h", ""), ("drift:k", "operator")]  # fmt: skip
    clock.now += 3600
    twin.on_message("plant/f1/ack", b"drift:h")  # again: nothing new
    twin.drain()
    escalated = [d for d in sent.on("plant/f1/alerts") if d["state"] == "escalated"]
    assert [(d["key"], d["severity"]) for d in escalated] == [("sensor_fault:T1", "critical")]
    assert len(sent.on("plant/f1/alerts")) == 6
    assert twin.validator.report()["accepted"] == 0  # acks are no readings
    assert twin.alerts.ack("drift:h") and not twin.alerts.ack("drift:x")


def test_routed_alert_arrives_on_a_local_webhook(tmp_path, webhook_server, caplog):
    url, server = webhook_server()
    secret_url = url.replace("http://", "http://twin:s3cr3t-pw@")
    loaded = slab(tmp_path, f"""alerts:
  routes:
    - {{match: {{severity: [critical]}}, webhook: "{secret_url}"}}
    - {{log: logs/alerts.jsonl}}
""")  # fmt: skip
    sent = Sent()
    twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(run_dir=tmp_path), sent)
    with caplog.at_level(logging.INFO):
        twin.alerts.update("qoi:T_max", True, False, T, "qoi_limit", "T_max low", qoi="T_max")
        twin.alerts.update("drift:h", True, False, T, "drift", "h moved")  # warning: no webhook
        assert wait_for(lambda: len(server.posts) == 1)
        time.sleep(0.2)
    doc, auth = server.posts[0]
    assert doc["key"] == "qoi:T_max" and doc["severity"] == "critical" and doc["qoi"] == "T_max"
    assert auth == "Basic dHdpbjpzM2NyM3QtcHc="  # twin:s3cr3t-pw, not in the URL
    assert len(server.posts) == 1
    lines = (tmp_path / "logs" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["qoi:T_max", "drift:h"]
    twin.alerts.router.close()
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_hostile_webhook_never_stalls_the_twin(tmp_path, webhook_server, caplog, mode):
    """A webhook that never answers or answers 500: raising 500 alerts takes well under a
    second (one post alone would hang for 30 s), the queue stays bounded, failures are retried
    with backoff and logged with the password redacted."""
    url, server = webhook_server(mode)
    url = url.replace("http://", "http://u:hunter22@")
    loaded = slab(tmp_path, f'alerts:\n  routes: [{{webhook: "{url}"}}]\n')
    opts = WebhookOptions(timeout=0.3, retries=2, backoff=0.05, queue=20)
    routes = Routes(loaded.case.alerts.routes, tmp_path, opts)
    alerts = Alerts("a", lambda *a: None, router=routes)
    hook = routes.targets[0]
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        for k in range(500):
            alerts.update(f"residual:{k}", True, False, T, "residual", "off")
        took = time.monotonic() - start
        assert took < 1.0, took
        assert hook.queue.qsize() <= 20 and hook.dropped >= 500 - 20 - 1
        assert wait_for(lambda: hook.failed >= 1, timeout=10)
    assert len(server.posts) >= 3  # the first alert, tried three times
    assert hook.sent == 0 and "attempt 3 of 3" in caplog.text
    assert "hunter22" not in caplog.text and "u:***@127.0.0.1" in caplog.text
    routes.close(timeout=0.2)


def test_a_log_route_stays_in_the_run_folder(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "out").symlink_to(tmp_path)
    loaded = slab(tmp_path, "alerts:\n  routes: [{log: out/escape.jsonl}]\n")
    with pytest.raises(CaseError, match=r"slab.yaml: alerts.routes\[0\].log: 'out/escape.jsonl' "
                       "leads to .* outside the run folder"):  # fmt: skip
        LiveTwin(loaded, SlabSurrogate(), LiveOptions(run_dir=tmp_path / "run"))


@pytest.mark.slow
def test_acknowledgement_through_the_broker(tmp_path):
    broker = next(running_broker(tmp_path))
    try:
        loaded = slab(tmp_path, "alerts:\n  escalate_after: 1 h\n")
        twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(asset="f2", run_dir=tmp_path))
        got: list[dict] = []
        watch = Connection(broker.cfg, ["plant/f2/alerts"], lambda t, p: got.append(json.loads(p)))
        assert watch.start(wait=5)
        stop = threading.Event()
        served = threading.Thread(target=serve_twin, args=(twin, broker.cfg, stop))
        served.start()
        time.sleep(1.0)  # the twin connects and subscribes
        twin.alerts.update("drift:h", True, False, T, "drift", "h moved")  # no message races it
        watch.publish("plant/f2/ack", b"drift:h")
        assert wait_for(lambda: [d["state"] for d in got] == ["raised", "acknowledged"])
        stop.set()
        served.join(10)
        watch.stop()
        assert twin.alerts.active["drift:h"]["acknowledged"] is not None
    finally:
        broker.kill()


BAD_KEYS = [
    ("alerts:\n  routes: [{mqtt: a/b, log: x.jsonl}]\n",
     ("alerts.routes[0]", "give exactly one of mqtt, webhook, log; got mqtt, log")),
    ('alerts:\n  routes: [{webhook: "ftp://u:pw123@host/x?token=abc99"}]\n',
     ("alerts.routes[0].webhook", "'ftp://u:***@host/x?token=***'", "http:// or https://")),
    ("alerts:\n  routes: [{mqtt: plant/#}]\n", ("alerts.routes[0].mqtt", "'plant/#'", "wildcards")),
    ("alerts:\n  routes: [{log: ../up.jsonl}]\n",
     ("alerts.routes[0].log", "'../up.jsonl'", "inside the run folder")),
    ("alerts:\n  routes: [{log: /tmp/a.jsonl}]\n",
     ("alerts.routes[0].log", "'/tmp/a.jsonl'", "not an absolute one")),
    ("alerts:\n  routes: [{match: {severity: urgent}, mqtt: a}]\n",
     ("alerts.routes[0].match.severity", "'info', 'warning' or 'critical'", "urgent")),
    ("alerts:\n  routes: [{match: {kind: fire}, mqtt: a}]\n",
     ("alerts.routes[0].match.kind", "'forecast'", "fire")),
    ("alerts:\n  severity: {drift: high}\n", ("alerts.severity.drift", "high", "'critical'")),
    ("alerts:\n  severity: {flood: info}\n", ("alerts.severity", "flood", "'qoi_limit'")),
    ("alerts:\n  escalate_after: 2 kg\n", ("alerts.escalate_after", "2 kg", "compatible with s")),
    ("alerts:\n  escalate_after: -1 h\n", ("alerts.escalate_after", "positive")),
    ("alerts:\n  forecast: {power: {limit: 3 kW/m^2}}\n",
     ("alerts.forecast.power", "not a latent parameter; latent: k, h")),
    ("alerts:\n  forecast: {h: {limit: 3 K}}\n",
     ("alerts.forecast.h.limit", "'3 K'", "expected units compatible with '50 W/(m^2*K)'")),
    ("alerts:\n  forecast: {h: {limit: 90 W/(m^2*K), horizon: 3 m}}\n",
     ("alerts.forecast.h.horizon", "3 m", "compatible with s")),
    ("alerts:\n  forecast: {h: {limit: 50 W/(m^2*K)}}\n",
     ("alerts.forecast.h.limit", "is the nominal value")),
    ("alerts:\n  forecast: {h: {limit: 90 W/(m^2*K), trend: quadratic}}\n",
     ("alerts.forecast.h.trend", "quadratic", "'linear', 'exponential' or 'auto'")),
    ("alerts:\n  forecast: {h: {limit: 90 W/(m^2*K), horizon: $h}}\n",
     ("alerts.forecast.h.horizon", "'$h': give a duration, not a parameter")),
    ("alerts:\n  forecast: {h: {limit: 90 W/(m^2*K), level: 1.5}}\n",
     ("alerts.forecast.h.level", "1.5", "less than 1")),
]  # fmt: skip


@pytest.mark.parametrize("text, expect", BAD_KEYS, ids=[e[0] for _, e in BAD_KEYS])
def test_new_keys_are_validated_with_clear_messages(text, expect, tmp_path, cli):
    path = tmp_path / "slab.yaml"
    path.write_text(SLAB_CASE + SLAB_SENSORS + text)
    r = cli("validate", path)
    assert r.returncode == 2, r.output
    assert r.stderr.startswith("error: ") and "Traceback" not in r.output
    for fragment in (str(path), *expect):
        assert fragment in r.stderr, f"{fragment!r} not in {r.stderr}"
    assert "pw123" not in r.output and "abc99" not in r.output


def test_the_new_keys_validate(tmp_path, cli):
    path = tmp_path / "slab.yaml"
    path.write_text(SLAB_CASE + SLAB_SENSORS + """alerts:
  drift: {h: 0.3}
  forecast: {h: {limit: 0.1 kW/(m^2*K), horizon: 30 d, trend: auto, window: 90 d}}
  severity: {drift: critical, residual: warning}
  escalate_after: 2 h
  routes:
    - {match: {severity: critical}, webhook: "https://user:pw@alerts.example.com/hook"}
    - {match: {kind: [drift, forecast]}, mqtt: plant/alerts/maintenance}
    - {log: alerts.jsonl}
""")  # fmt: skip
    r = cli("validate", path)
    assert r.returncode == 0, r.output
