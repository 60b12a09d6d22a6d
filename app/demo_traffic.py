"""The demo's workload: who calls the centre when, and who is on shift to answer.

Workers call when their own day allows: at lunch and in the evening of their placement
country's time zone, most on their day off (Sunday; Friday in Saudi Arabia). Only calls that
reach the queue inside the centre's hours (``TELEPHONY_HOURS`` in ``TELEPHONY_TIMEZONE``, WIB)
are kept, about 30 a day. Many callers call again about their open case. Two agents work full
shifts and two part-time at the workers' peaks, each with a break and a day off, so the roster
has thin spots (the early morning, a break with nobody else on).

Pure data and random draws: ``app.demo_calls`` decides who answers and writes it all down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from app.agents.routing import presence
from app.demo_people import mobile_number
from app.records.models import Member
from app.staff.models import User

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
class Traffic:
    """The random source and the callers met so far (many call again about their case)."""

    rng: random.Random
    members: list[Member]
    seen: dict[str, list[Caller]] = field(default_factory=dict)


def hours() -> tuple[time, time]:
    opening, _, closing = str(current_app.config["TELEPHONY_HOURS"]).partition("-")
    return time.fromisoformat(opening.strip()), time.fromisoformat(closing.strip())


def centre_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["TELEPHONY_TIMEZONE"]))


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=centre_zone()).astimezone(UTC)


def shifts_on(state: Traffic, day: date, users: dict[str, User]) -> list[Shift]:
    shifts = []
    for name, start, end, pause, minutes, day_off in SHIFTS:
        agent = users.get(name)
        if agent is None or day.weekday() == day_off or state.rng.random() < 0.04:  # off, or ill
            continue
        begin = at(day, start) + timedelta(minutes=state.rng.randint(-6, 4))
        pause_at = at(day, pause) + timedelta(minutes=state.rng.randint(-10, 10))
        shifts.append(
            Shift(
                agent=agent,
                languages=set(presence.agent_languages(agent.id)),
                start=begin,
                end=at(day, end) + timedelta(minutes=state.rng.randint(-3, 8)),
                break_start=pause_at,
                break_end=pause_at + timedelta(minutes=minutes),
                free_at=begin,
            )
        )
    return shifts


def arrivals(state: Traffic, day: date) -> list[tuple[datetime, Caller]]:
    """The moments callers reach the queue on the centre's date ``day``, with who they are."""
    rng, (opening, closing), centre = state.rng, hours(), centre_zone()
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


def _caller(state: Traffic, country: str, zone: str) -> Caller:
    """Often someone who called before (about her open case), else a new caller."""
    rng = state.rng
    seen = state.seen.setdefault(country, [])
    if seen and rng.random() < 0.6:
        return rng.choice(seen[-40:])
    caller = _new_caller(state, country, zone)
    seen.append(caller)
    return caller


def _new_caller(state: Traffic, country: str, zone: str) -> Caller:
    rng = state.rng
    browser = rng.random() < 0.4  # Click-to-Call in the browser; the rest dial the free number
    candidates = [m for m in state.members if m.placement_country == country]
    if candidates and rng.random() < 0.75:
        member = rng.choice(candidates)
        return Caller(country, zone, member.phone_abroad, member, browser)
    return Caller(country, zone, mobile_number(rng, country), None, browser)
