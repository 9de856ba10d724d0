"""A case in a notebook: `tk.load_case(path)`, then `case.solve(...)` and `case.sample(...)`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinkit.api.values import Quantities, as_text, html_table, text_table
from twinkit.case import CaseError, LoadedCase
from twinkit.case.checks import FIELD_UNITS
from twinkit.case.display import DisplayUnits, pretty

if TYPE_CHECKING:
    from twinkit.api.sweep import Sweep


class Case:
    """A validated case file: its parameters, and what can be computed from it.

    Values go in as quantity strings (``"1620 degC"``), pint quantities or SI numbers, and come
    out as pint quantities in the units the case file used.
    """

    def __init__(self, loaded: LoadedCase):
        self.loaded = loaded
        self.display = DisplayUnits.from_case(loaded.case)
        self._runner: Any = None  # kept between solves: the mesh and compiled forms

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def model(self) -> str:
        return self.loaded.case.model

    @property
    def spec(self) -> Any:
        """The typed case (`twinkit.case.Case`): every section, in SI."""
        return self.loaded.case

    @property
    def parameters(self) -> Quantities:
        """Nominal values of the parameters."""
        c = self.loaded.case
        return Quantities(
            {n: p.si for n, p in c.parameters.items()},
            {n: c.parameter_unit(n) for n in c.parameters},
            self.display,
            title=f"{self.name}: nominal parameters",
        )

    def values(self, given: Mapping[str, Any]) -> dict[str, float]:
        """SI values of every parameter: the nominal ones with `given` ({name: value}) applied."""
        c = self.loaded.case
        texts = {n: as_text(n, v, c.parameter_unit(n)) for n, v in given.items()}
        try:
            return c.parameter_values(texts)
        except CaseError as e:
            raise CaseError(f"{self.path}: parameters: {str(e).removeprefix('--set ')}") from None

    def solve(self, out: str | Path | None = None, plots: bool = False, **values: Any) -> Result:
        """One FE solve at the nominal point with `values` applied (e.g. ``boost_power="0.8 MW"``).

        Writes summary.json and the fields (XDMF, VTU; PNGs with ``plots=True``) to `out`
        (default ``runs/<case>``), as ``twinkit solve`` does. Later solves of the same case reuse
        its mesh and compiled forms (a geometric parameter re-meshes). A model with several
        steady states (glass flow) starts each solve from the nominal solution, as a sweep does,
        so a result depends on its parameters only, not on what was solved before.
        """
        from mpi4py import MPI

        from twinkit.solve.point import solve_loaded
        from twinkit.solve.runner import CaseRunner

        self.values(values)  # one clear message for a bad value before anything is built
        texts = {n: as_text(n, v, self.loaded.case.parameter_unit(n)) for n, v in values.items()}
        if self._runner is None:
            self._runner = CaseRunner(self.loaded, MPI.COMM_WORLD, anchored=True)
        result, summary = solve_loaded(
            self.loaded, texts, _path(out), plots, self.display, self._runner
        )
        return Result(self, result, summary)

    def sample(
        self,
        n: int,
        test: int = 0,
        workers: int = 1,
        method: str = "sobol",
        out: str | Path | None = None,
        adaptive: bool = False,
        initial: int | None = None,
        batch: int | None = None,
        scheduler: str | None = None,
        progress: bool = True,
        design_samples: int = 0,
    ) -> Sweep:
        """Sweep the parameter ranges with `n` training and `test` held-out FE solves.

        Resumable: run again with the same folder (default ``runs/<case>/data``) and only the
        missing samples are solved. ``adaptive=True`` puts samples where a surrogate ensemble
        disagrees most. ``design_samples`` of the ``n`` lie on the design slice: the parameters
        with role design varied, the others at their nominal values (as `optimize` holds them).
        Returns the `Sweep`, whose ``dataset`` is the xarray Dataset.

        With ``workers > 1`` the workers are new processes ('spawn'): in a plain script, call
        this under ``if __name__ == "__main__":`` (Jupyter needs nothing).
        """
        from twinkit.api.sweep import Sweep
        from twinkit.sweep.run import SweepOptions, run_sweep

        opts = SweepOptions(n, method, test, workers, scheduler, progress, design_samples)
        if adaptive and design_samples:
            raise CaseError(
                "--design-samples (design_samples) goes with a plain sweep, not --adaptive"
            )
        if adaptive:
            from twinkit.sweep.adaptive import default_options, run_adaptive

            summary = run_adaptive(self.path, _path(out), opts, default_options(n, initial, batch))
        elif initial is not None or batch is not None:
            raise CaseError("initial and batch go with adaptive=True")
        else:
            summary = run_sweep(self.path, _path(out), opts)
        return Sweep(self, Path(summary["folder"]), summary)

    def rows(self, limit: int | None = None) -> list[list[str]]:
        """The parameter table's rows (the first `limit`, or all)."""
        c = self.loaded.case
        rows = []
        for name, p in list(c.parameters.items())[:limit]:
            si = c.parameter_unit(name)
            unit = self.display.unit(name, si)
            show = self.display.value
            nominal = f"{float(show(name, p.si, si)[0]):.6g}"
            lo, hi = (float(show(name, b, si)[0]) for b in p.bounds)
            rng = f"{lo:.6g} … {hi:.6g}" + (" (log)" if p.scale == "log" else "") if p.range else ""
            rows.append([name, p.role, nominal, rng, pretty(unit)])
        return rows

    def _repr_html_(self) -> str:
        head = f"case '{self.name}' ({self.model}) from {self.path.name}, hash {self.loaded.hash}"
        return html_table(["parameter", "role", "nominal", "range", "unit"], self.rows(), head)

    def __repr__(self) -> str:
        table = text_table(["parameter", "role", "nominal", "range", "unit"], self.rows())
        return f"Case '{self.name}' ({self.model}) from {self.path}\n{table}"


class Result:
    """One FE solve: QoIs and sensors as quantities in the case's units, the fields, the status."""

    def __init__(self, case: Case, result: Any, summary: Path):
        self.case = case
        self.raw = result  # the physics Result (SI numbers, dolfinx fields)
        self.summary_path = summary
        units = result.units
        self.qoi = Quantities(result.qoi, units, case.display, title="quantities of interest")
        self.sensors = Quantities(result.sensors, units, case.display, title="sensors")
        self.parameters = Quantities(
            result.parameters, units, case.display, title="parameters solved at"
        )

    @property
    def converged(self) -> bool:
        return bool(self.raw.solver.converged)

    @property
    def solver(self) -> Any:
        """converged, iterations, seconds, message."""
        return self.raw.solver

    @property
    def fields(self) -> dict[str, Any]:
        """The FE fields (dolfinx Functions, SI)."""
        return dict(self.raw.fields)

    @property
    def folder(self) -> Path:
        return self.summary_path.parent

    def plot(self, name: str = "temperature", ax: Any = None) -> Any:
        """A matplotlib figure of a field of a 2D solve (magnitude for vectors), in the case's
        units. 3D fields: open the .pvd or .xdmf file in ParaView."""
        from twinkit.solve.plotting import field_figure

        if name not in self.raw.fields:
            raise KeyError(f"no field '{name}'; this solve has {sorted(self.raw.fields)}")
        unit = self.raw.units.get(name) or FIELD_UNITS.get(name, "")
        return field_figure(self.raw.fields[name], self.case.display.linear(name, unit), ax=ax)

    def rows(self) -> list[list[str]]:
        return [
            [kind, *row]
            for kind, q in (("QoI", self.qoi), ("sensor", self.sensors))
            for row in q.rows()
        ]

    def _repr_html_(self) -> str:
        s = self.raw.solver
        head = (
            f"{self.case.name}: converged {s.converged}, {s.iterations} iterations, "
            f"{s.seconds:.2f} s; {self.summary_path}"
        )
        return html_table(["kind", "output", "value", "unit"], self.rows(), head)

    def __repr__(self) -> str:
        s = self.raw.solver
        return (
            f"Result of '{self.case.name}' (converged {s.converged}, {s.seconds:.2f} s)\n"
            + text_table(["kind", "output", "value", "unit"], self.rows())
        )


def load_case(path: str | Path, check_regions: bool = True) -> Case:
    """Read and validate a case file (YAML); `twinkit.case.CaseError` names what is wrong."""
    from twinkit.case import load_case as load

    return Case(load(Path(path), check_regions=check_regions))


def _path(p: str | Path | None) -> Path | None:
    return None if p is None else Path(p)
