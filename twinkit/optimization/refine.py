"""Infill for `twinkit optimize --refine`: FE results at optimized designs retrain the surrogate.

`Refiner` is the small interface the loop needs: `add` FE outcomes, `retrain` a surrogate.
`DatasetRefiner` is the default: the sweep's dataset (`runs/<case>/data/dataset.nc`) plus the
infill samples, which it keeps in `infill.json` next to the study so that a rerun reuses them,
refitted with the original surrogate's training settings (scalar outputs only: fields are not
needed to optimize and the infill solves do not store them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from twinkit.case import CaseError
from twinkit.optimization.verify import FEOutcome


class Refiner(Protocol):
    def add(self, outcomes: Sequence[FEOutcome]) -> None: ...

    def retrain(self) -> Any: ...


class DatasetRefiner:
    """Retrains on `dataset` + infill samples; saves each new surrogate as `out`/surrogate_N.pt."""

    def __init__(self, dataset: Path, out: Path, surrogate: Any):
        if not dataset.exists():
            raise CaseError(f"--refine: {dataset}: training dataset not found (run twinkit sample)")
        self.dataset, self.out, self.base = dataset, out, surrogate
        self.infill_path = out / "infill.json"
        self.infill: list[dict[str, Any]] = (
            json.loads(self.infill_path.read_text())["samples"] if self.infill_path.exists() else []
        )
        self.rounds = 0
        self.saved: Path | None = None  # the file of the last retrained surrogate

    def add(self, outcomes: Sequence[FEOutcome]) -> None:
        from twinkit.files import write_json

        for o in outcomes:
            if o.converged:
                self.infill.append({"values": o.values, "outputs": o.outputs})
        write_json(self.infill_path, {"samples": self.infill})

    def retrain(self) -> Any:
        from twinkit.surrogates import TrainConfig
        from twinkit.surrogates.data import from_dataset
        from twinkit.surrogates.fit import FitConfig, fit_surrogate
        from twinkit.sweep.dataset import read_dataset

        data = from_dataset(read_dataset(self.dataset), str(self.dataset))
        data = replace(data, fields={})
        x = [[s["values"][n] for n in data.inputs] for s in self.infill]
        q = [[s["outputs"][n.removeprefix("qoi_")] for n in data.qoi_names] for s in self.infill]
        y = [
            [s["outputs"][n.removeprefix("sensor_")] for n in data.sensor_names]
            for s in self.infill
        ]
        data = replace(
            data,
            x=np.vstack([data.x, np.array(x).reshape(-1, data.x.shape[1])]),
            qoi=np.vstack([data.qoi, np.array(q).reshape(-1, data.qoi.shape[1])]),
            sensors=np.vstack([data.sensors, np.array(y).reshape(-1, data.sensors.shape[1])]),
            seconds=None,
        )
        cfg = dict(getattr(self.base, "meta", {}).get("config", {}))
        train = dict(cfg.pop("train", {}))
        # settings a surrogate from an older twinkit may hold, that this one no longer has
        train = {k: v for k, v in train.items() if k in TrainConfig.__dataclass_fields__}
        cfg = {k: v for k, v in cfg.items() if k in FitConfig.__dataclass_fields__}
        if "hidden" in train:
            train["hidden"] = tuple(train["hidden"])
        config = FitConfig(train=TrainConfig(**train), **cfg)
        self.rounds += 1
        s = fit_surrogate(data, config, {"refined_from": str(self.dataset), "infill": len(x)})
        self.saved = self.out / f"surrogate_{self.rounds}.pt"
        s.save(self.saved)
        return s
