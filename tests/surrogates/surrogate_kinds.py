"""Model kinds of the surrogate contract suite: the fin data restricted to one kind's outputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from twinkit.surrogates import FitConfig, TrainConfig, TrainingData

# Small enough for the test budget, large enough for the accuracy bars of the contract suite.
CONTRACT_CONFIG = FitConfig(train=TrainConfig(members=5, epochs=500, seed=3), model="mlp")


def config(kind: str) -> FitConfig:
    """The contract settings: the default model choice ("auto": per output GP, ensemble or blend;
    GPs on a field's POD codes) for the "kriging" and field kinds, networks only for the others."""
    auto = kind in ("kriging", "pod_field", "pod_vector_field")
    return replace(CONTRACT_CONFIG, model="auto" if auto else "mlp")


def only(data: TrainingData, kind: str) -> TrainingData:
    """The data with the outputs of one model kind only."""
    none = np.zeros((data.n, 0))
    keep_q = kind in ("scalar_mlp", "kriging")
    keep_s = kind in ("pod_sensors", "kriging")
    fields = {"pod_field": "temperature", "pod_vector_field": "gradient"}
    return replace(
        data,
        qoi_names=data.qoi_names if keep_q else [],
        qoi=data.qoi if keep_q else none,
        sensor_names=data.sensor_names if keep_s else [],
        sensors=data.sensors if keep_s else none,
        fields={k: v for k, v in data.fields.items() if k == fields.get(kind)},
    )
