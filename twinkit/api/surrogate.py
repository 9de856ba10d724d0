"""Surrogates in a notebook: `tk.train(sweep)`, `tk.load_surrogate(path)`, `sur.predict(...)`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twinkit.api.values import CaseLike, Quantities, html_table, si_array, text_table
from twinkit.case import CaseError
from twinkit.case.display import DisplayUnits, pretty

if TYPE_CHECKING:
    from twinkit.api.sweep import Sweep

PREFIXES = {"qoi_": "qoi", "sensor_": "sensors"}


class Prediction:
    """Mean ± std of the surrogate's outputs at one or many input points, in the case's units.

    ``qoi[name]`` and ``sensors[name]`` are pint quantities (arrays for many points), with
    ``qoi.std(name)``; ``fields[name]`` and ``field_std[name]`` are (points, nodes[, components])
    arrays in SI, as in the dataset.
    """

    def __init__(self, raw: Any, units: Mapping[str, str], display: DisplayUnits):
        self.raw = raw  # twinkit.surrogates.Prediction: every output by its surrogate name, SI
        groups: dict[str, tuple[dict, dict, dict]] = {"qoi": ({}, {}, {}), "sensors": ({}, {}, {})}
        self.fields, self.field_std = {}, {}
        for name, mean in raw.mean.items():
            kind = next((k for p, k in PREFIXES.items() if name.startswith(p)), None)
            if kind is None:
                self.fields[name], self.field_std[name] = mean, raw.std[name]
                continue
            short = name.split("_", 1)[1]
            values, stds, unit = groups[kind]
            values[short], stds[short] = _scalar(mean), _scalar(raw.std[name])
            unit[short] = units.get(name, "")
        v, s, u = groups["qoi"]
        self.qoi = Quantities(v, u, display, std=s, title="QoIs (mean ± std)")
        v, s, u = groups["sensors"]
        self.sensors = Quantities(v, u, display, std=s, title="sensors (mean ± std)")

    def rows(self) -> list[list[str]]:
        return [[k, *r] for k, q in (("QoI", self.qoi), ("sensor", self.sensors)) for r in q.rows()]

    def _repr_html_(self) -> str:
        return html_table(["kind", "output", "mean ± std", "unit"], self.rows(), "prediction")

    def __repr__(self) -> str:
        return "Prediction\n" + text_table(["kind", "output", "mean ± std", "unit"], self.rows())


def _scalar(v: Any) -> Any:
    a = np.asarray(v)
    return float(a[0]) if a.size == 1 else a


class Surrogate:
    """A trained surrogate: mean ± std of every QoI, sensor and field from the case's inputs.

    ``predict`` takes each input as a quantity string, a pint quantity or SI numbers (arrays for
    many points); inputs not given take the case's nominal values when the case is known.
    """

    def __init__(
        self,
        model: Any,
        case: CaseLike | None = None,
        summary: dict | None = None,
        summary_path: Path | None = None,
        file: Path | None = None,
    ):
        self.model = model  # twinkit.surrogates.Surrogate (SI; loads without DOLFINx)
        self.case = case
        self.summary = summary  # train_summary.json's content, when trained here
        self.summary_path = summary_path
        self.file = file  # the surrogate file it was read from or saved to
        self.display = case.display if case is not None else DisplayUnits.si()

    @property
    def inputs(self) -> list[str]:
        return list(self.model.inputs)

    @property
    def outputs(self) -> list[str]:
        return list(self.model.outputs)

    def predict(
        self, inputs: Mapping[str, Any] | None = None, strict: bool = False, **values: Any
    ) -> Prediction:
        """Mean ± std at the given inputs (``sur.predict(boost_power="0.8 MW")``)."""
        given = {**(inputs or {}), **values}
        unknown = [n for n in given if n not in self.model.inputs]
        if unknown:
            raise CaseError(f"unknown input(s) {unknown}; the surrogate's are {self.inputs}")
        x = {}
        nominal = self.case.values({}) if self.case is not None else {}
        for name in self.model.inputs:
            unit = self.model.input_units.get(name, "")
            if name in given:
                x[name] = si_array(name, given[name], unit)
            elif name in nominal:
                x[name] = np.asarray(nominal[name])
            else:
                raise CaseError(f"give a value for input '{name}' ({unit}); no case is attached")
        return Prediction(self.model.predict(x, strict=strict), self.model.units, self.display)

    def save(self, path: str | Path) -> Path:
        """Write the surrogate file (loads with `tk.load_surrogate`, without DOLFINx)."""
        self.file = Path(self.model.save(Path(path)))
        return self.file

    def rows(self) -> list[list[str]]:
        if not self.summary:
            short = [
                n.split("_", 1)[1] if n.startswith(tuple(PREFIXES)) else n for n in self.outputs
            ]
            return [
                [n, "", "", "", pretty(self.display.unit(n, self.model.units.get(m, "")))]
                for n, m in zip(short, self.outputs, strict=True)
            ]
        units = self.summary.get("units", {})
        rows = []
        for name, m in self.summary["surrogate"]["outputs"].items():
            short = name.split("_", 1)[1] if any(name.startswith(p) for p in PREFIXES) else name
            si = units.get(name, "")
            unit = self.display.unit(short, si)
            rmse = self.display.spread(short, m["rmse"], si)
            rows.append(
                [short, f"{m['r2']:.5f}", f"{rmse:.4g}", f"{m['coverage']:.2f}", pretty(unit)]
            )
        return rows

    def _head(self) -> str:
        name = self.case.name if self.case else self.model.meta.get("provenance", {}).get("case")
        head = f"surrogate of '{name}': {len(self.inputs)} inputs → {len(self.outputs)} outputs"
        if self.model.fields:
            head += f" and fields {', '.join(self.model.fields)}"
        if self.summary:
            head += f"; held-out ({self.summary['n_test']} samples)"
        return head

    def _repr_html_(self) -> str:
        return html_table(
            ["output", "R²", "RMSE", "±2σ coverage", "unit"], self.rows(), self._head()
        )

    def __repr__(self) -> str:
        table = text_table(["output", "R²", "RMSE", "±2σ coverage", "unit"], self.rows())
        return self._head() + "\n" + table


def train(
    sweep: Sweep,
    out: str | Path | None = None,
    members: int = 5,
    epochs: int | None = None,
    seed: int | None = None,
    curve: bool = False,
    baselines: bool = False,
    model: str = "auto",
    plots: bool = False,
    log: Any = None,
) -> Surrogate:
    """Train a surrogate on a sweep and score it on the sweep's held-out samples.

    Writes ``surrogate.pt`` and ``train_summary.json`` to `out` (default ``runs/<case>``);
    ``curve`` and ``baselines`` add the error-vs-size study and the RBF/GP comparison,
    ``plots`` their PNGs, as ``twinkit train`` does. ``model``: "auto" (per output the GP,
    the ensemble or their blend, whichever cross-validates best), "gp" or "mlp".
    """
    from twinkit.surrogates import load_surrogate as load
    from twinkit.training import train_case

    summary, path = train_case(
        sweep.case.path,
        sweep.folder,
        None if out is None else Path(out),
        members,
        epochs,
        seed,
        curve,
        baselines,
        plots=plots,
        log=log or (lambda _: None),
        model=model,
    )
    file = path.parent / "surrogate.pt"
    return Surrogate(load(file), sweep.case, summary, path, file)


def load_surrogate(path: str | Path, case: CaseLike | None = None) -> Surrogate:
    """Read a surrogate file (no code runs: tensors and JSON only; no DOLFINx needed). With the
    `case` it was trained for, values show in the case's units and inputs default to nominal."""
    import json

    from twinkit.training import read_surrogate

    path = Path(path)
    model = read_surrogate(path)
    summary_path = path.parent / "train_summary.json"  # the held-out scores, when written beside it
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    if summary is not None and summary.get("case") != model.meta.get("provenance", {}).get("case"):
        summary = None
    return Surrogate(model, case, summary, summary_path if summary else None, file=path)
