"""A call-back attempt left "dialing" by a crash: housekeeping asks the provider what happened.

The worker can die after writing the attempt and before asking the provider (nothing was
dialled: retry), or after the provider placed the call but before that was written (the call
happened: adopt it, never dial again). If the provider cannot say, nothing is done yet.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from app.agents import routing
from app.agents.models import WorkItem
from app.core.jobs import OutboxIntent
from app.core.scheduler import periodic_jobs
from app.extensions import db
from app.telephony import tasks
from app.telephony.clicktocall import create_callback
from app.telephony.models import Call, CallbackAttempt, CallbackRequest
from app.telephony.twilio_provider import TwilioProvider
from tests.routing.conftest import make_agent
from tests.telephony.oai import OpenAPICheckedHttpClient

ACCOUNT = "AC" + "a" * 32
CONFIG = {
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}
CALLS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
PHONE = "+886912345678"


class _Died(BaseException):
    """The worker process dying (not an Exception: nothing in the job catches it)."""


@pytest.fixture
def fake(app):  # type: ignore[no-untyped-def]
    client = OpenAPICheckedHttpClient()
    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=client)
    app.config["TWILIO_CALLER_ID"] = "+622150001234"
    yield client
    app.extensions.pop("telephony_provider", None)


@pytest.fixture
def accepted(app, clock, fake):  # type: ignore[no-untyped-def]
    """A call-back an agent has accepted: the place_callback job is due."""
    agent = make_agent()
    callback = create_callback(phone=PHONE, language="id", topic="other")
    db.session.commit()
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "callback"))
    routing.accept(agent.id, item.id)
    db.session.commit()
    return {"callback_id": callback.id, "item_id": item.id, "agent_id": agent.id}


def _crash_in_place_callback(item_id: int) -> None:
    with pytest.raises(_Died):
        tasks.place_callback(item_id)
    db.session.rollback()  # the process is gone: only what it committed remains


def _dials(fake: OpenAPICheckedHttpClient) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["url"] == CALLS_URL]


def _list_answer(fake: OpenAPICheckedHttpClient, calls: list[dict]) -> None:
    page = fake.example("GET", CALLS_URL)
    template = page["calls"][0]
    page["calls"] = [{**template, **call} for call in calls]
    page["next_page_uri"] = None  # one page: the example's points at a second one
    fake.answer_next(200, page)


def _after_grace(clock):  # type: ignore[no-untyped-def]
    clock.current = db.session.scalar(select(CallbackAttempt.created_at)) + timedelta(seconds=121)


def test_died_before_dialling_the_attempt_is_retried_and_dialled_once(accepted, fake, clock, monkeypatch):
    def die(self, **kwargs):  # type: ignore[no-untyped-def]
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(TwilioProvider, "create_call", die)
        _crash_in_place_callback(accepted["item_id"])
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "dialing"

    # Within the grace period nothing is touched (the job may still be on its way).
    clock.current = attempt.created_at + timedelta(seconds=30)
    assert tasks.recover_stalled_dials() == {"adopted": 0, "retried": 0, "unknown": 0}
    assert fake.requests == []

    _after_grace(clock)
    _list_answer(fake, [])
    assert tasks.recover_stalled_dials() == {"adopted": 0, "retried": 1, "unknown": 0}
    db.session.commit()
    [lookup] = fake.requests
    assert lookup["method"] == "GET" and lookup["params"]["To"] == PHONE
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "error" and "no call placed" in attempt.error
    callback = db.session.get(CallbackRequest, accepted["callback_id"])
    assert callback.status == "scheduled" and callback.next_attempt_at > clock.current
    # The acceptance ended (the agent is freed) and the retry is a recorded intent.
    assert db.session.get(WorkItem, accepted["item_id"]).status == "cancelled"
    retry = db.session.scalar(
        select(OutboxIntent).where(OutboxIntent.func == "app.telephony.tasks.retry_callback")
    )
    assert retry is not None and retry.args == [accepted["callback_id"]]

    # The retry comes round: back in the queue, accepted, dialled exactly once.
    tasks.retry_callback(accepted["callback_id"])
    db.session.commit()
    agent = make_agent()
    routing.route()
    item = db.session.scalar(
        select(WorkItem).where(WorkItem.kind == "callback", WorkItem.status == "offered")
    )
    routing.accept(item.agent_id, item.id)
    db.session.commit()
    tasks.place_callback(item.id)
    db.session.commit()
    assert agent.id  # a second agent was there to take it
    assert len(_dials(fake)) == 1
    attempts = db.session.scalars(select(CallbackAttempt).order_by(CallbackAttempt.attempt_no)).all()
    assert [(a.attempt_no, a.status) for a in attempts] == [(1, "error"), (2, "dialed")]


def test_died_after_dialling_the_call_is_adopted_not_placed_again(accepted, fake, clock, monkeypatch):
    placed = {}
    real_create = TwilioProvider.create_call

    def dial_then_die(self, **kwargs):  # type: ignore[no-untyped-def]
        placed["sid"] = real_create(self, **kwargs)
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(TwilioProvider, "create_call", dial_then_die)
        _crash_in_place_callback(accepted["item_id"])
    assert len(_dials(fake)) == 1
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "dialing" and attempt.call_sid is None

    _after_grace(clock)
    created = format_datetime(attempt.created_at + timedelta(seconds=1), usegmt=True)
    earlier = format_datetime(attempt.created_at - timedelta(hours=2), usegmt=True)
    _list_answer(
        fake,
        [
            {"sid": placed["sid"], "to": PHONE, "status": "in-progress", "date_created": created},
            # An older call to the same number (an earlier request) is not this attempt's.
            {"sid": "CA" + "e" * 32, "to": PHONE, "status": "completed", "date_created": earlier},
        ],
    )
    assert tasks.recover_stalled_dials() == {"adopted": 1, "retried": 0, "unknown": 0}
    db.session.commit()
    attempt = db.session.scalar(select(CallbackAttempt))
    assert (attempt.status, attempt.call_sid) == ("dialed", placed["sid"])
    call = db.session.scalar(select(Call).where(Call.call_sid == placed["sid"]))
    assert call.callback_id == accepted["callback_id"] and call.agent_id == accepted["agent_id"]
    assert db.session.get(WorkItem, accepted["item_id"]).status == "connected"
    assert len(_dials(fake)) == 1  # never dialled again
    # A later pass has nothing left to do.
    assert tasks.recover_stalled_dials() == {"adopted": 0, "retried": 0, "unknown": 0}


def test_status_callbacks_that_came_before_the_adoption_are_applied(accepted, fake, clock, monkeypatch, post):
    placed = {}
    real_create = TwilioProvider.create_call

    def dial_then_die(self, **kwargs):  # type: ignore[no-untyped-def]
        placed["sid"] = real_create(self, **kwargs)
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(TwilioProvider, "create_call", dial_then_die)
        _crash_in_place_callback(accepted["item_id"])
    # Twilio reported the worker did not answer while we had no Call row for it.
    for seq, status in enumerate(["initiated", "ringing", "no-answer"]):
        post("/telephony/voice/status", {"CallSid": placed["sid"], "CallStatus": status, "SequenceNumber": str(seq)})

    _after_grace(clock)
    created = format_datetime(db.session.scalar(select(CallbackAttempt.created_at)), usegmt=True)
    _list_answer(fake, [{"sid": placed["sid"], "to": PHONE, "status": "no-answer", "date_created": created}])
    tasks.recover_stalled_dials()
    db.session.commit()
    attempt = db.session.scalar(select(CallbackAttempt))
    assert (attempt.status, attempt.call_sid) == ("no-answer", placed["sid"])
    assert db.session.get(CallbackRequest, accepted["callback_id"]).status == "scheduled"
    assert len(_dials(fake)) == 1


def test_when_the_provider_cannot_say_nothing_is_decided(accepted, fake, clock, monkeypatch):
    def die(self, **kwargs):  # type: ignore[no-untyped-def]
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(TwilioProvider, "create_call", die)
        _crash_in_place_callback(accepted["item_id"])
    _after_grace(clock)
    fake.fail_next(503)
    assert tasks.recover_stalled_dials() == {"adopted": 0, "retried": 0, "unknown": 1}
    db.session.commit()
    assert db.session.scalar(select(CallbackAttempt.status)) == "dialing"
    assert db.session.get(CallbackRequest, accepted["callback_id"]).status == "dialing"
    assert _dials(fake) == []


@pytest.mark.parametrize("placed", [True, False], ids=["placed", "not-placed"])
def test_a_dial_without_a_clear_answer_is_asked_about_not_repeated(accepted, fake, clock, placed):
    """Twilio answered 503 (or the request timed out): the call may or may not exist. The
    attempt waits for the look-up after the grace period: adopted if placed, else retried."""
    fake.fail_next(503)
    tasks.place_callback(accepted["item_id"])
    db.session.commit()
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "dialing"
    assert db.session.get(WorkItem, accepted["item_id"]).status != "cancelled"  # the agent waits

    _after_grace(clock)
    sid = "CA" + "f" * 32
    created = format_datetime(attempt.created_at + timedelta(seconds=1), usegmt=True)
    _list_answer(fake, [{"sid": sid, "to": PHONE, "status": "ringing", "date_created": created}] if placed else [])
    expected = {"adopted": 1, "retried": 0, "unknown": 0} if placed else {"adopted": 0, "retried": 1, "unknown": 0}
    assert tasks.recover_stalled_dials() == expected
    db.session.commit()
    attempt = db.session.scalar(select(CallbackAttempt))
    callback = db.session.get(CallbackRequest, accepted["callback_id"])
    if placed:
        assert (attempt.status, attempt.call_sid) == ("dialed", sid)
        assert db.session.get(WorkItem, accepted["item_id"]).status == "connected"
    else:
        assert attempt.status == "error" and callback.status == "scheduled"
    assert len(_dials(fake)) == 1  # never dialled a second time meanwhile


def test_the_simulator_answers_the_question_too(app, sim, clock, client, monkeypatch):
    """End to end on the embedded default: the adopted call rings the worker's (simulated) phone."""
    agent = make_agent()
    response = client.post("/api/v1/callbacks", json={"phone": PHONE, "language": "id", "topic": "other"})
    callback_id = response.get_json()["id"]
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "callback"))
    routing.accept(agent.id, item.id)
    db.session.commit()
    item_id = item.id

    def died_after_dialling(attempt, callback, sid):  # type: ignore[no-untyped-def]
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(tasks, "_dialled", died_after_dialling)
        _crash_in_place_callback(item_id)
    _after_grace(clock)
    assert tasks.recover_stalled_dials()["adopted"] == 1
    db.session.commit()
    [leg] = sim.poll()  # exactly one call to the worker
    softphone = sim.agent_softphone(agent.id, item_id)
    leg.answer()
    assert leg.state == softphone.state == "conference"
    clock.advance(40)
    leg.hangup()
    assert db.session.get(CallbackRequest, callback_id).status == "completed"


def test_the_housekeeping_runs_in_every_worker(app):
    job = periodic_jobs(app)["telephony"]
    assert job.step is tasks.housekeeping and job.setting == "TELEPHONY_HOUSEKEEPING_SECONDS"
