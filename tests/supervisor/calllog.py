"""Writing a call log for tests: calls with the events telephony would have logged.

Times are given as local WIB clock strings ("09:00:05") on one fixed day, or as offsets in
seconds from the moment the call entered the queue, so that expected figures in the tables
can be computed by hand.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.agents.models import AgentStateEvent, WorkItem
from app.extensions import db
from app.telephony.models import Call, CallEvent

WIB = ZoneInfo("Asia/Jakarta")
DAY = (2026, 3, 2)
_sids = itertools.count(1)


def wib(clock: str, day: tuple[int, int, int] = DAY) -> datetime:
    """A local (WIB) wall-clock time on the test day, as an aware datetime."""
    hour, minute, *rest = (int(part) for part in clock.split(":"))
    return datetime(*day, hour, minute, rest[0] if rest else 0, tzinfo=WIB)


@dataclass
class Spec:
    """One inbound call: when it queued and how it left the queue (offsets in seconds)."""

    queued: str
    day: tuple[int, int, int] = DAY
    language: str = "id"
    topic: str = "other"
    answer: float | None = None  # wait until answered
    agent: int | None = None
    talk: float | None = None  # then ended after this much talk
    abandon: float | None = None  # caller hung up after this wait
    callback: float | None = None  # caller asked for a callback after this wait
    voicemail: float | None = None  # sent to voicemail (maximum wait) after this wait
    ring_no_answer: int = 0
    ring: float | None = None  # the answering agent was offered the call this long before
    transfer_to: int | None = None


def _event(call: Call, kind: str, at: datetime, suffix: str = "", **fields: Any) -> None:
    key = f"{call.id}:{kind}" + (f":{suffix}" if suffix else "")
    db.session.add(
        CallEvent(key=key, call_id=call.id, kind=kind, at=at, data=fields.pop("data", {}), **fields)
    )


def add_call(spec: Spec) -> Call:
    queued = wib(spec.queued, spec.day)
    call = Call(
        call_sid=f"CA{next(_sids):032d}",
        direction="inbound",
        language=spec.language,
        topic=spec.topic,
        status="in-progress",
        enqueued_at=queued,
        created_at=queued - timedelta(seconds=30),
    )
    db.session.add(call)
    db.session.flush()
    _event(call, "created", queued - timedelta(seconds=30), data={"direction": "inbound"})
    _event(call, "queued", queued, data={"topic": spec.topic, "language": spec.language})
    for n in range(spec.ring_no_answer):
        _event(
            call,
            "ring_no_answer",
            queued + timedelta(seconds=1 + n),
            suffix=str(n),
            agent_id=spec.agent,
            data={"reason": "timeout", "ring_ms": 20000},
        )
    if spec.answer is not None:
        answered = queued + timedelta(seconds=spec.answer)
        if spec.ring is not None:
            _event(
                call,
                "offered",
                answered - timedelta(seconds=spec.ring),
                agent_id=spec.agent,
                data={"work_item_id": None},
            )
        call.answered_at, call.agent_id = answered, spec.agent
        _event(call, "answered", answered, agent_id=spec.agent, wait_seconds=int(spec.answer))
        if spec.transfer_to is not None:
            _event(
                call,
                "transferred",
                answered + timedelta(seconds=5),
                agent_id=spec.agent,
                data={"to_agent_id": spec.transfer_to},
            )
        if spec.talk is not None:
            ended = answered + timedelta(seconds=spec.talk)
            call.status, call.ended_at = "completed", ended
            _event(
                call,
                "completed",
                ended,
                agent_id=spec.agent,
                talk_seconds=int(spec.talk),
                wait_seconds=int(spec.answer),
            )
    elif spec.abandon is not None:
        at = queued + timedelta(seconds=spec.abandon)
        call.status, call.ended_at = "completed", at
        _event(call, "abandoned", at, wait_seconds=int(spec.abandon), data={"reason": "hangup"})
    elif spec.callback is not None:
        at = queued + timedelta(seconds=spec.callback)
        call.exit_reason = "callback"
        _event(
            call,
            "abandoned",
            at,
            suffix="callback",
            wait_seconds=int(spec.callback),
            data={"reason": "callback"},
        )
    elif spec.voicemail is not None:
        at = queued + timedelta(seconds=spec.voicemail)
        call.exit_reason = "max_wait"
        _event(call, "left_queue", at, wait_seconds=int(spec.voicemail), data={"reason": "max_wait"})
        _event(call, "voicemail", at + timedelta(seconds=40), data={"recording_id": None})
        call.status, call.ended_at = "completed", at + timedelta(seconds=40)
    db.session.flush()
    return call


def work_item_for(call: Call, agent_id: int) -> WorkItem:
    item = WorkItem(
        kind="call",
        ref_id=call.id,
        status="completed",
        language=call.language,
        topic=call.topic or "other",
        agent_id=agent_id,
        excluded_agents=[],
        enqueued_at=call.enqueued_at,
        version=1,
    )
    db.session.add(item)
    db.session.flush()
    return item


def states(
    agent_id: int, *changes: tuple[str, str], work_item_id: int | None = None, day: tuple[int, int, int] = DAY
) -> None:
    """Presence changes of one agent: ("09:00", "available"), ("09:10", "on_call"), …"""
    previous = "offline"
    for clock, state in changes:
        db.session.add(
            AgentStateEvent(
                agent_id=agent_id,
                from_state=previous,
                to_state=state,
                at=wib(clock, day),
                work_item_id=work_item_id,
            )
        )
        previous = state
    db.session.flush()
