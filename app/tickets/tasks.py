"""Jobs of the tickets package, run through the outbox (``app.core.jobs.run_intent``).

:func:`notify_worker` tells the worker about their case by SMS and/or email. Each message is a
:class:`~app.tickets.models.Notification` row under a unique key, and goes to the provider
through :func:`app.core.jobs.effect`: a marker is committed before the provider is called and
its answer right after, so a retried job never sends twice, and a run cut short between the two
(a worker killed mid-send) asks the provider before sending again (SMS: the messages sent to
that number since the marker, matched by body; email cannot be asked, so it may go twice in
that one case). Providers sit behind the
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

from app.core.jobs import EffectInFlight, checkpoint, effect, record_intent
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

    One whose provider can list what it sent has ``find_sms(to, body, since)``: the ids of
    messages with that body sent to ``to`` since ``since``, oldest first (see
    :func:`app.core.jobs.effect`). Errors may carry ``not_done`` (the provider refused: nothing
    was sent) and ``permanent`` (do not try again).
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
    ``channel`` (as the outbox records it), only on that channel. Commits as it goes
    (:func:`app.core.jobs.effect`); safe to run again from the start."""
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
            provider_id = effect(key, _sender(messenger, name, destination, subject, note.body),
                                 lookup=_lookup(messenger, name, destination, note.body))
        except EffectInFlight:
            raise
        except Exception as exc:
            note.status = "failed"
            note.last_error = mask_text(f"{type(exc).__name__}: {exc}")[:2000]
            if getattr(exc, "permanent", False):  # refused for good (a bad number): kept, not retried
                log.warning("notification %s refused by the provider: %s", note.id, note.last_error)
                checkpoint()
                continue
            raise
        note.provider_id = provider_id
        note.provider = messenger.name
        note.status = "sent"
        note.sent_at = note.sent_at or utcnow()
        note.last_error = None
        replay = getattr(messenger, "delivery_replay", None)
        if name == "sms" and replay and note.provider_id:
            # Runs after this job commits: a status callback that overtook the commit (and so
            # found no message with this id) is applied then.
            record_intent(
                replay, note.provider_id, queue="notifications", key=f"delivery-replay:{note.provider_id}"
            )
    return ids


def _sender(messenger: Messenger, channel: str, destination: str, subject: str, body: str) -> Callable[[], str]:
    if channel == "sms":
        return lambda: messenger.send_sms(destination, body)
    return lambda: messenger.send_email(destination, subject, body)


def _lookup(
    messenger: Messenger, channel: str, destination: str, body: str
) -> Callable[[datetime], list[str]] | None:
    find = getattr(messenger, "find_sms", None)
    if channel != "sms" or find is None:
        return None  # email cannot be asked: sent again (at least once)
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

