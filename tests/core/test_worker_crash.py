"""``flask jobs worker`` SIGKILLed while a job waits for the SMS provider, then started again.

Real processes: the worker command, a private redis-server, the database of the run; the SMS
provider is the telephony simulator (no Twilio account), told to hold its answer
(``simulated_provider.HOLD_KEY``) so the test knows the job is inside the provider call when it kills the
worker. Either the simulated account took the message before the kill (``after``: the restarted
worker must find it and not send it again) or not (``before``: it must send it, once). Either
way the notification ends recorded as sent with the provider's id, the intent done, and the
killed worker's children (rq's scheduler, on PostgreSQL the job's work horse) die with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import select

from app.core import jobs
from app.core.jobs import DONE, OutboxEffect, OutboxIntent
from app.core.scheduler import periodic_jobs
from app.extensions import db
from app.telephony.simulated_provider import HELD_KEY, HOLD_KEY, SimulatorProvider
from app.tickets import services
from app.tickets import tasks as ticket_tasks
from app.tickets.models import Notification
from tests.core.test_worker_outage import _children, _running, eventually
from tests.services import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.committed]  # worker processes read what the test commits
ROOT = Path(__file__).resolve().parents[2]
PHONE = "+85291234567"


class Workers:
    """``flask jobs worker`` processes started one after another; all stopped at the end."""

    def __init__(self, app, redis_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.app, self.redis_url, self.tmp_path = app, redis_url, tmp_path
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        without = [
            arg for name in periodic_jobs(self.app) if not name.startswith("outbox") for arg in ("--without", name)
        ]
        env = dict(
            os.environ,
            HALOPMI_CONFIG="testing",
            TEST_DATABASE_URL=self.app.config["SQLALCHEMY_DATABASE_URI"],
            REDIS_URL=self.redis_url,
            OUTBOX_POLL_SECONDS="0.2",
            OUTBOX_RECOVERY_SECONDS="1",
            OUTBOX_EFFECT_GRACE_SECONDS="1",
            TICKETS_MESSENGER="app.telephony.messaging:sms_messenger",
            TWILIO_CALLER_ID="+622150001234",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
            LOG_FORMAT="text",
        )
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", *without],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self) -> str:
        parts = []
        for n in range(len(self.processes)):
            text = (self.tmp_path / f"worker-{n}.log").read_text(errors="replace")[-5000:]
            parts.append(f"--- worker {n} ---\n{text}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(app, redis_server, tmp_path) -> Iterator[Workers]:  # type: ignore[no-untyped-def]
    started = Workers(app, redis_server.url, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def _state(intent_id: int, key: str) -> str:
    db.session.rollback()
    intent = db.session.get(OutboxIntent, intent_id)
    note = db.session.scalar(select(Notification).where(Notification.key == key))
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    return (
        f"intent: {intent and (intent.status, intent.run_count, intent.dispatch_count, intent.last_error)}\n"
        f"notification: {note and (note.status, note.provider_id, note.attempts)}\n"
        f"effect: {effect and (effect.status, effect.result, effect.adopted, effect.attempts)}"
    )


@pytest.mark.parametrize("moment", ["after", "before"])
def test_a_worker_killed_mid_send_sends_the_sms_once_after_its_restart(app, redis_server, workers, moment):
    connection = Redis.from_url(redis_server.url)
    simulator = SimulatorProvider(redis_server.url)
    first = workers.start()

    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone=PHONE)
    connection.set(HOLD_KEY, f"sms:{moment}")  # the provider will not answer until told
    intent = jobs.record_intent(ticket_tasks.notify_worker, ticket.id, "created", "0", "sms", queue="notifications")
    db.session.commit()
    intent_id, key = intent.id, f"ticket-notify:{ticket.id}:created:0:sms"

    def log() -> str:
        return _state(intent_id, key) + "\n" + workers.log()

    eventually(lambda: connection.get(HELD_KEY) == f"sms:{moment}".encode(), 90,
               "the job is inside the provider call", log)
    sent_before_kill = [m for m in simulator.messages() if m["to"] == PHONE]
    assert len(sent_before_kill) == (1 if moment == "after" else 0), log()
    children = _children(first.pid)
    assert children, "the worker's scheduler (and work horse) are its children"

    first.send_signal(signal.SIGKILL)  # no handler of the worker's runs
    first.wait(timeout=10)
    eventually(lambda: not any(_running(pid) for pid in children), 10, f"children {children} died with it", log)
    connection.delete(HOLD_KEY)  # the provider answers again; the answer to the dead run is lost
    db.session.rollback()
    assert db.session.get(OutboxIntent, intent_id).status == jobs.RUNNING, log()

    started = time.monotonic()
    workers.start()
    eventually(lambda: "intent: ('done'" in _state(intent_id, key), 90, "the restarted worker finished the intent", log)
    recovered_in = time.monotonic() - started

    messages = [m for m in simulator.messages() if m["to"] == PHONE]
    assert len(messages) == 1, log()  # exactly once
    db.session.rollback()
    note = db.session.scalar(select(Notification).where(Notification.key == key))
    assert (note.status, note.provider_id) == ("sent", messages[0]["sid"]), log()
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    assert effect.adopted is (moment == "after"), log()
    assert db.session.get(OutboxIntent, intent_id).status == DONE
    print(f"\nkilled {moment} the provider took the message: recovered in {recovered_in:.1f}s")
