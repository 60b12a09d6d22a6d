"""Wrap-up: the agent's disposition and note for a contact, kept where people look later.

The disposition goes on the work item (routing) and, through routing's ``disposition`` event,
on the call log (telephony listens: ``app.telephony.integration``); the disposition and the
note go on the ticket's timeline as one internal ``wrap_up`` entry. Only the agent who handled
the contact (accepted it) wraps it up.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.agents import routing
from app.agents.models import RoutingEvent, WorkItem
from app.extensions import db
from app.tickets import services as tickets

DISPOSITIONS = {
    "resolved": _l("Resolved on the call"),
    "information_given": _l("Information given"),
    "ticket_follow_up": _l("Follow-up on the ticket"),
    "transferred": _l("Transferred"),
    "callback_scheduled": _l("Call-back scheduled"),
    "wrong_number": _l("Wrong number"),
    "dropped": _l("Call dropped"),
    "other": _l("Other"),
}
NOTE_MAX = 2000


class WrapUpError(Exception):
    """``code``: ``disposition`` (unknown), ``note`` (too long), ``not_yours`` (not handled by
    this agent), ``not_found``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def disposition_label(code: str | None) -> str:
    if not code:
        return ""
    return str(DISPOSITIONS.get(code, code))


def handled_by(agent_id: int, work_item_id: int) -> bool:
    """Whether ``agent_id`` accepted this contact (at some offer)."""
    return (
        db.session.scalar(
            select(RoutingEvent.id)
            .where(
                RoutingEvent.work_item_id == work_item_id,
                RoutingEvent.agent_id == agent_id,
                RoutingEvent.kind == "accepted",
            )
            .limit(1)
        )
        is not None
    )


def finish(agent_id: int, work_item_id: int, disposition: str, note: str | None) -> WorkItem:
    """Record the wrap-up and make the agent ready for the next contact (the caller commits)."""
    if disposition not in DISPOSITIONS:
        raise WrapUpError("disposition")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise WrapUpError("note")
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        raise WrapUpError("not_found")
    if not handled_by(agent_id, work_item_id):
        raise WrapUpError("not_yours")
    routing.finish_wrap_up(agent_id, work_item_id, disposition, note=note)
    if item.ticket_id is not None:
        data: dict[str, object] = {"disposition": disposition, "work_item_id": item.id, "contact": item.kind}
        if item.kind == "call":
            data["call_id"] = item.ref_id
        tickets.add_event(item.ticket_id, "wrap_up", data, actor_id=agent_id, public=False, body=note)
    return item
