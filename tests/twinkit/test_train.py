"""`twinkit train` on a synthetic dataset that follows the dataset contract (analytic fin plate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twinkit.surrogates import load_surrogate
from twinkit.surrogates.synthetic import fin_dataset, write_netcdf


def _dataset_dir(tmp_path, n_train=32, n_test=16, case="small"):
    folder = tmp_path / "data"
    folder.mkdir()
    ds = fin_dataset(n_train=n_train, n_test=n_test, nx=6, seed=1, n_failed=1)
    ds.attrs["case"] = case
    write_netcdf(ds, folder / "dataset.nc")
    return folder


@pytest.mark.slow
def test_train_writes_model_summary_and_plots(cli, write_case, base_case, tmp_path):
    case = write_case(base_case)
    data, out = _dataset_dir(tmp_path, n_train=33), tmp_path / "out"
    r = cli("train", case, "--data", data, "--out", out, "--members", "3", "--epochs", "80",
            "--seed", "5")  # fmt: skip
    assert r.returncode == 0, r.output
    assert "qoi_T_max" in r.stdout and "field temperature: rel. L2" in r.stdout
    assert "…" not in r.stdout  # every number in full on 80 columns (names fold instead)
    for name in ("surrogate.pt", "train_summary.json", "parity.png", "learning_curve.png"):
        assert (out / name).is_file(), name
    s = json.loads((out / "train_summary.json").read_text())
    assert (s["case"], s["seed"], s["members"], s["epochs"]) == ("small", 5, 3, 80)
    assert (s["n_train"], s["n_test"], s["test_set"]) == (32, 16, "dataset split")
    outputs = ["qoi_T_max", "qoi_heat_loss", "qoi_efficiency"] + [
        f"sensor_{n}" for n in ("T_root", "T_mid", "T_tip", "q_tip")
    ]
    assert list(s["surrogate"]["outputs"]) == outputs
    for m in s["surrogate"]["outputs"].values():
        assert set(m) == {"r2", "rmse", "rel_rmse", "max_error", "coverage"}
        assert 0.0 <= m["coverage"] <= 1.0 and m["rmse"] >= 0
    field = s["surrogate"]["fields"]["temperature"]
    assert 0 < field["rel_l2"] <= field["rel_l2_max"]
    for b in ("rbf", "gp"):
        assert list(s["baselines"][b]["outputs"]) == outputs
    assert "temperature" in s["baselines"]["rbf"]["fields"]  # POD + RBF
    (e,) = s["training"]["extremes"]  # T_max is the temperature field's maximum
    assert (e["output"], e["field"], e["kind"]) == ("qoi_T_max", "temperature", "max")
    assert ("qoi_T_max: the max of field temperature" in r.stdout) == e["kept"]
    assert s["comparison"]["temperature"]["best_baseline"] == "rbf"
    assert s["training_seconds"] > 0 and s["inference"]["batch"] == 1000
    assert s["inference"]["speedup_scalars"] > 1  # the synthetic "FE solve" takes 1 s
    assert s["learning_curve"]["sizes"] == [16, 32]
    assert set(s["learning_curve"]["rbf"]) == {"outputs rel. RMSE", "temperature rel. L2"}
    model = load_surrogate(out / "surrogate.pt")
    assert model.outputs == outputs and model.fields == ["temperature"]
    assert model.meta["metrics"]["outputs"] == s["surrogate"]["outputs"]
    assert model.meta["provenance"]["case"] == "small"
    assert model.meta["seed"] == 5


def test_train_without_test_split_holds_out_a_seeded_fifth(cli, write_case, base_case, tmp_path):
    case = write_case(base_case)
    data = _dataset_dir(tmp_path, n_train=40, n_test=0)
    out = tmp_path / "out"
    args = ["train", case, "--data", data, "--out", out, "--members", "2", "--epochs", "20"]
    r = cli(*args, "--no-curve", "--no-baselines")
    assert r.returncode == 0, r.output
    s = json.loads((out / "train_summary.json").read_text())
    assert s["test_set"].startswith("seeded 20 %") and s["n_test"] == 8 and s["n_train"] == 31
    assert s["seed"] == 0  # the case's seed
    assert not (out / "learning_curve.png").exists()
    assert s["baselines"] == {} and s["comparison"] == {}
    first = load_surrogate(out / "surrogate.pt").meta["metrics"]
    r = cli(*args, "--no-curve", "--no-baselines")
    again = load_surrogate(out / "surrogate.pt").meta["metrics"]
    assert first == again  # same seed, same split, same metrics
    assert np.isfinite(s["surrogate"]["fields"]["temperature"]["rel_l2"])


def test_train_errors_name_the_problem(cli, write_case, base_case, tmp_path):
    case = write_case(base_case)
    r = cli("train", case, "--data", tmp_path / "nowhere")
    assert r.returncode == 2
    assert "nowhere/dataset.nc: no dataset; run `twinkit sample`" in r.output
    assert "Traceback" not in r.output
    data = _dataset_dir(tmp_path, case="furnace")
    r = cli("train", case, "--data", data)
    assert r.returncode == 2
    assert "the dataset belongs to case 'furnace', not 'small'" in r.output
    # no sample ok (every status changed): it said "cannot reshape array of size 0 ..."
    ds = fin_dataset(n_train=32, n_test=16, nx=6, seed=1)
    ds.attrs["case"] = "small"
    ds["status"] = ("sample", np.full(ds.sizes["sample"], "zz"))
    (tmp_path / "bad").mkdir()
    write_netcdf(ds, tmp_path / "bad" / "dataset.nc")
    r = cli("train", case, "--data", tmp_path / "bad")
    assert r.returncode == 2 and "Traceback" not in r.output
    assert "dataset.nc: no sample with status 'ok' to train on (statuses: 'zz')" in r.output


def test_train_model_option_forces_one_family(cli, write_case, base_case, tmp_path):
    case = write_case(base_case)
    data = _dataset_dir(tmp_path, n_train=24, n_test=8)
    args = ["train", case, "--data", data, "--members", "2", "--epochs", "20", "--no-curve",
            "--no-baselines"]  # fmt: skip
    for name, option, model in (("gp", ["--model", "gp"], "gp"), ("mlp", ["--model", "mlp"], "mlp"),
                                ("alias", ["--kriging"], "gp")):  # fmt: skip
        out = tmp_path / name
        r = cli(*args, "--out", out, *option)
        assert r.returncode == 0, r.output
        assert json.loads((out / "train_summary.json").read_text())["model"] == model
        s = load_surrogate(out / "surrogate.pt")
        heads = [*s.scalar_heads, *s.field_heads.values()]
        if model == "gp":  # every code a GP, no networks kept
            assert all(h.kriging is not None and not h.ensemble_codes() for h in heads)
        else:
            assert all(h.kriging is None for h in heads)
    r = cli(*args, "--out", tmp_path / "x", "--model", "forest")
    assert r.returncode == 2 and "--model forest: expected one of auto, gp, mlp" in r.output
