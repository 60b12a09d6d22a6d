"""WhatsApp and SMS messages from workers: Twilio's "a message comes in" webhook
(``/telephony/messaging/inbound``) and the job that fetches what she attached.

The order is what makes a message impossible to lose:

1. :func:`parse` reads the signed form (From ``whatsapp:+…`` or ``+…``, Body, NumMedia,
   MediaUrlN/MediaContentTypeN, ProfileName); a form without a message id or a sender is a 400.
   NUL bytes, which no database text holds, are replaced (and counted) rather than refused:
   Twilio would not send the message again.
2. :func:`store` keeps it as :class:`~app.telephony.models.InboundMessage` under its unique
   ``MessageSid`` (a redelivery adds nothing) with an outbox intent to process it, and the route
   commits both before anything else runs.
3. :func:`process` puts it on her case (``tickets`` decide, through
   :mod:`app.telephony.integration`) in the request; if that fails, the intent does it later.
   Only one of them can: the first to mark it processed wins, the other finds nothing to do.
4. Media: :func:`fetch_media` (a job) downloads each file within the size limit, and the
   tickets package checks its type by its bytes and stores it or tells her, politely and in her
   language, why not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update

from app.core.jobs import record_intent
from app.core.once import insert_once
from app.extensions import db
from app.telephony import calllog, integration
from app.telephony.models import InboundMessage
from app.telephony.provider import ProviderError
from app.telephony.providers import get_provider

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "whatsapp:"
MAX_MEDIA = 10  # Twilio sends at most 10 media with one message
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# A retry of the processing in case the request's own attempt failed (it normally has not).
PROCESS_RETRY_AFTER = timedelta(seconds=60)
MAX_BODY = 10_000  # WhatsApp's longest text is 4,096 characters; an SMS body is at most 1,600


class BadMessage(ValueError):
    """A signed webhook that is not a message we can take (answered 400)."""


@dataclass(frozen=True)
class ParsedMessage:
    sid: str
    channel: str
    phone: str
    body: str
    profile_name: str | None
    media: list[dict[str, str]]
    replaced_characters: int


def _clean(text: str) -> tuple[str, int]:
    """``text`` without the NUL bytes a database cannot hold (each becomes U+FFFD), and how many."""
    count = text.count("\x00")
    return (text.replace("\x00", "\ufffd") if count else text), count


def parse(form: Mapping[str, str]) -> ParsedMessage:
    """The message in a signed Messaging webhook, or :class:`BadMessage` saying what is wrong."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise BadMessage("MessageSid is required")
    sender = (form.get("From") or "").strip()
    channel = "sms"
    if sender.lower().startswith(CHANNEL_PREFIX):
        channel, sender = "whatsapp", sender[len(CHANNEL_PREFIX) :].strip()
    if not E164.match(sender):
        raise BadMessage("From must be a phone number in E.164 form (or whatsapp:+…)")
    raw_count = (form.get("NumMedia") or "0").strip()
    if not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
        raise BadMessage(f"NumMedia must be a number from 0 to {MAX_MEDIA}")
    media = []
    for n in range(int(raw_count)):
        url = (form.get(f"MediaUrl{n}") or "").strip()
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc:
            raise BadMessage(f"MediaUrl{n} must be an https URL")
        content_type = (form.get(f"MediaContentType{n}") or "").strip().lower()[:100]
        media.append({"url": url, "content_type": content_type})
    body, replaced = _clean(form.get("Body") or "")
    if len(body) > MAX_BODY:
        raise BadMessage(f"Body is longer than {MAX_BODY} characters")
    name, replaced_in_name = _clean((form.get("ProfileName") or "").strip()[:200])
    return ParsedMessage(sid, channel, sender, body, name or None, media, replaced + replaced_in_name)


def store(message: ParsedMessage) -> InboundMessage | None:
    """Keep the message under its ``MessageSid`` with the intent that processes it; None when it
    was stored before (a redelivered webhook). The caller commits at once."""
    row = insert_once(
        InboundMessage(
            message_sid=message.sid,
            channel=message.channel,
            from_number=message.phone,
            body=message.body,
            profile_name=message.profile_name,
            media=message.media,
            replaced_characters=message.replaced_characters,
            received_at=calllog.now(),
            media_status="pending" if message.media else None,
        ),
        unique="message_sid",
    )
    if row is None:
        return None
    record_intent(
        "app.telephony.inbound_messages.process",
        row.id,
        queue="default",
        key=f"inbound-message:{row.id}",
        run_after=calllog.now() + PROCESS_RETRY_AFTER,
    )
    return row


def process(inbound_id: int) -> str | None:
    """Put a stored message on her case; once, whoever gets here first (the request, or the job
    if the request failed). Returns the outcome, or None when it was processed already."""
    claimed = db.session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None))
        .values(processed_at=calllog.now())
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    inbound = db.session.get(InboundMessage, inbound_id)
    assert inbound is not None
    db.session.refresh(inbound)
    received = integration.message_received(
        channel=inbound.channel,
        phone=inbound.from_number or "",
        body=inbound.body or "",
        message_id=inbound.message_sid,
        at=inbound.received_at,
        media_count=len(inbound.media or []),
        profile_name=inbound.profile_name,
        replaced_characters=inbound.replaced_characters,
    )
    inbound.outcome = received.outcome
    inbound.ticket_id, inbound.event_id = received.ticket_id, received.event_id
    if received.outcome == "agent" and received.ticket_id is not None:
        _call_back(inbound, received.ticket_id, received.language)
    if inbound.media and received.ticket_id is not None:
        record_intent(
            "app.telephony.inbound_messages.fetch_media",
            inbound.id,
            queue="default",
            key=f"inbound-media:{inbound.id}",
        )
    elif inbound.media:
        inbound.media_status = "none"  # a command carries no files worth a case (STOP with a photo)
    # Her words are on her case now (erasing the case erases them); the raw copy goes.
    inbound.body = inbound.profile_name = inbound.from_number = None
    return received.outcome


def _call_back(inbound: InboundMessage, ticket_id: int, language: str) -> None:
    """AGEN/AGENT: a call-back to her number for her case, under the same rules as one asked
    for on the portal (placement countries, mobile or fixed numbers, the daily cap per number),
    confirmed on the channel she wrote on; when it cannot be, she is told so there."""
    from flask import current_app

    from app.telephony.clicktocall import CallbackRefused, create_callback, take_quota, validate_callback

    phone = inbound.from_number or ""
    try:
        values = validate_callback({"phone": phone, "language": language, "topic": "other"})
        if not take_quota(values["phone"], int(current_app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"])):
            raise CallbackRefused({"phone": "too_many_requests_for_number"}, status=429)
    except CallbackRefused as exc:
        log.info("message %s: no call-back (%s)", inbound.id, ", ".join(exc.fields.values()))
        integration.answer_message(ticket_id, "callback_refused", inbound.message_sid, inbound.channel)
        return
    callback = create_callback(
        phone=values["phone"],
        language=values["language"],
        topic=integration.ticket_category(ticket_id),
        ticket_id=ticket_id,
        timezone=values["timezone"],
        source=inbound.channel,
    )
    integration.answer_message(ticket_id, "callback", str(callback.id), inbound.channel)


@dataclass(frozen=True)
class Refusal:
    reason: str  # too_large / unsupported / failed
    content_type: str
    size: int | None


def fetch_media(inbound_id: int) -> dict[str, int]:
    """Download the files of one message (each within the size limit, of a type worth
    downloading) and hand them to her case. A provider that cannot answer now raises, before
    anything is stored, so the job's retry starts over; a file the provider refuses for good
    (gone, not allowed) is a refusal like any other."""
    inbound = db.session.get(InboundMessage, inbound_id)
    if inbound is None or inbound.media_status != "pending" or inbound.ticket_id is None:
        return {"stored": 0, "refused": 0}
    limit = integration.media_max_bytes()
    files: list[tuple[str, str, bytes]] = []
    refusals: list[Refusal] = []
    provider = get_provider()
    for n, item in enumerate(inbound.media or []):
        declared = str(item.get("content_type") or "")
        if declared and not integration.media_type_accepted(declared):
            refusals.append(Refusal("unsupported", declared, None))
            continue
        try:
            download = provider.download_media(str(item.get("url") or ""), limit)
        except ProviderError as exc:
            if not exc.permanent:
                raise
            log.warning("message %s: media %s refused by the provider: %s", inbound.id, n, exc)
            refusals.append(Refusal("failed", declared, None))
            continue
        if download.data is None:
            refusals.append(Refusal("too_large", download.content_type or declared, download.size))
            continue
        files.append((f"{inbound.channel}-{inbound.message_sid[-6:]}-{n + 1}", declared, download.data))
    counts = integration.message_media(
        ticket_id=inbound.ticket_id,
        event_id=inbound.event_id,
        channel=inbound.channel,
        key_suffix=inbound.message_sid,
        files=files,
        refusals=[r.__dict__ for r in refusals],
    )
    inbound.media_status = "done"
    return counts


def answer() -> Any:
    """What Twilio is told: nothing to send back now (answers go through the outbox)."""
    from app.telephony import twiml

    return twiml.xml(twiml.empty())
