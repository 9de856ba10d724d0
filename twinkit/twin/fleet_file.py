"""The fleet file: several assets served by one twin service (`twinkit fleet FILE`), read once
into typed, immutable objects and checked like a case file (`yaml.safe_load` within the case
file's limits, pydantic, unknown keys refused); `load_fleet` raises `CaseError` naming the file,
the key and the value.

```yaml
name: plant-a                  # optional: the file's stem; topic fleet/<name>/state, runs/<name>/
broker: localhost:1883         # optional: twinkit fleet --mqtt overrides it
history: postgresql://twin@db/plant   # optional: one shared history; default a file per asset
assets:
  furnace1: {case: furnace.yaml, surrogate: runs/furnace/surrogate.pt}
  furnace2: {case: furnace.yaml, cadence: 5 min, drift_rate: 0.2}
```

Paths are relative to the fleet file and must lie inside its folder or inside `runs/` of the
working directory (where twinkit writes); symbolic links count where they lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinkit.case.base import CaseError, Name, check_name
from twinkit.case.units import clip
from twinkit.redaction import names_secret, redact_all

DEFAULTS = {
    "cadence": "1 min",
    "max_skew": "5 min",
    "max_jump": "1 h",
    "max_lateness": "10 min",
    "field_history": "15 min",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(text: Any, off: bool) -> float | None:
    from twinkit.case.units import parse

    if off and isinstance(text, str) and text.strip().lower() in ("off", "none"):
        return None
    seconds = parse(text, "s")
    if not seconds > 0:
        raise ValueError("must be a positive time" + (" (or off)" if off else ""))
    return seconds


class AssetSpec(_Strict):
    """One asset as the fleet file gives it (paths still as written)."""

    case: str
    surrogate: str | None = None  # default runs/<case>/surrogate.pt, as for twinkit live
    state: str | None = None  # default runs/<fleet>/<asset>/live.json
    history: str | None = None  # default the fleet's, else runs/<fleet>/<asset>/history.sqlite
    topic: str | None = None  # default plant/<asset>/sensors/+
    cadence: str | float = DEFAULTS["cadence"]
    members: Annotated[int, Field(ge=8, le=4096)] = 64
    drift_rate: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.1
    max_skew: str | float = DEFAULTS["max_skew"]
    max_jump: str | float = DEFAULTS["max_jump"]
    max_lateness: str | float = DEFAULTS["max_lateness"]  # off: readings in time order only
    field_history: str | float = DEFAULTS["field_history"]  # off: no field snapshots kept

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, v: Any) -> Any:
        _duration(v, off=False)
        return v

    @field_validator(
        "max_skew", "max_jump", "max_lateness", "field_history", "history", mode="before"
    )
    @classmethod
    def _off(cls, v: Any) -> Any:
        return "off" if v is False else v  # YAML 1.1 reads a bare off as false

    @field_validator("max_skew", "max_jump", "max_lateness", "field_history")
    @classmethod
    def _limit(cls, v: Any) -> Any:
        _duration(v, off=True)
        return v

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str | None) -> str | None:
        from twinkit.case.alerting import topic_error

        if v is not None and (why := topic_error(v.replace("+", "x"))):
            raise ValueError(why)
        return v


class FleetSpec(_Strict):
    name: Name | None = None
    broker: str | None = None
    history: str | None = None
    assets: Annotated[dict[Name, AssetSpec], Field(min_length=1, max_length=256)]

    @field_validator("history", mode="before")
    @classmethod
    def _off(cls, v: Any) -> Any:
        return "off" if v is False else v


@dataclass(frozen=True)
class Asset:
    """One asset, resolved: files as paths, times in seconds, the history as a URL (None: off)."""

    name: str
    case: Path
    surrogate: Path | None
    state: Path
    history: str | None
    topic: str
    cadence: float
    members: int
    drift_rate: float
    max_skew: float | None
    max_jump: float | None
    max_lateness: float | None
    field_history: float = 900.0  # plant s between kept field snapshots (0: none)


@dataclass(frozen=True)
class Fleet:
    name: str
    path: Path
    broker: str | None
    assets: dict[str, Asset]

    @property
    def run_dir(self) -> Path:
        return Path("runs") / self.name


def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _format(path: Path, e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            lines.append(f"{path}: {_where(err['loc'])}: required key is missing")
            continue
        got = clip(redact_all(repr(err["input"])[:4096]))  # redacted, then cut (redact_all)
        if names_secret(err["loc"]):
            got = "***"  # a password: or token: key's own value
        lines.append(f"{path}: {_where(err['loc'])}: {msg} (got {got})")
    return redact_all("\n".join(lines[:20]))  # a quoted value may hold a database's password


def _file(fleet: Path, key: str, text: str) -> Path:
    """`text` relative to the fleet file, inside its folder or ./runs; CaseError naming `key`."""
    shown = f"{fleet}: {key}: '{clip(text, 200)}'"
    if "\x00" in text or Path(text).is_absolute() or text.startswith("~"):
        raise CaseError(f"{shown}: give a path relative to the fleet file")
    roots = [fleet.resolve().parent, Path("runs").resolve()]
    try:
        path = (roots[0] / text).resolve()
    except (OSError, RuntimeError) as e:
        raise CaseError(f"{shown}: cannot resolve it ({e})") from None
    if not any(path == r or r in path.parents for r in roots):
        raise CaseError(f"{shown}: leads to {path}, outside {' and '.join(map(str, roots))}")
    return path


def _history(fleet: Path, key: str, text: str | None, default: Path) -> str | None:
    from twinkit.twin.history_db import history_url

    if text is None:
        return history_url(default)
    if text.strip().lower() in ("off", "none"):
        return None
    if text.startswith(("postgresql://", "postgres://")):
        return text
    if "://" in text and not text.startswith("sqlite:///"):
        raise CaseError(f"{fleet}: {key}: expected postgresql://..., a file or off")
    return history_url(_file(fleet, key, text.removeprefix("sqlite:///")))


def load_fleet(path: str | Path) -> Fleet:
    """Read and check a fleet file; CaseError (exit code 2 in the CLI) naming key and value."""
    import yaml

    from twinkit.case.reading import YAMLLimitError, read_yaml
    from twinkit.twin.history_db import FILE_NAME

    path = Path(path)
    if not path.is_file():
        raise CaseError(f"{clip(str(path), 200)}: fleet file not found")
    try:
        raw = read_yaml(path)
    except (YAMLLimitError, yaml.YAMLError, OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: cannot read the fleet file ({clip(str(e), 300)})") from None
    if not isinstance(raw, dict):
        raise CaseError(f"{path}: expected a mapping with assets: (and name, broker, history)")
    try:
        spec = FleetSpec.model_validate(raw)
    except ValidationError as e:
        raise CaseError(_format(path, e)) from None
    name = spec.name or path.stem
    try:
        check_name(name)
    except ValueError as e:
        raise CaseError(f"{path}: name: {e} (the file's stem; give name: ...)") from None
    if spec.broker is not None:
        from twinkit.sensors.mqtt import BrokerConfig

        try:
            BrokerConfig.from_address(spec.broker, {})
        except CaseError:
            why = f"expected HOST:PORT (got '{clip(spec.broker)}')"
            raise CaseError(f"{path}: broker: {why}") from None
    run = Path("runs") / name
    assets = {}
    for n, a in spec.assets.items():
        key = f"assets.{n}"
        case = _file(path, f"{key}.case", a.case)
        if not case.is_file():
            raise CaseError(f"{path}: {key}.case: '{clip(a.case, 200)}': case file not found")
        sur = _file(path, f"{key}.surrogate", a.surrogate) if a.surrogate else None
        if sur is not None and not sur.is_file():
            raise CaseError(f"{path}: {key}.surrogate: '{clip(a.surrogate)}': file not found")
        state = _file(path, f"{key}.state", a.state) if a.state else run / n / "live.json"
        hist = a.history if a.history is not None else spec.history
        where = f"{key}.history" if a.history is not None else "history"
        assets[n] = Asset(
            n, case, sur, state, _history(path, where, hist, run / n / FILE_NAME),
            a.topic or f"plant/{n}/sensors/+", _duration(a.cadence, False) or 0.0, a.members,
            a.drift_rate, _duration(a.max_skew, True), _duration(a.max_jump, True),
            _duration(a.max_lateness, True), _duration(a.field_history, True) or 0.0,
        )  # fmt: skip
        for other in list(assets.values())[:-1]:  # two twins on one file or topic: say which
            for k in ("state", "topic"):
                if (v := getattr(other, k)) == getattr(assets[n], k):
                    why = f"is also asset {other.name}'s; give each asset its own"
                    raise CaseError(f"{path}: {key}.{k}: '{clip(str(v))}' {why}")
    return Fleet(name, path, spec.broker, assets)
