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


class PostgresServer:
    """A throw-away PostgreSQL server on 127.0.0.1 with a database `studies` (run as user
    postgres when the tests run as root: the server refuses root). Its folder is outside
    pytest's tmp, which only root may enter. `stop` and `start` restart it on the same port."""

    def __init__(self) -> None:
        import tempfile

        assert PG_BIN is not None
        self.root = Path(tempfile.mkdtemp(prefix="twinkit-pg-"))
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            for p in (self.root, self.sock):
                shutil.chown(p, "postgres")
        self.run(PG_BIN / "initdb", "-D", self.data, "-U", "twinkit", "--auth=trust", "-E", "UTF8")
        self.port = _free_port()
        self.url = f"postgresql://twinkit@127.0.0.1:{self.port}/studies"
        self.server: subprocess.Popen | None = None
        self.start()
        self.run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "twinkit",
                 "studies")  # fmt: skip

    def run(self, *args: object) -> None:
        r = subprocess.run([*self.prefix, *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self) -> None:
        assert PG_BIN is not None
        cmd = [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
               "-k", str(self.sock), "-h", "127.0.0.1"]  # fmt: skip
        self.server = subprocess.Popen([*self.prefix, *cmd], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
        for _ in range(150):
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start")

    def stop(self) -> None:
        """A fast shutdown (open connections are closed), waiting until the server is gone."""
        if self.server is not None:
            assert PG_BIN is not None
            self.run(PG_BIN / "pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w")
            self.server.wait(timeout=30)
            self.server = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    if PG_BIN is None:
        pytest.skip("PostgreSQL binaries (initdb, postgres) not found")
    server = PostgresServer()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres(postgres_server: PostgresServer) -> str:
    """The URL of a throw-away PostgreSQL database (`PostgresServer`)."""
    return postgres_server.url
