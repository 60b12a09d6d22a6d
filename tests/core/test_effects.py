"""Effects outside the database (an SMS, a call) done once by outbox jobs, whatever the worker's fate.

A job used to call the provider inside its one transaction: a worker killed after the provider
acted and before the commit rolled the record back, so the retry sent the SMS again (or, with
rq's job in its failed registry, nothing ever ran it again and the sent message was never
recorded). :func:`app.core.jobs.effect` commits a marker before the provider is asked and its
answer after; a run that finds a marker without an answer asks the provider instead of
acting blind. "The worker dies" is :class:`tests.core.jobfuncs.Died` (a BaseException nothing
catches) followed by a rollback: only what the run committed remains.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import pytest
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.core import jobs, outbox
from app.core.audit import AuditEvent
from app.core.jobs import DONE, FAILED, RUNNING, OutboxEffect, OutboxIntent, run_intent
from app.extensions import db
from tests.core import jobfuncs


@pytest.fixture(autouse=True)
def provider(app):  # type: ignore[no-untyped-def]
    jobfuncs.provider = jobfuncs.FakeProvider()
    app.config["OUTBOX_EFFECT_GRACE_SECONDS"] = 0  # tests of the grace period set it
    return jobfuncs.provider


def _record(*args) -> int:  # type: ignore[no-untyped-def]
    intent = jobs.record_intent(jobfuncs.send_once, *args)
    db.session.commit()
    return intent.id


def _die_in(intent_id: int) -> None:
    with pytest.raises(jobfuncs.Died):
        run_intent(intent_id)
    db.session.rollback()


def _state(intent_id: int, key: str) -> tuple[str, str | None, str | None]:
    db.session.expire_all()
    intent = db.session.get(OutboxIntent, intent_id)
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    assert intent is not None
    return intent.status, effect.status if effect else None, effect.result if effect else None


def _results(key: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.entity_id).where(AuditEvent.entity_id.like(f"{key}=%"))))


def test_a_worker_killed_after_the_provider_acted_leaves_a_marker_and_the_retry_adopts_it(provider):
    intent_id = _record("sms-1", "hello")
    provider.plan = ["die-after"]
    _die_in(intent_id)
    # The marker was committed before the provider was asked; the intent stays to be run.
    assert _state(intent_id, "sms-1") == (RUNNING, jobs.SENDING, None)
    assert provider.done == [("P1", "hello")]

    assert run_intent(intent_id) == "done"  # the retry (rq's, or the recovery pass's)
    assert provider.done == [("P1", "hello")]  # asked, not sent again
    assert provider.lookups == 1
    assert _state(intent_id, "sms-1") == (DONE, jobs.SENT, "P1")
    assert db.session.scalar(select(OutboxEffect.adopted).where(OutboxEffect.key == "sms-1")) is True
    assert _results("sms-1") == ["sms-1=P1"]


def test_a_worker_killed_before_the_provider_acted_sends_on_the_retry_once(provider):
    intent_id = _record("sms-2", "hello")
    provider.plan = ["die-before"]
    _die_in(intent_id)
    assert _state(intent_id, "sms-2") == (RUNNING, jobs.SENDING, None)
    assert provider.done == []

    assert run_intent(intent_id) == "done"
    assert provider.done == [("P1", "hello")]
    assert _state(intent_id, "sms-2") == (DONE, jobs.SENT, "P1")
    assert run_intent(intent_id) == "already-done"
    assert provider.done == [("P1", "hello")]


def test_a_marker_younger_than_the_grace_period_is_not_acted_on(app, provider):
    """Another run may still be waiting for the provider: neither a look-up nor a send yet."""
    intent_id = _record("sms-3", "hello")
    provider.plan = ["die-before"]
    _die_in(intent_id)
    app.config["OUTBOX_EFFECT_GRACE_SECONDS"] = 600
    with pytest.raises(jobs.EffectInFlight):
        run_intent(intent_id)
    assert (provider.done, provider.lookups) == ([], 0)
    assert "EffectInFlight" in (db.session.get(OutboxIntent, intent_id).last_error or "")

    app.config["OUTBOX_EFFECT_GRACE_SECONDS"] = 0  # the grace period is over
    assert run_intent(intent_id) == "done"
    assert provider.done == [("P1", "hello")]


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_unclear_answer_is_looked_up_on_the_next_run(provider, when):
    """A time-out or a 5xx does not say whether the provider acted: the next run asks."""
    intent_id = _record("sms-4", "hello")
    provider.plan = [f"unclear-{when}"]
    with pytest.raises(jobfuncs.Unclear):
        run_intent(intent_id)
    db.session.rollback()
    # Not done (outside rq every failure counts as the last attempt: "failed"; rq would retry).
    assert _state(intent_id, "sms-4")[:2] == (FAILED, jobs.UNKNOWN)
    assert run_intent(intent_id) == "done"
    assert provider.done == [("P1", "hello")]
    assert provider.lookups == 1


def test_a_refusal_is_final_for_that_try_and_a_later_run_asks_again(provider):
    intent_id = _record("sms-5", "hello")
    provider.plan = ["refuse"]
    with pytest.raises(jobfuncs.Refused):
        run_intent(intent_id)
    db.session.rollback()
    assert _state(intent_id, "sms-5")[1] == jobs.REFUSED
    assert run_intent(intent_id) == "done"
    assert provider.lookups == 0  # a refusal says nothing was done: no need to ask
    assert provider.done == [("P1", "hello")]


def test_an_error_after_the_effect_does_not_repeat_it(provider):
    intent_id = _record("sms-6", "hello", True, True)
    with pytest.raises(RuntimeError):
        run_intent(intent_id)
    db.session.rollback()
    assert _state(intent_id, "sms-6") == (FAILED, jobs.SENT, "P1")
    with pytest.raises(RuntimeError):
        run_intent(intent_id)
    assert provider.done == [("P1", "hello")]
    assert provider.lookups == 0


def test_the_look_up_never_adopts_what_another_effect_holds(provider):
    """Two identical texts to one number: each effect takes its own message."""
    first = _record("sms-7a", "same text")
    assert run_intent(first) == "done"
    second = _record("sms-7b", "same text")
    provider.plan = ["die-before"]
    _die_in(second)
    assert run_intent(second) == "done"
    assert provider.done == [("P1", "same text"), ("P2", "same text")]
    assert _state(second, "sms-7b")[2] == "P2"


def test_without_a_look_up_it_is_done_again_at_least_once(provider):
    """Email cannot be asked: a run cut short mid-send sends it again."""
    intent_id = _record("mail-1", "hello", False)
    provider.plan = ["die-after"]
    _die_in(intent_id)
    assert run_intent(intent_id) == "done"
    assert provider.done == [("P1", "hello"), ("P2", "hello")]


def test_the_intent_is_released_while_the_provider_is_asked(app, provider, monkeypatch):
    """No claim or write of the run is pending while the provider works (it may take seconds)."""
    seen = {}
    intent_id = _record("sms-8", "hello")
    real_send = provider.send

    def looking(what: str) -> str:
        seen["pending"] = bool(db.session.new or db.session.dirty)
        seen["intent"] = db.session.execute(
            select(OutboxIntent.status).where(OutboxIntent.id == intent_id)
        ).scalar()
        seen["marker"] = db.session.execute(
            select(OutboxEffect.status).where(OutboxEffect.key == "sms-8")
        ).scalar()
        return real_send(what)

    monkeypatch.setattr(provider, "send", looking)
    assert run_intent(intent_id) == "done"
    assert seen == {"pending": False, "intent": RUNNING, "marker": jobs.SENDING}
    assert _state(intent_id, "sms-8") == (DONE, jobs.SENT, "P1")


# --- rq's side: runs cut short are taken back ----------------------------------------------


def _register_worker(connection, *, pid: int, hostname: str) -> Worker:  # type: ignore[no-untyped-def]
    worker = Worker([Queue("default", connection=connection)], connection=connection, name=uuid.uuid4().hex)
    worker.register_birth()
    connection.hset(worker.key, mapping={"pid": pid, "hostname": hostname})
    return worker


def _started_by(connection, intent_id: int, worker: Worker) -> Job:  # type: ignore[no-untyped-def]
    """The intent's job as rq leaves it when the worker running it is killed."""
    job = Queue("default", connection=connection).enqueue_call(
        jobs.run_intent, args=(intent_id,), job_id=jobs.job_id_for(intent_id)
    )
    Queue("default", connection=connection).remove(job)
    with connection.pipeline() as pipe:
        job.prepare_for_execution(worker.name, pipe)
        from rq.executions import Execution

        Execution.create(job, ttl=600, pipeline=pipe, worker_name=worker.name)
        pipe.execute()
    assert job.get_status() == JobStatus.STARTED
    return job


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    child.wait()
    return child.pid


def test_a_job_held_by_a_dead_worker_on_this_host_is_taken_back_at_once(app, redis_conn):
    intent_id = _record("sms-9", "hello")
    outbox.dispatch_pending(redis_conn)
    dead = _register_worker(redis_conn, pid=_dead_pid(), hostname=socket.gethostname())
    alive_elsewhere = _register_worker(redis_conn, pid=_dead_pid(), hostname="another-host")
    alive_here = _register_worker(redis_conn, pid=os.getpid(), hostname=socket.gethostname())
    other_ids = [_record(f"sms-9{n}", "x") for n in (1, 2)]
    outbox.dispatch_pending(redis_conn)
    _started_by(redis_conn, intent_id, dead)
    _started_by(redis_conn, other_ids[0], alive_elsewhere)
    _started_by(redis_conn, other_ids[1], alive_here)

    assert outbox.recover_abandoned(redis_conn) == 1
    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    assert job.get_status() == JobStatus.QUEUED
    assert db.session.get(OutboxIntent, intent_id).dispatch_count == 2
    for other in other_ids:  # their workers may still be running them
        assert Job.fetch(jobs.job_id_for(other), connection=redis_conn).get_status() == JobStatus.STARTED
    assert outbox.recover_abandoned(redis_conn) == 0


def test_an_abandoned_job_rq_moved_to_failed_is_run_again(app, redis_conn):
    """rq's clean-up moves a dead worker's job to its failed registry (retries spent): our
    job never recorded the failure, so the intent is still running and must be run again. The
    recovery pass used to skip it: the job "existed"."""
    intent_id = _record("sms-10", "hello")
    outbox.dispatch_pending(redis_conn)
    provider = jobfuncs.provider
    provider.plan = ["die-after"]
    _die_in(intent_id)
    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    job.set_status(JobStatus.FAILED)
    job.failed_job_registry.add(job, ttl=600, exc_string="AbandonedJobError")

    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 1
    assert Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn).get_status() == JobStatus.QUEUED
    assert job.id not in job.failed_job_registry
    assert run_intent(intent_id) == "done"
    assert provider.done == [("P1", "hello")]

    # A failure our job recorded (retries spent, intent failed) is for a person to requeue.
    failed_id = _record("sms-11", "x")
    outbox.dispatch_pending(redis_conn)
    db.session.get(OutboxIntent, failed_id).status = FAILED
    db.session.commit()
    failed_job = Job.fetch(jobs.job_id_for(failed_id), connection=redis_conn)
    failed_job.set_status(JobStatus.FAILED)
    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 0


def test_a_job_that_keeps_killing_its_worker_is_given_up_after_ten_deliveries(app, redis_conn):
    intent_id = _record("sms-12", "hello")
    outbox.dispatch_pending(redis_conn)
    intent = db.session.get(OutboxIntent, intent_id)
    intent.dispatch_count = outbox.MAX_DISPATCHES
    db.session.commit()
    job = Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn)
    job.set_status(JobStatus.FAILED)  # abandoned again: its worker died once more
    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 0
    db.session.expire_all()
    given_up = db.session.get(OutboxIntent, intent_id)
    assert given_up.status == FAILED and "died" in given_up.last_error


@pytest.mark.committed  # the passes run in threads, each with its own connection
def test_recovery_passes_racing_at_a_workers_start_leave_one_run_queued(app, redis_conn):
    """A worker starting runs two recovery passes at once (the dispatcher's first pass and the
    job ``outbox-recovery``), and every worker process runs its own. CI saw the restarted
    worker of ``tests/core/test_worker_crash.py`` never run the intent: one pass re-enqueued
    it, and the other, holding the dead run's job from before, deleted the new one (on
    PostgreSQL the first pass's row lock made SKIP LOCKED read "done on our side")."""
    import threading

    dead = _register_worker(redis_conn, pid=_dead_pid(), hostname=socket.gethostname())
    for round_ in range(12):
        intent_id = _record(f"sms-race-{round_}", "hello")
        outbox.dispatch_pending(redis_conn)
        _started_by(redis_conn, intent_id, dead)
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def recover(barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
            try:
                with app.app_context():
                    barrier.wait()
                    outbox.recover_abandoned(redis_conn)
                    db.session.remove()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=recover) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        job_id = jobs.job_id_for(intent_id)
        assert Queue("default", connection=redis_conn).job_ids.count(job_id) == 1, f"round {round_}"
        assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.QUEUED
        db.session.expire_all()
        assert db.session.get(OutboxIntent, intent_id).dispatch_count == 2, f"round {round_}"
        Queue("default", connection=redis_conn).empty()


@pytest.mark.postgres
@pytest.mark.committed  # another connection locks committed rows
def test_a_recovery_pass_leaves_a_dead_run_whose_row_another_holds(app, redis_conn):
    """SKIP LOCKED hides a row another transaction holds: that is not "done on our side", and
    the job must stay for the next pass (it used to be deleted, and the intent never ran)."""
    from sqlalchemy import text

    intent_id = _record("sms-held", "hello")
    outbox.dispatch_pending(redis_conn)
    _started_by(
        redis_conn, intent_id, _register_worker(redis_conn, pid=_dead_pid(), hostname=socket.gethostname())
    )
    job_id = jobs.job_id_for(intent_id)
    with db.engine.connect() as other:
        other_tx = other.begin()
        other.execute(text("SELECT id FROM outbox_intents WHERE id = :id FOR UPDATE"), {"id": intent_id})
        assert outbox.recover_abandoned(redis_conn) == 0
        assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.STARTED
        other_tx.rollback()
    assert outbox.recover_abandoned(redis_conn) == 1
    assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.QUEUED


def test_a_recovery_pass_waits_for_the_one_under_way_and_then_skips(app, redis_conn, monkeypatch):
    intent_id = _record("sms-lock", "hello")
    outbox.dispatch_pending(redis_conn)
    _started_by(
        redis_conn, intent_id, _register_worker(redis_conn, pid=_dead_pid(), hostname=socket.gethostname())
    )
    monkeypatch.setattr(outbox, "RECOVERY_LOCK_WAIT_SECONDS", 0.2)
    other_pass = redis_conn.lock(outbox.RECOVERY_LOCK, timeout=30)
    assert other_pass.acquire(blocking=False)
    assert outbox.recover_abandoned(redis_conn) == 0
    assert outbox.recover_lost(redis_conn, older_than=timedelta(0)) == 0
    assert Job.fetch(jobs.job_id_for(intent_id), connection=redis_conn).get_status() == JobStatus.STARTED
    other_pass.release()
    assert outbox.recover_abandoned(redis_conn) == 1
    assert redis_conn.get(outbox.RECOVERY_LOCK) is None  # released after the pass
