"""Lifecycle rules: transitions, reopen, merge, assignment, optimistic locking, record links."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.jobs import OutboxIntent
from app.core.time import utcnow
from app.tickets import services
from app.tickets.models import STATUSES, Ticket
from tests.factories import TicketFactory, make_claim, make_member, make_user


def _at(status: str) -> Ticket:
    ticket = TicketFactory(commit=False)
    path = {
        "new": [],
        "open": ["open"],
        "pending_worker": ["pending_worker"],
        "pending_third_party": ["pending_third_party"],
        "resolved": ["resolved"],
        "closed": ["closed"],
    }[status]
    for step in path:
        services.change_status(ticket, step)
    return ticket


ALLOWED = {
    ("new", "open"),
    ("new", "pending_worker"),
    ("new", "pending_third_party"),
    ("new", "resolved"),
    ("new", "closed"),
    ("open", "pending_worker"),
    ("open", "pending_third_party"),
    ("open", "resolved"),
    ("open", "closed"),
    ("pending_worker", "open"),
    ("pending_worker", "pending_third_party"),
    ("pending_worker", "resolved"),
    ("pending_worker", "closed"),
    ("pending_third_party", "open"),
    ("pending_third_party", "pending_worker"),
    ("pending_third_party", "resolved"),
    ("pending_third_party", "closed"),
    ("resolved", "open"),
    ("resolved", "closed"),
}


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transition_table(db, old, new):
    if old == new:
        return
    ticket = _at(old)
    if (old, new) in ALLOWED:
        services.change_status(ticket, new)
        assert ticket.status == new
        assert ticket.events[-1].kind == "status" and ticket.events[-1].data == {"from": old, "to": new} | (
            {"reopened": True} if old == "resolved" and new == "open" else {}
        )
    else:
        with pytest.raises(services.InvalidTransition):
            services.change_status(ticket, new)
        assert ticket.status == old


@pytest.mark.parametrize(("locale", "words"), [("en", "from Closed to New"), ("id", "dari Ditutup ke Baru")])
def test_a_refused_transition_is_explained_with_labels_not_codes(app, db, locale, words):
    from flask_babel import force_locale

    ticket = _at("closed")
    with (
        app.test_request_context(),  # the message is for the person who asked
        force_locale(locale),
        pytest.raises(services.InvalidTransition, match=words),
    ):
        services.change_status(ticket, "new")


def test_resolve_and_close_stamp_times(db):
    ticket = TicketFactory(commit=False)
    services.change_status(ticket, "resolved")
    assert ticket.resolved_at is not None
    services.change_status(ticket, "closed")
    assert ticket.closed_at is not None


def test_worker_reply_within_the_period_reopens(db):
    ticket = _at("resolved")
    services.requester_reply(ticket, "still not paid")
    assert ticket.status == "open"
    assert ticket.resolved_at is None
    assert ticket.events[-1].data.get("reopened") is True


def test_worker_reply_after_the_period_is_refused(db, app):
    app.config["TICKETS_REOPEN_DAYS"] = 3
    ticket = _at("resolved")
    with pytest.raises(services.ReplyRefused):
        services.requester_reply(ticket, "hello?", now=utcnow() + timedelta(days=4))
    assert ticket.status == "resolved"


def test_worker_reply_moves_pending_worker_to_open(db):
    ticket = _at("pending_worker")
    services.requester_reply(ticket, "here is my passport")
    assert ticket.status == "open"


def test_worker_reply_to_closed_ticket_is_refused(db):
    ticket = _at("closed")
    with pytest.raises(services.ReplyRefused):
        services.requester_reply(ticket, "x")


def test_close_stale_resolved(db, app):
    ticket = _at("resolved")
    ticket.resolved_at = utcnow() - timedelta(days=30)
    fresh = _at("resolved")
    assert services.close_stale_resolved() == 1
    assert ticket.status == "closed" and fresh.status == "resolved"


def test_merge_closes_the_source_and_shows_its_timeline_on_the_target(db):
    agent = make_user()
    member = make_member()
    source = TicketFactory(commit=False, member_id=member.id)
    services.requester_reply(source, "second message")
    target = TicketFactory(commit=False, requester_phone=None)
    services.merge(source, target, actor_id=agent.id)
    db.session.commit()
    assert source.status == "closed" and source.merged_into_id == target.id
    assert target.member_id == member.id
    kinds = [(e.ticket_id, e.kind) for e in services.timeline(target)]
    assert (source.id, "public_reply") in kinds
    assert (target.id, "merged") in kinds
    with pytest.raises(services.TicketError):
        services.merge(source, target)


def test_merge_into_itself_is_refused(db):
    ticket = TicketFactory(commit=False)
    with pytest.raises(services.TicketError):
        services.merge(ticket, ticket)


def test_reply_to_a_merged_ticket_lands_on_the_target(db):
    source, target = TicketFactory(commit=False), TicketFactory(commit=False)
    services.merge(source, target)
    event = services.requester_reply(source, "hi")
    assert event.ticket_id == target.id


def test_assign_opens_a_new_ticket_and_records_an_event(db):
    agent = make_user()
    ticket = TicketFactory(commit=False)
    services.assign(ticket, agent.id, actor_id=agent.id)
    assert ticket.assignee_id == agent.id and ticket.status == "open"
    assert [e.kind for e in ticket.events][-2:] == ["assigned", "status"]


def test_bulk_assign_skips_closed(db):
    agent = make_user()
    tickets = [TicketFactory(commit=False) for _ in range(3)]
    services.change_status(tickets[2], "closed")
    assert services.bulk_assign([t.id for t in tickets], agent.id) == 2
    assert [t.assignee_id for t in tickets] == [agent.id, agent.id, None]


def test_stale_version_raises_conflict_with_the_changes(db):
    a, b = make_user(), make_user()
    ticket = TicketFactory(commit=False)
    db.session.commit()
    seen_version = ticket.version
    seen_event = ticket.events[-1].id
    services.assign(ticket, b.id, actor_id=b.id, expected_version=seen_version)
    db.session.commit()
    with pytest.raises(services.Conflict) as info:
        services.change_status(ticket, "resolved", actor_id=a.id, expected_version=seen_version)
    with pytest.raises(services.Conflict) as info:
        services.reply(ticket, "hi", actor_id=a.id, expected_version=seen_version, seen_event_id=seen_event)
    assert info.value.current_version == ticket.version
    assert {c["kind"] for c in info.value.changes} == {"assigned", "status"}
    assert ticket.status == "open"


@pytest.mark.committed  # another connection writes / a route is added: its own app
def test_concurrent_update_is_caught_by_the_version_column(db, app):
    ticket = TicketFactory(commit=False)
    db.session.commit()
    ticket_id = ticket.id
    # Another session moves the row on behind our back.
    from sqlalchemy import update

    with db.engine.begin() as conn:
        conn.execute(update(Ticket.__table__).where(Ticket.__table__.c.id == ticket_id).values(version=99))
    with pytest.raises(services.Conflict):
        services.change_status(ticket, "open")


def test_public_reply_notifies_and_internal_note_does_not(db):
    agent = make_user()
    ticket = TicketFactory(commit=False)
    db.session.commit()
    before = db.session.query(OutboxIntent).count()
    services.reply(ticket, "internal only", actor_id=agent.id, public=False)
    assert db.session.query(OutboxIntent).count() == before
    event = services.reply(ticket, "We are checking", actor_id=agent.id)
    assert event.public and ticket.first_response_at is not None
    assert db.session.query(OutboxIntent).count() == before + 1
    assert [e["kind"] for e in services.public_timeline(ticket)] == ["created", "public_reply", "status"]


def test_matching_on_creation_by_kpj_is_exact(db):
    member = make_member()
    ticket = TicketFactory(commit=False, requester_kpj=member.kpj, requester_phone=None)
    assert ticket.member_id == member.id and ticket.match_confidence == "exact"
    assert any(e.kind == "member_linked" for e in ticket.events)


def test_matching_on_creation_by_nik_and_passport(db):
    member = make_member(passport="B1234567")
    assert TicketFactory(commit=False, requester_nik=member.nik, requester_phone=None).member_id == member.id
    assert TicketFactory(commit=False, requester_passport="B1234567", requester_phone=None).member_id == member.id


def test_matching_by_phone_is_probable(db):
    member = make_member(phone_abroad="+85298765432")
    ticket = TicketFactory(commit=False, requester_phone="+85298765432")
    assert ticket.member_id == member.id and ticket.match_confidence == "probable"


def test_shared_phone_links_nobody(db):
    make_member(phone_abroad="+85298765432")
    make_member(phone_abroad="+85298765432")
    ticket = TicketFactory(commit=False, requester_phone="+85298765432")
    assert ticket.member_id is None


def test_no_identifiers_no_link(db):
    make_member()
    assert TicketFactory(commit=False, requester_phone=None).member_id is None


def test_agent_confirms_and_links_a_claim(db):
    agent = make_user()
    member, other = make_member(), make_member()
    claim = make_claim(member)
    ticket = TicketFactory(commit=False, requester_phone=None)
    services.link_claim(ticket, claim.id, actor_id=agent.id)  # links the member too
    assert ticket.member_id == member.id and ticket.match_confidence == "confirmed"
    assert ticket.claim_id == claim.id
    with pytest.raises(services.TicketError):
        services.link_claim(ticket, make_claim(other).id, actor_id=agent.id)
    services.link_member(ticket, other.id, actor_id=agent.id)
    assert ticket.claim_id is None


def test_csat_only_after_resolution_and_once(db):
    ticket = TicketFactory(commit=False)
    with pytest.raises(services.TicketError):
        services.rate(ticket, 5)
    services.change_status(ticket, "resolved")
    with pytest.raises(services.TicketError):
        services.rate(ticket, 6)
    services.rate(ticket, 4, "thanks")
    assert ticket.csat_score == 4
    with pytest.raises(services.TicketError):
        services.rate(ticket, 5)


def test_verification_by_birth_date_or_phone(db):
    member = make_member()
    ticket = TicketFactory(commit=False, requester_kpj=member.kpj)
    assert services.verify_requester(ticket, "+852 9123 4567")
    assert services.verify_requester(ticket, member.birth_date.isoformat())
    assert not services.verify_requester(ticket, "1999-01-01")
    assert not services.verify_requester(ticket, "+85290000000")
    assert not services.verify_requester(ticket, "")


def test_rating_a_merged_ticket_rates_its_target(db):
    source, target = TicketFactory(commit=False), TicketFactory(commit=False)
    services.merge(source, target)
    services.change_status(target, "resolved")
    services.rate(source, 5)
    assert target.csat_score == 5 and source.csat_score is None


def test_housekeeping_pass_closes_stale_resolved_tickets_and_commits(db, app):
    from app.core.scheduler import periodic_jobs
    from app.tickets.tasks import housekeeping

    ticket = _at("resolved")
    ticket.resolved_at = utcnow() - timedelta(days=30)
    db.session.commit()
    ticket_id = ticket.id

    assert housekeeping() == {"closed": 1, "erased": 0, "erase_failed": 0}
    assert db.session.get(Ticket, ticket_id).status == "closed"  # committed: seen by a new session
    assert periodic_jobs(app)["tickets"].step is housekeeping  # every worker runs it
