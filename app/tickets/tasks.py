"""Jobs of the tickets package, run through the outbox (``app.core.jobs.run_intent``).

:func:`notify_worker` tells the worker about their case by SMS and/or email. Each message is a
:class:`~app.tickets.models.Notification` row under a unique key, written before the provider is
called and marked ``sent`` after, so a retried job never sends twice. Providers sit behind the
:class:`Messenger` seam: :class:`LogMessenger` (records, sends nothing) is used while Twilio
Messaging is not configured. The Twilio implementation belongs to the telephony edge (only
``app/telephony`` imports ``twilio``) and plugs in through ``TICKETS_MESSENGER`` or
:func:`set_messenger`.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import select

from app.core.jobs import record_intent
from app.core.masking import mask_text
from app.core.time import utcnow
from app.extensions import db
from app.tickets.erasure import erase_requester, expired_ticket_ids
from app.tickets.models import Notification, Ticket
from app.tickets.services.lifecycle import close_stale_resolved

log = logging.getLogger(__name__)


class Messenger(Protocol):
    """Sends one text message; returns the provider's message id.

    A messenger whose provider reports delivery later (SMS status callbacks) may also have a
    ``delivery_replay`` attribute: the dotted name of a job, called with the provider's message
    id once the sending transaction has committed, that re-applies reports which arrived before
    the message id was on record (:func:`app.tickets.services.notify.record_delivery`).
    """

    name: str

    def send_sms(self, to: str, body: str) -> str: ...

    def send_email(self, to: str, subject: str, body: str) -> str: ...


class LogMessenger:
    """Development/test messenger: logs (masked) and keeps what it 'sent' in memory."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send_sms(self, to: str, body: str) -> str:
        self.sent.append(("sms", to, body))
        log.info("sms (not sent: no provider configured) %s", mask_text(to))
        return f"log-{len(self.sent)}"

    def send_email(self, to: str, subject: str, body: str) -> str:
        self.sent.append(("email", to, body))
        log.info("email (not sent: no provider configured) %s", mask_text(to))
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


def _texts(ticket: Ticket, kind: str) -> tuple[str, str]:
    """Subject and body, in the ticket's language (jobs run without a request locale)."""
    ref = ticket.reference or ""
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
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        body += f" {base.rstrip('/')}/complaints/track?reference={ref}"
    return body.split(":")[0], body


def notify_worker(ticket_id: int, kind: str, key_suffix: str, channel: str | None = None) -> list[int]:
    """Send the worker the ``kind`` message (created/reply/resolved) once per channel; with
    ``channel`` (as the outbox records it), only on that channel."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        return []
    subject, body = _texts(ticket, kind)
    messenger = get_messenger()
    ids: list[int] = []
    targets = (("sms", ticket.requester_phone), ("email", ticket.requester_email))
    for name, destination in targets:
        if not destination or (channel is not None and name != channel):
            continue
        key = f"ticket-notify:{ticket_id}:{kind}:{key_suffix}:{name}"
        note = db.session.scalar(select(Notification).where(Notification.key == key))
        if note is None:
            note = Notification(
                key=key, ticket_id=ticket_id, channel=name, destination=destination, body=body
            )
            db.session.add(note)
            db.session.flush()
        ids.append(note.id)
        if note.status == "sent":
            continue
        note.attempts += 1
        try:
            if name == "sms":
                note.provider_id = messenger.send_sms(destination, body)
            else:
                note.provider_id = messenger.send_email(destination, subject, body)
        except Exception as exc:
            note.status = "failed"
            note.last_error = mask_text(f"{type(exc).__name__}: {exc}")[:2000]
            raise
        note.provider = messenger.name
        note.status = "sent"
        note.sent_at = utcnow()
        replay = getattr(messenger, "delivery_replay", None)
        if name == "sms" and replay and note.provider_id:
            # Runs after this job commits: a status callback that overtook the commit (and so
            # found no message with this id) is applied then.
            record_intent(
                replay, note.provider_id, queue="notifications", key=f"delivery-replay:{note.provider_id}"
            )
    return ids




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

