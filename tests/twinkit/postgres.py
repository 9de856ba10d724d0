"""A throw-away PostgreSQL server for the tests that need one (an optimisation study shared by
workers, the live twin's history): the `postgres` fixture yields its URL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = next(
    (
        Path(p)
        for p in ("/usr/lib/postgresql/15/bin", "/usr/local/bin")
        if (Path(p) / "initdb").exists()
    ),
    None,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 (as user postgres when the tests run as root:
    the server refuses root). Its folder is outside pytest's tmp, which only root may enter."""
    import tempfile

    if PG_BIN is None:
        pytest.skip("PostgreSQL binaries (initdb, postgres) not found")
    root = Path(tempfile.mkdtemp(prefix="twinkit-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        for p in (root, sock):
            shutil.chown(p, "postgres")

    def run(*args) -> None:
        r = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr

    run(PG_BIN / "initdb", "-D", data, "-U", "twinkit", "--auth=trust", "-E", "UTF8")
    port = _free_port()
    server = subprocess.Popen(
        [
            *prefix,
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sock),
            "-h",
            "127.0.0.1",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "twinkit", "studies")
        yield f"postgresql://twinkit@127.0.0.1:{port}/studies"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
