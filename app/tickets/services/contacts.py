"""The worker's numbers on WhatsApp and SMS: who has written to us, who said STOP, whether
WhatsApp's customer-service window is open, which channel messages about her case take, and
how an agent's answer on a WhatsApp/SMS case will reach her (said before it is sent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select

from app.core.crypto import blind_index
from app.core.once import insert_once
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import MESSAGING_CHANNELS, MessageTemplate, MessagingContact, Ticket, TicketEvent
from app.tickets.phone_search import normal_phone

DEFAULT_WINDOW_HOURS = 24


@dataclass(frozen=True)
class ReplyRoute:
    """How an agent's public answer reaches the worker, said before it is sent
    (``window_closes_at``: when WhatsApp's window closes or closed).

    ``mode``: ``free`` (sent as written on ``channel``), ``template`` (WhatsApp outside the
    window: only ``template`` goes, her case page keeps the full answer), ``sms`` (WhatsApp
    outside the window without a template: the answer goes by SMS), ``opted_out`` (she sent
    STOP: nothing is sent), ``none`` (no number to write to)."""

    channel: str
    mode: str
    window_closes_at: datetime | None = None
    last_message_at: datetime | None = None
    template: MessageTemplate | None = None
    opted_out_at: datetime | None = None


def window_hours() -> int:
    if has_app_context():
        return int(current_app.config.get("WHATSAPP_WINDOW_HOURS", DEFAULT_WINDOW_HOURS))
    return DEFAULT_WINDOW_HOURS


# --- the worker's numbers ----------------------------------------------------------------------


def phone_hash(phone: str) -> str:
    """The keyed hash her number is looked up by (as on tickets and members)."""
    return blind_index("phone", normal_phone(phone) or phone) or ""


def contact_for(channel: str, phone: str | None) -> MessagingContact | None:
    if not phone:
        return None
    key = MessagingContact.key_for(channel, phone_hash(phone))
    return db.session.scalar(select(MessagingContact).where(MessagingContact.key == key))


def contacts_of(phone: str | None) -> list[MessagingContact]:
    """Her number's contacts on every messaging channel."""
    if not phone:
        return []
    return list(db.session.scalars(select(MessagingContact).where(MessagingContact.phone_hash == phone_hash(phone))))


def touch_contact(channel: str, phone: str, at: datetime) -> MessagingContact:
    """Her number on ``channel`` has just written (stored once, however many messages race in);
    the latest message time only moves forward (webhooks arrive out of order)."""
    contact = contact_for(channel, phone)
    if contact is None:
        fresh = MessagingContact(channel=channel, phone=phone, first_inbound_at=at, last_inbound_at=at)
        fresh.key = MessagingContact.key_for(channel, fresh.phone_hash)
        fresh.created_at = utcnow()
        contact = insert_once(fresh, unique="key") or contact_for(channel, phone)
        assert contact is not None
    if contact.last_inbound_at is None or at > contact.last_inbound_at:
        contact.last_inbound_at = at
    if contact.first_inbound_at is None or at < contact.first_inbound_at:
        contact.first_inbound_at = at
    return contact


def opted_out_at(phone: str | None) -> datetime | None:
    """When she sent STOP from this number (on any channel) and not START since, else None."""
    stops = [c.opted_out_at for c in contacts_of(phone) if c.opted_out_at is not None]
    return max(stops) if stops else None


def window_closes_at(phone: str | None, now: datetime | None = None) -> datetime | None:
    """When WhatsApp's customer-service window with this number closes, None if it is closed
    (or she never wrote on WhatsApp)."""
    contact = contact_for("whatsapp", phone)
    if contact is None or contact.last_inbound_at is None:
        return None
    closes = contact.last_inbound_at + timedelta(hours=window_hours())
    return closes if closes > (now or utcnow()) else None


def conversation_channel(ticket: Ticket) -> str | None:
    """The channel an agent's answer on this case goes back on as written: a WhatsApp/SMS
    case's own; else the channel of her latest message that came by WhatsApp or SMS (she
    answered our message about her portal complaint, or her conversation was merged into this
    case); None for a case she has not written to by phone."""
    if ticket.channel in MESSAGING_CHANNELS:
        return ticket.channel
    ids = [ticket.id, *db.session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket.id))]
    recent = db.session.scalars(
        select(TicketEvent.data)
        .where(
            TicketEvent.ticket_id.in_(ids),
            TicketEvent.kind == "public_reply",
            TicketEvent.by_requester.is_(True),
        )
        .order_by(TicketEvent.id.desc())
        .limit(20)
    )
    for data in recent:
        if (data or {}).get("channel") in MESSAGING_CHANNELS:
            return str(data["channel"])
    return None


def worker_channel(ticket: Ticket) -> str | None:
    """Where messages about her case go: the channel of a WhatsApp/SMS case; else WhatsApp when
    she has written to us on it, else SMS, else email. A number she stopped gets nothing."""
    phone, email = ticket.requester_phone, ticket.requester_email
    if phone and opted_out_at(phone) is None:
        conversation = conversation_channel(ticket)
        if conversation is not None:
            return conversation
        whatsapp = contact_for("whatsapp", phone)
        return "whatsapp" if whatsapp is not None and whatsapp.last_inbound_at else "sms"
    return "email" if email else None


def template_for(purpose: str, language: str) -> MessageTemplate | None:
    """The active approved template for ``purpose`` in ``language`` (else in Indonesian)."""
    found = db.session.scalars(
        select(MessageTemplate).where(
            MessageTemplate.purpose == purpose,
            MessageTemplate.active.is_(True),
            MessageTemplate.language.in_((language, "id")),
        )
    ).all()
    return next((t for t in found if t.language == language), found[0] if found else None)


def reply_route(ticket: Ticket, now: datetime | None = None) -> ReplyRoute | None:
    """How an agent's public answer on this case will go when it is a conversation on her phone
    (:func:`conversation_channel`); None for other cases (a notice goes, as for any case)."""
    channel = conversation_channel(ticket)
    if channel is None:
        return None
    phone = ticket.requester_phone
    if not phone:
        return ReplyRoute(channel, "none")
    stopped = opted_out_at(phone)
    if stopped is not None:
        return ReplyRoute(channel, "opted_out", opted_out_at=stopped)
    if channel == "sms":
        return ReplyRoute("sms", "free")
    contact = contact_for("whatsapp", phone)
    last = contact.last_inbound_at if contact else None
    closes = last + timedelta(hours=window_hours()) if last else None
    if window_closes_at(phone, now) is not None:
        return ReplyRoute("whatsapp", "free", window_closes_at=closes, last_message_at=last)
    template = template_for("message", ticket.language)
    if template is not None:
        return ReplyRoute("whatsapp", "template", closes, last, template=template)
    return ReplyRoute("sms", "sms", closes, last)
