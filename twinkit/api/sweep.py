"""A sweep's results in a notebook: counts, timings and the xarray Dataset (`case.sample(...)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinkit.api.values import CaseLike, html_table, text_table
from twinkit.case.display import pretty


class Sweep:
    """FE solves over a case's parameter ranges, stored in `folder` (one file per sample and
    ``dataset.nc``, the dataset contract: SI values with a ``units`` attribute each)."""

    def __init__(self, case: CaseLike, folder: Path, summary: dict[str, Any]):
        self.case = case
        self.folder = folder
        self.summary = summary
        self._dataset: Any = None

    @classmethod
    def open(cls, case: CaseLike, folder: str | Path | None = None) -> Sweep:
        """The sweep already in `folder` (default ``runs/<case>/data``), e.g. to train on it."""
        import json

        folder = Path(folder) if folder is not None else Path("runs") / case.name / "data"
        summary_path = folder / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        return cls(case, folder, summary)

    @property
    def dataset(self) -> Any:
        """The sweep as an xarray Dataset (loaded into memory; the file is not kept open)."""
        if self._dataset is None:
            from twinkit.sweep.dataset import read_dataset

            self._dataset = read_dataset(self.folder / "dataset.nc")
        return self._dataset

    @property
    def counts(self) -> dict[str, int]:
        """ok, failed, total, reused (already done before this call)."""
        return dict(self.summary.get("counts", {}))

    def rows(self) -> list[list[str]]:
        ds = self.dataset
        display = self.case.display
        rows = []
        for name in self.summary.get("inputs", []):
            if name not in ds:
                continue
            v, si = ds[name].values, str(ds[name].attrs.get("units", ""))
            lo, hi = (float(display.value(name, x, si)[0]) for x in (v.min(), v.max()))
            rows.append([name, "input", f"{lo:.6g} … {hi:.6g}", pretty(display.unit(name, si))])
        inputs = set(self.summary.get("inputs", []))
        for name, var in ds.data_vars.items():
            if name in inputs or "units" not in var.attrs:
                continue
            kind = "field" if name in self.summary.get("fields", []) else "output"
            si = str(var.attrs["units"])
            rows.append([str(name), kind, "", pretty(display.unit(str(name), si))])
        return rows

    def _head(self) -> str:
        if "counts" not in self.summary:
            return f"sweep of '{self.case.name}' in {self.folder}"
        c, t = self.summary["counts"], self.summary["timings"]
        return (
            f"sweep of '{self.case.name}': {c['ok']} ok, {c['failed']} failed of {c['total']} "
            f"({c['reused']} already done), {t['wall_seconds']:.1f} s; {self.folder}"
        )

    def _repr_html_(self) -> str:
        return html_table(["variable", "kind", "range", "unit"], self.rows(), self._head())

    def __repr__(self) -> str:
        return self._head() + "\n" + text_table(["variable", "kind", "range", "unit"], self.rows())
