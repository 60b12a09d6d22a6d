"""Agent presence: the state machine, its append-only event log and the console heartbeat.

States: ``offline``, ``available``, ``offered`` (ringing), ``on_call``, ``wrap_up``, ``away``.
Every change is a conditional UPDATE on ``agent_presence`` (``… WHERE state = :from``), so two
processes racing to change one agent cannot both win, plus one ``AgentStateEvent`` row.
``last_idle_since`` is set when the agent becomes free for work; the router offers work to the
agent idle the longest.

Also the skills the router matches on (languages and topics). Functions here never commit: the
caller (a request, a job, the router tick) does. Presence knows nothing of work items: what
takes an offer back when an agent leaves is in ``operations`` and ``tick``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from app.agents.models import (
    AGENT_STATES,
    AVAILABLE,
    AWAY,
    OFFLINE,
    WRAP_UP,
    AgentPresence,
    AgentSkill,
    AgentStateEvent,
)
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db

# States an agent may choose from the console; the others are set by the router.
MANUAL_STATES = (AVAILABLE, AWAY, OFFLINE)
# States from which a manual change is allowed (never while ringing or talking).
MANUAL_FROM = (OFFLINE, AVAILABLE, AWAY, WRAP_UP)


class PresenceError(Exception):
    """A state change that the current state does not allow."""


def setting(name: str, default: Any) -> Any:
    return current_app.config.get(name, default)


def get_presence(agent_id: int) -> AgentPresence:
    """The agent's presence row, created (offline) on first use."""
    presence = db.session.get(AgentPresence, agent_id)
    if presence is not None:
        return presence
    try:
        with db.session.begin_nested():
            presence = AgentPresence(agent_id=agent_id, state=OFFLINE, state_since=utcnow(), version=1)
            db.session.add(presence)
    except IntegrityError:  # another process created it first
        presence = db.session.get(AgentPresence, agent_id)
        assert presence is not None
    return presence


def presence_payload(presence: AgentPresence) -> dict[str, Any]:
    return {
        "agent_id": presence.agent_id,
        "state": presence.state,
        "reason": presence.reason,
        "since": presence.state_since.isoformat(),
        "wrap_up_until": presence.wrap_up_until.isoformat() if presence.wrap_up_until else None,
        "version": presence.version,
    }


def transition(
    agent_id: int,
    to_state: str,
    reason: str | None = None,
    *,
    allowed_from: tuple[str, ...] | None = None,
    work_item_id: int | None = None,
    keep_idle: bool = False,
    skip_locked: bool = False,
    now: datetime | None = None,
) -> bool:
    """Move an agent to ``to_state`` if its current state is in ``allowed_from``.

    Returns False (and changes nothing) when the state is not allowed, is already
    ``to_state``, or another process changed the row first: the UPDATE is conditional on the
    state it read (``… WHERE state = :current``). ``keep_idle`` keeps the agent's place in the
    longest-idle order (an offer the caller cancelled should not send the agent to the back).
    ``skip_locked`` (PostgreSQL): give up at once if another transaction holds the row.
    """
    if to_state not in AGENT_STATES:
        raise ValueError(f"unknown state {to_state!r}")
    now = now or utcnow()
    if allowed_from is not None and len(allowed_from) == 1:
        current: str | None = allowed_from[0]  # the UPDATE's condition checks it
    else:
        current = db.session.scalar(select(AgentPresence.state).where(AgentPresence.agent_id == agent_id))
        if current is None:
            current = get_presence(agent_id).state
    if current == to_state or (allowed_from is not None and current not in allowed_from):
        return False
    values: dict[str, Any] = {
        "state": to_state,
        "reason": reason,
        "state_since": now,
        "version": AgentPresence.version + 1,
        "wrap_up_until": None,
    }
    if to_state == AVAILABLE:
        values["last_idle_since"] = func.coalesce(AgentPresence.last_idle_since, now) if keep_idle else now
    if to_state == WRAP_UP:
        values["wrap_up_until"] = now + timedelta(seconds=setting("ROUTING_WRAP_UP_SECONDS", 30))
    stmt = update(AgentPresence).where(AgentPresence.agent_id == agent_id, AgentPresence.state == current)
    if skip_locked and db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(
            AgentPresence.agent_id.in_(
                select(AgentPresence.agent_id)
                .where(AgentPresence.agent_id == agent_id)
                .with_for_update(skip_locked=True)
            )
        )
    version = db.session.scalar(
        stmt.values(**values).returning(AgentPresence.version).execution_options(synchronize_session=False)
    )
    if version is None:
        return False
    stale = db.session.identity_map.get(identity_key(AgentPresence, agent_id))
    if stale is not None:
        db.session.expire(stale)
    db.session.add(
        AgentStateEvent(
            agent_id=agent_id,
            from_state=current,
            to_state=to_state,
            reason=reason,
            work_item_id=work_item_id,
            at=now,
        )
    )
    wrap_up_until = values["wrap_up_until"]
    payload = {
        "agent_id": agent_id,
        "state": to_state,
        "reason": reason,
        "since": now.isoformat(),
        "wrap_up_until": wrap_up_until.isoformat() if wrap_up_until else None,
        "version": version,
    }
    publish("presence.changed", payload, f"user:{agent_id}")
    publish("presence.changed", payload, "supervisors")
    return True


def set_state(agent_id: int, state: str, reason: str | None = None) -> AgentPresence:
    """A change the agent asked for in the console (available, away/break, offline)."""
    if state not in MANUAL_STATES:
        raise PresenceError(f"cannot choose {state!r}")
    presence = get_presence(agent_id)
    if presence.state not in MANUAL_FROM:
        raise PresenceError(f"cannot leave {presence.state!r} by hand")
    # A request from the console is as good as a heartbeat.
    console_seen([agent_id])
    transition(agent_id, state, reason, allowed_from=MANUAL_FROM)
    return presence


# --- Console liveness ------------------------------------------------------------------------


def console_seen(agent_ids: list[int], now: datetime | None = None) -> None:
    """These agents have a console connected right now (connect, and each web process's
    heartbeat for its own sockets). A crashed web process simply stops vouching for them."""
    if agent_ids:
        db.session.execute(
            update(AgentPresence)
            .where(AgentPresence.agent_id.in_(agent_ids))
            .values(console_seen_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )


def end_wrap_ups(now: datetime | None = None) -> list[int]:
    """Agents whose wrap-up time is over become available."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(AgentPresence.agent_id).where(
            AgentPresence.state == WRAP_UP, AgentPresence.wrap_up_until < now
        )
    ).all()
    return [a for a in rows if transition(a, AVAILABLE, "wrap_up_over", allowed_from=(WRAP_UP,), now=now)]


# --- Skills ----------------------------------------------------------------------------------


def skills_of(agent_id: int) -> dict[str, list[str]]:
    rows = db.session.scalars(select(AgentSkill).where(AgentSkill.agent_id == agent_id)).all()
    out: dict[str, list[str]] = {"language": [], "topic": []}
    for skill in rows:
        out.setdefault(skill.kind, []).append(skill.value)
    for values in out.values():
        values.sort()
    return out


def set_skills(agent_id: int, *, languages: list[str] | None = None, topics: list[str] | None = None) -> None:
    """Replace an agent's languages and/or topics."""
    for kind, values in (("language", languages), ("topic", topics)):
        if values is None:
            continue
        db.session.execute(
            AgentSkill.__table__.delete().where(AgentSkill.agent_id == agent_id, AgentSkill.kind == kind)
        )
        for value in sorted(set(values)):
            db.session.add(AgentSkill(agent_id=agent_id, kind=kind, value=value))
    db.session.flush()


def agent_languages(agent_id: int) -> list[str]:
    """The languages an agent takes calls in: every agent speaks Indonesian unless told otherwise."""
    return skills_of(agent_id)["language"] or ["id"]

