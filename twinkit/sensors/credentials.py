"""Credentials of a data source (an MQTT broker, an OPC UA server) from the environment, never
from the command line or a URL, where they would show in the process list."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from twinkit.case import CaseError

MAX_PASSWORD_BYTES = 4096


def env_credentials(env: Mapping[str, str], prefix: str) -> tuple[str | None, str | None]:
    """(`PREFIX_USERNAME`, `PREFIX_PASSWORD`, else the content (stripped) of the file
    `PREFIX_PASSWORD_FILE` names); CaseError naming the variable when that file cannot be read."""
    password = env.get(f"{prefix}_PASSWORD")
    pw_file = env.get(f"{prefix}_PASSWORD_FILE")
    if password is None and pw_file:
        path = Path(pw_file)
        try:
            if not path.is_file():  # a FIFO would block, /dev/zero never end
                raise CaseError(f"{prefix}_PASSWORD_FILE: '{pw_file}' is not a regular file")
            with path.open("rb") as f:
                data = f.read(MAX_PASSWORD_BYTES + 1)
        except OSError as e:
            raise CaseError(f"{prefix}_PASSWORD_FILE: cannot read it ({e.strerror})") from None
        if len(data) > MAX_PASSWORD_BYTES:
            raise CaseError(f"{prefix}_PASSWORD_FILE: over {MAX_PASSWORD_BYTES:,} bytes")
        password = data.decode("utf-8", errors="replace").strip()
    return env.get(f"{prefix}_USERNAME"), password
