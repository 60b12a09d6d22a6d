"""Twilio Messaging webhooks (stable URLs): ``/telephony/messaging/inbound`` (WhatsApp and SMS
from workers) and ``/telephony/messaging/status`` (delivery reports of what we sent)."""

from __future__ import annotations

import logging

from flask import Response, abort, request

from app.core.inputs import nul_bytes_handled
from app.extensions import db
from app.telephony import inbound_messages, message_status
from app.telephony.blueprint import bp
from app.telephony.signature import twilio_signed

log = logging.getLogger(__name__)


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
