"""WhatsApp/SMS cases in the agent workspace: the channel as a label in the lists (and a filter),
her messages marked as hers with their channel, voice notes playable, the canned replies and
the collision warning as on any case, and SLA policies that target the channel."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.core import realtime
from app.sla.models import SlaPolicy
from app.tickets import attachments, intake, services
from app.tickets.models import CannedReply, Notification
from app.tickets.services.contacts import touch_contact
from tests.conftest import csrf_token

PHONE = "+85291234567"


@pytest.fixture
def whatsapp_case(db):
    ticket = services.open_ticket(
        channel="whatsapp", category="other", subject="Klaim JKK", requester_phone=PHONE, country="HK"
    )
    touch_contact("whatsapp", PHONE, ticket.created_at)
    services.requester_reply(ticket, "Ini KPJ saya", data={"channel": "whatsapp", "message_id": "SM" + "1" * 32})
    db.session.commit()
    return ticket


def test_the_list_names_the_channel_and_filters_by_it(client, auth, db, whatsapp_case):
    services.open_ticket(channel="portal", category="other", subject="Formulir")
    services.open_ticket(channel="sms", category="other", subject="Pesan SMS", requester_phone="+85298765432")
    db.session.commit()
    auth.login_as("agent", language="en")
    html = client.get("/tickets/?view=all").get_data(as_text=True)
    row = html.split(f'data-ticket="{whatsapp_case.id}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'<span class="badge channel channel-whatsapp">WhatsApp</span>', row)
    assert ">whatsapp<" not in html  # the label, never the code
    only = client.get("/tickets/?view=all&channel=whatsapp").get_data(as_text=True)
    assert "Klaim JKK" in only and "Formulir" not in only and "Pesan SMS" not in only
    sms = client.get("/tickets/?view=all&channel=sms", headers={"Accept": "application/json"}).get_json()
    assert [(t["channel"], t["channel_label"]) for t in sms["tickets"]] == [("sms", "SMS")]
    indonesian = client.get("/tickets/?view=all&channel=bogus").get_data(as_text=True)
    assert "Formulir" in indonesian  # an unknown channel filters nothing out, and is no 500


def test_her_message_shows_as_hers_with_its_channel(client, auth, whatsapp_case):
    auth.login_as("agent", language="id")
    html = client.get(f"/tickets/{whatsapp_case.id}").get_data(as_text=True)
    entry = html.split('class="event event-public_reply entry from-worker"', 1)[1].split("</li>", 1)[0]
    assert "Pekerja" in entry and "Ini KPJ saya" in entry
    assert "channel-whatsapp" in entry and "Dikirim lewat WhatsApp." in entry


def test_a_voice_note_plays_on_the_case_page(client, auth, db, whatsapp_case, app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    intake.attach(whatsapp_case, [attachments.Upload("whatsapp-1.ogg", "audio/ogg", b"OggS" + b"\x00" * 40)])
    db.session.commit()
    auth.login_as("agent", language="en")
    html = client.get(f"/tickets/{whatsapp_case.id}").get_data(as_text=True)
    note = html.split('class="voice-note"', 1)[1].split("</div>", 1)[0]
    assert "Voice message" in note and "<audio controls" in note
    src = re.search(r'<audio controls preload="none" src="([^"]+)"', note).group(1)
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "audio/ogg"


def test_a_canned_reply_goes_out_on_whatsapp_like_any_answer(client, auth, db, whatsapp_case):
    db.session.add(CannedReply(title="Dokumen", body="Mohon kirim foto paspor Anda.", language="id"))
    db.session.commit()
    auth.login_as("agent")
    html = client.get(f"/tickets/{whatsapp_case.id}").get_data(as_text=True)
    assert 'data-body="Mohon kirim foto paspor Anda."' in html  # the canned reply fills the box
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    seen = re.search(r'name="seen_event" value="(\d+)"', html).group(1)
    response = client.post(
        f"/tickets/{whatsapp_case.id}/reply",
        data={"csrf_token": csrf_token(client, f"/tickets/{whatsapp_case.id}"), "kind": "public_reply",
              "body": "Mohon kirim foto paspor Anda.", "version": version, "seen_event": seen},
    )
    assert response.status_code == 302
    from app.core.jobs import OutboxIntent

    [intent] = db.session.scalars(select(OutboxIntent).where(OutboxIntent.key.like("%:message:%"))).all()
    assert intent.args[-1] == "whatsapp"


def test_another_agents_save_still_gives_the_collision_answer(client, auth, db, whatsapp_case):
    auth.login_as("agent")
    html = client.get(f"/tickets/{whatsapp_case.id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    other = auth.user("agent")
    services.assign(whatsapp_case.id, other.id, actor_id=other.id)
    db.session.commit()
    response = client.post(
        f"/tickets/{whatsapp_case.id}/reply",
        data={"csrf_token": csrf_token(client, f"/tickets/{whatsapp_case.id}"), "kind": "public_reply",
              "body": "Halo", "version": version},
    )
    assert response.status_code == 409


def test_her_message_is_published_live_as_hers(db, whatsapp_case, monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "publish", lambda event, payload, **kw: sent.append((event, payload)))
    services.requester_reply(whatsapp_case.id, "Halo lagi", data={"channel": "whatsapp", "message_id": "SM2"})
    [payload] = [p for e, p in sent if e == "ticket.updated" and p["change"] == "public_reply"]
    assert payload["by_requester"] is True and payload["id"] == whatsapp_case.id


def test_a_delivery_report_is_published_for_the_case_page(db, whatsapp_case, monkeypatch):
    note = Notification(
        key="k", ticket_id=whatsapp_case.id, channel="whatsapp", destination=PHONE, body="x",
        status="sent", provider_id="SM" + "9" * 32,
    )
    db.session.add(note)
    db.session.flush()
    sent = []
    monkeypatch.setattr(realtime, "publish", lambda event, payload, **kw: sent.append((event, payload)))
    assert services.record_delivery("SM" + "9" * 32, "read") is True
    assert [p["change"] for e, p in sent if e == "ticket.updated"] == ["delivery"]


def test_an_sla_policy_can_target_the_whatsapp_channel(db):
    policy = SlaPolicy(
        name="WhatsApp: first answer in 30 minutes", position=0, channels=["whatsapp"],
        first_response_minutes=30, resolution_minutes=2880, warn_percent=80,
    )
    db.session.add(policy)
    db.session.flush()
    whatsapp = services.open_ticket(channel="whatsapp", category="other", subject="x", requester_phone=PHONE)
    sms = services.open_ticket(channel="sms", category="other", subject="y", requester_phone=PHONE)
    assert whatsapp.sla_policy_id == policy.id and whatsapp.first_response_target_seconds == 30 * 60
    assert sms.sla_policy_id != policy.id


def test_the_sla_form_offers_the_messaging_channels_by_label(client, auth):
    auth.login_as("admin", language="en")
    html = client.get("/admin/sla/policies/new").get_data(as_text=True)
    labels = re.findall(r'<label class="check"><input[^>]*value="(whatsapp|sms)"[^>]*> ([^<]+)</label>', html)
    assert sorted(labels) == [("sms", "SMS"), ("whatsapp", "WhatsApp")]
