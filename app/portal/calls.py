"""Click-to-Call pages: "call now, free" in the browser, and "call me back" with its status page.

The browser call's identity (the call request) is kept in the worker's signed session, so the
status endpoint and the simulator's worker-leg API only ever see *her* call. A call-back's status
page is reached through a signed, unguessable token in its URL (given to her when she asks).
Without Twilio credentials (the embedded default) the page calls through the telephony
simulator; those endpoints answer 404 when Twilio is configured or in production.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from phonenumbers import country_code_for_region
from werkzeug.wrappers import Response

from app.core.errors import error_response
from app.extensions import db, limiter
from app.portal.blueprint import bp
from app.records.routes import country_name
from app.telephony import simulator_worker, worker_calls
from app.telephony.clicktocall import (
    CallbackRefused,
    access_token,
    create_call_request,
    softphone_provider,
    voice_tokens_possible,
)
from app.telephony.models import CallbackRequest
from app.telephony.simulator import SimulatorError
from app.tickets.labels import category_choices

CALL_SESSION = "click_to_call"
STATUS_LINK_SALT = "callback-status"
STATUS_LINK_MAX_AGE = 14 * 24 * 3600  # her status link works for two weeks

LANGUAGES = (("id", "Bahasa Indonesia"), ("en", "English"))

# Reason codes from the services → what the worker reads, in her language.
REFUSALS = {
    "empty_phone": _l("Enter your phone number."),
    "invalid_phone": _l(
        "This is not a valid phone number for the country you chose. Check the number and the country."
    ),
    "not_e164": _l("Enter the number with its country code, e.g. +852 9123 4567."),
    "premium_rate": _l("We cannot call premium-rate or shared-cost numbers. Give a mobile or home number."),
    "shared_cost": _l("We cannot call premium-rate or shared-cost numbers. Give a mobile or home number."),
    "number_type_not_allowed": _l("We can only call mobile and landline numbers."),
    "country_not_served": _l(
        "We cannot call numbers in this country. Please call us from this page instead (it is free)."
    ),
    "too_many_requests_for_number": _l(
        "This number has asked for too many call-backs today. Please try again tomorrow, or call us from this page."
    ),
    "unsupported_language": _l("Choose Bahasa Indonesia or English."),
    "unknown_topic": _l("Choose what your call is about."),
    "invalid_kpj": _l("A KPJ number has 11 digits. Leave it empty if you do not know it."),
    "invalid_window": _l("Choose a start and an end time that are different, or leave both empty."),
}
PHASES = {
    "waiting": _l("Waiting for an agent"),
    "calling": _l("We are calling you"),
    "connected": _l("Connected with an agent"),
    "done": _l("Done: we spoke with you"),
    "unreachable": _l("We could not reach you"),
    "cancelled": _l("Cancelled"),
}


@bp.after_request
def _private(response: Response) -> Response:
    # Her call's state and her call-back's page are hers: never kept by a shared cache.
    if request.endpoint in ("portal.call_status", "portal.callback_status", "portal.callback_state"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _call_limit() -> str:
    return str(current_app.config.get("PORTAL_CALL_RATE_LIMIT", "120 per minute"))


def _refusal_fields(exc: CallbackRefused) -> dict[str, str]:
    return {
        field: str(REFUSALS.get(code, _("Please check this field."))) for field, code in exc.fields.items()
    }


def _topics() -> list[tuple[str, str]]:
    return category_choices("public")


def _countries() -> list[tuple[str, str, int]]:
    # In the configured order (most placements first), so most workers find theirs at the top.
    codes = current_app.config["PLACEMENT_COUNTRIES"]
    return [(code, country_name(code), country_code_for_region(code)) for code in codes]


def _calls_available() -> bool:
    """Twilio with its voice keys, or the simulator (never in production: nothing to call)."""
    if softphone_provider() == "simulator" and current_app.config.get("NAME") == "production":
        return False
    return voice_tokens_possible()


def _locale() -> str:
    return str(get_locale() or "id")


# --- call now, free ---------------------------------------------------------------------------


@bp.get("/call")
def call():
    return render_template(
        "portal/call.html",
        topics=_topics(),
        languages=LANGUAGES,
        provider=softphone_provider(),
        available=_calls_available(),
        resume=bool(_session_call().get("sid")),  # a simulated call this browser placed
    )


def _session_call() -> dict[str, Any]:
    value = session.get(CALL_SESSION)
    return value if isinstance(value, dict) else {}


@bp.post("/call/start")
@limiter.limit(lambda: current_app.config["VOICE_TOKEN_RATE_LIMIT"])
def call_start():
    """A call request for this browser (language, topic): a Voice SDK token with Twilio; with
    the simulator the next step is ``/call/sim/dial``."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error_response(400, "invalid_json", _("Something went wrong. Reload the page and try again."))
    if not _calls_available():
        return error_response(503, "voice_not_configured", _("Calls from the browser are not available yet."))
    values = {"language": payload.get("language"), "topic": payload.get("topic")}
    try:
        call_request = create_call_request(values, request.remote_addr)
    except CallbackRefused as exc:
        return error_response(422, "validation_failed", _("Please check your choices."), _refusal_fields(exc))
    db.session.commit()
    session[CALL_SESSION] = {"identity": call_request.identity}
    provider = softphone_provider()
    body: dict[str, Any] = {"provider": provider, "identity": call_request.identity}
    if provider == "twilio":
        body["token"] = access_token(
            call_request.identity, int(current_app.config["VOICE_TOKEN_TTL_SECONDS"])
        )
    return jsonify(body)


@bp.get("/call/status")
@limiter.limit(_call_limit)
def call_status():
    """Her own call only (the identity in her session): phase, queue position, estimate."""
    mine = _session_call()
    sid = mine.get("sid")
    leg = None
    if sid and softphone_provider() == "simulator":
        leg = simulator_worker.view(_sim(), sid)
        db.session.expire_all()  # the simulated webhooks committed in their own sessions
    status = worker_calls.call_status(mine.get("identity"))
    if status is None:
        return error_response(404, "no_call", _("There is no call from this page."))
    if leg is not None:
        status["leg"] = leg
        if leg["connected"]:
            status["phase"] = "connected"
        elif leg["ended"] and status["phase"] != "ended":
            status["phase"], status["reason"] = "ended", "ended"
    return jsonify(status)


# --- the simulator's worker leg (no Twilio account) -------------------------------------------


def _sim():
    from app.telephony.softphone import get_simulator, simulator_active

    if not simulator_active():
        abort(404)  # with Twilio configured or in production there is no simulator
    return get_simulator()


def _my_leg() -> str:
    sid = _session_call().get("sid")
    if not sid:
        abort(404)
    return str(sid)


@bp.post("/call/sim/dial")
@limiter.limit(_call_limit)
def call_sim_dial():
    """Place this session's call through the simulator, as the Voice SDK would: from
    ``client:<identity>`` to the TwiML App, with the page's params (the server trusts only the
    call request behind the identity)."""
    sim = _sim()
    mine = _session_call()
    identity = mine.get("identity")
    if not identity or mine.get("sid"):
        return error_response(409, "no_call_request", _("Press the call button again to start a new call."))
    payload = request.get_json(silent=True) or {}
    params = {k: str(payload.get(k) or "") for k in ("language", "topic")}
    leg = simulator_worker.place_call(sim, str(identity), params)
    session[CALL_SESSION] = {"identity": identity, "sid": leg.sid}
    return jsonify(simulator_worker.view(sim, leg.sid))


@bp.post("/call/sim/key")
@limiter.limit(_call_limit)
def call_sim_key():
    sid = _my_leg()
    payload = request.get_json(silent=True) or {}
    try:
        heard = simulator_worker.press(_sim(), sid, str(payload.get("key") or ""))
    except ValueError:
        return error_response(400, "invalid_key", _("Use the keys 0–9, * and #."))
    return jsonify(accepted=heard)


@bp.post("/call/sim/hangup")
@limiter.limit(_call_limit)
def call_sim_hangup():
    simulator_worker.hang_up(_sim(), _my_leg())
    return jsonify(ended=True)


# --- call me back -------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=STATUS_LINK_SALT)


def status_token(callback_id: int) -> str:
    return str(_serializer().dumps(callback_id))


def _callback_for(token: str) -> CallbackRequest:
    try:
        callback_id = _serializer().loads(token, max_age=STATUS_LINK_MAX_AGE)
    except BadSignature:
        abort(404)
    callback = db.session.get(CallbackRequest, int(callback_id))
    if callback is None:
        abort(404)
    return callback


def _callback_limit() -> str:
    return str(current_app.config["CALLBACK_RATE_LIMIT"])


def _callback_form_context(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "topics": _topics(),
        "languages": LANGUAGES,
        "countries": _countries(),
    }


CALLBACK_FIELDS = ("country", "number", "language", "topic", "kpj", "window_start", "window_end")


@bp.route("/call/back", methods=["GET", "POST"])
@limiter.limit(_callback_limit, methods=["POST"])
def callback_new():
    if request.method == "GET":
        values = {"language": _locale(), "topic": request.args.get("topic", "")}
        return render_template("portal/callback_new.html", **_callback_form_context(values, {}))
    values = {name: (request.form.get(name) or "").strip() for name in CALLBACK_FIELDS}
    form = worker_calls.CallbackForm(**values)
    try:
        callback = worker_calls.request_from_portal(form, request.remote_addr)
    except CallbackRefused as exc:
        db.session.rollback()
        errors = _refusal_fields(exc)
        if "phone" in errors:
            errors["number"] = errors.pop("phone")
        if "preferred_window" in errors:
            errors["window_start"] = errors.pop("preferred_window")
        status = 429 if exc.status == 429 else 422
        return render_template("portal/callback_new.html", **_callback_form_context(values, errors)), status
    db.session.commit()
    return redirect(url_for("portal.callback_status", token=status_token(callback.id)))


@bp.get("/call/back/<token>")
def callback_status(token: str):
    callback = _callback_for(token)
    view = worker_calls.callback_view(callback, _locale())
    return render_template(
        "portal/callback_status.html",
        view=view,
        token=token,
        phase_label=PHASES[view["phase"]],
        phases=PHASES,
        simulated=softphone_provider() == "simulator",
    )


@bp.get("/call/back/<token>/state")
@limiter.limit(_call_limit)
def callback_state(token: str):
    """The status page's live part: the phase, and (simulator) whether her phone is ringing."""
    callback = _callback_for(token)
    body: dict[str, Any] = {}
    if softphone_provider() == "simulator":
        leg = simulator_worker.ringing_leg(_sim(), callback.id)
        if leg is not None:
            body["leg"] = simulator_worker.view(_sim(), leg.sid)
        db.session.expire_all()
    view = worker_calls.callback_view(callback, _locale())
    if body.get("leg") and body["leg"]["connected"]:
        view["phase"] = "connected"
    body.update(phase=view["phase"], label=str(PHASES[view["phase"]]))
    return jsonify(body)


@bp.post("/call/back/<token>/cancel")
@limiter.limit(_callback_limit)
def callback_cancel(token: str) -> Response:
    callback = _callback_for(token)
    try:
        worker_calls.cancel_callback(callback.id)
    except worker_calls.NotCancellable:
        db.session.rollback()
        flash(
            _("This call-back can no longer be cancelled: we are calling you or the call is over."), "error"
        )
        return redirect(url_for("portal.callback_status", token=token))
    db.session.commit()
    flash(_("Your call-back request is cancelled. We will not call you."), "info")
    return redirect(url_for("portal.callback_status", token=token))


@bp.post("/call/back/<token>/answer")
@limiter.limit(_call_limit)
def callback_answer(token: str):
    """Simulator: she answers the (simulated) phone the app is ringing."""
    callback = _callback_for(token)
    sim = _sim()
    leg = simulator_worker.ringing_leg(sim, callback.id)
    if leg is None:
        return error_response(409, "not_ringing", _("Your phone is not ringing any more."))
    try:
        simulator_worker.answer(sim, leg.sid)
    except SimulatorError:
        return error_response(409, "not_ringing", _("Your phone is not ringing any more."))
    return jsonify(simulator_worker.view(sim, leg.sid))


@bp.post("/call/back/<token>/hangup")
@limiter.limit(_call_limit)
def callback_hangup(token: str):
    callback = _callback_for(token)
    sim = _sim()
    leg = simulator_worker.ringing_leg(sim, callback.id)
    if leg is None:
        abort(404)
    simulator_worker.hang_up(sim, leg.sid)
    return jsonify(ended=True)
