"""Which Socket.IO async mode each kind of process runs.

gevent is installed for the realtime processes (``wsgi_realtime.py``); python-engineio, left to
choose, would take it everywhere, also where the standard library is not monkey-patched. So the
web processes, the embedded default and the workers' write-only emitter say ``threading``.
"""

from __future__ import annotations

from app.core import realtime
from app.extensions import socketio


def test_web_processes_run_socketio_in_threading_mode(app):
    assert app.config["SOCKETIO_ASYNC_MODE"] == "threading"
    assert socketio.server is not None and socketio.server.async_mode == "threading"


def test_the_workers_write_only_emitter_stays_in_threading_mode(app):
    realtime.use_write_only_emitter(app)
    emitter = app.extensions[realtime._EMITTER_KEY]
    assert emitter.server.async_mode == "threading"
    assert emitter.server.eio.async_mode == "threading"
