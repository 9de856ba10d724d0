"""The main job from a notebook: `tk.run(case)`, as `twinkit run`, and the example bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinkit.api.values import CaseLike, html_table, text_table
from twinkit.case import CaseError


class RunResult:
    """What `tk.run` did: each stage's status and time; ``record`` is run.json."""

    def __init__(self, case: CaseLike, record: dict[str, Any], folder: Path):
        self.case = case
        self.record = record
        self.folder = folder

    @property
    def report(self) -> Path:
        """The self-contained report page (open it in a browser)."""
        return self.folder / "report.html"

    def rows(self) -> list[list[str]]:
        actions = self.record.get("last_run", {}).get("actions", {})
        rows = []
        for name, action in actions.items():
            st = self.record["stages"].get(name, {})
            seconds = st.get("seconds")
            rows.append(
                [name, action, "" if seconds is None else f"{seconds:.1f}", st.get("note", "")]
            )
        return rows

    def _head(self) -> str:
        return f"run of '{self.case.name}' in {self.folder}; report: {self.report}"

    def _repr_html_(self) -> str:
        return html_table(["stage", "this run", "seconds", "note"], self.rows(), self._head())

    def __repr__(self) -> str:
        return (
            self._head() + "\n" + text_table(["stage", "this run", "seconds", "note"], self.rows())
        )


def run(
    case: CaseLike,
    out: str | Path | None = None,
    samples: int | None = None,
    test: int | None = None,
    workers: int | None = None,
    trials: int | None = None,
    sensors: str | Path | None = None,
    force: bool = False,
) -> RunResult:
    """Solve, sample, train, calibrate, optimise, verify and write report.html into `out`
    (default ``runs/<case>``), skipping the stages whose inputs did not change. Options left at
    None take the case's ``run:`` section. Raises `twinkit.pipeline.job.StageError` naming the stage
    that failed; the stages before it keep their outputs."""
    from twinkit.pipeline.run import RunOptions, run_case

    folder = Path(out) if out is not None else Path("runs") / case.name
    opts = RunOptions(
        folder, samples, test, workers, trials, None if sensors is None else Path(sensors), force
    )
    return RunResult(case, run_case(case.path, opts), folder)


# The example bundles: the case file and what it reads (sensor data, a mesh), shipped in the wheel
# (twinkit/examples/) and read from cases/ and meshes/ in a source checkout.
EXAMPLES = {
    "furnace": ("furnace.yaml", "furnace_sensors.csv", "furnace_sensors.truth.json"),
    "bracket": ("bracket.yaml",),
    "heatsink": ("heatsink.yaml", "meshes/heatsink.geo"),
}


def _source(relative: str) -> Path:
    here = Path(__file__).resolve().parents[1]
    packaged = here / "examples" / relative
    if packaged.is_file():
        return packaged
    checkout = here.parent / ("" if relative.startswith("meshes/") else "cases") / relative
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"example file {relative} is missing from this installation")


def example(name: str, folder: str | Path) -> Path:
    """Copy the example case `name` (furnace, bracket, heatsink) and the files it reads into
    `folder`; returns the case file's path. Refuses to overwrite a file."""
    if name not in EXAMPLES:
        raise CaseError(f"no example '{name}'; there are {', '.join(EXAMPLES)}")
    folder = Path(folder)
    targets = [folder / Path(f).name for f in EXAMPLES[name]]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise CaseError(f"{', '.join(existing)}: already there; give an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    for relative, target in zip(EXAMPLES[name], targets, strict=True):
        text = _source(relative).read_bytes()
        if relative.endswith(".yaml"):  # meshes sit beside the case file in the copy
            text = text.replace(b"file: ../meshes/", b"file: ")
        target.write_bytes(text)
        target.chmod(0o644)
    return targets[0]
