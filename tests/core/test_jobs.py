"""The transactional outbox with a real Redis and a real rq worker (SimpleWorker, burst mode).

"Ran once" is checked in the database: the job functions in ``tests.core.jobfuncs`` write an
audit row, inside the same transaction that claims the intent.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import func, select, text

from app.core import jobs, outbox
from app.core.audit import AuditEvent
from app.core.jobs import DISPATCHED, DONE, FAILED, PENDING, QUEUES, OutboxIntent
from app.extensions import db
from tests.core import jobfuncs
from tests.services import RedisServer


def marker() -> str:
    return uuid.uuid4().hex[:12]


def ran(name: str) -> int:
    """How many times a job's effect is in the database."""
    db.session.rollback()
    return (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == jobfuncs.ACTION, AuditEvent.entity_id == name
            )
        )
        or 0
    )


def intent(intent_id: int) -> OutboxIntent:
    db.session.rollback()
    db.session.expire_all()
    found = db.session.get(OutboxIntent, intent_id)
    assert found is not None
    return found


def record(name: str, func=jobfuncs.write_marker, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
    created = jobs.record_intent(func, name, *args, **kwargs)
    db.session.commit()
    return created.id


def work(connection: Redis, **kwargs) -> None:  # type: ignore[no-untyped-def]
    queues = [Queue(name, connection=connection) for name in QUEUES]
    SimpleWorker(queues, connection=connection).work(burst=True, **kwargs)


def queued(connection: Redis) -> int:
    return sum(Queue(name, connection=connection).count for name in QUEUES)


# --- (a) rolled back: never runs ----------------------------------------------------------


def test_intent_recorded_in_a_rolled_back_transaction_never_runs(app, redis_conn):
    kept, dropped = marker(), marker()
    jobs.record_intent(jobfuncs.write_marker, dropped)
    db.session.rollback()
    record(kept)

    assert outbox.dispatch_pending(redis_conn) == 1
    work(redis_conn)

    assert ran(kept) == 1
    assert ran(dropped) == 0
    assert db.session.scalar(select(func.count(OutboxIntent.id))) == 1
    assert queued(redis_conn) == 0


# --- (b) committed: runs once -------------------------------------------------------------


def test_committed_intent_runs_once_through_the_worker(app, redis_conn):
    name = marker()
    intent_id = record(name)
    assert ran(name) == 0
    assert queued(redis_conn) == 0  # nothing reaches Redis before the dispatcher

    assert outbox.dispatch_pending(redis_conn) == 1
    assert intent(intent_id).status == DISPATCHED
    assert ran(name) == 0  # dispatched is not done
    work(redis_conn)

    assert ran(name) == 1
    done = intent(intent_id)
    assert (done.status, done.run_count, done.dispatch_count) == (DONE, 1, 1)
    assert done.done_at is not None
    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    assert job.return_value() == "done"

    work(redis_conn)
    assert outbox.dispatch_pending(redis_conn) == 0
    assert ran(name) == 1


def test_intent_with_run_after_waits_in_the_scheduled_registry(app, redis_conn):
    name = marker()
    intent_id = record(name, run_after=datetime.now(UTC) + timedelta(hours=1))
    assert outbox.dispatch_pending(redis_conn) == 1

    registry = ScheduledJobRegistry("default", connection=redis_conn)
    assert jobs.job_id_for(intent_id) in registry
    work(redis_conn, with_scheduler=True)
    assert ran(name) == 0  # not due yet

    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    registry.schedule(job, datetime.now(UTC) - timedelta(seconds=1))
    work(redis_conn, with_scheduler=True)
    assert ran(name) == 1


# --- (c) Redis outage and data loss: delayed, never lost, never doubled -----------------------


@pytest.fixture
def private_redis():  # type: ignore[no-untyped-def]
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_outage_delays_but_never_loses_or_doubles_work(app, private_redis):
    connection = Redis.from_url(private_redis.url, socket_connect_timeout=1, socket_timeout=2)
    first = marker()
    first_id = record(first)

    private_redis.stop()
    assert outbox.dispatch_pending(connection) == 0  # does not raise
    waiting = intent(first_id)
    assert (waiting.status, waiting.dispatch_count) == (PENDING, 0)

    private_redis.start()  # same port, empty
    assert outbox.dispatch_pending(connection) == 1
    work(connection)
    assert ran(first) == 1

    # Duplicate deliveries: more dispatcher rounds, the same job id enqueued again by hand.
    assert outbox.dispatch_pending(connection) == 0
    assert outbox.dispatch_pending(connection) == 0
    duplicate = Queue("default", connection=connection).enqueue_call(
        jobs.run_intent, args=(first_id,), job_id=jobs.job_id_for(first_id)
    )
    work(connection)
    assert Job.fetch(duplicate.id, connection=connection).return_value() == "already-done"
    assert ran(first) == 1

    # Redis loses its data after a dispatch and before any worker ran the job.
    second = marker()
    second_id = record(second)
    assert outbox.dispatch_pending(connection) == 1
    assert outbox.recover_lost(connection, older_than=timedelta(0)) == 0  # the job still exists
    connection.flushall()
    assert outbox.recover_lost(connection, older_than=timedelta(0)) == 1  # only the lost one
    work(connection)
    assert ran(second) == 1

    connection.flushall()
    assert outbox.recover_lost(connection, older_than=timedelta(0)) == 0  # done is done
    assert outbox.dispatch_pending(connection) == 0
    work(connection)

    assert (ran(first), ran(second)) == (1, 1)
    assert (intent(first_id).run_count, intent(second_id).run_count) == (1, 1)
    assert intent(second_id).dispatch_count == 2


def test_dispatch_stops_at_a_redis_error_and_keeps_the_rest_pending(app, redis_conn, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    ids = [record(marker()) for _ in range(3)]
    real_enqueue = outbox.enqueue
    calls = []

    def flaky(intent_id, queue, run_after, connection):  # type: ignore[no-untyped-def]
        calls.append(intent_id)
        if len(calls) == 2:
            raise RedisConnectionError("Redis went away")
        real_enqueue(intent_id, queue, run_after, connection)

    monkeypatch.setattr(outbox, "enqueue", flaky)
    assert outbox.dispatch_pending(redis_conn) == 1
    states = [(intent(i).status, intent(i).dispatch_count) for i in ids]
    assert states == [(DISPATCHED, 1), (PENDING, 0), (PENDING, 0)]

    monkeypatch.setattr(outbox, "enqueue", real_enqueue)
    assert outbox.dispatch_pending(redis_conn) == 2
    assert queued(redis_conn) == 3


@pytest.mark.committed  # a worker thread reads what the test committed
def test_dispatcher_never_reopens_an_intent_a_fast_worker_finished(app, redis_conn, monkeypatch):
    # A worker can take the job the moment it is enqueued, before the dispatcher commits.
    name = marker()
    intent_id = record(name)
    real_enqueue = outbox.enqueue
    finished = threading.Event()
    workers: list[threading.Thread] = []

    def run_now() -> None:
        with app.app_context():
            jobs.run_intent(intent_id)
        finished.set()

    def enqueue_and_race(*args):  # type: ignore[no-untyped-def]
        real_enqueue(*args)
        workers.append(threading.Thread(target=run_now))
        workers[0].start()
        finished.wait(timeout=2)  # let the worker finish first, if it can

    monkeypatch.setattr(outbox, "enqueue", enqueue_and_race)
    assert outbox.dispatch_pending(redis_conn) == 1
    workers[0].join(timeout=30)
    assert finished.is_set()
    assert intent(intent_id).status == DONE
    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 0
    assert ran(name) == 1


# --- (d) failures: retried by rq, never marked done ---------------------------------------


def test_failing_job_is_scheduled_for_retry_and_not_marked_done(app, redis_conn):
    name = marker()
    intent_id = record(name, jobfuncs.fail_first, 1)
    outbox.dispatch_pending(redis_conn)
    before = datetime.now(UTC)
    work(redis_conn)

    assert ran(name) == 0  # the write before the error rolled back with it
    failed_once = intent(intent_id)
    assert failed_once.status == DISPATCHED
    assert failed_once.done_at is None
    assert failed_once.last_error is not None
    assert "attempt 1 failed" in failed_once.last_error
    assert "6281234567890" not in failed_once.last_error  # masked

    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    registry = ScheduledJobRegistry("default", connection=redis_conn)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.id in registry
    assert job.retries_left == outbox.DEFAULT_RETRY.max - 1
    delay = (registry.get_scheduled_time(job) - before).total_seconds()
    assert outbox.DEFAULT_RETRY.intervals[0] - 1 <= delay <= outbox.DEFAULT_RETRY.intervals[0] + 5

    work(redis_conn)  # no scheduler: the retry is not due and nobody moves it
    assert jobfuncs.attempts[name] == 1

    registry.schedule(job, datetime.now(UTC) - timedelta(seconds=1))  # make it due
    work(redis_conn, with_scheduler=True)
    assert jobfuncs.attempts[name] == 2
    assert ran(name) == 1
    done = intent(intent_id)
    assert (done.status, done.run_count) == (DONE, 1)


def test_retries_are_counted_down_and_exhaustion_marks_the_intent_failed(app, redis_conn, monkeypatch):
    monkeypatch.setattr(outbox, "DEFAULT_RETRY", Retry(max=2))  # no interval: re-queued at once
    name = marker()
    intent_id = record(name, jobfuncs.fail_first, 10)
    outbox.dispatch_pending(redis_conn)
    work(redis_conn)

    assert jobfuncs.attempts[name] == 3  # the first attempt and two retries
    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    assert job.retries_left == 0
    assert job.id in FailedJobRegistry("default", connection=redis_conn)
    failed = intent(intent_id)
    assert failed.status == FAILED
    assert "attempt 3 failed" in (failed.last_error or "")
    assert ran(name) == 0
    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 0  # not silently re-run


def test_requeued_failed_intent_runs_again(app, redis_conn, monkeypatch):
    monkeypatch.setattr(outbox, "DEFAULT_RETRY", Retry(max=1))
    name = marker()
    intent_id = record(name, jobfuncs.fail_first, 2)
    outbox.dispatch_pending(redis_conn)
    work(redis_conn)
    assert intent(intent_id).status == FAILED

    assert jobs.requeue_failed() == 1
    db.session.commit()
    assert outbox.dispatch_pending(redis_conn) == 1
    work(redis_conn)
    assert ran(name) == 1
    assert intent(intent_id).status == DONE


def test_requeue_failed_cli(app):
    failed_id = record(marker())
    db.session.execute(text("UPDATE outbox_intents SET status = 'failed' WHERE id = :id"), {"id": failed_id})
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "requeue-failed", str(failed_id)])
    assert result.exit_code == 0, result.output
    assert "requeued 1" in result.output
    assert intent(failed_id).status == PENDING


# --- (e) PostgreSQL: concurrent dispatchers --------------------------------------------------


@pytest.mark.postgres
@pytest.mark.committed  # several connections race on committed rows
def test_concurrent_dispatchers_enqueue_each_intent_at_most_once(app, redis_conn, monkeypatch):
    count = 60
    for _ in range(count):
        jobs.record_intent(jobfuncs.write_marker, marker())
    db.session.commit()

    real_enqueue = outbox.enqueue

    def slow_enqueue(*args):  # type: ignore[no-untyped-def]
        threading.Event().wait(0.005)  # widen the window in which both hold a batch
        real_enqueue(*args)

    monkeypatch.setattr(outbox, "enqueue", slow_enqueue)
    barrier = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            with app.app_context():
                barrier.wait()
                total = 0
                while batch := outbox.dispatch_pending(redis_conn, limit=7):
                    total += batch
                sent.append(total)
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert sum(sent) == count
    rows = db.session.execute(select(OutboxIntent.status, OutboxIntent.dispatch_count)).all()
    assert len(rows) == count
    assert {tuple(row) for row in rows} == {(DISPATCHED, 1)}
    job_ids = Queue("default", connection=redis_conn).job_ids
    assert len(job_ids) == count
    assert len(set(job_ids)) == count


@pytest.mark.postgres
@pytest.mark.committed  # another connection locks committed rows
def test_dispatcher_skips_rows_locked_by_another_without_waiting(app, redis_conn):
    ids = [record(marker()) for _ in range(3)]
    with db.engine.connect() as other:
        other_tx = other.begin()
        other.execute(text("SELECT id FROM outbox_intents WHERE id = :id FOR UPDATE"), {"id": ids[0]})

        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))  # fail, don't hang, if it waits
        assert outbox.dispatch_pending(redis_conn) == 2
        assert intent(ids[0]).status == PENDING

        other_tx.rollback()
    assert outbox.dispatch_pending(redis_conn) == 1
    assert {intent(i).dispatch_count for i in ids} == {1}
