"""The process of ``flask jobs worker``: rq's work loop beside the periodic jobs (:func:`serve`).

The periodic jobs (``app/schedule.py``) run in threads of this process on
:class:`app.core.scheduler.Scheduler`; rq runs the outbox's jobs. The rq worker rides out a Redis
outage and takes its children along:

rq's ``Worker.work()`` retries a lost connection only while it waits for a job; an error anywhere
else in its loop (maintenance, heartbeat, a Redis timeout) makes it log "unhandled exception,
quitting" and return. On a production-like server the whole worker then exited 0.8 s after
Redis stopped, and with it the outbox dispatcher and every housekeeping loop. Here the work loop
is started again once Redis answers (waiting with capped exponential back-off), while the
periodic jobs in their threads go on; only a stop asked for (signal, burst mode done) ends it.

rq's scheduler of delayed jobs is a forked child: a ``kill -9`` of the worker used to
leave its scheduler running alone. Children forked here ask the kernel to end them when their
parent dies (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from app.core.jobs import redis_connection
from app.core.realtime import use_write_only_emitter
from app.core.scheduler import Clock, Scheduler
from app.extensions import db

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
MAX_BACKOFF_SECONDS = 30.0


def die_with_parent() -> None:
    """In a forked child: receive SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    except OSError:  # no libc to ask: the child outlives its parent, as it did before
        log.warning("could not tie a forked child to its parent's life")


_tied = False


def _tie_children_to_this_process() -> None:
    global _tied
    if not _tied:
        os.register_at_fork(after_in_child=die_with_parent)
        _tied = True


def _shutdown_requested(worker: BaseWorker) -> bool:
    """rq's own record of a SIGINT/SIGTERM (warm shutdown), whether it came idle or busy."""
    return bool(getattr(worker, "_shutdown_requested_date", None) or getattr(worker, "_stop_requested", False))


def wait_for_redis(connection: Redis, stop: threading.Event, max_backoff: float = MAX_BACKOFF_SECONDS) -> bool:
    """Ping until Redis answers (1 s, 2 s, 4 s … at most ``max_backoff``); False if stopped."""
    delay = 1.0
    while not stop.is_set():
        try:
            connection.ping()
            return True
        except RedisError as exc:
            log.warning("Redis unavailable (%s); the worker tries again in %.0f s", exc, delay)
        stop.wait(delay)
        delay = min(delay * 2, max_backoff)
    return False


def run(
    connection: Redis,
    queue_names: Sequence[str],
    *,
    burst: bool = False,
    stop: threading.Event | None = None,
    worker_class: type[BaseWorker] = Worker,
    max_backoff: float = MAX_BACKOFF_SECONDS,
) -> None:
    """Work the queues until asked to stop, starting rq's work loop again after a Redis outage."""
    stop = stop or threading.Event()
    _tie_children_to_this_process()
    while not stop.is_set():
        if not wait_for_redis(connection, stop, max_backoff):
            return
        worker = worker_class([Queue(name, connection=connection) for name in queue_names], connection=connection)
        try:
            worker.work(burst=burst, with_scheduler=True)  # its teardown stops its scheduler
        except RedisError as exc:  # raised past rq's own handlers (registering, teardown)
            log.warning("rq worker lost Redis: %s; starting again once it answers", exc)
            continue
        if burst or _shutdown_requested(worker):
            return
        # rq returned on its own: an error it could not ride out (it logged it). Start again.
        log.warning("rq worker %s stopped unexpectedly; starting again once Redis answers", worker.name)


def _fork_between_runs(scheduler: Scheduler) -> None:
    """Every fork of this process (rq's work horses, its scheduler of delayed jobs) waits until
    no periodic job is running and none starts before the fork is done (Scheduler.pause)."""
    ref = weakref.ref(scheduler)

    def before() -> None:
        if (alive := ref()) is not None:
            alive.pause()

    def after_in_parent() -> None:
        if (alive := ref()) is not None:
            alive.resume()

    os.register_at_fork(before=before, after_in_parent=after_in_parent)


def serve(
    app: Flask,
    queue_names: Sequence[str],
    *,
    burst: bool = False,
    without: Iterable[str] = (),
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    on_started: Callable[[Scheduler], None] | None = None,
) -> None:
    """``flask jobs worker``: the periodic jobs (all but ``without``) in threads, and rq's work
    loop here until asked to stop (a signal, ``stop``, or ``burst`` with the queues empty)."""
    stop = stop or threading.Event()
    use_write_only_emitter(app)
    with app.app_context():
        engine = db.engine
    # The work horse is a fork: it must not share the parent's pooled connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    connection = redis_connection(app)
    scheduler = Scheduler(app, clock=clock, stop=stop)
    _fork_between_runs(scheduler)
    scheduler.start(without=without)
    if on_started is not None:
        on_started(scheduler)
    # Jobs run in this process, one at a time (rq's SimpleWorker), on every database. rq's
    # default forks a work horse per job: on PostgreSQL that capped one worker at ~4 jobs a
    # second (a fork of a ~150 MB process, a new database connection, the app context), and in
    # a crisis burst (bench/bench_burst.py) an agent's accept waited p50 6 s, p99 172 s for the
    # job that moves the caller to her. SQLite could not fork at all: a work horse forked while a
    # periodic job was inside a transaction inherits a file lock nobody holds. What the fork
    # bought (a crashed job does not take the worker down) the outbox already gives: a killed
    # worker's intent runs again (recover_abandoned, recover_lost).
    worker_class = SimpleWorker
    try:
        run(connection, queue_names, burst=burst, stop=stop, worker_class=worker_class)
    finally:
        scheduler.stop()
