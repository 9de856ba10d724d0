"""What one reading may cost: the size and nesting of an MQTT payload and the unit string.

A payload is refused before it is parsed when it is larger than `MAX_PAYLOAD` or nests deeper
than `MAX_DEPTH`; a unit longer than `MAX_UNIT` characters, or with an exponent other than a
small number (pint would compute `K**9**9**9` exactly, for hours), before pint sees it. Each
check answers with the reason the validator counts and a short detail for the log.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_PAYLOAD = 64 * 1024  # bytes
MAX_DEPTH = 32  # nested JSON objects and arrays
MAX_UNIT = 64  # characters
MAX_DETAIL = 80  # characters of an offending value in the log

_SPECIAL = re.compile(r'[][{}"\\]')
# `**` or `^` followed by a small number (e.g. m^2, m**-1, s^(0.5)) and no further power
_SMALL_POWER = re.compile(
    r"(\*\*|\^)\s*\(?\s*[-+]?\s*\d{1,2}(\.\d{1,3})?\s*\)?(?![\w.]|\s*(\*\*|\^))"
)


def short(x: Any) -> str:
    """`repr(x)`, truncated (safe for any JSON value within `MAX_DEPTH`)."""
    text = repr(x)
    return text if len(text) <= MAX_DETAIL else f"{text[:MAX_DETAIL]}... ({len(text)} chars)"


def decode(payload: bytes) -> tuple[Any, str | None, str]:
    """The JSON document of a payload, or (None, reason, detail) when it is refused."""
    if len(payload) > MAX_PAYLOAD:
        return None, "too_large", f"{len(payload)} bytes > {MAX_PAYLOAD}"
    try:
        text = payload.decode(json.detect_encoding(payload))
    except (UnicodeDecodeError, LookupError):
        return None, "malformed_json", short(payload[:MAX_DETAIL])
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        return None, "too_deep", f"JSON nested deeper than {MAX_DEPTH}"
    try:
        return json.loads(text), None, ""
    except (ValueError, RecursionError):
        return None, "malformed_json", short(payload[:MAX_DETAIL])


def _depth(text: str) -> int:
    """Deepest nesting of [] and {} outside strings; one pass over the special characters."""
    depth = deepest = 0
    in_string, escaped = False, -1  # escaped: the position a backslash escapes
    for m in _SPECIAL.finditer(text):
        c, p = m.group(), m.start()
        if in_string:
            if p == escaped:
                continue
            if c == "\\":
                escaped = p + 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def unit_problem(unit: str) -> str | None:
    """Why a unit string is refused before parsing, or None."""
    if len(unit) > MAX_UNIT:
        return f"{len(unit)} characters > {MAX_UNIT}"
    if "**" in unit or "^" in unit:
        rest = _SMALL_POWER.sub("", unit)
        if "**" in rest or "^" in rest:
            return f"{short(unit)}: powers must be small numbers"
    return None
