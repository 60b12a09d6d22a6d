"""Live servers for tests: the real app on a loopback port, in a thread or as OS processes.

* :class:`LiveServer` serves a Flask app (normally the test's own ``app`` fixture, so it shares
  the test database, Redis and Socket.IO channel) from a background thread with Werkzeug's
  threaded server, which is what ``socketio.run`` uses in threading mode (WebSocket included,
  through simple-websocket). Fixture: ``live_server``.
* :class:`ServerProcess` starts the app as a separate OS process (``python -m tests.live``) that
  reads ``TEST_DATABASE_URL``, ``REDIS_URL`` and ``SOCKETIO_CHANNEL`` from its environment, so
  several processes can share one Redis message queue as production web processes do.
  The process also reads JSON commands on stdin (``publish``), so a test can make *that*
  process emit through its own Socket.IO server, without adding a test-only route to the app.
* :func:`login_session` signs in over HTTP with ``requests`` (CSRF token from /login) and
  :class:`StaffSocket` connects a python-socketio client to ``/staff`` with that cookie.

Every wait here is bounded; failures say what was seen and include the server's log.

conftest.py is not the place for these (it is shared), so test modules import the fixtures:
``from tests.live import live_server  # noqa: F401``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis as redis_lib
import requests
import socketio as socketio_client
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import Auth
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
# Flask-Login's "strong" session protection binds the session to the User-Agent, so the HTTP
# login and the Socket.IO connection must send the same one (as a browser does).
USER_AGENT = "halopmi-tests/1.0"
STARTUP_TIMEOUT = 30.0
# A separate process imports the whole app before it listens: on a busy 2-core machine (CI
# runs Chromium and another server beside it) that has taken over 30 s. A live process is
# given this long; a process that exits fails at once, with its own output.
PROCESS_STARTUP_TIMEOUT = float(os.environ.get("HALOPMI_TEST_PROCESS_STARTUP_TIMEOUT") or 120)
_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_REPLY_PREFIX = "halopmi-live "
PASSWORD = Auth.password


def wait_until_healthy(
    base_url: str, timeout: float = STARTUP_TIMEOUT, alive: Callable[[], bool] = lambda: True
) -> None:
    """Poll ``/healthz`` until it answers 200; raise if ``alive()`` turns false or time runs out."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server at {base_url} stopped before answering /healthz")
        try:
            response = requests.get(base_url + "/healthz", timeout=5)
            if response.status_code == 200:
                return
            last_error = response.status_code
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"{base_url}/healthz did not answer within {timeout:.0f}s (last: {last_error!r})")


def staff_user(role: str = "agent", **kwargs: Any):  # type: ignore[no-untyped-def]
    """A committed staff user who can sign in through the real form with ``PASSWORD``.

    The address uses a real domain: the login form's ``Email()`` validator (email-validator)
    refuses special-use names such as ``example.test``, the factory's default.
    """
    from tests.factories import make_user

    kwargs.setdefault("email", f"{role}-{uuid.uuid4().hex[:8]}@example.com")
    return make_user(role=role, password=PASSWORD, **kwargs)


# --- in-thread server ----------------------------------------------------------------------


class LiveServer:
    """A Flask app served from a background thread on 127.0.0.1:<free port>."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = 0
        self.url = ""
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        # threaded=True is what socketio.run(app) does in threading mode; make_server (unlike
        # socketio.run) gives us a handle to shut the server down. Port 0: the OS picks a free one.
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"live-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        wait_until_healthy(self.url, alive=self._thread.is_alive)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            assert not self._thread.is_alive(), "live server thread did not stop"
            self._thread = None


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test's own app, served for real (same database, Redis and channel as the test)."""
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


# --- separate OS processes -----------------------------------------------------------------


class ServerProcess:
    """The app as a separate OS process (``python -m tests.live --port N``)."""

    def __init__(
        self,
        *,
        redis_url: str,
        channel: str,
        database_url: str | None = None,
        port: int | None = None,
        name: str = "server",
    ) -> None:
        from config import TestingConfig

        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis_url = redis_url
        self.channel = channel
        self.database_url = database_url or TestingConfig.SQLALCHEMY_DATABASE_URI
        self.process: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"halopmi-{name}-", suffix=".log", delete=False
        )
        self._replies: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._port_retries = 2

    def start(self) -> ServerProcess:
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> ServerProcess:
        """Start the process without waiting (to start several in parallel)."""
        env = dict(os.environ)
        env.pop("FLASK_RUN_FROM_CLI", None)  # app.run() would refuse to start under it
        env.update(
            TEST_DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SOCKETIO_CHANNEL=self.channel,
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.live", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._reader = threading.Thread(target=self._read_replies, name=f"{self.name}-stdout", daemon=True)
        self._reader.start()
        return self

    def wait_ready(self) -> ServerProcess:
        """Wait for /healthz; on failure stop the process and raise with its log."""
        started = time.monotonic()
        try:
            wait_until_healthy(
                self.url,
                timeout=PROCESS_STARTUP_TIMEOUT,
                alive=lambda: self.process is not None and self.process.poll() is None,
            )
        except Exception as exc:
            code = self.process.poll() if self.process is not None else None
            log = self.log()
            if code is not None and "Address already in use" in log and self._port_retries > 0:
                # free_port() closes its socket before the process binds: someone may take it.
                self._port_retries -= 1
                self.stop_process()
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
                return self.spawn().wait_ready()
            self.stop()
            state = "still running" if code is None else f"exited with {code}"
            raise RuntimeError(
                f"{self.name} did not start after {time.monotonic() - started:.1f}s ({state}): {exc}\n"
                f"--- {self.name}'s own output ---\n{log or '(nothing)'}"
            ) from exc
        return self

    def prime_message_queue(self, timeout: float = 10.0) -> None:
        """Open one Engine.IO session, which makes the server subscribe to the Redis channel.

        python-socketio subscribes lazily, on the first connection; until then messages that
        other processes publish are not seen by this one. See :func:`wait_for_subscribers`.
        """
        response = requests.get(f"{self.url}/socket.io/?EIO=4&transport=polling", timeout=timeout)
        assert response.status_code == 200, f"{self.name}: Engine.IO handshake {response.status_code}"

    def _read_replies(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(_REPLY_PREFIX):
                self._replies.put(line[len(_REPLY_PREFIX) :].strip())

    def command(self, op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Send one command to the process and return its JSON answer."""
        assert self.process is not None and self.process.stdin is not None, f"{self.name} not running"
        with self._lock:
            self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.process.stdin.flush()
            try:
                reply: dict[str, Any] = json.loads(self._replies.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"{self.name} did not answer {op!r} within {timeout}s\n--- log ---\n{self.log()}"
                ) from None
        assert reply.get("ok"), f"{self.name} failed {op!r}: {reply}\n--- log ---\n{self.log()}"
        return reply

    def publish(self, event: str, data: dict[str, Any], room: str) -> None:
        """Make this process publish (after a commit) through its own Socket.IO server."""
        self.command("publish", event=event, data=data, room=room)

    def log(self) -> str:
        try:
            return Path(self._log.name).read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        self.stop_process()
        if not self._log.closed:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)

    def stop_process(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            if self.process.stdin is not None:
                try:
                    self.process.stdin.close()
                except OSError:  # the pipe is broken: the process is gone anyway
                    pass
            if self._reader is not None:
                self._reader.join(timeout=5)  # ends at EOF on the dead process's stdout
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


class Gunicorn:
    """One gunicorn master with one worker, started as the README says."""

    def __init__(
        self, name: str, worker: list[str], target: str, env: dict[str, str], port: int | None = None
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix=f"halopmi-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
            [
                sys.executable,
                "-m",
                "gunicorn",
                *worker,
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                target,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        try:
            wait_until_healthy(self.url, PROCESS_STARTUP_TIMEOUT, alive=lambda: self.process.poll() is None)
        except Exception as exc:
            raise AssertionError(f"{self.name} did not start: {exc}\n{self.log()}") from exc

    def log(self) -> str:
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the master and its worker at once (a crash, an OOM kill): no handler runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def start_all(*processes: ServerProcess) -> None:
    """Start several server processes in parallel; if one fails, stop them all."""
    try:
        for process in processes:
            process.spawn()
        for process in processes:
            process.wait_ready()
    except BaseException:
        for process in processes:
            process.stop()
        raise


class WebProcesses(NamedTuple):
    a: ServerProcess
    b: ServerProcess
    channel: str


@pytest.fixture(scope="module")
def two_web_processes(redis_url: str, _schema: None) -> Iterator[WebProcesses]:
    """Two web processes sharing the session's Redis and a fresh Socket.IO channel, both
    already subscribed to it (so nothing a test publishes is lost to a late subscription)."""
    channel = f"halopmi-test-{uuid.uuid4().hex[:8]}"
    a = ServerProcess(redis_url=redis_url, channel=channel, name="web-a")
    b = ServerProcess(redis_url=redis_url, channel=channel, name="web-b")
    start_all(a, b)
    try:
        a.prime_message_queue()
        b.prime_message_queue()
        wait_for_subscribers(redis_url, channel, 2)
        yield WebProcesses(a, b, channel)
    finally:
        b.stop()
        a.stop()


def wait_for_subscribers(redis_url: str, channel: str, count: int, timeout: float = 10.0) -> int:
    """Wait until ``count`` Socket.IO servers listen on ``channel`` (PUBSUB NUMSUB).

    A server subscribes in a background thread when its first client connects; a message
    published before that is lost (Redis pub/sub is at-most-once), so tests wait for it.
    """
    connection = redis_lib.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout
        subscribers = 0
        while time.monotonic() < deadline:
            subscribers = int(dict(connection.pubsub_numsub(channel)).get(channel.encode(), 0))
            if subscribers >= count:
                return subscribers
            time.sleep(0.05)
        raise AssertionError(f"{subscribers} subscriber(s) on {channel!r} after {timeout}s, wanted {count}")
    finally:
        connection.close()


# --- HTTP login and Socket.IO client -------------------------------------------------------


def login_session(base_url: str, email: str, password: str, timeout: float = 10.0) -> requests.Session:
    """Sign in through the real form (CSRF token from /login); the session carries the cookie."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    page = session.get(base_url + "/login", timeout=timeout)
    match = _CSRF_INPUT.search(page.text)
    assert match, f"no CSRF token on {base_url}/login (status {page.status_code})"
    response = session.post(
        base_url + "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1)},
        allow_redirects=False,
        timeout=timeout,
    )
    if response.status_code != 302:
        errors = re.findall(r'class="error"[^>]*>([^<]*)<', response.text)
        raise AssertionError(f"login as {email} failed: {response.status_code} {errors}")
    assert session.cookies.get("session"), "no session cookie after login"
    return session


class StaffSocket:
    """A python-socketio client on ``/staff`` that records every event it receives."""

    namespace = "/staff"

    def __init__(
        self, base_url: str, session: requests.Session | None = None, transport: str = "websocket"
    ) -> None:
        self.base_url = base_url
        self.session = session
        self.transport = transport
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.sio = socketio_client.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=self.namespace)

    def _record(self, event: str, *args: Any) -> None:
        self.events.put((event, args[0] if len(args) == 1 else args))

    def connect(self, timeout: float = 10.0) -> StaffSocket:
        headers = {"User-Agent": USER_AGENT}
        if self.session is not None:
            headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        self.sio.connect(
            self.base_url,
            namespaces=[self.namespace],
            headers=headers,
            transports=[self.transport],
            wait_timeout=timeout,
        )
        return self

    def wait_for(
        self, event: str, timeout: float = 5.0, where: Callable[[Any], bool] = lambda data: True
    ) -> Any:
        """The data of the next ``event`` matching ``where``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event!r} within {timeout}s; received: {self.seen!r}")
            try:
                name, data = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append((name, data))
            if name == event and where(data):
                return data

    def received(self, event: str, within: float) -> list[Any]:
        """Every ``event`` that arrives in the next ``within`` seconds (to assert absence)."""
        found: list[Any] = []
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                name, data = self.events.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append((name, data))
            if name == event:
                found.append(data)
        return found

    def close(self) -> None:
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            # engine.io's disconnect sends its CLOSE packet, then websocket-client waits up to 3 s
            # for a close frame that the server, having closed on that packet, never sends: 3 s
            # of every teardown. The packet is what ends the session; do not wait for the frame.
            ws.close = functools.partial(ws.close, timeout=0.05)
        self.sio.shutdown()  # disconnects if connected; stops any reconnection attempt


@pytest.fixture
def staff_sockets() -> Iterator[Callable[..., StaffSocket]]:
    """A factory for connected :class:`StaffSocket` clients; all are closed at the end."""
    opened: list[StaffSocket] = []

    def connect(
        base_url: str, session: requests.Session | None = None, transport: str = "websocket"
    ) -> StaffSocket:
        client = StaffSocket(base_url, session, transport)
        opened.append(client)
        return client.connect()

    yield connect
    closers = [threading.Thread(target=client.close, daemon=True) for client in opened]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=15)


# --- the server process itself -------------------------------------------------------------


def _reply(stream: Any, **answer: Any) -> None:
    stream.write(_REPLY_PREFIX + json.dumps(answer) + "\n")
    stream.flush()


def _serve_commands(app: Flask, replies: Any) -> None:
    """Read JSON commands on stdin; answer on the real stdout (prefixed)."""
    from sqlalchemy import text

    from app.core import realtime
    from app.extensions import db

    for line in sys.stdin:  # ends when the test process closes the pipe, or dies
        try:
            command = json.loads(line)
            if command["op"] == "publish":
                with app.app_context():
                    # The production path: publish inside a transaction, emit after commit.
                    db.session.execute(text("SELECT 1"))
                    realtime.publish(command["event"], command["data"], command["room"])
                    db.session.commit()
                _reply(replies, ok=True)
            else:
                _reply(replies, ok=False, error=f"unknown op {command['op']!r}")
        except Exception as exc:  # noqa: BLE001 - report to the test instead of dying
            _reply(replies, ok=False, error=repr(exc))
    # No orphans: a test run that was killed must not leave servers behind.
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="halopmi test server process")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    from app import create_app
    from app.extensions import socketio
    from config import TestingConfig
    from tests.conftest import shifted_clock

    traveller = shifted_clock()
    if traveller is not None:  # the same moved clock as the test process that started us
        traveller.start()

    # Flask prints its banner on stdout; keep stdout for command replies only.
    replies = sys.stdout
    sys.stdout = sys.stderr
    app = create_app(
        TestingConfig,
        REDIS_URL=os.environ["REDIS_URL"],
        SOCKETIO_CHANNEL=os.environ["SOCKETIO_CHANNEL"],
    )
    threading.Thread(target=_serve_commands, args=(app, replies), name="commands", daemon=True).start()
    socketio.run(
        app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False
    )


if __name__ == "__main__":
    main()
