"""The outbox's way to the workers: the dispatcher moves recorded intents into rq
(:func:`dispatch_pending`, the periodic :class:`OutboxDispatcher`), and recovery takes back the
runs that Redis or a dead worker lost (:func:`recover_lost`, :func:`recover_abandoned`, the
periodic :func:`outbox_recovery`). Recording an intent and running it: :mod:`app.core.jobs`.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import select, update

from app.core.jobs import (
    DISPATCHED,
    DONE,
    FAILED,
    PENDING,
    QUEUES,
    RUNNING,
    OutboxIntent,
    job_id_for,
    redis_connection,
    run_intent,
    updated_rows,
)
from app.core.time import utcnow
from app.extensions import db

log = logging.getLogger(__name__)

# Deliveries of one intent after which a run that died with its worker is not retried: the
# intent is marked failed (flask jobs requeue-failed gives it another round).
MAX_DISPATCHES = 10
# rq retries a failing job this often, this far apart (the intervals need a worker with the scheduler).
DEFAULT_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])
# One recovery pass at a time, across threads, processes and hosts (see _one_pass_at_a_time).
RECOVERY_LOCK = "halopmi:outbox:recovery"
RECOVERY_LOCK_SECONDS = 120  # a pass that died holding it blocks the others this long at most
RECOVERY_LOCK_WAIT_SECONDS = 30.0  # a pass waits this long for the one under way, then skips


def _lock_for_dispatch(stmt):
    # Several dispatchers may run (one per worker process): on PostgreSQL each takes rows the
    # others have not locked. SQLite has a single writer, so there is nothing to skip.
    if db.engine.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def enqueue(intent_id: int, queue_name: str, run_after: datetime | None, connection: Redis) -> None:
    queue = Queue(queue_name, connection=connection)
    kwargs: dict[str, Any] = {
        "args": (intent_id,),
        "job_id": job_id_for(intent_id),
        "retry": DEFAULT_RETRY,
        "description": f"outbox intent {intent_id}",
        "failure_ttl": 30 * 24 * 3600,
    }
    if run_after and run_after > utcnow():
        queue.enqueue_at(run_after, run_intent, **kwargs)
    else:
        queue.enqueue_call(run_intent, **kwargs)


def dispatch_pending(connection: Redis, limit: int = 200) -> int:
    """Move pending intents into rq. Returns how many were enqueued; Redis errors leave them pending.

    Each intent is claimed with a conditional UPDATE (``pending`` → ``dispatched``) *before* it
    is enqueued, so the dispatcher's bookkeeping can never overwrite the ``done`` a fast worker
    wrote, and a second dispatcher that read the same rows (SQLite has no row locks) finds
    nothing left to claim. On PostgreSQL the rows are also locked with SKIP LOCKED so that
    concurrent dispatchers split the work instead of queueing behind each other.
    """
    stmt = (
        select(OutboxIntent.id, OutboxIntent.queue, OutboxIntent.run_after)
        .where(OutboxIntent.status == PENDING)
        .order_by(OutboxIntent.id)
        .limit(limit)
    )
    rows = db.session.execute(_lock_for_dispatch(stmt)).all()
    sent = 0
    for intent_id, queue, run_after in rows:
        claimed = updated_rows(
            update(OutboxIntent)
            .where(OutboxIntent.id == intent_id, OutboxIntent.status == PENDING)
            .values(
                status=DISPATCHED,
                dispatched_at=utcnow(),
                dispatch_count=OutboxIntent.dispatch_count + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if not claimed:
            continue
        try:
            enqueue(intent_id, queue, run_after, connection)
        except RedisError as exc:
            # Give this one back; the ones already enqueued stay dispatched.
            db.session.execute(
                update(OutboxIntent)
                .where(OutboxIntent.id == intent_id, OutboxIntent.status == DISPATCHED)
                .values(
                    status=PENDING,
                    dispatched_at=None,
                    dispatch_count=OutboxIntent.dispatch_count - 1,
                )
                .execution_options(synchronize_session=False)
            )
            log.warning("outbox dispatch paused, Redis unavailable: %s", exc)
            break
        sent += 1
    db.session.commit()
    return sent


def _process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: it exists
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:  # no /proc (not Linux): it answered the signal, so it runs
        return False


def _holder_is_dead(job: Job, connection: Redis) -> bool:
    """Whether the rq worker that started ``job`` is dead: its registration expired (it stopped
    beating), or it ran on this host and its process is gone (a ``kill -9``, an OOM kill).
    A worker on another host that still beats counts as alive."""
    if not job.worker_name:
        return False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection)
    if worker is None:
        return True
    try:
        pid = int(worker.pid or 0)
    except (TypeError, ValueError):
        return False
    if pid <= 0 or worker.hostname != socket.gethostname():
        return False
    return pid != os.getpid() and _process_gone(pid)


def _run_lost(job: Job | None, connection: Redis) -> bool:
    """Whether an intent that is neither done nor failed lost its rq job: it vanished (Redis
    restarted without its data), rq gave up on it without our job having recorded a failure
    (an abandoned job whose worker died), or the worker that started it is dead."""
    if job is None:
        return True
    status = job.get_status(refresh=False)
    if status in (JobStatus.FAILED, JobStatus.STOPPED):
        return True
    return status == JobStatus.STARTED and _holder_is_dead(job, connection)


def _fetch_job(intent_id: int, connection: Redis) -> Job | None:
    try:
        return Job.fetch(job_id_for(intent_id), connection=connection)
    except NoSuchJobError:
        return None


def _forget_job(job: Job, connection: Redis) -> None:
    """Take a dead run's job out of rq's registries and delete it, so that rq's own clean-up
    does not run it again beside the new one.

    The dead run's ``<job id>:<execution id>`` entries in the started registry go first, in
    every case: the job that replaces it has the same id, and rq's clean-up must not take the new
    one for the abandoned one. Callers hold the recovery lock (:func:`_one_pass_at_a_time`): a
    second pass holding the same dead ``Job`` would delete the job just enqueued in its place."""
    started = StartedJobRegistry(job.origin, connection=connection)
    entries = cast("list[bytes]", connection.zrange(started.key, 0, -1))
    stale = [e for e in entries if e.decode() == job.id or e.decode().startswith(f"{job.id}:")]
    if stale:
        connection.zrem(started.key, *stale)
    try:
        job.delete()
        return
    except (ValueError, InvalidJobOperation):  # rq 2.x: an execution record that expired
        pass  # before the job's, or a job hash without its status (CI: the recovery pass raised)
    job.failed_job_registry.remove(job)
    connection.delete(job.key)


def _enqueue_again(
    intent_id: int, queue: str, run_after: datetime | None, job: Job | None, connection: Redis
) -> bool:
    """Enqueue a lost run's intent again (False: given up, marked failed)."""
    if job is not None:
        _forget_job(job, connection)
        runs = db.session.scalar(select(OutboxIntent.dispatch_count).where(OutboxIntent.id == intent_id)) or 0
        if runs >= MAX_DISPATCHES:
            # A job that kills its worker every time (memory, a native crash) is not run for ever.
            log.error("outbox intent %s: dispatched %s times, its runs died; marked failed", intent_id, runs)
            db.session.execute(
                update(OutboxIntent)
                .where(OutboxIntent.id == intent_id, OutboxIntent.status != DONE)
                .values(status=FAILED, last_error=f"dispatched {runs} times; its runs died with their worker")
                .execution_options(synchronize_session=False)
            )
            return False
    enqueue(intent_id, queue, run_after, connection)
    # Only bookkeeping columns: a worker may have finished it meanwhile (status stays).
    db.session.execute(
        update(OutboxIntent)
        .where(OutboxIntent.id == intent_id)
        .values(dispatched_at=utcnow(), dispatch_count=OutboxIntent.dispatch_count + 1)
        .execution_options(synchronize_session=False)
    )
    return True


@contextmanager
def _one_pass_at_a_time(connection: Redis) -> Iterator[bool]:
    """Hold the recovery lock (a Redis lock, so it spans processes and hosts) for one pass;
    yields False if another pass held it for ``RECOVERY_LOCK_WAIT_SECONDS`` (this one skips:
    the other does the work, and the next period comes).

    Passes must not overlap: a worker starting runs two (the dispatcher's first pass and the
    job ``outbox-recovery``), every worker process runs its own, and two passes that both saw a
    dead run re-enqueued it twice, or one deleted the job the other had just enqueued under the
    same id, so the intent never ran (CI: ``tests/core/test_worker_crash.py``)."""
    lock = connection.lock(
        RECOVERY_LOCK, timeout=RECOVERY_LOCK_SECONDS, blocking_timeout=RECOVERY_LOCK_WAIT_SECONDS
    )
    if not lock.acquire():
        log.info("outbox recovery: another pass is under way; skipping this one")
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except LockError:  # it outlived RECOVERY_LOCK_SECONDS; another pass may have begun
            log.warning("outbox recovery: the pass outlasted its lock (%s s)", RECOVERY_LOCK_SECONDS)
        except RedisError:  # Redis went away: the lock expires by itself
            pass


def _committed(recovery: Callable[[], int]) -> int:
    """Run a recovery pass and commit its bookkeeping inside the lock (the next pass must see
    it); if Redis goes away midway, what was re-enqueued before keeps its bookkeeping too."""
    try:
        recovered = recovery()
    except RedisError:
        db.session.commit()
        raise
    db.session.commit()
    return recovered


def recover_lost(connection: Redis, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue intents dispatched more than ``older_than`` ago that are still ``dispatched``
    or ``running`` and whose rq job was lost (:func:`_run_lost`). One pass at a time."""
    recovered = 0
    try:
        with _one_pass_at_a_time(connection) as mine:
            if mine:
                recovered = _committed(lambda: _recover_lost(connection, older_than))
    except RedisError as exc:
        db.session.rollback()
        log.warning("outbox recovery paused, Redis unavailable: %s", exc)
    return recovered


def _recover_lost(connection: Redis, older_than: timedelta) -> int:
    cutoff = utcnow() - older_than
    stmt = (
        select(OutboxIntent.id, OutboxIntent.queue, OutboxIntent.run_after)
        .where(OutboxIntent.status.in_((DISPATCHED, RUNNING)), OutboxIntent.dispatched_at < cutoff)
        .order_by(OutboxIntent.id)
        .limit(500)
    )
    recovered = 0
    for intent_id, queue, run_after in db.session.execute(_lock_for_dispatch(stmt)).all():
        job = _fetch_job(intent_id, connection)
        if not _run_lost(job, connection):
            continue
        if job is not None:
            log.warning("outbox intent %s: its run died with its worker; running it again", intent_id)
        recovered += _enqueue_again(intent_id, queue, run_after, job, connection)
    return recovered


def recover_abandoned(connection: Redis) -> int:
    """Re-enqueue at once the intents whose rq job a dead worker had started (whatever their
    age): run when a worker starts, so one restarted after a crash takes back what its dead
    predecessor on this host held, instead of after rq's heartbeat time-out and clean-up.
    One pass at a time."""
    recovered = 0
    try:
        with _one_pass_at_a_time(connection) as mine:
            if mine:
                recovered = _committed(lambda: _recover_abandoned(connection))
    except RedisError as exc:
        db.session.rollback()
        log.warning("outbox recovery paused, Redis unavailable: %s", exc)
    return recovered


def _recover_abandoned(connection: Redis) -> int:
    recovered = 0
    for name in QUEUES:
        registry = StartedJobRegistry(name, connection=connection)
        for job_id in registry.get_job_ids(cleanup=False):
            if not job_id.startswith("intent-"):
                continue
            intent_id = int(job_id.removeprefix("intent-"))
            job = _fetch_job(intent_id, connection)
            if job is None or not _holder_is_dead(job, connection):
                continue
            row = db.session.execute(
                _lock_for_dispatch(
                    select(OutboxIntent.queue, OutboxIntent.run_after).where(
                        OutboxIntent.id == intent_id, OutboxIntent.status.in_((DISPATCHED, RUNNING))
                    )
                )
            ).first()
            if row is None:
                status = db.session.scalar(select(OutboxIntent.status).where(OutboxIntent.id == intent_id))
                if status in (DISPATCHED, RUNNING):
                    continue  # locked by another transaction (SKIP LOCKED): not ours to judge now
                _forget_job(job, connection)  # done or failed on our side: only rq's record was left
                continue
            log.warning(
                "outbox intent %s: its worker %s died mid-run; running it again",
                intent_id,
                job.worker_name,
            )
            recovered += _enqueue_again(intent_id, row.queue, row.run_after, job, connection)
    return recovered


def redis_run_id(connection: Redis) -> str | None:
    """The Redis server's ``run_id``: it changes when the server restarts (and may have lost
    what it held), or None while it cannot be reached."""
    try:
        return str(connection.info("server").get("run_id") or "") or None
    except RedisError:
        return None


class OutboxDispatcher:
    """The periodic step of the outbox (job ``outbox``, every ``OUTBOX_POLL_SECONDS``): moves
    pending intents into rq; survives Redis and database outages (the scheduler logs and goes on).

    When the Redis server itself restarted (its ``run_id`` changed) it first re-enqueues every
    dispatched intent whose job is gone, whatever its age, so jobs lost inside Redis run again
    within a period of its return. On its first pass it re-enqueues the jobs dead workers had
    started (:func:`recover_abandoned`). Jobs lost otherwise are found by :func:`recover_lost`,
    the job ``outbox-recovery`` (every ``OUTBOX_RECOVERY_SECONDS``).
    """

    def __init__(self, app: Flask) -> None:
        self.connection = redis_connection(app)
        self.known_run_id = redis_run_id(self.connection)
        self.started = False

    def __call__(self) -> int:
        if not self.started:  # a worker (re)starting: take back what a dead one held
            recover_abandoned(self.connection)
            self.started = True
        run_id = redis_run_id(self.connection)
        if run_id is not None and run_id != self.known_run_id:  # restarted, or back after an outage
            log.warning("Redis restarted: re-enqueueing dispatched jobs it may have lost")
            recover_lost(self.connection, older_than=timedelta(0))
        if run_id is not None:
            self.known_run_id = run_id
        return dispatch_pending(self.connection)


def outbox_recovery(app: Flask) -> Callable[[], int]:
    """The periodic step that re-enqueues intents whose rq job vanished or whose worker died
    (job ``outbox-recovery``)."""
    connection = redis_connection(app)
    older_than = timedelta(seconds=float(app.config.get("OUTBOX_RECOVERY_AFTER_SECONDS", 300)))
    return lambda: recover_abandoned(connection) + recover_lost(connection, older_than)
