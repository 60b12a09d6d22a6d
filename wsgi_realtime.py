"""Entry point of the realtime processes: the Socket.IO endpoint alone, on gevent.

    gunicorn -k gevent -w 1 --worker-connections 4000 -b 127.0.0.1:8101 wsgi_realtime:app

The web processes (``wsgi:app``, gunicorn gthread) answer pages, the API and Twilio's
webhooks; a console's WebSocket lives for hours, and under gthread it holds one of those threads
for its whole life (measured: with ``--threads 100`` the 101st console timed out and ``/healthz``
stopped answering). Here each socket is a greenlet: one process holds thousands of consoles.
The load balancer sends ``/socket.io/`` to these processes (README, "Production deployment");
events published by the web processes and the workers reach them through the Redis message
queue, as they always did between web processes.

The same app and configuration as the web processes (sessions, roles and rooms are decided by the
same ``/staff`` connect handler), with three differences:

* the standard library is monkey-patched before anything else is imported (gunicorn's gevent
  worker does it before loading this module; imported any other way, this module does it), so
  Redis, the message-queue listener and the console heartbeat yield instead of blocking;
* Socket.IO runs in ``gevent`` mode (background tasks are greenlets);
* everything but ``/socket.io/``, ``/healthz`` and ``/readyz`` is a 404: pages and webhooks
  belong to the web processes, and a request routed here by mistake shows at once.

The connect handler reads the database (the user, the agent's presence and languages). psycopg 3
waits cooperatively when it finds ``select`` patched at its import (psycopg ≥ 3.1.14); if it was
imported before the patch it would block every socket of the process during each query, so the
process refuses to start then.
"""

from __future__ import annotations

from gevent import monkey

if not monkey.is_module_patched("socket"):
    monkey.patch_all()

from collections.abc import Callable, Iterable  # noqa: E402 - after the monkey patch
from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from app import create_app  # noqa: E402

# Paths this process answers; /socket.io is the Socket.IO default path (Flask-SocketIO's).
REALTIME_PATHS = ("/socket.io/", "/socket.io", "/healthz", "/readyz")


class RealtimeOnly:
    """WSGI middleware: the Socket.IO endpoint and the health checks; 404 for the rest."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in REALTIME_PATHS or path.startswith("/socket.io/"):
            return self.wsgi_app(environ, start_response)
        body = b"Not found: this process serves /socket.io/ only (see README, Production deployment).\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


def _check_cooperative_database(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        return
    import psycopg.waiting

    if (
        getattr(psycopg.waiting, "wait_c", None) is not None
        and psycopg.waiting.wait is psycopg.waiting.wait_c
    ):
        raise RuntimeError(
            "psycopg was imported before gevent patched the standard library: every query would "
            "block all sockets of this process. Start it as `gunicorn -k gevent … wsgi_realtime:app` "
            "without --preload, and import nothing from the app in gunicorn's configuration file."
        )


def create_realtime_app() -> Flask:
    flask_app = create_app(SOCKETIO_ASYNC_MODE="gevent")
    _check_cooperative_database(flask_app.config["SQLALCHEMY_DATABASE_URI"])
    flask_app.wsgi_app = RealtimeOnly(flask_app.wsgi_app)  # type: ignore[method-assign]
    return flask_app


app = create_realtime_app()
