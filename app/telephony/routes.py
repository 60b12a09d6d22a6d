"""Twilio's voice webhooks (signature-checked, CSRF-exempt): the IVR, the queue, status callbacks,
conferences, recordings and the fallback URL. The browser legs are in
:mod:`app.telephony.client_routes`, the messaging webhooks in :mod:`app.telephony.messaging_routes`.

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
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Response, jsonify, request
from sqlalchemy.exc import OperationalError

from app.core.errors import database_failure
from app.extensions import db
from app.telephony import answers, conference, openapi, selfservice, services, twiml, voicemail
from app.telephony.blueprint import bp
from app.telephony.models import TERMINAL_STATUSES, Call, callback_conference
from app.telephony.prompts import language_or_default
from app.telephony.signature import twilio_signed

log = logging.getLogger(__name__)


@bp.post("/voice/inbound")
@twilio_signed
def voice_inbound() -> Response:
    services.start_call(answers.webhook_form(), "inbound")
    return answers.answer(twiml.language_menu())


@bp.post("/voice/language")
@twilio_signed
def voice_language() -> Response:
    call = services.choose_language(answers.webhook_form())
    return answers.answer(twiml.kpj_menu(call.language))


@bp.post("/voice/kpj")
@twilio_signed
def voice_kpj() -> Response:
    call, found = services.enter_kpj(answers.webhook_form())
    prefix = {True: "kpj_found", False: "kpj_not_found", None: None}[found]
    if call.direction == "browser" and call.topic:
        # A browser caller chose her topic on the page: no topic menu, straight on to the queue.
        return answers.answer(answers.browser_queue(call, (prefix,) if prefix else ()))
    return answers.answer(twiml.topic_menu(call.language, prefix, self_service=bool(found) and selfservice.offered(call)))


@bp.post("/voice/topic")
@twilio_signed
def voice_topic() -> Response:
    form = answers.webhook_form()
    call = services.require_call(form)
    if selfservice.chosen(call, form):
        return answers.answer(_self_service(call, selfservice.start(call)))
    call = services.choose_topic(form, call)
    return answers.answer(_to_agent(call))


def _to_agent(call: Call, prefix: tuple[str, ...] = ()) -> Any:
    """After the topic is known: voicemail outside hours, the recording notice, or the queue."""
    if call.exit_reason == "closed":
        return twiml.voicemail(call.language, prefix=[*prefix, "closed"])
    if services.needs_consent(call):
        return twiml.consent(call.language, answers.consent_url(call.language), greeting=prefix)
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
    call, step = selfservice.enter_birth_date(answers.webhook_form(), _count_arg("attempt", 1), _count_arg("again", 0))
    return answers.answer(_self_service(call, step))


@bp.post("/voice/self-service/menu")
@twilio_signed
def voice_self_service_menu() -> Response:
    """Self-service: the key after her claim status (1 again, 2 SMS, 0 an agent)."""
    call, step = selfservice.choose(answers.webhook_form(), _count_arg("again", 0))
    return answers.answer(_self_service(call, step))


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
    call = services.give_consent(answers.webhook_form())
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
        return answers.answer(document)
    if call.status in TERMINAL_STATUSES:
        return answers.answer(twiml.empty())
    services.queue_call(call)
    return answers.answer(twiml.enqueue(call.language, call.topic, prefix=greeting))


@bp.post("/voice/wait")
@twilio_signed
def voice_wait() -> Response:
    call, position, estimate, too_long = services.wait_state(answers.webhook_form())
    if too_long:
        return answers.answer(twiml.leave())
    offer = call.exit_reason is None and services.callback_possible(call)
    return answers.answer(twiml.hold(call.language, position, estimate, offer_callback=offer))


@bp.post("/voice/wait-key")
@twilio_signed
def voice_wait_key() -> Response:
    form = answers.webhook_form()
    if services.request_callback_from_queue(form):
        return answers.answer(twiml.leave())
    call, position, estimate, _too_long = services.wait_state(form)
    return answers.answer(twiml.hold(call.language, position, estimate, offer_callback=False))


@bp.post("/voice/queue-exit")
@twilio_signed
def voice_queue_exit() -> Response:
    form = answers.webhook_form()
    outcome = services.queue_exit(form)
    call = services.require_call(form)
    if outcome == "callback":
        return answers.answer(twiml.goodbye(call.language, "callback_confirmed"))
    if outcome == "voicemail":
        return answers.answer(twiml.voicemail(call.language, prefix=["long_wait"]))
    item = services.connected_item(call) if outcome == "conference" else None
    if item is not None:
        return answers.answer(_caller_conference(call, item))
    return answers.answer(twiml.empty())


@bp.post("/voice/voicemail-done")
@twilio_signed
def voice_voicemail_done() -> Response:
    call = voicemail.voicemail_left(answers.webhook_form())
    return answers.answer(twiml.goodbye(call.language, "voicemail_thanks"))


@bp.post("/voice/recording")
@twilio_signed(requires="RecordingSid")
def voice_recording() -> Response:
    """Recording status: a voicemail's, or (``?call=<id>``) a recorded agent call's."""
    raw = request.args.get("call", "")
    voicemail.recording_status(answers.webhook_form(), call_id=int(raw) if raw.isdigit() else None)
    db.session.commit()
    return Response(status=204)


@bp.post("/voice/status")
@twilio_signed
def voice_status() -> Response:
    services.apply_status(answers.webhook_form())
    db.session.commit()
    return Response(status=204)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI description of the URLs Twilio calls (:mod:`app.telephony.openapi`)."""
    return jsonify(openapi.document())


@bp.post("/voice/conference")
@twilio_signed(requires="ConferenceSid")
def voice_conference() -> Response:
    """Conference status callbacks (start, end, join, leave): the agent's leg joining and leaving."""
    conference.conference_event(answers.webhook_form())
    db.session.commit()
    return Response(status=204)


@bp.post("/voice/after-conference")
@twilio_signed
def voice_after_conference() -> Response:
    """The caller's conference ended: back to the queue after a transfer, else goodbye."""
    form = answers.webhook_form()
    call = services.require_call(form)
    outcome, item = conference.after_conference(form, request.args.get("conference"))
    if outcome == "queue":
        return answers.answer(twiml.enqueue(call.language, call.topic, prefix=("transferring",)))
    if outcome == "conference":
        return answers.answer(_caller_conference(call, item))
    return answers.answer(twiml.goodbye(call.language))


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
        request.path, request.form.get("CallSid"), database_failure(exc),
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
        voicemail.voicemail_left(answers.webhook_form())
        db.session.commit()
    except Exception:  # noqa: BLE001 - the database may still be down: the caller hears thanks anyway
        db.session.rollback()
        log.exception(
            "fallback voicemail not recorded in the database (recording %s)", request.form.get("RecordingSid")
        )
    return twiml.xml(twiml.goodbye(language, "voicemail_thanks"))


