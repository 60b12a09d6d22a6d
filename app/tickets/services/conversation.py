"""Conversations on the worker's phone: WhatsApp and SMS as two-way channels.

A message she sends (the telephony edge hands it over as an :class:`IncomingMessage`, already
stored) becomes a public reply on her case on that channel and number, within the reuse period
(``TICKETS_REUSE_DAYS``; a case resolved within ``TICKETS_REOPEN_DAYS`` reopens), or the reply
on the open case whose message she is answering (a portal complaint's SMS), or a new case
matched to the member by her number and a KPJ or NIK written in the text, answered at once with
its reference, the service hours and the short commands:

* ``STATUS`` — the status of her case; ``AGEN``/``AGENT`` — a call-back (the edge places it);
* ``STOP`` (and Twilio's other opt-out words, ``BERHENTI``) — no more messages to this number,
  recorded and honoured by every message job until ``START``/``MULAI``;
* ``MENU``/``BANTUAN``/``HELP`` — the commands again.

Her last message opens WhatsApp's customer-service window (``WHATSAPP_WINDOW_HOURS``, 24):
inside it the agents' answers go out as written, outside it only an approved template
(:class:`~app.tickets.models.MessageTemplate`) may be sent, and without one the answer goes by
SMS. :func:`reply_route` says which before the agent sends; the message job decides again when
it sends. Notifications go to her preferred channel (:func:`worker_channel`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from app.core.i18n import LANGUAGES
from app.core.phone import PhoneError, parse_phone
from app.extensions import db
from app.records.identifiers import IdentifierError, normalize_nik
from app.records.models import Member
from app.tickets import attachments
from app.tickets.models import OPEN_STATUSES, MessagingContact, Notification, Ticket, TicketEvent
from app.tickets.phone_search import normal_phone
from app.tickets.schemas import subject_for
from app.tickets.services.contacts import (
    contact_for,
    contacts_of,
    opted_out_at,
    phone_hash,
    touch_contact,
)
from app.tickets.services.lifecycle import requester_reply
from app.tickets.services.notify import notify, notify_contact
from app.tickets.services.opening import open_ticket
from app.tickets.services.timeline import add_event, effective, get_ticket
from app.tickets.settings import reopen_days, reuse_days
from app.tickets.titles import call_title

# One word, any case, punctuation ignored → (command, the language the word is in, if any).
COMMANDS: dict[str, tuple[str, str | None]] = {
    # Twilio's standard opt-out words (it honours them itself on SMS) and the Indonesian one.
    "STOP": ("opt_out", None),
    "STOPALL": ("opt_out", None),
    "UNSUBSCRIBE": ("opt_out", "en"),
    "CANCEL": ("opt_out", "en"),
    "END": ("opt_out", "en"),
    "QUIT": ("opt_out", "en"),
    "BERHENTI": ("opt_out", "id"),
    "START": ("opt_in", None),
    "UNSTOP": ("opt_in", "en"),
    "MULAI": ("opt_in", "id"),
    "STATUS": ("status", None),
    "AGEN": ("agent", "id"),
    "AGENT": ("agent", "en"),
    "MENU": ("menu", None),
    "BANTUAN": ("menu", "id"),
    "HELP": ("menu", "en"),
}
_NOT_LETTERS = re.compile(r"[\W_]+")
# An 11-digit KPJ or a 16-digit NIK written in the text (digits may be grouped by spaces, dots or
# dashes); a run that starts with 0 or + is a phone number, not a KPJ.
_DIGIT_RUN = re.compile(r"(?<![\d+])(\d(?:[ .\-]?\d){10,15})(?!\d)")


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a worker's phone, as the edge stored it."""

    channel: str  # whatsapp / sms
    phone: str  # E.164
    body: str
    message_id: str  # the provider's id (MessageSid)
    at: datetime
    media_count: int = 0
    profile_name: str | None = None
    replaced_characters: int = 0


@dataclass(frozen=True)
class Received:
    """What became of a message: ``outcome`` is message (on her case), new_ticket, agent
    (she asks to be called: the edge places the call-back), status, menu, opted_out, opted_in."""

    outcome: str
    ticket_id: int | None
    event_id: int | None
    language: str


def command_of(body: str | None) -> tuple[str, str | None] | None:
    """The command a message is (one word such as "Stop." or "agen"), or None."""
    word = _NOT_LETTERS.sub("", body or "").upper()
    return COMMANDS.get(word) if 0 < len(word) <= 12 else None


def identifiers_in(text: str | None) -> dict[str, str]:
    """A KPJ (11 digits) and/or a NIK (16 digits, a possible one) written in the text."""
    found: dict[str, str] = {}
    for match in _DIGIT_RUN.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group(1))
        if len(digits) == 11 and not digits.startswith("0") and "kpj" not in found:
            found["kpj"] = digits
        elif len(digits) == 16 and "nik" not in found:
            try:
                found["nik"] = normalize_nik(digits).value
            except IdentifierError:
                continue
    return found


# --- a message comes in -------------------------------------------------------------------------


def conversation_ticket(channel: str, phone: str, now: datetime) -> Ticket | None:
    """The case a message from ``phone`` on ``channel`` continues: her latest case on this
    channel and number that is open and active within the reuse period, or resolved within the
    reopen period; else the open case it was merged into; else the open case we last wrote to
    her about on this channel (she answers our message: a portal complaint's SMS)."""
    digest = phone_hash(phone)
    recent = now - timedelta(days=reuse_days())
    reopenable = now - timedelta(days=reopen_days())
    ticket = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.requester_phone_hash == digest,
            Ticket.channel == channel,
            Ticket.merged_into_id.is_(None),
            or_(
                and_(Ticket.status.in_(OPEN_STATUSES), Ticket.updated_at >= recent),
                and_(Ticket.status == "resolved", Ticket.resolved_at >= reopenable),
            ),
        )
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(1)
    ).first()
    if ticket is not None:
        return ticket
    # Her conversation was merged into another case (closed as merged just now, or since):
    # the case that carries it now takes her message, while it is open.
    merged = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.requester_phone_hash == digest,
            Ticket.channel == channel,
            Ticket.merged_into_id.is_not(None),
            Ticket.updated_at >= recent,
        )
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(1)
    ).first()
    if merged is not None:
        target = effective(merged)
        if target.status in OPEN_STATUSES:
            return target
    return db.session.scalars(
        select(Ticket)
        .join(Notification, Notification.ticket_id == Ticket.id)
        .where(
            Ticket.requester_phone_hash == digest,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.merged_into_id.is_(None),
            Notification.channel == channel,
            Notification.status == "sent",
            Notification.created_at >= recent,
        )
        .order_by(Notification.id.desc())
        .limit(1)
    ).first()


def receive_message(message: IncomingMessage) -> Received:
    """Put one stored message where it belongs (see the module's docstring). The caller
    commits; answers to her are outbox intents, so nothing here talks to a provider."""
    phone = normal_phone(message.phone) or message.phone
    contact = touch_contact(message.channel, phone, message.at)
    command = command_of(message.body) if not message.media_count else None
    kind, word_language = command if command else (None, None)
    if word_language:
        contact.language = word_language
    ticket = conversation_ticket(message.channel, phone, message.at)
    # Her case's language when she has one; else the language of her command word, or of her
    # last one, or Bahasa Indonesia.
    language = (ticket.language if ticket else None) or word_language or contact.language or "id"
    suffix = message.message_id
    if kind == "opt_out":
        return _opt_out(message, phone, ticket, language)
    if kind == "opt_in":
        return _opt_in(message, phone, ticket, language)
    if kind in ("status", "menu"):
        answer = "status" if kind == "status" and ticket is not None else kind
        if kind == "status" and ticket is None:
            answer = "status_none"
        _answer(contact, ticket, answer, suffix)
        return Received(kind, ticket.id if ticket else None, None, language)
    data: dict[str, Any] = {"channel": message.channel, "message_id": message.message_id}
    if message.media_count:
        data["media"] = message.media_count
    if message.replaced_characters:
        data["replaced_characters"] = message.replaced_characters
    if ticket is not None:
        event = requester_reply(ticket, message.body, now=message.at, data=data, allow_empty=bool(message.media_count))
        outcome = "agent" if kind == "agent" else "message"
        return Received(outcome, event.ticket_id, event.id, ticket.language)
    ticket, created = _open(message, phone, language, data)
    if kind == "agent":
        return Received("agent", ticket.id, created, ticket.language)  # the call-back confirms it
    if opted_out_at(phone) is None:
        notify(ticket, "first_reply", key_suffix=suffix, channel=message.channel)
    return Received("new_ticket", ticket.id, created, ticket.language)


def _open(message: IncomingMessage, phone: str, language: str, data: dict[str, Any]) -> tuple[Ticket, int | None]:
    """A new case from her first message: matched by her number and the identifiers she wrote
    (KPJ/NIK → exact, her number → probable), as the portal matches a complaint."""
    try:
        country = parse_phone(phone).country
    except PhoneError:
        country = None
    found = identifiers_in(message.body)
    text = (message.body or "").strip()
    ticket = open_ticket(
        channel=message.channel,
        category="other",
        subject=subject_for(text) if text else call_title(message.channel, "other", country),
        description=text,
        language=language if language in LANGUAGES else "id",
        country=country,
        requester_name=(message.profile_name or "").strip()[:200] or None,
        requester_phone=phone,
        requester_kpj=found.get("kpj"),
        requester_nik=found.get("nik"),
    )
    if ticket.member_id is not None:
        member = db.session.get(Member, ticket.member_id)
        preferred = member.preferred_language if member is not None else None
        if preferred in LANGUAGES and command_of(message.body) is None:
            ticket.language = str(preferred)
    created = db.session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "created")
    )
    if created is None:
        return ticket, None
    created.data = {**created.data, **data}  # written in this transaction: the message beside it
    return ticket, created.id


def _answer(contact: MessagingContact, ticket: Ticket | None, kind: str, suffix: str) -> None:
    """An automatic answer on the channel she wrote on (on her case when she has one)."""
    if ticket is not None:
        notify(ticket, kind, key_suffix=suffix, channel=contact.channel)
    else:
        notify_contact(contact, kind, key_suffix=suffix)


def _opt_out(message: IncomingMessage, phone: str, ticket: Ticket | None, language: str) -> Received:
    """STOP: nothing more goes to this number, on either channel, until START. Recorded on her
    number and on her case; on WhatsApp one confirmation is sent (Twilio answers STOP by SMS
    itself, and refuses anything we send after it)."""
    contact = contact_for(message.channel, phone)
    assert contact is not None
    for each in contacts_of(phone):
        if each.opted_out_at is None or message.at > each.opted_out_at:
            each.opted_out_at = message.at
    if language:
        contact.language = language
    event_id = None
    if ticket is not None:
        event_id = add_event(ticket, "opted_out", {"channel": message.channel}, by_requester=True).id
    if message.channel == "whatsapp":
        _answer(contact, ticket, "opted_out", message.message_id)
    return Received("opted_out", ticket.id if ticket else None, event_id, language)


def _opt_in(message: IncomingMessage, phone: str, ticket: Ticket | None, language: str) -> Received:
    contact = contact_for(message.channel, phone)
    assert contact is not None
    was_out = opted_out_at(phone) is not None
    for each in contacts_of(phone):
        if each.opted_out_at is not None and message.at >= each.opted_out_at:
            each.opted_out_at = None
            each.opted_in_at = message.at
    event_id = None
    if ticket is not None and was_out:
        event_id = add_event(ticket, "opted_in", {"channel": message.channel}, by_requester=True).id
    _answer(contact, ticket, "opted_in", message.message_id)
    return Received("opted_in", ticket.id if ticket else None, event_id, language)


# --- the files she sent --------------------------------------------------------------------------

# The answer she gets when files of her message could not be kept, worst reason first.
REFUSAL_ANSWERS = (("too_large", "media_too_large"), ("unsupported", "media_unsupported"), ("failed", "media_failed"))


def store_message_media(
    *,
    ticket_id: int,
    event_id: int | None,
    channel: str,
    key_suffix: str,
    files: list[tuple[str, str, bytes]],
    refusals: list[dict[str, Any]],
) -> dict[str, int]:
    """The files of one message onto her case: each kept when its bytes are an image, a PDF or
    a voice note (an ``attachment`` entry beside her message), else refused like the files the
    edge did not download (too large, announced as another type, gone): each refusal is on the
    timeline for staff, and she gets one polite answer in her language saying what to send."""
    ticket = effective(get_ticket(ticket_id))
    event = db.session.get(TicketEvent, event_id) if event_id else None
    refused = list(refusals)
    stored = []
    for name, declared, data in files:
        kind = attachments.sniff(data, audio=True)
        if kind is None:
            refused.append({"reason": "unsupported", "content_type": declared, "size": len(data)})
            continue
        upload = attachments.Upload(f"{name}.{attachments.EXTENSIONS.get(kind, 'bin')}", kind, data)
        try:
            stored.append(attachments.store(ticket.id, upload, event_id=event.id if event else None))
        except OSError:
            refused.append({"reason": "failed", "content_type": kind, "size": len(data)})
    if stored:
        db.session.flush()
        add_event(
            ticket,
            "attachment",
            {"attachment_ids": [a.id for a in stored], "files": [a.original_filename for a in stored]},
            public=True,
            by_requester=True,
        )
    for refusal in refused:
        add_event(ticket, "media_refused", {**refusal, "channel": channel}, by_requester=True)
    reasons = {r.get("reason") for r in refused}
    answer = next((kind for reason, kind in REFUSAL_ANSWERS if reason in reasons), None)
    if answer is not None:
        notify(ticket, answer, key_suffix=key_suffix, channel=channel)
    return {"stored": len(stored), "refused": len(refused)}
