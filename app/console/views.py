"""What the console shows, assembled for its JSON: work items in the reader's words, the screen
pop (who is calling, their tickets) and the whole console state. Reads only: never commits."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, url_for
from flask_babel import get_locale
from sqlalchemy import select

from app.agents import wrapup
from app.agents.models import (
    CONNECTED,
    OFFERED_ITEM,
    SKILL_LANGUAGES,
    WAITING,
    WRAP_UP,
    AgentPresence,
    RoutingEvent,
    WorkItem,
)
from app.agents.routing import current_seq, item_payload
from app.agents.routing import presence as presence_svc
from app.core.dates import zone_for_country
from app.core.masking import mask_text
from app.core.policy import allowed
from app.core.time import utcnow
from app.core.vocabulary import TICKET_STATUS
from app.extensions import db
from app.records.models import Member
from app.records.services import member_summary
from app.staff.models import User
from app.telephony import softphone as sim_softphone
from app.telephony import supervision
from app.tickets.models import Ticket

# The languages the console offers (queues, transfers, skills): the skill languages.
LANGUAGES = SKILL_LANGUAGES


def local_time(country: str | None, now: datetime | None = None) -> dict[str, str] | None:
    """The caller's local time from their country (the country's main zone)."""
    if not country:
        return None
    name = zone_for_country(country)
    if not name:
        return None
    try:
        local = (now or utcnow()).astimezone(ZoneInfo(name))
    except ZoneInfoNotFoundError:
        return None
    return {"zone": name, "time": local.strftime("%H:%M"), "iso": local.isoformat()}


def country_name(code: str | None) -> str | None:
    """A country by its name in the reader's language (Babel's CLDR data)."""
    if not code:
        return None
    locale = get_locale()
    territories = locale.territories if locale is not None else {}
    return territories.get(code.upper(), code.upper())


def caller_location(item: WorkItem, member: Any | None, now: datetime) -> dict[str, Any]:
    """Where the caller is: the matched member's placement country, else the country of the
    number they call from (set on the work item by telephony with ``phonenumbers``)."""
    country, source = None, None
    if member is not None and getattr(member, "placement_country", None):
        country, source = member.placement_country, "member"
    elif item.country:
        country, source = item.country, "number"
    return {
        "country": country,
        "country_name": country_name(country),
        "source": source,
        "local_time": local_time(country, now),
    }


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def item_view(item: WorkItem, now: datetime) -> dict[str, Any]:
    data = item_payload(item, now)
    data["local_time"] = local_time(item.country, now)
    data["language_name"] = LANGUAGES.get(item.language, item.language)
    data["country_name"] = country_name(item.country)
    return data


def _ticket_view(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "url": url_for("tickets.show", ticket_id=ticket.id),
        "reference": getattr(ticket, "reference", None),
        "subject": mask_text(ticket.subject or ""),  # identifiers typed in free text stay masked
        "category": ticket.category,
        "status": ticket.status,
        "status_label": str(TICKET_STATUS.get(ticket.status, ticket.status)),
        "priority": getattr(ticket, "priority", None),
        "description": mask_text(getattr(ticket, "description", "") or ""),  # revealed on the ticket page
        "created_at": ticket.created_at.isoformat() if ticket.created_at else None,
    }


def _tickets_for(member_id: int | None, ticket_id: int | None) -> dict[str, Any]:
    """The call's ticket and the member's open and recent tickets."""
    current = db.session.get(Ticket, ticket_id) if ticket_id else None
    open_tickets: list[Any] = []
    recent: list[Any] = []
    if member_id:
        rows = db.session.scalars(
            select(Ticket).where(Ticket.member_id == member_id).order_by(Ticket.created_at.desc()).limit(20)
        ).all()
        open_tickets = [t for t in rows if t.status not in ("resolved", "closed", "merged")]
        recent = [t for t in rows if t not in open_tickets][:5]
    return {
        "available": True,
        "current": _ticket_view(current) if current is not None else None,
        "open": [_ticket_view(t) for t in open_tickets if current is None or t.id != current.id],
        "recent": [_ticket_view(t) for t in recent],
    }


def screen_pop(item: WorkItem, viewer: Any) -> dict[str, Any]:
    """Who is calling: the member (phase, coverage, claims), their tickets, this call's ticket.
    ``viewer`` (the signed-in user) gets a link to the member's record if they may read it."""
    now = utcnow()
    member = db.session.get(Member, item.member_id) if item.member_id else None
    summary = member_summary(member) if member is not None else None
    member_view = _jsonable(summary) if summary is not None else None
    if member is not None and member_view is not None and allowed(viewer, "records.view"):
        member_view["url"] = url_for("records.member", member_id=member.id)
    return {
        "work_item": item_view(item, now),
        "caller": caller_location(item, summary, now),
        "member": member_view,
        "tickets": _tickets_for(item.member_id, item.ticket_id),
    }


def leg_state(agent_id: int) -> dict[str, Any] | None:
    """The agent's simulator leg for the console's state (None with Twilio or without a leg)."""
    if not sim_softphone.simulator_active():
        return None
    return sim_softphone.view(sim_softphone.get_simulator(), agent_id)


def _my_item(agent_id: int, status: str) -> WorkItem | None:
    return db.session.scalar(select(WorkItem).where(WorkItem.agent_id == agent_id, WorkItem.status == status))


def _last_handled(agent_id: int) -> WorkItem | None:
    """The item the agent is wrapping up (the last one they were connected to)."""
    return db.session.scalar(
        select(WorkItem)
        .join(RoutingEvent, RoutingEvent.work_item_id == WorkItem.id)
        .where(RoutingEvent.agent_id == agent_id, RoutingEvent.kind == "accepted")
        .order_by(RoutingEvent.id.desc())
        .limit(1)
    )


def console_state(viewer: Any) -> dict[str, Any]:
    """Everything the console shows, with versions (re-fetched on every (re)connect).

    The queue's version (``seq``) is read first, so an event newer than this state is never
    taken for an old one. May create the agent's presence row: the caller commits.
    """
    now = utcnow()
    me = presence_svc.get_presence(viewer.id)
    seq = current_seq()
    languages = presence_svc.agent_languages(viewer.id)
    query = select(WorkItem).where(WorkItem.status.in_((WAITING, OFFERED_ITEM, CONNECTED)))
    if not allowed(viewer, "supervisor.view"):
        query = query.where(WorkItem.language.in_(languages))
    items = db.session.scalars(
        query.order_by(WorkItem.priority.desc(), WorkItem.enqueued_at, WorkItem.id).limit(200)
    ).all()
    offer = _my_item(viewer.id, OFFERED_ITEM)
    call = _my_item(viewer.id, CONNECTED)
    wrap = _last_handled(viewer.id) if me.state == WRAP_UP and call is None else None
    colleagues = db.session.execute(
        select(User.id, User.name, AgentPresence.state)
        .join(AgentPresence, AgentPresence.agent_id == User.id)
        .where(User.id != viewer.id, User.active.is_(True), AgentPresence.state != "offline")
        .order_by(User.name)
    ).all()

    def contact(item: WorkItem | None) -> dict[str, Any] | None:
        return {"work_item": item_view(item, now), "screen_pop": screen_pop(item, viewer)} if item else None

    return {
        "seq": seq,
        "now": now.isoformat(),
        "me": {
            "id": viewer.id,
            "name": viewer.name,
            "presence": presence_svc.presence_payload(me),
            "skills": presence_svc.skills_of(viewer.id),
        },
        "queue": [item_view(i, now) for i in items if i.status == WAITING],
        "active": [item_view(i, now) for i in items if i.status != WAITING],
        "offer": contact(offer),
        "call": contact(call),
        "wrap_up": contact(wrap),
        "softphone": leg_state(viewer.id),
        # Supervisors on this agent's call, as the policy lets the agent see them.
        "supervision": supervision.agent_view(viewer.id),
        "colleagues": [{"id": c.id, "name": c.name, "state": c.state} for c in colleagues],
        "dispositions": [{"code": code, "label": str(label)} for code, label in wrapup.DISPOSITIONS.items()],
        "offer_timeout": current_app.config.get("ROUTING_OFFER_TIMEOUT", 20),
    }


def console_agents() -> list[dict[str, Any]]:
    """Console users with their state and skills (for supervisors setting up queues)."""
    users = db.session.scalars(
        select(User).where(User.role.in_(("agent", "supervisor")), User.active.is_(True)).order_by(User.name)
    ).all()
    states = {
        row.agent_id: row.state
        for row in db.session.execute(select(AgentPresence.agent_id, AgentPresence.state))
    }
    return [
        {
            "id": user.id,
            "name": user.name,
            "state": states.get(user.id, "offline"),
            "skills": presence_svc.skills_of(user.id),
        }
        for user in users
    ]
