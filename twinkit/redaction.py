"""Secrets kept out of messages: the passwords and tokens a database URL may hold (an Optuna
study's `--storage`, the live twin's `--history`), shown as *** in every message and file."""

from __future__ import annotations

import re

# names of query-string or libpq keyword parameters, and of keys, that hold a secret
_SECRET_NAMES = r"password|passwd|pwd|pass|sslpassword|secret|token|api_?key|key"
_SECRET = re.compile(
    rf"""(?ix)((?:^|[?&;\s])(?:{_SECRET_NAMES})\s*=\s*)
    ('[^']*'|"[^"]*"|[^&;\s]*)"""
)
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*://")
# the same parameters in a message, whose value ends where the quoted text around it does
_SECRET_IN_TEXT = re.compile(
    _SECRET.pattern.replace(r"[^&;\s]*", r"""[^&;\s'",)}\]]*"""), re.I | re.X
)
# a secret as a mapping's entry quoted back ('password': 'hunter2', password: hunter2)
_SECRET_ENTRY = re.compile(
    r"""(?i)((?:^|[\s{,(\[])['"]?(?:password|passwd|pwd|sslpassword|secret|token|api_?key)['"]?"""
    r"""\s*:\s*['"]?)(?!(?:unknown|required) key\b)([^'",}\]\s]+)"""
)  # not a message about the key itself ('password: unknown key')
# `scheme://user:password@` anywhere in a text; the password runs to the last '@' on its line:
# a password may hold '@', quotes and spaces (a careless one: they should be %-encoded), and
# redacting too much of a line is safe where too little is not
_URL_PASSWORD = re.compile(r"""(?i)\b([a-z][\w+.-]*://[^\s:/@'"]*:)([^\n]*)(@)""")
_SECRET_KEY = re.compile(rf"(?i)^(?:{_SECRET_NAMES})$")


def names_secret(loc: tuple) -> bool:
    """Whether a validation error's location ends at a key that names a secret (password:,
    token: ...): its value is quoted back as ***."""
    return bool(loc) and _SECRET_KEY.match(str(loc[-1])) is not None


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """(before the password, the password, from the '@' on) of `user:password@host...`, with or
    without a scheme; None without a password. The last '@' ends it: a password may hold '@'."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    at = url.rfind("@", start)
    colon = url.find(":", start, at)
    if at < 0 or colon < 0 or "/" in url[start:colon]:
        return None
    return url[: colon + 1], url[colon + 1 : at], url[at:]


def secrets(url: str) -> list[str]:
    """The passwords and other secrets written in a storage URL."""
    found = [m.group(2).strip("'\"") for m in _SECRET.finditer(url)]
    parts = _userinfo(url)
    if parts is not None:
        found.append(parts[1])
    return [f for f in found if f]


def redact(url: str) -> str:
    """`url` with every secret in it shown as ***: the password of `user:password@host`
    (with or without a scheme) and parameters such as `?password=`, `sslpassword=`, `token=`."""
    out = _SECRET.sub(lambda m: m.group(1) + "***", url)
    parts = _userinfo(out)
    if parts is not None and parts[1]:
        out = parts[0] + "***" + parts[2]
    return out


def redact_text(text: str, url: str) -> str:
    """`text` (an error message) with `url` and every secret of it redacted, also the pieces of
    a secret that a URL parser may have split it into at ':', '@' or '/'."""
    text = text.replace(url, redact(url))
    pieces = {p for s in secrets(url) for p in [s, *re.split(r"[:@/]", s)] if len(p) >= 3}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


def redact_all(text: str) -> str:
    """``text`` (a message that may quote what a user wrote: a webhook, a database URL) with the
    password of every ``scheme://user:password@`` in it, every ``password=``-style parameter and
    every ``password: ...`` entry shown as ***. Redact before cutting a value short: a cut
    before the '@' leaves a password no pattern can tell from text."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), text)
    text = _SECRET_ENTRY.sub(lambda m: m.group(1) + "***", text)
    return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + "***", text)
