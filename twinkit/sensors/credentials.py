"""Credentials of a data source (an MQTT broker, an OPC UA server) from the environment, never
from the command line or a URL, where they would show in the process list."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from twinkit.case import CaseError

MAX_PASSWORD_BYTES = 4096
PIPE_SECONDS = 5.0  # a password given through a pipe: its writer's time to finish


def env_credentials(env: Mapping[str, str], prefix: str) -> tuple[str | None, str | None]:
    """(`PREFIX_USERNAME`, `PREFIX_PASSWORD`, else the content (stripped) of the file
    `PREFIX_PASSWORD_FILE` names); CaseError naming the variable when that file cannot be read."""
    password = env.get(f"{prefix}_PASSWORD")
    pw_file = env.get(f"{prefix}_PASSWORD_FILE")
    if password is None and pw_file:
        password = _read_secret(Path(pw_file), f"{prefix}_PASSWORD_FILE")
    return env.get(f"{prefix}_USERNAME"), password


def _read_secret(path: Path, key: str, wait: float = PIPE_SECONDS) -> str:
    """The stripped text of a password file: a regular file, or a pipe (`<(pass show mqtt)`)
    whose writer ends within `wait` seconds; at most `MAX_PASSWORD_BYTES`. CaseError naming `key`
    for anything else (a device such as /dev/zero, a pipe that never ends)."""
    import os
    import select
    import stat
    import time

    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise CaseError(f"{key}: '{path}' is not a regular file or a pipe")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise CaseError(f"{key}: cannot read it ({e.strerror})") from None
    data, deadline = b"", time.monotonic() + wait
    try:
        while len(data) <= MAX_PASSWORD_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise CaseError(f"{key}: '{path}' gave no end of its text within {wait:g} s")
            try:
                chunk = os.read(fd, MAX_PASSWORD_BYTES + 1 - len(data))
            except BlockingIOError:  # a pipe whose writer has not opened it yet
                time.sleep(0.01)
                continue
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_PASSWORD_BYTES:
        raise CaseError(f"{key}: over {MAX_PASSWORD_BYTES:,} bytes")
    return data.decode("utf-8", errors="replace").strip()
