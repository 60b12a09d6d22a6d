"""Jobs of the tickets package, run through the outbox (``app.core.jobs.run_intent``).

:func:`notify_worker` tells the worker about her case on one channel (WhatsApp, SMS or email;
:func:`notify_contact` answers a number with no case). Each message is a
:class:`~app.tickets.models.Notification` row under a unique key, and goes to the provider
through :func:`app.core.jobs.effect`: a marker is committed before the provider is called and
its answer right after, so a retried job never sends twice, and a run cut short between the two
(a worker killed mid-send) asks the provider before sending again (SMS: the messages sent to
that number since the marker, matched by body; WhatsApp and email are not asked, so they may go
twice in that one case). Providers sit behind the
:class:`Messenger` seam: :class:`LogMessenger` (records, sends nothing) is used while Twilio
Messaging is not configured. The Twilio implementation belongs to the telephony edge (only
``app/telephony`` imports ``twilio``) and plugs in through ``TICKETS_MESSENGER`` or
:func:`set_messenger`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import select

from app.core.dates import zone_for_country
from app.core.jobs import EffectInFlight, checkpoint, effect, record_intent
from app.core.masking import mask_text
from app.core.time import utcnow
from app.extensions import db
from app.tickets.erasure import erase_requester, expired_ticket_ids
from app.tickets.models import (
    MESSAGING_CHANNELS,
    MessagingContact,
    Notification,
    Ticket,
    TicketEvent,
)
from app.tickets.services.contacts import opted_out_at, template_for, window_closes_at, worker_channel
from app.tickets.services.lifecycle import close_stale_resolved
from app.tickets.services.notify import notify
from app.tickets.services.templates import fill_template, template_variables, track_link, vocabulary_label
from app.tickets.worker_texts import TEXTS, when_text, worker_text

log = logging.getLogger(__name__)


class Messenger(Protocol):
    """Sends one message; returns the provider's message id.

    A messenger whose provider reports delivery later (status callbacks) may also have a
    ``delivery_replay`` attribute: the dotted name of a job, called with the provider's message
    id once the sending transaction has committed, that re-applies reports which arrived before
    the message id was on record (:func:`app.tickets.services.notify.record_delivery`).

    One whose provider can list what it sent has ``find_sms(to, body, since)``: the ids of
    messages with that body sent to ``to`` since ``since``, oldest first (see
    :func:`app.core.jobs.effect`). Errors may carry ``not_done`` (the provider refused: nothing
    was sent) and ``permanent`` (do not try again).
    ``send_whatsapp`` sends free text, or with ``content_sid`` an approved template (Twilio
    Content API) filled with ``variables``; ``body`` is then what the worker will read.
    """

    name: str

    def send_sms(self, to: str, body: str) -> str: ...

    def send_email(self, to: str, subject: str, body: str) -> str: ...

    def send_whatsapp(
        self, to: str, body: str, content_sid: str | None = None, variables: dict[str, str] | None = None
    ) -> str: ...


class LogMessenger:
    """Development/test messenger: logs (masked) and keeps what it 'sent' in memory."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.templates: list[tuple[str, str, dict[str, str]]] = []

    def send_sms(self, to: str, body: str) -> str:
        self.sent.append(("sms", to, body))
        log.info("sms (not sent: no provider configured) %s", mask_text(to))
        return f"log-{len(self.sent)}"

    def send_email(self, to: str, subject: str, body: str) -> str:
        self.sent.append(("email", to, body))
        log.info("email (not sent: no provider configured) %s", mask_text(to))
        return f"log-{len(self.sent)}"

    def send_whatsapp(
        self, to: str, body: str, content_sid: str | None = None, variables: dict[str, str] | None = None
    ) -> str:
        self.sent.append(("whatsapp", to, body))
        if content_sid:
            self.templates.append((to, content_sid, dict(variables or {})))
        log.info("whatsapp (not sent: no provider configured) %s", mask_text(to))
        return f"log-{len(self.sent)}"


_messenger: Messenger | None = None


def set_messenger(messenger: Messenger | None) -> None:
    """Install a provider (Twilio Messaging, an email gateway…); None restores the log one."""
    global _messenger
    _messenger = messenger


def get_messenger() -> Messenger:
    """The installed messenger; else ``TICKETS_MESSENGER`` (``"package.module:factory"``, called
    with the app config, so the telephony edge can provide Twilio Messaging without this package
    importing it); else the log messenger."""
    global _messenger
    if _messenger is not None:
        return _messenger
    path = current_app.config.get("TICKETS_MESSENGER")
    if path:
        module_name, _sep, attr = str(path).partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        return factory(current_app.config)
    _messenger = LogMessenger()
    return _messenger


# Notifications the service starts (outside WhatsApp's window only a template may carry them;
# without one they go by SMS). Every other kind answers a message she has just sent.
STARTED_BY_US = frozenset({"message", "created", "reply", "resolved", "callback"})
# Sent even to a number that said STOP: the one confirmation that it did.
AFTER_STOP = frozenset({"opted_out"})


def _texts(ticket: Ticket, kind: str, key_suffix: str = "", channel: str = "sms") -> tuple[str, str]:
    """Subject and body, in the ticket's language (jobs run without a request locale)."""
    ref = ticket.reference or ""
    if kind == "message":  # an agent's answer on a WhatsApp/SMS case: her words go as written
        event = db.session.get(TicketEvent, int(key_suffix[1:])) if key_suffix[1:].isdigit() else None
        text = (event.body or "") if event is not None and event.ticket_id == ticket.id else ""
        prefix = f"BPJS Ketenagakerjaan ({ref}): " if channel == "sms" else ""
        return "BPJS Ketenagakerjaan", prefix + text
    if kind == "status":
        status = vocabulary_label(ticket.status, "ticket_status_public", ticket.language)
        when = when_text(ticket.updated_at, ticket.language, zone=zone_for_country(ticket.country))
        return "BPJS Ketenagakerjaan", worker_text("status", ticket.language, reference=ref, status=status, when=when)
    if kind in TEXTS:
        return "BPJS Ketenagakerjaan", worker_text(kind, ticket.language, reference=ref)
    if ticket.language == "en":
        texts = {
            "created": f"BPJS Ketenagakerjaan: we received your complaint. Reference {ref}.",
            "reply": f"BPJS Ketenagakerjaan: there is a new reply on your case {ref}.",
            "resolved": f"BPJS Ketenagakerjaan: your case {ref} is resolved. Please rate our service.",
            "callback": f"BPJS Ketenagakerjaan: we received your call-back request and will call you "
            f"on this number. Reference {ref}.",
        }
    else:
        texts = {
            "created": f"BPJS Ketenagakerjaan: pengaduan Anda kami terima. Nomor referensi {ref}.",
            "reply": f"BPJS Ketenagakerjaan: ada balasan baru untuk kasus Anda {ref}.",
            "resolved": f"BPJS Ketenagakerjaan: kasus Anda {ref} telah selesai. Mohon beri penilaian.",
            "callback": f"BPJS Ketenagakerjaan: permintaan telepon balik Anda kami terima, kami akan "
            f"menelepon nomor ini. Nomor referensi {ref}.",
        }
    body = texts.get(kind, texts["reply"])
    link = track_link(ticket)
    if link:
        body += f" {link}"
    return body.split(":")[0], body


def _note(key: str, ticket_id: int | None, channel: str, destination: str, body: str) -> Notification:
    note = db.session.scalar(select(Notification).where(Notification.key == key))
    if note is None:
        note = Notification(key=key, ticket_id=ticket_id, channel=channel, destination=destination, body=body)
        db.session.add(note)
        db.session.flush()
    return note


def _skip(note: Notification, reason: str) -> None:
    note.status = "skipped"
    note.last_error = reason


def notify_worker(ticket_id: int, kind: str, key_suffix: str, channel: str | None = None) -> list[int]:
    """Send the worker the ``kind`` message once on ``channel`` (as the outbox records it; None,
    from intents recorded before channels were chosen: her preferred channel). A WhatsApp
    message the service starts goes as free text inside the 24-hour window, else as the
    approved template for it, else not at all: then it is recorded as skipped and goes by SMS."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        return []
    channel = channel or worker_channel(ticket)
    destination = ticket.requester_email if channel == "email" else ticket.requester_phone
    if channel is None or not destination:
        return []
    subject, body = _texts(ticket, kind, key_suffix, channel)
    note = _note(f"ticket-notify:{ticket_id}:{kind}:{key_suffix}:{channel}", ticket_id, channel, destination, body)
    if _send(note, kind, ticket.language, subject, ticket) == "no_template":
        notify(ticket, kind, key_suffix, channel="sms")
    return [note.id]


def notify_contact(contact_id: int, kind: str, key_suffix: str) -> list[int]:
    """An automatic answer to a number with no case (see
    :func:`app.tickets.services.notify.notify_contact`), once."""
    contact = db.session.get(MessagingContact, contact_id)
    if contact is None:
        return []
    body = worker_text(kind, contact.language)
    note = _note(f"contact-notify:{contact_id}:{kind}:{key_suffix}", None, contact.channel, contact.phone, body)
    _send(note, kind, contact.language or "id", "BPJS Ketenagakerjaan", None)
    return [note.id]


def _send(note: Notification, kind: str, language: str, subject: str, ticket: Ticket | None) -> str:
    """Hand ``note`` to the provider once (a note already sent or skipped stays so). Returns
    ``sent``, ``done`` (nothing left to do), ``skipped`` or ``no_template`` (WhatsApp outside
    its window without an approved template: the caller sends it another way)."""
    if note.status in ("sent", "skipped"):
        return "done"
    if note.channel in MESSAGING_CHANNELS and kind not in AFTER_STOP and opted_out_at(note.destination):
        _skip(note, "opted_out")
        return "skipped"
    content_sid: str | None = None
    variables: dict[str, str] | None = None
    if note.channel == "whatsapp" and window_closes_at(note.destination) is None:
        template = template_for(kind, language) if kind in STARTED_BY_US and ticket is not None else None
        if template is None:
            _skip(note, "whatsapp_window_closed")
            return "no_template" if kind in STARTED_BY_US and ticket is not None else "skipped"
        content_sid, variables = template.content_sid, template_variables(template, ticket)  # type: ignore[arg-type]
        note.body = fill_template(template.body, variables)
        note.content_sid, note.content_variables = content_sid, variables
    messenger = get_messenger()
    note.attempts += 1
    destination = note.destination or ""
    try:
        note.provider_id = effect(
            note.key,
            _sender(messenger, note.channel, destination, subject, note.body, content_sid, variables),
            lookup=_lookup(messenger, note.channel, destination, note.body),
        )
    except EffectInFlight:
        raise
    except Exception as exc:
        note.status = "failed"
        note.last_error = mask_text(f"{type(exc).__name__}: {exc}")[:2000]
        if getattr(exc, "permanent", False):  # refused for good (a bad number): kept, not retried
            log.warning("notification %s refused by the provider: %s", note.id, note.last_error)
            checkpoint()
            return "failed"
        raise
    note.provider = messenger.name
    note.status = "sent"
    note.sent_at = note.sent_at or utcnow()
    note.last_error = None
    replay = getattr(messenger, "delivery_replay", None)
    if note.channel in MESSAGING_CHANNELS and replay and note.provider_id:
        # Runs after this job commits: a status callback that overtook the commit (and so
        # found no message with this id) is applied then.
        record_intent(replay, note.provider_id, queue="notifications", key=f"delivery-replay:{note.provider_id}")
    return "sent"


def _sender(
    messenger: Messenger,
    channel: str,
    destination: str,
    subject: str,
    body: str,
    content_sid: str | None = None,
    variables: dict[str, str] | None = None,
) -> Callable[[], str]:
    if channel == "sms":
        return lambda: messenger.send_sms(destination, body)
    if channel == "whatsapp":
        return lambda: messenger.send_whatsapp(destination, body, content_sid, variables)
    return lambda: messenger.send_email(destination, subject, body)


def _lookup(
    messenger: Messenger, channel: str, destination: str, body: str
) -> Callable[[datetime], list[str]] | None:
    find = getattr(messenger, "find_sms", None)
    if channel != "sms" or find is None:
        return None  # WhatsApp (templates are worded by Twilio) and email are not asked: at least once
    return lambda since: find(destination, body, since)


def housekeeping(now: datetime | None = None) -> dict[str, int]:
    """One pass of periodic ticket upkeep: close resolved tickets whose reopen period is over
    (a worker's later reply then opens a new case), then apply retention — erase the requester's
    personal data from closed tickets older than ``TICKETS_RETENTION_DAYS`` (at most one batch
    per pass, each ticket in its own transaction, so one failure costs one ticket; an erased
    ticket is never picked again)."""
    result = {"closed": 0, "erased": 0, "erase_failed": 0}
    try:
        result["closed"] = close_stale_resolved(now)
        db.session.commit()
        for ticket_id in expired_ticket_ids(now):
            try:
                if erase_requester(ticket_id, actor_id=None, reason="retention", now=now) is not None:
                    result["erased"] += 1
                db.session.commit()
            except Exception:  # noqa: BLE001 - the next pass retries it; the others go on
                db.session.rollback()
                result["erase_failed"] += 1
                log.exception("retention: ticket %s could not be erased", ticket_id)
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()

