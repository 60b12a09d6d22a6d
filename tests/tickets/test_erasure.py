"""Erasing a requester's personal data: on an admin's request after resolution, and by retention."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from app.core.audit import AuditEvent
from app.core.time import utcnow
from app.tickets import attachments, erasure, intake, services
from app.tickets.models import Attachment, Notification, Ticket, TicketEvent
from app.tickets.tasks import housekeeping
from tests.conftest import csrf_token
from tests.factories import make_member, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PII = {
    "requester_name": "Siti Rahayu",
    "requester_phone": "+85291234567",
    "requester_email": "siti@example.org",
    "requester_kpj": "12345678901",
    "requester_nik": "3201015705900123",
    "requester_passport": "B1234567",
    "requester_birth_date": date(1990, 5, 17),
}


@pytest.fixture(autouse=True)
def store_dir(app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path / "attachments")


def _full_case(db, *, status="resolved"):
    """A case with everything erasure must reach: identifiers, messages, files, notices, links."""
    agent = make_user()
    member = make_member(kpj="23011234567")
    ticket = services.open_ticket(
        channel="portal",
        category="claim_jkk",
        subject="Siti Rahayu: my hand",
        description="I am Siti Rahayu, passport B1234567, my hand was crushed in Kowloon.",
        country="HK",
        member_id=member.id,
        **PII,
    )
    db.session.commit()
    intake.attach(ticket, [attachments.Upload("passport-siti.png", "image/png", PNG)])
    reply = services.requester_reply(ticket, "My employer is Mr Chan, phone 91234567.")
    intake.attach(ticket, [attachments.Upload("x-ray.png", "image/png", PNG)], reply)
    services.reply(ticket, "We have asked the clinic for the report.", actor_id=agent.id)
    services.reply(ticket, "Clinic confirmed by phone.", actor_id=agent.id, public=False)
    db.session.add(
        Notification(
            key=f"n:{ticket.id}", ticket_id=ticket.id, channel="sms", destination="+85291234567", body="x"
        )
    )
    services.change_status(ticket, "resolved", actor_id=agent.id)
    services.rate(ticket, 4, "Thank you, Bu Dewi (my neighbour Ani helped)")
    if status == "closed":
        services.change_status(ticket, "closed")
    db.session.commit()
    return ticket, agent


def _fresh(db, ticket_id):
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def test_erasure_blanks_the_requester_and_keeps_the_skeleton(db):
    ticket, agent = _full_case(db)
    admin = make_user("admin")
    paths = [attachments.path_of(a) for a in ticket.attachments]
    assert len(paths) == 2 and all(os.path.exists(p) for p in paths)
    skeleton = {
        name: getattr(ticket, name)
        for name in (
            "reference", "channel", "category", "priority", "country", "status", "assignee_id",
            "created_at", "first_response_at", "resolved_at", "csat_score",
            "first_response_due_at", "resolution_due_at",
        )
    }

    summary = erasure.erase_requester(ticket, actor_id=admin.id)
    db.session.commit()

    assert summary == {
        "reason": "request",
        "tickets": [ticket.reference],
        "messages": 2,  # the worker's reply and rating comment
        "attachments": 2,
        "notifications": 1,
        # the call side (app.telephony.erasure): this case came in through the portal only
        "calls": 0,
        "callbacks": 0,
        "recordings": 0,
        "webhooks": 0,
    }
    ticket = _fresh(db, ticket.id)
    for name in (*PII, "requester_name_key", "requester_phone_hash", "requester_nik_hash",
                 "requester_passport_hash", "member_id", "claim_id", "match_confidence", "csat_comment"):
        assert getattr(ticket, name) is None, name
    assert (ticket.description, ticket.subject) == ("", "")
    assert ticket.erased_at is not None
    assert {name: getattr(ticket, name) for name in skeleton} == skeleton
    # What the database holds, not only what the ORM shows.
    row = db.session.execute(
        text("SELECT requester_phone, requester_nik, requester_email, description FROM tickets WHERE id = :id"),
        {"id": ticket.id},
    ).one()
    assert tuple(row) == (None, None, None, "")

    events = services.timeline(ticket)
    assert [e.body for e in events if e.by_requester and e.body] == []
    staff_bodies = [e.body for e in events if e.kind in ("public_reply", "internal_note") and not e.by_requester]
    assert staff_bodies == ["We have asked the clinic for the report.", "Clinic confirmed by phone."]
    dumped = repr([(e.kind, e.body, e.data) for e in events])
    for secret in ("Siti", "passport-siti", "x-ray", "91234567", "B1234567", "Mr Chan", "Ani"):
        assert secret not in dumped, secret
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert not any(os.path.exists(p) for p in paths)
    assert db.session.scalar(select(Notification.destination)) is None

    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.erase")).all()
    assert (audit.actor_id, audit.entity_id, audit.detail["attachments"]) == (admin.id, str(ticket.id), 2)
    [erased] = [e for e in events if e.kind == "erased"]
    assert erased.actor_id == admin.id and not erased.public

    # Nothing finds or opens the case by the requester's identifiers any more.
    for query in ("+85291234567", "3201015705900123", "B1234567", "siti rahayu", "12345678901"):
        assert services.search_tickets(services.SearchQuery(text=query, view="all")) == [], query
    assert not services.verify_requester(ticket, "1990-05-17")
    assert not services.verify_requester(ticket, "+85291234567")

    # Erasing again changes nothing.
    assert erasure.erase_requester(ticket, actor_id=admin.id) is None
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "ticket.erase")) == 1
    assert len([e for e in services.timeline(_fresh(db, ticket.id)) if e.kind == "erased"]) == 1


def test_a_case_still_being_handled_is_not_erased(db):
    ticket = services.open_ticket(channel="portal", category="other", subject="x", **PII)
    db.session.commit()
    with pytest.raises(erasure.ErasureRefused):
        erasure.erase_requester(ticket, actor_id=None)
    db.session.rollback()
    assert _fresh(db, ticket.id).requester_name == "Siti Rahayu"


def test_tickets_merged_into_the_case_are_erased_with_it(db):
    first = services.open_ticket(channel="phone", category="other", subject="x", **PII)
    second = services.open_ticket(channel="portal", category="other", subject="y", **PII)
    db.session.commit()
    services.merge(first, second)
    services.change_status(second, "resolved")
    db.session.commit()
    summary = erasure.erase_requester(second, actor_id=None)
    db.session.commit()
    assert summary is not None and set(summary["tickets"]) == {first.reference, second.reference}
    assert _fresh(db, first.id).requester_phone is None and _fresh(db, first.id).erased_at is not None


def _erase_form(client, ticket, confirm):
    return client.post(
        f"/tickets/{ticket.id}/erase",
        data={"csrf_token": csrf_token(client, f"/tickets/erasure?reference={ticket.reference}"), "confirm": confirm},
    )


def test_only_an_admin_may_erase_and_must_confirm_with_the_reference(client, auth, db):
    ticket, _agent = _full_case(db)
    for role in ("agent", "supervisor"):
        auth.login_as(role)
        assert client.get("/tickets/erasure").status_code == 403
        assert client.post(f"/tickets/{ticket.id}/erase", data={"confirm": ticket.reference}).status_code in (
            400,
            403,
        )
        auth.logout()
    assert _fresh(db, ticket.id).erased_at is None

    auth.login_as("admin")
    assert "/tickets/erasure" in client.get("/staff/").get_data(as_text=True)
    page = client.get(f"/tickets/erasure?reference={ticket.reference.lower()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="erase-form"' in html
    assert "Siti" not in html and "+85291234567" not in html  # the page shows the skeleton only
    assert client.get("/tickets/erasure?reference=PMI-2026-999999").status_code == 404

    wrong = _erase_form(client, ticket, "PMI-2026-000000")
    assert wrong.status_code == 422 and "Type the reference" in wrong.get_data(as_text=True)
    assert _fresh(db, ticket.id).erased_at is None

    done = _erase_form(client, ticket, ticket.reference.lower())
    assert done.status_code == 302
    assert _fresh(db, ticket.id).erased_at is not None
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="erased-at"' in after and 'id="erase-form"' not in after


def test_the_route_refuses_an_open_case_with_409(client, auth, db):
    ticket = services.open_ticket(channel="portal", category="other", subject="x", **PII)
    db.session.commit()
    auth.login_as("admin")
    assert 'id="erase-form"' not in client.get(f"/tickets/erasure?reference={ticket.reference}").get_data(as_text=True)
    response = _erase_form(client, ticket, ticket.reference)
    assert response.status_code == 409
    assert _fresh(db, ticket.id).requester_name == "Siti Rahayu"


def test_staff_see_the_erased_case_without_personal_data(client, auth, db):
    ticket, _agent = _full_case(db)
    erasure.erase_requester(ticket, actor_id=None)
    db.session.commit()
    auth.login_as("agent")
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="erased-notice"' in html and ticket.reference in html
    for secret in ("Siti", "passport-siti", "Mr Chan", "Kowloon"):
        assert secret not in html, secret


def _closed_days_ago(db, days, **kwargs):
    ticket = services.open_ticket(channel="portal", category="other", subject="x", **{**PII, **kwargs})
    services.change_status(ticket, "closed")
    ticket.closed_at = utcnow() - timedelta(days=days)
    db.session.commit()
    return ticket.id


def test_retention_erases_old_closed_tickets_in_batches_and_only_once(app, db):
    app.config.update(TICKETS_RETENTION_DAYS=30, TICKETS_RETENTION_BATCH=2)
    old = [_closed_days_ago(db, 40 + n) for n in range(3)]
    recent = _closed_days_ago(db, 10)
    still_open = services.open_ticket(channel="portal", category="other", subject="x", **PII)
    still_open.created_at = utcnow() - timedelta(days=400)
    db.session.commit()
    open_id = still_open.id

    assert housekeeping()["erased"] == 2  # one batch per pass, oldest first
    assert [(_fresh(db, i).erased_at is not None) for i in old] == [False, True, True]
    assert housekeeping()["erased"] == 1
    assert housekeeping()["erased"] == 0  # nothing left; erased tickets are not picked again
    assert all(_fresh(db, i).requester_phone is None for i in old)
    assert _fresh(db, recent).requester_phone == "+85291234567"
    assert _fresh(db, open_id).requester_phone == "+85291234567"
    reasons = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "ticket.erase")).all()
    assert [r["reason"] for r in reasons] == ["retention"] * 3
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "erased")).all()
    assert len(events) == 3 and all(e.actor_id is None for e in events)


def test_retention_zero_keeps_everything(app, db):
    app.config.update(TICKETS_RETENTION_DAYS=0)
    ticket_id = _closed_days_ago(db, 5000)
    assert housekeeping()["erased"] == 0
    assert _fresh(db, ticket_id).requester_phone == "+85291234567"


def test_the_default_retention_is_five_years(app):
    assert app.config["TICKETS_RETENTION_DAYS"] == 1825


def test_one_failing_ticket_does_not_stop_the_others(app, db, monkeypatch):
    app.config.update(TICKETS_RETENTION_DAYS=30)
    bad, good = _closed_days_ago(db, 60), _closed_days_ago(db, 50)
    real = erasure._erase_one

    def flaky(ticket, now):
        if ticket.id == bad:
            raise OSError("disk on fire")
        return real(ticket, now)

    monkeypatch.setattr(erasure, "_erase_one", flaky)
    result = housekeeping()
    assert (result["erased"], result["erase_failed"]) == (1, 1)
    assert _fresh(db, bad).requester_phone == "+85291234567" and _fresh(db, good).erased_at is not None


def test_erasing_a_whatsapp_case_blanks_her_messages_and_a_template_filled_with_her_name(db):
    from app.tickets.models import MessagingContact
    from app.tickets.services.contacts import touch_contact

    ticket = services.open_ticket(
        channel="whatsapp", category="other", subject="Tolong", description="Tolong, nama saya Siti",
        requester_phone="+85291234567", requester_name="Siti",
    )
    services.requester_reply(ticket, "Siti lagi", data={"channel": "whatsapp", "message_id": "SM1"})
    contact = touch_contact("whatsapp", "+85291234567", ticket.created_at)
    contact.opted_out_at = ticket.created_at  # her STOP
    db.session.add(
        Notification(
            key=f"ticket-notify:{ticket.id}:resolved:v3:whatsapp", ticket_id=ticket.id, channel="whatsapp",
            destination="+85291234567", body="Halo Siti, kasus Anda selesai.", status="sent",
            content_sid="HX" + "a" * 32, content_variables={"1": "Siti"},
        )
    )
    services.change_status(ticket, "resolved")
    db.session.commit()
    erasure.erase_requester(ticket, actor_id=None, reason="request")
    db.session.commit()
    note = db.session.scalar(select(Notification))
    assert (note.destination, note.content_variables, note.body) == (None, None, "")
    dumped = repr([(e.kind, e.body, e.data) for e in services.timeline(_fresh(db, ticket.id))])
    assert "Siti" not in dumped
    # Her STOP outlives the case: it must go on being honoured.
    assert db.session.scalar(select(MessagingContact.opted_out_at)) is not None
