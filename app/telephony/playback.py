"""Listening to recordings in the app: who may, what they may, and the audit of every playback.

Recordings stay with the provider (our :class:`~app.telephony.models.Recording` keeps only its
reference). Staff never get a provider URL: the app fetches the media with our credentials and
streams it through (``/telephony/recordings/<id>/audio``). Who may listen is the policy's
:func:`~app.core.policy.may_play_recording`: supervisors and admins, and for a recorded call
the agent(s) who handled it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core import audit
from app.core.policy import may_play_recording
from app.extensions import db
from app.telephony.models import Call, CallEvent, Recording
from app.telephony.provider import Media
from app.telephony.providers import get_provider

# Call-log facts that name an agent who was on the call.
HANDLING_KINDS = ("answered", "completed", "transferred", "agent_joined")


def handlers(call_id: int | None) -> set[int]:
    """The agents who handled a call: its agent and whoever the call log shows on it."""
    if call_id is None:
        return set()
    agents = {
        agent_id
        for agent_id in db.session.scalars(
            select(CallEvent.agent_id).where(
                CallEvent.call_id == call_id,
                CallEvent.kind.in_(HANDLING_KINDS),
                CallEvent.agent_id.is_not(None),
            )
        )
        if agent_id is not None
    }
    agent_id = db.session.scalar(select(Call.agent_id).where(Call.id == call_id))
    if agent_id is not None:
        agents.add(agent_id)
    return agents


def may_play(user: Any, recording: Recording) -> bool:
    return may_play_recording(user, kind=recording.kind, handled_by=handlers(recording.call_id))


def playable_for_call(user: Any, call_id: Any) -> list[Recording]:
    """The finished recordings of a call that ``user`` may listen to (for the ticket page)."""
    if not isinstance(call_id, int):
        return []
    recordings = db.session.scalars(
        select(Recording)
        .where(Recording.call_id == call_id, Recording.status == "completed")
        .order_by(Recording.id)
    ).all()
    if not recordings:
        return []
    agents = handlers(call_id)
    return [r for r in recordings if may_play_recording(user, kind=r.kind, handled_by=agents)]


def open_for(user_id: int, recording: Recording) -> Media:
    """Audit the playback (in the caller's transaction), then open the provider's media."""
    audit.record(
        "recording.play",
        "recording",
        recording.id,
        {"call_id": recording.call_id, "kind": recording.kind},
        actor_id=user_id,
    )
    return get_provider().recording_media(recording.sid)
