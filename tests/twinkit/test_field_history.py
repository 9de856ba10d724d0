"""The virtual fields' history: a snapshot of each field (mean, std; float32) every
`field_history_every` of plant time, kept in the history's `field_snapshots` table, read back as
xarray Datasets (`tk.field_history`, `tk.field_at`) and exported as NetCDF (`twinkit history
--field`)."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, SlabSurrogate
from test_live import Recorder, plant_options, twin_options

import twinkit as tk
from twinkit.case import CaseError, load_case
from twinkit.twin.history import History
from twinkit.twin.live import LiveTwin
from twinkit.twin.plant import Plant

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the plant's start
PERIOD = 900.0  # 15 min


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


def run_twin(loaded, db, hours: float, field_every: float, idle_every: int = 1):
    """A live twin with a history over `hours` of plant time (an update a minute, a tick a
    minute), idle every `idle_every` ticks and at the end: (twin, its messages, the updates'
    plant times)."""
    rec = Recorder()
    opts = twin_options(run_dir=db.parent, field_every=field_every, field_history_every=PERIOD)
    s = SlabSurrogate(nodes=7)
    s.units, s.mesh = {"temperature": "K"}, {"node_x": s.node_x}  # as a trained surrogate's
    twin = LiveTwin(loaded, s, opts, rec)
    twin.attach(h := History(db))
    plant = Plant(loaded, twin.s, plant_options(rate=1.0, speed=60.0, duration=hours * 60))
    times, n = [], 0
    for k in range(plant.ticks + 1):
        for topic, payload in plant.tick(k):
            twin.process(topic, payload)
        if twin.updates > n:
            n = twin.updates
            times.append(twin.t)
        if k % idle_every == 0:
            twin.idle()
        if h.due():
            twin.flush()
    twin.idle()  # the messages stop: a snapshot still waiting is taken
    twin.flush(wait=True)
    h.close()
    return twin, rec, times


def first_of_each_period(times: list[float]) -> list[float]:
    firsts: dict[float, float] = {}
    for t in times:
        firsts.setdefault(t // PERIOD, t)
    return list(firsts.values())


def test_a_snapshot_per_period_reads_back_as_published(loaded, tmp_path):
    """Five hours of plant time, 15-min periods: one snapshot per period (the first update in
    it), times increasing, the values those published for that update (float32), the mesh as
    coordinates; `field_at` picks the snapshot at or before a time."""
    db = tmp_path / "h.sqlite"
    twin, rec, times = run_twin(loaded, db, hours=5, field_every=0.0)
    expected = first_of_each_period(times)
    assert len(times) == 300 and len(expected) == 21  # updates 00:01 ... 05:00
    ds = tk.field_history(db, "temperature")
    assert ds.sizes == {"time": 21, "node": 7}
    got = ds["time"].values.astype("datetime64[us]").astype(np.int64) / 1e6
    np.testing.assert_array_equal(got, expected)
    assert (np.diff(got) > 0).all() and (np.diff(ds["update"].values) > 0).all()
    assert ds["mean"].dtype == np.float32 and ds["mean"].attrs["units"] == "K"
    np.testing.assert_allclose(ds["node_x"].values, twin.s.node_x, rtol=1e-6)
    published = {d["update"]: d for t, d, _ in rec.messages
                 if t == "plant/plant/twin/field/temperature"}  # fmt: skip
    for i, n in enumerate(ds["update"].values):
        doc = published[int(n)]  # every update published here (field_every 0)
        np.testing.assert_allclose(ds["mean"].values[i], doc["mean"], rtol=1e-6)
        np.testing.assert_allclose(ds["std"].values[i], doc["std"], rtol=1e-6)
        assert doc["t"].startswith(str(ds["time"].values[i])[:19])
    window = tk.field_history(db, "temperature", since=T0 + 3600, until=T0 + 7200)
    assert window.sizes["time"] == 5  # 01:00, 01:15, ..., 02:00 (each period's first update)
    at = tk.field_at(db, "temperature", T0 + 3600 + 899)  # 01:14:59: the 01:00 period's
    assert at["mean"].dims == ("node",) and int(at["update"]) == int(window["update"][0])
    np.testing.assert_array_equal(at["mean"].values, window["mean"].values[0])
    exact = tk.field_at(db, "temperature", "2026-01-01T01:15:00Z")  # at a snapshot: that one
    assert int(exact["update"]) == int(window["update"][1])
    with pytest.raises(CaseError, match="no snapshot at or before 2025-12-31T23:00:00"):
        tk.field_at(db, "temperature", T0 - 3600)
    with pytest.raises(CaseError, match="field velocity: no snapshots .* stored: temperature"):
        tk.field_history(db, "velocity")
    assert tk.field_history(db, "temperature", since=T0 + 86400).sizes == {"time": 0, "node": 7}


def test_snapshots_keep_plant_time_whatever_the_wall_clock(loaded, tmp_path):
    """The latest field is refreshed at most every `field_every` s of wall time (here never after
    the first), and the twin is idle only every 7th tick: each period's first update still
    gives its snapshot, none is computed in the update itself, and 0 turns them off."""
    db = tmp_path / "h.sqlite"
    twin, rec, times = run_twin(loaded, db, hours=3, field_every=1e9, idle_every=7)
    ds = tk.field_history(db, "temperature")
    np.testing.assert_array_equal(
        ds["time"].values.astype("datetime64[us]").astype(np.int64) / 1e6,
        first_of_each_period(times),
    )
    fields = [m for m in rec.messages if m[0] == "plant/plant/twin/field/temperature"]
    assert len(fields) < ds.sizes["time"] == 13  # the latest: only when a snapshot was it
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options(field_history_every=PERIOD))
    twin.attach(h := History(tmp_path / "h2.sqlite"))
    plant = Plant(loaded, twin.s, plant_options(rate=1.0, speed=60.0, duration=20))
    for k in range(21):  # updates only: the snapshot's inputs wait, nothing is computed
        for topic, payload in plant.tick(k):
            twin.process(topic, payload)
    # the 00:15 period's first (update 15) waits; the 00:00 one's, never idle since, gave way
    assert twin.updates == 20 and twin.fields.snap[0] == 15 and not twin.fields.latest
    assert h.buffers["field_snapshots"] == []
    twin.idle()
    assert [r[1] for r in h.buffers["field_snapshots"]] == [15]
    h.close()
    twin = LiveTwin(loaded, SlabSurrogate(), twin_options(field_history_every=0.0))
    twin.fields.mark(1, T0, np.zeros((4, 3)))
    assert twin.fields.snap is None  # off


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_snapshots_of_a_vector_field_in_either_database(backend, tmp_path, request):
    """Written by `History.field_snapshot` in the batch commit, read back whole: a vector field
    keeps (node, component), float32 exactly; several assets need one to be chosen."""
    url = str(tmp_path / "h.sqlite") if backend == "sqlite" else request.getfixturevalue("postgres")
    rng = np.random.default_rng(1)
    stored = {}
    for asset in ("f1", "f2"):
        h = History(url, asset=asset)
        for k in range(3):
            m, s = rng.normal(size=(5, 3)), rng.random((5, 3))
            h.field_snapshot("velocity", 10 * k, T0 + 900 * k, "m/s", m, s)
            stored[asset, k] = m.astype(np.float32), s.astype(np.float32)
        h.close()
    ds = tk.field_history(url, "velocity", asset="f2")
    assert ds["mean"].dims == ("time", "node", "component") and ds.sizes["time"] == 3
    assert ds["std"].attrs["units"] == "m/s" and ds["update"].values.tolist() == [0, 10, 20]
    for k in range(3):
        np.testing.assert_array_equal(ds["mean"].values[k], stored["f2", k][0])
        np.testing.assert_array_equal(ds["std"].values[k], stored["f2", k][1])
    with pytest.raises(CaseError, match=r"several assets have it \(f1, f2\)"):
        tk.field_history(url, "velocity")
    np.testing.assert_array_equal(
        tk.field_at(url, "velocity", T0 + 1000, asset="f1")["mean"].values, stored["f1", 1][0]
    )


def test_history_command_exports_fields_as_netcdf(loaded, tmp_path, cli, monkeypatch):
    """`twinkit history --field` from another folder: the snapshots (or the one `--at` a time)
    as NetCDF; bad input is one message and exit code 2."""
    import xarray as xr

    db = tmp_path / "h.sqlite"
    run_twin(loaded, db, hours=1, field_every=0.0)
    (elsewhere := tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(elsewhere)
    base = ("history", loaded.path, "--history", db, "--field", "temperature")
    r = cli(*base, "-o", "t.nc", "--since", "2026-01-01T00:15Z")
    assert r.returncode == 0 and "4 snapshots of temperature written to t.nc" in r.stderr, r.output
    with xr.open_dataset(elsewhere / "t.nc", engine="h5netcdf") as ds:
        assert ds.sizes == {"time": 4, "node": 7} and ds["mean"].attrs["units"] == "K"
        assert str(ds["time"].values[0]).startswith("2026-01-01T00:15")
        whole = tk.field_history(db, "temperature")
        np.testing.assert_array_equal(ds["std"].values, whole["std"].values[1:])
    r = cli(*base, "-o", "one.nc", "--at", "2026-01-01T00:20Z")
    assert r.returncode == 0, r.output
    with xr.open_dataset(elsewhere / "one.nc", engine="h5netcdf") as one:
        assert one["mean"].dims == ("node",) and int(one["update"]) == int(whole["update"][1])
    for args, message in [
        (("--field", "pressure", "-o", "p.nc"), "field pressure: no snapshots"),
        ((*base[4:], "-o", "x.nc", "--at", "yesterday-ish"), "--at yesterday-ish: expected"),
        ((*base[4:],), "--field temperature: needs --output FILE.nc"),
        ((*base[4:], "-o", "x.csv", "--format", "csv"), "--format csv: --field writes NetCDF"),
        (("--at", "1h"), "--at 1h: only with --field NAME"),
    ]:
        r = cli("history", loaded.path, "--history", db, *args)
        assert r.returncode == 2 and message in r.stderr, r.output
