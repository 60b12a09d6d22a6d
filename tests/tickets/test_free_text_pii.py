"""Identifiers typed into free text (issue 12, item 6): a NIK, a phone number, a passport or an
e-mail in a worker's description or message is masked on the ticket list, the ticket page and the
console's screen pop, and shown whole only through the same audited reveal as the structured
fields (an audit row and a "viewed personal data" entry on the timeline)."""

from __future__ import annotations

from app.core.audit import AuditEvent
from app.core.masking import has_pii, mask_text
from app.tickets import services
from app.tickets.models import Ticket, TicketEvent
from tests.conftest import csrf_token
from tests.factories import TicketFactory

NIK = "3201015705900123"
PHONE = "+852 9123 4567"
PASSPORT = "B1234567"
EMAIL = "siti.rahayu@example.org"
DESCRIPTION = (
    f"Nama saya Siti, NIK {NIK}, paspor {PASSPORT}. Majikan menahan gaji saya. "
    f"Hubungi saya di {PHONE} atau {EMAIL}."
)


def test_the_detector_masks_each_kind_and_leaves_ordinary_text() -> None:
    masked = mask_text(DESCRIPTION)
    for secret in (NIK, PASSPORT, EMAIL, "9123 4567"):
        assert secret not in masked, secret
    assert "Majikan menahan gaji saya" in masked and has_pii(DESCRIPTION)
    assert not has_pii("Gaji saya belum dibayar sejak 3 bulan, tolong bantu.") and not has_pii(None)


def test_dates_and_log_timestamps_are_not_taken_for_phone_numbers() -> None:
    """A worker's "kecelakaan tanggal 20-11-2026" and a log line's "2026-12-03" were masked
    like phone numbers (digits and dashes), hiding the day of an accident from the agent."""
    for text in (
        "Kecelakaan kerja tanggal 20-11-2026 pukul 14:30, dirawat sejak 2026-11-21.",
        "rolled up 29 day(s) up to 2026-12-03",
        "2026-12-04 05:59:36,288 INFO rq.worker",
    ):
        assert mask_text(text) == text and not has_pii(text)
    masked = mask_text(f"Sejak 2026-11-21 nomor saya {PHONE}, dulu 0812-3456-7890")
    assert masked.startswith("Sejak 2026-11-21 nomor saya ") and "9123" not in masked and "3456" not in masked
    assert "3456" not in mask_text("0812-11-2345678")  # not a date: the day has more digits


def test_the_ticket_page_masks_free_text_and_the_reveal_is_audited(client, auth, db) -> None:
    agent = auth.login_as("agent")
    ticket = TicketFactory(subject=f"Gaji ditahan, hubungi {PHONE}", description=DESCRIPTION)
    message = services.requester_reply(ticket, f"Ini nomor baru saya: +886 912 345 678, NIK {NIK}")
    db.session.commit()

    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    for secret in (NIK, PASSPORT, EMAIL, "9123 4567", "912 345 678"):
        assert secret not in page, secret
    assert "Majikan menahan gaji saya" in page
    assert page.count('name="field" value="description"') == 1
    assert f'name="field" value="event:{message.id}"' in page

    token = csrf_token(client, f"/tickets/{ticket.id}")
    shown = client.post(f"/tickets/{ticket.id}/reveal", data={"csrf_token": token, "field": "description"})
    assert shown.status_code == 200 and NIK in shown.get_data(as_text=True)
    shown = client.post(f"/tickets/{ticket.id}/reveal", data={"csrf_token": token, "field": f"event:{message.id}"})
    assert "+886 912 345 678" in shown.get_data(as_text=True)

    audits = db.session.query(AuditEvent).filter_by(action="pii.view", entity_type="ticket").all()
    assert [a.detail for a in audits] == [{"field": "description"}, {"field": "message", "event_id": message.id}]
    assert all(a.actor_id == agent.id for a in audits)
    viewed = [e for e in db.session.get(Ticket, ticket.id).events if e.kind == "viewed_pii"]
    assert len(viewed) == 2
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)  # the timeline says it in words
    assert "Viewed the personal data in the description." in page or "deskripsi" in page
    assert ">description<" not in page and "Viewed the description" not in page


def test_a_message_of_another_ticket_cannot_be_revealed_through_this_one(client, auth, db) -> None:
    auth.login_as("agent")
    mine, other = TicketFactory(description="x"), TicketFactory(description=DESCRIPTION)
    theirs = services.requester_reply(other, f"NIK {NIK}")
    db.session.commit()
    token = csrf_token(client, f"/tickets/{mine.id}")
    for field in (f"event:{theirs.id}", "event:99999999", "event:x", "requester_name", "description; drop"):
        response = client.post(f"/tickets/{mine.id}/reveal", data={"csrf_token": token, "field": field})
        assert response.status_code == 400, field
    assert db.session.query(AuditEvent).filter_by(action="pii.view").count() == 0
    assert db.session.query(TicketEvent).filter_by(kind="viewed_pii").count() == 0


def test_the_list_masks_identifiers_in_titles(client, auth, db) -> None:
    auth.login_as("agent")
    TicketFactory(subject=f"Tolong, NIK saya {NIK}", description="x")
    page = client.get("/tickets/?view=all").get_data(as_text=True)
    assert NIK not in page and "Tolong, NIK saya" in page


def test_an_admin_without_the_reveal_permission_gets_no_reveal_button(client, auth, db) -> None:
    auth.login_as("admin")
    ticket = TicketFactory(description=DESCRIPTION)
    page = client.get(f"/tickets/{ticket.id}")
    if page.status_code == 200:  # admins may not work tickets at all; if they may, nothing leaks
        assert NIK not in page.get_data(as_text=True)
        assert 'value="description"' not in page.get_data(as_text=True)
