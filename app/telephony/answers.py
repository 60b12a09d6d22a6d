"""What the voice webhooks share: the form (with the ``lang`` a follow-up URL carries), the
answer (commit, then the TwiML), the recording notice's URL, and a browser call's next step
once her topic is known (used by the keypad menu and by the client leg)."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from app.extensions import db
from app.telephony import services, twiml
from app.telephony.models import Call
from app.telephony.prompts import language_or_default


def webhook_form() -> dict[str, str]:
    values = request.form.to_dict()
    if "lang" in request.args:
        values["lang"] = request.args["lang"]
    return values


def answer(document: Any) -> Response:
    db.session.commit()
    return twiml.xml(document)


def consent_url(language: str, callback_id: int | None = None) -> str:
    values: dict[str, Any] = {"lang": language_or_default(language)}
    if callback_id is not None:
        values["callback"] = callback_id
    return url_for("telephony.voice_consent", **values)


def browser_queue(call: Call, greeting: tuple[str, ...] = ()) -> Any:
    """A browser call whose topic is known: the recording notice if asked for, else the queue."""
    if services.needs_consent(call):
        return twiml.consent(call.language, consent_url(call.language), greeting=greeting)
    services.queue_call(call)
    return twiml.enqueue(call.language, call.topic, prefix=greeting)

