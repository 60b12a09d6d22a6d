"""Translation helpers and the languages halopmi speaks (Bahasa Indonesia first, then English).

:func:`_` translates now for the current request and falls back to the English source text
outside one (imports, jobs); pages use Flask-Babel's ``_``/``lazy_gettext`` directly.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import gettext

# Every language a person can read halopmi in: pages, SMS, IVR prompts, the API's messages.
LANGUAGES = ("id", "en")


def _(message: str, /, **variables: Any) -> str:
    """Translate ``message`` for the current request; the English source text elsewhere.

    Imports and jobs run without a request, where the app's locale selector cannot answer, so
    they fall back to the source language instead of failing. Extraction sees ``_("…")``.
    """
    if has_request_context():
        return str(gettext(message, **variables))
    return message % variables if variables else message
