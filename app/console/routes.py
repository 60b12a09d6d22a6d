"""The agent console's routes: the page and its JSON API. Thin: they read the request, call
the routing services (``app.agents.routing``) or the console's views (``views``), map refusals
to JSON errors and commit once.

The page is rendered once; everything live comes from ``/console/api/state`` (fetched on load,
on every Socket.IO (re)connect and when an event says something changed) and the ``/staff``
namespace events (``offer``, ``offer.cancelled``, ``queue.updated``, ``presence.changed``), which
carry versions so the page can ignore stale ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, current_app, jsonify, render_template
from flask_babel import gettext as _
from flask_login import current_user

from app.agents import routing, skills, wrapup
from app.agents.models import WorkItem
from app.agents.routing import presence as presence_svc
from app.console.api import ApiError, bp, int_field, json_body
from app.console.views import LANGUAGES, console_agents, console_state, item_view, screen_pop
from app.core.policy import allowed, require
from app.core.time import utcnow
from app.extensions import db
from app.staff.models import User
from app.telephony import clicktocall
from app.tickets.labels import category_choices


@bp.route("/")
@require("console.use")
def index():
    return render_template(
        "console/index.html",
        languages=LANGUAGES,
        dispositions=[(code, str(label)) for code, label in wrapup.DISPOSITIONS.items()],
        # (code, label): the console names topics and ticket categories by their labels.
        categories=category_choices(),
        softphone_provider=clicktocall.softphone_provider(),
    )


@bp.route("/api/state")
@require("console.use")
def state():
    """Everything the console shows, with versions: re-fetched on (re)connect."""
    data = console_state(current_user)
    db.session.commit()  # get_presence may have created the row
    return jsonify(**data)


@bp.route("/api/presence", methods=["POST"])
@require("console.use")
def set_presence():
    body = json_body()
    try:
        presence = routing.change_state(current_user.id, str(body.get("state", "")), body.get("reason") or None)
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
def work_item(work_item_id: int):
    """The screen pop for an item offered to or handled by the agent."""
    item = _item_for_me(work_item_id)
    return jsonify(screen_pop(item, current_user))


@bp.route("/api/work/<int:work_item_id>/accept", methods=["POST"])
@require("console.use")
def accept(work_item_id: int):
    try:
        item = routing.accept(current_user.id, work_item_id)
    except routing.OfferGone:
        raise ApiError(409, "offer_gone", _("This offer is no longer available.")) from None
    db.session.commit()
    return jsonify(work_item=item_view(item, utcnow()), screen_pop=screen_pop(item, current_user))


@bp.route("/api/work/<int:work_item_id>/decline", methods=["POST"])
@require("console.use")
def decline(work_item_id: int):
    try:
        routing.decline(current_user.id, work_item_id)
    except routing.OfferGone:
        raise ApiError(409, "offer_gone", _("This offer is no longer available.")) from None
    db.session.commit()
    return jsonify(ok=True)


@bp.route("/api/work/<int:work_item_id>/wrap-up", methods=["POST"])
@require("console.use")
def wrap_up(work_item_id: int):
    agent_id = current_user.id  # read before the commit expires the user (no second SELECT)
    body = json_body()
    disposition, note = body.get("disposition"), body.get("note")
    if not isinstance(disposition, str) or (note is not None and not isinstance(note, str)):
        raise ApiError(400, "disposition", _("Choose a disposition."))
    try:
        wrapup.finish(agent_id, work_item_id, disposition, note)
    except wrapup.WrapUpError as exc:
        raise _wrap_up_error(exc) from None
    db.session.commit()
    return jsonify(presence=presence_svc.presence_payload(presence_svc.get_presence(agent_id)))


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


def _transfer_error(exc: routing.TransferRefused) -> ApiError:
    if exc.code == "target":
        return ApiError(400, "target", _("Choose an agent or a queue."))
    if exc.code == "language":
        return ApiError(400, "language", _("Unknown language."))
    if exc.code == "topic":
        return ApiError(400, "topic", _("Unknown topic."))
    return ApiError(400, "agent", _("Unknown agent."))


@bp.route("/api/work/<int:work_item_id>/transfer", methods=["POST"])
@require("console.use")
def transfer(work_item_id: int):
    body = json_body()
    to_agent = int_field(body.get("to_agent_id"), "to_agent_id")
    language, topic = body.get("language") or None, body.get("topic") or None
    try:
        item = routing.transfer(
            current_user.id, work_item_id, to_agent_id=to_agent, language=language, topic=topic
        )
    except routing.TransferRefused as exc:
        raise _transfer_error(exc) from None
    except routing.RoutingError:
        raise ApiError(409, "not_connected", _("Only a call you are on can be transferred.")) from None
    db.session.commit()
    return jsonify(work_item=item_view(item, utcnow()))


@bp.route("/api/work/<int:work_item_id>/callback", methods=["POST"])
@require("console.use")
def schedule_callback(work_item_id: int):
    """Promise the worker a call back (see ``routing.schedule_callback``)."""
    item = _item_for_me(work_item_id)
    raw = str(json_body().get("at") or "")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "at", _("Give the call-back time.")) from None
    if at.tzinfo is None:
        raise ApiError(400, "at", _("Give the call-back time with its time zone."))
    try:
        routing.schedule_callback(current_user.id, item, at)
    except routing.CallbackInPast:
        raise ApiError(400, "at", _("The call-back time must be in the future.")) from None
    db.session.commit()
    return jsonify(ok=True, at=at.isoformat()), 202


@bp.route("/api/agents")
@require("routing.manage")
def agents():
    """Console users with their state and skills (for supervisors setting up queues)."""
    return jsonify(agents=console_agents(), languages=LANGUAGES, topics=list(routing.CATEGORIES))


@bp.route("/api/agents/<int:agent_id>/skills", methods=["POST"])
@require("routing.manage")
def set_agent_skills(agent_id: int):
    """Replace an agent's languages and/or topics (an empty topic list: every topic), by the
    staff page's rule (``skills.change_skills``: validated and audited)."""
    user = db.session.get(User, agent_id)
    if user is None or not allowed(user, "console.use"):
        abort(404)
    body = json_body()
    try:
        skills.change_skills(agent_id, body.get("languages"), body.get("topics"), actor_id=current_user.id)
    except skills.InvalidSkill as exc:
        if exc.code in ("unknown_language", "no_language"):
            raise ApiError(400, "languages", _("Choose at least one known language.")) from None
        if exc.code == "unknown_topic":
            raise ApiError(400, "topics", _("Unknown topic.")) from None
        raise ApiError(400, "skills", exc.code) from exc
    db.session.commit()
    return jsonify(skills=presence_svc.skills_of(agent_id))


@bp.route("/api/voice-token", methods=["POST"])
@require("console.use")
def voice_token():
    """A Twilio Voice access token for this agent's softphone, identity ``agent:<id>``, with the
    voice grant (outgoing through our TwiML App; incoming allowed, so the Device registers).

    Issued with telephony's helpers (``app.telephony.clicktocall``: ``voice_tokens_possible``,
    ``access_token``); 503 with a message the console shows when telephony cannot issue one.
    ``provider`` tells the console which softphone to use (``twilio`` or ``simulator``).
    """
    if not clicktocall.voice_tokens_possible():
        message = _("Telephony is not configured: the softphone is unavailable.")
        return jsonify(error={"code": "telephony_not_configured", "message": message, "fields": {}}), 503
    identity = f"agent:{current_user.id}"
    ttl = int(current_app.config.get("AGENT_VOICE_TOKEN_TTL", 3600))
    expires_at = (utcnow() + timedelta(seconds=ttl)).isoformat()
    return jsonify(
        token=clicktocall.access_token(identity, ttl, incoming=True),
        identity=identity,
        ttl=ttl,
        expires_at=expires_at,
        provider=clicktocall.softphone_provider(),
    )
