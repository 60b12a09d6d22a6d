"""A worker's SMS goes out once even when the worker dies mid-send (Twilio's REST contract checked).

``notify_worker`` used to write the notification, call Twilio and mark it sent in the job's one
transaction: killed after Twilio took the message and before the commit, the retry sent it
again. Now a marker is committed before Twilio is asked, and a run that finds it without an
answer lists the messages sent to that number since (``GET Messages.json?To=&From=``, checked
against Twilio's OpenAPI document) and adopts ours, matched by its body.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from app.core import jobs
from app.core.jobs import DONE, OutboxEffect, OutboxIntent, run_intent
from app.extensions import db
from app.telephony import tasks as telephony_tasks
from app.telephony.clicktocall import create_callback
from app.telephony.simulated_provider import SimulatorProvider
from app.telephony.twilio_provider import TwilioProvider
from app.tickets import services
from app.tickets import tasks as ticket_tasks
from app.tickets.models import Notification
from tests.telephony.oai import OpenAPICheckedHttpClient

ACCOUNT = "AC" + "a" * 32
CONFIG = {
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
PHONE = "+85291234567"
SENDER = "+622150001234"


class _Died(BaseException):
    """The worker process dying (not an Exception: nothing in the job catches it)."""


@pytest.fixture
def fake(app):  # type: ignore[no-untyped-def]
    client = OpenAPICheckedHttpClient()
    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=client)
    app.config.update(
        TWILIO_CALLER_ID=SENDER,
        TICKETS_MESSENGER="app.telephony.messaging:sms_messenger",
        PUBLIC_BASE_URL="https://halo.example.org",
        OUTBOX_EFFECT_GRACE_SECONDS=0,
    )
    ticket_tasks.set_messenger(None)
    yield client
    app.extensions.pop("telephony_provider", None)


def _sms_intent() -> tuple[int, str]:
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone=PHONE)
    intent = jobs.record_intent(ticket_tasks.notify_worker, ticket.id, "created", "0", "sms")
    db.session.commit()
    return intent.id, f"ticket-notify:{ticket.id}:created:0:sms"


def _posts(fake: OpenAPICheckedHttpClient) -> list[dict]:
    return [r for r in fake.requests if r["method"] == "POST" and r["url"] == MESSAGES_URL]


def _die_sending(monkeypatch: pytest.MonkeyPatch, intent_id: int, *, after: bool) -> dict[str, str]:
    sent: dict[str, str] = {}
    real = TwilioProvider.send_sms

    def dying(self, **kwargs):  # type: ignore[no-untyped-def]
        if after:
            sent["sid"] = real(self, **kwargs)
            sent["body"] = kwargs["body"]
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(TwilioProvider, "send_sms", dying)
        with pytest.raises(_Died):
            run_intent(intent_id)
    db.session.rollback()  # the process is gone: only what it committed remains
    return sent


def _list_answer(fake: OpenAPICheckedHttpClient, messages: list[dict]) -> None:
    page = fake.example("GET", MESSAGES_URL)
    template = page["messages"][0]
    page["messages"] = [{**template, "from": SENDER, "to": PHONE, **m} for m in messages]
    page["next_page_uri"] = None
    fake.answer_next(200, page)


def _marker(key: str) -> OutboxEffect:
    db.session.expire_all()
    found = db.session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    assert found is not None
    return found


def test_killed_after_twilio_took_the_message_the_retry_finds_it_and_sends_nothing(fake, monkeypatch):
    intent_id, key = _sms_intent()
    sent = _die_sending(monkeypatch, intent_id, after=True)
    assert len(_posts(fake)) == 1
    marker = _marker(key)
    assert marker.status == jobs.SENDING and marker.result is None
    assert db.session.get(OutboxIntent, intent_id).status == jobs.RUNNING

    created = format_datetime(marker.started_at + timedelta(seconds=1), usegmt=True)
    earlier = format_datetime(marker.started_at - timedelta(hours=3), usegmt=True)
    _list_answer(fake, [
        {"sid": sent["sid"], "body": sent["body"], "date_created": created},
        # The same number, other texts or older: not this notification's.
        {"sid": "SM" + "1" * 32, "body": "another text", "date_created": created},
        {"sid": "SM" + "2" * 32, "body": sent["body"], "date_created": earlier},
    ])
    assert run_intent(intent_id) == "done"

    assert len(_posts(fake)) == 1  # never sent a second time
    [lookup] = [r for r in fake.requests if r["method"] == "GET"]
    assert lookup["url"] == MESSAGES_URL
    assert (lookup["params"]["To"], lookup["params"]["From"]) == (PHONE, SENDER)
    note = db.session.scalar(select(Notification))
    assert (note.status, note.provider_id, note.attempts) == ("sent", sent["sid"], 2)
    assert _marker(key).adopted is True
    assert db.session.get(OutboxIntent, intent_id).status == DONE
    # Delivery reports that came while the message was unrecorded are replayed now.
    replay = db.session.scalar(select(OutboxIntent).where(OutboxIntent.key == f"delivery-replay:{sent['sid']}"))
    assert replay is not None


def test_killed_before_twilio_took_it_the_retry_asks_then_sends_once(fake, monkeypatch):
    intent_id, key = _sms_intent()
    _die_sending(monkeypatch, intent_id, after=False)
    assert _posts(fake) == []
    _list_answer(fake, [])
    assert run_intent(intent_id) == "done"
    [post] = _posts(fake)
    assert post["data"]["To"] == PHONE
    assert post["data"]["StatusCallback"] == "https://halo.example.org/telephony/messaging/status"
    note = db.session.scalar(select(Notification))
    assert note.status == "sent" and note.provider_id == _marker(key).result


def test_a_twilio_time_out_is_asked_about_before_sending_again(fake):
    intent_id, key = _sms_intent()
    fake.fail_next(503)
    with pytest.raises(Exception, match="503"):
        run_intent(intent_id)
    db.session.rollback()
    assert _marker(key).status == jobs.UNKNOWN
    _list_answer(fake, [])  # it did not go out
    assert run_intent(intent_id) == "done"
    assert len(_posts(fake)) == 2 and [r["method"] for r in fake.requests] == ["POST", "GET", "POST"]


def test_a_number_twilio_refuses_is_recorded_failed_and_not_retried(fake):
    intent_id, _key = _sms_intent()
    fake.fail_next(400, 21211, "Invalid 'To' Phone Number")
    assert run_intent(intent_id) == "done"
    note = db.session.scalar(select(Notification))
    assert note.status == "failed" and "21211" in (note.last_error or "")
    assert len(_posts(fake)) == 1


def test_the_call_back_sms_goes_once_too(app, fake, monkeypatch):
    callback_id = create_callback(phone=PHONE, language="id", topic="other").id
    db.session.commit()
    intent = jobs.record_intent(telephony_tasks.send_callback_sms, callback_id, queue="notifications")
    db.session.commit()
    intent_id = intent.id
    _die_sending(monkeypatch, intent_id, after=True)
    marker = _marker(f"callback-sms:{callback_id}")
    sent = _posts(fake)[0]
    created = format_datetime(marker.started_at, usegmt=True)
    _list_answer(fake, [{"sid": "SM" + "9" * 32, "body": sent["data"]["Body"], "date_created": created}])
    assert run_intent(intent_id) == "done"
    assert len(_posts(fake)) == 1
    assert _marker(f"callback-sms:{callback_id}").result == "SM" + "9" * 32


def test_the_simulator_lists_what_it_sent_as_twilio_does(app):
    simulator = SimulatorProvider(app.config["REDIS_URL"])
    simulator.pop_all("messages")
    from app.core.time import utcnow

    since = utcnow() - timedelta(seconds=1)
    sid = simulator.send_sms(to=PHONE, from_=SENDER, body="hello")
    simulator.send_sms(to="+886912345678", from_=SENDER, body="hello")
    found = simulator.find_messages(to=PHONE, from_=SENDER, since=since)
    assert [(m["sid"], m["body"]) for m in found] == [(sid, "hello")]
    assert simulator.find_messages(to=PHONE, from_=SENDER, since=utcnow() + timedelta(seconds=5)) == []
    simulator.pop_all("messages")
    simulator.pop_all("sms")
