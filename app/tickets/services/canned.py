"""Canned replies: texts agents pick to fill the reply box (kept, never deleted: retired ones
are switched off)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from app.core.i18n import _
from app.extensions import db
from app.tickets.models import CATEGORIES, CannedReply

CANNED_FIELDS = ("title", "body", "language", "category")


def canned_replies(*, active_only: bool = False, active_first: bool = False) -> list[CannedReply]:
    """The canned replies by title: only the active ones (to choose from), or all of them, the
    active ones first if asked (to manage them)."""
    query = select(CannedReply)
    if active_only:
        query = query.where(CannedReply.active.is_(True))
    if active_first:
        query = query.order_by(CannedReply.active.desc())
    return list(db.session.scalars(query.order_by(CannedReply.title)))


def canned_reply_errors(values: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a new canned reply's fields (trimmed strings), by field."""
    errors: dict[str, str] = {}
    if not values["title"] or len(values["title"]) > 120:
        errors["title"] = _("Enter a title (at most 120 characters).")
    if not values["body"]:
        errors["body"] = _("Write the reply text.")
    if values["language"] not in ("id", "en"):
        errors["language"] = _("Choose id or en.")
    if values["category"] and values["category"] not in CATEGORIES:
        errors["category"] = _("Please choose a category from the list.")
    return errors


def add_canned_reply(values: Mapping[str, str]) -> CannedReply:
    """Add a canned reply from fields :func:`canned_reply_errors` found nothing wrong with."""
    item = CannedReply(
        title=values["title"],
        body=values["body"],
        language=values["language"],
        category=values["category"] or None,
    )
    db.session.add(item)
    return item


def toggle_canned_reply(reply_id: int) -> CannedReply | None:
    """Switch a canned reply off (or back on); None when there is no such reply."""
    item = db.session.get(CannedReply, reply_id)
    if item is not None:
        item.active = not item.active
    return item
