"""Background jobs: rq queues plus a transactional outbox.

A service that wants work done later calls :func:`record_intent` inside its own database
transaction. The intent row commits or rolls back with the change that caused it, so a Redis
outage can delay work but never lose it. The dispatcher (:mod:`app.core.outbox`, a periodic job
of ``flask jobs worker`` or ``flask jobs dispatcher``) moves pending intents into rq; the job
(:func:`run_intent`) claims its intent and runs the target function in one transaction, so a
job delivered twice (a retry, a re-dispatch after Redis lost its data) has its effect once.

A failing function is retried by rq (``outbox.DEFAULT_RETRY``; the intervals need a worker
started with the scheduler, as ``flask jobs worker`` is). After the last attempt the intent is
marked ``failed`` and stays so until ``flask jobs requeue-failed``.

Functions run through the outbox must not commit themselves; the job wrapper commits.

**Effects outside the database** (an SMS, a call, an email) cannot roll back with the job, so
they go through :func:`effect`: a ``sending`` marker (an :class:`OutboxEffect` row, by the
effect's natural key) is committed *before* the provider is asked, and the provider's answer
right after. A worker killed in between leaves the marker without a result; the next run of the
intent then asks the provider whether it happened (``lookup``: e.g. the messages sent to that
number since the marker) and adopts what it finds instead of doing it again. The guarantee is
**exactly once with a look-up** where the provider can be asked (SMS and calls through Twilio
or the simulator), **at least once** where it cannot (email: a resend only if the worker died
between the server's acceptance and our record). Those commits are checkpoints (:func:`checkpoint`): what
the job wrote so far commits with the marker and the intent stays claimed (status ``running``),
so a function that calls :func:`effect` must be safe to run again from its start (it finds what
it wrote by a natural key). The provider is never called inside an open database transaction.

A run cut short by a dead worker is taken back by ``outbox.recover_lost``: an intent still
``dispatched`` or ``running`` whose rq job vanished, failed without our record of it (rq's
"abandoned job"), or is held by a worker process that no longer exists on this host.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from redis import Redis
from rq import Queue
from rq.job import get_current_job
from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core.masking import mask_text
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)

PENDING, DISPATCHED, DONE, FAILED = "pending", "dispatched", "done", "failed"
# Claimed by a run that committed a checkpoint (an effect's marker) and has not finished.
RUNNING = "running"
QUEUES = ("telephony", "notifications", "default")
# Effect markers: the provider is being asked (or was, and the run died before its answer was
# written); it answered with an error that does not say whether it was done (a time-out, a
# 5xx); it did it; it refused (nothing was done, so the next run may ask again).
SENDING, UNKNOWN, SENT, REFUSED = "sending", "unknown", "sent", "refused"
# Provider clocks and ours differ a little: what the provider created this much before our
# marker still counts as that effect's (retries are minutes apart).
CLOCK_SKEW = timedelta(seconds=60)

# The intent the current job runs (set by run_intent), and whether a checkpoint committed its
# claim as "running" (the run then takes it as "done" again only when it finishes).
_running_intent: ContextVar[int | None] = ContextVar("outbox_running_intent", default=None)
_released: ContextVar[bool] = ContextVar("outbox_intent_released", default=False)


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


class OutboxEffect(db.Model):  # type: ignore[name-defined]
    """An effect outside the database (an SMS, a call) that a job asked a provider for.

    Committed as ``sending`` before the provider is asked, ``sent`` with the provider's id for
    it (``result``) once it answered: see :func:`effect`. No personal data: the key names our
    own rows (``ticket-notify:42:created:0:sms``), the result is the provider's id.
    """

    __tablename__ = "outbox_effects"
    __table_args__ = (Index("ix_outbox_effects_result", "result"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    intent_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=SENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(String(200))
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)


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


def updated_rows(stmt: Any) -> int:
    """Run an UPDATE through the session and return how many rows it changed."""
    result = cast("CursorResult[Any]", db.session.execute(stmt))
    return int(result.rowcount or 0)


def job_id_for(intent_id: int) -> str:
    """The rq job id of an intent: fixed, so every delivery of one intent is the same job."""
    return f"intent-{intent_id}"


def requeue_failed(intent_ids: list[int] | None = None) -> int:
    """Give failed intents (retries exhausted) back to the dispatcher; the caller commits."""
    stmt = update(OutboxIntent).where(OutboxIntent.status == FAILED)
    if intent_ids is not None:
        stmt = stmt.where(OutboxIntent.id.in_(intent_ids))
    return updated_rows(
        stmt.values(status=PENDING, dispatched_at=None).execution_options(synchronize_session=False)
    )


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.rpartition(".")
    target = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target  # type: ignore[return-value]


class EffectInFlight(Exception):  # noqa: N818 - a state, not an error
    """An effect's marker is younger than ``OUTBOX_EFFECT_GRACE_SECONDS``: another run may still
    be asking the provider. rq retries the job later, when a look-up can tell."""


def run_intent(intent_id: int) -> str:
    """The rq job: claim the intent and run its function in one transaction (effect once).

    Returns ``"done"``, or ``"already-done"`` for a duplicate delivery. When the function
    raises, its changes roll back (to its last :func:`checkpoint`), the error is kept on the
    intent and the exception goes back to rq, which retries per ``outbox.DEFAULT_RETRY``; after
    the last attempt the intent is marked ``failed`` (``flask jobs requeue-failed`` gives it
    another round).
    """
    intent_token = _running_intent.set(intent_id)
    released_token = _released.set(False)
    try:
        claimed = updated_rows(
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
        if _released.get() and not updated_rows(
            update(OutboxIntent)
            .where(OutboxIntent.id == intent_id, OutboxIntent.status == RUNNING)
            .values(status=DONE, done_at=utcnow())
            .execution_options(synchronize_session=False)
        ):
            # Another delivery ran it to the end meanwhile (its effects were this run's, found
            # by their markers): its writes stand, these roll back.
            db.session.rollback()
            return "already-done"
        db.session.commit()
        return "done"
    except Exception as exc:
        _record_failure(intent_id, exc)
        raise
    finally:
        _released.reset(released_token)
        _running_intent.reset(intent_token)
        db.session.remove()


def checkpoint() -> None:
    """Commit what the running job wrote so far; its intent stays claimed (``running``).

    Inside :func:`run_intent` the intent's claim (``done``, uncommitted) is committed as
    ``running`` at the first checkpoint, so a later error or a dead worker still leaves it to
    be run again (``outbox.recover_lost``); the run takes it as ``done`` when it finishes. No
    transaction stays open after a checkpoint: what follows (a provider's answer) holds no lock.
    Outside a job it is a plain commit.
    """
    intent_id = _running_intent.get()
    if intent_id is not None and not _released.get():
        updated_rows(
            update(OutboxIntent)
            .where(OutboxIntent.id == intent_id, OutboxIntent.status == DONE)
            .values(status=RUNNING, done_at=None)
            .execution_options(synchronize_session=False)
        )
        _released.set(True)
    db.session.commit()


def effect(
    key: str,
    send: Callable[[], str],
    *,
    lookup: Callable[[datetime], Iterable[str]] | None = None,
) -> str:
    """Do ``send()`` (an SMS, a call: returns the provider's id for it) once for ``key``.

    The marker is committed before ``send`` is called (:func:`checkpoint`), the result right
    after. A later run that finds the marker without a result asks ``lookup(since)`` for the
    provider's ids of what it did since the marker (oldest first) and adopts the first that no
    other effect holds; if there is none, it was not done and is done now. Without ``lookup`` it
    is done again (at least once). The marker is left ``sending`` only by a run that died (or
    is still waiting for the provider): one younger than ``OUTBOX_EFFECT_GRACE_SECONDS`` may
    belong to a live run, so :class:`EffectInFlight` (rq retries the job later).

    An exception from ``send`` with a true ``not_done`` attribute (the provider refused: a 4xx)
    marks the effect refused, so another run may ask again; any other marks it unknown (it may
    have been carried out: the next run looks it up), and goes on to the caller either way.
    """
    row = db.session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    if row is not None and row.status == SENT and row.result is not None:
        return row.result
    now = utcnow()
    if row is not None and row.status in (SENDING, UNKNOWN):
        grace = timedelta(seconds=float(current_app.config.get("OUTBOX_EFFECT_GRACE_SECONDS", 30)))
        if row.status == SENDING and now - row.started_at < grace:
            waited = int((now - row.started_at).total_seconds())
            raise EffectInFlight(f"{key}: another run asked the provider {waited} s ago")
        found = _adopt(row, lookup) if lookup is not None else None
        if found is not None:
            log.warning("effect %s: the provider had done it (%s): adopted, not done again", key, found)
            row.status, row.result, row.finished_at, row.adopted = SENT, found, now, True
            checkpoint()
            return found
        log.warning("effect %s: not done by the provider after an interrupted run; doing it now", key)
    if row is None:
        row = OutboxEffect(key=key, intent_id=_running_intent.get(), attempts=0, adopted=False)
        db.session.add(row)
    row.status, row.started_at, row.finished_at = SENDING, now, None
    row.attempts = (row.attempts or 0) + 1
    checkpoint()  # durable before the provider is asked
    try:
        result = send()
    except Exception as exc:
        row.status = REFUSED if getattr(exc, "not_done", False) else UNKNOWN
        row.finished_at = utcnow()
        row.last_error = mask_text(f"{type(exc).__name__}: {exc}")[:2000]
        checkpoint()
        raise
    row.status, row.result, row.finished_at, row.last_error = SENT, result, utcnow(), None
    checkpoint()
    return result


def _adopt(row: OutboxEffect, lookup: Callable[[datetime], Iterable[str]]) -> str | None:
    candidates = [str(c) for c in lookup(row.started_at - CLOCK_SKEW)]
    if not candidates:
        return None
    held = set(
        db.session.scalars(
            select(OutboxEffect.result).where(OutboxEffect.result.in_(candidates), OutboxEffect.id != row.id)
        )
    )
    return next((c for c in candidates if c not in held), None)


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
