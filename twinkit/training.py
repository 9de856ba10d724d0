"""`twinkit train`: fit a surrogate to a sweep's dataset, score it on held-out samples, report.

Reads ``DIR/dataset.nc`` (the dataset contract), trains on ``split == "train"`` samples with status
"ok", scores on ``split == "test"`` (or a seeded 20 % hold-out when the sweep has no test set),
fits the RBF and GP baselines on the same split, and writes ``surrogate.pt``,
``train_summary.json``, ``parity.png`` and ``learning_curve.png`` to ``runs/<case>`` (or ``--out``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, LoadedCase, load_case
from twinkit.files import write_json
from twinkit.version import __version__


def _read_dataset(path: Path, case_name: str) -> Any:
    from twinkit.sweep.dataset import read_dataset

    if not path.is_file():
        raise CaseError(f"{path}: no dataset; run `twinkit sample` for case '{case_name}' first")
    ds = read_dataset(path)
    if ds.attrs.get("case", case_name) != case_name:
        raise CaseError(
            f"{path}: the dataset belongs to case '{ds.attrs['case']}', not '{case_name}'"
        )
    return ds


def train_case(
    case_path: Path,
    data_dir: Path | None = None,
    out: Path | None = None,
    members: int = 5,
    epochs: int | None = None,
    seed: int | None = None,
    curve: bool = True,
    baselines: bool = True,
    plots: bool = True,
    log: Callable[[str], None] = lambda _: None,
    model: str = "auto",
) -> tuple[dict[str, Any], Path]:
    """Train, evaluate and write the outputs; returns the summary and the path of its JSON file.

    ``model``: per output the best of GP, ensemble and blend by cross-validation ("auto"), or
    one family for all ("gp", "mlp"); see `twinkit.surrogates.fit`.
    """
    from twinkit.surrogates import FitConfig, TrainConfig, from_dataset, split
    from twinkit.surrogates.fit import MODELS
    from twinkit.surrogates.workflow import run_study

    if model not in MODELS:
        raise CaseError(f"--model {model}: expected one of {', '.join(MODELS)}")

    loaded = load_case(case_path)
    data_dir = data_dir or Path("runs") / loaded.name / "data"
    out = out or Path("runs") / loaded.name  # where `twinkit calibrate` looks for surrogate.pt
    dataset_path = data_dir / "dataset.nc"
    ds = _read_dataset(dataset_path, loaded.name)
    seed = loaded.case.seed if seed is None else seed
    if members < 1:
        raise CaseError(f"--members {members}: need at least 1")
    train_cfg = TrainConfig(members=members, seed=seed)
    if epochs is not None:
        if epochs < 1:
            raise CaseError(f"--epochs {epochs}: need at least 1")
        train_cfg = TrainConfig(members=members, seed=seed, epochs=epochs)
    has_test = "split" in ds and (ds["split"].values.astype(str) == "test").any()
    train_ds, test_ds = split(ds, seed)
    try:
        train = from_dataset(train_ds, str(dataset_path))
        test = from_dataset(test_ds, str(dataset_path))
    except ValueError as e:
        raise CaseError(str(e)) from None
    if train.n < 8 or test.n < 1:
        raise CaseError(
            f"{dataset_path}: {train.n} training and {test.n} test samples with status 'ok'; "
            "need at least 8 and 1"
        )
    provenance = {
        "case": loaded.name,
        "case_hash": loaded.hash,
        "twinkit_version": __version__,
        "dataset": str(dataset_path),
        **{
            f"dataset_{k}": str(ds.attrs[k])
            for k in ("case_hash", "mesh_hash", "seed", "created", "doe")
            if k in ds.attrs
        },
    }
    config = FitConfig(train=train_cfg, model=model)
    study = run_study(train, test, config, provenance, baselines, curve, log)
    out.mkdir(parents=True, exist_ok=True)
    model_path = study.surrogate.save(out / "surrogate.pt")
    files = [model_path.name]
    if plots:
        files += _plots(study, out)
    summary = {
        "case": loaded.name,
        "case_hash": loaded.hash,
        "dataset": str(dataset_path),
        "dataset_case_hash": ds.attrs.get("case_hash"),
        "case_changed": ds.attrs.get("case_hash", loaded.hash) != loaded.hash,
        "twinkit_version": __version__,
        "seed": seed,
        "members": members,
        "epochs": train_cfg.epochs,
        "model": model,
        "test_set": "dataset split" if has_test else "seeded 20 % hold-out of the training samples",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **study.summary,
        "files": files,
    }
    summary_path = out / "train_summary.json"
    write_json(summary_path, summary)
    return summary, summary_path


def _plots(study: Any, out: Path) -> list[str]:
    from twinkit.surrogates.plots import learning_curve_plot, parity_plot

    test = study.test
    y = test.scalars
    files = []
    if test.outputs:
        skip = set(study.summary["surrogate"].get("round_off", []))  # noise only: nothing to see
        truth = {n: y[:, j] for j, n in enumerate(test.outputs) if n not in skip}
        rbf = study.baselines.get("rbf")
        parity_plot(
            truth,
            study.prediction.mean,
            study.prediction.std,
            study.surrogate.units,
            out / "parity.png",
            rbf.mean if rbf is not None else None,
        )
        files.append("parity.png")
    if study.curve is not None:
        learning_curve_plot(study.curve, out / "learning_curve.png")
        files.append("learning_curve.png")
    return files


def default_surrogate(loaded: LoadedCase) -> Path:
    """Where `twinkit train` puts a case's surrogate, and the other commands look for it."""
    return Path("runs") / loaded.name / "surrogate.pt"


def read_surrogate(path: Path) -> Any:
    """The surrogate saved in `path` (tensors and JSON only, no code runs); CaseError if the file
    is missing or not a surrogate."""
    if not Path(path).exists():
        raise CaseError(f"{path}: surrogate file not found (train one, or give --surrogate)")
    from twinkit.case.units import UnitError, _unit
    from twinkit.surrogates import load_surrogate

    try:
        sur = load_surrogate(path)
    except ValueError as e:
        raise CaseError(str(e)) from None
    for name, unit in [*sur.input_units.items(), *sur.units.items()]:
        try:
            _unit(str(unit))
        except UnitError as e:
            raise CaseError(f"{path}: a damaged surrogate file: the unit of {name}: {e}") from None
    return sur
