"""What an agent does to contacts from the console: answer or turn down an offer, hand a call
on, wrap it up, promise a call-back, change state, leave. Every change is a conditional UPDATE
(see ``queue.rowcount``); a change that frees the agent routes at once. None of these commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from app.agents.models import (
    AVAILABLE,
    AWAY,
    CANCELLED,
    COMPLETED,
    CONNECTED,
    OFFERED,
    OFFERED_ITEM,
    OFFLINE,
    ON_CALL,
    SKILL_LANGUAGES,
    WAITING,
    WRAP_UP,
    AgentPresence,
    WorkItem,
)
from app.agents.routing.presence import set_state, transition
from app.agents.routing.queue import (
    CATEGORIES,
    log_event,
    queue_changed,
    rowcount,
    topic_priority,
    update_item,
)
from app.agents.routing.router import route, route_safely
from app.core.jobs import record_intent
from app.core.policy import allowed
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db
from app.staff.models import User

CONNECT_JOB = {
    "call": "app.telephony.tasks.connect_agent",
    "callback": "app.telephony.tasks.place_callback",
}


class RoutingError(Exception):
    """A console action that the work item's current state does not allow."""


class OfferGone(RoutingError):
    """The offer was withdrawn (timed out, cancelled by the caller) before the agent answered."""


class TransferRefused(ValueError):
    """A transfer to nobody or nowhere known. ``code``: ``target`` (neither an agent nor a
    queue), ``language``, ``topic`` (unknown) or ``agent`` (no such active console user)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class CallbackInPast(ValueError):
    """A call-back promised for a time that has already passed."""


def change_state(agent_id: int, state: str, reason: str | None = None) -> AgentPresence:
    """The agent picks a state in the console; becoming available routes at once."""
    presence = set_state(agent_id, state, reason)
    if presence.state == AVAILABLE:
        route()
    return presence


def accept(agent_id: int, work_item_id: int) -> WorkItem:
    """The agent answers the offer: connect them (telephony job through the outbox)."""
    now = utcnow()
    item = update_item(
        update(WorkItem)
        .where(
            WorkItem.id == work_item_id,
            WorkItem.status == OFFERED_ITEM,
            WorkItem.agent_id == agent_id,
        )
        .values(status=CONNECTED, connected_at=now, offer_expires_at=None, version=WorkItem.version + 1)
    )
    if item is None:
        raise OfferGone(work_item_id)
    transition(agent_id, ON_CALL, item.kind, allowed_from=(OFFERED,), work_item_id=item.id, now=now)
    record_intent(
        CONNECT_JOB[item.kind],
        item.id,
        queue="telephony",
        key=f"routing:{item.kind}:{item.id}:connect:{item.offers}",
    )
    queue_changed(item, log_event(item, "accepted", agent_id))
    return item


def held_item(agent_id: int, work_item_id: int | None = None) -> WorkItem | None:
    """The contact ``agent_id`` is connected to (``work_item_id``: only that one): accepted,
    not ended and not handed on. An agent's softphone may act only on this."""
    query = select(WorkItem).where(WorkItem.agent_id == agent_id, WorkItem.status == CONNECTED)
    if work_item_id is not None:
        query = query.where(WorkItem.id == work_item_id)
    return db.session.scalar(query.order_by(WorkItem.id.desc()).limit(1))


def decline(agent_id: int, work_item_id: int, reason: str = "declined") -> None:
    """The agent turns the offer down: the item goes to someone else; the agent stays free."""
    item = db.session.get(WorkItem, work_item_id)
    if item is None or not requeue_offer(item, agent_id, reason):
        raise OfferGone(work_item_id)
    transition(agent_id, AVAILABLE, reason, allowed_from=(OFFERED,), work_item_id=item.id, keep_idle=True)
    route_safely()


def requeue_offer(item: WorkItem, agent_id: int, reason: str, now: datetime | None = None) -> bool:
    """Offered → waiting, never offered to ``agent_id`` again."""
    excluded = sorted({*(item.excluded_agents or []), agent_id})
    changed = update_item(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.status == OFFERED_ITEM, WorkItem.agent_id == agent_id)
        .values(
            status=WAITING,
            agent_id=None,
            offer_expires_at=None,
            excluded_agents=excluded,
            version=WorkItem.version + 1,
        )
    )
    if changed is None:
        return False
    publish(
        "offer.cancelled",
        {"work_item_id": item.id, "reason": reason, "version": item.version},
        f"user:{agent_id}",
    )
    queue_changed(item, log_event(item, reason, agent_id, when=now))
    return True


def withdraw_offer(agent_id: int, reason: str, now: datetime | None = None) -> None:
    """Take back whatever the agent is being offered (logout, console lost)."""
    item = db.session.scalar(
        select(WorkItem).where(WorkItem.agent_id == agent_id, WorkItem.status == OFFERED_ITEM)
    )
    if item is not None:
        requeue_offer(item, agent_id, reason, now)
        transition(
            agent_id,
            AVAILABLE,
            reason,
            allowed_from=(OFFERED,),
            work_item_id=item.id,
            keep_idle=True,
            now=now,
        )


def finish_wrap_up(
    agent_id: int, work_item_id: int | None = None, disposition: str | None = None, *, note: str | None = None
) -> None:
    """The agent saves the disposition (and a note) and is ready for the next contact."""
    if work_item_id is not None and disposition:
        rowcount(
            update(WorkItem)
            .where(WorkItem.id == work_item_id, WorkItem.status.in_((COMPLETED, CANCELLED, CONNECTED)))
            .values(disposition=disposition[:32])
        )
        item = db.session.get(WorkItem, work_item_id)
        if item is not None:
            log_event(item, "disposition", agent_id, disposition=disposition[:32], note=note)
    if transition(agent_id, AVAILABLE, "wrap_up_done", allowed_from=(WRAP_UP,), work_item_id=work_item_id):
        route_safely()


def check_transfer(to_agent_id: int | None, language: str | None, topic: str | None) -> None:
    """Who a contact may be handed to: an agent or a queue (a language and/or a topic); a known
    language and topic; an agent who is active and works in the console."""
    if to_agent_id is None and language is None and topic is None:
        raise TransferRefused("target")
    if language is not None and language not in SKILL_LANGUAGES:
        raise TransferRefused("language")
    if topic is not None and topic not in CATEGORIES:
        raise TransferRefused("topic")
    if to_agent_id is not None:
        target = db.session.get(User, to_agent_id)
        if target is None or not allowed(target, "console.use") or not target.active:
            raise TransferRefused("agent")


def transfer(
    agent_id: int,
    work_item_id: int,
    *,
    to_agent_id: int | None = None,
    language: str | None = None,
    topic: str | None = None,
) -> WorkItem:
    """Hand a connected item to another agent or queue: it waits again (keeping its place by
    its original enqueue time) and the transferring agent goes to wrap-up.

    :class:`TransferRefused` when the target breaks :func:`check_transfer`'s rule;
    :class:`RoutingError` when the agent is not on this contact."""
    check_transfer(to_agent_id, language, topic)
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        raise RoutingError(work_item_id)
    values: dict[str, Any] = {
        "status": WAITING,
        "agent_id": None,
        "target_agent_id": to_agent_id,
        "excluded_agents": sorted({*(item.excluded_agents or []), agent_id}),
        "version": WorkItem.version + 1,
    }
    if language:
        values["language"] = language
    if topic in CATEGORIES:
        values["topic"] = topic
        values["priority"] = topic_priority(topic)
    changed = update_item(
        update(WorkItem)
        .where(WorkItem.id == work_item_id, WorkItem.status == CONNECTED, WorkItem.agent_id == agent_id)
        .values(**values)
    )
    if changed is None:
        raise RoutingError(work_item_id)
    transition(agent_id, WRAP_UP, "transferred", allowed_from=(ON_CALL,), work_item_id=item.id)
    queue_changed(
        item,
        log_event(
            item, "transferred", agent_id, to_agent_id=to_agent_id, language=item.language, topic=item.topic
        ),
    )
    route_safely()
    return item


def schedule_callback(agent_id: int, item: WorkItem, at: datetime) -> None:
    """Promise the worker a call back at ``at`` (aware): telephony creates the CallbackRequest
    (outbox job ``app.telephony.tasks.schedule_callback``), which then comes back through
    ``enqueue``."""
    if at <= utcnow():
        raise CallbackInPast(at)
    record_intent(
        "app.telephony.tasks.schedule_callback",
        item.kind,
        item.ref_id,
        at.isoformat(),
        agent_id,
        queue="telephony",
        key=f"console:callback:{item.id}:{at.isoformat()}",
    )
    log_event(item, "callback_scheduled", agent_id, at=at.isoformat())


def logged_out(agent_id: int) -> None:
    """Logout ends the agent's availability at once (no grace period)."""
    presence = db.session.get(AgentPresence, agent_id)
    if presence is None:
        return
    withdraw_offer(agent_id, reason="logout")
    transition(agent_id, OFFLINE, "logout", allowed_from=(AVAILABLE, AWAY, WRAP_UP))
