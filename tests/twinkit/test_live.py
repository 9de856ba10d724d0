"""The live twin against the simulated plant: in-process, then through a real mosquitto broker.

The plant's truth is the slab's exact surrogate; its wall heat-transfer coefficient h drifts by
+50 % over the run. The twin must track it, raise exactly one drift alert, reject and count every
bad message, and survive a broker restart without losing its state.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from analytic_surrogate import SLAB_START as START
from mosquitto import running_broker

from twinkit.case import CaseError, load_case
from twinkit.process import sigpipe_ignored
from twinkit.sensors.mqtt import BrokerConfig, Connection
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.plant import Plant, PlantOptions, run_plant
from twinkit.twin.service import serve_twin, stop_on_signals

RULES = (
    SLAB_SENSORS
    + """\
alerts:
  drift: {h: 0.3}
  residual: 5
  qoi: {T_max: [420 K, null]}
"""
)


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + RULES)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def plant_options(**kw) -> PlantOptions:
    base = dict(rate=10.0, speed=60.0, duration=40.0, start=START, drift={"h": 0.5}, seed=3)
    return PlantOptions(**(base | kw))


def twin_options(**kw) -> LiveOptions:
    return LiveOptions(**(dict(cadence=60.0, process_std=0.3, warmup=5, seed=1) | kw))


class Recorder:
    """Collects what the twin publishes."""

    def __init__(self):
        self.messages: list[tuple[str, dict, bool]] = []

    def __call__(self, topic, doc, retain):
        self.messages.append((topic, json.loads(json.dumps(doc)), retain))

    def alerts(self, kind=None):
        return [d for t, d, _ in self.messages if t.endswith("/alerts") and d["state"] == "raised"
                and kind in (None, d["kind"])]  # fmt: skip


def drive(twin: LiveTwin, plant: Plant, ticks: range) -> list[tuple[float, float, float]]:
    """Feed ticks to the twin; (plant time, true h, estimated h) after every update."""
    track, n = [], twin.updates
    for k in ticks:
        for topic, payload in plant.tick(k):
            twin.process(topic, payload)
        if twin.updates > n:
            n = twin.updates
            track.append((twin.t, plant.truth(twin.t)["h"], twin.doc["parameters"]["h"]["value"]))
    return track


def test_twin_tracks_drift_with_one_alert_and_counts_bad_messages(loaded):
    rec = Recorder()
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options(), rec)
    plant = Plant(loaded, SlabSurrogate(), plant_options())
    track = drive(twin, plant, range(plant.ticks + 1))
    assert len(track) >= 38
    after = track[len(track) // 4 :]
    errors = [abs(est - true) / true for _, true, est in after]
    assert max(errors) < 0.10, errors
    assert track[-1][1] == pytest.approx(1.5 * START["h"])
    drift = rec.alerts("drift")
    assert len(drift) == 1 and drift[0]["parameter"] == "h"
    assert 0.3 < drift[0]["relative_change"] < 0.4
    assert len(rec.alerts("qoi_limit")) == 1  # T_max falls below 420 K as h rises
    assert rec.alerts("sensor_fault") == [] and rec.alerts("residual") == []
    q = twin.validator.report()["by_reason"]
    bad_sent = {k: v for k, v in plant.sent.items() if k not in ("good", "dropped")}
    assert sum(bad_sent.values()) > 0.03 * plant.sent.total()
    assert {k: q.get(k, 0) for k in bad_sent} == bad_sent
    assert twin.validator.accepted == plant.sent["good"]
    state = [d for t, d, retain in rec.messages if t == "plant/plant/twin/state"]
    assert all(retain for t, _, retain in rec.messages if "/twin/" in t)
    assert state[-1]["updates"] == twin.updates and state[-1]["quality"]["rejected"] > 0
    assert state[-1]["virtual"]["T_max"]["value"] < 420


def test_stuck_sensor_raises_one_fault_alert(loaded):
    rec = Recorder()
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options(), rec)
    plant = Plant(loaded, SlabSurrogate(), plant_options(bad=0.0, dropout=0.0, drift={}))
    for k in range(200):
        for topic, payload in plant.tick(k):
            if topic.endswith("/T2") and k >= 50:
                payload = json.dumps({"t": plant.time(k), "value": 355.0, "unit": "K"}).encode()
            twin.process(topic, payload)
    faults = rec.alerts("sensor_fault")
    assert len(faults) == 1 and faults[0]["sensor"] == "T2"
    assert twin.validator.report()["by_sensor"]["T2"]["stuck"] == 150 - 51  # after 5 min
    assert rec.alerts("drift") == []
    assert {a["sensor"] for a in rec.alerts("residual")} <= {"T2"}  # before it counted as stuck


def test_resume_from_saved_state_is_seamless(loaded, tmp_path):
    plant_a = Plant(loaded, SlabSurrogate(), plant_options(duration=20.0))
    plant_b = Plant(loaded, SlabSurrogate(), plant_options(duration=20.0))
    whole = LiveTwin(loaded, SlabSurrogate(), twin_options())
    drive(whole, plant_a, range(plant_a.ticks + 1))
    first = LiveTwin(loaded, SlabSurrogate(), twin_options())
    drive(first, plant_b, range(100))
    first.save(tmp_path / "state.json")
    second = LiveTwin(loaded, SlabSurrogate(), twin_options())
    second.restore(tmp_path / "state.json")
    drive(second, plant_b, range(100, plant_b.ticks + 1))
    assert second.updates == whole.updates > 10
    assert second.filter.U.tolist() == whole.filter.U.tolist()
    assert second.validator.report() == whole.validator.report()
    (tmp_path / "other.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(CaseError, match="other.json: not a state of this twin"):
        second.restore(tmp_path / "other.json")


def test_connection_ignores_sigpipe_even_after_petsc_reset_it():
    import dolfinx  # noqa: F401  (PETSc's initialisation sets SIGPIPE to terminate the process)

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    assert not sigpipe_ignored()
    conn = Connection(BrokerConfig("127.0.0.1", 9))  # nobody listens there: it keeps retrying
    try:
        conn.start()
        assert sigpipe_ignored()
    finally:
        conn.stop()


def test_broker_config_credentials(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    env = {"TWINKIT_MQTT_USERNAME": "twin", "TWINKIT_MQTT_PASSWORD_FILE": str(pw)}
    cfg = BrokerConfig.from_address("broker.local:8884", env, tls=True, ca_certs="ca.pem")
    assert (cfg.host, cfg.port, cfg.username, cfg.password) == (
        "broker.local",
        8884,
        "twin",
        "s3cret",
    )
    assert "s3cret" not in repr(cfg) and cfg.tls
    for bad, says in (("/dev/zero", "not a regular file"), (tmp_path, "not a regular file")):
        with pytest.raises(CaseError, match=f"TWINKIT_MQTT_PASSWORD_FILE: .*{says}"):
            BrokerConfig.from_address("localhost", {"TWINKIT_MQTT_PASSWORD_FILE": str(bad)})
    pw.write_text("x" * 5000)
    with pytest.raises(CaseError, match="TWINKIT_MQTT_PASSWORD_FILE: over 4,096 bytes"):
        BrokerConfig.from_address("localhost", {"TWINKIT_MQTT_PASSWORD_FILE": str(pw)})
    # a pipe, as `<(pass show mqtt)` gives: read to its end; one that never ends: refused in time
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("piped-pw\n"))
    writer.start()
    env = {"TWINKIT_MQTT_PASSWORD_FILE": str(fifo)}
    assert BrokerConfig.from_address("localhost", env).password == "piped-pw"
    writer.join()
    with open(os.open(fifo, os.O_RDWR), "w"):  # a writer that never closes
        t0 = time.monotonic()
        with pytest.raises(CaseError, match="gave no end of its text within"):
            BrokerConfig.from_address("localhost", env)
        assert time.monotonic() - t0 < 10
    assert BrokerConfig.from_address("localhost", {}).port == 1883
    assert BrokerConfig.from_address("localhost", {}, tls=True).port == 8883
    for bad in ("localhost:x", ":1883", "host:70000"):
        with pytest.raises(CaseError, match=f"--mqtt {bad}: expected HOST:PORT"):
            BrokerConfig.from_address(bad, {})


# ---- through a real broker ---------------------------------------------------------------------
@pytest.fixture
def broker(tmp_path):
    yield from running_broker(tmp_path)


def listen(cfg: BrokerConfig, *topics: str) -> tuple[Connection, list[tuple[str, dict]]]:
    got: list[tuple[str, dict]] = []
    conn = Connection(cfg, list(topics), lambda t, p: got.append((t, json.loads(p))))
    assert conn.start(wait=5)
    return conn, got


def run_live_and_plant(loaded, broker, state, plant_opts, during=None):
    """Twin and plant on their own threads through the broker; `during()` runs meanwhile."""
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options())
    stop = threading.Event()
    served = threading.Thread(target=serve_twin, args=(twin, broker.cfg, stop, state))
    served.start()
    pub = Connection(broker.cfg)
    assert pub.start(wait=5)
    time.sleep(0.3)  # the twin subscribes
    plant = Plant(loaded, SlabSurrogate(), plant_opts)
    sender = threading.Thread(target=run_plant, args=(plant, lambda t, p: pub.publish(t, p)))
    sender.start()
    if during:
        during(twin)
    sender.join()
    time.sleep(1.0)
    stop.set()
    served.join(10)
    pub.stop()
    return twin, plant


@pytest.mark.slow
def test_live_through_broker(loaded, broker, tmp_path):
    watch, got = listen(broker.cfg, "plant/plant/twin/#", "plant/plant/alerts")
    opts = plant_options(rate=50.0, speed=300.0, duration=8.0)  # the same plant time as above
    twin, plant = run_live_and_plant(loaded, broker, tmp_path / "s.json", opts)
    watch.stop()
    raised = [d for t, d in got if t.endswith("/alerts") and d["state"] == "raised"]
    assert [d["kind"] for d in raised].count("drift") == 1
    bad = {k: v for k, v in plant.sent.items() if k not in ("good", "dropped")}
    q = twin.validator.report()["by_reason"]
    assert {k: q.get(k, 0) for k in bad} == bad and twin.validator.accepted == plant.sent["good"]
    h = twin.doc["parameters"]["h"]["value"]
    assert abs(h - plant.truth(twin.t)["h"]) < 0.1 * plant.truth(twin.t)["h"]
    states = [d for t, d in got if t == "plant/plant/twin/state"]
    assert states[-1]["updates"] == twin.updates
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["updates"] == twin.updates


@pytest.mark.slow
def test_broker_restart_keeps_twin_state(loaded, broker, tmp_path):
    seen = {}

    def restart(twin):
        time.sleep(3)
        seen["before"] = twin.updates
        broker.kill()
        time.sleep(1.5)
        broker.start()
        time.sleep(5)
        seen["after"] = twin.updates

    opts = plant_options(rate=25.0, speed=150.0, duration=10.0, bad=0.0)
    twin, plant = run_live_and_plant(loaded, broker, tmp_path / "s.json", opts, restart)
    assert seen["before"] > 5 and seen["after"] > seen["before"] + 5
    assert twin.updates >= seen["after"]
    h, true_h = twin.doc["parameters"]["h"]["value"], plant.truth(twin.t)["h"]
    assert abs(h - true_h) < 0.1 * true_h
    # QoS 1 is at-least-once: a reading in flight when the broker died may come again after the
    # restart; it is rejected as a duplicate (never assimilated twice). Nothing else is rejected,
    # nothing replayed out of order; paho keeps at most 20 QoS-1 messages in flight.
    reasons = twin.validator.report()["by_reason"]
    assert set(reasons) <= {"duplicate"} and reasons.get("duplicate", 0) <= 20, reasons
    watch, got = listen(broker.cfg, "plant/plant/twin/state")
    time.sleep(0.5)
    watch.stop()
    assert got and got[-1][1]["updates"] == twin.updates  # retained, after the restart


def test_a_message_is_acknowledged_once_handled_so_a_dead_twin_gets_it_again(loaded, broker):
    """`twinkit live` acknowledges a reading to the broker only once it has handled it: the ones
    still in the inbox of a twin that dies stay with the broker (a persistent session), which
    delivers them again to the next start. The inbox calls `ack` after handling, or on a drop."""
    cfg = BrokerConfig("127.0.0.1", broker.port, client_id="ack-test", session=True)
    held: list[tuple[str, bytes, object]] = []
    first = Connection(cfg, ["plant/plant/sensors/+"], lambda *m: held.append(m), ack_after=True)
    assert first.start(wait=5)
    pub = Connection(broker.cfg)
    assert pub.start(wait=5)
    for k in range(5):
        pub.publish(f"plant/plant/sensors/T{k}", {"k": k})
    for _ in range(100):
        if len(held) == 5:
            break
        time.sleep(0.05)
    first.stop()  # dies holding all five, none acknowledged
    assert len(held) == 5
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options())
    again = Connection(cfg, ["plant/plant/sensors/+"], twin.on_message, ack_after=True)
    assert again.start(wait=5)
    got = []
    for _ in range(100):
        while (item := twin.next_message()) is not None:
            got.append(item[1])
            twin.handle(item)  # acknowledges it
        if len(got) >= 5:
            break
        time.sleep(0.05)
    again.stop()
    pub.stop()
    assert sorted(got) == [f"plant/plant/sensors/T{k}" for k in range(5)]
    acks: list[int] = []
    twin.on_message("plant/plant/sensors/T1", b"{}", lambda: acks.append(1))
    twin.handle(twin.next_message())
    assert acks == [1]


def test_sigterm_stops_cleanly_and_writes_state(loaded, broker, tmp_path):
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options())
    stop = threading.Event()
    restore = stop_on_signals(stop)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        t0 = time.monotonic()
        serve_twin(twin, broker.cfg, stop, tmp_path / "state.json", duration=20)
    finally:
        restore()
    assert time.monotonic() - t0 < 5 and stop.is_set()
    assert json.loads((tmp_path / "state.json").read_text())["format"] == "twinkit-live-state"


@pytest.mark.parametrize(
    "args, message",
    [
        (["live", "--mqtt", "localhost:x"], "--mqtt localhost:x: expected HOST:PORT"),
        (["live", "--mqtt", "localhost:1883", "--surrogate", "no.pt"], "no.pt: surrogate file"),
        (["live", "--mqtt", "localhost:1", "--cadence", "5 K"], "--cadence 5 K"),
        (["plant", "--mqtt", "h:1", "--truth", "t.pt", "--drift", "h=lots"], "--drift h=lots"),
        (["plant", "--mqtt", "h:1", "--truth", "t.pt", "--set", "h=1 m"], "--set h=1 m"),
    ],
)
def test_cli_errors(loaded, cli, monkeypatch, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    r = cli(args[0], loaded.path, *args[1:])
    assert r.returncode == 2 and message in r.stderr, r.output


def test_saved_state_reads_back_through_the_api(loaded, tmp_path):
    import twinkit as tk

    twin = LiveTwin(loaded, SlabSurrogate(), twin_options())
    drive(twin, Plant(loaded, SlabSurrogate(), plant_options(duration=10.0)), range(101))
    twin.save(tmp_path / "state.json")
    case = tk.Case(loaded)
    state = tk.load_twin_state(tmp_path / "state.json", case)
    assert state.estimates.si("h") == twin.doc["parameters"]["h"]["value"]
    assert state.estimates.si_std("h") == twin.doc["parameters"]["h"]["std"]
    assert str(state.estimates["h"].units) == "watt / kelvin / meter ** 2"
    assert f"{twin.updates} updates" in repr(state) and "T_max" in state._repr_html_()
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(tk.CaseError, match="not published an update yet"):
        tk.load_twin_state(tmp_path / "empty.json", case)
