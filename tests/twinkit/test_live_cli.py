"""The commands as a user runs them, with a real (small, quickly trained) surrogate file:
`twinkit calibrate`, and `twinkit plant` + `twinkit live` as processes on a mosquitto broker,
the twin stopped by SIGTERM and resumed from its state file."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mosquitto import running_broker

ROOT = Path(__file__).parents[2]
FIN_CASE = """\
name: fin
model: heat_conduction
mesh: {generator: rectangle, length: 0.1 m, height: 0.1 m, cells: [4, 4]}
parameters:
  power: {value: 3 kW/m^2, range: [1 kW/m^2, 5 kW/m^2], role: operating}
  h: {value: 30 W/(m^2*K), range: [10 W/(m^2*K), 100 W/(m^2*K)], role: latent, scale: log}
  t_amb: {value: 300 K, range: [273.15 K, 323.15 K], role: operating}
materials:
  plate: {conductivity: 200 W/(m*K)}
boundary_conditions:
  - {type: heat_flux, region: left, value: $power}
  - {type: convection, region: right, h: $h, ambient: $t_amb}
probes:
  T_root: {point: [0 m, 0.05 m]}
  T_mid: {point: [0.05 m, 0.05 m]}
  T_tip: {point: [0.1 m, 0.1 m]}
sensors:
  T_root: {range: [200 K, 2000 K]}
  T_mid: {range: [200 K, 2000 K]}
  T_tip: {range: [200 K, 2000 K]}
alerts:
  drift: {h: 0.2}
"""


@pytest.fixture(scope="module")
def fin(tmp_path_factory):
    """The fin case and a real surrogate of `twinkit.surrogates.synthetic`'s fin plate (tiny)."""
    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate, from_dataset
    from twinkit.surrogates.synthetic import fin_dataset

    d = tmp_path_factory.mktemp("fin")
    (d / "fin.yaml").write_text(FIN_CASE)
    cfg = FitConfig(train=TrainConfig(members=2, hidden=(16,), epochs=60))
    s = fit_surrogate(from_dataset(fin_dataset(32, 8)), cfg)
    s.save(d / "fin.pt")
    return d / "fin.yaml", d / "fin.pt", s


def twinkit(*args, **kw) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "twinkit.cli", *map(str, args)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)  # fmt: skip


@pytest.mark.slow
def test_calibrate_command_with_a_real_surrogate(fin, tmp_path):
    case, model, s = fin
    truth = {"power": 3500.0, "h": 42.0, "t_amb": 295.0}
    pred = s.predict(truth)
    rng = np.random.default_rng(5)
    with (tmp_path / "d.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "sensor", "value", "unit"])
        for m in range(60):
            t = f"2026-01-01T{m // 60:02d}:{m % 60:02d}:00Z"
            for p in ("T_root", "T_mid", "T_tip"):
                v = float(pred.mean[f"sensor_{p}"][0]) * (1 + 0.01 * rng.standard_normal())
                w.writerow([t, p, v, "K"])
            w.writerow([t, "power", 3.5, "kW/m^2"])
            w.writerow([t, "t_amb", 21.85, "degC"])
    p = twinkit("calibrate", case, "--sensors", tmp_path / "d.csv", "--surrogate", model,
                "--out", tmp_path / "out")  # fmt: skip
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    h = summary["estimates"]["h"]
    # a tiny surrogate is uncertain, so the posterior is wide, but it must contain the truth
    assert abs(h["value"] - 42.0) < 2 * h["std"] and h["std_ratio"] < 1
    assert summary["inputs"]["t_amb"]["value"] == pytest.approx(295.0)
    assert summary["calibration"]["seconds"] < 5
    assert "temperature_min" in summary["virtual"]


@pytest.mark.slow
def test_plant_and_live_processes(fin, tmp_path):
    case, model, _ = fin
    broker = next(gen := running_broker(tmp_path))
    try:
        addr, state = f"127.0.0.1:{broker.port}", tmp_path / "live.json"
        live = twinkit("live", case, "--mqtt", addr, "--surrogate", model, "--state", state,
                       "--drift-rate", "1")  # fmt: skip
        fast = ["--duration", "6", "--rate", "20", "--speed", "300"]  # 30 min of plant time
        plant = twinkit("plant", case, "--mqtt", addr, "--truth", model, *fast,
                        "--drift", "h=0.5", "--set", "h=40 W/(m^2*K)")  # fmt: skip
        p_out, p_err = plant.communicate(timeout=120)
        assert plant.returncode == 0, p_out + p_err
        time.sleep(1)
        live.send_signal(signal.SIGTERM)
        out, err = live.communicate(timeout=30)
        assert live.returncode == 0, out + err
        assert "stopped after" in out and "alerts {'drift': 1}" in out, out + err
        saved = json.loads(state.read_text())
        assert saved["updates"] > 5
        again = twinkit("live", case, "--mqtt", addr, "--surrogate", model, "--state", state,
                        "--duration", "1")  # fmt: skip
        out2, err2 = again.communicate(timeout=60)
        assert again.returncode == 0 and "resumed from" in err2, out2 + err2
        assert f"stopped after {saved['updates']} updates" in out2
    finally:
        next(gen, None)


def _live(args: list, log: Path) -> subprocess.Popen:
    """`twinkit live` as a process logging to `log`; returns once it is connected to the broker."""
    with log.open("w") as out:
        p = subprocess.Popen([sys.executable, "-m", "twinkit.cli", "live", *map(str, args)],
                             cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(600):
        if "connected to" in log.read_text() or p.poll() is not None:
            break
        time.sleep(0.1)
    assert "connected to" in log.read_text(), log.read_text()
    return p


@pytest.mark.slow
def test_live_history_survives_kill_9(fin, tmp_path):
    """`twinkit live` killed with SIGKILL mid-run, then started again: its history goes on in the
    same file. Of the readings the plant sent (counted), only those sent in the last second before
    the kill may be missing (the broker keeps the rest for the twin's session while it is down);
    no reading is assimilated twice, and the updates stay numbered."""
    import threading

    from twinkit.case import load_case
    from twinkit.sensors.mqtt import BrokerConfig, Connection
    from twinkit.sensors.timestamps import parse_time
    from twinkit.twin.history_read import read_history
    from twinkit.twin.plant import Plant, PlantOptions, run_plant

    case, model, s = fin
    broker = next(gen := running_broker(tmp_path))
    try:
        db = tmp_path / "h.sqlite"
        args = [case, "--mqtt", f"127.0.0.1:{broker.port}", "--surrogate", model, "--state",
                tmp_path / "live.json", "--history", db, "--drift-rate", "1"]  # fmt: skip
        live = _live(args, tmp_path / "live0.log")
        opts = PlantOptions(rate=20.0, speed=300.0, duration=12.0, start={"h": 40.0},
                            drift={"h": 0.5}, bad=0.0, dropout=0.0, seed=2)  # fmt: skip
        plant = Plant(load_case(case, check_regions=False), s, opts)
        pub = Connection(BrokerConfig("127.0.0.1", broker.port))
        assert pub.start(wait=5)
        sent: dict[tuple[str, float], float] = {}  # (sensor, t) → when it was sent

        def publish(topic: str, payload: bytes) -> None:
            pub.publish(topic, payload)
            sent[topic.rsplit("/", 1)[-1], parse_time(json.loads(payload)["t"])] = time.time()

        sender = threading.Thread(target=run_plant, args=(plant, publish))
        sender.start()
        time.sleep(4)
        live.kill()  # SIGKILL: no handler runs, nothing is flushed
        killed = time.time()
        live.wait()
        before = read_history(str(db), "updates")["update"].max()
        again = _live(args, tmp_path / "live1.log")
        sender.join()
        time.sleep(2)
        again.send_signal(signal.SIGTERM)
        assert again.wait(30) == 0
        pub.stop()
    finally:
        next(gen, None)
    assert "resumed from history" in (tmp_path / "live1.log").read_text()
    readings = read_history(str(db))
    assert set(readings["status"]) == {"accepted"}  # nothing came twice, nothing was refused
    stored = {(r.sensor, r.t.timestamp()) for r in readings.itertuples()}
    assert len(stored) == len(readings)
    missing = {k: w for k, w in sent.items() if k not in stored}
    assert stored <= set(sent) and len(sent) == plant.sent["good"] > 1000
    assert all(killed - 1.0 < w <= killed for w in missing.values()), sorted(missing.values())
    assert len(missing) <= 20 * 5  # a second of readings (20 ticks/s, 5 streams)
    updates = read_history(str(db), "updates").drop_duplicates("update")
    assert updates["update"].tolist() == list(range(1, len(updates) + 1))
    assert len(updates) > before > 5
    # each update used readings from where the previous one stopped: none assimilated twice
    first, last = (updates[c].reset_index(drop=True) for c in ("readings_from", "readings_to"))
    assert (first.iloc[1:].reset_index(drop=True) >= last.iloc[:-1]).all()
    assert updates["readings"].sum() <= len(readings)
