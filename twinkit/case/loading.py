"""The case file: YAML parsed once into typed, immutable objects with SI values.

Quantities are strings with units ("100 degC", "750 W/(m^2*K)", "3 mm"), or `$name`, a reference
to a named parameter. Unknown keys are errors. `load_case` raises `CaseError` whose message names
the file, the key path, the bad value and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ValidationError,
    model_validator,
)

from twinkit.case import units
from twinkit.case.base import NAME_RULE, CaseError, check_name
from twinkit.case.bounds import bounds_errors
from twinkit.case.checks import consistency_errors
from twinkit.case.material_checks import prescribed_field_errors
from twinkit.case.mesh import FileMesh
from twinkit.case.paths import mesh_file
from twinkit.case.reading import YAMLLimitError, read_yaml
from twinkit.case.regions import check_mesh_regions
from twinkit.case.spec import CaseSpec
from twinkit.case.units import clip
from twinkit.redaction import names_secret, redact_all

__all__ = ["Case", "CaseError", "LoadedCase", "check_mesh_regions", "load_case"]


class Case(CaseSpec):
    """A case that passed every check across its sections (`twinkit.case.checks`)."""

    @model_validator(mode="after")
    def _consistency(self) -> Case:
        errors = consistency_errors(self) + bounds_errors(self) + prescribed_field_errors(self)
        if errors:
            raise _CaseConsistencyError(errors)
        return self


class _CaseConsistencyError(ValueError):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


# ---- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedCase:
    """A validated case with where it came from."""

    case: Case
    path: Path
    hash: str

    @property
    def name(self) -> str:
        """The case's name (its run folder's): `name:`, else the file's stem (both checked)."""
        return self.case.name or self.path.stem

    def mesh_file(self) -> Path | None:
        """The mesh file, resolved; CaseError unless it lies where a case may name files."""
        m = self.case.mesh
        return mesh_file(self.path, m.file) if isinstance(m, FileMesh) else None


# Where pydantic puts a discriminator tag ('convection', 'rectangle') into an error's location.
_TAGGED_UNIONS = {("mesh",), ("boundary_conditions", int), ("loads", int)}

MAX_LINES = 50  # of an error message: one per problem, then how many more

# pydantic's wording → the case-file reader's, applied in order.
_WORDING = [
    (r"Input should be a valid dictionary.*", "expected a mapping (key: value ...)"),
    (r"Input should be a valid (tuple|list)", "expected a list [...]"),
    (r"Input should be (greater|less)", r"expected a number \1"),
    (r"Input should be", "expected"),
    (r"(Tuple|List) should have (.*) items? after validation, not", r"expected \2 items, got"),
    (r"Dictionary should have at least 1 item after validation, not 0", "expected one or more"),
    (r"Dictionary should have (.*) items? after validation, not", r"expected \1 entries, got"),
    (r"String should have (.*) characters?", r"expected \1 characters"),
]


def _fmt_loc(loc: tuple[Any, ...], raw: Any, missing: bool = False) -> str:
    """The key path as written in the file, e.g. `boundary_conditions[1].h`.

    pydantic's `loc` also holds union tags ('convection') and member names ('str', 'float');
    following it through the YAML data keeps only the keys and indices the user wrote.
    """
    out, node = "", raw
    for k, part in enumerate(loc):
        shape = tuple(int if isinstance(p, int) else p for p in loc[:k])
        if shape in _TAGGED_UNIONS and isinstance(part, str):
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out, node = f"{out}[{part}]", node[part]
        elif (isinstance(node, dict) and part in node) or (missing and k == len(loc) - 1):
            key = clip(part)
            out = f"{out}.{key}" if out else key
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


MAX_REDACTED = 4096  # characters of a quoted value searched for secrets


def _fmt_value(v: Any, n: int = 80) -> str:
    """`v` as JSON (a string as repr), at most `n` characters: a long value is cut before it is
    written out, so a huge or alias-expanded value costs no more than a short one."""
    parts: list[str] = []
    budget = [n + 1]

    def put(s: str) -> None:
        parts.append(s[: budget[0]])
        budget[0] -= len(parts[-1])

    def walk(x: Any) -> None:
        if budget[0] <= 0:
            return
        if isinstance(x, dict):
            put("{")
            for i, (k, w) in enumerate(x.items()):
                if budget[0] <= 0:
                    return
                put((", " if i else "") + json.dumps(str(k)[:n]) + ": ")
                walk(w)
            put("}")
        elif isinstance(x, list | tuple):
            put("[")
            for i, w in enumerate(x):
                if budget[0] <= 0:
                    return
                put(", " if i else "")
                walk(w)
            put("]")
        elif isinstance(x, str):  # redacted whole (to a bound), then cut: see redact_all
            put(json.dumps(redact_all(x[:MAX_REDACTED])[: n + 1]))
        else:
            try:
                put(json.dumps(x)[: n + 1])
            except (TypeError, ValueError):  # an int past Python's str limit raises here too
                try:
                    put(str(x)[: n + 1])
                except ValueError:
                    put(f"an integer of {x.bit_length()} bits" if isinstance(x, int) else "?")

    if isinstance(v, str):  # redacted whole (to a bound), then cut: see redact_all
        s = repr(redact_all(v[:MAX_REDACTED])[: n + 1])
    else:
        walk(v)
        s = "".join(parts)
    return s if len(s) < n else s[: n - 3] + "..."


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """Keys the schema allows in the mapping at `loc` (for 'unknown key' messages)."""

    def flat(t: Any) -> list[Any]:  # Annotated[X, ...] → X; X | Y → X, Y
        if typing.get_origin(t) is Annotated:
            return flat(typing.get_args(t)[0])
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            return [f for a in typing.get_args(t) for f in flat(a)]
        return [t]

    def children(t: Any, part: Any) -> list[Any]:
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin in (list, tuple):
            return [a for a in args if a is not Ellipsis]
        if origin is dict:
            return [args[1]]
        if isinstance(t, type) and issubclass(t, BaseModel):
            fields = t.model_fields
            tags = [
                typing.get_args(fields[k].annotation)
                for k in ("type", "generator", "law")
                if k in fields
            ]
            if (t is FileMesh and part == "file") or any(part in tag for tag in tags):
                return [t]  # a union tag: stay on this member
            if part in fields:
                return [fields[part].annotation]
        return []

    found: list[Any] = [Case]
    for part in loc:
        found = [c for t in found for f in flat(t) for c in children(f, part)]
    models = [f for t in found for f in flat(t) if isinstance(f, type) and issubclass(f, BaseModel)]
    return list(dict.fromkeys(k for m in models for k in m.model_fields))


def _unknown_key(loc: tuple[Any, ...]) -> str:
    keys = _keys_at(loc[:-1])
    close = difflib.get_close_matches(clip(loc[-1], 64), keys, n=1)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return "unknown key; expected one of " + ", ".join(keys) if keys else "unknown key"


def _format_validation(path: Path, e: ValidationError, raw: Any) -> str:
    lines: list[list[str]] = []  # [key path, message, got]
    for err in e.errors():
        kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
        if isinstance(ctx.get("error"), _CaseConsistencyError):
            lines += [[p, m, ""] for p, m in ctx["error"].errors]
            continue
        loc = _fmt_loc(err["loc"], raw, missing=kind == "missing")
        msg = err["msg"].removeprefix("Value error, ")
        for pattern, repl in _WORDING:
            msg = re.sub(pattern, repl, msg)
        if kind == "extra_forbidden":
            msg = _unknown_key(err["loc"])
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "union_tag_invalid":
            loc += "." + ctx["discriminator"].strip("'")
            value, msg = ctx["tag"], f"expected one of {ctx['expected_tags']}"
        elif kind == "union_tag_not_found":
            loc += "." + ctx["discriminator"].strip("'")
            kind, msg = "missing", "required key is missing"
        if isinstance(value, str) and value.strip().lstrip("-").startswith("$"):
            # a `$parameter` where only a fixed value can go (an integer, a choice)
            msg = f"must be a fixed value, not a parameter; {msg}"
        got = f" (got {_fmt_value(value)})"
        if names_secret(err["loc"]):
            got = " (got ***)"  # a password: or token: key's own value
        if kind == "missing" or (isinstance(value, str) and value in msg):
            got = ""
        last = lines[-1] if lines else None
        if last and last[0] == loc and last[2] == got and msg.startswith("expected "):
            # the members of a union (str | float) each report; say it once
            last[1] += " or " + msg.removeprefix("expected ")
            continue
        lines.append([loc, msg, got])
    # a misspelt required key is one mistake, not an unknown key plus a missing one
    meant = set()
    for loc, msg, _ in lines:
        if msg.startswith("unknown key; did you mean"):
            parent, key = loc.rpartition(".")[0], msg.split("'")[1]
            meant.add(f"{parent}.{key}" if parent else key)
    lines = [x for x in lines if not (x[0] in meant and x[1] == "required key is missing")]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [["...", f"and {len(lines) - MAX_LINES} more problems", ""]]
    text = "\n".join(f"{path}: {loc}: {msg}{got}" for loc, msg, got in lines)
    return redact_all(text)  # a value quoted back may hold a webhook's or a database's password


def _not_a_file(path: Path) -> str:
    """Why ``path``, not a regular file, cannot be a case file: a folder, a pipe or a device
    (never opened: a pipe could block and a device never end), or nothing there."""
    try:
        if path.is_dir():
            return "cannot read the file (a folder)"
        if path.exists():
            return "cannot read the file (not a regular file: a pipe, socket or device)"
    except (OSError, ValueError):
        pass
    return "case file not found"


def load_case(path: str | Path, check_regions: bool = True) -> LoadedCase:
    """Read, validate and convert a case file. Raises CaseError with a user-facing message."""
    import yaml

    path = Path(path)
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long
        found = False
    if not found:
        raise CaseError(f"{clip(str(path), 200)}: {_not_a_file(path)}")
    try:
        raw = read_yaml(path)
    except YAMLLimitError as e:
        raise CaseError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        cmark, context = getattr(e, "context_mark", None), getattr(e, "context", None)
        if cmark and context:  # where the unclosed bracket, quote or block began
            problem += f" ({context} at line {cmark.line + 1}, column {cmark.column + 1})"
        raise CaseError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: cannot read the file ({e})") from None
    if raw is None:
        raise CaseError(f"{path}: the file is empty; expected a mapping of keys (model, mesh, ...)")
    if not isinstance(raw, dict):
        raise CaseError(
            f"{path}: (top level): expected a mapping of keys (model, mesh, materials, ...), "
            f"got {type(raw).__name__}"
        )
    _check_units(path, raw)
    try:
        case = Case.model_validate(raw, context={"case_path": path})
    except ValidationError as e:
        raise CaseError(_format_validation(path, e, raw)) from None
    if not case.name:
        try:
            check_name(path.stem)
        except ValueError:
            raise CaseError(
                f"{path}: name: the case has no name and its file's name {clip(path.stem)!r} is "
                f"not one ({NAME_RULE}); give name: ..."
            ) from None
    try:
        text = json.dumps(raw, sort_keys=True, default=str)
    except ValueError as e:  # an integer too long to write in decimal (a 4,000-digit hex)
        raise CaseError(f"{path}: a value it cannot write back ({e})") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    loaded = LoadedCase(case, path, digest)
    if check_regions:
        check_mesh_regions(loaded)
    return loaded


def _scalars(raw: Any) -> list[Any]:
    """Every key and scalar value of the YAML data (bounded by the reader's limits)."""
    out, todo = [], [raw]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            out += list(node)
            todo += list(node.values())
        elif isinstance(node, list):
            todo += node
        else:
            out.append(node)
    return out


def _check_units(path: Path, raw: Any) -> None:
    """CaseError if the file writes more different units than `units.MAX_UNITS` (display units
    included): reading each costs pint about a millisecond."""
    values = _scalars(raw)
    outputs = raw.get("outputs") if isinstance(raw, dict) else None
    display = outputs.get("display") if isinstance(outputs, dict) else None
    if isinstance(display, dict):
        values += [f"1 {u}" for u in display.values() if isinstance(u, str)]
    n = len(units.unit_expressions(values))
    if n > units.MAX_UNITS:
        raise CaseError(
            f"{path}: it writes {n} different units; a case file may use at most {units.MAX_UNITS}"
        )
