"""The embedded default (``python3 run.py``) as an operator meets it.

* a port left in TIME-WAIT by the last run is not "taken": the embedded Redis keeps its port;
* ``flask …`` in another terminal reaches the running embedded Redis without REDIS_URL;
* Ctrl-C (SIGINT to the terminal's whole process group) stops the worker, then its Redis,
  without tracebacks; logs are text lines and there is no "production deployment" warning.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib

from app import devserver
from config import DevelopmentConfig
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def _leave_in_time_wait(port: int) -> None:
    """Serve one connection on ``port`` and close it from the server side first, which leaves
    the server's end in TIME-WAIT (about a minute on Linux), as a stopped redis-server does."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the active close: this side goes to TIME-WAIT
    time.sleep(0.1)
    client.close()
    listener.close()


def test_a_port_in_time_wait_is_free_for_the_embedded_redis(tmp_path: Path, monkeypatch) -> None:
    port = free_port()
    _leave_in_time_wait(port)
    plain = socket.socket()  # what the probe did before: a bind without SO_REUSEADDR fails here
    try:
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    finally:
        plain.close()
    assert devserver._port_free(port)

    monkeypatch.setenv("HALOPMI_REDIS_PORT", str(port))
    url, process = devserver.start_embedded_redis(tmp_path)
    try:
        assert url == f"redis://127.0.0.1:{port}/0"
    finally:
        devserver.stop_in_order([process])


def test_a_port_someone_listens_on_is_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert not devserver._port_free(listener.getsockname()[1])


def test_children_stop_last_started_first_each_gone_before_the_next(tmp_path: Path) -> None:
    log = tmp_path / "order"
    script = (
        "import signal, sys, time\n"
        "name = sys.argv[1]\n"
        "def stop(*_):\n"
        "    time.sleep(0.3)\n"
        f"    open({str(log)!r}, 'a').write(name + '\\n')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    children = []
    for name in ("redis", "worker"):
        child = subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE)  # noqa: S603
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        children.append(child)
    devserver.stop_in_order(children)
    assert log.read_text().split() == ["worker", "redis"]
    assert all(child.returncode == 0 for child in children)


def test_development_config_reads_the_embedded_redis_url(tmp_path: Path, monkeypatch) -> None:
    import config

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setattr(config, "EMBEDDED_REDIS_URL_FILE", tmp_path / "embedded-redis.url")
    assert DevelopmentConfig.REDIS_URL is None
    assert DevelopmentConfig.RATELIMIT_STORAGE_URI == "memory://"
    (tmp_path / "embedded-redis.url").write_text("redis://127.0.0.1:6390/0\n")
    assert DevelopmentConfig.REDIS_URL == "redis://127.0.0.1:6390/0"
    assert DevelopmentConfig.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6390/0"
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/1")  # an explicit setting wins
    assert DevelopmentConfig.REDIS_URL == "redis://elsewhere:6379/1"
    assert DevelopmentConfig.LOG_FORMAT == "text"


def _embedded_env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEST_", "HALOPMI_", "FLASK_")) and k not in (
               "REDIS_URL", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "LOG_FORMAT", "LOG_LEVEL")}
    env.update(HALOPMI_INSTANCE_DIR=str(instance), HALOPMI_REDIS_PORT=str(free_port()), PORT=str(free_port()),
               PYTHONUNBUFFERED="1")
    return env


@pytest.mark.slow
@pytest.mark.database_independent
def test_embedded_default_serves_flask_commands_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = _embedded_env(instance)
    output = tmp_path / "out.log"
    with output.open("wb") as sink:
        # A session of its own stands for the terminal: Ctrl-C there is SIGINT to the group.
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", "from app.devserver import main; main()"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while "halopmi is running at" not in output.read_text(errors="replace"):
            assert server.poll() is None, output.read_text(errors="replace")
            assert time.monotonic() < deadline, "the embedded default did not start:\n" + output.read_text()
            time.sleep(0.5)
        url_file = instance / "embedded-redis.url"
        redis_url = url_file.read_text().strip()
        assert redis_url == f"redis://127.0.0.1:{env['HALOPMI_REDIS_PORT']}/0"

        # Another terminal: no REDIS_URL, only the same instance directory.
        status = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "status"],
            cwd=ROOT, env={**env, "PORT": ""}, capture_output=True, text=True, timeout=120, check=False,
        )
        assert status.returncode == 0, status.stderr
        assert re.search(r"^queue default: \d+$", status.stdout, re.M), status.stdout

        time.sleep(2)  # the worker is in its loop
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    text = output.read_text(errors="replace")
    assert "Traceback" not in text, text
    assert "production" not in text.lower(), text
    assert not [line for line in text.splitlines() if line.startswith("{")], "JSON log lines:\n" + text
    assert "warm shut down requested" in text  # the worker was asked, and it finished
    assert not url_file.exists()
    with pytest.raises(redis_lib.ConnectionError):  # its Redis is gone too
        redis_lib.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
