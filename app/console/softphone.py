"""The console's simulator softphone: the signed-in agent's own leg, without a Twilio account.

With Twilio the console's ``Twilio.Device`` joins the call; without it these endpoints do the
same through the telephony simulator of this web process (``app.telephony.softphone``). Every
endpoint acts only on the signed-in agent's leg; ``join`` only for a contact they hold (routing
decides, and the TwiML App's client webhook checks it again). Staff session, CSRF (the
application-wide CSRFProtect), ``console.use``. With Twilio configured they answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from app.agents import routing
from app.console.api import ApiError, bp, json_body
from app.core.inputs import MAX_ID
from app.core.policy import require
from app.extensions import db
from app.telephony import softphone as sim_softphone


def _sim():
    if not sim_softphone.simulator_active():
        abort(404)  # with Twilio, the console's Twilio.Device is the softphone
    return sim_softphone.get_simulator()


def _messages() -> dict[str, str]:
    return {
        "refused": _("This call cannot be joined: it has ended or is no longer yours."),
        "no_leg": _("The softphone is not on a call."),
        "ended": _("The call has ended."),
        "digits": _("Only the keys 0–9, * and # can be sent."),
    }


def _error(exc: sim_softphone.SoftphoneError) -> ApiError:
    status = 400 if exc.code == "digits" else 409
    return ApiError(status, exc.code, _messages().get(exc.code, _("The softphone failed.")))


def _answer(sim: Any) -> Any:
    return jsonify(softphone=sim_softphone.view(sim, int(current_user.id)))


@bp.route("/api/softphone/join", methods=["POST"])
@require("console.use")
def softphone_join():
    """Join the call of a contact the agent holds (after accepting it, or after a reload)."""
    sim = _sim()
    raw = json_body().get("work_item_id")
    valid = not isinstance(raw, bool) and isinstance(raw, int | str) and str(raw).isdigit()
    if not valid or int(str(raw)) > MAX_ID:  # past a database integer no item can exist
        raise ApiError(400, "work_item_id", _("%(name)s must be a number.", name="work_item_id"))
    item = routing.held_item(int(current_user.id), int(str(raw)))
    if item is None:
        raise ApiError(409, "refused", _messages()["refused"])
    item_id = item.id
    db.session.commit()  # the simulator's webhooks write in their own sessions
    try:
        sim_softphone.join(sim, int(current_user.id), item_id)
    except sim_softphone.SoftphoneError as exc:
        raise _error(exc) from None
    return _answer(sim)


@bp.route("/api/softphone/sync", methods=["POST"])
@require("console.use")
def softphone_sync():
    """The simulated line moves on: deliver the app's requests to the simulated provider (the
    caller moved into the conference) and answer with the leg's state. The console calls it
    about once a second while its leg is live."""
    sim = _sim()
    holds = routing.held_item(int(current_user.id)) is not None
    db.session.commit()
    sim_softphone.refresh(sim, int(current_user.id), holds)
    return _answer(sim)


@bp.route("/api/softphone/hangup", methods=["POST"])
@require("console.use")
def softphone_hangup():
    sim = _sim()
    db.session.commit()
    try:
        sim_softphone.hang_up(sim, int(current_user.id))
    except sim_softphone.SoftphoneError as exc:
        raise _error(exc) from None
    return _answer(sim)


@bp.route("/api/softphone/mute", methods=["POST"])
@require("console.use")
def softphone_mute():
    sim = _sim()
    muted = json_body().get("muted")
    if not isinstance(muted, bool):
        raise ApiError(400, "muted", _("Say whether to mute (true or false)."))
    try:
        sim_softphone.set_muted(sim, int(current_user.id), muted)
    except sim_softphone.SoftphoneError as exc:
        raise _error(exc) from None
    return _answer(sim)


@bp.route("/api/softphone/digits", methods=["POST"])
@require("console.use")
def softphone_digits():
    sim = _sim()
    digits = json_body().get("digits")
    db.session.commit()
    try:
        sim_softphone.send_digits(sim, int(current_user.id), digits if isinstance(digits, str) else "")
    except sim_softphone.SoftphoneError as exc:
        raise _error(exc) from None
    return _answer(sim)
