"""Values that change in time (and space): a formula of `t`, `x`, `y`, `z` and parameters
(`"20 degC + 80 K * sin(pi * t / (40 s))"`), or a table of (time, value) rows read from a CSV file
beside the case (`{table: ramp.csv, time_unit: min, unit: degC}`, linear in between).

Keys that take them: a boundary temperature, heat flux or convection's ambient, a heat source.
The formula's names and dimension are checked at `validate` (`twinkit.case.time_checks`); `t` and
a table need a transient run (`solver.time`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
from typing import Annotated, Any

from pydantic import PlainValidator, ValidationInfo

from twinkit.case import expressions, units
from twinkit.case.base import Q, _parse_quantity
from twinkit.case.units import clip

MAX_TABLE_BYTES = 10_000_000
MAX_ROWS = 100_000
VARIABLES = {"t": "s", "x": "m", "y": "m", "z": "m"}


def _read_table(
    spec: dict, unit: str, info: ValidationInfo, rule: str = "finite"
) -> tuple[tuple, tuple]:
    from twinkit.case.base import CaseError, rule_error
    from twinkit.case.paths import case_file_path

    extra = set(spec) - {"table", "time_unit", "unit"}
    if extra or not isinstance(spec.get("table"), str) or not isinstance(spec.get("unit"), str):
        raise ValueError(
            "a table is {table: FILE.csv, unit: UNIT of the values, time_unit: UNIT (default s)}"
            + (f"; unknown keys {sorted(map(str, extra))}" if extra else "")
        )
    case_path = (info.context or {}).get("case_path")
    if case_path is None:
        raise ValueError("a table is read relative to the case file; load the case from a file")
    try:
        path = case_file_path(case_path, spec["table"], "table")
    except CaseError as e:
        raise ValueError(str(e).split(": ", 2)[-1]) from None
    try:
        a_t, b_t = _affine(str(spec.get("time_unit", "s")), "s")
        a_v, b_v = _affine(spec["unit"], unit)
    except units.UnitError as e:
        raise ValueError(str(e)) from None
    if not path.is_file():
        raise ValueError(f"table file not found: {path}")
    data = path.read_bytes()[: MAX_TABLE_BYTES + 1]
    if len(data) > MAX_TABLE_BYTES:
        raise ValueError(f"{spec['table']}: over {MAX_TABLE_BYTES:,} bytes")
    times: list[float] = []
    values: list[float] = []
    text = data.decode("utf-8-sig", errors="replace")  # a spreadsheet's byte-order mark
    rows = csv.reader(io.StringIO(text, newline=""))
    header = True  # the first line that is not a comment may be a header
    for n in itertools.count(1):
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as e:  # a lone carriage return, a NUL byte
            raise ValueError(f"{spec['table']}, line {n}: not a CSV line ({e})") from None
        if not row or row[0].lstrip().startswith("#"):
            continue
        try:
            cells = [float(c) for c in row]
        except ValueError:
            cells = None
        if cells is None and header:
            header = False
            continue  # a header line
        header = False
        if cells is None or len(cells) != 2:
            raise ValueError(
                f"{spec['table']}, line {n}: expected two numbers (time, value), got {clip(row)}"
            )
        t, v = cells
        if not (math.isfinite(t) and math.isfinite(v)):
            raise ValueError(f"{spec['table']}, line {n}: not a finite number")
        if times and a_t * t + b_t <= times[-1]:
            raise ValueError(f"{spec['table']}, line {n}: the times must increase")
        problem = rule_error(rule, a_v * v + b_v, unit)  # a temperature below 0 K, ...
        if problem:
            raise ValueError(f"{spec['table']}, line {n}: {problem}")
        times.append(a_t * t + b_t)
        values.append(a_v * v + b_v)
        if len(times) > MAX_ROWS:
            raise ValueError(f"{spec['table']}: more than {MAX_ROWS} rows")
    if not times:
        raise ValueError(f"{spec['table']}: no (time, value) rows")
    return tuple(times), tuple(values)


def _affine(unit: str, target: str) -> tuple[float, float]:
    ab = units._affine(unit, target) if units.compatible(unit, target) else None
    if ab is None:
        raise units.UnitError(f"'{clip(unit)}' is not a unit compatible with {target}")
    return ab


def _parse_time_value(v: Any, info: ValidationInfo, unit: str, rule: str) -> Q:
    if isinstance(v, dict):
        times, values = _read_table(v, unit, info, rule)
        return Q(None, None, unit, f"table {v.get('table')}", rule=rule, table=(times, values))
    if not isinstance(v, str) or v.strip().lstrip("-").startswith("$"):
        return _parse_quantity(v, unit, rule)
    try:
        if not expressions.looks_like_expression(v):
            return _parse_quantity(v, unit, rule)  # '100 degC'
    except ValueError as plain:
        try:  # not a quantity: a formula ('300 K + 1 K/s * t'), whose names are checked later
            tree = expressions.parse(v)
        except expressions.ExpressionError:
            raise plain from None
        if not all(_is_unit(n) for n in expressions.names(tree)):
            return Q(None, None, unit, v, rule=rule, formula=True)
        raise  # a constant ('-300 degC'): what the quantity's reading said
    try:
        expressions.parse(v)
    except expressions.ExpressionError as e:
        raise ValueError(str(e)) from None
    return Q(None, None, unit, v, rule=rule, formula=True)


def _is_unit(name: str) -> bool:
    if name in expressions.CONSTANTS:
        return True
    try:
        expressions.unit_value(name)
    except KeyError:
        return False
    except expressions.ExpressionError:
        return True  # an offset unit (degC)
    return True


def time_quantity(unit: str, rule: str = "finite") -> PlainValidator:
    """Validator for a quantity that may also be a formula of t, x, y, z and parameters, or a
    table (see the module docstring)."""

    def validate(v: Any, info: ValidationInfo) -> Q:
        return _parse_time_value(v, info, unit, rule)

    return PlainValidator(validate)


def space_quantity(unit: str, rule: str = "finite") -> PlainValidator:
    """Validator for a quantity that may also be a formula of x, y, z and parameters (a material
    property or a prescribed temperature: not of t, not a table); its values over the mesh's
    bounding box are checked at `validate` (`twinkit.case.time_checks`)."""

    def validate(v: Any, info: ValidationInfo) -> Q:
        if isinstance(v, dict):
            raise ValueError("a table in time does not apply here; give a value or a formula")
        q = _parse_time_value(v, info, unit, rule)
        return dataclasses.replace(q, steady=True) if q.formula else q

    return PlainValidator(validate)


TimeTemperature = Annotated[Q, time_quantity("K", "absolute")]
