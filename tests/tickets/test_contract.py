"""The contract other packages code against (docs/call-flow.md)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.core import realtime
from app.core.jobs import OutboxIntent
from app.tickets import services
from app.tickets.models import CATEGORIES, Ticket, TicketEvent
from tests.factories import make_member


def test_categories_are_the_shared_vocabulary():
    assert CATEGORIES == (
        "membership",
        "contribution",
        "claim_jkk",
        "claim_jkm",
        "claim_jht",
        "benefit_info",
        "data_correction",
        "app_access",
        "service_complaint",
        "emergency",
        "other",
    )


def test_open_ticket_stores_a_ticket_with_a_reference_and_created_event(db):
    ticket = services.open_ticket(
        channel="phone",
        category="claim_jkk",
        subject="Accident in Taipei",
        requester_phone="+886912345678",
        country="tw",
    )
    db.session.commit()
    stored = db.session.get(Ticket, ticket.id)
    assert re.fullmatch(rf"PMI-{stored.created_at.year}-{stored.id:06d}", stored.reference)
    assert stored.status == "new" and stored.country == "TW" and stored.priority == "normal"
    assert [e.kind for e in stored.events] == ["created"]
    assert stored.requester_phone == "+886912345678"


def test_references_are_unique(db):
    refs = {
        services.open_ticket(channel="portal", category="other", subject=f"s{i}").reference for i in range(5)
    }
    assert len(refs) == 5


def test_emergency_defaults_to_urgent(db):
    ticket = services.open_ticket(channel="phone", category="emergency", subject="help")
    assert ticket.priority == "urgent"


def test_unknown_category_is_refused(db):
    with pytest.raises(services.TicketError):
        services.open_ticket(channel="phone", category="weather", subject="x")


def test_open_ticket_publishes_after_commit(db):
    ticket = services.open_ticket(channel="phone", category="other", subject="x")
    assert (
        "ticket.updated",
        {"id": ticket.id, "reference": ticket.reference, "version": ticket.version - 1, "change": "created"},
        "tickets",
    ) in realtime.pending() or any(
        name == "ticket.updated" and data["id"] == ticket.id for name, data, _room in realtime.pending()
    )


def test_link_call_adds_one_event_per_call(db):
    ticket = services.open_ticket(channel="phone", category="other", subject="x")
    services.link_call(ticket.id, 42, summary=None)
    services.link_call(ticket.id, 42)  # a repeated webhook
    services.link_call(ticket.id, 43, summary="called back")
    db.session.commit()
    linked = [e.data for e in db.session.get(Ticket, ticket.id).events if e.kind == "call_linked"]
    assert [d["call_id"] for d in linked] == [42, 43]


def test_add_event_appends_and_rejects_unknown_kinds(db):
    ticket = services.open_ticket(channel="phone", category="other", subject="x")
    event = services.add_event(ticket.id, "sla_warning", {"due": "soon"})
    assert event.id and event.public is False
    with pytest.raises(services.TicketError):
        services.add_event(ticket.id, "bogus", {})


def test_find_open_ticket_for_member_and_phone(db):
    member = make_member(phone_abroad="+85291234567")
    ticket = services.open_ticket(
        channel="phone", category="other", subject="x", member_id=member.id, requester_phone="+852 9123 4567"
    )
    db.session.commit()
    assert services.find_open_ticket_for(member_id=member.id).id == ticket.id
    assert services.find_open_ticket_for(phone="+85291234567").id == ticket.id
    assert services.find_open_ticket_for(phone="+85290000000") is None
    assert services.find_open_ticket_for() is None


def test_find_open_ticket_ignores_resolved_and_old_tickets(db):
    ticket = services.open_ticket(
        channel="phone", category="other", subject="x", requester_phone="+85291234567"
    )
    services.change_status(ticket, "resolved")
    other = services.open_ticket(
        channel="phone", category="other", subject="y", requester_phone="+85291234567"
    )
    other.updated_at = other.updated_at - timedelta(days=30)
    db.session.commit()
    assert services.find_open_ticket_for(phone="+85291234567") is None


def test_creation_notifies_through_the_outbox_once(db):
    ticket = services.open_ticket(
        channel="portal", category="other", subject="x", requester_phone="+85291234567"
    )
    services.notify_created(ticket)
    services.notify_created(ticket)
    db.session.commit()
    intents = (
        db.session.query(OutboxIntent).filter(OutboxIntent.func == "app.tickets.tasks.notify_worker").all()
    )
    assert len(intents) == 1
    assert intents[0].queue == "notifications"


def test_events_are_not_shared_between_tickets(db):
    a = services.open_ticket(channel="phone", category="other", subject="a")
    services.open_ticket(channel="phone", category="other", subject="b")
    db.session.commit()
    assert db.session.query(TicketEvent).filter_by(ticket_id=a.id).count() == 1
