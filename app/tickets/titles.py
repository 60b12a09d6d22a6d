"""Titles of the tickets that calls open (the worker wrote nothing to take a subject from).

"Call-back request from Hong Kong — JKK claim (work accident)", built from the channel, the
topic's label and the caller's country by name. The title is stored (searches, lists and
exports read it), so it is written in one language: the staff's default locale
(``BABEL_DEFAULT_LOCALE``, Bahasa Indonesia), not in whatever language the caller chose.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.tickets.labels import category_label

CALL_KINDS = {
    "phone": _l("Phone call"),
    "browser_call": _l("Call from the browser or app"),
    "callback": _l("Call-back request"),
    "voicemail": _l("Voicemail"),
}

# CLDR names Hong Kong and Macao with their status ("Hong Kong SAR China"); a title says where.
SHORT_COUNTRY_NAMES = {"HK": _l("Hong Kong"), "MO": _l("Macao")}


def call_title(channel: str, category: str | None, country: str | None) -> str:
    """A person's title for a ticket a call, call-back or voicemail opened."""
    locale = str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "id") if has_app_context() else "id"
    with force_locale(locale):
        kind = str(CALL_KINDS.get(channel, CALL_KINDS["phone"]))
        topic = category_label(category or "other")
        place = _country_name(country)
        if place:
            return _("%(kind)s from %(country)s — %(topic)s", kind=kind, country=place, topic=topic)
        return _("%(kind)s — %(topic)s", kind=kind, topic=topic)


def _country_name(code: str | None) -> str | None:
    if not code:
        return None
    if code.upper() in SHORT_COUNTRY_NAMES:
        return str(SHORT_COUNTRY_NAMES[code.upper()])
    locale = get_locale()
    return str(locale.territories.get(code.upper(), code.upper())) if locale else code.upper()
