"""`twinkit run`: the main job, one stage after another, skipping what is already up to date.

Stages (`twinkit.pipeline.stages`): solve the nominal point → sample → train → calibrate (when the
case names a sensor file) → optimize → verify (FE re-solve of the best design) → report. Each
stage's *inputs* are hashed: the parts of the case it reads, its options and the content hashes of
the upstream outputs it uses. `OUT/run.json` records, per stage, that hash, its outputs' hashes and
its timing. A stage whose inputs hash as recorded and whose outputs are still there, unchanged, is
skipped; `force` reruns everything. A failing stage is recorded, stops the run (earlier outputs
stay) and raises `StageError` naming it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from twinkit.case import CaseError, load_case
from twinkit.files import write_json
from twinkit.pipeline.job import Job, RunOptions, StageError, digest
from twinkit.pipeline.stages import STAGES
from twinkit.version import __version__


def prepare(case_path: Path, opts: RunOptions, loaded: Any = None) -> Job:
    """Validate the case and resolve the settings (options over the case's `run:` section);
    ``loaded``: the case, when it has been loaded (and its mesh's regions checked) already."""
    from twinkit.case.paths import run_sensor_file
    from twinkit.case.reading import read_yaml

    loaded = loaded or load_case(case_path)
    raw = read_yaml(loaded.path)  # as load_case read it
    r = loaded.case.run

    def pick(option: int | None, name: str, lowest: int) -> int:
        value = getattr(r, name) if option is None else option
        if value < lowest:
            raise CaseError(f"--{name} {value}: expected at least {lowest}")
        return int(value)

    sensors = opts.sensors
    if sensors is None:
        sensors = run_sensor_file(loaded.path, r.sensors)
    elif not sensors.is_file():
        raise CaseError(f"--sensors {sensors}: sensor file not found")
    samples = pick(opts.samples, "samples", 8)
    return Job(
        loaded,
        raw,
        opts.out or Path("runs") / loaded.name,
        samples=samples,
        test=pick(opts.test, "test", 0),
        workers=pick(opts.workers, "workers", 1),
        members=r.members,
        epochs=r.epochs,
        trials=pick(opts.trials, "trials", 1),
        sensors=sensors,
        fe_solves=r.fe_solves,
        design_samples=design_samples(loaded, samples),
        force=opts.force,
    )


def design_samples(loaded: Any, samples: int) -> int:
    """`run.design_samples`, by default a quarter of the training samples when the case
    optimises over some parameters and varies others (which the optimisation holds at their
    nominal or calibrated values), else 0."""
    case = loaded.case
    k = case.run.design_samples
    if k is None:
        varied = [p.role for p in case.parameters.values() if p.range is not None]
        slice_differs = "design" in varied and any(role != "design" for role in varied)
        k = samples // 4 if case.optimization is not None and slice_differs else 0
    if k > samples:
        raise CaseError(
            f"{loaded.path}: run.design_samples: {k} is more than the {samples} training samples"
        )
    return int(k)


def run_case(case_path: Path, opts: RunOptions) -> dict[str, Any]:
    """Run the main job; returns the record written to `OUT/run.json`."""
    from rich.console import Console

    t0 = time.perf_counter()
    con = Console(highlight=False)
    job = prepare(case_path, opts)
    job.console = con
    job.out.mkdir(parents=True, exist_ok=True)
    record_path = job.out / "run.json"
    record = _read_record(record_path)
    if record.get("case") not in (None, job.loaded.name):
        raise CaseError(
            f"{job.out}: holds the run of case '{record['case']}', not '{job.loaded.name}'; "
            "give another --out"
        )
    record |= {"case": job.loaded.name, "case_file": str(job.loaded.path)}
    record |= {"case_hash": job.loaded.hash, "twinkit_version": __version__}
    record.setdefault("stages", {})
    this_run: dict[str, str] = {}
    record["last_run"] = {"started": _now(), "actions": this_run, "settings": _settings(job)}
    con.print(
        f"[bold]twinkit run[/bold] {job.case_path}: case '{job.loaded.name}' valid "
        f"(hash {job.loaded.hash}) → {job.out}"
    )
    for i, stage in enumerate(STAGES, 1):
        label = f"[{i}/{len(STAGES)}] {stage.name:<9}"
        inputs = stage.inputs(job)
        if inputs is None:
            this_run[stage.name] = "not applicable"
            record["stages"].pop(stage.name, None)
            con.print(f"  [dim]-[/dim] {label} [dim]{_why_not(stage.name, job)}[/dim]")
            continue
        key = digest(inputs)
        old = record["stages"].get(stage.name)
        if not opts.force and _up_to_date(job, old, key):
            this_run[stage.name] = "skipped"
            con.print(f"  [green]✓[/green] {label} [dim]up to date[/dim]")
            continue
        if stage.renders:
            _torch_before_vtk()
        ts = time.perf_counter()
        try:
            if stage.live:
                with con.status(f"{stage.name} ..."):
                    files, note = stage.run(job)
            else:
                con.print(f"  [cyan]→[/cyan] {label}")
                files, note = stage.run(job)
        except Exception as e:
            seconds = time.perf_counter() - ts
            record["stages"][stage.name] = {
                "status": "failed",
                "input_hash": key,
                "seconds": round(seconds, 2),
                "finished": _now(),
                "message": f"{type(e).__name__}: {e}",
            }
            this_run[stage.name] = "failed"
            _finish(record, record_path, t0)
            con.print(f"  [red]✗[/red] {label} failed after {seconds:.1f} s")
            raise StageError(stage.name, e) from e
        seconds = time.perf_counter() - ts
        record["stages"][stage.name] = {
            "status": "done",
            "input_hash": key,
            "inputs": inputs,
            "outputs": {f: job.file(f) for f in files},
            "seconds": round(seconds, 2),
            "finished": _now(),
            "note": note,
        }
        this_run[stage.name] = "ran"
        write_json(record_path, record)
        con.print(f"  [green]✓[/green] {label} {seconds:7.1f} s  {note}")
    _finish(record, record_path, t0)
    for n in job.notes:
        con.print(f"[yellow]note:[/yellow] {n}")
    ran = sum(a == "ran" for a in this_run.values())
    con.print(
        f"done in {record['last_run']['seconds']:.1f} s ({ran} stages ran, "
        f"{sum(a == 'skipped' for a in this_run.values())} up to date); "
        f"report: {job.out / 'report.html'}"
    )
    return record


def _torch_before_vtk() -> None:
    """Load torch's compiler stack (it loads triton) before VTK renders a picture off-screen:
    in the other order, importing triton segfaults (torch 2.15, triton 3.9, VTK 9.7 wheels),
    and the train stage imports it."""
    import torch._inductor  # noqa: F401


def _up_to_date(job: Job, old: dict[str, Any] | None, key: str) -> bool:
    if not old or old.get("status") != "done" or old.get("input_hash") != key:
        return False
    return all(h is not None and job.file(f) == h for f, h in old.get("outputs", {}).items())


def _why_not(stage: str, job: Job) -> str:
    if stage == "calibrate":
        return "no sensor file (give --sensors FILE or run.sensors in the case)"
    return "the case has no optimization section"


def _settings(job: Job) -> dict[str, Any]:
    keys = ("samples", "test", "workers", "members", "epochs", "trials", "fe_solves", "tolerance")
    return {k: getattr(job, k) for k in keys} | {"sensors": str(job.sensors or "") or None}


def _read_record(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # unreadable: every stage reruns
    return data if isinstance(data, dict) else {}


def _finish(record: dict[str, Any], path: Path, t0: float) -> None:
    record["last_run"]["seconds"] = round(time.perf_counter() - t0, 2)
    write_json(path, record)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
