"""Twilio webhooks (signature-checked, CSRF-exempt) and the telephony simulator.

Routes are thin: check the signature, hand the form to :mod:`app.telephony.services`, commit
once, answer with TwiML from :mod:`app.telephony.twiml`. Stable URLs (SPEC §4):
``/telephony/voice/inbound``, ``/client``, ``/status``, ``/fallback``, and
``/telephony/messaging/inbound`` (WhatsApp and SMS from workers) and
``/telephony/messaging/status`` (delivery reports); the others (among them the IVR
self-service's ``/voice/self-service/birth-date`` and ``/voice/self-service/menu``) are followed
from our own TwiML or REST requests.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Response, abort, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.core.inputs import MAX_ID, nul_bytes_handled
from app.extensions import db
from app.telephony import (
    calllog,
    conference,
    inbound_messages,
    message_status,
    openapi,
    selfservice,
    services,
    twiml,
    voicemail,
)
from app.telephony.blueprint import bp
from app.telephony.models import TERMINAL_STATUSES, Call, CallbackRequest, CallRequest, callback_conference
from app.telephony.prompts import language_or_default
from app.telephony.signature import twilio_signed

log = logging.getLogger(__name__)


AGENT_IDENTITY = re.compile(r"^client:agent:(\d+)$")
SUPERVISOR_IDENTITY = re.compile(r"^client:supervisor:(\d{1,12})$")
WORKER_IDENTITY = re.compile(r"^client:(worker:[0-9a-f]{32})$")


def _form() -> dict[str, str]:
    values = request.form.to_dict()
    if "lang" in request.args:
        values["lang"] = request.args["lang"]
    return values


def _answer(document: Any) -> Response:
    db.session.commit()
    return twiml.xml(document)


@bp.post("/voice/inbound")
@twilio_signed
def voice_inbound() -> Response:
    services.start_call(_form(), "inbound")
    return _answer(twiml.language_menu())


@bp.post("/voice/language")
@twilio_signed
def voice_language() -> Response:
    call = services.choose_language(_form())
    return _answer(twiml.kpj_menu(call.language))


@bp.post("/voice/kpj")
@twilio_signed
def voice_kpj() -> Response:
    call, found = services.enter_kpj(_form())
    prefix = {True: "kpj_found", False: "kpj_not_found", None: None}[found]
    if call.direction == "browser" and call.topic:
        # A browser caller chose her topic on the page: no topic menu, straight on to the queue.
        return _answer(_browser_queue(call, (prefix,) if prefix else ()))
    return _answer(twiml.topic_menu(call.language, prefix, self_service=bool(found) and selfservice.offered(call)))


@bp.post("/voice/topic")
@twilio_signed
def voice_topic() -> Response:
    form = _form()
    call = services.require_call(form)
    if selfservice.chosen(call, form):
        return _answer(_self_service(call, selfservice.start(call)))
    call = services.choose_topic(form)
    return _answer(_to_agent(call))


def _to_agent(call: Call, prefix: tuple[str, ...] = ()) -> Any:
    """After the topic is known: voicemail outside hours, the recording notice, or the queue."""
    if call.exit_reason == "closed":
        return twiml.voicemail(call.language, prefix=[*prefix, "closed"])
    if services.needs_consent(call):
        return twiml.consent(call.language, _consent_url(call.language), greeting=prefix)
    return twiml.enqueue(call.language, call.topic, prefix=prefix)


def _count_arg(name: str, default: int) -> int:
    """A counter our own URLs carry (self-service tries); anything else reads as the default."""
    raw = request.args.get(name, "")
    return min(int(raw), 99) if raw.isdigit() and len(raw) <= 2 else default


def _self_service(call: Call, step: selfservice.Step) -> Any:
    """A self-service step as TwiML (see :class:`app.telephony.selfservice.Step`)."""
    language = call.language
    if step.action == "birth_date":
        return twiml.birth_date(language, attempt=step.attempt, again=step.again, prefix=step.prefix)
    if step.action in ("statuses", "menu"):
        return twiml.claim_statuses(
            language, step.sentences, prefix=step.prefix, repeat=step.repeat, sms=step.sms, again=step.again
        )
    if step.action == "agent":
        if call.status in TERMINAL_STATUSES:
            return twiml.empty()
        return _to_agent(call, step.prefix)
    if step.action == "goodbye":
        return twiml.goodbye(language)
    if step.action == "end":
        return twiml.empty()
    return twiml.topic_menu(language)


@bp.post("/voice/self-service/birth-date")
@twilio_signed
def voice_self_service_birth_date() -> Response:
    """Self-service: the caller's birth date (DDMMYYYY) for her claim status."""
    call, step = selfservice.enter_birth_date(_form(), _count_arg("attempt", 1), _count_arg("again", 0))
    return _answer(_self_service(call, step))


@bp.post("/voice/self-service/menu")
@twilio_signed
def voice_self_service_menu() -> Response:
    """Self-service: the key after her claim status (1 again, 2 SMS, 0 an agent)."""
    call, step = selfservice.choose(_form(), _count_arg("again", 0))
    return _answer(_self_service(call, step))


def _consent_url(language: str, callback_id: int | None = None) -> str:
    values: dict[str, Any] = {"lang": language_or_default(language)}
    if callback_id is not None:
        values["callback"] = callback_id
    return url_for("telephony.voice_consent", **values)


def _caller_conference(call: Call, item: Any) -> Any:
    """The caller's leg into the conference of the agent who accepted (recorded if agreed)."""
    record = twiml.recording_callback(call.id) if services.should_record(call) else None
    return twiml.conference(
        call.conference_name(item.id, item.offers), language=call.language, agent=False, record_callback=record
    )


@bp.post("/voice/consent")
@twilio_signed
def voice_consent() -> Response:
    """The answer to the recording notice; then the queue (calls) or the agent (call-backs)."""
    call = services.give_consent(_form())
    greeting: tuple[str, ...] = ("recording_declined",) if call.record_consent == "declined" else ()
    if call.callback_id is not None:
        record = twiml.recording_callback(call.id) if services.should_record(call) else None
        document = twiml.conference(
            callback_conference(call.callback_id),
            language=call.language,
            agent=False,
            greeting=(*greeting, "connecting"),
            starts=True,
            record_callback=record,
        )
        return _answer(document)
    if call.status in TERMINAL_STATUSES:
        return _answer(twiml.empty())
    services.queue_call(call)
    return _answer(twiml.enqueue(call.language, call.topic, prefix=greeting))


@bp.post("/voice/wait")
@twilio_signed
def voice_wait() -> Response:
    call, position, estimate, too_long = services.wait_state(_form())
    if too_long:
        return _answer(twiml.leave())
    offer = call.exit_reason is None and services.callback_possible(call)
    return _answer(twiml.hold(call.language, position, estimate, offer_callback=offer))


@bp.post("/voice/wait-key")
@twilio_signed
def voice_wait_key() -> Response:
    form = _form()
    if services.request_callback_from_queue(form):
        return _answer(twiml.leave())
    call, position, estimate, _too_long = services.wait_state(form)
    return _answer(twiml.hold(call.language, position, estimate, offer_callback=False))


@bp.post("/voice/queue-exit")
@twilio_signed
def voice_queue_exit() -> Response:
    form = _form()
    outcome = services.queue_exit(form)
    call = services.require_call(form)
    if outcome == "callback":
        return _answer(twiml.goodbye(call.language, "callback_confirmed"))
    if outcome == "voicemail":
        return _answer(twiml.voicemail(call.language, prefix=["long_wait"]))
    item = services.connected_item(call) if outcome == "conference" else None
    if item is not None:
        return _answer(_caller_conference(call, item))
    return _answer(twiml.empty())


@bp.post("/voice/voicemail-done")
@twilio_signed
def voice_voicemail_done() -> Response:
    call = voicemail.voicemail_left(_form())
    return _answer(twiml.goodbye(call.language, "voicemail_thanks"))


@bp.post("/voice/recording")
@twilio_signed(requires="RecordingSid")
def voice_recording() -> Response:
    """Recording status: a voicemail's, or (``?call=<id>``) a recorded agent call's."""
    raw = request.args.get("call", "")
    voicemail.recording_status(_form(), call_id=int(raw) if raw.isdigit() else None)
    db.session.commit()
    return Response(status=204)


@bp.post("/voice/status")
@twilio_signed
def voice_status() -> Response:
    services.apply_status(_form())
    db.session.commit()
    return Response(status=204)


@bp.post("/messaging/status")
@twilio_signed(requires=("MessageSid", "SmsSid"))
def messaging_status() -> Response:
    """Twilio Messaging status callback (the ``StatusCallback`` our SMS are sent with): the raw
    report is committed first, then applied to the worker notification it is about."""
    try:
        sid, status = message_status.store_message_status(request.form)
    except message_status.BadWebhook:
        abort(400)
    db.session.commit()
    message_status.apply_message_status(sid, status, request.form.get("ErrorCode"))
    db.session.commit()
    return Response(status=204)


@bp.post("/messaging/inbound")
@nul_bytes_handled
@twilio_signed(requires=("MessageSid", "SmsMessageSid", "SmsSid"))
def messaging_inbound() -> Response:
    """Twilio Messaging "a message comes in" (WhatsApp senders and SMS numbers): the message is
    committed before anything is done with it, then put on her case; a redelivery adds nothing.
    Answers go through the outbox, so the TwiML is empty."""
    try:
        message = inbound_messages.parse(request.form)
    except inbound_messages.BadMessage as exc:
        log.warning("messaging webhook refused: %s", exc)
        return Response(str(exc), status=400, mimetype="text/plain")
    stored = inbound_messages.store(message)
    db.session.commit()
    if stored is not None:
        inbound_id = stored.id
        try:
            inbound_messages.process(inbound_id)
            db.session.commit()
        except Exception:  # noqa: BLE001 - the message is stored: its job processes it again
            db.session.rollback()
            log.exception("inbound message %s stored, not processed yet (its job retries)", inbound_id)
    return inbound_messages.answer()


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI description of the URLs Twilio calls (:mod:`app.telephony.openapi`)."""
    return jsonify(openapi.document())


@bp.post("/voice/conference")
@twilio_signed(requires="ConferenceSid")
def voice_conference() -> Response:
    """Conference status callbacks (start, end, join, leave): the agent's leg joining and leaving."""
    conference.conference_event(_form())
    db.session.commit()
    return Response(status=204)


@bp.post("/voice/after-conference")
@twilio_signed
def voice_after_conference() -> Response:
    """The caller's conference ended: back to the queue after a transfer, else goodbye."""
    form = _form()
    call = services.require_call(form)
    outcome, item = conference.after_conference(form, request.args.get("conference"))
    if outcome == "queue":
        return _answer(twiml.enqueue(call.language, call.topic, prefix=("transferring",)))
    if outcome == "conference":
        return _answer(_caller_conference(call, item))
    return _answer(twiml.goodbye(call.language))


def _fallback_language() -> str | None:
    """The caller's language from the URL that failed (our URLs carry ``lang``), if any."""
    if request.args.get("lang"):
        return language_or_default(request.args["lang"])
    query = parse_qs(urlsplit(request.form.get("ErrorUrl", "")).query)
    langs = query.get("lang") or []
    return language_or_default(langs[0]) if langs else None


# Voice webhooks whose answer is what the caller hears next: with the database unreachable they
# answer the fallback (apology + voicemail) themselves, as Twilio's Fallback URL would, so the
# caller is not left to Twilio's error message. Reports (status, recording, conference, SMS)
# answer 503: there is nothing to say to a caller, and the log shows what was missed.
_REPORTS = frozenset(
    {
        "telephony.voice_status",
        "telephony.voice_recording",
        "telephony.voice_conference",
        "telephony.messaging_status",
        "telephony.messaging_inbound",
    }
)


@bp.errorhandler(OperationalError)
def database_unavailable(exc: OperationalError) -> Response:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database is why we are here
        log.debug("rollback failed while the database is unavailable", exc_info=True)
    log.error(
        "database unavailable on webhook %s (CallSid %s): %s",
        request.path, request.form.get("CallSid"), type(exc.orig).__name__,
    )
    if request.endpoint in _REPORTS:
        return Response(status=503, headers={"Retry-After": "30"})
    return twiml.xml(twiml.fallback(language_or_default(request.args.get("lang")) if request.args.get("lang") else None))


@bp.post("/voice/fallback")
@twilio_signed
def voice_fallback() -> Response:
    # No database on this path: it must answer while the database is down.
    log.error("twilio fallback: %s at %s", request.form.get("ErrorCode"), request.form.get("ErrorUrl"))
    return twiml.xml(twiml.fallback(_fallback_language()))


@bp.post("/voice/fallback-done")
@twilio_signed
def voice_fallback_done() -> Response:
    language = _fallback_language() or "id"
    try:
        voicemail.voicemail_left(_form())
        db.session.commit()
    except Exception:  # noqa: BLE001 - the database may still be down: the caller hears thanks anyway
        db.session.rollback()
        log.exception(
            "fallback voicemail not recorded in the database (recording %s)", request.form.get("RecordingSid")
        )
    return twiml.xml(twiml.goodbye(language, "voicemail_thanks"))


@bp.post("/voice/client")
@twilio_signed
def voice_client() -> Response:
    """TwiML App voice URL. Only identities we issued get anywhere; nothing is ever dialled to a
    number the client supplies (``To`` is ignored)."""
    form = _form()
    caller = form.get("From") or form.get("Caller") or ""
    agent = AGENT_IDENTITY.match(caller)
    if agent:
        return _agent_leg(int(agent.group(1)), form)
    worker = WORKER_IDENTITY.match(caller)
    if worker:
        return _worker_leg(worker.group(1), form)
    supervisor = SUPERVISOR_IDENTITY.match(caller)
    if supervisor:
        return _supervisor_leg(int(supervisor.group(1)), form)
    log.warning("voice client: unknown identity refused")
    return twiml.xml(twiml.not_allowed())


def _worker_leg(identity: str, form: dict[str, str]) -> Response:
    call_request = db.session.scalar(select(CallRequest).where(CallRequest.identity == identity))
    if call_request is None or call_request.expires_at < calllog.now():
        return twiml.xml(twiml.not_allowed())
    if call_request.call_id is not None:
        existing = db.session.get(Call, call_request.call_id)
        if existing is None or existing.call_sid != form.get("CallSid"):
            return twiml.xml(twiml.not_allowed(call_request.language))  # one call per request
    call = services.start_call(
        form,
        "browser",
        language=call_request.language,
        topic=call_request.topic,
        kpj=call_request.kpj,
        member_id=call_request.member_id,
        call_request_id=call_request.id,
    )
    call_request.call_id = call.id
    if call.kpj is None and call.member_id is None:
        # As on the phone line, the KPJ is asked for by keypad (the page has one), so the agent
        # sees her membership when the call connects; "#" skips it.
        return _answer(twiml.kpj_menu(call.language))
    return _answer(_browser_queue(call))


def _browser_queue(call: Call, greeting: tuple[str, ...] = ()) -> Any:
    """A browser call whose topic is known: the recording notice if asked for, else the queue."""
    if services.needs_consent(call):
        return twiml.consent(call.language, _consent_url(call.language), greeting=greeting)
    services.queue_call(call)
    return twiml.enqueue(call.language, call.topic, prefix=greeting)


def _agent_leg(agent_id: int, form: dict[str, str]) -> Response:
    """An agent's softphone joins the conference of the work item routing gave them."""
    from app.telephony import integration
    raw_item = form.get("WorkItemId") or form.get("work_item_id") or ""
    item = integration.work_item(int(raw_item)) if raw_item.isdigit() and int(raw_item) <= MAX_ID else None
    if item is None or item.agent_id != agent_id or item.status != "connected":
        return twiml.xml(twiml.not_allowed())
    if item.kind == "call":
        call = db.session.get(Call, item.ref_id)
        if call is None or call.status in TERMINAL_STATUSES:
            return twiml.xml(twiml.not_allowed())
        services.agent_joined(call, agent_id)
        record = twiml.recording_callback(call.id) if services.should_record(call) else None
        name = call.conference_name(item.id, item.offers)
        return _answer(
            twiml.conference(name, language=None, agent=True, record_callback=record, agent_id=agent_id)
        )
    # A call-back's conference starts with the worker, once they have answered (and heard the
    # recording notice): the agent waits in it meanwhile.
    document = twiml.conference(
        callback_conference(item.ref_id), language=None, agent=True, starts=False, agent_id=agent_id
    )
    return _answer(document)


def _supervisor_leg(user_id: int, form: dict[str, str]) -> Response:
    """A supervisor's softphone joins the call they chose on the wallboard, in the mode they
    chose (``SupervisionId``): only an active account that may supervise, only its own
    supervision, only while an agent is on that call."""
    from app.core.policy import allowed
    from app.telephony import integration, supervision

    user = integration.staff(user_id) if user_id <= MAX_ID else None
    if user is None or not user.active or not allowed(user, "calls.supervise"):
        log.warning("voice client: supervisor identity %s refused", user_id)
        return twiml.xml(twiml.not_allowed())
    leg = supervision.client_leg(user_id, form.get("SupervisionId") or "", form.get("CallSid") or "")
    if leg is None:
        db.session.commit()  # a supervision found over is ended (and audited)
        return twiml.xml(twiml.not_allowed())
    return _answer(twiml.supervisor_conference(leg.conference, label=leg.label, muted=leg.muted, coach=leg.coach))


@bp.post("/voice/callback-answer")
@twilio_signed
def voice_callback_answer() -> Response:
    """The worker picked up a callback: greet them and join the agent's conference."""
    raw = request.args.get("callback", "")
    callback = db.session.get(CallbackRequest, int(raw)) if raw.isdigit() else None
    if callback is None:
        return twiml.xml(twiml.not_allowed())
    call = services.get_call(request.form.get("CallSid"))
    if call is not None and call.callback_id == callback.id and services.needs_consent(call):
        action = _consent_url(callback.language, callback.id)
        return _answer(twiml.consent(callback.language, action, greeting=("callback_greeting",)))
    document = twiml.conference(
        callback_conference(callback.id),
        language=callback.language,
        agent=False,
        greeting=("callback_greeting", "connecting"),
        starts=True,
    )
    return _answer(document)

