"""Complaint intake shared by the portal and the public API (validated input → ticket)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from app.extensions import db
from app.tickets import attachments, services
from app.tickets.models import Ticket, TicketEvent
from app.tickets.schemas import subject_for

log = logging.getLogger(__name__)


def file_complaint(clean: dict[str, Any], *, channel: str) -> Ticket:
    """Open the ticket for a validated complaint and promise the "we received it" message.

    The caller commits straight away, before storing any attachment: the complaint must not
    be lost because a file could not be written.
    """
    ticket = services.open_ticket(
        channel=channel,
        category=clean["category"],
        subject=subject_for(clean["description"]),
        description=clean["description"],
        language=clean.get("language", "id"),
        country=clean.get("country"),
        requester_name=clean.get("name"),
        requester_phone=clean.get("phone"),
        requester_email=clean.get("email"),
        requester_kpj=clean.get("kpj"),
        requester_nik=clean.get("nik"),
        requester_passport=clean.get("passport"),
        requester_birth_date=clean.get("birth_date"),
    )
    services.notify_created(ticket)
    return ticket


def attach(
    ticket: Ticket,
    uploads: Sequence[attachments.Upload],
    event: TicketEvent | None = None,
    *,
    public: bool = True,
    actor_id: int | None = None,
) -> int:
    """Store already-checked uploads on the ticket (one ``attachment`` event). Returns how many.

    Without ``actor_id`` the files come from the worker (portal/API). An agent's files follow
    their message: ``public=False`` (an internal note's files) keeps both the files and the
    ``attachment`` event out of everything the worker sees.
    """
    stored = []
    for upload in uploads:
        try:
            stored.append(
                attachments.store(ticket.id, upload, event_id=event.id if event else None, public=public)
            )
        except OSError:
            log.exception("attachment of ticket %s could not be stored", ticket.id)
    if stored:
        db.session.flush()
        services.add_event(
            ticket,
            "attachment",
            {"attachment_ids": [a.id for a in stored], "files": [a.original_filename for a in stored]},
            public=public,
            by_requester=actor_id is None,
            actor_id=actor_id,
        )
    return len(stored)
