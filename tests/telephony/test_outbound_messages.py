"""An agent's answer on a WhatsApp/SMS case goes back on her channel, once, through the outbox,
checked against Twilio's OpenAPI document: free text inside WhatsApp's 24-hour window, the
approved template outside it (or SMS without one), with delivery and read reports on the case."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.jobs import OutboxIntent, run_intent
from app.telephony.twilio_provider import TwilioProvider
from app.tickets import services, tasks
from app.tickets.models import MessageTemplate, Notification, Ticket
from tests.telephony.conftest import INBOUND_PATH, MONDAY_MORNING, message_params, run_jobs
from tests.telephony.oai import OpenAPICheckedHttpClient

PHONE = "+85291234567"
ACCOUNT = "AC" + "a" * 32
TWILIO = {
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
    "TWILIO_CALLER_ID": "+622150001234",
    "TWILIO_WHATSAPP_FROM": "+622150009999",
    "PUBLIC_BASE_URL": "https://halo.example.org",
    "TICKETS_MESSENGER": "app.telephony.messaging:sms_messenger",
}
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CONTENT_SID = "HX" + "c" * 32


class DistinctMessages(OpenAPICheckedHttpClient):
    """Twilio's own example answer, with a message id of its own for each message sent (the
    example's id is always the same, and a message id is unique)."""

    def request(self, method, url, params=None, data=None, **kwargs):  # type: ignore[no-untyped-def]
        if method.upper() == "POST" and url == MESSAGES_URL and not self.answers and not self.errors:
            example = self.example(method, url, "201")
            example["sid"] = "SM" + uuid.uuid4().hex
            self.answer_next(201, example)
        return super().request(method, url, params, data, **kwargs)


@pytest.fixture
def twilio(app):
    """Twilio configured; every REST request checked against its OpenAPI document."""
    fake = DistinctMessages()
    app.config.update(TWILIO)
    app.extensions["telephony_provider"] = TwilioProvider(app.config, http_client=fake)
    tasks.set_messenger(None)
    yield fake
    app.extensions.pop("telephony_provider", None)


@pytest.fixture
def post(post, app):  # type: ignore[no-untyped-def]
    """Signed as Twilio signs: over the public URL when PUBLIC_BASE_URL is set."""

    def _post(path, data, **kwargs):  # type: ignore[no-untyped-def]
        base = app.config.get("PUBLIC_BASE_URL")
        if base and "url" not in kwargs:
            kwargs["url"] = base + path
        return post(path, data, **kwargs)

    return _post


def sid(n: int) -> str:
    return f"SM{n:032d}"


def _conversation(post, db, body: str = "Klaim saya", sender: str = "whatsapp:" + PHONE) -> int:
    """She writes; her first answer is sent; returns her case's id."""
    assert post(INBOUND_PATH, message_params(sid(1), body, sender=sender)).status_code == 200
    ticket_id = db.session.scalar(select(Ticket.id))
    run_jobs()
    return ticket_id


def _answer(db, ticket_id: int, agent, text: str = "Klaim Anda sedang kami proses.") -> None:
    services.reply(ticket_id, text, actor_id=agent.id)
    db.session.commit()
    run_jobs()


def _template(db, language: str = "id") -> MessageTemplate:
    template = MessageTemplate(
        purpose="message",
        language=language,
        content_sid=CONTENT_SID,
        body="Ada jawaban baru untuk kasus {{1}}. Balas pesan ini untuk membacanya.",
        variables=["reference"],
    )
    db.session.add(template)
    db.session.commit()
    return template


def _requests_to_messages(fake) -> list[dict]:
    return [r["data"] for r in fake.requests if r["url"] == MESSAGES_URL]


def test_inside_the_window_the_answer_goes_by_whatsapp_as_written(post, db, frozen, twilio, auth):
    ticket_id = _conversation(post, db)
    frozen.shift(timedelta(hours=3))
    _answer(db, ticket_id, auth.user("agent"))
    first, answer = _requests_to_messages(twilio)
    assert "STATUS" in first["Body"]  # the first answer, on WhatsApp too
    assert answer["To"] == f"whatsapp:{PHONE}" and answer["From"] == "whatsapp:+622150009999"
    assert answer["Body"] == "Klaim Anda sedang kami proses."
    assert answer["StatusCallback"] == "https://halo.example.org/telephony/messaging/status"
    assert "ContentSid" not in answer
    note = db.session.scalars(select(Notification).order_by(Notification.id)).all()[-1]
    assert (note.channel, note.status, note.content_sid) == ("whatsapp", "sent", None)
    assert note.provider_id.startswith("SM")


@pytest.mark.parametrize(
    ("after", "mode"),
    [
        (timedelta(hours=24) - timedelta(seconds=1), "free"),
        (timedelta(hours=24), "template"),
        (timedelta(days=3), "template"),
    ],
)
def test_the_24_hour_window_on_both_sides_of_its_end(post, db, frozen, twilio, auth, after, mode):
    ticket_id = _conversation(post, db)
    reference = db.session.get(Ticket, ticket_id).reference
    _template(db)
    frozen.move_to(MONDAY_MORNING + after)
    _answer(db, ticket_id, auth.user("agent"), "Mohon kirim surat dokter.")
    answer = _requests_to_messages(twilio)[-1]
    assert answer["To"] == f"whatsapp:{PHONE}"
    if mode == "free":
        assert answer["Body"] == "Mohon kirim surat dokter." and "ContentSid" not in answer
        return
    assert "Body" not in answer  # the template's text is WhatsApp's, not ours
    assert answer["ContentSid"] == CONTENT_SID
    assert json.loads(answer["ContentVariables"]) == {"1": reference}
    note = db.session.scalars(select(Notification).order_by(Notification.id)).all()[-1]
    assert note.content_sid == CONTENT_SID and note.content_variables == {"1": reference}
    assert note.body == f"Ada jawaban baru untuk kasus {reference}. Balas pesan ini untuk membacanya."


def test_outside_the_window_without_a_template_the_answer_goes_by_sms(post, db, frozen, twilio, auth):
    ticket_id = _conversation(post, db)
    frozen.shift(timedelta(hours=30))
    _answer(db, ticket_id, auth.user("agent"), "Mohon kirim surat dokter.")
    answer = _requests_to_messages(twilio)[-1]
    assert answer["To"] == PHONE and answer["From"] == "+622150001234"
    assert answer["Body"].endswith("Mohon kirim surat dokter.")
    whatsapp, sms = db.session.scalars(select(Notification).order_by(Notification.id)).all()[-2:]
    assert (whatsapp.channel, whatsapp.status, whatsapp.last_error) == ("whatsapp", "skipped", "whatsapp_window_closed")
    assert (sms.channel, sms.status) == ("sms", "sent")


def test_her_next_message_opens_the_window_again(post, db, frozen, twilio, auth):
    ticket_id = _conversation(post, db)
    _template(db)
    frozen.shift(timedelta(days=2))
    post(INBOUND_PATH, message_params(sid(2), "Halo, masih ada?"))
    frozen.shift(timedelta(minutes=10))
    _answer(db, ticket_id, auth.user("agent"), "Ya, kami di sini.")
    assert _requests_to_messages(twilio)[-1]["Body"] == "Ya, kami di sini."


def test_an_sms_case_is_answered_by_sms_naming_the_case(post, db, frozen, twilio, auth):
    ticket_id = _conversation(post, db, sender=PHONE)
    reference = db.session.get(Ticket, ticket_id).reference
    _answer(db, ticket_id, auth.user("agent"), "Kami cek dulu.")
    answer = _requests_to_messages(twilio)[-1]
    assert answer["To"] == PHONE and answer["Body"] == f"BPJS Ketenagakerjaan ({reference}): Kami cek dulu."


def test_an_answer_is_never_sent_twice(post, db, frozen, twilio, auth):
    ticket_id = _conversation(post, db)
    agent = auth.user("agent")
    event_id = services.reply(ticket_id, "Sekali saja.", actor_id=agent.id).id
    from app.tickets.services.notify import notify

    notify(db.session.get(Ticket, ticket_id), "message", key_suffix=f"e{event_id}", channel="whatsapp")
    db.session.commit()
    [intent_id] = db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.key.like(f"ticket-notify:{ticket_id}:message:%"))
    ).all()
    assert run_intent(intent_id) == "done"
    assert run_intent(intent_id) == "already-done"  # a redelivered job
    tasks.notify_worker(ticket_id, "message", f"e{event_id}", "whatsapp")  # the function itself again
    db.session.commit()
    bodies = [r["Body"] for r in _requests_to_messages(twilio) if r.get("Body") == "Sekali saja."]
    assert bodies == ["Sekali saja."]


STATUS_PATH = "/telephony/messaging/status"


def _report(message_sid: str, status: str) -> dict[str, str]:
    return {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": ACCOUNT,
        "From": "whatsapp:+622150009999",
        "To": f"whatsapp:{PHONE}",
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
    }


def test_delivery_and_read_reports_in_any_order_end_at_read_on_the_case_page(post, db, frozen, twilio, auth, client):
    ticket_id = _conversation(post, db)
    agent = auth.login_as("agent", language="en")
    _answer(db, ticket_id, agent)
    note = db.session.scalars(select(Notification).order_by(Notification.id)).all()[-1]
    message_sid, note_id = note.provider_id, note.id
    for status in ("read", "delivered", "sent", "read", "queued"):  # read overtook the others
        assert post(STATUS_PATH, _report(message_sid, status)).status_code == 204
    db.session.expire_all()
    assert db.session.get(Notification, note_id).carrier_status == "read"
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    entry = html.split(f'data-notification="{note_id}"', 1)[1].split("</li>", 1)[0]
    assert "WhatsApp to the worker" in entry and "Read" in entry
    assert "carrier-read" in entry


def test_the_workspace_says_which_way_the_answer_goes_before_sending(post, db, frozen, auth, client, messenger):
    ticket_id = _conversation(post, db)
    reference = db.session.get(Ticket, ticket_id).reference
    auth.login_as("agent", language="en")

    def notice() -> tuple[str, str]:
        html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
        box = html.split('id="reply-route"', 1)[1].split("</div>", 1)[0]
        mode = box.split('data-mode="', 1)[1].split('"', 1)[0]
        return mode, " ".join(box.split())

    mode, text = notice()
    assert mode == "free" and "window is open until" in text and "24 Nov 2026 10:00 WIB" in text
    frozen.shift(timedelta(hours=25))
    mode, text = notice()
    assert mode == "sms" and "goes to her number by SMS" in text
    _template(db)
    mode, text = notice()
    assert mode == "template" and f"Ada jawaban baru untuk kasus {reference}." in text
    post(INBOUND_PATH, message_params(sid(9), "BERHENTI"))
    mode, text = notice()
    assert mode == "opted_out" and "She sent STOP" in text


def test_the_notice_reads_in_indonesian_for_an_indonesian_agent(post, db, frozen, auth, client, messenger):
    ticket_id = _conversation(post, db)
    auth.login_as("agent", language="id")
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    box = " ".join(html.split('id="reply-route"', 1)[1].split("</div>", 1)[0].split())
    assert "jendela 24 jam terbuka sampai" in box


def test_a_portal_complaint_she_answered_by_sms_is_answered_by_sms_as_written(post, db, frozen, twilio, auth):
    portal = services.open_ticket(channel="portal", category="claim_jht", subject="JHT", requester_phone=PHONE)
    services.notify_created(portal)
    db.session.commit()
    portal_id, reference = portal.id, portal.reference
    run_jobs()
    post(INBOUND_PATH, message_params(sid(5), "Kapan dibayar?", sender=PHONE))
    assert db.session.scalar(select(Ticket.id).where(Ticket.id != portal_id)) is None  # no new case
    _answer(db, portal_id, auth.user("agent"), "Minggu depan.")
    answer = _requests_to_messages(twilio)[-1]
    assert answer["To"] == PHONE and answer["Body"] == f"BPJS Ketenagakerjaan ({reference}): Minggu depan."
