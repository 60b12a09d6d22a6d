"""SMS delivery reports: the StatusCallback our SMS carry, the signed webhook, forward-only status."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.core.jobs import OutboxIntent, run_intent
from app.telephony.models import RawWebhook
from app.telephony.twilio_provider import TwilioProvider
from app.tickets import services, tasks
from app.tickets.models import CARRIER_STATUS_RANK, Notification
from tests.telephony.oai import ContractViolation, OpenAPICheckedHttpClient, spec

STATUS_PATH = "/telephony/messaging/status"
ACCOUNT = "AC" + "a" * 32
TWILIO = {
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def report(sid: str, status: str, **more: str) -> dict[str, str]:
    values = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "From": "+622150001234",
        "To": "+85291234567",
        "ApiVersion": "2010-04-01",
    }
    values.update(more)
    return values


@pytest.fixture
def sent_sms(app, db):
    """A ticket notification handed to the provider as message ``SM…1``."""
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85291234567")
    note = Notification(
        key=f"ticket-notify:{ticket.id}:created:0:sms",
        ticket_id=ticket.id,
        channel="sms",
        destination="+85291234567",
        body="hi",
        status="sent",
        provider="telephony",
        provider_id="SM" + "1" * 32,
    )
    db.session.add(note)
    db.session.commit()
    return note


def _note(db, note_id):
    db.session.expire_all()
    return db.session.get(Notification, note_id)


def test_the_rank_table_knows_every_message_status_twilio_documents():
    documented = set(spec()["components"]["schemas"]["message_enum_status"]["enum"])
    inbound_only = {"receiving", "received"}
    assert set(CARRIER_STATUS_RANK) == documented - inbound_only


def test_an_unsigned_or_forged_report_is_refused(client, post, sent_sms, db):
    assert client.post(STATUS_PATH, data=report(sent_sms.provider_id, "delivered")).status_code == 403
    forged = post(STATUS_PATH, report(sent_sms.provider_id, "delivered"), token="not-the-token")
    assert forged.status_code == 403
    assert _note(db, sent_sms.id).carrier_status is None
    assert db.session.scalar(select(func.count()).select_from(RawWebhook)) == 0


def test_a_report_without_message_sid_is_a_400(post):
    assert post(STATUS_PATH, {"MessageStatus": "sent"}).status_code == 400
    assert post(STATUS_PATH, {"MessageSid": "SM" + "2" * 32}).status_code == 400


def test_reports_move_the_status_forward_only_and_replays_add_nothing(post, sent_sms, db):
    sid = sent_sms.provider_id
    assert post(STATUS_PATH, report(sid, "sent")).status_code == 204
    assert _note(db, sent_sms.id).carrier_status == "sent"
    assert post(STATUS_PATH, report(sid, "delivered")).status_code == 204
    delivered_at = _note(db, sent_sms.id).carrier_status_at
    # Late, replayed and out-of-order reports never take it back.
    for status in ("sent", "queued", "delivered", "undelivered", "sending"):
        assert post(STATUS_PATH, report(sid, status)).status_code == 204
    note = _note(db, sent_sms.id)
    assert (note.carrier_status, note.carrier_status_at) == ("delivered", delivered_at)
    keys = db.session.scalars(select(RawWebhook.key).where(RawWebhook.call_sid == sid)).all()
    assert len(keys) == len(set(keys)) == 5  # one raw row per (message, status): replays collide
    assert all(key.startswith(f"sms-status:{sid}:") for key in keys)


def test_delivered_arriving_before_sent_stays_delivered(post, sent_sms, db):
    sid = sent_sms.provider_id
    post(STATUS_PATH, report(sid, "delivered"))
    post(STATUS_PATH, report(sid, "sent"))
    assert _note(db, sent_sms.id).carrier_status == "delivered"


def test_an_undelivered_message_keeps_the_carriers_error_code(post, sent_sms, db):
    sid = sent_sms.provider_id
    post(STATUS_PATH, report(sid, "sent"))
    post(STATUS_PATH, report(sid, "undelivered", ErrorCode="30003"))
    note = _note(db, sent_sms.id)
    assert (note.carrier_status, note.carrier_error_code) == ("undelivered", "30003")
    assert note.carrier_status_at is not None
    post(STATUS_PATH, report(sid, "delivered"))  # the first final outcome stays
    assert _note(db, sent_sms.id).carrier_status == "undelivered"


def test_a_report_that_overtakes_the_send_is_kept_raw_and_replayed(post, app, db):
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85291234567")
    db.session.commit()
    sid = "SM" + "3" * 32
    # Twilio reports before the job that sent the message has committed its id.
    assert post(STATUS_PATH, report(sid, "delivered")).status_code == 204
    assert db.session.scalar(select(func.count()).select_from(RawWebhook)) == 1

    class Fixed(tasks.LogMessenger):
        name = "telephony"
        delivery_replay = "app.telephony.tasks.replay_message_statuses"

        def send_sms(self, to: str, body: str) -> str:
            return sid

    tasks.set_messenger(Fixed())
    try:
        tasks.notify_worker(ticket.id, "created", "0", "sms")
        db.session.commit()
    finally:
        tasks.set_messenger(None)
    note = db.session.scalar(select(Notification))
    assert note.provider_id == sid and note.carrier_status is None
    note_id = note.id
    [replay] = db.session.scalars(
        select(OutboxIntent).where(OutboxIntent.func == "app.telephony.tasks.replay_message_statuses")
    ).all()
    assert replay.args == [sid] and replay.queue == "notifications"
    assert run_intent(replay.id) == "done"
    assert _note(db, note_id).carrier_status == "delivered"


def test_sms_are_created_with_the_status_callback_checked_against_twilios_contract(app, db):
    fake = OpenAPICheckedHttpClient()
    app.config.update(
        TWILIO,
        PUBLIC_BASE_URL="https://halo.example.org",
        TWILIO_CALLER_ID="+622150001234",
        TICKETS_MESSENGER="app.telephony.messaging:sms_messenger",
    )
    app.extensions["telephony_provider"] = TwilioProvider(app.config, http_client=fake)
    tasks.set_messenger(None)
    try:
        ticket = services.open_ticket(
            channel="portal", category="other", subject="x", requester_phone="+85291234567"
        )
        tasks.notify_worker(ticket.id, "created", "0", "sms")
        db.session.commit()
    finally:
        app.extensions.pop("telephony_provider", None)
    [request] = fake.requests
    assert request["url"] == MESSAGES_URL
    assert request["data"]["StatusCallback"] == "https://halo.example.org/telephony/messaging/status"
    assert request["data"]["To"] == "+85291234567" and request["data"]["From"] == "+622150001234"
    note = db.session.scalar(select(Notification))
    assert note.provider_id.startswith("SM")


def test_without_a_public_url_twilio_gets_no_status_callback(app, db):
    fake = OpenAPICheckedHttpClient()
    app.config.update(TWILIO, PUBLIC_BASE_URL=None, TICKETS_MESSENGER="app.telephony.messaging:sms_messenger")
    app.extensions["telephony_provider"] = TwilioProvider(app.config, http_client=fake)
    tasks.set_messenger(None)
    try:
        ticket = services.open_ticket(
            channel="portal", category="other", subject="x", requester_phone="+85291234567"
        )
        tasks.notify_worker(ticket.id, "created", "0", "sms")
        db.session.commit()
    finally:
        app.extensions.pop("telephony_provider", None)
    [request] = fake.requests
    assert "StatusCallback" not in request["data"]


def test_the_checker_refuses_a_relative_status_callback():
    fake = OpenAPICheckedHttpClient()
    with pytest.raises(ContractViolation, match="not an absolute URL"):
        fake.check("POST", MESSAGES_URL, None, {"To": "+1", "Body": "x", "StatusCallback": "/telephony/x"})


def test_the_simulator_reports_delivery_signed_and_the_ticket_page_shows_it(
    app, db, sim, client, auth
):
    app.config.update(TICKETS_MESSENGER="app.telephony.messaging:sms_messenger")
    tasks.set_messenger(None)
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85291234567")
    db.session.commit()
    tasks.notify_worker(ticket.id, "created", "0", "sms")
    db.session.commit()
    note = db.session.scalar(select(Notification))
    assert note.provider == "telephony" and note.carrier_status is None
    sim.poll()  # delivers the SMS and its signed "sent" + "delivered" reports
    assert [m["sid"] for m in sim.messages] == [note.provider_id]
    assert _note(db, note.id).carrier_status == "delivered"
    assert sim.deliver_sms_statuses() == 0  # reported once

    auth.login_as("agent")
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f'data-notification="{note.id}"' in html
    assert "carrier-delivered" in html
    assert "+85291234567" not in html  # the destination is masked


@pytest.mark.committed  # the simulator loop runs in another thread
def test_the_simulator_loop_delivers_reports_without_the_simulator_page(app, db, redis_conn):
    from app.core.scheduler import Scheduler, periodic_jobs

    app.config.update(TICKETS_MESSENGER="app.telephony.messaging:sms_messenger")
    tasks.set_messenger(None)
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85291234567")
    db.session.commit()
    tasks.notify_worker(ticket.id, "created", "0", "sms")
    db.session.commit()
    note_id = db.session.scalar(select(Notification.id))
    app.test_client_class = None  # the job's own plain client, as in the worker
    app.config["TELEPHONY_SIMULATOR_SECONDS"] = 0.05
    scheduler = Scheduler(app, [periodic_jobs(app)["telephony-simulator"]])
    assert scheduler.start() == ["telephony-simulator"]
    try:
        for _ in range(100):
            if _note(db, note_id).carrier_status == "delivered":
                break
            scheduler.stop_event.wait(0.05)
    finally:
        scheduler.stop()
    assert _note(db, note_id).carrier_status == "delivered"
