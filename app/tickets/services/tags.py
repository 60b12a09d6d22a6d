"""Tags: free labels agents put on tickets (one word each), and the suggestions while typing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import Tag, Ticket, ticket_tags
from app.tickets.services.errors import TicketError
from app.tickets.services.locking import check_version, save
from app.tickets.services.timeline import add_event, get_ticket

TAG_MAX = 40
_TAG_RE = re.compile(r"^[\w][\w-]*$")


def normalize_tag(name: str | None) -> str:
    """A tag as stored: trimmed, lower case, inner spaces as hyphens; TicketError if unusable
    (empty, longer than :data:`TAG_MAX`, or other than letters, digits, ``-`` and ``_``)."""
    text = re.sub(r"\s+", "-", (name or "").strip().lower())
    if not text:
        raise TicketError(_("Enter a tag."), "invalid_tag")
    if len(text) > TAG_MAX or not _TAG_RE.match(text):
        raise TicketError(
            _("A tag is one word of letters, digits, - or _ (at most %(n)d characters).", n=TAG_MAX),
            "invalid_tag",
        )
    return text


def _tag_named(name: str) -> Tag:
    """The tag with this (normalised) name, created if new; two agents creating the same new
    tag at once end up with one row (the loser of the unique constraint reads the winner's)."""
    tag = db.session.scalar(select(Tag).where(Tag.name == name))
    if tag is not None:
        return tag
    try:
        with db.session.begin_nested():
            tag = Tag(name=name)
            db.session.add(tag)
    except IntegrityError:
        tag = db.session.scalar(select(Tag).where(Tag.name == name))
        if tag is None:  # pragma: no cover - the row that collided is committed
            raise
    return tag


def tag(
    ticket_id: Ticket | int,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor_id: int | None,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Add and/or remove tags (one ``tagged`` event listing what changed; nothing when nothing
    did). A change saves the ticket, so it takes part in optimistic locking like any other."""
    ticket = get_ticket(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    wanted = [normalize_tag(name) for name in add]
    dropped = {normalize_tag(name) for name in remove}
    current = {t.name for t in ticket.tags}
    added = [name for name in dict.fromkeys(wanted) if name not in current and name not in dropped]
    removed = sorted(name for name in dropped if name in current)
    if not added and not removed:
        return ticket
    for name in added:
        ticket.tags.append(_tag_named(name))
    if removed:
        ticket.tags[:] = [t for t in ticket.tags if t.name not in removed]
    ticket.updated_at = utcnow()
    save(ticket)
    data: dict[str, Any] = {}
    if added:
        data["added"] = added
    if removed:
        data["removed"] = removed
    add_event(ticket, "tagged", data, actor_id=actor_id)
    return ticket


def tag_names(limit: int = 200) -> list[str]:
    """Existing tags, most used first (suggestions while typing)."""
    rows = db.session.execute(
        select(Tag.name, func.count(ticket_tags.c.ticket_id))
        .outerjoin(ticket_tags, ticket_tags.c.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(func.count(ticket_tags.c.ticket_id).desc(), Tag.name)
        .limit(limit)
    ).all()
    return [str(name) for name, _count in rows]
