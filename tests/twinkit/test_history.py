"""The live twin's history: every reading (with its status and reason), update (with lineage) and
alert is in the database, the same counts as the twin's own; a twin that dies between two commits
resumes from the history's state without writing anything twice; `twinkit history` and
`tk.history` read it back; PostgreSQL works as SQLite does."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from analytic_surrogate import SLAB_START as START

import twinkit as tk
from twinkit.case import CaseError, load_case
from twinkit.twin.history import History
from twinkit.twin.history_read import read_history, time_bound
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.plant import Plant, PlantOptions
from twinkit.twin.service import resume

RULES = SLAB_SENSORS + "alerts:\n  drift: {h: 0.3}\n  residual: 5\n"


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + RULES)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def new_twin(loaded, url=None) -> LiveTwin:
    twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(cadence=60.0, process_std=0.3, seed=1))
    if url is not None:
        twin.surrogate_hash = "slab-exact"
        resume(twin, None, str(url))
    return twin


def new_plant(loaded, **kw) -> Plant:
    opts = dict(rate=10.0, speed=60.0, duration=30.0, start=START, drift={"h": 0.5}, seed=3)
    return Plant(loaded, SlabSurrogate(), PlantOptions(**(opts | kw)))


def feed(twin: LiveTwin, plant: Plant, ticks: range) -> None:
    for k in ticks:
        for topic, payload in plant.tick(k):
            twin.process(topic, payload)


def check_complete(twin: LiveTwin, plant: Plant, url: str) -> None:
    """The history holds exactly what the twin counted, each update with its lineage."""
    readings = read_history(url, "readings")
    status = readings["status"].value_counts().to_dict()
    assert status["accepted"] == twin.validator.accepted == plant.sent["good"]
    rejected = readings[readings.status == "rejected"]["reason"].value_counts().to_dict()
    bad = {k: v for k, v in plant.sent.items() if k not in ("good", "dropped")}
    assert rejected == bad and sum(bad.values()) > 20
    accepted = readings[readings.status == "accepted"]
    assert not accepted.duplicated(["sensor", "t"]).any()
    updates = read_history(url, "updates")
    assert sorted(set(updates["update"])) == list(range(1, twin.updates + 1))
    last = updates[updates["update"] == twin.updates].set_index("name")
    assert last.loc["h", "value"] == twin.doc["parameters"]["h"]["value"]
    assert last.loc["h", "std"] == twin.doc["parameters"]["h"]["std"]
    assert set(last["kind"]) == {"parameter", "input", "sensor", "qoi"}
    assert last.loc["T2", "measured"] == pytest.approx(twin.doc["sensors"]["T2"]["measured"])
    assert last.loc["T2", "sigma"] == pytest.approx(twin.doc["sensors"]["T2"]["sigma"])
    virtual = twin.doc["virtual"]["T_max"]  # the QoI over the posterior ensemble
    assert (last.loc["T_max", "value"], last.loc["T_max", "std"]) == (virtual["value"],
                                                                      virtual["std"])  # fmt: skip
    per_update = updates.drop_duplicates("update")
    assert set(per_update["case_hash"]) == {twin.loaded.hash}
    assert set(per_update["surrogate_hash"]) == {"slab-exact"}
    pending = sum(n for _, n in twin.pending.values())
    assert per_update["readings"].sum() + pending == twin.validator.accepted
    assert (per_update["readings_from"] <= per_update["readings_to"]).all()
    assert (per_update["readings_to"] <= per_update["t"]).all()
    alerts = read_history(url, "alerts")
    drift = alerts[(alerts.kind == "drift") & (alerts.state == "raised")]
    assert len(drift) == 1 and json.loads(drift["data"].iloc[0])["parameter"] == "h"


def test_history_holds_every_reading_update_and_alert(loaded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the case's run folder: runs/slab
    url = "sqlite:///runs/slab/history.sqlite"
    twin, plant = new_twin(loaded, url), new_plant(loaded)
    feed(twin, plant, range(plant.ticks + 1))
    twin.flush(wait=True)
    assert twin.history.written > 0 and twin.history.pending == 0
    check_complete(twin, plant, url)
    # a window on plant time: the last 10 min of readings, as the API reads it
    end = twin.t
    recent = tk.history(tk.Case(loaded), since=end - 600, until=end)
    assert len(recent) > 0 and recent["t"].min().timestamp() >= end - 600
    assert len(recent) < len(tk.history("runs/slab")) == len(tk.history(loaded.path))
    assert time_bound("6h", "--since", now=1e9) == 1e9 - 6 * 3600
    assert time_bound("2026-01-01T00:00Z", "--since") == 1_767_225_600.0
    with pytest.raises(CaseError, match="--since yesterday: expected a duration"):
        time_bound("yesterday", "--since")


def test_a_killed_twin_resumes_its_history_without_duplicates(loaded, tmp_path):
    """The twin dies with rows uncommitted; the next one resumes from the history's state (the
    one that matches it) and sees the rest: nothing is written twice, updates stay numbered."""
    url = f"sqlite:///{tmp_path}/h.sqlite"
    plant, whole = new_plant(loaded), new_twin(loaded)
    ticks = [plant.tick(k) for k in range(plant.ticks + 1)]  # the same messages for both

    def replay(twin: LiveTwin, part: slice) -> None:
        for messages in ticks[part]:
            for topic, payload in messages:
                twin.process(topic, payload)

    replay(whole, slice(None))
    first = new_twin(loaded, url)
    replay(first, slice(0, 120))
    first.flush(wait=True)
    committed = first.updates
    replay(first, slice(120, 140))  # handled, never committed: lost with the process
    assert first.history.pending > 0 and first.updates > committed
    first.history.db.close()
    second = new_twin(loaded, url)
    assert second.updates == committed
    replay(second, slice(120, None))  # the broker's queue: from the commit on
    second.flush(wait=True)
    assert second.updates == whole.updates
    assert second.filter.U.tolist() == whole.filter.U.tolist()
    check_complete(second, plant, url)


def test_a_backlog_overtaken_by_newer_readings_is_used_and_stored_once(loaded, tmp_path):
    """As after a broker restart: the plant's client sends a new tick before its backlog (3 min
    of plant time), then the broker delivers a tick again. The late readings are
    accepted and assimilated, recorded once (reason `late`); the copies are refused as
    duplicates; the estimates end as an in-order twin's do."""
    url = f"sqlite:///{tmp_path}/h.sqlite"
    plant, ordered = new_plant(loaded, bad=0.0, dropout=0.0), new_twin(loaded)
    ticks = [plant.tick(k) for k in range(plant.ticks + 1)]
    for messages in ticks:
        for topic, payload in messages:
            ordered.process(topic, payload)
    twin = new_twin(loaded, url)
    for k in [*range(0, 150), 180, *range(150, 180), *range(181, len(ticks)), len(ticks) - 2]:
        for topic, payload in ticks[k]:
            twin.process(topic, payload)
    twin.flush(wait=True)
    v, n = twin.validator, len(ticks[-2])
    assert v.accepted == ordered.validator.accepted == plant.sent["good"] == sum(map(len, ticks))
    assert v.late == 30 * n and v.report()["by_reason"] == {"duplicate": n}
    readings = read_history(url, "readings")
    assert len(readings) == sum(map(len, ticks)) + n  # every message once
    kept = readings[readings.status == "accepted"]
    assert (kept.reason == "late").sum() == v.late and not kept.duplicated(["sensor", "t"]).any()
    assert readings[readings.status == "rejected"].reason.tolist() == ["duplicate"] * n
    updates = read_history(url, "updates").drop_duplicates("update")
    pending = sum(k for _, k in twin.pending.values())
    assert updates["readings"].sum() + pending == v.accepted  # all of them assimilated
    assert twin.updates == ordered.updates - 3  # the backlog's 3 min went into one update
    est, ref = twin.doc["parameters"]["h"], ordered.doc["parameters"]["h"]
    assert est["value"] == pytest.approx(ref["value"], rel=0.02)


def test_hostile_readings_are_stored_as_rejected_with_their_reason(loaded, tmp_path):
    url = f"sqlite:///{tmp_path}/h.sqlite"
    twin = new_twin(loaded, url)
    t = START_T = 1_767_225_600.0
    twin.process("plant/plant/sensors/T1", json.dumps({"t": t, "value": 400, "unit": "K"}).encode())
    bad_unit = {"t": t + 60, "value": 400, "unit": "furlong"}
    future = {"t": t + 10 * 365 * 86400, "value": 400, "unit": "K"}
    twin.process("plant/plant/sensors/T1", json.dumps(bad_unit).encode())
    twin.process("plant/plant/sensors/T2", json.dumps(future).encode())
    twin.process("plant/plant/sensors/T3", b"{not json")
    twin.process(
        "plant/plant/sensors/T3", json.dumps({"t": t, "value": None, "unit": "K"}).encode()
    )
    twin.process("plant/plant/sensors/T\x004", b'{"t": 1, "value": "\x00"}')
    twin.flush(wait=True)
    r = read_history(url).set_index("sensor")
    assert r.loc["T1"]["status"].tolist() == ["accepted", "rejected"]
    wrong = r.loc["T1"].iloc[1]
    assert wrong["reason"] == "wrong_unit" and "furlong" in wrong["payload"]
    assert r.loc["T2", "reason"] == "future" and "ahead" in r.loc["T2", "detail"]
    assert r.loc["T2", "t"].timestamp() == START_T  # the plant clock, not the claimed time
    assert r.loc["T3"]["reason"].tolist() == ["malformed_json", "missing"]
    assert r.loc["T1"].iloc[0]["value"] == 400.0 and r.loc["T1"].iloc[0]["unit"] == "K"
    nul = r.loc["T\\x004"]  # NUL characters escaped: PostgreSQL would refuse them
    assert nul["reason"] == "malformed_json" and nul["payload"] == '{"t": 1, "value": "\\x00"}'


def test_readings_held_after_a_gap_are_used_and_stored_once(loaded, tmp_path):
    """The first readings after a gap in the data were refused as `future` until a third sensor
    confirmed the new time, and lost; now they are held until then, and used, one record each."""
    url = f"sqlite:///{tmp_path}/h.sqlite"
    twin, plant = new_twin(loaded, url), new_plant(loaded, bad=0.0, dropout=0.0)
    feed(twin, plant, range(20))
    fast = {"t": plant.time(19) + 7200, "value": 400, "unit": "K"}  # a clock 2 h fast
    twin.process("plant/plant/sensors/T2", json.dumps(fast).encode())
    feed(twin, plant, range(20, 25))  # held until readings at the plant's time go on
    gap, sent = 3 * 3600, 0  # then the plant is quiet for 3 h
    for k in range(25, 40):
        for topic, payload in plant.tick(k):
            doc = json.loads(payload) | {"t": plant.time(k) + gap}
            twin.process(topic, json.dumps(doc).encode())
            sent += 1
    twin.flush(wait=True)
    r = read_history(url, "readings")
    assert r["status"].value_counts().to_dict() == {"accepted": plant.sent["good"], "rejected": 1}
    assert twin.validator.accepted == plant.sent["good"] and twin.t == plant.time(39) + gap
    bad = r[r["status"] == "rejected"].iloc[0]
    assert (bad["sensor"], bad["reason"]) == ("T2", "future")
    assert "ahead of the plant clock" in bad["detail"]
    accepted = r[r["status"] == "accepted"]
    assert not accepted.duplicated(["sensor", "t"]).any()
    assert (accepted["t"].map(lambda t: t.timestamp()) >= plant.time(25) + gap).sum() == sent


def test_history_command_writes_csv_and_parquet(loaded, tmp_path, cli):
    db = tmp_path / "h.sqlite"
    twin, plant = new_twin(loaded, db), new_plant(loaded, duration=10.0)
    feed(twin, plant, range(plant.ticks + 1))
    twin.flush(wait=True)
    r = cli("history", loaded.path, "--history", db, "--kind", "updates")
    assert r.returncode == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == (
        "asset,t,update,kind,name,value,std,measured,sigma,unit,case_hash,surrogate_hash,"
        "readings_from,readings_to,readings,seconds"
    )
    assert len(lines) == 1 + twin.updates * (2 + 1 + 5 + 1)  # h, k; power; T0-T4; T_max
    assert lines[1].startswith("plant,2026-01-01T00:01:00.000000Z,1,parameter,")
    r = cli("history", loaded.path, "--history", db, "--since", "2026-01-01T00:05Z")
    assert r.returncode == 0 and r.stdout.splitlines()[1].split(",")[1] >= "2026-01-01T00:05"
    r = cli("history", loaded.path, "--history", db, "--kind", "alerts", "--format", "parquet",
            "--output", tmp_path / "a.parquet")  # fmt: skip
    assert r.returncode == 0, r.output
    import pandas as pd

    assert list(pd.read_parquet(tmp_path / "a.parquet").columns)[:4] == ["asset", "t", "received",
                                                                         "state"]  # fmt: skip
    for args, message in [
        (("--kind", "trends"), "--kind trends: expected one of readings, updates, alerts"),
        (("--format", "xlsx"), "--format xlsx: expected csv or parquet"),
        (("--format", "parquet"), "--format parquet needs --output FILE"),
        (("--since", "soon"), "--since soon: expected a duration"),
    ]:
        r = cli("history", loaded.path, "--history", db, *args)
        assert r.returncode == 2 and message in r.stderr, r.output
    r = cli("history", loaded.path, "--history", tmp_path / "none.sqlite")
    assert r.returncode == 2 and "none.sqlite: no such file" in r.stderr
    for url, message in [
        ("mysql://ann:s3cr3t-pw@db/twin", "expected sqlite:///FILE, postgresql://"),
        ("postgresql://ann:s3cr3t-pw@127.0.0.1:1/twin", "cannot open"),
    ]:
        r = cli("history", loaded.path, "--history", url)
        assert r.returncode == 2 and message in r.stderr and "ann:***@" in r.stderr, r.output
        assert "s3cr3t" not in r.output


def test_since_counts_back_from_the_newest_record_not_the_wall_clock(loaded, tmp_path, cli):
    """The slab plant's times are 2026-01-01 00:00 to 00:10, long before the wall clock: a
    duration (`--since 3 min`) reads the last 3 min of the history's plant time, as it would of
    a live twin's, instead of nothing."""
    from datetime import datetime

    from twinkit.twin.history_read import newest

    db = tmp_path / "h.sqlite"
    twin, plant = new_twin(loaded, db), new_plant(loaded, duration=10.0)
    feed(twin, plant, range(plant.ticks + 1))
    twin.flush(wait=True)
    last = newest(f"sqlite:///{db}")
    assert last == max(read_history(f"sqlite:///{db}")["t"]).timestamp() == twin.t
    assert newest(f"sqlite:///{db}", asset="another") is None
    r = cli("history", loaded.path, "--history", db, "--since", "3 min")
    assert r.returncode == 0, r.output
    times = [datetime.fromisoformat(line.split(",")[1]).timestamp()
             for line in r.stdout.splitlines()[1:]]  # fmt: skip
    assert times and min(times) >= last - 180 and max(times) == last
    everything = tk.history(db)
    assert len(times) == (everything["t"].map(lambda t: t.timestamp()) >= last - 180).sum()
    assert len(times) < len(everything)
    older = tk.history(db, kind="updates", until="5 min")  # also --until
    assert len(older) and older["t"].max().timestamp() <= last - 300
    # a time is not a duration: the history is not read for it
    assert time_bound("2026-01-01T00:00Z", "--since", now=lambda: 1 / 0) == 1_767_225_600.0
    before = time.time()  # a history without records: the wall clock
    assert before - 3600 <= time_bound("1 h", "--since", now=lambda: None) <= time.time() - 3600


def test_a_database_that_fails_keeps_the_rows_until_it_is_back(loaded, tmp_path):
    db = tmp_path / "h.sqlite"
    twin = new_twin(loaded, db)
    plant = new_plant(loaded, duration=5.0)
    feed(twin, plant, range(20))
    twin.flush(wait=True)
    lock = sqlite3.connect(db, timeout=0)
    lock.execute("BEGIN EXCLUSIVE")  # another writer holds the file
    twin.history.db.conn.execute("PRAGMA busy_timeout = 10")
    feed(twin, plant, range(20, 40))
    twin.flush()
    assert not twin.history.sync(timeout=0.5) and twin.history.pending > 0  # the rows wait
    assert not twin.history.commit()  # and say so
    lock.rollback()
    lock.close()
    assert twin.history.sync(timeout=10) and twin.history.pending == 0
    assert len(read_history(str(db))) == sum(plant.sent.values()) - plant.sent["dropped"]


@pytest.mark.slow
def test_postgresql_history(loaded, postgres):
    twin, plant = new_twin(loaded, postgres), new_plant(loaded)
    feed(twin, plant, range(plant.ticks // 2))
    twin.process("plant/plant/sensors/T\x004", b'{"t": 1, "value": "\x00"}')
    twin.flush(wait=True)
    assert twin.history.pending == 0  # NUL characters did not stop the commit
    plant.sent["malformed_json"] += 1
    again = new_twin(loaded, postgres)  # resumes from the state in the database
    assert again.updates == twin.updates and again.validator.report() == twin.validator.report()
    feed(again, plant, range(plant.ticks // 2, plant.ticks + 1))
    again.history.close(again.state())
    check_complete(again, plant, postgres)
    assert len(tk.history("ignored", url=postgres, kind="alerts", asset="plant")) >= 1
    secret = postgres.replace("twinkit@", "twinkit:s3cr3t-pw@").rsplit(":", 1)[0] + ":1/x"
    with pytest.raises(CaseError) as e:
        History(secret)
    assert "s3cr3t-pw" not in str(e.value) and "***" in str(e.value)


@pytest.mark.slow
def test_a_postgresql_restart_loses_nothing(loaded, postgres_server):
    url = postgres_server.url
    twin, plant = new_twin(loaded, url), new_plant(loaded)
    third = (plant.ticks + 1) // 3
    feed(twin, plant, range(third))
    twin.flush(wait=True)
    postgres_server.stop()
    feed(twin, plant, range(third, 2 * third))
    twin.flush()
    assert not twin.history.sync(timeout=1.0) and twin.history.pending > 0  # the rows wait
    postgres_server.start()
    assert twin.history.sync(timeout=15)  # written at the next attempt
    feed(twin, plant, range(2 * third, plant.ticks + 1))
    twin.history.close(twin.state())
    check_complete(twin, plant, url)


def test_forecasts_and_acknowledgements_are_in_the_history(tmp_path, monkeypatch):
    """Each update stores the wear forecast (crossing time and its interval, epoch s); an alert's
    acknowledgement is a row of its own beside its raising."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS + (
        "alerts:\n  forecast: {h: {limit: 0.085 kW/(m^2*K), horizon: 15 min}}\n"))  # fmt: skip
    loaded = load_case(tmp_path / "slab.yaml", check_regions=False)
    url = "sqlite:///runs/slab/history.sqlite"
    twin, plant = new_twin(loaded, url), new_plant(loaded, duration=40.0)
    feed(twin, plant, range(plant.ticks + 1))
    assert twin.alerts.ack("forecast:h", by="operator")
    twin.flush(wait=True)
    updates = read_history(url, "updates")
    f = twin.forecast["h"]
    forecast = updates[(updates.kind == "forecast") & (updates["update"] == twin.updates)]
    crossing = forecast.set_index("name")["value"]
    assert (crossing["h"], crossing["h:lower"], crossing["h:upper"]) == (
        f["crossing"], f["lower"], f["upper"])  # fmt: skip
    alerts = read_history(url, "alerts")
    states = alerts[alerts.key == "forecast:h"]["state"].tolist()
    assert states[:1] == ["raised"] and "acknowledged" in states
    acked = alerts[(alerts.key == "forecast:h") & (alerts.state == "acknowledged")]
    assert json.loads(acked["data"].iloc[0])["acknowledged"]["by"] == "operator"
