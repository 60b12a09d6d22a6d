"""Background jobs: rq queues plus a transactional outbox.

A service that wants work done later calls :func:`record_intent` inside its own database
transaction. The intent row commits or rolls back with the change that caused it, so a Redis
outage can delay work but never lose it. The dispatcher (:class:`OutboxDispatcher`, a periodic
job of ``flask jobs worker`` or ``flask jobs dispatcher``) moves pending intents into rq; the job
(:func:`run_intent`) claims its intent and runs the target function in one transaction, so a
job delivered twice (a retry, a re-dispatch after Redis lost its data) has its effect once.

A failing function is retried by rq (:data:`DEFAULT_RETRY`; the intervals need a worker
started with the scheduler, as ``flask jobs worker`` is). After the last attempt the intent is
marked ``failed`` and stays so until ``flask jobs requeue-failed``.

Functions run through the outbox must not commit themselves; the job wrapper commits.
Functions with effects outside the database (Twilio, SMS) keep their own intent rows.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, get_current_job
from sqlalchemy import JSON, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core.masking import mask_text
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)

PENDING, DISPATCHED, DONE, FAILED = "pending", "dispatched", "done", "failed"
QUEUES = ("telephony", "notifications", "default")
DEFAULT_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


class OutboxIntent(db.Model):  # type: ignore[name-defined]
    """A unit of work promised by a committed transaction, waiting to reach rq."""

    __tablename__ = "outbox_intents"
    __table_args__ = (Index("ix_outbox_intents_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    queue: Mapped[str] = mapped_column(String(32), default="default")
    func: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def job_id(self) -> str:
        return job_id_for(self.id)


def record_intent(
    func: str | Callable[..., Any],
    *args: Any,
    queue: str = "default",
    key: str | None = None,
    run_after: datetime | None = None,
) -> OutboxIntent:
    """Promise that ``func(*args)`` will run, as part of the caller's transaction.

    ``func`` is a dotted path (or a module-level function); ``args`` must be JSON values
    (ids, not ORM objects). ``key`` makes the intent unique: recording the same key twice in
    separate transactions fails on the unique constraint, so callers can use natural keys
    (``"sms:ticket-42:reply-7"``) for exactly-once semantics.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    path = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    intent = OutboxIntent(
        key=key or uuid.uuid4().hex,
        queue=queue,
        func=path,
        args=list(args),
        status=PENDING,
        run_after=run_after,
    )
    db.session.add(intent)
    return intent


def redis_connection(app: Flask | None = None) -> Redis:
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not configured")
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def get_queue(name: str = "default", connection: Redis | None = None) -> Queue:
    return Queue(name, connection=connection or redis_connection())


def _execute_dml(stmt: Any) -> int:
    """Run an UPDATE through the session and return how many rows it changed."""
    result = cast("CursorResult[Any]", db.session.execute(stmt))
    return int(result.rowcount or 0)


def _lock_for_dispatch(stmt):
    # Several dispatchers may run (one per worker process): on PostgreSQL each takes rows the
    # others have not locked. SQLite has a single writer, so there is nothing to skip.
    if db.engine.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def job_id_for(intent_id: int) -> str:
    """The rq job id of an intent: fixed, so every delivery of one intent is the same job."""
    return f"intent-{intent_id}"


def _enqueue(intent_id: int, queue_name: str, run_after: datetime | None, connection: Redis) -> None:
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
        claimed = _execute_dml(
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
            _enqueue(intent_id, queue, run_after, connection)
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


def recover_lost(connection: Redis, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue dispatched intents whose rq job vanished (Redis restarted without its data)."""
    cutoff = utcnow() - older_than
    stmt = (
        select(OutboxIntent.id, OutboxIntent.queue, OutboxIntent.run_after)
        .where(OutboxIntent.status == DISPATCHED, OutboxIntent.dispatched_at < cutoff)
        .order_by(OutboxIntent.id)
        .limit(500)
    )
    recovered = 0
    try:
        for intent_id, queue, run_after in db.session.execute(_lock_for_dispatch(stmt)).all():
            if Job.exists(job_id_for(intent_id), connection=connection):
                continue
            _enqueue(intent_id, queue, run_after, connection)
            # Only bookkeeping columns: a worker may have finished it meanwhile (status stays).
            db.session.execute(
                update(OutboxIntent)
                .where(OutboxIntent.id == intent_id)
                .values(dispatched_at=utcnow(), dispatch_count=OutboxIntent.dispatch_count + 1)
                .execution_options(synchronize_session=False)
            )
            recovered += 1
    except RedisError as exc:
        log.warning("outbox recovery paused, Redis unavailable: %s", exc)
    db.session.commit()
    return recovered


def requeue_failed(intent_ids: list[int] | None = None) -> int:
    """Give failed intents (retries exhausted) back to the dispatcher; the caller commits."""
    stmt = update(OutboxIntent).where(OutboxIntent.status == FAILED)
    if intent_ids is not None:
        stmt = stmt.where(OutboxIntent.id.in_(intent_ids))
    return _execute_dml(
        stmt.values(status=PENDING, dispatched_at=None).execution_options(synchronize_session=False)
    )


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.rpartition(".")
    target = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target  # type: ignore[return-value]


def run_intent(intent_id: int) -> str:
    """The rq job: claim the intent and run its function in one transaction (effect once).

    Returns ``"done"``, or ``"already-done"`` for a duplicate delivery. When the function
    raises, its changes roll back, the error is kept on the intent and the exception goes back
    to rq, which retries per :data:`DEFAULT_RETRY`; after the last attempt the intent is marked
    ``failed`` (``flask jobs requeue-failed`` gives it another round).
    """
    try:
        claimed = _execute_dml(
            update(OutboxIntent)
            .where(OutboxIntent.id == intent_id, OutboxIntent.status != DONE)
            .values(status=DONE, done_at=utcnow(), run_count=OutboxIntent.run_count + 1)
            .execution_options(synchronize_session=False)
        )
        if not claimed:
            db.session.rollback()
            return "already-done"
        intent = db.session.get(OutboxIntent, intent_id)
        assert intent is not None
        _resolve(intent.func)(*intent.args)
        db.session.commit()
        return "done"
    except Exception as exc:
        _record_failure(intent_id, exc)
        raise
    finally:
        db.session.remove()


def _record_failure(intent_id: int, exc: Exception) -> None:
    job = get_current_job()
    # rq decrements retries_left after the job returns: 0 (or no job at all) means last attempt.
    final = job is None or not job.retries_left
    # Error texts can quote phone numbers or emails (a provider's message): keep them masked.
    values: dict[str, Any] = {"last_error": mask_text(f"{type(exc).__name__}: {exc}")[:2000]}
    if final:
        values["status"] = FAILED
    try:
        db.session.rollback()
        db.session.execute(
            update(OutboxIntent)
            .where(OutboxIntent.id == intent_id, OutboxIntent.status != DONE)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except Exception:  # the original error matters more (and rq still retries it)
        log.exception("could not record the failure of outbox intent %s", intent_id)
        db.session.rollback()


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
    within a period of its return. Jobs lost otherwise are found by :func:`recover_lost`, the
    job ``outbox-recovery`` (every ``OUTBOX_RECOVERY_SECONDS``).
    """

    def __init__(self, app: Flask) -> None:
        self.connection = redis_connection(app)
        self.known_run_id = redis_run_id(self.connection)

    def __call__(self) -> int:
        run_id = redis_run_id(self.connection)
        if run_id is not None and run_id != self.known_run_id:  # restarted, or back after an outage
            log.warning("Redis restarted: re-enqueueing dispatched jobs it may have lost")
            recover_lost(self.connection, older_than=timedelta(0))
        if run_id is not None:
            self.known_run_id = run_id
        return dispatch_pending(self.connection)


def outbox_recovery(app: Flask) -> Callable[[], int]:
    """The periodic step that re-enqueues intents whose rq job vanished (job ``outbox-recovery``)."""
    connection = redis_connection(app)
    return lambda: recover_lost(connection)
