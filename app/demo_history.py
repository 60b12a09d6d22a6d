"""Four weeks of demo case history, so the embedded default's reports and wallboard have data.

Tickets are opened through the tickets service (matching, references, policies), then their
life — first reply, waiting on the worker, resolution — is replayed at past instants through the
SLA engine (``reconcile(now=…)``), exactly as if it had happened then: due times, achieved
business times, margins and late-reply breaches come out of the same code as in production.
Response delays are drawn so that most promises are kept and some are not. Finally the sweep
records what is overdue now. Idempotent: it does nothing once any demo history exists.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.core.time import utcnow
from app.extensions import db
from app.records.models import Member
from app.sla import services as sla
from app.sla.models import SlaPolicy
from app.sla.sweep import sweep
from app.staff.models import User
from app.tickets import services as tickets
from app.tickets.models import Ticket, TicketEvent

MARKER = "[demo]"
CATEGORY_WEIGHTS = [
    ("membership", 18), ("contribution", 10), ("claim_jkk", 12), ("claim_jkm", 6), ("claim_jht", 16),
    ("benefit_info", 10), ("data_correction", 8), ("app_access", 8), ("service_complaint", 7),
    ("emergency", 3), ("other", 2),
]
# Tickets from calls (phone, browser_call, voicemail) are opened by their calls (demo_calls).
CHANNELS = [("portal", 6), ("api", 1), ("email", 1)]
COUNTRIES = [("TW", 30), ("HK", 30), ("MY", 15), ("SG", 6), ("KR", 6), ("JP", 5), ("SA", 4), ("IT", 2), ("BN", 2)]
SUBJECTS = {
    "membership": "Kartu peserta belum terbit", "contribution": "Iuran sudah dibayar tapi belum tercatat",
    "claim_jkk": "Klaim kecelakaan kerja di pabrik", "claim_jkm": "Klaim santunan kematian suami",
    "claim_jht": "Pencairan JHT setelah pulang", "benefit_info": "Manfaat beasiswa anak",
    "data_correction": "Nama di data salah", "app_access": "Tidak bisa masuk aplikasi JMO",
    "service_complaint": "Petugas tidak membalas", "emergency": "Dirawat di rumah sakit, majikan tidak peduli",
    "other": "Pertanyaan lain",
}


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def seed_history(rng: random.Random, days: int = 28, now: datetime | None = None) -> int:
    """Create about eight demo tickets a day over the last ``days`` days. Returns how many."""
    if db.session.scalar(select(func.count(Ticket.id)).where(Ticket.subject.like(f"{MARKER}%"))):
        return 0
    sla.install_defaults()
    now = now or utcnow()
    agents = list(db.session.scalars(select(User).where(User.role == "agent", User.active.is_(True))))
    member_ids = list(db.session.scalars(select(Member.id).limit(200)))
    created = 0
    for day in range(days, 0, -1):
        for _ in range(rng.randint(3, 7)):
            start = now - timedelta(days=day, seconds=rng.randint(0, 86_399))
            created += _one(rng, start, now, agents, member_ids)
    db.session.flush()
    while sweep(now).full:  # what is overdue by now is recorded as breached
        pass
    return created


def _event(ticket: Ticket, kind: str, at: datetime, *, actor_id: int | None = None, body: str | None = None,
           public: bool = True, data: dict | None = None) -> None:
    db.session.add(TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor_id, public=public, body=body,
                               data=data or {}, created_at=at))


def _one(rng: random.Random, start: datetime, now: datetime, agents: list[User], member_ids: list[int]) -> int:
    category = _pick(rng, CATEGORY_WEIGHTS)
    live_ticket(
        rng, start, now, agents,
        channel=_pick(rng, CHANNELS),
        category=category,
        country=_pick(rng, COUNTRIES),
        member_id=rng.choice(member_ids) if member_ids and rng.random() < 0.7 else None,
    )  # fmt: skip
    return 1


def live_ticket(
    rng: random.Random,
    start: datetime,
    now: datetime,
    agents: list[User],
    *,
    channel: str,
    category: str,
    country: str | None,
    member_id: int | None,
    phone: str | None = None,
    language: str = "id",
    agent: User | None = None,
) -> Ticket:
    """Open a demo ticket at ``start`` through the tickets service and replay its life up to
    ``now`` (first reply, waiting on the worker, resolution) through the SLA engine.

    ``agent``: who takes it (the agent who answered its call); by default one drawn at random.
    """
    ticket = tickets.open_ticket(
        channel=channel,
        category=category if category in SUBJECTS else "other",
        subject=f"{MARKER} {SUBJECTS.get(category, SUBJECTS['other'])}",
        country=country,
        member_id=member_id,
        requester_phone=phone,
        language=language,
        requester_name="Pekerja (demo)",
    )
    _replay(rng, ticket, start, now, agent or (rng.choice(agents) if agents else None))
    return ticket


def _replay(rng: random.Random, ticket: Ticket, start: datetime, now: datetime, agent: User | None) -> None:
    # Move its birth to the past and let the SLA engine start the clock then.
    ticket.created_at = ticket.updated_at = start
    for event in db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)):
        event.created_at = start
    ticket.sla_policy_id = None
    ticket.sla_clock_started_at = None
    ticket.sla_clock_seconds = 0
    sla.reconcile(ticket, now=start)
    if ticket.sla_policy_id is None:
        return
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id)
    calendar = sla.calendar_of(policy, start)
    if agent is not None:
        ticket.assignee_id = agent.id
        _event(ticket, "assigned", start + timedelta(minutes=1), public=False, data={"from": None, "to": agent.id})
    # First reply: usually well inside the target, sometimes late (a fifth of the time).
    target = ticket.first_response_target_seconds or 3600
    share = rng.uniform(1.05, 2.5) if rng.random() < 0.2 else rng.uniform(0.1, 0.9)
    first = calendar.add(start, target * share)
    if first > now:
        return  # still waiting for its first reply
    ticket.first_response_at = first
    ticket.status = "open"
    _event(ticket, "public_reply", first, actor_id=agent.id if agent else None,
           body="Terima kasih, kami sedang memeriksa kasus Anda.")
    sla.reconcile(ticket, now=first)
    moment = first
    if rng.random() < 0.3:  # the agent needs a document from the worker
        ticket.status = "pending_worker"
        sla.reconcile(ticket, now=moment)
        moment = moment + timedelta(hours=rng.uniform(2, 60))
        if moment > now:
            return
        _event(ticket, "public_reply", moment, body="Ini dokumen yang diminta.", data={})
        ticket.status = "open"
        sla.reconcile(ticket, now=moment)
    remaining = (ticket.resolution_target_seconds or 86_400) - (ticket.sla_clock_seconds or 0)
    share = rng.uniform(1.05, 1.8) if rng.random() < 0.15 else rng.uniform(0.1, 0.95)
    resolved = calendar.add(moment, max(remaining * share, 60))
    if resolved > now:
        return
    ticket.status = "resolved"
    ticket.resolved_at = resolved
    _event(ticket, "status", resolved, actor_id=agent.id if agent else None, data={"from": "open", "to": "resolved"})
    sla.reconcile(ticket, now=resolved)
    if rng.random() < 0.6:
        ticket.csat_score = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 12, 8, 5])[0]
    ticket.updated_at = resolved
