"""Messages to the worker (WhatsApp/SMS/email) and what the carrier reported about them.

Each message is an outbox intent (``app.tickets.tasks.notify_worker``) with a unique key, so a
reply is never announced twice, however often it is recorded. It goes to one channel: the one
asked for (an answer on the channel she wrote on), else her preferred one
(:func:`~app.tickets.services.contacts.worker_channel`: WhatsApp when she has used it, else
SMS, else email).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.core.jobs import OutboxIntent, record_intent
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import CARRIER_STATUS_RANK, MessagingContact, Notification, Ticket
from app.tickets.services.contacts import worker_channel
from app.tickets.services.timeline import publish_update


def notify(ticket: Ticket, kind: str, key_suffix: str, *, channel: str | None = None) -> None:
    """Promise the worker the ``kind`` message on ``channel`` (default: her preferred channel),
    as one intent whose job has a single effect at a provider. The key makes it once-only even
    if recorded again."""
    channel = channel or worker_channel(ticket)
    if channel is None:
        return
    destination = ticket.requester_email if channel == "email" else ticket.requester_phone
    if not destination:
        return
    key = f"ticket-notify:{ticket.id}:{kind}:{key_suffix}:{channel}"
    # Autoflush makes intents recorded earlier in this transaction visible to the query too.
    if db.session.scalar(select(OutboxIntent.id).where(OutboxIntent.key == key)) is not None:
        return
    record_intent(
        "app.tickets.tasks.notify_worker",
        ticket.id,
        kind,
        key_suffix,
        channel,
        queue="notifications",
        key=key,
    )


def notify_contact(contact: MessagingContact, kind: str, key_suffix: str) -> None:
    """An automatic answer to a number that has no case with us (STATUS with nothing open, the
    STOP confirmation), on the channel it wrote on; once per key."""
    db.session.flush()  # a contact stored in this transaction has its id
    key = f"contact-notify:{contact.id}:{kind}:{key_suffix}"
    if db.session.scalar(select(OutboxIntent.id).where(OutboxIntent.key == key)) is not None:
        return
    record_intent(
        "app.tickets.tasks.notify_contact", contact.id, kind, key_suffix, queue="notifications", key=key
    )


def notify_created(ticket: Ticket) -> None:
    """Tell the worker their reference number (SMS/email), as an outbox intent."""
    notify(ticket, "created", key_suffix="0")


def notify_callback_requested(ticket_id: int, callback_id: int) -> None:
    """Confirm a call-back request to the worker (SMS/email), once per request."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is not None:
        notify(ticket, "callback", key_suffix=str(callback_id))


def record_delivery(
    provider_id: str, status: str, *, error_code: str | None = None, at: datetime | None = None
) -> bool | None:
    """What the carrier reported about a message we sent (an SMS status callback).

    Order-tolerant and idempotent: the status only moves forward along
    :data:`~app.tickets.models.CARRIER_STATUS_RANK` (a late "sent" never undoes "delivered";
    the first final outcome stays). Returns None when no notification carries this provider id
    (yet: the callback can overtake the commit of the job that sent the message; the telephony
    edge replays its stored reports afterwards), else whether anything changed.
    """
    if not provider_id or status not in CARRIER_STATUS_RANK:
        return False
    note = db.session.scalar(select(Notification).where(Notification.provider_id == provider_id))
    if note is None:
        return None
    code = (error_code or "").strip()[:16] or None
    current = note.carrier_status
    if current is not None:
        old_rank, new_rank = CARRIER_STATUS_RANK.get(current, -1), CARRIER_STATUS_RANK[status]
        if new_rank < old_rank or (new_rank == old_rank and status != current):
            return False
        if status == current:
            if code and not note.carrier_error_code:
                note.carrier_error_code = code  # a replay that carries the code the first lacked
                return True
            return False
    note.carrier_status = status
    note.carrier_status_at = at or utcnow()
    if code:
        note.carrier_error_code = code
    ticket = db.session.get(Ticket, note.ticket_id) if note.ticket_id else None
    if ticket is not None:
        publish_update(ticket, "delivery")  # the case page shows "Delivered", "Read" as they come
    return True
