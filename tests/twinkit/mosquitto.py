"""A mosquitto broker for the live tests: 127.0.0.1, a free port, a temporary configuration."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinkit.sensors.mqtt import BrokerConfig

MOSQUITTO = "/usr/sbin/mosquitto"


class Broker:
    """mosquitto on 127.0.0.1 at a free port, with a temporary configuration."""

    def __init__(self, folder: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], **quiet)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    @property
    def cfg(self) -> BrokerConfig:
        return BrokerConfig("127.0.0.1", self.port)


def running_broker(folder: Path) -> Iterator[Broker]:
    """For a fixture: a started broker, killed afterwards; skips if mosquitto or paho is missing."""
    if not shutil.which(MOSQUITTO):
        pytest.skip("mosquitto is not installed")
    pytest.importorskip("paho.mqtt")
    b = Broker(folder)
    b.start()
    yield b
    b.kill()
