"""Hostile and careless input to the twin (issue 15): no message can stall the live twin, no
sensor file can crash or silently mislead a calibration, and results out of range are loud.

In-process tests drive `LiveTwin` with the slab's exact surrogate, as tests/twinkit/test_live.py
does; the process tests run `twinkit live` and `twinkit plant` against a real mosquitto.
"""

from __future__ import annotations

import csv
import getpass
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from analytic_surrogate import SLAB_START as START
from mosquitto import MOSQUITTO, Broker, running_broker
from test_live_cli import fin, twinkit  # noqa: F401  (fin: a module fixture)

from twinkit.case import load_case
from twinkit.sensors.mqtt import Connection
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.plant import Plant, PlantOptions
from twinkit.twin.service import serve_twin

RULES = SLAB_SENSORS
T2026 = 1_767_225_600.0  # the simulated plant's start, 2026-01-01
T2030 = 1_906_416_000.0  # 2030-06-01: a plausible epoch, but years ahead of any clock here
T2100 = "2100-01-01T00:00:00Z"
TOPIC = "plant/plant/sensors/"


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + RULES)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def make_twin(loaded, **kw) -> LiveTwin:
    opts = dict(cadence=60.0, process_std=0.3, warmup=5, seed=1) | kw
    return LiveTwin(loaded, SlabSurrogate(), LiveOptions(**opts))


def make_plant(loaded, **kw) -> Plant:
    opts = dict(rate=10.0, speed=60.0, duration=200.0, start=START, drift={}, seed=3, bad=0.0)
    return Plant(loaded, SlabSurrogate(), PlantOptions(**(opts | {"dropout": 0.0} | kw)))


def message(sensor: str, t, value, unit: str = "K") -> tuple[str, bytes]:
    return TOPIC + sensor, json.dumps({"t": t, "value": value, "unit": unit}).encode()


def feed(twin: LiveTwin, plant: Plant, ticks, shift: float = 0.0) -> None:
    """The plant's messages of `ticks` (every 6 s of plant time), `shift` s later."""
    for k in ticks:
        for topic, payload in plant.tick(k):
            if shift:
                doc = json.loads(payload)
                doc["t"] = plant.time(k) + shift
                payload = json.dumps(doc).encode()
            twin.process(topic, payload)


def reasons(twin: LiveTwin) -> dict[str, int]:
    return twin.validator.report()["by_reason"]


# ---- readings from the future ------------------------------------------------------------------
@pytest.mark.parametrize("skew", [300.0, None], ids=["wall_clock", "plant_clock_only"])
@pytest.mark.parametrize(
    "t, reason", [(T2100, "bad_timestamp"), (T2030, "future")], ids=["2100", "2030"]
)
def test_one_reading_from_the_future_does_not_stall_the_twin(loaded, tmp_path, skew, t, reason):
    """One reading in 2100 stopped every update for good, even after a restart."""
    a, plant = make_twin(loaded, max_skew=skew), make_plant(loaded)
    feed(a, plant, range(50))  # 5 min
    before = a.updates
    a.process(*message("T2", t, 400.0))
    feed(a, plant, range(50, 650))  # 60 min of good data
    assert reasons(a) == {reason: 1}
    assert a.updates - before >= 59 and a.t == plant.time(649)
    a.save(tmp_path / "state.json")
    assert json.loads((tmp_path / "state.json").read_text())["t"] == plant.time(649)
    b = make_twin(loaded, max_skew=skew)
    b.restore(tmp_path / "state.json")
    feed(b, plant, range(650, 750))  # 10 min more
    assert b.updates - a.updates >= 9 and reasons(b) == {reason: 1}


def test_a_saved_state_with_a_clock_in_the_future_starts_the_clock_afresh(loaded, tmp_path):
    """A state saved after such a reading was accepted (before the fix) kept the twin stalled."""
    a, plant = make_twin(loaded), make_plant(loaded)
    feed(a, plant, range(50))
    a.save(tmp_path / "state.json")
    s = json.loads((tmp_path / "state.json").read_text())
    poisoned = 4_102_444_800.0 + 86_400  # 2100-01-02, as such a state held it
    s["t"] = s["last_t"] = poisoned
    s["validator"]["tracks"]["T2"] |= {"t": poisoned, "good_t": poisoned}
    (tmp_path / "state.json").write_text(json.dumps(s))
    b = make_twin(loaded)
    b.restore(tmp_path / "state.json")
    feed(b, plant, range(50, 150))  # 10 min
    assert b.updates - a.updates >= 9
    assert reasons(b) == {}  # T2 is not out of order against a time from the future


def test_a_gap_in_the_data_is_confirmed_by_three_sensors_not_by_one(loaded):
    """Without the wall clock (a replay), the plant clock still moves only with the plant."""
    a, plant = make_twin(loaded, max_skew=None), make_plant(loaded)
    feed(a, plant, range(50))
    n = a.updates
    for k in range(50, 150):  # one sensor whose clock is 2 h fast, all along
        feed(a, plant, [k])
        a.process(*message("T2", plant.time(k) + 7200, 400.0))
    # each held until three readings at the plant's time pass unconfirmed; the last one still is
    assert reasons(a) == {"future": 99} and a.updates - n >= 9
    n, accepted, sent = a.updates, a.validator.accepted, plant.sent["good"]
    feed(a, plant, range(150, 250), shift=3 * 3600)  # the plant was quiet for 3 h
    assert a.t == plant.time(249) + 3 * 3600 and a.updates - n >= 9
    # the fast sensor's last reading is refused (2 h is not the new time); the readings after
    # the gap that were held until two more sensors confirmed it are all used
    assert reasons(a) == {"future": 100}
    assert a.validator.accepted - accepted == plant.sent["good"] - sent


def test_epoch_milliseconds_and_microseconds_are_read_as_such(loaded):
    """Epoch ms gave readings in the year 56301 (and a ValueError on publishing)."""
    a, plant = make_twin(loaded), make_plant(loaded)
    feed(a, plant, range(20))
    t = plant.time(20)
    for sensor, stamp in [("T0", t * 1e3), ("T1", int(t * 1e6)), ("T2", f"{t * 1e6:.9e}")]:
        a.process(*message(sensor, stamp, 400.0))
    a.process(*message("T3", 5e10, 400.0))  # neither s, ms, µs nor ns of 1990–2100
    a.process(*message("T4", -t, 400.0))
    assert reasons(a) == {"bad_timestamp": 2}
    assert a.validator._tracks["T0"].t == pytest.approx(t)
    assert a.validator._tracks["T1"].t == a.validator._tracks["T2"].t == pytest.approx(t)
    feed(a, plant, range(21, 40))
    assert a.updates >= 2 and reasons(a) == {"bad_timestamp": 2}


# ---- bounded state, payloads, nesting ----------------------------------------------------------
def test_unknown_topics_are_counted_together(loaded):
    """5,000 distinct unknown topics grew the saved state from 61 kB to 671 kB."""
    a, plant = make_twin(loaded), make_plant(loaded)
    feed(a, plant, range(20))
    size = len(json.dumps(a.state()))
    t = plant.time(20)
    for i in range(5000):
        a.process(*message(f"probe{i:04d}", t, 400.0))
        a.process(TOPIC + f"other{i:04d}", b"{not json")
    assert len(json.dumps(a.state())) - size < 200
    assert a.validator.report()["by_sensor"] == {"?": {"malformed_json": 5000,
                                                       "unknown_sensor": 5000}}  # fmt: skip


def test_a_payload_over_64_kB_is_refused(loaded):
    """A 20 MB payload was parsed and accepted."""
    a = make_twin(loaded)
    doc = {"t": T2026, "value": 400.0, "unit": "K", "note": "x" * 20_000_000}
    a.on_message(TOPIC + "T2", json.dumps(doc).encode())
    assert len(a.inbox.get_nowait()[2]) <= 64 * 1024 + 1  # not kept whole while it waits
    a.on_message(TOPIC + "T2", json.dumps(doc).encode())
    a.drain()
    a.process(*message("T2", T2026, 400.0, "K" + " " * 70_000))  # in process() too
    assert reasons(a) == {"too_large": 2} and a.validator.accepted == 0


def test_deep_json_is_one_line_refusal_not_a_traceback(loaded, caplog):
    """Deeply nested JSON wrote a full RecursionError traceback to the log."""
    a = make_twin(loaded)
    nested = {"t": T2026, "value": json.loads("[" * 40 + "1" + "]" * 40), "unit": "K"}
    with caplog.at_level(logging.DEBUG):
        a.process(TOPIC + "T2", b"[" * 60_000)
        a.process(TOPIC + "T2", b'{"a":' * 13_000)
        a.process(TOPIC + "T2", json.dumps(nested).encode())
        brackets_in_a_string = {"t": "[" * 40 + "{" * 40, "value": 1, "unit": "K"}
        a.process(TOPIC + "T2", json.dumps(brackets_in_a_string).encode())
    assert reasons(a) == {"too_deep": 3, "bad_timestamp": 1}
    assert not [r for r in caplog.records if r.exc_info or "\n" in r.getMessage()]


def test_a_unit_with_huge_powers_is_refused_at_once():
    """`K**9**9**9` in one message hung the twin (pint computes the exact integer)."""
    code = (
        "import json, time\n"
        "from twinkit.sensors.readings import Rule, SensorValidator\n"
        "v = SensorValidator({'T': Rule('K')})\n"
        "t0 = time.perf_counter()\n"
        "for u in ('K**9**9**9', 'K ** 9 ** 9', 'K^(9^9)', 'degC**-99999', 'K' * 40_000):\n"
        "    doc = {'t': 1767225600, 'value': 1, 'unit': u}\n"
        "    assert v.check_mqtt('p/sensors/T', json.dumps(doc).encode()) is None\n"
        "print(time.perf_counter() - t0, json.dumps(v.report()['by_reason']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seconds, counts = r.stdout.split(" ", 1)
    assert float(seconds) < 1 and json.loads(counts) == {"wrong_unit": 5}


# ---- stopping ------------------------------------------------------------------------------------
@pytest.fixture
def broker(tmp_path):
    yield from running_broker(tmp_path)


def test_stop_does_not_wait_for_a_message_being_handled(loaded, broker, tmp_path, caplog):
    """SIGTERM waited 50 s for a message that hung the twin."""
    a, plant = make_twin(loaded), make_plant(loaded)
    release, started = threading.Event(), threading.Event()
    handle = a.process

    def process(topic, payload):
        if topic.endswith("/slow"):
            started.set()
            release.wait(60)
        handle(topic, payload)

    a.process = process  # type: ignore[method-assign]
    stop, state = threading.Event(), tmp_path / "state.json"
    served = threading.Thread(target=serve_twin, args=(a, broker.cfg, stop, state),
                              kwargs={"save_every": 0.2})  # fmt: skip
    served.start()
    pub = Connection(broker.cfg)
    try:
        assert pub.start(wait=5)
        time.sleep(0.5)
        for k in range(30):
            for topic, payload in plant.tick(k):
                pub.publish(topic, payload)
        for _ in range(100):  # until a state with 2 updates is saved
            if state.exists() and json.loads(state.read_text())["updates"] >= 2:
                break
            time.sleep(0.1)
        pub.publish(TOPIC + "slow", b"{}")
        assert started.wait(10)
        t0 = time.monotonic()
        stop.set()
        served.join(10)
        latency = time.monotonic() - t0
    finally:
        release.set()
        pub.stop()
    assert not served.is_alive() and latency < 5, latency
    assert json.loads(state.read_text())["updates"] >= 2
    assert "still being handled" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_live_process_stops_within_5_s_after_hostile_messages(fin, tmp_path, sig):  # noqa: F811
    case, model, s = fin
    broker = next(gen := running_broker(tmp_path))
    state, lines = tmp_path / "live.json", []
    live = twinkit("live", case, "--mqtt", f"127.0.0.1:{broker.port}", "--surrogate", model,
                   "--state", state)  # fmt: skip
    reader = threading.Thread(target=lambda: lines.extend(live.stderr), daemon=True)
    reader.start()
    states: list[dict] = []
    watch = Connection(
        broker.cfg, ["plant/plant/twin/state"], lambda t, p: states.append(json.loads(p))
    )
    pub = Connection(broker.cfg)
    try:
        assert watch.start(wait=5) and pub.start(wait=5)
        for _ in range(600):
            if any("connected to" in line for line in lines) or live.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # it subscribes
        hostile = [
            message("T_mid", T2026, 300.0, "K**9**9**9"),
            (TOPIC + "T_mid", b"[" * 60_000),
            (TOPIC + "T_mid", json.dumps({"t": T2026, "value": 1, "pad": "x" * 2**20}).encode()),
            message("T_tip", T2100, 300.0),
            *(message(f"unknown{i}", T2026, 300.0) for i in range(200)),
        ]
        for topic, payload in hostile:
            pub.publish(topic, payload)
        plant = Plant(load_case(case, check_regions=False), s,
                      PlantOptions(bad=0.0, dropout=0.0, seed=1))  # fmt: skip
        for k in range(100):  # 10 min of plant time
            for topic, payload in plant.tick(k):
                pub.publish(topic, payload)
        for _ in range(600):
            if states and states[-1]["updates"] >= 5:
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        live.send_signal(sig)
        out, _ = live.communicate(timeout=60)
        latency = time.monotonic() - t0
    finally:
        watch.stop()
        pub.stop()
        if live.poll() is None:
            live.kill()
        next(gen, None)
    err = "".join(lines)
    assert live.returncode == 0 and latency < 5, (latency, out, err[-3000:])
    saved = json.loads(state.read_text())
    assert saved["updates"] >= 5 and f"stopped after {saved['updates']} updates" in out
    q = saved["validator"]
    counts = {(s, r): n for s, r, n in q["counts"]}
    assert counts[("T_mid", "wrong_unit")] == 1 and counts[("T_mid", "too_deep")] == 1
    assert counts[("T_mid", "too_large")] == 1 and counts[("T_tip", "bad_timestamp")] == 1
    assert counts[("", "unknown_sensor")] == 200 and "Traceback" not in err
    print(f"stop latency after {signal.Signals(sig).name}: {latency:.2f} s")


# ---- credentials ---------------------------------------------------------------------------------
class PasswordBroker(Broker):
    """mosquitto that wants user 'twin', password 'right'."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        pw = folder / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "twin", "right"], check=True,
                       capture_output=True)  # fmt: skip
        # run as root, mosquitto would drop to the user 'mosquitto', who cannot read tmp_path
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n"
            f"user {getpass.getuser()}\n"
        )


@pytest.mark.slow
def test_wrong_credentials_are_reported_with_a_non_zero_exit(fin, tmp_path, cli_processes):  # noqa: F811
    """`live` exited 0 ("stopped after 0 updates"), `plant` said no broker answered."""
    if not (shutil.which(MOSQUITTO) and shutil.which("mosquitto_passwd")):
        pytest.skip("mosquitto is not installed")
    case, model, _ = fin
    broker = PasswordBroker(tmp_path)
    broker.start()
    env = {"TWINKIT_MQTT_USERNAME": "twin", "TWINKIT_MQTT_PASSWORD": "Zx9-not-it"}
    addr = f"127.0.0.1:{broker.port}"
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t0 = time.monotonic()
        live, plant = cli_processes(
            ["live", case, "--mqtt", addr, "--surrogate", model, "--state", tmp_path / "s.json",
             "--duration", "30"],
            ["plant", case, "--mqtt", addr, "--truth", model, "--duration", "30"],
        )  # fmt: skip
        seconds = time.monotonic() - t0
    finally:
        broker.kill()
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    for r in (live, plant):
        assert r.returncode == 2, r.output
        assert "the broker refused the connection: Not authorized" in r.stderr, r.output
        assert "TWINKIT_MQTT_PASSWORD" in r.stderr and "Zx9-not-it" not in r.output
        assert "no broker answered" not in r.output and "Traceback" not in r.output
    assert seconds < 30  # refused at once, not after --duration


# ---- sensor files and out-of-range results -------------------------------------------------------
T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def write_data(path: Path, minutes=60, temperature_unit="K", celsius=False, power=(1.8, "kW/m^2"),
               stamp=lambda t: t, extra=()) -> Path:  # fmt: skip
    """The slab's exact readings at START (1 per sensor and minute, 0.2 % noise)."""
    truth = SlabSurrogate().truth(**START)
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "sensor", "value", "unit"])
        for m in range(minutes):
            t = stamp(T0 + 60 * m)
            for p, v in truth.items():
                v = (v - 273.15 if celsius else v) * (1 + 0.002 * rng.standard_normal())
                w.writerow([t, p, v, temperature_unit])
            w.writerow([t, "power", *power])
        w.writerows(extra)
    return path


@pytest.fixture
def slab(tmp_path, monkeypatch):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE)
    monkeypatch.setattr("twinkit.training.read_surrogate", lambda path: SlabSurrogate())
    return tmp_path / "slab.yaml"


def test_epoch_ms_us_and_a_row_in_9999_do_not_break_a_calibration(slab, tmp_path):
    """Epoch ms or 1e15 stopped the calibration (ValueError: year 56301 is out of range); a row
    in 9999 silently became the whole calibration window."""
    from twinkit.twin.calibrate import Options, run_calibrate

    far = [["9999-12-31T00:00:00Z", "T0", 400, "K"], [T0 + 86_400 * 200, "T1", 400, "K"]]
    for stamp in (lambda t: int(t * 1000), lambda t: f"{t * 1e6:.8e}"):
        data = write_data(tmp_path / "d.csv", stamp=stamp, extra=far)
        summary, _ = run_calibrate(slab, data, None, tmp_path / "o", Options("30 min"),
                                   SlabSurrogate())  # fmt: skip
        w = summary["window"]
        assert (w["start"], w["end"]) == ("2024-05-01T12:29:00+00:00", "2024-05-01T12:59:00+00:00")
        assert summary["data_quality"]["by_reason"] == {"bad_timestamp": 1, "far_from_rest": 1}
        assert all(s["n"] == 31 for s in summary["sensors"].values())
        assert summary["estimates"]["h"]["value"] == pytest.approx(START["h"], rel=0.02)


def out_of_range_runs(slab, tmp_path, cli, data: Path) -> tuple:
    out = tmp_path / data.stem
    r = cli("calibrate", slab, "--sensors", data, "--surrogate", slab, "--out", out)
    strict = cli(
        "calibrate", slab, "--sensors", data, "--surrogate", slab, "--out", out, "--strict"
    )
    summary = json.loads((out / "summary.json").read_text())
    return r, strict, " ".join(r.stdout.split()), summary


def test_estimates_out_of_range_warn_and_strict_exits_3(slab, tmp_path, cli):
    """degC values labelled K gave estimates far outside their ranges with exit 0 and no word."""
    data = write_data(tmp_path / "celsius.csv", celsius=True)
    r, strict, text, summary = out_of_range_runs(slab, tmp_path, cli, data)
    assert r.returncode == 0 and strict.returncode == 3, strict.output
    assert summary["out_of_range"] == {"estimates": ["k", "h"], "inputs": []}
    h = summary["estimates"]["h"]
    assert f"warning: h = {h['value']:.4g} ± " in text
    assert "W/(m^2*K) is outside its range [20 W/(m^2*K), 120 W/(m^2*K)] in the case" in text
    assert "out of range (--strict)" in strict.stderr and "Traceback" not in strict.output


def test_a_measured_input_outside_the_training_range_warns(slab, tmp_path, cli):
    """A measured input outside the surrogate's training box was used silently."""
    data = write_data(tmp_path / "watts.csv", power=(1.8, "W/m^2"))
    r, strict, text, summary = out_of_range_runs(slab, tmp_path, cli, data)
    assert r.returncode == 0 and strict.returncode == 3, strict.output
    assert summary["out_of_range"]["inputs"] == ["power"]
    assert summary["inputs"]["power"]["training_range"] == [1000.0, 3000.0]
    assert ("warning: power = 0.0018 kW/m^2 (measured) is outside the surrogate's training "
            "range [1 kW/m^2, 3 kW/m^2]") in text  # fmt: skip


def test_in_range_strict_exits_0(slab, tmp_path, cli):
    r, strict, text, summary = out_of_range_runs(
        slab, tmp_path, cli, write_data(tmp_path / "ok.csv")
    )
    assert r.returncode == 0 and strict.returncode == 0, strict.output
    assert summary["out_of_range"] == {"estimates": [], "inputs": []} and "warning" not in text


def test_report_shows_the_out_of_range_warning(slab, tmp_path):
    from twinkit.pipeline.report import _calibration, _Shown
    from twinkit.twin.calibrate import Options, run_calibrate

    data = write_data(tmp_path / "celsius.csv", celsius=True, power=(1.8, "W/m^2"))
    run_calibrate(slab, data, None, tmp_path / "run" / "calibration", Options(), SlabSurrogate())
    page = _calibration(tmp_path / "run", data, _Shown(load_case(slab)))
    assert page.count('<p class="bad">Warning: ') == 3
    assert "Warning: h = " in page and "is outside its range in the case [20, 120]." in page
    assert ("Warning: power = 0.0018 kW/m^2 is outside the surrogate&#x27;s training range "
            "(measured) [1, 3].") in page  # fmt: skip


# ---- fuzzing the live twin's message path --------------------------------------------------------
def hostile_messages():
    """Strategies for what may arrive on a sensor topic: a valid reading (its time relative to
    the plant clock, in s, ms, µs, ns, ISO or text) with one or two fields made hostile."""
    from hypothesis import strategies as st

    valid = st.tuples(
        st.sampled_from(["T0", "T1", "T2", "T3", "T4", "power"]),
        st.sampled_from(["s", "ms", "us", "ns", "iso", "text"]),
        st.floats(-600, 30),  # s from the plant time: accepted, out of order or a duplicate
        st.floats(0, 1),  # where in the sensor's range
    )
    topic = st.one_of(
        st.text(max_size=20).map(lambda s: TOPIC + s),
        st.text(max_size=40),
        st.integers(1, 70_000).map(lambda n: TOPIC + "x" * n),
    )
    stamp = st.one_of(
        st.tuples(st.just("ahead"), st.floats(400, 1e9)),  # beyond the wall clock's skew
        st.sampled_from([T2100, "9999-12-31T23:59:59Z", -1, 0, 5e10, 1e15, 1e30, 10**400,
                         "1e15", "NaN", "-inf", "", "0001-01-01", "now", "x" * 100]),
        st.none() | st.booleans() | st.text(max_size=30) | st.lists(st.integers(), max_size=3),
        st.floats(allow_nan=True, allow_infinity=True),
    )  # fmt: skip
    value = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**400), 10**400),
        st.text(max_size=30) | st.none() | st.booleans(),
        st.lists(st.floats(), max_size=3) | st.dictionaries(st.text(max_size=5), st.integers()),
        st.integers(33, 60).map(lambda n: json.loads("[" * n + "1" + "]" * n)),
    )
    unit = st.one_of(
        st.sampled_from(["K**9**9**9", "K ** 9 ** 9", "K^(9^9)", "degC**-99999", "K**9e9",
                         "1e999999 K", "K*" + "9" * 60, "(" * 30 + "K" + ")" * 30, "", "Pa",
                         "degC", "furlong"]),
        st.integers(60, 70_000).map(lambda n: "K" * n),
        st.text(max_size=80) | st.none() | st.integers(),
    )  # fmt: skip
    raw = st.one_of(
        st.binary(max_size=200),
        st.integers(1, 70_000).map(lambda n: b"[" * n),
        st.integers(1, 20_000).map(lambda n: b'{"a":' * n),
        st.integers(60_000, 200_000).map(lambda n: b" " * n + b"{}"),
        st.sampled_from([b"", b"null", b"[]", b"{}", b'{"t": 1}', b"\xef\xbb\xbf{}", b"NaN"]),
    )
    quality = st.sampled_from(["good", "bad", "", 192, None, [1], "x" * 1000])
    mutation = st.one_of(
        *(st.tuples(st.just(field), s) for field, s in [("topic", topic), ("t", stamp),
          ("value", value), ("unit", unit), ("quality", quality), ("raw", raw)]),
        st.tuples(st.just("pad"), st.integers(0, 100_000)),
        st.tuples(st.just("valid"), st.none()),
    )  # fmt: skip
    return st.tuples(valid, st.lists(mutation, min_size=1, max_size=2))


def materialise(drawn, plant_time: float) -> tuple[str, bytes]:
    """The topic and payload of a drawn message, its times resolved against the plant time."""
    (sensor, kind, dt, x), mutations = drawn
    power = sensor == "power"
    topic, raw = TOPIC + sensor, None
    doc = {"t": (kind, dt), "value": 1e4 * x if power else 250 + 750 * x,
           "unit": "W/m^2" if power else "K"}  # fmt: skip
    for field, hostile in mutations:
        if field == "topic":
            topic = hostile
        elif field == "raw":
            raw = hostile
        elif field == "pad":
            doc["pad"] = "x" * hostile
        elif field != "valid":
            doc[field] = hostile
    if isinstance(doc["t"], tuple):
        kind, dt = doc["t"]
        now = plant_time + dt
        scale = {"ms": 1e3, "us": 1e6, "ns": 1e9}.get(kind, 1.0)
        doc["t"] = {"iso": datetime_iso(now), "text": f"{now:.3f}"}.get(kind, now * scale)
    return topic, raw if raw is not None else json.dumps(doc).encode()


def datetime_iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat()


def test_fuzzed_payloads_never_stall_or_crash_the_twin(loaded, caplog):
    """≥ 1,000 generated payloads through `on_message` (the MQTT thread's entry) and `drain`:
    none raises or logs a traceback, each is handled in bounded time, the state stays small, and
    good readings after every batch of bad ones update the twin."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    a, truth = make_twin(loaded), SlabSurrogate().truth(**START)
    clock = {"plant": T2026, "payloads": 0, "slowest": 0.0, "largest": 0}
    a.validator.clock.now = lambda: clock["plant"] + 60  # a wall clock in step with the plant

    def good_tick(t: float) -> None:
        for name, v in [*truth.items(), ("power", START["power"])]:
            v *= 1 + 1e-3 * math.sin(t + len(name))  # moves: never stuck
            a.on_message(*message(name, t, v, "W/m^2" if name == "power" else "K"))
        a.drain()

    good_tick(T2026)

    @settings(max_examples=200, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(hostile_messages(), min_size=10, max_size=14))
    def run(messages):
        for drawn in messages:
            a.on_message(*materialise(drawn, clock["plant"]))
            t0 = time.perf_counter()
            assert a.drain() == 1
            clock["slowest"] = max(clock["slowest"], time.perf_counter() - t0)
            clock["payloads"] += 1
        updates, accepted = a.updates, a.validator.accepted
        clock["plant"] += 120
        good_tick(clock["plant"])
        assert a.validator.accepted == accepted + 6 and a.updates == updates + 1
        clock["largest"] = max(clock["largest"], len(json.dumps(a.state())))

    with caplog.at_level(logging.WARNING):
        run()
    assert clock["payloads"] >= 1000
    assert clock["slowest"] < 2.0, clock  # typically a few ms; a pint hang would be hours
    assert clock["largest"] < 100_000, clock
    assert "internal_error" not in reasons(a)
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    n, slowest, largest = clock["payloads"], 1e3 * clock["slowest"], clock["largest"]
    hostile = a.validator.accepted - 6 * (a.updates + 1)  # accepted besides the good ticks
    print(f"fuzz: {n} payloads ({hostile} accepted), slowest {slowest:.1f} ms, state ≤ "
          f"{largest} bytes, {reasons(a)}")  # fmt: skip
