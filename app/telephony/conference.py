"""Conference status callbacks: the agent's leg joining and leaving the conference it shares with
the caller (and a supervisor's, see :mod:`app.telephony.supervision`), and what the caller hears
when that conference ends (back to the queue after a transfer, the next conference, or goodbye)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.telephony import calllog, integration, supervision
from app.telephony.calllog import log_event, store_raw
from app.telephony.models import TERMINAL_STATUSES, Call, RawWebhook
from app.telephony.services import agent_joined, connected_item, log_completed, require_call

AGENT_LABEL = re.compile(r"^agent-(\d+)$")
CONFERENCE_NAME = re.compile(r"^(call|callback)-(\d+)(?:-\d+)*$")


def conference_call(name: str | None) -> Call | None:
    """The call a conference belongs to, from its name (``call-<id>-…`` or ``callback-<id>``)."""
    match = CONFERENCE_NAME.match(name or "")
    if not match:
        return None
    kind, ref = match.group(1), int(match.group(2))
    if kind == "call":
        return db.session.get(Call, ref)
    return db.session.scalar(select(Call).where(Call.callback_id == ref).order_by(Call.id.desc()).limit(1))


def conference_event(form: Mapping[str, str]) -> bool:
    """A conference status callback: stored raw once (``ConferenceSid`` + ``SequenceNumber``),
    then the agent's leg joining (the call is answered) or leaving (if they still held the call,
    it is over: completed now, the agent goes to wrap-up). False for a duplicate."""
    conference_sid = form.get("ConferenceSid") or ""
    event = form.get("StatusCallbackEvent") or ""
    leg = form.get("CallSid") or ""
    sequence = form.get("SequenceNumber")
    key = (
        f"conference:{conference_sid}:{sequence}"
        if sequence not in (None, "")
        else f"conference:{conference_sid}:{event}:{leg}"
    )
    if not store_raw("conference", key, form):
        return False
    supervised = supervision.supervision_of_label(form.get("ParticipantLabel"))
    if supervised is not None and leg:
        supervision.participant_event(supervised, event, leg=leg, conference_sid=conference_sid)
        return True
    call = conference_call(form.get("FriendlyName"))
    agent = AGENT_LABEL.match(form.get("ParticipantLabel") or "")
    if call is not None and agent is None and event == "participant-join" and call.callback_id is not None:
        agent_legs_before(call, conference_sid, sequence)
    if call is None or agent is None or not leg:
        return True
    agent_id, at = int(agent.group(1)), calllog.now()
    data = {"call_sid": leg, "conference_sid": conference_sid, "conference": form.get("FriendlyName")}
    if event == "participant-join":
        log_event(call, "agent_joined", suffix=leg, at=at, agent_id=agent_id, data=data)
        if call.callback_id is None:
            agent_joined(call, agent_id)
    elif event == "participant-leave":
        log_event(call, "agent_left", suffix=leg, at=at, agent_id=agent_id, data=data)
        agent_left(call, agent_id, at)
    return True


# How far back a call-back's conference is searched for its agent's leg (its events before the
# worker's leg joined: the agent's join, at most a few leaves and rejoins).
CATCH_UP_EVENTS = 50


def agent_legs_before(call: Call, conference_sid: str, sequence: str | None) -> None:
    """The worker's leg joined a call-back's conference: log the agent legs already in it.

    A call-back's agent usually joins its conference before the worker's call exists (the
    softphone joins on accept, the dial follows), so that join could not name a call when it
    came. Its raw event is kept under ``conference:<sid>:<sequence>``: the earlier sequence
    numbers of this conference are looked up by their exact keys, and each agent leg that
    joined and has not left is logged as ``agent_joined`` (once, as ever) now."""
    if not conference_sid or not (sequence or "").isdigit():
        return
    upto = int(sequence or 0)
    keys = [f"conference:{conference_sid}:{n}" for n in range(max(0, upto - CATCH_UP_EVENTS), upto)]
    rows = db.session.scalars(select(RawWebhook).where(RawWebhook.key.in_(keys))).all()
    legs: dict[str, tuple[int, dict[str, str]]] = {}
    for row in sorted(rows, key=lambda r: int(r.payload.get("SequenceNumber") or 0)):
        label = AGENT_LABEL.match(row.payload.get("ParticipantLabel") or "")
        sid = row.payload.get("CallSid") or ""
        if label is None or not sid:
            continue
        if row.payload.get("StatusCallbackEvent") == "participant-join":
            legs[sid] = (int(label.group(1)), row.payload)
        elif row.payload.get("StatusCallbackEvent") == "participant-leave":
            legs.pop(sid, None)
    for sid, (agent_id, payload) in legs.items():
        data = {"call_sid": sid, "conference_sid": conference_sid, "conference": payload.get("FriendlyName")}
        log_event(call, "agent_joined", suffix=sid, agent_id=agent_id, data=data)


def agent_left(call: Call, agent_id: int, at: datetime) -> None:
    """The agent's leg left the conference. If the call was still theirs (not transferred),
    the conversation is over: it is completed now rather than when the caller's status
    callback comes (whose own "completed" then adds nothing)."""
    if call.callback_id is not None:
        return  # the worker's outbound leg reports its own end (callback_leg_ended)
    item = connected_item(call)
    if item is None or item.agent_id != agent_id:
        return  # transferred meanwhile: the call goes on with someone else
    if call.answered_at is not None:
        log_completed(call, at, agent_id, {"ended_by": "agent"})
    integration.complete("call", call.id)


def after_conference(form: Mapping[str, str], conference: str | None) -> tuple[str, Any]:
    """The caller's conference ``conference`` ended: what next for them.

    ``("queue", None)``: the call was transferred and waits (or rings) for the next agent, so the
    caller holds in the queue again; ``("conference", item)``: the next agent has accepted
    already, join them; ``("end", None)``: the agent of that conference left, goodbye.
    """
    call = require_call(form)
    if call.status in TERMINAL_STATUSES or call.callback_id is not None:
        return "end", None  # (a transferred call-back is not moved: see README, known limitations)
    item = integration.current_item("call", call.id)
    if item is None:
        return "end", None
    if item.status != "connected":
        return "queue", None
    if conference and conference != call.conference_name(item.id, item.offers):
        return "conference", item
    return "end", None
