"""Four weeks of demo call history, written through the call log, for the supervisor pages.

The workload (who calls when, who is on shift) comes from ``app.demo_traffic``. A small queue
simulation decides who answers when (first come, first served, the agent idle longest, by
language; now and then an offer is turned down and the next agent answers); what it decides is
then *written by the call path's own functions*: ``services.log_event`` / ``abandon`` /
``left_for_callback`` / ``left_queue`` / ``agent_joined`` / ``log_completed`` for the call
log, ``presence.transition`` for every presence change (login, offer, call, wrap-up, break,
logout) and the tickets service for the ticket each queued call opens or joins (the caller's
open ticket, as ``ensure_ticket`` would find it). Routing and Twilio are not run: past calls
need no live queue. Calls still going on at ``now`` are left out and agents on shift are
logged out then, so the demo starts on a quiet floor.

Idempotent: nothing is written once a demo call exists (their CallSids start ``CAdemo``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from app.agents.models import AVAILABLE, AWAY, OFFLINE, ON_CALL, WRAP_UP, WorkItem
from app.agents.routing import presence
from app.core.realtime import discard_pending
from app.demo_history import live_ticket
from app.demo_people import EMAIL_DOMAIN
from app.demo_traffic import (
    MEAN_PATIENCE,
    SHIFTS,
    TOPICS,
    ZONES,
    Caller,
    Shift,
    Traffic,
    arrivals,
    centre_zone,
    shifts_on,
)
from app.demo_traffic import at as local_time
from app.extensions import db
from app.records.models import Claim, Member
from app.staff.models import User
from app.telephony import services
from app.telephony.models import Call, CallbackRequest
from app.tickets import services as tickets

SID_PREFIX = "CAdemo"
Change = tuple[datetime, str, str | None, int | None]  # a presence change: at, state, reason, item


@dataclass(kw_only=True)
class SeedState(Traffic):
    now: datetime
    agents: list[User]
    open_tickets: dict[str, tuple[int, datetime, datetime | None]] = field(default_factory=dict)
    sequence: int = 0
    calls: int = 0
    tickets: int = 0
    # The IVR self-service (claim status) draws from a source of its own, so adding it left the
    # rest of the demo's history as it was.
    served: random.Random = field(default_factory=lambda: random.Random(15))  # noqa: S311 - synthetic data
    claimants: list[Member] = field(default_factory=list)
    contained: int = 0


def demo_calls_exist() -> bool:
    return db.session.scalar(select(Call.id).where(Call.call_sid.like(f"{SID_PREFIX}%")).limit(1)) is not None


def seed_calls(rng: random.Random, now: datetime, days: int = 28) -> tuple[int, int]:
    """Write ``days`` days of call history up to ``now`` (and today's, up to ``now``).

    Returns (calls, tickets opened by them); (0, 0) once demo calls exist.
    """
    if days <= 0 or demo_calls_exist():
        return 0, 0
    users = {
        u.email.split("@")[0]: u
        for u in db.session.scalars(
            select(User).where(User.active.is_(True), User.email.like(f"%@{EMAIL_DOMAIN}"))
        )
    }  # the demo's own staff (agent1@…), never a real account
    agents = [users[name] for name, *_ in SHIFTS if name in users]
    if not agents:
        return 0, 0
    members = list(db.session.scalars(select(Member).where(Member.phone_abroad.is_not(None)).limit(200)))
    state = SeedState(rng=rng, now=now, agents=agents, members=members)
    with_claims = set(db.session.scalars(select(Claim.member_id).distinct()))
    state.claimants = [member for member in members if member.id in with_claims]
    today = now.astimezone(centre_zone()).date()
    for offset in range(days, -1, -1):
        _day(state, today - timedelta(days=offset), users)
        db.session.flush()
    discard_pending()
    return state.calls, state.tickets


def _day(state: SeedState, day: date, users: dict[str, User]) -> None:
    shifts = shifts_on(state, day, users)
    for queued, caller in arrivals(state, day):
        _call(state, shifts, queued, caller)
    for shift in shifts:
        _presence(state, shift)
    _contained_calls(state, day)


SELF_SERVICE_BEFORE_AGENT = 0.3  # claim callers with a KPJ who heard their status, then wanted an agent


def _self_service_first(state: SeedState, call: Call, entered: datetime, queued: datetime) -> None:
    """Some claim callers heard their status in the IVR before asking for an agent: the steps
    the self-service logs, inside the time the call spent in the IVR."""
    if call.direction != "inbound" or not call.kpj or not (call.topic or "").startswith("claim_"):
        return
    if state.served.random() >= SELF_SERVICE_BEFORE_AGENT:
        return
    span = queued - entered
    call.self_service = "agent"
    services.log_event(call, "ss_started", at=entered + span * 0.3, data={"language": call.language})
    services.log_event(call, "ss_verified", at=entered + span * 0.5, data={"claims": 1})
    services.log_event(call, "ss_agent", at=entered + span * 0.95, data={"topic": call.topic, "reason": "asked"})


def _contained_calls(state: SeedState, day: date) -> None:
    """Callers who heard their claim status in the IVR and hung up (contained: no queue, no
    ticket), and a few who hung up before their birth date was checked."""
    rng = state.served
    if not state.claimants:
        return
    for _ in range(rng.randint(3, 9)):
        member = rng.choice(state.claimants)
        start = local_time(day, time(rng.randint(7, 20), rng.randint(0, 59), rng.randint(0, 59)))
        language = "en" if rng.random() < 0.15 else "id"
        chose = start + timedelta(seconds=rng.uniform(20, 40))
        verified = chose + timedelta(seconds=rng.uniform(15, 30))
        end = verified + timedelta(seconds=rng.uniform(30, 120))
        finished = rng.random() >= 0.12
        if end > state.now:
            continue
        state.sequence += 1
        call = Call(
            call_sid=f"{SID_PREFIX}s{state.sequence:027d}",
            direction="inbound",
            from_number=member.phone_abroad,
            to_number="+622150001234",
            caller_country=member.placement_country,
            language=language,
            kpj=member.kpj,
            member_id=member.id,
            status="completed",
            self_service="verified" if finished else "verifying",
            created_at=start,
            updated_at=end,
            ended_at=end if finished else verified,
        )
        db.session.add(call)
        db.session.flush()
        services.log_event(call, "created", at=start, data={"direction": "inbound"})
        services.log_event(call, "ss_started", at=chose, data={"language": language})
        if not finished:
            continue
        services.log_event(call, "ss_verified", at=verified, data={"claims": 1})
        if rng.random() < 0.25:
            services.log_event(call, "ss_sms", at=end - timedelta(seconds=10))
        services.log_event(call, "contained", at=end, data={"language": language})
        state.contained += 1


def _call(state: SeedState, shifts: list[Shift], queued: datetime, caller: Caller) -> None:
    rng, now = state.rng, state.now
    max_wait = int(current_app.config["TELEPHONY_MAX_WAIT_SECONDS"])
    language = "en" if rng.random() < 0.1 else "id"
    topic = rng.choices([t for t, _ in TOPICS], weights=[w for _, w in TOPICS])[0]
    # Some callers hold on whatever it takes (until the maximum wait sends them to voicemail).
    patience = float(max_wait) if rng.random() < 0.08 else 2.0 + rng.expovariate(1 / MEAN_PATIENCE)
    gives_up = queued + timedelta(seconds=min(patience, max_wait))

    def pick(at: datetime, excluded: Shift | None = None) -> tuple[datetime, Shift] | None:
        """The eligible agent free first (the router offers to the one idle longest)."""
        best: tuple[datetime, Shift] | None = None
        for shift in shifts:
            if language in shift.languages and shift is not excluded:
                free = shift.first_free(at)
                # Free at the same moment: the one idle since the earliest (the longest idle).
                if free is not None and (best is None or (free, shift.free_at) < (best[0], best[1].free_at)):
                    best = (free, shift)
        return best

    best = pick(queued)
    declined: tuple[datetime, datetime, Shift] | None = None
    if best is not None and rng.random() < 0.05:  # she turns the offer down: the next agent gets it
        turned_down = best[0] + timedelta(seconds=rng.uniform(4, 15))
        other = pick(turned_down, excluded=best[1])
        if other is not None and other[0] + timedelta(seconds=11) <= gives_up:
            declined, best = (best[0], turned_down, best[1]), other
    ring = timedelta(seconds=rng.uniform(3, 11))
    answer_at = best[0] + ring if best else None
    if answer_at is not None and answer_at <= gives_up:
        talk = timedelta(seconds=max(45.0, min(1500.0, rng.lognormvariate(math.log(300), 0.55))))
        wrap = timedelta(seconds=rng.uniform(8, 70))
        end = answer_at + talk + wrap
        if end > now:
            return  # would still be going on: the demo starts with a quiet floor
        assert best is not None
        shift = best[1]
        shift.free_at = end
        call = _new_call(state, caller, queued, language, topic)
        item = _work_item(call, shift.agent.id, "completed", best[0], answer_at, answer_at + talk)
        if declined is not None:  # as routing_outcome logs a declined offer
            offered, turned_down, decliner = declined
            item.offers, item.excluded_agents = 2, [decliner.agent.id]
            decliner.free_at = max(decliner.free_at, turned_down)
            decliner.declines.append((offered, turned_down, item.id))
            services.log_event(call, "offered", suffix=f"{item.id}.1", at=offered, agent_id=decliner.agent.id,
                               data={"work_item_id": item.id, "offer": 1})  # fmt: skip
            ring_ms = int((turned_down - offered).total_seconds() * 1000)
            services.log_event(call, "ring_no_answer", suffix=f"{item.id}.1", at=turned_down,
                               agent_id=decliner.agent.id,
                               data={"work_item_id": item.id, "reason": "declined", "ring_ms": ring_ms})  # fmt: skip
        services.log_event(call, "offered", suffix=f"{item.id}.{item.offers}", at=best[0], agent_id=shift.agent.id,
                           data={"work_item_id": item.id, "offer": item.offers})  # fmt: skip
        services.agent_joined(call, shift.agent.id, at=answer_at)
        call.status, call.ended_at = "completed", answer_at + talk
        services.log_completed(call, answer_at + talk, shift.agent.id, {"ended_by": "agent"})
        shift.calls.append((best[0], answer_at, answer_at + talk, end, item.id))
        _ticket(state, call, caller, queued, shift.agent)
        return
    if gives_up + timedelta(seconds=60) > now:
        return
    call = _new_call(state, caller, queued, language, topic)
    _work_item(call, None, "cancelled", None, None, gives_up)
    call.ended_at = gives_up
    if patience >= max_wait:  # the maximum wait: she leaves the queue for voicemail
        call.exit_reason = "max_wait"
        services.left_queue(call, "max_wait", gives_up)
        message = gives_up + timedelta(seconds=rng.uniform(25, 55))
        call.ended_at, call.status = message, "completed"
        services.log_event(call, "voicemail", at=message, data={"recording_id": None})
        ticket_id = _ticket(state, call, caller, queued, None)
        note = tickets.add_event(
            ticket_id, "internal_note", {"voicemail_recording_id": None, "call_id": call.id}
        )  # as voicemail_left notes it (the demo keeps no recording)
        note.created_at = message
        if services.callback_possible(call):  # as voicemail_left decides
            _callback(state, call, "voicemail", message)
    elif patience > 45 and services.callback_possible(call) and rng.random() < 0.3:  # pressed 1
        call.exit_reason = "callback"
        services.left_for_callback(call, gives_up)
        call.status = "completed"
        _ticket(state, call, caller, queued, None)
        _callback(state, call, "queue", gives_up)
    else:
        call.status = "completed"
        services.abandon(call, "hangup", gives_up)
        _ticket(state, call, caller, queued, None)


def _new_call(state: SeedState, caller: Caller, queued: datetime, language: str, topic: str) -> Call:
    state.sequence += 1
    state.calls += 1
    rng = state.rng
    entered = queued - timedelta(seconds=rng.uniform(25, 70))  # the IVR: language, KPJ, topic
    member = caller.member
    keyed_kpj = member is not None and rng.random() < 0.7
    call = Call(
        call_sid=f"{SID_PREFIX}{state.sequence:028d}",
        direction="browser" if caller.browser else "inbound",
        from_number=f"client:worker-demo-{state.sequence}" if caller.browser else caller.phone,
        to_number="client:halopmi" if caller.browser else "+622150001234",
        caller_country=None if caller.browser else caller.country,
        language=language,
        topic=topic,
        kpj=member.kpj if member is not None and keyed_kpj else None,
        member_id=member.id if member is not None and (keyed_kpj or caller.browser) else None,
        status="in-progress",
        enqueued_at=queued,
        created_at=entered,
        updated_at=entered,
    )
    db.session.add(call)
    db.session.flush()
    services.log_event(call, "created", at=entered, data={"direction": call.direction})
    _self_service_first(state, call, entered, queued)
    services.log_event(call, "queued", at=queued, data={"topic": topic, "language": language})
    return call


def _work_item(
    call: Call,
    agent_id: int | None,
    status: str,
    offered: datetime | None,
    connected: datetime | None,
    ended: datetime,
) -> WorkItem:
    """The routing item the call was (its wrap-up is found through it)."""
    item = WorkItem(
        kind="call", ref_id=call.id, status=status, language=call.language, topic=call.topic or "other",
        country=call.caller_country, member_id=call.member_id, agent_id=agent_id, excluded_agents=[],
        offers=1 if offered else 0, enqueued_at=call.enqueued_at, offered_at=offered, connected_at=connected,
        ended_at=ended, end_reason="completed" if status == "completed" else "caller_left", version=1,
    )  # fmt: skip
    db.session.add(item)
    db.session.flush()
    return item


def _ticket(state: SeedState, call: Call, caller: Caller, at: datetime, agent: User | None) -> int:
    """The ticket ``ensure_ticket`` would give this call: the caller's open one, or a new one."""
    keys = [f"m{call.member_id}"] if call.member_id else []
    if call.from_number and call.from_number.startswith("+"):
        keys.append(f"p{call.from_number}")
    ticket_id = None
    for key in keys:
        found = state.open_tickets.get(key)
        if found and found[1] <= at and (found[2] is None or found[2] > at):
            ticket_id = found[0]
            break
    if ticket_id is None:
        ticket = live_ticket(
            state.rng, at, state.now, state.agents,
            channel=services.CHANNEL_BY_DIRECTION[call.direction],
            category=call.topic or "other",
            country=call.caller_country or caller.country,
            member_id=call.member_id,
            phone=call.from_number if call.from_number and call.from_number.startswith("+") else None,
            language=call.language,
            agent=agent,
        )  # fmt: skip
        ticket_id = ticket.id
        state.tickets += 1
        for key in keys:
            state.open_tickets[key] = (ticket.id, at, ticket.resolved_at)
    call.ticket_id = ticket_id
    event = tickets.add_event(ticket_id, "call_linked", {"call_id": call.id, "summary": None})
    event.created_at = at
    return ticket_id


def _callback(state: SeedState, call: Call, source: str, at: datetime) -> None:
    """The call-back she asked for (from the queue, or after her message), long since made."""
    assert call.from_number is not None
    reached = state.rng.random() < 0.8
    db.session.add(
        CallbackRequest(
            phone=call.from_number, country=call.caller_country, language=call.language,
            topic=call.topic or "other", kpj=call.kpj, member_id=call.member_id, source=source,
            timezone=ZONES.get(call.caller_country or "", "Asia/Jakarta"),
            status="completed" if reached else "failed", attempts=1 if reached else 3, ticket_id=call.ticket_id,
            call_id=call.id, created_at=at, updated_at=at + timedelta(minutes=state.rng.randint(10, 180)),
        )
    )  # fmt: skip


def _presence(state: SeedState, shift: Shift) -> None:
    """The agent's day in the presence log, through ``presence.transition`` in time order."""
    agent_id, now = shift.agent.id, state.now
    if shift.start >= now:
        return
    changes: list[Change] = [(shift.start, AVAILABLE, "login", None)]
    pause = shift.break_start
    # Calls answered and offers turned down, in time order: (start, free again, changes).
    episodes: list[tuple[datetime, datetime, list[Change]]] = []
    for offered, answered, ended, free, item_id in shift.calls:
        call: list[Change] = [(offered, "offered", "offer", item_id), (answered, ON_CALL, "accepted", item_id),
                              (ended, WRAP_UP, "call_ended", item_id), (free, AVAILABLE, "wrap_up_done", None)]  # fmt: skip
        episodes.append((offered, free, call))
    for offered, turned_down, item_id in shift.declines:
        offer: list[Change] = [
            (offered, "offered", "offer", item_id),
            (turned_down, AVAILABLE, "declined", item_id),
        ]
        episodes.append((offered, turned_down, offer))
    for start, free, steps in sorted(episodes, key=lambda episode: episode[0]):
        if start >= shift.break_start and pause < shift.break_end:
            changes += [(pause, AWAY, "break", None), (shift.break_end, AVAILABLE, "back", None)]
            pause = shift.break_end
        changes += steps
        pause = max(pause, free)
    if pause < shift.break_end and shift.break_start < now:
        changes += [(pause, AWAY, "break", None), (shift.break_end, AVAILABLE, "back", None)]
    last = changes[-1][0]
    changes.append((max(shift.end, last + timedelta(seconds=1)), OFFLINE, "logout", None))
    current = presence.get_presence(agent_id).state
    for at, to_state, reason, work_item_id in changes:
        if at > now:
            at, to_state, reason, work_item_id = now, OFFLINE, "logout", None  # the demo starts here
        # The state it leaves is known: the conditional UPDATE checks it, no read first.
        if presence.transition(
            agent_id, to_state, reason, allowed_from=(current,), work_item_id=work_item_id, now=at
        ):
            current = to_state
        if to_state == OFFLINE:
            break
