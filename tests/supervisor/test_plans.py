"""The wallboard and report queries are served by their indexes on PostgreSQL (EXPLAIN on the
statements the real functions send, with their parameters).

A few tens of thousands of synthetic rows are inserted and analysed so the planner has real
statistics; then each hot query must use its index rather than scan its table.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from app.core.time import utcnow
from app.extensions import db as _db
from app.supervisor import kpis, reports, rollup, wallboard
from tests.conftest import held_data
from tests.factories import make_user

pytestmark = pytest.mark.postgres

DAYS = 60
CALLS = 20_000

FILL = [
    f"""INSERT INTO calls (id, call_sid, direction, language, topic, status, enqueued_at, created_at, updated_at)
    SELECT i, 'CA' || lpad(i::text, 32, '0'), 'inbound', 'id', 'other', 'completed',
           now() - make_interval(secs => i * {DAYS * 86400 // CALLS}), now(), now()
    FROM generate_series(1, {CALLS}) AS i""",
    """INSERT INTO call_events (key, call_id, kind, at, wait_seconds, data)
    SELECT c.id || ':' || k.kind, c.id, k.kind, c.enqueued_at + make_interval(secs => k.after), k.wait,
           CAST(k.data AS json)
    FROM calls c CROSS JOIN (VALUES ('created', -30, NULL, '{}'), ('queued', 0, NULL, '{"language": "id"}'),
                                    ('answered', 12, 12, '{}'), ('completed', 200, 12, '{}')) AS k(kind, after, wait, data)""",
    f"""INSERT INTO work_items (id, kind, ref_id, status, language, topic, priority, agent_id, excluded_agents,
                            offers, enqueued_at, version)
    SELECT i, 'call', i, 'completed', 'id', 'other', 10, :agent, '[]', 1, now(), 1 FROM generate_series(1, {CALLS}) AS i""",
    """INSERT INTO agent_state_events (agent_id, from_state, to_state, work_item_id, at)
    SELECT :agent, 'on_call', s.state, c.id, c.enqueued_at + make_interval(secs => s.after)
    FROM calls c CROSS JOIN (VALUES ('on_call', 12), ('wrap_up', 200), ('available', 230)) AS s(state, after)""",
    """INSERT INTO tickets (reference, channel, category, priority, language, status, subject, description,
                         created_at, updated_at, first_response_at, first_response_due_at, resolution_due_at,
                         resolved_at, csat_score, version, sla_status)
    SELECT 'PMI-P-' || i, 'phone', 'other', 'normal', 'id',
           CASE WHEN i % 50 = 0 THEN 'open' ELSE 'closed' END, 's', '', now(), now(),
           CASE WHEN i % 100 = 0 THEN NULL ELSE now() - interval '300 days' END,
           now() - make_interval(secs => i * 60), now() - make_interval(secs => i * 50),
           CASE WHEN i % 50 = 0 THEN NULL ELSE now() - make_interval(secs => i * 90) END,
           CASE WHEN i % 3 = 0 THEN 1 + i % 5 END, 1,
           CASE WHEN i % 50 = 0 THEN (ARRAY['ok', 'at_risk', 'breached'])[1 + i % 3] ELSE 'met' END
    FROM generate_series(1, 60000) AS i""",
    """INSERT INTO callback_requests (phone, language, topic, source, timezone, status, attempts, created_at, updated_at)
    SELECT 'x', 'id', 'other', 'queue', 'Asia/Jakarta', CASE WHEN i % 500 = 0 THEN 'pending' ELSE 'completed' END,
           1, now(), now() FROM generate_series(1, 20000) AS i""",
]


@pytest.fixture(scope="module")
def filled(_session_app, _process_state):  # type: ignore[no-untyped-def]
    """Filled and analysed once for the module (20-27 s a test before), rolled back at its end;
    each test runs in a SAVEPOINT of its own (``held_data`` in tests/conftest.py), so the
    roll-up one test writes is gone before the next."""
    with held_data("filled", _session_app, _process_state) as holding:
        agent = make_user()
        for statement in FILL:
            _db.session.execute(text(statement), {"agent": agent.id})
        for table in ("calls", "call_events", "work_items", "agent_state_events", "tickets", "callback_requests"):
            _db.session.execute(text(f"ANALYZE {table}"))
        _db.session.commit()
        agent_id = agent.id
        holding.seeded()
        yield agent_id


@contextmanager
def statements(db):
    """Every statement the code inside sends, with its parameters."""
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SET", "EXPLAIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


def plans(db, sent) -> list[str]:
    """EXPLAIN, on the test's own connection (it sees the filled tables and their statistics)."""
    result = []
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute("SET LOCAL jit = off")
    for statement, parameters in sent:
        cursor.execute("EXPLAIN " + statement, parameters)
        result.append("\n".join(row[0] for row in cursor.fetchall()))
    return result


def test_tickets_at_risk_use_the_sla_status_index(db, filled):
    with statements(db) as sent:
        wallboard.ticket_sla_counts()
    [plan] = plans(db, sent)
    assert "ix_tickets_sla_status_status" in plan, plan
    assert "Seq Scan on tickets" not in plan, plan


def test_callbacks_pending_use_the_status_index(db, filled):
    with statements(db) as sent:
        wallboard.snapshot()
    plan = next(p for p in plans(db, sent) if "callback_requests" in p)
    assert "ix_callback_requests_status" in plan, plan


def test_call_kpis_from_the_logs_use_the_event_indexes(db, filled):
    now = utcnow()
    with statements(db) as sent:
        kpis.call_report(now - timedelta(days=7), now, interval="60", now=now)
    joined = "\n".join(plans(db, sent))
    assert "ix_call_events_kind_at" in joined, joined
    assert "ix_agent_state_events_at" in joined, joined
    assert "Seq Scan on call_events" not in joined, joined
    assert "Seq Scan on agent_state_events" not in joined, joined


def test_call_kpis_from_roll_ups_use_their_index(db, filled):
    now = utcnow()
    rollup.roll_up(now, limit=DAYS + 2)
    db.session.execute(text("ANALYZE call_facts"))
    db.session.execute(text("ANALYZE agent_time_slots"))
    db.session.commit()
    with statements(db) as sent:
        kpis.call_report(now - timedelta(days=30), now, interval="day", now=now)
    joined = "\n".join(plans(db, sent))
    assert "ix_call_facts_queued_at" in joined, joined
    assert "Seq Scan on call_facts" not in joined, joined
    assert "Seq Scan on call_events" not in joined, joined


def test_satisfaction_uses_the_resolved_index(db, filled):
    settings = kpis.KpiSettings()
    today = utcnow().astimezone(settings.zone).date()
    period = reports.Period(today - timedelta(days=6), today, "day", "queue", settings)
    with statements(db) as sent:
        reports.satisfaction(period)
    for plan in plans(db, sent):
        assert "ix_tickets_resolved_at" in plan, plan
        assert "Seq Scan on tickets" not in plan, plan
