"""Supervisors on live calls, from the wallboard: join a call (listen, whisper, barge), switch,
leave; and the supervisor's softphone (supervisors and admins: ``calls.supervise``).

Thin routes over :mod:`app.telephony.supervision` (the rules, the audit, the agent's view). With
a Twilio account the wallboard's ``Twilio.Device`` (token from ``voice-token``, identity
``supervisor:<id>``) joins with ``SupervisionId``; without one, these routes place and move the
supervisor's leg in this web process's telephony simulator, as they do the agents' (the
``sync`` endpoint delivers the provider's side about once a second while the leg lives).
JSON in and out, errors as ``{"error": {"code", "message"}}``; CSRF on every POST.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from app.core.policy import require
from app.core.time import utcnow
from app.extensions import db
from app.telephony import clicktocall, supervision
from app.telephony import softphone as sim_softphone
from app.telephony.models import SUPERVISION_MODES

bp = Blueprint("live_calls", __name__, url_prefix="/supervisor/api")


class SupervisionApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(SupervisionApiError)
def _api_error(exc: SupervisionApiError) -> Any:
    db.session.rollback()
    return jsonify(error={"code": exc.code, "message": exc.message, "fields": {}}), exc.status


def _refusal(code: str) -> SupervisionApiError:
    messages = {
        "mode": (400, _("Choose listen, whisper or barge in.")),
        "not_live": (409, _("No agent is on this call any more.")),
        "own_call": (409, _("This is your own call.")),
        "none": (409, _("You are not on a call.")),
        "busy": (409, _("You are joining another call at this moment.")),
        "refused": (409, _("The call could not be joined: it has just ended.")),
    }
    status, message = messages.get(code, (409, _("The call could not be joined.")))
    return SupervisionApiError(status, code, str(message))


def _mode() -> str:
    body = request.get_json(silent=True)
    mode = body.get("mode") if isinstance(body, dict) else None
    if not isinstance(mode, str) or mode not in SUPERVISION_MODES:
        raise _refusal("mode")
    return mode


def _me() -> int:
    return int(current_user.id)


def _state() -> Any:
    """The supervisor's supervision and (without Twilio) their simulated leg."""
    db.session.commit()  # the simulator's webhooks below write in their own sessions
    leg = None
    if sim_softphone.simulator_active():
        leg = sim_softphone.supervisor_view(sim_softphone.get_simulator(), _me())
    mine = supervision.supervisor_view(_me())  # after the simulator: its webhooks may have moved it
    return jsonify(supervision=mine, softphone=leg, provider=clicktocall.softphone_provider())


@bp.get("/supervision")
@require("calls.supervise")
def state() -> Any:
    return _state()


@bp.post("/supervision/sync")
@require("calls.supervise")
def sync() -> Any:
    """The simulated line moves on (the provider's side delivered); the same answer as GET.
    The wallboard calls it about once a second while the supervisor's leg lives."""
    return _state()


@bp.post("/calls/<int:call_id>/supervise")
@require("calls.supervise")
def supervise(call_id: int) -> Any:
    """Join ``call_id`` in ``mode``: the supervision is recorded and audited; without Twilio the
    simulated softphone joins at once, with Twilio the page's Device joins next."""
    mode = _mode()
    try:
        row = supervision.start(_me(), call_id, mode)
    except supervision.SupervisionError as exc:
        raise _refusal(exc.code) from None
    supervision_id = row.id
    db.session.commit()
    if sim_softphone.simulator_active():
        sim = sim_softphone.get_simulator()
        try:
            sim_softphone.supervisor_join(sim, _me(), supervision_id)
        except sim_softphone.SoftphoneError:
            raise _refusal("refused") from None
    return _state()


@bp.post("/supervision/mode")
@require("calls.supervise")
def change_mode() -> Any:
    mode = _mode()
    try:
        supervision.change_mode(_me(), mode)
    except supervision.SupervisionError as exc:
        raise _refusal(exc.code) from None
    db.session.commit()
    return _state()


@bp.post("/supervision/leave")
@require("calls.supervise")
def leave() -> Any:
    try:
        supervision.leave(_me())
    except supervision.SupervisionError as exc:
        raise _refusal(exc.code) from None
    db.session.commit()
    if sim_softphone.simulator_active():  # as the Device hangs up its call
        sim_softphone.supervisor_hang_up(sim_softphone.get_simulator(), _me())
    return _state()


@bp.post("/voice-token")
@require("calls.supervise")
def voice_token() -> Any:
    """A Twilio Voice token for the supervisor's softphone, identity ``supervisor:<id>``: it may
    call out only through our TwiML App (which admits it only to the supervisions it starts)."""
    if not clicktocall.voice_tokens_possible():
        message = _("Telephony is not configured: the softphone is unavailable.")
        return jsonify(error={"code": "telephony_not_configured", "message": message, "fields": {}}), 503
    identity = f"supervisor:{_me()}"
    ttl = int(current_app.config.get("AGENT_VOICE_TOKEN_TTL", 3600))
    return jsonify(
        token=clicktocall.access_token(identity, ttl),
        identity=identity,
        ttl=ttl,
        expires_at=(utcnow() + timedelta(seconds=ttl)).isoformat(),
        provider=clicktocall.softphone_provider(),
    )
