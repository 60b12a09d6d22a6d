"""Titles of the tickets that calls open (the worker wrote nothing to take a subject from).

"Call-back request from Hong Kong — JKK claim (work accident)", built from the channel, the
topic's label and the caller's country by name. The title is stored (searches, lists and
exports read it), so it is written in one language: the staff's default locale
(``BABEL_DEFAULT_LOCALE``, Bahasa Indonesia), not in whatever language the caller chose; pages
show it in the reader's language (:func:`display_title`) while it is still the call's title.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.dates import country_name
from app.tickets.labels import category_label

CALL_KINDS = {
    "phone": _l("Phone call"),
    "browser_call": _l("Call from the browser or app"),
    "callback": _l("Call-back request"),
    "voicemail": _l("Voicemail"),
}


def call_title(channel: str, category: str | None, country: str | None) -> str:
    """A person's title for a ticket a call, call-back or voicemail opened."""
    locale = str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "id") if has_app_context() else "id"
    with force_locale(locale):
        return _in_reader_language(channel if channel in CALL_KINDS else "phone", category, country)


def display_title(ticket: Any) -> str:
    """The ticket's title in the reader's language when it is the title a call gave it.

    A call's title is stored in the staff's default language; an agent reading in another
    language sees it rebuilt from the same fields (channel, topic, country) in theirs. Any other
    subject (a worker's own words, a title the call's fields no longer produce) is shown as stored.
    """
    subject = ticket.subject or ""
    if ticket.channel not in CALL_KINDS:
        return subject
    if subject != call_title(ticket.channel, ticket.category, ticket.country):
        return subject
    return _in_reader_language(ticket.channel, ticket.category, ticket.country)


def _in_reader_language(channel: str, category: str | None, country: str | None) -> str:
    kind = str(CALL_KINDS[channel])
    topic = category_label(category or "other")
    place = country_name(country)
    if place:
        return _("%(kind)s from %(country)s — %(topic)s", kind=kind, country=place, topic=topic)
    return _("%(kind)s — %(topic)s", kind=kind, topic=topic)
