"""Four weeks of demo call history, written through the call log, for the supervisor pages.

Workers call when their own day allows: at lunch and in the evening of their placement
country's time zone, most on their day off (Sunday; Friday in Saudi Arabia). Only calls that
reach the queue inside the centre's hours (``TELEPHONY_HOURS`` in ``TELEPHONY_TIMEZONE``, WIB)
are kept. Two agents work
full shifts and two part-time at the workers' peaks, each with a break and a day off, so the
roster has thin spots (the early morning, a break with nobody else on) where callers hang up,
ask for a call-back or, after the maximum wait, leave a message.

A small queue simulation decides who answers when (first come, first served, the agent idle
longest, by language); what it decides is then *written by the call path's own functions*:
``services.log_event`` / ``abandon`` / ``left_for_callback`` / ``left_queue`` /
``agent_joined`` / ``log_completed`` for the call log, ``presence.transition`` for every
presence change (login, offer, call, wrap-up, break, logout) and the tickets service for the
ticket each queued call opens or joins (the caller's open ticket, as ``ensure_ticket`` would
find it). Routing and Twilio are not run: past calls need no live queue.

Idempotent: nothing is written once a demo call exists (their CallSids start ``CAdemo``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from app.agents import presence
from app.agents.models import AVAILABLE, AWAY, OFFLINE, ON_CALL, WRAP_UP, User, WorkItem
from app.core.realtime import discard_pending
from app.extensions import db
from app.records.models import Member
from app.telephony import services
from app.telephony.models import Call, CallbackRequest
from app.tickets import services as tickets

SID_PREFIX = "CAdemo"
# (country, its zone, share of callers, weekly day off as date.weekday())
CALLER_COUNTRIES = [
    ("TW", "Asia/Taipei", 30, 6), ("HK", "Asia/Hong_Kong", 28, 6), ("MY", "Asia/Kuala_Lumpur", 16, 6),
    ("SG", "Asia/Singapore", 6, 6), ("KR", "Asia/Seoul", 6, 6), ("JP", "Asia/Tokyo", 5, 6),
    ("SA", "Asia/Riyadh", 5, 4), ("IT", "Europe/Rome", 2, 6), ("BN", "Asia/Brunei", 2, 6),
]  # fmt: skip
ZONES = {country: zone for country, zone, *_ in CALLER_COUNTRIES}
# When in her own day a worker calls (weights per local hour 0..23): lunch and the evening.
LOCAL_HOURS = [0.3, 0.1, 0, 0, 0, 0.2, 1, 2, 2, 2, 2, 3, 5, 4, 2, 2, 2, 3, 4, 6, 8, 8, 5, 2]
CANDIDATES_PER_DAY = 200  # candidates drawn a day; the day-off weighting, the centre's hours and its
# date keep about one in seven (~30 calls a day)
TOPICS = [("claim_jht", 20), ("claim_jkk", 16), ("membership", 20), ("benefit_info", 14),
          ("claim_jkm", 6), ("emergency", 3), ("other", 21)]  # fmt: skip
# Agent shifts in the centre's time (WIB): (username, start, end, break start, break minutes, day off)
SHIFTS = [
    ("agent1", time(6), time(14), time(10), 30, 1),  # alone until 10:30: her break, her day off
    ("agent3", time(14), time(22), time(18), 30, 0),
    ("agent2", time(10, 30), time(15), time(12, 30), 15, 6),  # part-time: the workers' lunch hour
    ("agent4", time(17), time(22), time(19, 30), 15, 2),  # part-time: their evening
]
Change = tuple[datetime, str, str | None, int | None]  # a presence change: at, state, reason, item
MEAN_PATIENCE = 240.0  # seconds; calls are free, callers abroad wait longer than most


@dataclass
class Shift:
    agent: User
    languages: set[str]
    start: datetime
    end: datetime
    break_start: datetime
    break_end: datetime
    free_at: datetime
    calls: list[tuple[datetime, datetime, datetime, datetime, int]] = field(default_factory=list)
    declines: list[tuple[datetime, datetime, int]] = field(default_factory=list)  # offered, turned down

    def first_free(self, at: datetime) -> datetime | None:
        """The first moment from ``at`` this agent can take a call (None: not this shift)."""
        t = max(at, self.free_at, self.start)
        if self.break_start <= t < self.break_end:
            t = self.break_end
        return t if t < self.end else None


@dataclass
class Caller:
    country: str
    zone: str
    phone: str | None
    member: Member | None
    browser: bool


@dataclass
class SeedState:
    rng: random.Random
    now: datetime
    agents: list[User]
    members: list[Member]
    open_tickets: dict[str, tuple[int, datetime, datetime | None]] = field(default_factory=dict)
    seen: dict[str, list[Caller]] = field(default_factory=dict)
    sequence: int = 0
    calls: int = 0
    tickets: int = 0


def demo_calls_exist() -> bool:
    return db.session.scalar(select(Call.id).where(Call.call_sid.like(f"{SID_PREFIX}%")).limit(1)) is not None


def seed_calls(rng: random.Random, now: datetime, days: int = 28) -> tuple[int, int]:
    """Write ``days`` days of call history up to ``now`` (and today's, up to ``now``).

    Returns (calls, tickets opened by them); (0, 0) once demo calls exist.
    """
    if days <= 0 or demo_calls_exist():
        return 0, 0
    from app.demo import EMAIL_DOMAIN

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
    today = now.astimezone(_centre_zone()).date()
    for offset in range(days, -1, -1):
        _day(state, today - timedelta(days=offset), users)
        db.session.flush()
    discard_pending()
    return state.calls, state.tickets


def _hours() -> tuple[time, time]:
    opening, _, closing = str(current_app.config["TELEPHONY_HOURS"]).partition("-")
    return time.fromisoformat(opening.strip()), time.fromisoformat(closing.strip())


def _centre_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["TELEPHONY_TIMEZONE"]))


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=_centre_zone()).astimezone(UTC)


def _shifts(state: SeedState, day: date, users: dict[str, User]) -> list[Shift]:
    shifts = []
    for name, start, end, pause, minutes, day_off in SHIFTS:
        agent = users.get(name)
        if agent is None or day.weekday() == day_off or state.rng.random() < 0.04:  # off, or ill
            continue
        begin = _at(day, start) + timedelta(minutes=state.rng.randint(-6, 4))
        pause_at = _at(day, pause) + timedelta(minutes=state.rng.randint(-10, 10))
        shifts.append(
            Shift(
                agent=agent,
                languages=set(presence.agent_languages(agent.id)),
                start=begin,
                end=_at(day, end) + timedelta(minutes=state.rng.randint(-3, 8)),
                break_start=pause_at,
                break_end=pause_at + timedelta(minutes=minutes),
                free_at=begin,
            )
        )
    return shifts


def _arrivals(state: SeedState, day: date) -> list[tuple[datetime, Caller]]:
    """The moments callers reach the queue on the centre's date ``day``, with who they are."""
    rng, (opening, closing), centre = state.rng, _hours(), _centre_zone()
    out = []
    for _ in range(CANDIDATES_PER_DAY):
        country, zone, _share, day_off = rng.choices(
            CALLER_COUNTRIES, weights=[c[2] for c in CALLER_COUNTRIES]
        )[0]
        local_day = day if rng.random() < 0.5 else day + timedelta(days=rng.choice((-1, 1)))
        weight = (
            1.7
            if local_day.weekday() == day_off
            else 1.2
            if local_day.weekday() == (day_off - 1) % 7
            else 0.9
        )
        if rng.random() > weight / 3.4:
            continue
        hour = rng.choices(range(24), weights=LOCAL_HOURS)[0]
        local = datetime.combine(
            local_day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=ZoneInfo(zone)
        )
        queued = local.astimezone(UTC)
        local_queued = queued.astimezone(centre)
        if local_queued.date() != day or not opening <= local_queued.time() < closing:
            continue
        out.append((queued, _caller(state, country, zone)))
    return sorted(out, key=lambda item: item[0])


def _caller(state: SeedState, country: str, zone: str) -> Caller:
    """Often someone who called before (about her open case), else a new caller."""
    rng = state.rng
    seen = state.seen.setdefault(country, [])
    if seen and rng.random() < 0.6:
        return rng.choice(seen[-40:])
    caller = _new_caller(state, country, zone)
    seen.append(caller)
    return caller


def _new_caller(state: SeedState, country: str, zone: str) -> Caller:
    rng = state.rng
    browser = rng.random() < 0.4  # Click-to-Call in the browser; the rest dial the free number
    candidates = [m for m in state.members if m.placement_country == country]
    if candidates and rng.random() < 0.75:
        member = rng.choice(candidates)
        return Caller(country, zone, member.phone_abroad, member, browser)
    from app.demo import mobile_number

    return Caller(country, zone, mobile_number(rng, country), None, browser)


def _day(state: SeedState, day: date, users: dict[str, User]) -> None:
    shifts = _shifts(state, day, users)
    for queued, caller in _arrivals(state, day):
        _call(state, shifts, queued, caller)
    for shift in shifts:
        _presence(state, shift)


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
    from app.demo_history import live_ticket

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
