"""The simulator's messaging phone: her WhatsApp/SMS messages go, signed, to the real webhook;
the app's answers come back into her thread; a WhatsApp message shown there is reported read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.telephony import simulator_phone
from app.telephony.simulator import Simulator, SimulatorError
from app.tickets import services, tasks
from app.tickets.models import Attachment, Notification, Ticket, TicketEvent
from tests.conftest import csrf_token
from tests.telephony.conftest import run_jobs

PHONE = "+85291234567"


@pytest.fixture
def phone(app, client, redis_conn, frozen, tmp_path):
    """The simulator as the embedded default runs it: the app's messages through the simulator
    provider (Redis), the phone's webhooks in-process."""
    app.config["TICKETS_MESSENGER"] = "app.telephony.messaging:sms_messenger"
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    tasks.set_messenger(None)
    return Simulator(app, client)


def test_a_whatsapp_conversation_both_ways(phone, db, auth):
    simulator_phone.send(phone, phone=PHONE, channel="whatsapp", body="Klaim JKK saya belum dibayar")
    ticket = db.session.scalar(select(Ticket))
    assert (ticket.channel, ticket.requester_phone) == ("whatsapp", PHONE)
    ticket_id, reference = ticket.id, ticket.reference
    run_jobs()
    services.reply(ticket_id, "Kami cek klaim Anda hari ini.", actor_id=auth.user("agent").id)
    db.session.commit()
    run_jobs()
    conversation = simulator_phone.thread(phone, PHONE)
    assert [(m["direction"], m["channel"]) for m in conversation] == [("out", "whatsapp"), ("in", "whatsapp"), ("in", "whatsapp")]
    assert conversation[0]["body"] == "Klaim JKK saya belum dibayar"
    assert reference in conversation[1]["body"]
    assert conversation[2]["body"] == "Kami cek klaim Anda hari ini."
    # Shown on her phone: reported read (and delivered), signed, to the app's status callback.
    db.session.expire_all()
    notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [n.carrier_status for n in notes] == ["read", "read"]


def test_an_sms_conversation_has_no_read_reports(phone, db):
    simulator_phone.send(phone, phone=PHONE, channel="sms", body="Tolong")
    run_jobs()
    [(direction, channel)] = [(m["direction"], m["channel"]) for m in simulator_phone.thread(phone, PHONE)][1:]
    assert (direction, channel) == ("in", "sms")
    db.session.expire_all()
    assert db.session.scalar(select(Notification)).carrier_status == "delivered"


def test_files_from_the_phone_are_kept_or_politely_refused(phone, db):
    simulator_phone.send(phone, phone=PHONE, channel="whatsapp", body="Foto", attach="photo")
    simulator_phone.send(phone, phone=PHONE, channel="whatsapp", body="", attach="voice")
    simulator_phone.send(phone, phone=PHONE, channel="whatsapp", body="Video", attach="video")
    simulator_phone.send(phone, phone=PHONE, channel="whatsapp", body="Besar", attach="large_photo")
    run_jobs()
    kept = db.session.scalars(select(Attachment.content_type).order_by(Attachment.id)).all()
    assert kept == ["image/png", "audio/ogg"]
    reasons = [e.data["reason"] for e in db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "media_refused"))]
    assert sorted(reasons) == ["too_large", "unsupported"]
    answers = [m["body"] for m in simulator_phone.thread(phone, PHONE) if m["direction"] == "in"]
    assert any("terlalu besar" in a for a in answers) and any("tidak dapat kami buka" in a for a in answers)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"phone": "85291234567"}, "E.164"),
        ({"channel": "telegram"}, "channel"),
        ({"body": ""}, "write a message"),
        ({"attach": "exe"}, "unknown file"),
    ],
)
def test_the_phone_refuses_what_twilio_would_never_send(phone, db, values, reason):
    message = {"phone": PHONE, "channel": "whatsapp", "body": "Halo", **values}
    with pytest.raises(SimulatorError, match=reason):
        simulator_phone.send(phone, **message)
    assert db.session.scalar(select(Ticket)) is None


@pytest.mark.committed
def test_the_simulator_page_sends_and_shows_the_conversation(app, client, auth, redis_conn, frozen):
    app.config["TICKETS_MESSENGER"] = "app.telephony.messaging:sms_messenger"
    tasks.set_messenger(None)
    auth.login_as("agent", language="en")
    page = client.get("/telephony/simulator").get_data(as_text=True)
    assert 'id="sim-message"' in page and "WhatsApp and SMS" in page
    token = csrf_token(client, "/telephony/simulator")
    headers = {"X-CSRFToken": token}
    response = client.post(
        "/telephony/simulator/action",
        json={"action": "message", "from": PHONE, "channel": "whatsapp", "body": "Halo dari simulator"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["conversation"][0]["body"] == "Halo dari simulator"
    bad = client.post(
        "/telephony/simulator/action",
        json={"action": "message", "from": PHONE, "channel": "whatsapp", "body": "Halo\x00"},
        headers=headers,
    )
    assert bad.status_code == 400  # a NUL byte typed on the page: refused before the phone sends it
    refused = client.post(
        "/telephony/simulator/action", json={"action": "message", "from": "12", "body": "x"}, headers=headers
    )
    assert refused.status_code == 409 and "E.164" in refused.get_json()["error"]["message"]
    run_jobs()
    state = client.get("/telephony/simulator/state?phone=%2B85291234567").get_json()
    assert [m["direction"] for m in state["conversation"]] == ["out", "in"]
