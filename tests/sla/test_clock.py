"""The SLA clock on real tickets: policies, due times, pauses, achievements, the sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from app.core import realtime
from app.extensions import db as _db
from app.sla import services as sla
from app.sla.models import SlaEvent, SlaPolicy
from app.sla.sweep import sweep
from app.tickets import services as tickets
from app.tickets.models import Ticket, TicketEvent
from tests.factories import make_user

WIB = ZoneInfo("Asia/Jakarta")
H = 3600


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB).astimezone(UTC)


@pytest.fixture
def policies(db):
    sla.install_defaults()
    db.session.commit()
    return {p.name: p for p in db.session.scalars(select(SlaPolicy))}


def _open(category: str = "membership", **kwargs) -> Ticket:
    ticket = tickets.open_ticket(channel="portal", category=category, subject="Tolong", **kwargs)
    _db.session.commit()
    return ticket


def test_policy_is_chosen_by_category_then_priority(policies):
    with time_machine.travel(wib("2026-11-23 09:00"), tick=False):
        assert _open("membership").sla_policy_id == policies["Kepesertaan / Membership"].id
        assert _open("claim_jkm").sla_policy_id == policies["Klaim JKM (kematian) / Death claim"].id
        assert _open("emergency").sla_policy_id == policies["Darurat / Emergency"].id
        assert _open("other", priority="urgent").sla_policy_id == policies["Mendesak / Urgent"].id
        assert _open("other").sla_policy_id == policies["Umum / General"].id


def test_no_policy_means_no_promise(db):
    ticket = _open("membership")
    assert ticket.sla_policy_id is None and ticket.first_response_due_at is None
    assert ticket.sla_status is None


def test_due_times_follow_the_office_calendar(policies):
    # Death claim: first response 2 business hours, resolution 3 working days.
    with time_machine.travel(wib("2026-11-27 15:30"), tick=False):  # a Friday afternoon
        ticket = _open("claim_jkm")
    assert ticket.first_response_due_at == wib("2026-11-30 09:00")  # 1 h Friday + 1 h Monday
    assert ticket.resolution_due_at == wib("2026-12-02 15:30")  # 1 + 7.5 + 7.5 + 6.5 h
    assert ticket.first_response_warn_at == wib("2026-11-30 08:30")  # 75 % of 2 h
    assert ticket.sla_check_at == ticket.first_response_warn_at
    assert ticket.sla_status == "ok"


def test_emergency_runs_round_the_clock(policies):
    with time_machine.travel(wib("2026-12-25 02:00"), tick=False):  # Christmas night
        ticket = _open("emergency")
    assert ticket.first_response_due_at == wib("2026-12-25 02:15")
    assert ticket.resolution_due_at == wib("2026-12-26 02:00")


def test_first_response_records_achieved_time_and_margin(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 11:30"), tick=False):
        ticket = _open("claim_jkm")
    with time_machine.travel(wib("2026-11-23 13:45"), tick=False):  # lunch is not counted
        tickets.reply(ticket, "Kami sedang memeriksa.", actor_id=agent.id)
        _db.session.commit()
    assert ticket.first_response_seconds == int(1.25 * H)
    assert ticket.first_response_margin_seconds == int(0.75 * H)
    assert not ticket.first_response_breached
    assert ticket.sla_check_at == ticket.resolution_warn_at  # only resolution is left to watch


def test_waiting_on_the_worker_pauses_the_clock_across_a_weekend(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):  # Monday
        ticket = _open("claim_jht")  # resolution 5 working days = 37.5 h
        tickets.reply(ticket, "Mohon kirim paspor.", actor_id=agent.id, set_status="pending_worker")
        _db.session.commit()
    with time_machine.travel(wib("2026-11-26 10:00"), tick=False):
        assert ticket.status == "pending_worker"
        assert ticket.resolution_due_at is None and ticket.sla_check_at is None
        assert sla.summary(ticket)["paused"] is True
    with time_machine.travel(wib("2026-11-30 09:00"), tick=False):  # the worker answers next Monday
        tickets.requester_reply(ticket.id, "Ini paspor saya.")
        _db.session.commit()
    assert ticket.status == "open"
    assert ticket.sla_clock_seconds == 0  # paused the same second it started
    assert ticket.resolution_due_at == wib("2026-12-07 09:30")  # 37.5 h from Monday 09:00 (Friday is 7 h)


def test_resolution_stops_the_clock_and_reopening_starts_a_new_cycle(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        ticket = _open("membership")
        tickets.reply(ticket, "Sudah kami perbaiki.", actor_id=agent.id)
    with time_machine.travel(wib("2026-11-23 10:00"), tick=False):
        tickets.change_status(ticket, "resolved", actor_id=agent.id)
        _db.session.commit()
    assert ticket.resolution_seconds == 2 * H and ticket.sla_status == "met"
    assert ticket.sla_check_at is None
    with time_machine.travel(wib("2026-11-24 09:00"), tick=False):
        tickets.requester_reply(ticket.id, "Masih salah.")
        _db.session.commit()
    assert ticket.sla_cycle == 1 and ticket.resolution_seconds is None
    assert ticket.resolution_due_at == sla.calendar_of(_db.session.get(SlaPolicy, ticket.sla_policy_id)).add(
        wib("2026-11-24 09:00"), 5 * 7.5 * H
    )


def test_changing_the_category_rechooses_the_policy_and_keeps_used_time(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        ticket = _open("membership")
    with time_machine.travel(wib("2026-11-23 09:00"), tick=False):
        tickets.update_fields(ticket, actor_id=agent.id, expected_version=ticket.version, category="claim_jkm")
        _db.session.commit()
    assert ticket.sla_policy_id == policies["Klaim JKM (kematian) / Death claim"].id
    # Started 08:00 on the new policy's 2-hour first-response target.
    assert ticket.first_response_due_at == wib("2026-11-23 10:00")


def test_sweep_warns_once_then_breaches_once_and_escalates(policies):
    lead = make_user("supervisor")
    policy = policies["Klaim JKM (kematian) / Death claim"]
    policy.escalate_to_id = lead.id
    _db.session.commit()
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        ticket = _open("claim_jkm")
    assert ticket.priority == "normal"

    assert sweep(wib("2026-11-23 09:00")).warnings == 0  # 50 % of 2 h: not yet 75 %
    _db.session.commit()
    result = sweep(wib("2026-11-23 09:31"))
    _db.session.commit()
    assert (result.warnings, result.breaches) == (1, 0)
    assert sweep(wib("2026-11-23 09:32")).warnings == 0  # once
    _db.session.commit()
    _db.session.refresh(ticket)
    assert ticket.first_response_warned and ticket.sla_status == "at_risk"

    result = sweep(wib("2026-11-23 10:01"))
    assert ("sla.sweep", "supervisors") in [(name, room) for name, _, room in realtime.pending()]
    _db.session.commit()
    assert result.breaches == 1 and result.escalated == 2
    _db.session.refresh(ticket)
    assert ticket.first_response_breached and ticket.sla_status == "breached"
    assert ticket.priority == "high" and ticket.assignee_id == lead.id
    assert sweep(wib("2026-11-23 10:05")).breaches == 0
    _db.session.commit()

    events = _db.session.execute(select(SlaEvent.target, SlaEvent.kind).where(SlaEvent.ticket_id == ticket.id)).all()
    assert sorted(events) == [("first_response", "breach"), ("first_response", "warning")]
    kinds = [e.kind for e in _db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert kinds.count("sla_warning") == 1 and kinds.count("sla_breach") == 1
    escalations = [e.data for e in tickets.timeline(ticket) if e.data.get("escalation")]
    assert {"from": None, "to": lead.id, "escalation": True} in escalations
    assert any(d.get("fields", {}).get("priority") == ["normal", "high"] for d in escalations)
    # The next thing to watch is the resolution warning.
    assert ticket.sla_check_at == ticket.resolution_warn_at


def test_a_late_reply_records_the_breach_the_sweep_missed(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        ticket = _open("claim_jkm")
    with time_machine.travel(wib("2026-11-23 11:00"), tick=False):  # no sweep ran meanwhile
        tickets.reply(ticket, "Maaf terlambat.", actor_id=agent.id)
        _db.session.commit()
    assert ticket.first_response_breached and ticket.first_response_margin_seconds == -H
    assert sweep(wib("2026-11-23 11:01")).breaches == 0  # recorded once, by the reply
    _db.session.commit()
    assert _db.session.scalar(select(func.count()).select_from(SlaEvent).where(SlaEvent.kind == "breach")) == 1


def test_paused_and_resolved_tickets_are_not_swept(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        paused = _open("claim_jkm")
        tickets.reply(paused, "Mohon dokumen.", actor_id=agent.id, set_status="pending_worker")
        done = _open("claim_jkm")
        tickets.reply(done, "Selesai.", actor_id=agent.id, set_status="resolved")
        _db.session.commit()
    result = sweep(wib("2026-12-31 08:00"))
    _db.session.commit()
    assert (result.warnings, result.breaches) == (0, 0)


def test_sweep_over_many_tickets_counts_each_once(policies):
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        for _ in range(30):
            _open("emergency")
    first = sweep(wib("2026-11-23 08:20"))  # 15-minute first response passed for all
    _db.session.commit()
    # The warning moment (7.5 min) passed too, but a warning after the deadline is noise: only
    # the breach is recorded; the resolution target (24 h) is far off.
    assert first.breaches == 30 and first.warnings == 0
    again = sweep(wib("2026-11-23 08:21"))
    _db.session.commit()
    assert again.breaches == again.warnings == 0
    statuses = _db.session.execute(select(Ticket.sla_status, func.count()).group_by(Ticket.sla_status)).all()
    assert statuses == [("breached", 30)]


def test_summary_reports_remaining_business_time(policies):
    with time_machine.travel(wib("2026-11-23 11:00"), tick=False):
        ticket = _open("claim_jkm")
    with time_machine.travel(wib("2026-11-23 13:30"), tick=False):
        info = sla.summary(ticket)
    first = info["targets"][0]
    assert first["remaining_seconds"] == int(0.5 * H)  # 1 h + 30 min of 2 h used; lunch free
    assert info["policy"] == "Klaim JKM (kematian) / Death claim"


def test_sweep_escalation_does_not_lower_priority(policies):
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        ticket = _open("claim_jkm", priority="high")
    sweep(wib("2026-11-23 10:30"))
    _db.session.commit()
    _db.session.refresh(ticket)
    assert ticket.priority == "high"


def test_reopened_ticket_can_breach_again_in_its_new_cycle(policies):
    agent = make_user("agent")
    with time_machine.travel(wib("2026-12-01 08:00"), tick=False):
        ticket = _open("emergency")
    sweep(wib("2026-12-02 09:00"))  # both targets breached in cycle 0
    _db.session.commit()
    with time_machine.travel(wib("2026-12-02 10:00"), tick=False):
        _db.session.refresh(ticket)
        tickets.reply(ticket, "Selesai.", actor_id=agent.id, set_status="resolved")
        _db.session.commit()
    with time_machine.travel(wib("2026-12-03 10:00"), tick=False):
        tickets.requester_reply(ticket.id, "Belum selesai.")
        _db.session.commit()
    result = sweep(wib("2026-12-04 10:30"))
    _db.session.commit()
    assert result.breaches == 1  # the new cycle's resolution
    cycles = _db.session.execute(
        select(SlaEvent.cycle, func.count()).where(SlaEvent.kind == "breach").group_by(SlaEvent.cycle)
    ).all()
    assert sorted(cycles) == [(0, 2), (1, 1)]


def test_ticket_page_shows_the_promise(client, auth, policies):
    with time_machine.travel(wib("2026-11-23 11:00"), tick=False):
        # Signed in at the moved time: a session cookie signed "now" and read at an earlier
        # moved time would be "signed in the future" and refused, whatever today's date is.
        auth.login_as("agent")
        ticket = _open("claim_jkm")
    with time_machine.travel(wib("2026-11-23 13:30"), tick=False):
        page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="sla-panel"' in page
    assert "Klaim JKM (kematian) / Death claim" in page
    assert "30 min left" in page  # first response: 2 h target, 1 h 30 min used
    with time_machine.travel(wib("2026-11-23 14:30"), tick=False):
        page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "30 min overdue" in page


def test_flags_set_by_a_plain_update_are_read_again_but_not_for_a_ticket_opened_in_this_transaction(policies):
    """The sweep sets warned/breached flags with plain UPDATEs, so reconcile re-reads them; a
    ticket inserted in the current transaction cannot have been swept, and is not re-read."""
    from sqlalchemy import event, update

    from app.core.fresh import inserted_in_this_transaction

    ticket = tickets.open_ticket(channel="portal", category="membership", subject="Tolong")  # not committed
    assert inserted_in_this_transaction(ticket)
    reads: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT tickets.first_response_warned"):  # the re-read of the flags
            reads.append(statement)

    event.listen(_db.engine, "before_cursor_execute", record)
    try:
        sla.reconcile(ticket)
        assert reads == []  # opened in this transaction: nothing to re-read
        _db.session.commit()
        assert not inserted_in_this_transaction(ticket)  # the mark lapses with the commit
        _db.session.execute(
            update(Ticket).where(Ticket.id == ticket.id).values(first_response_warned=True)
            .execution_options(synchronize_session=False)
        )
        sla.reconcile(ticket)
        assert len(reads) == 1 and ticket.first_response_warned is True  # the sweep's flag, read again
    finally:
        event.remove(_db.engine, "before_cursor_execute", record)
