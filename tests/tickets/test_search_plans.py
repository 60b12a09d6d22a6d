"""The workspace searches are served by indexes on PostgreSQL (EXPLAIN on the real statements).

A few thousand synthetic tickets are inserted and analysed so the planner has real statistics;
each search-box reading must then use its own index, not a scan of the table.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from app.core.crypto import blind_index
from app.tickets import services
from tests.factories import make_member, make_user

pytestmark = pytest.mark.postgres

ROWS = 20_000

FILL = f"""
INSERT INTO tickets (reference, channel, category, priority, language, country, status, assignee_id,
    subject, description, requester_name, requester_name_key, requester_kpj, requester_phone_hash,
    requester_nik_hash, requester_passport_hash, created_at, updated_at, resolution_due_at, version)
SELECT 'PMI-2025-' || lpad(i::text, 6, '0'), 'portal',
    (ARRAY['membership','contribution','claim_jkk','claim_jkm','claim_jht','other'])[1 + i % 6],
    'normal', 'id', (ARRAY['TW','MY','HK','KR','JP','SG'])[1 + i % 6],
    (ARRAY['new','open','pending_worker','resolved','closed','closed','closed','closed'])[1 + i % 8],
    NULL, 'synthetic', '', 'Worker ' || i, 'worker ' || i, lpad(i::text, 11, '7'),
    encode(sha256(('phone' || i)::bytea), 'hex'), encode(sha256(('nik' || i)::bytea), 'hex'),
    encode(sha256(('passport' || i)::bytea), 'hex'),
    now() - (i || ' minutes')::interval, now(), now() + ((i % 500) || ' hours')::interval, 1
FROM generate_series(1, {ROWS}) AS i
"""


def _plan(db, query: services.SearchQuery) -> str:
    statement = services.search_statement(query)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))


@pytest.fixture
def filled(db):
    agent = make_user()
    member = make_member(kpj="23011234567", passport="C7654321")
    ticket = services.open_ticket(
        channel="portal",
        category="claim_jkk",
        subject="x",
        requester_name="Dewi Lestari",
        requester_phone="+85261234567",
        requester_kpj="12345678901",
        requester_nik="3201015705900123",
        requester_passport="B1234567",
        member_id=member.id,
    )
    services.assign(ticket, agent.id)
    db.session.commit()
    db.session.execute(text(FILL))
    db.session.execute(text("ANALYZE tickets"))
    db.session.execute(text("ANALYZE members"))
    return agent


@pytest.mark.parametrize(
    ("text_", "index"),
    [
        ("PMI-2026-000001", "uq_tickets_reference"),
        ("12345678901", "ix_tickets_requester_kpj"),
        ("3201015705900123", "ix_tickets_requester_nik_hash"),
        ("B1234567", "ix_tickets_requester_passport_hash"),
        ("+852 6123 4567", "ix_tickets_requester_phone_hash"),
        ("dewi lestari", "ix_tickets_requester_name_key"),
    ],
)
def test_each_search_uses_its_index(db, filled, text_, index):
    plan = _plan(db, services.SearchQuery(text=text_, view="all"))
    assert index in plan, plan
    assert "Seq Scan on tickets" not in plan, plan


@pytest.mark.parametrize(
    ("text_", "country"),
    [("966551233048", None), ("0912 345 678", None), ("055 123 3048", "SA"), ("0812-3456-7890", None)],
)
def test_phone_in_any_form_uses_the_phone_index(db, filled, text_, country):
    plan = _plan(db, services.SearchQuery(text=text_, phone_country=country, view="all"))
    assert "ix_tickets_requester_phone_hash" in plan, plan
    assert "Seq Scan on tickets" not in plan, plan


def test_member_linked_search_uses_the_member_index(db, filled):
    plan = _plan(db, services.SearchQuery(text="23011234567", view="all"))
    assert "ix_tickets_member_status" in plan, plan
    assert "Seq Scan on tickets" not in plan, plan


def test_mine_view_uses_the_assignee_index(db, filled):
    plan = _plan(db, services.SearchQuery(view="mine", user_id=filled.id))
    assert "ix_tickets_status_assignee" in plan, plan


def test_breaching_view_uses_a_due_index(db, filled):
    plan = _plan(db, services.SearchQuery(view="breaching"))
    # Any due-time index: the plain ones, or the open-tickets-only ones the wallboard added.
    due_indexes = (
        "ix_tickets_resolution_due_at",
        "ix_tickets_first_response_due_at",
        "ix_tickets_open_resolution_due",
        "ix_tickets_open_first_response_due",
    )
    assert any(index in plan for index in due_indexes), plan
    assert "Seq Scan on tickets" not in plan, plan


def test_the_real_search_finds_the_ticket(db, filled):
    found = services.search_tickets(services.SearchQuery(text="+85261234567", view="all"))
    assert [t.requester_phone_hash for t in found] == [blind_index("phone", "+85261234567")]


def test_a_rare_tags_filter_starts_from_the_tag_index(db, filled):
    # Common tags on every ticket, one rare tag on 20 of them: filtering by the rare one must
    # go tag → tickets, not walk the whole table looking for it.
    db.session.execute(text("INSERT INTO tags (name) SELECT 'tag-' || i FROM generate_series(1, 50) AS i"))
    db.session.execute(text("INSERT INTO tags (name) VALUES ('rare')"))
    db.session.execute(
        text(
            "INSERT INTO ticket_tags (ticket_id, tag_id) SELECT t.id, g.id FROM tickets t "
            "JOIN tags g ON g.name = 'tag-' || (1 + t.id % 50)"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO ticket_tags (ticket_id, tag_id) SELECT t.id, (SELECT id FROM tags WHERE name = 'rare') "
            "FROM tickets t WHERE t.id % 1000 = 3"
        )
    )
    db.session.execute(text("ANALYZE tags"))
    db.session.execute(text("ANALYZE ticket_tags"))
    plan = _plan(db, services.SearchQuery(view="all", tag="rare"))
    assert "ix_ticket_tags_tag_id" in plan, plan
    assert "Seq Scan on ticket_tags" not in plan and "Seq Scan on tickets" not in plan, plan
    assert len(services.search_tickets(services.SearchQuery(view="all", tag="rare"))) == 20


def test_retention_finds_its_batch_through_the_erasure_index(db, filled):
    from datetime import timedelta

    from app.core.time import utcnow
    from app.tickets import erasure

    # Most closed tickets already erased, as after years of retention passes.
    db.session.execute(
        text(
            "UPDATE tickets SET closed_at = created_at, erased_at = CASE WHEN id % 10 = 0 THEN NULL "
            "ELSE now() END WHERE status = 'closed'"
        )
    )
    db.session.execute(text("ANALYZE tickets"))
    statement = erasure.expired_statement(utcnow() - timedelta(days=1), 200)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
    assert "ix_tickets_erased_closed" in plan, plan
    assert "Seq Scan on tickets" not in plan, plan
