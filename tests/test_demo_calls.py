"""The demo's call history: written through the call log, so every supervisor page has figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.agents.models import AgentStateEvent, WorkItem
from app.demo import seed
from app.supervisor import kpis, reports, staffing, wallboard
from app.telephony.models import Call, CallbackRequest, CallEvent
from app.tickets.models import Ticket, TicketEvent
from tests.conftest import held_data

# 14:30 in Jakarta on a Wednesday: the centre has been open for hours today.
NOW = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)
DAYS = 8


@pytest.fixture(scope="module")
def demo(_session_app, _process_state, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One seed for the module (the slow part: ~1 min on PostgreSQL), rolled back at its end;
    each test reads it in a SAVEPOINT of its own (see ``held_data`` in tests/conftest.py)."""
    with held_data("demo", _session_app, _process_state) as holding:
        _session_app.config["DEMO_LOGINS_FILE"] = str(tmp_path_factory.mktemp("demo") / "logins.json")
        with time_machine.travel(NOW, tick=False):
            report = seed(members=80, history_days=DAYS, now=NOW)
        holding.seeded()
        yield report


def db_scalar(stmt):  # type: ignore[no-untyped-def]
    from app.extensions import db

    return db.session.scalar(stmt)


def test_every_supervisor_page_has_figures(app, demo):
    """(One seed for the three pages: loading the demo is the slow part.)"""
    period = reports.parse_period(
        {"start": (NOW - timedelta(days=DAYS)).date().isoformat(), "end": NOW.date().isoformat()}, now=NOW
    )
    # The call report: answered, abandoned, and the other ways out of the queue.
    overall = reports.call_kpis(period, now=NOW).overall
    assert demo.calls == overall.offered > DAYS * 10
    assert overall.answered > overall.abandoned > 0
    assert overall.callbacks + overall.timed_out + overall.short_abandoned > 0
    assert 0.3 < overall.service_level < 1
    assert overall.waiting == 0  # nobody is left in the queue by the demo
    assert overall.max_wait <= 900  # a wait ends when the caller leaves the queue
    # The agent report: calls, busy and idle time, breaks, wrap-up.
    agents = reports.agent_performance(period, now=NOW)
    assert sum(row.answered for row in agents) == overall.answered
    assert all(row.busy > 0 and row.idle > 0 for row in agents if row.answered)
    assert any(row.away > 0 for row in agents)
    assert sum(row.wrap_up for row in agents) > 0
    assert sum(row.ring_no_answer for row in agents) > 0  # now and then an offer is turned down
    # The IVR self-service: contained calls counted apart, and some who went on to an agent.
    served = reports.call_kpis(period, now=NOW).self_service_overall
    assert served.contained > 0 and served.to_agent > 0 and served.started > served.contained + served.to_agent
    assert 0.3 < served.containment_rate < 1
    # Today's wallboard.
    data = wallboard.snapshot(NOW)
    assert data["today"]["offered"] > 0 and data["today"]["answered"] > 0
    assert data["waiting"] == 0 and data["callbacks_pending"] == 0  # the demo starts on a quiet floor
    # The staffing plan for today, from the same weekday a week ago: Erlang rows.
    plan = staffing.staffing_plan(NOW.date(), weeks=1, settings=kpis.KpiSettings.from_config(), now=NOW)
    planned = [row for row in plan.rows if row.erlang_c is not None]
    assert planned and all(row.erlang_c.rostered >= 1 for row in planned)


def test_every_queued_call_has_its_ticket_and_the_agents_presence_tells_the_same_story(app, demo):
    queued = db_scalar(select(func.count(Call.id)).where(Call.enqueued_at.is_not(None)))
    # Every call has a ticket, except those contained in the IVR's self-service (no case to open).
    without_ticket = select(func.count(Call.id)).where(Call.ticket_id.is_(None))
    assert db_scalar(without_ticket.where(Call.enqueued_at.is_not(None))) == 0
    assert db_scalar(without_ticket) == db_scalar(
        select(func.count(Call.id)).where(Call.self_service.in_(("verified", "verifying")))
    )
    linked = db_scalar(select(func.count(TicketEvent.id)).where(TicketEvent.kind == "call_linked"))
    assert linked == queued
    # Repeat callers join their open ticket: fewer call tickets than calls.
    call_tickets = db_scalar(
        select(func.count(Ticket.id)).where(Ticket.channel.in_(("phone", "browser_call")))
    )
    assert 0 < call_tickets < queued
    # Each answered call: a work item with its agent's offer, call and wrap-up in the presence log.
    answered = db_scalar(select(func.count(CallEvent.id)).where(CallEvent.kind == "answered"))
    wrap_ups = db_scalar(
        select(func.count(AgentStateEvent.id)).where(
            AgentStateEvent.to_state == "wrap_up", AgentStateEvent.work_item_id.is_not(None)
        )
    )
    assert (
        wrap_ups
        == answered
        == db_scalar(select(func.count(WorkItem.id)).where(WorkItem.status == "completed"))
    )
    # Nothing is live: no item in a queue, every agent logged off at the end of the history.
    assert db_scalar(select(func.count(WorkItem.id)).where(WorkItem.status.in_(("waiting", "offered")))) == 0
    exits = db_scalar(
        select(func.count(CallEvent.id)).where(
            CallEvent.kind == "abandoned", CallEvent.data["reason"].as_string() == "callback"
        )
    )
    assert db_scalar(select(func.count(CallbackRequest.id)).where(CallbackRequest.source == "queue")) == exits


def test_loading_the_demo_twice_adds_nothing(demo, app):
    before = (
        db_scalar(select(func.count(Call.id))),
        db_scalar(select(func.count(CallEvent.id))),
        db_scalar(select(func.count(AgentStateEvent.id))),
        db_scalar(select(func.count(Ticket.id))),
    )
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        again = seed(members=80, history_days=DAYS, now=NOW + timedelta(hours=1))
    assert (again.calls, again.tickets) == (0, 0)
    after = (
        db_scalar(select(func.count(Call.id))),
        db_scalar(select(func.count(CallEvent.id))),
        db_scalar(select(func.count(AgentStateEvent.id))),
        db_scalar(select(func.count(Ticket.id))),
    )
    assert after == before
