"""Supervisors on live calls (issue 15): listen, whisper (coach the agent) and barge in.

Every agent call is a conference (``call-<call>-<item>-<offer>``, or ``callback-<id>``). A
supervisor joins it with their softphone as one more participant, labelled
``supervision-<id>``:

* ``listen``: muted; they hear the caller and the agent, nobody hears them;
* ``whisper``: a coach (Twilio ``Coaching`` + ``CallSidToCoach``): only the agent hears them;
* ``barge``: unmuted; both hear them.

The flow: :func:`start` (the wallboard's button) records the supervision, ``joining``; the
supervisor's softphone then calls the TwiML App with ``SupervisionId`` and
:func:`client_leg` answers with the conference in that mode (or a refusal); the conference's
status callbacks (:func:`participant_event`) say when the leg is in (``joined``) and when it is
out (``left``). :func:`change_mode` and :func:`leave` record what the supervisor wants; the
provider is told by jobs (``tasks.apply_supervision``, ``tasks.remove_supervisor``), never from
here. Every join, switch, leave and end is audited (``call.supervise.*``, on the call).

The agent sees the supervisors on their call (``supervision.changed`` to their own room, and in
the console's state) for the modes ``SUPERVISION_SHOWN_TO_AGENT`` lists: what is shown is the
mode in effect at the provider (``applied_mode``), once the leg is in the conference.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import audit
from app.core.inputs import MAX_ID
from app.core.jobs import record_intent
from app.core.realtime import publish
from app.extensions import db
from app.telephony import calllog, integration
from app.telephony.models import (
    SUPERVISION_ACTIVE,
    SUPERVISION_MODES,
    TERMINAL_STATUSES,
    Call,
    CallEvent,
    Supervision,
    callback_conference,
)

log = logging.getLogger(__name__)

EVENT = "supervision.changed"  # to the agent: who supervises their call, in which mode
MINE = "supervision.mine"  # to the supervisor: their own supervision moved on
APPLY_JOB = "app.telephony.tasks.apply_supervision"
REMOVE_JOB = "app.telephony.tasks.remove_supervisor"
PARTICIPANT_LABEL = "supervision-"


class SupervisionError(Exception):
    """Refused: ``mode`` (unknown), ``not_live`` (no agent on that call now), ``own_call``,
    ``none`` (the supervisor is on no call), ``busy`` (they started another at the same time)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def shown_modes() -> frozenset[str]:
    """The modes the agent is told about (``SUPERVISION_SHOWN_TO_AGENT``)."""
    configured = current_app.config.get("SUPERVISION_SHOWN_TO_AGENT", SUPERVISION_MODES)
    return frozenset(mode for mode in configured if mode in SUPERVISION_MODES)


def participant_settings(mode: str, agent_leg: str) -> dict[str, Any]:
    """The provider's participant settings for ``mode`` (muted, coaching, coach)."""
    if mode == "listen":
        return {"muted": True, "coaching": False, "coach": None}
    if mode == "whisper":
        return {"muted": False, "coaching": True, "coach": agent_leg}
    return {"muted": False, "coaching": False, "coach": None}


# --- live calls ---------------------------------------------------------------------------------


@dataclass
class LiveCall:
    """An agent on a call now: the call, its routing item, the conference and the agent's leg."""

    call: Call
    item: Any
    conference: str
    agent_leg: str
    since: datetime  # when the agent's leg joined this conference (talk time counts from it)


def conference_of(call: Call, item: Any) -> str:
    if call.callback_id is not None:
        return callback_conference(call.callback_id)
    return call.conference_name(item.id, item.offers)


def _agent_legs(call_ids: Iterable[int]) -> dict[int, list[CallEvent]]:
    """The agents' legs still in each call's conferences: ``agent_joined`` facts whose leg has
    no ``agent_left`` (newest first)."""
    ids = list(call_ids)
    if not ids:
        return {}
    events = db.session.scalars(
        select(CallEvent)
        .where(CallEvent.call_id.in_(ids), CallEvent.kind.in_(("agent_joined", "agent_left")))
        .order_by(CallEvent.id.desc())
    ).all()
    gone = {(e.call_id, e.data.get("call_sid")) for e in events if e.kind == "agent_left"}
    legs: dict[int, list[CallEvent]] = {}
    for event in events:
        if event.kind == "agent_joined" and (event.call_id, event.data.get("call_sid")) not in gone:
            legs.setdefault(event.call_id, []).append(event)
    return legs


def _live(call: Call, item: Any, legs: list[CallEvent]) -> LiveCall | None:
    if call.status in TERMINAL_STATUSES or item is None or item.status != "connected" or item.agent_id is None:
        return None
    conference = conference_of(call, item)
    for event in legs:
        if event.agent_id == item.agent_id and event.data.get("conference") == conference:
            return LiveCall(call, item, conference, str(event.data.get("call_sid")), event.at)
    return None


def live_call(call_id: int) -> LiveCall | None:
    """The call if an agent is on it now (their leg in its conference), else None."""
    call = db.session.get(Call, call_id)
    if call is None:
        return None
    kind, ref = ("callback", call.callback_id) if call.callback_id is not None else ("call", call.id)
    item = integration.current_item(kind, ref)
    return _live(call, item, _agent_legs([call.id]).get(call.id, []))


def live_calls() -> list[LiveCall]:
    """Every call an agent is on now, longest first (a handful of queries, whatever the count:
    the wallboard builds this every few seconds)."""
    items = integration.connected_items()
    call_ids = {i.ref_id for i in items if i.kind == "call"}
    callback_ids = {i.ref_id for i in items if i.kind == "callback"}
    calls: dict[tuple[str, int], Call] = {}
    if call_ids:
        for call in db.session.scalars(select(Call).where(Call.id.in_(call_ids))):
            calls[("call", call.id)] = call
    if callback_ids:
        # A call-back's newest call (an earlier attempt's may still be there).
        for call in db.session.scalars(
            select(Call).where(Call.callback_id.in_(callback_ids)).order_by(Call.id)
        ):
            assert call.callback_id is not None
            calls[("callback", call.callback_id)] = call
    legs = _agent_legs(c.id for c in calls.values())
    found = []
    for item in items:
        found_call = calls.get((item.kind, item.ref_id))
        live = _live(found_call, item, legs.get(found_call.id, [])) if found_call is not None else None
        if live is not None:
            found.append(live)
    return sorted(found, key=lambda live: (live.since, live.call.id))


def active_on(call_ids: Iterable[int]) -> dict[int, list[Supervision]]:
    """The supervisions joining or joined on each of these calls."""
    ids = list(call_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Supervision)
        .where(Supervision.call_id.in_(ids), Supervision.status.in_(SUPERVISION_ACTIVE))
        .order_by(Supervision.id)
    ).all()
    found: dict[int, list[Supervision]] = {}
    for row in rows:
        found.setdefault(row.call_id, []).append(row)
    return found


# --- what the supervisor does ------------------------------------------------------------------


def active_for(supervisor_id: int) -> Supervision | None:
    """The supervisor's supervision now (joining or joined), if any."""
    return db.session.scalar(
        select(Supervision).where(
            Supervision.supervisor_id == supervisor_id, Supervision.status.in_(SUPERVISION_ACTIVE)
        )
    )


def _audit(action: str, supervision: Supervision, actor_id: int | None, **detail: Any) -> None:
    audit.record(
        f"call.supervise.{action}",
        "call",
        supervision.call_id,
        {
            "supervision_id": supervision.id,
            "agent_id": supervision.agent_id,
            "work_item_id": supervision.work_item_id,
            "mode": supervision.mode,
            **detail,
        },
        actor_id=actor_id,
    )


def start(supervisor_id: int, call_id: int, mode: str) -> Supervision:
    """The supervisor asks to join ``call_id`` in ``mode``: recorded (``joining``) and audited;
    their softphone joins next (:func:`client_leg`). A supervision they still had ends first
    (one softphone, one call)."""
    if mode not in SUPERVISION_MODES:
        raise SupervisionError("mode")
    live = live_call(call_id)
    if live is None:
        raise SupervisionError("not_live")
    if live.item.agent_id == supervisor_id:
        raise SupervisionError("own_call")
    previous = active_for(supervisor_id)
    if previous is not None:
        _end(previous, "replaced", actor_id=supervisor_id)
    supervision = Supervision(
        call_id=live.call.id,
        work_item_id=live.item.id,
        agent_id=live.item.agent_id,
        supervisor_id=supervisor_id,
        conference=live.conference,
        agent_call_sid=live.agent_leg,
        mode=mode,
        status="joining",
        version=1,
    )
    try:
        with db.session.begin_nested():
            db.session.add(supervision)
    except IntegrityError:  # the same supervisor started another one at the same moment
        raise SupervisionError("busy") from None
    _audit("join", supervision, supervisor_id)
    _tell_supervisor(supervision)
    return supervision


def change_mode(supervisor_id: int, mode: str) -> Supervision:
    """Move the supervisor's supervision to ``mode``; the provider is told by a job (now if
    the leg is in the conference, else when it joins)."""
    if mode not in SUPERVISION_MODES:
        raise SupervisionError("mode")
    supervision = active_for(supervisor_id)
    if supervision is None:
        raise SupervisionError("none")
    if supervision.mode == mode:
        return supervision
    previous, supervision.mode = supervision.mode, mode
    supervision.version += 1
    _audit("mode", supervision, supervisor_id, previous=previous)
    if supervision.status == "joined":
        _apply_later(supervision)
    _tell_supervisor(supervision)
    return supervision


def leave(supervisor_id: int) -> Supervision:
    """The supervisor leaves the call: ended now (the agent stops seeing them) and their leg
    taken out of the conference by a job, whatever their browser does."""
    supervision = active_for(supervisor_id)
    if supervision is None:
        raise SupervisionError("none")
    _end(supervision, "left", actor_id=supervisor_id)
    return supervision


def _apply_later(supervision: Supervision) -> None:
    record_intent(
        APPLY_JOB, supervision.id, queue="telephony", key=f"supervision:{supervision.id}:mode:{supervision.version}"
    )


def _end(supervision: Supervision, reason: str, *, actor_id: int | None) -> None:
    """End a supervision (``left`` by request, ``replaced`` by another, ``call_ended`` or
    ``dropped`` when its leg left on its own): audited, the agent told, the leg removed."""
    was_shown = _shown(supervision)
    supervision.status = "left"
    supervision.end_reason = reason
    supervision.ended_at = calllog.now()
    supervision.version += 1
    action = "leave" if reason in ("left", "replaced") else "ended"
    _audit(action, supervision, actor_id, reason=reason)
    if supervision.conference_sid and supervision.call_sid and reason in ("left", "replaced"):
        record_intent(
            REMOVE_JOB, supervision.id, queue="telephony", key=f"supervision:{supervision.id}:remove"
        )
    if was_shown and supervision.agent_id is not None:
        _tell_agent(supervision.agent_id)
    _tell_supervisor(supervision)


# --- what the provider reports ------------------------------------------------------------------


@dataclass
class LegAnswer:
    """How a supervisor's softphone joins: the conference, its label, muted, the leg to coach."""

    conference: str
    label: str
    muted: bool
    coach: str | None


def client_leg(supervisor_id: int, raw_supervision_id: str, call_sid: str) -> LegAnswer | None:
    """The supervisor's softphone called the TwiML App with ``SupervisionId``: the conference
    to join in the supervision's mode, or None (refused: not theirs, over, or the call ended).
    The caller (the webhook) has checked the identity's account may supervise."""
    if not raw_supervision_id.isdigit() or int(raw_supervision_id) > MAX_ID or not call_sid:
        return None
    supervision = db.session.get(Supervision, int(raw_supervision_id))
    if supervision is None or supervision.supervisor_id != supervisor_id:
        return None
    if supervision.call_sid and supervision.call_sid != call_sid:
        return None  # one leg per supervision
    if supervision.status != "joining" and not (supervision.status == "joined" and supervision.call_sid == call_sid):
        return None
    live = live_call(supervision.call_id)
    if live is None or live.conference != supervision.conference or live.item.agent_id != supervision.agent_id:
        if supervision.status != "left":
            _end(supervision, "call_ended", actor_id=None)
        return None
    supervision.call_sid = call_sid
    supervision.agent_call_sid = live.agent_leg
    supervision.applied_mode = supervision.mode
    settings = participant_settings(supervision.mode, live.agent_leg)
    return LegAnswer(live.conference, supervision.label, settings["muted"], settings["coach"])


def supervision_of_label(label: str | None) -> Supervision | None:
    if not label or not label.startswith(PARTICIPANT_LABEL):
        return None
    raw = label[len(PARTICIPANT_LABEL) :]
    return db.session.get(Supervision, int(raw)) if raw.isdigit() and int(raw) <= MAX_ID else None


def participant_event(supervision: Supervision, event: str, *, leg: str, conference_sid: str) -> None:
    """A conference status callback about a supervisor's leg (label ``supervision-<id>``)."""
    if supervision.call_sid and leg != supervision.call_sid:
        return  # not this supervision's leg
    if event == "participant-join":
        if supervision.status == "left":
            # In after the supervisor left (or the supervision was replaced): take it out.
            supervision.call_sid, supervision.conference_sid = leg, conference_sid
            record_intent(
                REMOVE_JOB, supervision.id, queue="telephony", key=f"supervision:{supervision.id}:remove"
            )
            return
        if supervision.status == "joined":
            return
        supervision.status = "joined"
        supervision.joined_at = calllog.now()
        supervision.call_sid, supervision.conference_sid = leg, conference_sid
        supervision.version += 1
        if supervision.applied_mode != supervision.mode:
            _apply_later(supervision)  # switched before the leg was in
        if supervision.agent_id is not None:
            _tell_agent(supervision.agent_id)
        _tell_supervisor(supervision)
    elif event == "participant-leave" and supervision.status != "left":
        call = db.session.get(Call, supervision.call_id)
        live = call is not None and live_call(call.id) is not None
        _end(supervision, "dropped" if live else "call_ended", actor_id=None)


def applied(supervision: Supervision, mode: str) -> None:
    """The provider took ``mode`` (a job's participant update): the agent is told."""
    if supervision.applied_mode == mode:
        return
    supervision.applied_mode = mode
    supervision.version += 1
    if supervision.status == "joined" and supervision.agent_id is not None:
        _tell_agent(supervision.agent_id)
    _tell_supervisor(supervision)


# --- what people see ------------------------------------------------------------------------------


def _shown(supervision: Supervision) -> bool:
    mode = supervision.applied_mode or supervision.mode
    return supervision.status == "joined" and mode in shown_modes()


def agent_view(agent_id: int) -> dict[str, Any]:
    """What the agent's console shows: the supervisors on their call, in the modes the policy
    lets them see (``mode``: what is in effect)."""
    rows = db.session.scalars(
        select(Supervision)
        .where(Supervision.agent_id == agent_id, Supervision.status == "joined")
        .order_by(Supervision.joined_at, Supervision.id)
    ).all()
    shown = [row for row in rows if _shown(row)]
    names = integration.staff_names({row.supervisor_id for row in shown if row.supervisor_id})
    return {
        "supervisors": [
            {
                "supervision_id": row.id,
                "name": names.get(row.supervisor_id or 0, ""),
                "mode": row.applied_mode or row.mode,
                "since": row.joined_at.isoformat() if row.joined_at else None,
            }
            for row in shown
        ]
    }


def supervisor_view(supervisor_id: int) -> dict[str, Any] | None:
    """The supervisor's own supervision (for their wallboard), or None."""
    row = active_for(supervisor_id)
    if row is None:
        return None
    return view(row)


def view(row: Supervision) -> dict[str, Any]:
    names = integration.staff_names({row.agent_id} if row.agent_id else set())
    return {
        "id": row.id,
        "call_id": row.call_id,
        "agent_id": row.agent_id,
        "agent_name": names.get(row.agent_id or 0, ""),
        "mode": row.mode,
        "applied_mode": row.applied_mode,
        "status": row.status,
        "end_reason": row.end_reason,
        "version": row.version,
    }


def _tell_agent(agent_id: int) -> None:
    publish(EVENT, agent_view(agent_id), f"user:{agent_id}")


def _tell_supervisor(supervision: Supervision) -> None:
    if supervision.supervisor_id is not None:
        publish(MINE, view(supervision), f"user:{supervision.supervisor_id}")
