"""Virtual field sensors of the live twin: the surrogate's fields over the posterior ensemble
(mean, and std by the law of total variance), published, and stored as the latest only."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from analytic_surrogate import SLAB_CASE, SLAB_SENSORS, T_AMBIENT, L, SlabSurrogate
from test_live import Recorder, drive, plant_options, twin_options

from twinkit.case import load_case
from twinkit.twin.live import LiveTwin
from twinkit.twin.plant import Plant
from twinkit.twin.virtual_field import MESH, ensemble_field, read_field


def _ensemble(bounds: dict[str, tuple[float, float]], inputs: list[str], n: int) -> np.ndarray:
    lo, hi = np.array([bounds[k] for k in inputs]).T
    return lo + (hi - lo) * np.random.default_rng(0).random((n, len(inputs)))


def test_the_field_over_an_ensemble_is_its_mean_and_total_variance():
    """The slab's exact field at 16 members: the members' mean, and the members' variance
    (n − 1) plus the surrogate's own variance (a constant 0.05 K std here)."""
    s = SlabSurrogate(model_std=0.05, nodes=9)
    x = _ensemble(s.bounds, s.inputs, 16)
    mean, std = ensemble_field(s, x)["temperature"]
    q, k, h = x[:, :1], x[:, 1:2], x[:, 2:3]
    members = T_AMBIENT + q / h + q * (L - s.node_x) / k
    assert members.shape == (16, 9)
    np.testing.assert_allclose(mean, members.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(members.var(0, ddof=1) + 0.05**2), rtol=1e-12)
    one = ensemble_field(s, x[:1])["temperature"][1]  # one member: the surrogate's std alone
    np.testing.assert_allclose(one, 0.05)


@pytest.fixture(scope="module")
def fin_surrogate():
    """A tiny trained fin surrogate: a POD temperature field and a vector field (the gradient),
    networks only (GPs on the codes take seconds to fit; the head's `mean_std` is the same)."""
    from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate, from_dataset
    from twinkit.surrogates.synthetic import fin_dataset

    cfg = FitConfig(train=TrainConfig(members=3, hidden=(8,), epochs=20), model="mlp")
    return fit_surrogate(from_dataset(fin_dataset(16, 4, nx=6, vector_field=True)), cfg)


def test_the_heads_path_agrees_with_predict_per_member(fin_surrogate):
    """A trained `Surrogate`: the field heads alone give what `predict` gives member by member,
    combined as above; a vector field keeps its (node, component) shape."""
    s = fin_surrogate
    x = _ensemble(s.bounds, s.inputs, 8)
    got = ensemble_field(s, x)
    p = s.predict(x)
    assert set(got) == set(s.fields) == {"temperature", "gradient"}
    for name, (mean, std) in got.items():
        m, sd = p.mean[name], p.std[name]
        assert mean.shape == std.shape == m.shape[1:]
        np.testing.assert_allclose(mean, m.mean(0), rtol=1e-10)
        np.testing.assert_allclose(std, np.sqrt(m.var(0, ddof=1) + (sd**2).mean(0)), rtol=1e-10)


def test_the_twin_publishes_and_keeps_only_the_latest_field(tmp_path):
    """After an update the field waits for a moment without messages (`idle`), then is
    published (retained, float32 values; the mesh on its own topic once), written to
    field.npz and to the history's `fields` table, replaced each time: one row per field."""
    from twinkit.twin.history import History

    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SLAB_SENSORS)
    loaded = load_case(tmp_path / "slab.yaml", check_regions=False)
    s, rec = SlabSurrogate(), Recorder()
    twin = LiveTwin(loaded, s, twin_options(run_dir=tmp_path, field_every=0.0), rec)
    twin.attach(h := History(db := tmp_path / "h.sqlite"))
    plant = Plant(loaded, s, plant_options(duration=10.0))
    drive(twin, plant, range(0, 130))  # two updates, nothing computed yet: no idle moment
    assert twin.updates >= 2 and twin.fields is not None and twin.fields.pending is not None
    assert not [m for m in rec.messages if "/twin/field/" in m[0]]
    twin.idle()
    first = twin.fields.update
    drive(twin, plant, range(130, 250))
    twin.idle()
    assert twin.fields.update > first >= 2
    fields = [(t, d, r) for t, d, r in rec.messages if t == "plant/plant/twin/field/temperature"]
    assert len(fields) == 2 and all(r for _, _, r in fields)
    doc = fields[-1][1]
    assert doc["update"] == twin.updates and doc["shape"] == [9]
    mean, std = twin.fields.latest["temperature"]
    np.testing.assert_allclose(doc["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(doc["std"], std, rtol=1e-6)
    assert [t for t, _, _ in rec.messages].count("plant/plant/twin/mesh") == 1
    saved = read_field(tmp_path / "field.npz")
    assert saved["update"] == twin.updates
    np.testing.assert_allclose(saved["temperature_mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(saved["temperature_std"], std, rtol=1e-6)
    twin.flush(wait=True)
    h.close()
    rows = sqlite3.connect(db).execute("SELECT name, n, doc FROM fields").fetchall()
    assert sorted(r[0] for r in rows) == [MESH, "temperature"]  # replaced, not appended
    (n, stored), = [(r[1], json.loads(r[2])) for r in rows if r[0] == "temperature"]  # fmt: skip
    assert n == twin.updates and stored["mean"] == doc["mean"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_dashboard_draws_the_latest_field_mean_and_std(backend, tmp_path, request):
    """The page's field picture, built in-process from a history (SQLite or PostgreSQL) holding a
    field on a mesh of two triangles: cells coloured by the mean of their nodes, the colour bars
    spanning the values; a newer field replaces the row and is drawn at the next poll."""
    from bokeh.document import Document
    from test_live_cli import FIN_CASE

    from twinkit.dashboard.page import Page
    from twinkit.dashboard.server import context
    from twinkit.twin.history import History

    (case := tmp_path / "fin.yaml").write_text(FIN_CASE)
    url = str(tmp_path / "h.sqlite") if backend == "sqlite" else request.getfixturevalue("postgres")
    h = History(url)
    mesh = {"node_x": [0.0, 1.0, 1.0, 0.0], "node_y": [0.0, 0.0, 1.0, 1.0],
            "cells": [[0, 1, 2], [0, 2, 3]]}  # fmt: skip
    h.field(MESH, 0, float("nan"), mesh)
    doc = {"t": "2026-01-01T00:00:00+00:00", "update": 3, "unit": "K", "shape": [4],
           "mean": [300.0, 310.0, 320.0, 330.0], "std": [1.0, 2.0, 3.0, 4.0]}  # fmt: skip
    h.field("temperature", 3, 1.7e9, doc)
    h.commit()
    assert h.sync(timeout=10)
    page = Page(context(case, url, surrogate=tmp_path / "none.pt"), bokeh := Document())
    cells = bokeh.get_model_by_name("field").data
    assert cells["xs"] == [[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]
    np.testing.assert_allclose(cells["mean"], [310.0, 950 / 3])
    np.testing.assert_allclose(cells["std"], [2.0, 8 / 3])
    assert bokeh.get_model_by_name("field-name").value == "temperature"
    assert bokeh.get_model_by_name("field-mean") is not None
    assert "std" in bokeh.get_model_by_name("field-std").title.text
    assert page.field.maps["mean"].low == 300.0 and page.field.maps["mean"].high == 330.0
    h.field("temperature", 4, 1.7e9 + 60, doc | {"update": 4, "mean": [400.0] * 4})
    h.commit()
    assert h.sync(timeout=10)
    page.ctx.source.poll(force=True)
    page.seen = -1
    page.refresh()
    np.testing.assert_allclose(bokeh.get_model_by_name("field").data["mean"], [400.0, 400.0])
    assert "update 4" in bokeh.get_model_by_name("field-note").text
    rows = h.db.run("SELECT name, n FROM fields ORDER BY name").fetchall()
    assert [tuple(r) for r in rows] == [(MESH, 0), ("temperature", 4)]
    page.ctx.source.close()
    h.close()
