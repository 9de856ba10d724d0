"""Sensor data: units, data-quality rules (batch and MQTT payloads), the long-table reader."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE

from twinkit.case import CaseError, load_case
from twinkit.sensors.files import parse_window, read_sensor_file, window_stats
from twinkit.sensors.readings import Clock, Rule, SensorValidator, parse_time, rules_from_case

RULES = """\
sensors:
  T0: {noise: 0.5 K, range: [250 K, 900 K], rate: 60 K/min, stuck: 10 min, hold: 5 min}
  power: {range: [0 W/m^2, 5 kW/m^2]}
"""
T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.fixture
def loaded(write_case):
    return load_case(write_case(SLAB_CASE + RULES), check_regions=False)


@pytest.fixture
def v(loaded):
    return SensorValidator(rules_from_case(loaded))


def reasons(v: SensorValidator) -> dict[str, int]:
    return v.report()["by_reason"]


def test_rules_from_case_in_si(loaded):
    r = rules_from_case(loaded)
    assert r["T0"] == Rule("K", 0.5, 250.0, 900.0, 1.0, 600.0, 300.0)
    assert r["power"].unit == "W/m^2" and r["power"].upper == 5000.0
    # without a range: no absolute temperature below 0 K, no magnitude beyond 1e100 (its square
    # overflowed the calibration); a range is kept inside those
    assert r["T3"] == Rule("K", lower=0.0, upper=1e100)
    assert r["k"] == Rule("W/(m*K)", lower=-1e100, upper=1e100)


def test_a_parameter_in_kelvin_may_be_negative(write_case):
    """A parameter's unit is its first key's: a temperature difference is K too, and may be
    negative (the 0 K floor is for probes of an absolute temperature only)."""
    text = SLAB_CASE.replace("ambient: 300 K", "ambient: $Ta").replace(
        "parameters:\n", "parameters:\n  Ta: {value: 300 K, range: [250 K, 350 K]}\n"
    )
    r = rules_from_case(load_case(write_case(text), check_regions=False))
    assert r["Ta"].unit == "K" and r["Ta"].lower == -1e100 and r["T0"].lower == 0.0


def test_unit_conversion_and_time_formats(v):
    a = v.check("2024-05-01T12:00:00Z", "T0", 126.85, "degC")
    b = v.check(T0 + 60, "T0", "400.15", "K")
    c = v.check(str(T0 + 120), "power", 2.0, "kW/m^2")
    d = v.check("2024-05-01T12:03:00+00:00", "T0", 260.33, "degF")
    assert a.t == T0 and a.value == pytest.approx(400.0) and a.unit == "K"
    assert b.value == pytest.approx(400.15) and c.value == pytest.approx(2000.0)
    assert d.t == T0 + 180 and d.value == pytest.approx(400.0, abs=1e-3)
    assert v.accepted == 4 and not v.counts


@pytest.mark.parametrize(
    "reading, reason",
    [
        (("now", "T0", 400, "K"), "bad_timestamp"),
        ((T0, "T9", 400, "K"), "unknown_sensor"),
        ((T0, "T0", 400, ""), "missing_unit"),
        ((T0, "T0", 400, None), "missing_unit"),
        ((T0, "T0", 400, "W"), "wrong_unit"),
        ((T0, "T0", 400, "furlongs"), "wrong_unit"),
        ((T0, "T0", "hot", "K"), "bad_value"),
        ((T0, "T0", 1200, "K"), "out_of_range"),
        ((T0, "T0", -30, "degC"), "out_of_range"),
        ((T0, "T3", -300, "degC"), "out_of_range"),  # T3 has no range: below 0 K
        ((T0, "T3", 1e200, "K"), "out_of_range"),
        ((T0, "k", -1e200, "W/(m*K)"), "out_of_range"),
    ],
)
def test_bad_readings_are_counted_not_raised(v, reading, reason):
    assert v.check(*reading) is None
    assert reasons(v) == {reason: 1}
    assert v.report()["rejected"] == 1 and v.accepted == 0


def test_bad_quality_flag(v):
    assert v.check(T0, "T0", 400, "K", "good") is not None
    assert v.check(T0 + 1, "T0", 400, "K", "BAD") is None
    assert reasons(v) == {"bad_quality": 1}


def test_duplicate_and_out_of_order_timestamps(v):
    assert v.check(T0 + 60, "T0", 400, "K")
    assert v.check(T0 + 60, "T0", 400.1, "K") is None
    assert v.check(T0, "T0", 400.2, "K") is None
    assert v.check(T0, "power", 2000, "W/m^2")  # per sensor: another stream may be behind
    assert reasons(v) == {"duplicate": 1, "out_of_order": 1}


def test_late_readings_within_the_window_are_accepted_once(loaded):
    """A broker hiccup: newer readings arrive first, the backlog after them."""
    v = SensorValidator(rules_from_case(loaded), lateness=600.0)
    assert v.check(T0 + 300, "T0", 405, "K")  # overtook the backlog
    for k in range(5):  # the backlog, T0 .. T0 + 240
        r = v.check(T0 + 60 * k, "T0", 400 + k, "K")
        assert r is not None and r.t == T0 + 60 * k and r.value == 400 + k and v.last_late
    assert v.check(T0 + 360, "T0", 406, "K") and not v.last_late
    assert v.check(T0 + 120, "T0", 402, "K") is None  # redelivered: a duplicate, late or not
    assert v.check(T0 + 360, "T0", 406, "K") is None
    assert v.check(T0 - 300, "T0", 399, "K") is None  # 660 s behind the latest
    assert v.accepted == 7 and v.late == 5 and v.report()["late"] == 5
    assert reasons(v) == {"duplicate": 2, "too_late": 1}
    assert "660 s behind" in v.last_detail and "lateness 600 s" in v.last_detail


def test_late_readings_pass_the_same_checks(loaded):
    v = SensorValidator(rules_from_case(loaded), lateness=600.0)
    assert v.check(T0, "T0", 400, "K") and v.check(T0 + 240, "T0", 402, "K")
    assert v.check(T0 + 60, "T0", 500, "K") is None  # 100 K in 1 min from its predecessor
    assert v.check(T0 + 120, "T0", 1000, "K") is None
    assert v.check(T0 + 180, "T0", None, "K") is None  # a late gap is not held
    assert v.check(T0 + 60, "T0", 401, "K") is None  # seen (and refused) once already
    assert v.check(T0 + 30, "T0", 420, "K")  # within 60 K/min of 400 K at T0
    assert reasons(v) == {"rate_limit": 1, "out_of_range": 1, "missing": 1, "duplicate": 1}
    strict = SensorValidator(rules_from_case(loaded))  # no window: files, `--max-lateness off`
    assert strict.check(T0 + 60, "T0", 400, "K") and strict.check(T0, "T0", 400, "K") is None
    assert reasons(strict) == {"out_of_order": 1}


def test_the_lateness_window_is_bounded_and_survives_a_resume(loaded, monkeypatch):
    import twinkit.sensors.readings as readings

    monkeypatch.setattr(readings, "LATE_KEEP", 50)
    v = SensorValidator(rules_from_case(loaded), lateness=600.0)
    for k in range(500):  # a reading a second: 600 in the window, but only 50 remembered
        assert v.check(T0 + k, "T0", 400 + 0.01 * (k % 7), "K")
    tr = v._tracks["T0"]
    assert len(tr.times) == len(tr.values) == 50 and tr.times[0] == T0 + 450
    assert v.check(T0 + 449, "T0", 400, "K") is None  # forgotten: may have been seen
    assert v.check(T0 + 460, "T0", 400, "K") is None  # remembered: a duplicate
    assert reasons(v) == {"too_late": 1, "duplicate": 1}
    w = SensorValidator(rules_from_case(loaded), lateness=600.0)
    w.load(json.loads(json.dumps(v.state())))
    assert w.check(T0 + 460, "T0", 400, "K") is None and w.check(T0 + 470.5, "T0", 400, "K")
    assert w.report()["by_reason"]["duplicate"] == 2 and w.late == 1
    for k in range(2000):  # 20 s apart: the window (600 s, 30 readings) bounds it first
        assert w.check(T0 + 500 + 20 * k, "T0", 400 + 0.01 * (k % 7), "K")
    assert len(w._tracks["T0"].times) == 31
    # a saved state keeps the newest STATE_KEEP times of a window: older ones are then too late
    monkeypatch.setattr(readings, "STATE_KEEP", 10)
    u = SensorValidator(rules_from_case(loaded), lateness=600.0)
    u.load(json.loads(json.dumps(w.state())))
    assert len(u._tracks["T0"].times) == 10
    newest = w._tracks["T0"].times[-1]
    assert u.check(newest - 20 * 9 - 10, "T0", 400, "K")  # between two kept times: late
    assert u.check(newest - 20 * 10 - 10, "T0", 400, "K") is None  # before them: too late
    assert u.report()["by_reason"]["too_late"] == 2  # the one counted before the save, and this


def test_readings_ahead_of_the_plant_clock_are_held_then_used_or_refused(loaded):
    """A gap in the data: readings over 1 h ahead of the plant clock are held until readings
    of both sensors confirm the new time, then used in time order; a fast clock's reading is
    refused once the plant's readings go on without it, or once a newer one is far from it."""
    v = SensorValidator(rules_from_case(loaded), clock=Clock(jump=3600.0))
    assert v.check(T0, "T0", 400, "K") and v.check(T0, "power", 1000, "W/m^2")
    gap = T0 + 7200
    assert v.check(gap + 60, "power", 1100, "W/m^2") is None and v.last_reason == "held"
    assert v.check(gap, "T0", 410, "K") is None and v.last_reason == "held"
    assert v.take_released() == [] and v.accepted == 2 and reasons(v) == {}
    r = v.check(gap + 120, "T0", 420, "K")  # the third: the jump is confirmed
    assert r is not None and r.t == gap + 120 and v.last_reason is None
    out = v.take_released()
    assert [(s, o.t, o.value) for s, o, *_ in out] == [("T0", gap, 410), ("power", gap + 60, 1100)]
    assert v.accepted == 5 and reasons(v) == {} and v.clock.t == gap + 120
    assert v.check(gap + 7200, "T0", 430, "K") is None and v.last_reason == "held"  # 2 h fast
    for k in range(2):  # the plant goes on at its time
        assert v.check(gap + 180 + 60 * k, "power", 1000, "W/m^2") and v.take_released() == []
    assert v.check(gap + 300, "power", 1000, "W/m^2") and v.last_reason is None
    out = v.take_released()  # the third reading at the old time refused the held one
    assert [(s, o, reason) for s, o, reason, *_ in out] == [("T0", None, "future")]
    assert "6900 s ahead of the plant clock" in out[0][3] and reasons(v) == {"future": 1}
    # held readings far apart are not one jump: the older is refused when the newer comes
    assert v.check(gap + 3 * 3600, "T0", 430, "K") is None and v.take_released() == []
    assert v.check(gap + 6 * 3600, "T0", 430, "K") is None and v.last_reason == "held"
    out = v.take_released()
    assert [(s, o, reason) for s, o, reason, *_ in out] == [("T0", None, "future")]
    assert v.accepted == 8 and reasons(v) == {"future": 2}


def test_held_readings_survive_a_resume(loaded):
    """A twin stopped while readings were held resumes holding them, so none goes unrecorded."""
    rules = rules_from_case(loaded)
    v = SensorValidator(rules, clock=Clock(jump=3600.0))
    assert v.check(T0, "T0", 400, "K") and v.check(T0, "power", 1000, "W/m^2")
    gap = T0 + 7200
    assert v.check(gap, "T0", None, "K") is None and v.last_reason == "held"
    assert v.check_mqtt("plant/p/sensors/power", json.dumps({"t": gap + 60, "value": "1e9",
                        "unit": "W/m^2", "quality": " Good "}).encode()) is None  # fmt: skip
    state = json.loads(json.dumps(v.state()))
    assert len(json.dumps(state)) < 2000
    w = SensorValidator(rules, clock=Clock(jump=3600.0))
    w.load(state)
    assert w.check(gap + 120, "T0", 420, "K")  # confirms the jump
    out = [(s, r, reason) for s, r, reason, *_ in w.take_released()]
    assert out == [("T0", None, "missing"), ("power", None, "out_of_range")]
    assert w.take_released() == [] and reasons(w) == {"missing": 1, "out_of_range": 1}


def test_rate_of_change_limit(v):
    assert v.check(T0, "T0", 400, "K")
    assert v.check(T0 + 60, "T0", 500, "K") is None  # 100 K/min > 60 K/min
    assert v.check(T0 + 120, "T0", 450, "K")  # 50 K in 2 min from the last good value
    assert reasons(v) == {"rate_limit": 1}


def test_stuck_sensor(v):
    for k in range(11):  # the same value for 10 minutes is still plausible
        assert v.check(T0 + 60 * k, "T0", 400.0, "K")
    assert v.check(T0 + 660, "T0", 400.0, "K") is None
    assert v.check(T0 + 720, "T0", 400.0, "K") is None
    assert v.check(T0 + 780, "T0", 400.5, "K")  # moves again: accepted
    assert reasons(v) == {"stuck": 2}


@pytest.mark.parametrize("policy", ["skip", "hold", "flag"])
def test_missing_values(loaded, policy):
    v = SensorValidator(rules_from_case(loaded), policy)
    v.check(T0, "T0", 400, "K")
    near, far = v.check(T0 + 60, "T0", math.nan, "K"), v.check(T0 + 600, "T0", None, "K")
    if policy == "skip":
        assert near is None and far is None and reasons(v) == {"missing": 2}
    elif policy == "hold":  # within the 5 min hold window only
        assert near.value == 400 and near.quality == "held" and far is None
        assert reasons(v) == {"missing_held": 1, "missing": 1}
        assert v.report()["repaired"] == 1 and v.report()["rejected"] == 1
    else:
        assert math.isnan(near.value) and near.quality == "missing" and math.isnan(far.value)
        assert reasons(v) == {"missing_flagged": 2}


@pytest.mark.parametrize(
    "topic, payload, reason",
    [
        ("plant/a/sensors/T0", b"{not json", "malformed_json"),
        ("plant/a/sensors/T0", b"\xff\xfe", "malformed_json"),
        ("plant/a/sensors/T0", b"[1, 2]", "malformed_json"),
        ("plant/a/sensors/T0", b'{"value": 400, "unit": "K"}', "malformed_json"),
        ("plant/a/sensors/T0", b'{"t": 1714564800, "value": 400}', "missing_unit"),
        ("plant/a/sensors/T9", b'{"t": 1714564800, "value": 400, "unit": "K"}', "unknown_sensor"),
        ("plant/a/other/T0", b'{"t": 1714564800, "value": 400, "unit": "K"}', "bad_topic"),
        ("plant/a/sensors/T0", b'{"t": 1714564800, "value": "NaN", "unit": "K"}', "missing"),
    ],
)
def test_mqtt_payloads(v, topic, payload, reason):
    assert v.check_mqtt(topic, payload) is None
    assert reasons(v) == {reason: 1}


def test_mqtt_good_payload(v):
    msg = {"t": "2024-05-01T12:00:00Z", "value": 127, "unit": "degC", "quality": "good"}
    r = v.check_mqtt("plant/furnace-1/sensors/T0", json.dumps(msg).encode())
    assert r.sensor == "T0" and r.t == T0 and r.value == pytest.approx(400.15)


@pytest.mark.parametrize(
    "rule, message",
    [
        ("{noise: 2 degC}", "sensors.T0.noise: '2 degC' is a temperature difference"),
        ("{rate: 5 degC/min}", "sensors.T0.rate: '5 degC/min' is a temperature difference"),
        ("{range: [1 m, 2 m]}", "sensors.T0.range: '1 m' has dimension [length]"),
        ("{stuck: 10 K}", "sensors.T0.stuck: '10 K' has dimension [temperature]"),
    ],
)
def test_bad_rules_name_the_key(write_case, rule, message):
    loaded = load_case(write_case(SLAB_CASE + f"sensors:\n  T0: {rule}\n"), check_regions=False)
    with pytest.raises(CaseError, match="sensors.T0") as e:
        rules_from_case(loaded)
    assert message in str(e.value)


def test_unknown_sensor_rule_is_a_case_error(write_case):
    with pytest.raises(CaseError, match=r"sensors\.T9: no probe or parameter of that name"):
        load_case(write_case(SLAB_CASE + "sensors:\n  T9: {noise: 1 K}\n"), check_regions=False)


def test_parse_time():
    assert parse_time("2024-05-01T14:00:00+02:00") == T0
    assert parse_time(T0) == T0
    for bad in ("yesterday", True, math.inf, None):
        with pytest.raises((ValueError, TypeError)):
            parse_time(bad)


CSV = """timestamp,sensor,value,unit,quality
2024-05-01T12:02:00Z,T0,401,K,good
2024-05-01T12:00:00Z,T0,399,K,good
2024-05-01T12:01:00Z,T0,127.85,degC,
2024-05-01T12:01:00Z,T0,500,K,good
2024-05-01T12:01:00Z,T7,300,K,good
2024-05-01T12:03:00Z,T1,,K,good
2024-05-01T12:03:00Z,power,2,kW/m^2,good
"""


def test_read_csv_and_parquet(tmp_path, loaded):
    path = tmp_path / "data.csv"
    path.write_text(CSV)
    v = SensorValidator(rules_from_case(loaded))
    got = read_sensor_file(path, v)
    assert [(r.sensor, round(r.value, 2)) for r in got] == [
        ("T0", 399.0),
        ("T0", 401.0),
        ("T0", 401.0),
        ("power", 2000.0),
    ]
    assert reasons(v) == {"reordered": 1, "duplicate": 1, "unknown_sensor": 1, "missing": 1}

    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet as pq

    table = pa.csv.read_csv(path, convert_options=pa.csv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(table, tmp_path / "data.parquet")
    v2 = SensorValidator(rules_from_case(loaded))
    got2 = read_sensor_file(tmp_path / "data.parquet", v2)
    assert [(r.sensor, r.value) for r in got2] == [(r.sensor, r.value) for r in got]


@pytest.mark.parametrize(
    "text, message",
    [
        ("time,sensor,value,unit\n", "missing column(s) timestamp"),
        ("timestamp,sensor,value\n", "missing column(s) unit"),
    ],
)
def test_bad_files(tmp_path, loaded, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CaseError, match="bad.csv") as e:
        read_sensor_file(path, SensorValidator(rules_from_case(loaded)))
    assert message in str(e.value)
    (tmp_path / "data.txt").write_text(text)
    with pytest.raises(CaseError, match="data.txt: expected a .csv or .parquet"):
        read_sensor_file(tmp_path / "data.txt", SensorValidator({}))
    with pytest.raises(CaseError, match="nothing.csv: sensor file not found"):
        read_sensor_file(tmp_path / "nothing.csv", SensorValidator({}))


def test_not_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_text("hello")
    with pytest.raises(CaseError, match="x.parquet: not a readable Parquet file"):
        read_sensor_file(path, SensorValidator({}))


def _parquet(path, sensor, unit="K", n=3, **options):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"timestamp": pa.array(np.full(n, T0)), "sensor": sensor,
               "value": pa.array(np.ones(n)), "unit": pa.array([unit] * n)}  # fmt: skip
    pq.write_table(pa.table(columns), path, **options)
    return path


def test_sensor_files_that_would_fill_the_memory_are_refused_before_reading(tmp_path):
    """A few kB of Parquet held millions of run-length-encoded rows, or a long value repeated
    in every row (a 100 MB one in 1,000 rows filled the memory as rows were made); a CSV line
    of a gigabyte is held at once. Each is refused, naming the file and the limit."""
    import pyarrow as pa

    from twinkit.sensors import files

    n = files.MAX_ROWS + 1
    one = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["T0"]))
    rows = _parquet(tmp_path / "rows.parquet", one, n=n, compression="zstd")
    assert rows.stat().st_size < 200_000
    long = pa.DictionaryArray.from_arrays(pa.array(np.zeros(1000, dtype=np.int32)),
                                          pa.array(["x" * 1_000_000]))  # fmt: skip
    wide = _parquet(tmp_path / "wide.parquet", long, n=1000, compression="zstd")
    assert wide.stat().st_size < 20_000
    unit = _parquet(tmp_path / "unit.parquet", pa.array(["T0"] * 3), unit="K" * 100_000)
    nested = _parquet(tmp_path / "nested.parquet", pa.array([["T0"]] * 3))
    line = tmp_path / "line.csv"
    line.write_text("timestamp,sensor,value,unit\n" + "1," * 100_000 + "\n")
    for path, said in ((rows, r"more than 5,000,000 rows"),
                       (wide, r"column sensor holds a value of 1,000,000 bytes"),
                       (unit, r"column unit holds a value of 100,000 bytes"),
                       (nested, r"column sensor is a list<.*>; expected numbers or text"),
                       (line, r"line 2 is longer than 65,536 characters")):  # fmt: skip
        with pytest.raises(CaseError, match=re.escape(path.name) + ": " + said):
            read_sensor_file(path, SensorValidator({}))


def test_a_csv_of_more_rows_than_allowed_is_refused(tmp_path, loaded, monkeypatch):
    from twinkit.sensors import files

    path = tmp_path / "many.csv"
    path.write_text(CSV)
    monkeypatch.setattr(files, "MAX_ROWS", CSV.count("\n") - 2)  # one row fewer than it has
    with pytest.raises(CaseError, match=r"many\.csv: more than \d+ rows"):
        read_sensor_file(path, SensorValidator(rules_from_case(loaded)))
    monkeypatch.setattr(files, "MAX_ROWS", CSV.count("\n") - 1)
    assert read_sensor_file(path, SensorValidator(rules_from_case(loaded)))


def test_window_stats(loaded):
    v = SensorValidator(rules_from_case(loaded))
    rs = [v.check(T0 + 600 * k, "T2", 300.0 + k, "K") for k in range(7)]  # 0 .. 1 h
    stats, (start, end) = window_stats(rs, parse_window("30 min"))
    assert end == T0 + 3600 and start == T0 + 1800
    assert stats["T2"].n == 4 and stats["T2"].mean == pytest.approx(304.5)
    assert stats["T2"].std == pytest.approx(math.sqrt(5 / 3))
    assert window_stats(rs)[0]["T2"].n == 7
    with pytest.raises(CaseError, match="--window 5 K"):
        parse_window("5 K")


def test_epoch_seconds_ms_us_ns_by_magnitude():
    """Epoch milliseconds were read as seconds (the year 56301)."""
    for t in (T0, T0 * 1e3, int(T0 * 1e6), T0 * 1e9, f"{T0 * 1e3:.0f}", "1.7145648e15"):
        assert parse_time(t) == pytest.approx(T0), t
    for bad in (1, -T0, 5e10, 1e30, 10**400, "9999-12-31T00:00:00Z", "2100-01-01T00:00:00Z",
                "1969-12-31", "1" * 100, math.nan):  # fmt: skip
        with pytest.raises(ValueError, match="1990–2100|bad timestamp"):
            parse_time(bad)


def test_csv_with_a_utf8_bom(tmp_path, loaded):
    """Excel's "CSV UTF-8" starts with a BOM: it was refused as a missing timestamp column."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + CSV.encode())
    v = SensorValidator(rules_from_case(loaded))
    assert len(read_sensor_file(path, v)) == 4 and reasons(v)["unknown_sensor"] == 1


def test_rows_far_from_the_rest_are_dropped_and_counted(tmp_path, loaded):
    """A row in 9999 (or years away from the rest) became the whole calibration window."""
    rows = [f"{T0 + 60 * m},T2,{300 + m},K" for m in range(30)]
    rows += [
        "9999-12-31T00:00:00Z,T2,400,K",
        f"{T0 + 86_400 * 400},T2,400,K",
        f"{T0 - 1800},T0,1,K",
    ]
    path = tmp_path / "far.csv"
    path.write_text("timestamp,sensor,value,unit\n" + "\n".join(rows) + "\n")
    v = SensorValidator(rules_from_case(loaded))
    got = read_sensor_file(path, v)
    assert reasons(v) == {"bad_timestamp": 1, "far_from_rest": 1, "reordered": 1, "out_of_range": 1}
    stats, (start, end) = window_stats(got, parse_window("10 min"))
    assert end == T0 + 60 * 29 and stats["T2"].n == 11


def test_a_stress_or_strain_probe_reads_in_pa_or_1(tmp_path):
    """A probe of stress_zz was given metres: its range in MPa validated and then the sensor
    rules refused it ('expected units compatible with m'); a strain's likewise."""
    from pathlib import Path

    from twinkit.sensors.rules import probe_unit

    assert [probe_unit("elasticity", f) for f in ("stress_zz", "strain_xy", "von_mises")] == [
        "Pa", "1", "Pa"
    ]  # fmt: skip
    case = Path(__file__).parents[2] / "cases" / "bracket.yaml"
    text = case.read_text().replace(
        "probes:\n",
        "probes:\n  sig: {point: [3 mm, 20 mm, 40 mm], field: stress_zz}\n"
        "  eps: {point: [3 mm, 20 mm, 40 mm], field: strain_zz}\n",
    )
    text += "sensors:\n  sig: {range: [-300 MPa, 300 MPa]}\n  eps: {range: [-0.01, 0.01]}\n"
    (tmp_path / "bracket.yaml").write_text(text)
    r = rules_from_case(load_case(tmp_path / "bracket.yaml", check_regions=False))
    assert r["sig"].unit == "Pa" and r["sig"].upper == pytest.approx(3e8)
    assert r["eps"].unit == "1" and r["eps"].lower == -0.01
