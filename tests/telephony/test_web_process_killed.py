"""Two web processes serve Twilio's webhooks; one is SIGKILLed in the middle of the stream.

Real gunicorn processes (``-k gthread``, as the README deploys them) on the test database and
Redis, behind no proxy: this test plays both Twilio and the balancer in front. Each call's
webhooks (inbound, the three menus, the caller hanging up in the queue, the final status) go to
the processes in turn; a request that meets a connection failure (refused, reset, no answer) is
sent again, unchanged, to the other process, as Twilio's connection retries reach whichever
process the balancer picks (signatures are over ``PUBLIC_BASE_URL``, the same on both). A request
the killed process had already committed is therefore delivered twice; one it had not finished
rolled back. Afterwards every call is there once, in its final state, with one queue entry and
each call-log fact once: nothing lost, nothing recorded twice.
"""

from __future__ import annotations

import http.client
import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app.agents.models import WorkItem
from app.extensions import db
from app.telephony.models import Call, CallEvent
from app.telephony.signature import sign, webhook_token
from config import TestingConfig
from tests.live import Gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.committed]

PUBLIC = "https://halo.example.org"
CALLS = 36
CONCURRENT = 4  # calls in flight at once ("Twilio" threads): sized for a 2-core machine
KILL_AFTER = 40  # webhooks answered before process A is killed


def _call_steps(sid: str, caller: str) -> list[tuple[str, dict[str, str]]]:
    base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": "+622150001234",
            "Direction": "inbound", "ApiVersion": "2010-04-01"}
    return [
        ("/telephony/voice/inbound", {**base, "CallStatus": "ringing"}),
        ("/telephony/voice/language", {**base, "CallStatus": "in-progress", "Digits": "2"}),
        ("/telephony/voice/kpj", {**base, "CallStatus": "in-progress", "Digits": "#"}),
        ("/telephony/voice/topic", {**base, "CallStatus": "in-progress", "Digits": "1"}),
        ("/telephony/voice/queue-exit", {**base, "CallStatus": "in-progress", "QueueResult": "hangup"}),
        ("/telephony/voice/status", {**base, "CallStatus": "completed", "CallDuration": "42"}),
    ]


class Twilio:
    """Posts signed webhooks to the live processes in turn; retries on connection failures."""

    def __init__(self, processes: list[Gunicorn], token: str) -> None:
        self.processes, self.token = processes, token
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.answered = 0
        self.retries = 0
        self.cut = 0  # requests the killed process had received: cut mid-way (reset, no answer)
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def post(self, path: str, form: dict[str, str]) -> int:
        body = urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": sign(PUBLIC + path, form, self.token)}
        start = next(self.turn)
        for attempt in range(8):
            process = self.processes[(start + attempt) % len(self.processes)]
            connection = http.client.HTTPConnection("127.0.0.1", process.port, timeout=15)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, no answer
                with self.lock:
                    self.retries += 1
                    self.cut += not isinstance(exc, ConnectionRefusedError)
                time.sleep(0.05)
                continue
            finally:
                connection.close()
            with self.lock:
                self.answered += 1
                self.statuses[response.status] += 1
            return response.status
        with self.lock:
            self.failures.append(f"{path} {form['CallSid']}: no process answered")
        return 0


@pytest.fixture
def web_processes(app, redis_url) -> Iterator[list[Gunicorn]]:  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    env.pop("FLASK_RUN_FROM_CLI", None)
    env.update(
        HALOPMI_CONFIG="testing",
        TEST_DATABASE_URL=TestingConfig.SQLALCHEMY_DATABASE_URI,
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=f"halopmi-test-{uuid.uuid4().hex[:8]}",
        PUBLIC_BASE_URL=PUBLIC,
        TELEPHONY_HOURS="00:00-23:59:59",  # open whenever the test runs (calls reach the queue)
        PYTHONUNBUFFERED="1",
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    processes = [Gunicorn(name, ["-k", "gthread", "--threads", "4"], "wsgi:app", env) for name in ("web-a", "web-b")]
    try:
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop()


def test_one_of_two_web_processes_killed_mid_stream_loses_and_doubles_nothing(app, web_processes):
    a, b = web_processes
    twilio = Twilio(web_processes, webhook_token(app))
    calls = [(f"CA{uuid.uuid4().hex}", f"+8529{n:07d}") for n in range(CALLS)]
    pending = iter(calls)
    pending_lock = threading.Lock()
    killed = threading.Event()

    def caller() -> None:
        while True:
            with pending_lock:
                call = next(pending, None)
            if call is None:
                return
            for path, form in _call_steps(*call):
                twilio.post(path, form)
                if not killed.is_set() and twilio.answered >= KILL_AFTER:
                    with pending_lock:
                        if not killed.is_set():
                            killed.set()
                            a.kill()  # SIGKILL, master and worker: requests in flight are cut

    threads = [threading.Thread(target=caller, name=f"twilio-{n}") for n in range(CONCURRENT)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "the webhook stream did not finish"
    assert killed.is_set() and a.process.poll() is not None

    log = f"answers {dict(twilio.statuses)}, retries {twilio.retries}\n--- web-b ---\n{b.log()}"
    assert twilio.failures == [], log
    assert set(twilio.statuses) <= {200, 204}, log  # no 5xx: the survivor took every retry

    db.session.rollback()
    sids = [sid for sid, _caller in calls]
    rows = db.session.execute(select(Call.id, Call.call_sid, Call.status, Call.exit_reason)
                              .where(Call.call_sid.in_(sids))).all()
    assert len(rows) == CALLS, log  # no call lost
    assert {row.status for row in rows} == {"completed"}, log
    ids = [row.id for row in rows]
    entries = Counter(db.session.scalars(
        select(WorkItem.ref_id).where(WorkItem.kind == "call", WorkItem.ref_id.in_(ids))))
    assert entries == Counter(ids), f"queue entries per call: {entries}\n{log}"  # each queued once
    facts = db.session.execute(
        select(CallEvent.call_id, CallEvent.kind, func.count()).where(CallEvent.call_id.in_(ids))
        .group_by(CallEvent.call_id, CallEvent.kind)
    ).all()
    assert all(count == 1 for _call, _kind, count in facts), facts  # each fact once
    kinds = Counter(kind for _call, kind, _count in facts)
    assert kinds["abandoned"] == CALLS, kinds
    print(f"\n{CALLS} calls, {twilio.answered} webhooks answered in {elapsed:.1f}s, "
          f"{twilio.retries} connection failures retried on the other process "
          f"({twilio.cut} cut in flight, the rest refused)")
