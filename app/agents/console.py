"""The agent console: live queue, presence, offers, softphone hook, screen pop, wrap-up.

The page is rendered once; everything live comes from ``/console/api/state`` (fetched on load,
on every Socket.IO (re)connect and when an event says something changed) and the ``/staff``
namespace events (``offer``, ``offer.cancelled``, ``queue.updated``, ``presence.changed``), which
carry versions so the page can ignore stale ones. Routes are thin: they call ``routing`` and
``presence`` and commit once.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.agents import presence as presence_svc
from app.agents import routing, wrapup
from app.agents.models import (
    CONNECTED,
    OFFERED_ITEM,
    WAITING,
    WRAP_UP,
    AgentPresence,
    User,
    WorkItem,
)
from app.agents.policy import allowed, require
from app.core.dates import zone_for_country
from app.core.jobs import record_intent
from app.core.time import utcnow
from app.extensions import db
from app.tickets.labels import category_choices

bp = Blueprint("console", __name__, url_prefix="/console")

LANGUAGES = {
    "id": "Bahasa Indonesia", "en": "English", "jv": "Basa Jawa", "su": "Basa Sunda",
    "sas": "Sasak", "mad": "Madura", "zh-TW": "中文 (臺灣)", "yue": "粵語", "ko": "한국어",
    "ar": "العربية", "ms": "Bahasa Melayu", "ja": "日本語",
}  # fmt: skip
DISPOSITIONS = tuple(wrapup.DISPOSITIONS)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return jsonify(error={"code": exc.code, "message": exc.message}), exc.status


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
    data = routing.item_payload(item, now)
    data["local_time"] = local_time(item.country, now)
    data["language_name"] = LANGUAGES.get(item.language, item.language)
    data["country_name"] = country_name(item.country)
    return data


# --- Screen pop ------------------------------------------------------------------------------


def _tickets_for(member_id: int | None, ticket_id: int | None) -> dict[str, Any]:
    """The call's ticket and the member's open and recent tickets.

    Guarded import: the tickets package (issue 5) is developed alongside; without its models
    the screen pop simply has no ticket section (``available: false``).
    """
    try:
        from app.tickets.models import Ticket
        from app.tickets.routes import STATUS_LABELS
    except ImportError:  # pragma: no cover - only before the tickets package exists
        return {"available": False, "current": None, "open": [], "recent": []}

    def view(ticket: Any) -> dict[str, Any]:
        return {
            "id": ticket.id,
            "url": url_for("tickets.show", ticket_id=ticket.id),
            "reference": getattr(ticket, "reference", None),
            "subject": ticket.subject,
            "category": ticket.category,
            "status": ticket.status,
            "status_label": str(STATUS_LABELS.get(ticket.status, ticket.status)),
            "priority": getattr(ticket, "priority", None),
            "description": getattr(ticket, "description", ""),
            "created_at": ticket.created_at.isoformat() if ticket.created_at else None,
        }

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
        "current": view(current) if current is not None else None,
        "open": [view(t) for t in open_tickets if current is None or t.id != current.id],
        "recent": [view(t) for t in recent],
    }


def screen_pop(item: WorkItem) -> dict[str, Any]:
    """Who is calling: the member (phase, coverage, claims), their tickets, this call's ticket."""
    from app.records.models import Member
    from app.records.services import member_summary

    now = utcnow()
    member = db.session.get(Member, item.member_id) if item.member_id else None
    summary = member_summary(member) if member is not None else None
    member_view = _jsonable(summary) if summary is not None else None
    if member_view is not None and allowed(current_user, "records.view"):
        member_view["url"] = url_for("records.member", member_id=member.id)  # type: ignore[union-attr]
    return {
        "work_item": item_view(item, now),
        "caller": caller_location(item, summary, now),
        "member": member_view,
        "tickets": _tickets_for(item.member_id, item.ticket_id),
    }


# --- Pages and JSON --------------------------------------------------------------------------


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid", _("%(name)s must be a number.", name=name)) from None


@bp.route("/")
@require("console.use")
def index():  # type: ignore[no-untyped-def]
    from app.telephony.clicktocall import softphone_provider

    return render_template(
        "console/index.html",
        languages=LANGUAGES,
        dispositions=[(code, str(label)) for code, label in wrapup.DISPOSITIONS.items()],
        # (code, label): the console names topics and ticket categories by their labels.
        categories=category_choices(),
        softphone_provider=softphone_provider(),
    )


def _my_item(status: str) -> WorkItem | None:
    return db.session.scalar(
        select(WorkItem).where(WorkItem.agent_id == current_user.id, WorkItem.status == status)
    )


def _last_handled() -> WorkItem | None:
    """The item the agent is wrapping up (the last one they were connected to)."""
    return db.session.scalar(
        select(WorkItem)
        .join(routing.RoutingEvent, routing.RoutingEvent.work_item_id == WorkItem.id)
        .where(routing.RoutingEvent.agent_id == current_user.id, routing.RoutingEvent.kind == "accepted")
        .order_by(routing.RoutingEvent.id.desc())
        .limit(1)
    )


@bp.route("/api/state")
@require("console.use")
def state():  # type: ignore[no-untyped-def]
    """Everything the console shows, with versions: re-fetched on (re)connect."""
    now = utcnow()
    me = presence_svc.get_presence(current_user.id)
    seq = routing.current_seq()
    languages = presence_svc.agent_languages(current_user.id)
    query = select(WorkItem).where(WorkItem.status.in_((WAITING, OFFERED_ITEM, CONNECTED)))
    if not allowed(current_user, "supervisor.view"):
        query = query.where(WorkItem.language.in_(languages))
    items = db.session.scalars(
        query.order_by(WorkItem.priority.desc(), WorkItem.enqueued_at, WorkItem.id).limit(200)
    ).all()
    offer = _my_item(OFFERED_ITEM)
    call = _my_item(CONNECTED)
    wrap = _last_handled() if me.state == WRAP_UP and call is None else None
    wrap_pop = screen_pop(wrap) if wrap is not None else None
    colleagues = db.session.execute(
        select(User.id, User.name, AgentPresence.state)
        .join(AgentPresence, AgentPresence.agent_id == User.id)
        .where(User.id != current_user.id, User.active.is_(True), AgentPresence.state != "offline")
        .order_by(User.name)
    ).all()
    db.session.commit()  # get_presence may have created the row
    from app.agents.console_softphone import leg_state

    return jsonify(
        seq=seq,
        now=now.isoformat(),
        me={
            "id": current_user.id,
            "name": current_user.name,
            "presence": presence_svc.presence_payload(me),
            "skills": presence_svc.skills_of(current_user.id),
        },
        queue=[item_view(i, now) for i in items if i.status == WAITING],
        active=[item_view(i, now) for i in items if i.status != WAITING],
        offer=({"work_item": item_view(offer, now), "screen_pop": screen_pop(offer)} if offer else None),
        call=({"work_item": item_view(call, now), "screen_pop": screen_pop(call)} if call else None),
        wrap_up=({"work_item": item_view(wrap, now), "screen_pop": wrap_pop} if wrap else None),
        softphone=leg_state(current_user.id),
        colleagues=[{"id": c.id, "name": c.name, "state": c.state} for c in colleagues],
        dispositions=[{"code": code, "label": str(label)} for code, label in wrapup.DISPOSITIONS.items()],
        offer_timeout=current_app.config.get("ROUTING_OFFER_TIMEOUT", 20),
    )


@bp.route("/api/presence", methods=["POST"])
@require("console.use")
def set_presence():  # type: ignore[no-untyped-def]
    body = _body()
    try:
        presence = presence_svc.set_state(
            current_user.id, str(body.get("state", "")), body.get("reason") or None
        )
        if presence.state == "available":
            routing.route()
    except presence_svc.PresenceError as exc:
        raise ApiError(409, "state", str(exc)) from None
    db.session.commit()
    return jsonify(presence=presence_svc.presence_payload(presence))


def _item_for_me(work_item_id: int) -> WorkItem:
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        abort(404)
    if item.agent_id != current_user.id and not allowed(current_user, "supervisor.view"):
        # Only the agent it is offered to (or a supervisor) sees who is calling.
        raise ApiError(403, "not_yours", _("This contact is not offered to you."))
    return item


@bp.route("/api/work/<int:work_item_id>")
@require("console.use")
def work_item(work_item_id: int):  # type: ignore[no-untyped-def]
    """The screen pop for an item offered to or handled by the agent."""
    item = _item_for_me(work_item_id)
    return jsonify(screen_pop(item))


@bp.route("/api/work/<int:work_item_id>/accept", methods=["POST"])
@require("console.use")
def accept(work_item_id: int):  # type: ignore[no-untyped-def]
    try:
        item = routing.accept(current_user.id, work_item_id)
    except routing.OfferGone:
        raise ApiError(409, "offer_gone", _("This offer is no longer available.")) from None
    db.session.commit()
    return jsonify(work_item=item_view(item, utcnow()), screen_pop=screen_pop(item))


@bp.route("/api/work/<int:work_item_id>/decline", methods=["POST"])
@require("console.use")
def decline(work_item_id: int):  # type: ignore[no-untyped-def]
    try:
        routing.decline(current_user.id, work_item_id)
    except routing.OfferGone:
        raise ApiError(409, "offer_gone", _("This offer is no longer available.")) from None
    db.session.commit()
    return jsonify(ok=True)


@bp.route("/api/work/<int:work_item_id>/wrap-up", methods=["POST"])
@require("console.use")
def wrap_up(work_item_id: int):  # type: ignore[no-untyped-def]
    body = _body()
    disposition, note = body.get("disposition"), body.get("note")
    if not isinstance(disposition, str) or (note is not None and not isinstance(note, str)):
        raise ApiError(400, "disposition", _("Choose a disposition."))
    try:
        wrapup.finish(current_user.id, work_item_id, disposition, note)
    except wrapup.WrapUpError as exc:
        raise _wrap_up_error(exc) from None
    db.session.commit()
    return jsonify(presence=presence_svc.presence_payload(presence_svc.get_presence(current_user.id)))


def _wrap_up_error(exc: wrapup.WrapUpError) -> ApiError:
    if exc.code == "not_found":
        return ApiError(404, "not_found", _("No such contact."))
    if exc.code == "not_yours":
        return ApiError(403, "not_yours", _("Only the agent who handled this contact wraps it up."))
    if exc.code == "note":
        return ApiError(
            400, "note", _("The note is too long (at most %(count)d characters).", count=wrapup.NOTE_MAX)
        )
    return ApiError(400, "disposition", _("Choose a disposition."))


@bp.app_template_global("disposition_label")
def disposition_label(code: str | None) -> str:
    return wrapup.disposition_label(code)


@bp.route("/api/work/<int:work_item_id>/transfer", methods=["POST"])
@require("console.use")
def transfer(work_item_id: int):  # type: ignore[no-untyped-def]
    body = _body()
    to_agent = _int(body.get("to_agent_id"), "to_agent_id")
    language = body.get("language") or None
    topic = body.get("topic") or None
    if to_agent is None and language is None and topic is None:
        raise ApiError(400, "target", _("Choose an agent or a queue."))
    if language is not None and language not in LANGUAGES:
        raise ApiError(400, "language", _("Unknown language."))
    if topic is not None and topic not in routing.CATEGORIES:
        raise ApiError(400, "topic", _("Unknown topic."))
    if to_agent is not None:
        target = db.session.get(User, to_agent)
        if target is None or not allowed(target, "console.use") or not target.active:
            raise ApiError(400, "agent", _("Unknown agent."))
    try:
        item = routing.transfer(
            current_user.id, work_item_id, to_agent_id=to_agent, language=language, topic=topic
        )
    except routing.RoutingError:
        raise ApiError(409, "not_connected", _("Only a call you are on can be transferred.")) from None
    db.session.commit()
    return jsonify(work_item=item_view(item, utcnow()))


@bp.route("/api/work/<int:work_item_id>/callback", methods=["POST"])
@require("console.use")
def schedule_callback(work_item_id: int):  # type: ignore[no-untyped-def]
    """Promise the worker a call back: telephony creates the CallbackRequest (outbox job
    ``app.telephony.tasks.schedule_callback``), which then comes back through ``enqueue``."""
    item = _item_for_me(work_item_id)
    raw = str(_body().get("at") or "")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "at", _("Give the call-back time.")) from None
    if at.tzinfo is None:
        raise ApiError(400, "at", _("Give the call-back time with its time zone."))
    if at <= utcnow():
        raise ApiError(400, "at", _("The call-back time must be in the future."))
    record_intent(
        "app.telephony.tasks.schedule_callback",
        item.kind,
        item.ref_id,
        at.isoformat(),
        current_user.id,
        queue="telephony",
        key=f"console:callback:{item.id}:{at.isoformat()}",
    )
    routing.log_event(item, "callback_scheduled", current_user.id, at=at.isoformat())
    db.session.commit()
    return jsonify(ok=True, at=at.isoformat()), 202


@bp.route("/api/agents")
@require("routing.manage")
def agents():  # type: ignore[no-untyped-def]
    """Console users with their state and skills (for supervisors setting up queues)."""
    users = db.session.scalars(
        select(User).where(User.role.in_(("agent", "supervisor")), User.active.is_(True)).order_by(User.name)
    ).all()
    states = {
        row.agent_id: row.state
        for row in db.session.execute(select(AgentPresence.agent_id, AgentPresence.state))
    }
    return jsonify(
        agents=[
            {
                "id": user.id,
                "name": user.name,
                "state": states.get(user.id, "offline"),
                "skills": presence_svc.skills_of(user.id),
            }
            for user in users
        ],
        languages=LANGUAGES,
        topics=list(routing.CATEGORIES),
    )


@bp.route("/api/agents/<int:agent_id>/skills", methods=["POST"])
@require("routing.manage")
def set_agent_skills(agent_id: int):  # type: ignore[no-untyped-def]
    """Replace an agent's languages and/or topics (an empty topic list: every topic)."""
    user = db.session.get(User, agent_id)
    if user is None or not allowed(user, "console.use"):
        abort(404)
    body = _body()
    languages, topics = body.get("languages"), body.get("topics")
    if languages is not None and (
        not isinstance(languages, list) or not languages or any(code not in LANGUAGES for code in languages)
    ):
        raise ApiError(400, "languages", _("Choose at least one known language."))
    if topics is not None and (
        not isinstance(topics, list) or any(t not in routing.CATEGORIES for t in topics)
    ):
        raise ApiError(400, "topics", _("Unknown topic."))
    from app.agents import skills  # the staff page's rule: validated again and audited

    try:
        skills.change_skills(agent_id, languages, topics, actor_id=current_user.id)
    except skills.InvalidSkill as exc:
        raise ApiError(400, "skills", exc.code) from exc
    db.session.commit()
    return jsonify(skills=presence_svc.skills_of(agent_id))


@bp.route("/api/voice-token", methods=["POST"])
@require("console.use")
def voice_token():  # type: ignore[no-untyped-def]
    """A Twilio Voice access token for this agent's softphone, identity ``agent:<id>``, with the
    voice grant (outgoing through our TwiML App; incoming allowed, so the Device registers).

    Issued with telephony's helpers (``app.telephony.clicktocall``: ``voice_tokens_possible``,
    ``access_token``); 503 with a message the console shows when telephony cannot issue one.
    ``provider`` tells the console which softphone to use (``twilio`` or ``simulator``).
    """
    from app.telephony.clicktocall import access_token, softphone_provider, voice_tokens_possible

    if not voice_tokens_possible():
        message = _("Telephony is not configured: the softphone is unavailable.")
        return jsonify(error={"code": "telephony_not_configured", "message": message, "fields": {}}), 503
    identity = f"agent:{current_user.id}"
    ttl = int(current_app.config.get("AGENT_VOICE_TOKEN_TTL", 3600))
    expires_at = (utcnow() + timedelta(seconds=ttl)).isoformat()
    return jsonify(
        token=access_token(identity, ttl, incoming=True),
        identity=identity,
        ttl=ttl,
        expires_at=expires_at,
        provider=softphone_provider(),
    )


from app.agents import console_softphone  # noqa: E402,F401 - registers the simulator softphone's routes
