"""Notifications about a case go to the worker's preferred channel, in her language: WhatsApp
when she has written to us on it (a template outside the 24-hour window, SMS without one), else
SMS, else email; never to a number that sent STOP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.core.jobs import OutboxIntent, run_intent
from app.tickets import services, tasks
from app.tickets.models import MessageTemplate, Notification
from app.tickets.services.contacts import touch_contact

PHONE = "+85291234567"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def messenger():
    fake = tasks.LogMessenger()
    tasks.set_messenger(fake)
    yield fake
    tasks.set_messenger(None)


def _run(db) -> None:
    while True:
        ids = db.session.scalars(
            select(OutboxIntent.id).where(OutboxIntent.status == "pending").order_by(OutboxIntent.id)
        ).all()
        if not ids:
            return
        for intent_id in ids:
            assert run_intent(intent_id) == "done"


def _portal_case(db, **values):
    values.setdefault("requester_phone", PHONE)
    ticket = services.open_ticket(channel="portal", category="claim_jht", subject="JHT", **values)
    db.session.commit()
    return ticket.id


def _resolve(db, ticket_id: int) -> None:
    services.change_status(ticket_id, "resolved")
    db.session.commit()
    _run(db)


def test_she_has_used_whatsapp_so_the_resolution_reaches_her_there_in_her_language(db, clock, messenger):
    ticket_id = _portal_case(db, language="en", requester_email="siti@example.org")
    touch_contact("whatsapp", PHONE, NOW - timedelta(hours=2))
    db.session.commit()
    _resolve(db, ticket_id)
    [(channel, to, body)] = messenger.sent
    assert (channel, to) == ("whatsapp", PHONE)
    assert "is resolved" in body  # English, as her case


def test_outside_the_window_the_resolution_goes_as_the_approved_template(db, clock, messenger):
    ticket_id = _portal_case(db)
    touch_contact("whatsapp", PHONE, NOW - timedelta(days=3))
    db.session.add(
        MessageTemplate(
            purpose="resolved", language="id", content_sid="HX" + "d" * 32,
            body="Kasus {{1}} selesai. Status: {{2}}.", variables=["reference", "status"],
        )
    )
    db.session.commit()
    _resolve(db, ticket_id)
    [(to, content_sid, variables)] = messenger.templates
    assert to == PHONE and content_sid == "HX" + "d" * 32
    assert variables["2"] == "Terselesaikan" and variables["1"].startswith("PMI-")
    note = db.session.scalar(select(Notification))
    assert note.body == f"Kasus {variables['1']} selesai. Status: Terselesaikan."


def test_outside_the_window_without_a_template_it_goes_by_sms(db, clock, messenger):
    ticket_id = _portal_case(db)
    touch_contact("whatsapp", PHONE, NOW - timedelta(days=3))
    db.session.commit()
    _resolve(db, ticket_id)
    assert [channel for channel, _to, _body in messenger.sent] == ["sms"]
    whatsapp, sms = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert (whatsapp.status, whatsapp.last_error, sms.status) == ("skipped", "whatsapp_window_closed", "sent")


def test_never_on_whatsapp_means_sms(db, clock, messenger):
    _resolve(db, _portal_case(db, requester_email="siti@example.org"))
    assert [(channel, to) for channel, to, _body in messenger.sent] == [("sms", PHONE)]


def test_without_a_phone_it_goes_by_email(db, clock, messenger):
    _resolve(db, _portal_case(db, requester_phone=None, requester_email="siti@example.org"))
    assert [channel for channel, _to, _body in messenger.sent] == ["email"]


def test_a_number_that_sent_stop_gets_nothing_and_email_takes_over(db, clock, messenger):
    ticket_id = _portal_case(db, requester_email="siti@example.org")
    contact = touch_contact("sms", PHONE, NOW - timedelta(hours=1))
    contact.opted_out_at = NOW - timedelta(hours=1)
    db.session.commit()
    _resolve(db, ticket_id)
    assert [channel for channel, _to, _body in messenger.sent] == ["email"]


def test_a_reply_on_a_whatsapp_case_after_stop_is_recorded_as_not_sent(db, clock, messenger, auth):
    ticket = services.open_ticket(channel="whatsapp", category="other", subject="x", requester_phone=PHONE)
    contact = touch_contact("whatsapp", PHONE, NOW)
    contact.opted_out_at = NOW
    db.session.commit()
    services.reply(ticket.id, "Halo", actor_id=auth.user("agent").id)
    db.session.commit()
    _run(db)
    assert messenger.sent == []
    note = db.session.scalar(select(Notification))
    assert (note.channel, note.status, note.last_error) == ("whatsapp", "skipped", "opted_out")
