"""The twin fitted to plant data in a notebook: `tk.calibrate(case, surrogate, sensor_file)`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinkit.api.values import CaseLike, Quantities, html_table, text_table

if TYPE_CHECKING:
    from twinkit.api.surrogate import Surrogate


class Calibration:
    """The latent parameters fitted to sensor data (MAP ± std), the calibrated twin's sensors and
    QoIs (virtual sensors), and the data-quality counts; ``summary`` is summary.json (SI)."""

    def __init__(self, case: CaseLike, summary: dict[str, Any], path: Path):
        self.case = case
        self.summary = summary
        self.path = path
        est = summary["estimates"]
        d = case.display
        self.estimates = Quantities(
            {n: e["value"] for n, e in est.items()},
            {n: e["unit"] for n, e in est.items()},
            d,
            std={n: e["std"] for n, e in est.items()},
            title="estimates (MAP ± std)",
        )
        v = {n: e for n, e in summary["virtual"].items() if "value" in e and "unit" in e}
        self.virtual = Quantities(
            {n: e["value"] for n, e in v.items()},
            {n: e["unit"] for n, e in v.items()},
            d,
            std={n: e["std"] for n, e in v.items()},
            title="the calibrated twin's QoIs",
        )

    @property
    def outside_range(self) -> list[str]:
        """Parameters whose estimate lies outside their prior range (the data disagree with the
        case, or the sensors' units are wrong)."""
        return [n for n, e in self.summary["estimates"].items() if not e["inside_range"]]

    @property
    def outside_training(self) -> list[str]:
        """Inputs held fixed (measured, or nominal) outside the surrogate's training range: its
        predictions there are extrapolations."""
        return [
            n
            for n, i in self.summary["inputs"].items()
            if i["source"] != "estimated" and i.get("inside_training_range") is False
        ]

    def warnings(self) -> list[str]:
        """One line per estimate outside its range and per input outside the training range, in
        the case's units (empty when all is in range)."""
        d, out = self.case.display, []
        for n in self.outside_range:
            e = self.summary["estimates"][n]
            lo, hi = (d.format(n, b, e["unit"], digits=4) for b in e["prior"]["range"])
            value = d.format(n, e["value"], e["unit"], e["std"], digits=4)
            out.append(f"{n} = {value} is outside its range [{lo}, {hi}] in the case")
        for n in self.outside_training:
            i = self.summary["inputs"][n]
            lo, hi = (d.format(n, b, i["unit"], digits=4) for b in i["training_range"])
            out.append(
                f"{n} = {d.format(n, i['value'], i['unit'], digits=4)} ({i['source']}) is outside "
                f"the surrogate's training range [{lo}, {hi}]"
            )
        return out

    def rows(self) -> list[list[str]]:
        est = self.summary["estimates"]
        return [
            [
                *row,
                f"{est[row[0]]['std_ratio']:.3f}",
                "yes" if est[row[0]]["inside_range"] else "NO",
            ]
            for row in self.estimates.rows()
        ]

    def _head(self) -> str:
        q = self.summary["data_quality"]
        return (
            f"calibration of '{self.case.name}': readings {q['accepted']} accepted, "
            f"{q['rejected']} rejected, {q['repaired']} repaired; "
            f"{self.summary['calibration']['seconds']:.2f} s"
        )

    _HEADER = ["parameter", "estimate ± std", "unit", "posterior/prior width", "inside range"]

    def _repr_html_(self) -> str:
        return html_table(self._HEADER, self.rows(), self._head())

    def __repr__(self) -> str:
        return self._head() + "\n" + text_table(self._HEADER, self.rows())


class TwinState:
    """The live twin as it last published itself: estimates ± std, the calibrated twin's QoIs
    (virtual sensors), active alerts and data-quality counts, in the case's units."""

    def __init__(self, case: CaseLike, doc: dict[str, Any], path: Path):
        self.case, self.doc, self.path = case, doc, path
        d, params = case.display, doc.get("parameters", {})
        self.estimates = Quantities(
            {n: e["value"] for n, e in params.items()},
            {n: e["unit"] for n, e in params.items()},
            d,
            std={n: e["std"] for n, e in params.items()},
            title="estimates (ensemble mean ± std)",
        )
        virtual = doc.get("virtual", {})
        qoi_units = _qoi_units(case)
        self.virtual = Quantities(
            {n: e["value"] for n, e in virtual.items()},
            {n: qoi_units.get(n, "") for n in virtual},
            d,
            std={n: e["std"] for n, e in virtual.items()},
            title="virtual sensors",
        )

    @property
    def alerts(self) -> list[str]:
        return list(self.doc.get("alerts", {}).get("active", []))

    def _head(self) -> str:
        q = self.doc.get("quality", {})
        return (
            f"live twin of '{self.case.name}' at {self.doc.get('t')}: "
            f"{self.doc.get('updates', 0)} updates; readings {q.get('accepted', 0)} accepted, "
            f"{q.get('rejected', 0)} rejected; active alerts: {', '.join(self.alerts) or 'none'}"
        )

    def _repr_html_(self) -> str:
        rows = self.estimates.rows() + self.virtual.rows()
        return html_table(["name", "value ± std", "unit"], rows, self._head())

    def __repr__(self) -> str:
        rows = self.estimates.rows() + self.virtual.rows()
        return self._head() + "\n" + text_table(["name", "value ± std", "unit"], rows)


def _qoi_units(case: CaseLike) -> dict[str, str]:
    from twinkit.case.objectives import output_units

    spec = case.loaded.case
    return {n: output_units(spec, n)[0] for n in spec.outputs.qoi}


def load_twin_state(path: str | Path, case: CaseLike) -> TwinState:
    """The state a live twin saved (``twinkit live --state``, default ``runs/<case>/live.json``)."""
    import json

    from twinkit.case import CaseError

    path = Path(path)
    try:
        doc = json.loads(path.read_text()).get("last") or {}
    except (OSError, ValueError, AttributeError) as e:
        raise CaseError(f"{path}: cannot read the twin state ({e})") from None
    if not doc:
        raise CaseError(f"{path}: the twin has not published an update yet")
    return TwinState(case, doc, path)


def calibrate(
    case: CaseLike,
    surrogate: Surrogate,
    sensors: str | Path,
    window: str | None = None,
    restarts: int = 4,
    mcmc: int = 0,
    missing: str = "hold",
    verify: bool = False,
    out: str | Path | None = None,
) -> Calibration:
    """Fit the case's latent parameters to a sensor file (CSV or Parquet long table).

    `window` (e.g. ``"1h"``) keeps the last part of the data; `missing` is skip, hold or flag;
    `verify` adds one FE solve at the estimate. Writes summary.json, fit.png and the predicted
    fields to `out` (default ``runs/<case>/calibration``), as ``twinkit calibrate`` does.
    """
    from twinkit.case import CaseError
    from twinkit.twin.calibrate import Options, run_calibrate

    if missing not in ("skip", "hold", "flag"):
        raise CaseError(f"missing={missing!r}: expected skip, hold or flag")
    opts = Options(window, restarts, mcmc, missing, verify)  # type: ignore[arg-type]
    summary, path = run_calibrate(
        case.path,
        Path(sensors),
        surrogate.file,
        None if out is None else Path(out),
        opts,
        surrogate=None if surrogate.file is not None else surrogate.model,
    )
    return Calibration(case, summary, path)
