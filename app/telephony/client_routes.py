"""The TwiML App's voice URL (``/telephony/voice/client``, stable): the browser legs, each by
the identity its voice token was issued for (a worker's Click-to-Call, an agent's softphone, a
supervisor joining a call), and the answered leg of a call-back (``/voice/callback-answer``).
Nothing is ever dialled to a number the client supplies."""

from __future__ import annotations

import logging
import re

from flask import Response, request
from sqlalchemy import select

from app.core.inputs import MAX_ID
from app.extensions import db
from app.telephony import answers, calllog, services, twiml
from app.telephony.blueprint import bp
from app.telephony.models import TERMINAL_STATUSES, Call, CallbackRequest, CallRequest, callback_conference
from app.telephony.signature import twilio_signed

log = logging.getLogger(__name__)

AGENT_IDENTITY = re.compile(r"^client:agent:(\d+)$")
SUPERVISOR_IDENTITY = re.compile(r"^client:supervisor:(\d{1,12})$")
WORKER_IDENTITY = re.compile(r"^client:(worker:[0-9a-f]{32})$")


@bp.post("/voice/client")
@twilio_signed
def voice_client() -> Response:
    """TwiML App voice URL. Only identities we issued get anywhere; nothing is ever dialled to a
    number the client supplies (``To`` is ignored)."""
    form = answers.webhook_form()
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
        return answers.answer(twiml.kpj_menu(call.language))
    return answers.answer(answers.browser_queue(call))


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
        return answers.answer(
            twiml.conference(name, language=None, agent=True, record_callback=record, agent_id=agent_id)
        )
    # A call-back's conference starts with the worker, once they have answered (and heard the
    # recording notice): the agent waits in it meanwhile.
    document = twiml.conference(
        callback_conference(item.ref_id), language=None, agent=True, starts=False, agent_id=agent_id
    )
    return answers.answer(document)


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
    return answers.answer(twiml.supervisor_conference(leg.conference, label=leg.label, muted=leg.muted, coach=leg.coach))


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
        action = answers.consent_url(callback.language, callback.id)
        return answers.answer(twiml.consent(callback.language, action, greeting=("callback_greeting",)))
    document = twiml.conference(
        callback_conference(callback.id),
        language=callback.language,
        agent=False,
        greeting=("callback_greeting", "connecting"),
        starts=True,
    )
    return answers.answer(document)

