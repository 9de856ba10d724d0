"""A fleet: one twin service for two simulated slabs drifting apart, on a real mosquitto broker.
Each twin tracks its own plant, their histories stay apart (the `asset` column of one shared
database), a flood of hostile messages and a slow update on one asset leave the other's updates
going, a stop takes under 5 s with the states written, and a bad fleet file exits with code 2
naming its key."""

from __future__ import annotations

import json
import threading
import time

import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SLAB_START, SlabSurrogate
from mosquitto import running_broker

from twinkit.case import load_case
from twinkit.sensors.mqtt import Connection
from twinkit.twin.fleet import FleetService, Member, matches
from twinkit.twin.history_read import read_history
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.plant import Plant, PlantOptions, run_plant
from twinkit.twin.service import resume

DRIFTS = {"north": 0.5, "south": -0.4}  # h over the run: 60 → 90 and 60 → 36 W/(m²·K)


@pytest.fixture
def broker(tmp_path):
    yield next(gen := running_broker(tmp_path))
    next(gen, None)


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def fleet(loaded, broker, tmp_path, url) -> FleetService:
    members = []
    for n in DRIFTS:
        opts = LiveOptions(n, cadence=60.0, members=32, process_std=1.0, seed=1, run_dir=tmp_path)
        twin = LiveTwin(loaded, SlabSurrogate(), opts)
        resume(twin, None, url)
        members.append(Member(n, twin, tmp_path / f"{n}.json", f"plant/{n}/sensors/+", "slab"))
    return FleetService("test", members, broker.cfg)


def plants(loaded, **kw) -> dict[str, Plant]:
    opts = dict(rate=20.0, speed=120.0, duration=6.0, start=SLAB_START, bad=0.05) | kw
    return {n: Plant(loaded, SlabSurrogate(), PlantOptions(n, drift={"h": d}, seed=i, **opts))
            for i, (n, d) in enumerate(DRIFTS.items())}  # fmt: skip


def publishing(broker, plant: Plant) -> tuple[threading.Thread, Connection]:
    conn = Connection(broker.cfg)
    assert conn.start(wait=5)
    t = threading.Thread(target=run_plant, args=(plant, lambda tp, p: conn.publish(tp, p)))
    t.start()
    return t, conn


def serving(service: FleetService) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    t = threading.Thread(target=service.run, args=(stop,), kwargs={"summary_every": 0.5})
    t.start()
    assert service.conn.connected.wait(10)
    time.sleep(0.3)  # subscribed
    return t, stop


def stopped_within(t: threading.Thread, stop: threading.Event) -> float:
    t0 = time.monotonic()
    stop.set()
    t.join(10)
    assert not t.is_alive()
    return time.monotonic() - t0


def retained(broker, topic: str) -> dict:
    got: list[dict] = []
    conn = Connection(broker.cfg, [topic], lambda tp, p: got.append(json.loads(p)))
    conn.start(wait=5)
    for _ in range(50):
        if got:
            break
        time.sleep(0.1)
    conn.stop()
    assert got, f"nothing retained on {topic}"
    return got[-1]


def wait_idle(service: FleetService, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(m.twin.inbox.empty() for m in service.members.values()):
            time.sleep(0.5)
            return
        time.sleep(0.1)


def test_two_assets_in_one_service_each_track_their_own_plant(loaded, broker, tmp_path):
    url = f"sqlite:///{tmp_path}/fleet.sqlite"  # one database for both: the asset column
    service = fleet(loaded, broker, tmp_path, url)
    run, stop = serving(service)
    sim = plants(loaded)
    pubs = [publishing(broker, p) for p in sim.values()]
    for t, conn in pubs:
        t.join()
        conn.stop()
    wait_idle(service)
    assert stopped_within(run, stop) < 5.0
    for n, plant in sim.items():
        twin = service.members[n].twin
        assert twin.validator.accepted == plant.sent["good"] > 500
        truth = plant.truth(twin.t)["h"]
        est = twin.doc["parameters"]["h"]
        assert abs(est["value"] - truth) < max(3 * est["std"], 0.08 * truth), (n, est, truth)
        saved = json.loads((tmp_path / f"{n}.json").read_text())
        assert saved["updates"] == twin.updates > 10
        updates = read_history(url, "updates", asset=n)
        assert len(updates.drop_duplicates("update")) == twin.updates
        readings = read_history(url, "readings", asset=n)
        assert (readings["status"] == "accepted").sum() == plant.sent["good"]
    h = {n: service.members[n].twin.doc["parameters"]["h"]["value"] for n in DRIFTS}
    assert h["north"] > 80 and h["south"] < 42  # they drifted apart, each with its own plant
    assert set(read_history(url, "readings")["asset"]) == set(DRIFTS)
    summary = retained(broker, "fleet/test/state")
    assert set(summary["assets"]) == set(DRIFTS)
    assert {a["status"] for a in summary["assets"].values()} == {"stopped"}
    assert summary["assets"]["north"]["updates"] == service.members["north"].twin.updates


def test_a_flood_and_a_slow_update_on_one_asset_leave_the_other_going(loaded, broker, tmp_path):
    service = fleet(loaded, broker, tmp_path, None)
    north, south = (service.members[n].twin for n in DRIFTS)
    slow, release, original = threading.Event(), threading.Event(), south.update

    def stuck_update() -> None:  # the third update of `south` hangs until released
        if south.updates == 2:
            slow.set()
            release.wait(30)
        original()

    south.update = stuck_update
    run, stop = serving(service)
    sim = plants(loaded, duration=8.0, bad=0.0)
    pubs = [publishing(broker, p) for p in sim.values()]
    flood = Connection(broker.cfg)
    assert flood.start(wait=5)
    garbage = [b"{not json", b'{"t": 1e300, "value": "x"}', b"[]" * 10, b"\xff\xfe"]
    for i in range(5000):
        flood.publish(f"plant/south/sensors/T{i % 7}", garbage[i % len(garbage)], qos=0)
        if i % 100 == 0:
            flood.publish("plant/south/sensors/T1", b"x" * 70_000, qos=0)  # over the limit
    assert slow.wait(10)
    at_hang = north.updates
    time.sleep(5.5)
    summary = retained(broker, "fleet/test/state")
    assert summary["assets"]["south"]["status"] == "busy"
    assert summary["assets"]["north"]["status"] == "ok"
    assert north.updates > at_hang + 5  # went on while south was stuck
    elapsed = stopped_within(run, stop)  # south is still stuck: the stop does not wait for it
    for t, conn in pubs:
        t.join()
        conn.stop()
    flood.stop()
    assert elapsed < 5.0
    assert json.loads((tmp_path / "north.json").read_text())["updates"] == north.updates
    assert south.updates == 2 and south.inbox.qsize() > 0
    final = retained(broker, "fleet/test/state")["assets"]
    assert (final["north"]["status"], final["south"]["status"]) == ("stopped", "busy")
    release.set()


def test_matches_follows_mqtt_wildcards():
    assert matches("plant/a/sensors/T1", "plant/a/sensors/+")
    assert not matches("plant/b/sensors/T1", "plant/a/sensors/+")
    assert not matches("plant/a/sensors/T1/x", "plant/a/sensors/+")
    assert matches("site/a/x/y", "site/a/#") and not matches("plant/a/ack", "plant/a/sensors/+")


GOOD = "name: test\nbroker: localhost:1883\nassets:\n  north: {case: slab.yaml}\n"


@pytest.mark.parametrize(
    "text, says",
    [
        ("assets: {}\n", "assets: "),
        ("broker: x:y\nassets:\n  a: {case: slab.yaml}\n", "broker: expected HOST:PORT"),
        ("assets:\n  a: {case: slab.yaml, cadnce: 5 min}\n", "assets.a.cadnce: unknown key"),
        ("assets:\n  a: {case: slab.yaml, cadence: 5 kg}\n", "assets.a.cadence: "),
        ("assets:\n  a: {case: slab.yaml, members: 2}\n", "assets.a.members: "),
        ("assets:\n  a: {surrogate: s.pt}\n", "assets.a.case: required key is missing"),
        ("assets:\n  a: {case: nothere.yaml}\n", "assets.a.case: 'nothere.yaml': case file not"),
        ("assets:\n  a: {case: ../slab.yaml}\n", "assets.a.case: '../slab.yaml': leads to"),
        ("assets:\n  a/b: {case: slab.yaml}\n", "assets.a/b"),
        ("assets:\n  a: {case: slab.yaml, history: ftp://x}\n", "assets.a.history: expected"),
        (
            "assets:\n  a: {case: slab.yaml, state: s}\n  b: {case: slab.yaml, state: s}\n",
            "assets.b.state: ",
        ),
    ],
)
def test_a_bad_fleet_file_exits_2_naming_the_key(tmp_path, cli, text, says):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "slab.yaml").write_text(SLAB_CASE)
    (tmp_path / "slab.yaml").write_text(SLAB_CASE)
    (tmp_path / "f" / "fleet.yaml").write_text(text)
    r = cli("fleet", tmp_path / "f" / "fleet.yaml", "--check")
    assert r.returncode == 2, r.output
    assert f"fleet.yaml: {says}" in r.output, r.output


def test_a_good_fleet_file_resolves_its_paths(tmp_path, cli, monkeypatch):
    from twinkit.twin.fleet_file import load_fleet

    monkeypatch.chdir(tmp_path)
    (tmp_path / "slab.yaml").write_text(SLAB_CASE)
    (tmp_path / "fleet.yaml").write_text(
        GOOD + "  south: {case: slab.yaml, cadence: 5 min, history: off, max_skew: off,"
        " max_lateness: off, field_history: 1 h}\n"
    )
    f = load_fleet("fleet.yaml")
    assert list(f.assets) == ["north", "south"] and f.broker == "localhost:1883"
    north, south = f.assets["north"], f.assets["south"]
    assert north.case == tmp_path / "slab.yaml" and north.cadence == 60.0
    assert north.state.as_posix() == "runs/test/north/live.json"
    assert north.history == "sqlite:///runs/test/north/history.sqlite"
    assert (south.cadence, south.history, south.max_skew) == (300.0, None, None)
    assert (north.max_lateness, south.max_lateness) == (600.0, None)
    assert (north.field_history, south.field_history) == (900.0, 3600.0)
    r = cli("fleet", "fleet.yaml", "--check")
    assert r.returncode == 0 and "north, south" in r.output, r.output


def test_the_fleet_dashboard_lists_the_assets_and_links_their_pages(loaded, tmp_path, monkeypatch):
    """Two assets' histories in one database: the index at / lists both with their status and
    latest update, linking /north and /south, which serve the one-asset page."""
    import socket
    import urllib.request

    from bokeh.document import Document

    from twinkit.dashboard.fleet import FleetIndex, contexts, start_fleet
    from twinkit.twin.fleet_file import load_fleet

    monkeypatch.chdir(tmp_path)
    url = "sqlite:///fleet.sqlite"
    for n, plant in plants(loaded, duration=3.0).items():
        twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(n, cadence=60.0, run_dir=tmp_path))
        resume(twin, None, url)
        for k in range(plant.ticks + 1):
            for topic, payload in plant.tick(k):
                twin.process(topic, payload)
        twin.flush(wait=True)
        twin.history.close(twin.state())
    (tmp_path / "fleet.yaml").write_text(
        "name: test\nhistory: fleet.sqlite\nassets:\n  north: {case: slab.yaml}\n"
        "  south: {case: slab.yaml}\n  east: {case: slab.yaml, history: off}\n"
    )
    f = load_fleet("fleet.yaml")
    index = FleetIndex("test", contexts(f), doc := Document())
    text = index.div.text
    for n in DRIFTS:
        assert f"<a href='/{n}' name='asset:{n}'>{n}</a>" in text
    assert "no history (history: off)" in text and "href='/east'" not in text
    north = text.split("data-asset='north'>")[1].split("</tr>")[0]
    assert "<td style='padding:4px 12px'>ok</td>" in north and "2026-01-01" in north
    assert doc.roots == [index.div]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_fleet(f, None, "127.0.0.1", port)
    try:
        for path in ("/", "/north", "/south"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                assert r.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/east", timeout=30)
    finally:
        server.io_loop.add_callback(server.stop)


@pytest.mark.slow
def test_the_fleet_command_stops_on_sigint_with_every_state_written(broker, tmp_path):
    """`twinkit fleet` as a user runs it (a real surrogate file): SIGINT stops both assets, each
    with its state file and history written, and exit code 0."""
    import signal
    import subprocess
    import sys

    from test_live_cli import FIN_CASE

    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate, from_dataset
    from twinkit.surrogates.synthetic import fin_dataset

    (tmp_path / "fin.yaml").write_text(FIN_CASE)
    cfg = FitConfig(train=TrainConfig(members=2, hidden=(8,), epochs=20))
    fit_surrogate(from_dataset(fin_dataset(16, 8)), cfg).save(tmp_path / "fin.pt")
    (tmp_path / "fleet.yaml").write_text(
        f"name: fins\nbroker: 127.0.0.1:{broker.port}\nassets:\n"
        "  a: {case: fin.yaml, surrogate: fin.pt}\n  b: {case: fin.yaml, surrogate: fin.pt}\n"
    )
    log = tmp_path / "fleet.log"
    with log.open("w") as out:
        p = subprocess.Popen([sys.executable, "-m", "twinkit.cli", "fleet", "fleet.yaml"],
                             cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(600):
        if "connected to" in log.read_text() or p.poll() is not None:
            break
        time.sleep(0.1)
    assert "connected to" in log.read_text(), log.read_text()
    p.send_signal(signal.SIGINT)
    assert p.wait(30) == 0, log.read_text()
    for n in "ab":
        assert json.loads((tmp_path / "runs/fins" / n / "live.json").read_text())["updates"] == 0
        assert (tmp_path / "runs/fins" / n / "history.sqlite").exists()
        assert f"{n}: 0 updates" in log.read_text()
