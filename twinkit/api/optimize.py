"""Design optimisation in a notebook: `tk.optimize(case, surrogate, trials=200, verify=True)`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinkit.api.values import (
    CaseLike,
    Quantities,
    as_text,
    html_table,
    text_table,
    without_unit,
)
from twinkit.case.display import pretty

if TYPE_CHECKING:
    from twinkit.api.surrogate import Surrogate


class OptimizationResult:
    """The best design(s) found on the surrogate, the predicted outputs ± std, and the FE
    verification; ``summary`` is summary.json (SI)."""

    def __init__(self, case: CaseLike, summary: dict[str, Any], path: Path):
        self.case = case
        self.summary = summary
        self.path = path
        c = case.loaded.case
        best = summary["best"][0] if summary["best"] else None
        self.design = Quantities(
            dict(best["design"]) if best else {},
            {n: c.parameter_unit(n) for n in (best["design"] if best else {})},
            case.display,
            title="best design",
        )

    @property
    def verified(self) -> bool:
        """Every chosen design re-solved by FE, feasible and within the objective tolerance."""
        return bool(self.summary["verified"])

    @property
    def feasible(self) -> bool:
        """The best design satisfies the constraints on the surrogate."""
        return bool(self.summary["best"]) and bool(self.summary["best"][0]["predicted_feasible"])

    def rows(self, i: int = 0) -> list[list[str]]:
        """The `i`-th chosen design (0: the best), then each output predicted and by FE."""
        if i >= len(self.summary["best"]):
            return []
        d, c = self.case.display, self.case.loaded.case
        chosen = self.summary["best"][i]
        rows = []
        for name, x in chosen["design"].items():
            shown = d.format(name, x, c.parameter_unit(name))
            unit = pretty(d.unit(name, c.parameter_unit(name)))
            rows.append([name, without_unit(shown, unit), unit, "", "(design)"])
        fe = (chosen.get("verification") or {}).get("outputs", {})
        for name, p in chosen["predicted"].items():
            si = fe.get(name, {}).get("unit") or _unit(self.summary, name)
            unit = pretty(d.unit(name, si))
            f = fe.get(name, {}).get("fe")
            err = fe.get(name, {}).get("relative_error")
            fe_text = "" if f is None else f"{float(d.value(name, f, si)[0]):.6g}"
            err_text = "" if err is None else f"{100 * err:.2f} %"
            guess = "–" if p["mean"] is None else d.format(name, p["mean"], si, p["std"])
            rows.append(
                [
                    name,
                    without_unit(guess, unit),
                    unit,
                    fe_text,
                    err_text,
                ]
            )
        return rows

    HEADER = ("output", "predicted", "unit", "FE", "error")

    def _head(self) -> str:
        t = self.summary["trials"]
        return (
            f"study '{self.summary['study']}' ({self.summary['sampler']}): {t['complete']} trials, "
            f"{t['feasible']} feasible; verified {self.verified}"
        )

    def _repr_html_(self) -> str:
        return html_table(self.HEADER, self.rows(), self._head())

    def __repr__(self) -> str:
        return self._head() + "\n" + text_table(self.HEADER, self.rows())


def _unit(summary: dict[str, Any], name: str) -> str:
    for item in [*summary["objectives"], *summary["constraints"]]:
        if item["output"] == name:
            return str(item["unit"])
    return ""


def optimize(
    case: CaseLike,
    surrogate: Surrogate | None,
    trials: int = 200,
    verify: bool | int = True,
    robust: float = 0.0,
    tolerance: float = 0.01,
    storage: str | None = None,
    study: str | None = None,
    fix: dict[str, Any] | None = None,
    calibration: Any = None,
    out: str | Path | None = None,
    plots: bool = False,
    fe_budget: int = 0,
    ei_tolerance: float = 1e-4,
    progress: Any = None,
    fe_workers: int = 1,
) -> OptimizationResult:
    """Optimise the case's design parameters (its ``optimization:`` section) on the surrogate.

    `verify` FE-solves the best design (an int: that many Pareto designs). `fix` holds
    non-design parameters at given values (``fix={"pull_rate": "220 t/day"}``). Latent and
    measured inputs take their values from `calibration` (a `Calibration`, or the path of its
    summary.json; default ``runs/<case>/calibration/summary.json`` when there is one), else
    their nominal values. The study is kept in `out` (default ``runs/<case>/optimize``), so a
    rerun with more trials adds to it; a retrained surrogate needs a new `out` or `study` name.

    `fe_budget=N` spends up to N FE solves (in total, a rerun continues) chosen one at a time by
    a constrained expected improvement with the surrogate as prior; `surrogate=None` starts from
    nothing (no sweep needed). It stops when the expected improvement left is below
    `ei_tolerance` × the best objective; the best design is then the best FE-feasible one
    solved, and `verified` says the search converged. `progress` gets each FE solve's row.
    `fe_workers=K` proposes up to K designs per round and solves them at once on K worker
    processes (a cluster node's cores; the expected improvement decides how many a round
    needs).
    """
    from twinkit.optimization.driver import Options, optimize_case

    c = case.loaded.case
    overrides = {n: as_text(n, v, c.parameter_unit(n)) for n, v in (fix or {}).items()}
    opts = Options(
        trials=trials,
        storage=storage,
        study=study,
        verify=int(verify),
        robust=robust,
        tolerance=tolerance,
        out=None if out is None else Path(out),
        plots=plots,
        overrides=overrides,
        surrogate=None if surrogate is None else surrogate.file,
        calibration=_calibration_file(calibration),
        fe_budget=fe_budget,
        use_surrogate=surrogate is not None,
        ei_tolerance=ei_tolerance,
        fe_workers=fe_workers,
    )
    # a surrogate with a file is named by the file (a study remembers which one it was run on)
    model = None if surrogate is None or surrogate.file is not None else surrogate.model
    summary, path = optimize_case(case.path, opts, surrogate=model, progress=progress)
    return OptimizationResult(case, summary, path)


def _calibration_file(calibration: Any) -> Path | None:
    if calibration is None:
        return None
    path = Path(getattr(calibration, "path", calibration))
    if not path.is_file():
        from twinkit.case import CaseError

        raise CaseError(f"calibration={path}: no such calibration summary")
    return path
