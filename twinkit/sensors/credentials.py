"""Credentials of a data source (an MQTT broker, an OPC UA server) from the environment, never
from the command line or a URL, where they would show in the process list."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from twinkit.case import CaseError


def env_credentials(env: Mapping[str, str], prefix: str) -> tuple[str | None, str | None]:
    """(`PREFIX_USERNAME`, `PREFIX_PASSWORD`, else the content (stripped) of the file
    `PREFIX_PASSWORD_FILE` names); CaseError naming the variable when that file cannot be read."""
    password = env.get(f"{prefix}_PASSWORD")
    pw_file = env.get(f"{prefix}_PASSWORD_FILE")
    if password is None and pw_file:
        try:
            password = Path(pw_file).read_text().strip()
        except OSError as e:
            raise CaseError(f"{prefix}_PASSWORD_FILE: cannot read it ({e.strerror})") from None
    return env.get(f"{prefix}_USERNAME"), password
