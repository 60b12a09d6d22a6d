"""Approved WhatsApp templates, configured as data by administrators.

WhatsApp lets a business write first (or again, 24 hours after the worker's last message) only
with a template Meta approved; Twilio's Content API names each by an ``HX…`` id. An
administrator records, per purpose and language, that id, the approved text with its numbered
placeholders (``{{1}}``) and which case field fills each placeholder; the message job sends the
id and the values, agents and the simulator read the text. One template per purpose and
language: saving again replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from app.core.i18n import LANGUAGES, _
from app.core.vocabulary import label
from app.extensions import db
from app.tickets.models import TEMPLATE_FIELDS, TEMPLATE_PURPOSES, MessageTemplate, Ticket
from app.tickets.worker_texts import language_of

CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
TEMPLATE_FORM = ("purpose", "language", "content_sid", "body")
MAX_VARIABLES = 4  # placeholders a template may have here (one field each)
MAX_BODY = 1024  # WhatsApp's limit for a template's body


def message_templates() -> list[MessageTemplate]:
    return list(
        db.session.scalars(
            select(MessageTemplate).order_by(
                MessageTemplate.active.desc(), MessageTemplate.purpose, MessageTemplate.language
            )
        )
    )


def variable_fields(raw: str) -> list[str]:
    """``"reference,link"`` → ``["reference", "link"]`` (the fields in placeholder order; an
    empty one, a placeholder left without a field, stays as ``""`` and is refused)."""
    parts = [part.strip() for part in (raw or "").split(",")]
    return parts if any(parts) else []


def template_errors(values: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a template's fields (trimmed strings), by field."""
    errors: dict[str, str] = {}
    if values.get("purpose") not in TEMPLATE_PURPOSES:
        errors["purpose"] = _("Choose what the template is for.")
    if values.get("language") not in LANGUAGES:
        errors["language"] = _("Choose the template's language.")
    if not CONTENT_SID.match(values.get("content_sid") or ""):
        errors["content_sid"] = _("The Content SID is HX followed by 32 hexadecimal characters (Twilio Content API).")
    body = values.get("body") or ""
    if not body or len(body) > MAX_BODY:
        errors["body"] = _("Enter the approved text (at most %(n)d characters).", n=MAX_BODY)
    fields = variable_fields(values.get("variables") or "")
    if any(f not in TEMPLATE_FIELDS for f in fields):
        errors["variables"] = _("Choose a field for each placeholder, from the first on, without gaps.")
    elif body:
        numbers = sorted({int(n) for n in PLACEHOLDER.findall(body)})
        if numbers != list(range(1, len(fields) + 1)):
            errors["variables"] = _(
                "The text has %(found)d numbered placeholders ({{1}}, {{2}}…); name one field for each, in order.",
                found=len(numbers),
            )
    return errors


def save_template(values: Mapping[str, str]) -> MessageTemplate:
    """Store a checked template; the one for the same purpose and language is replaced."""
    template = db.session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.purpose == values["purpose"], MessageTemplate.language == values["language"]
        )
    )
    if template is None:
        template = MessageTemplate(purpose=values["purpose"], language=values["language"])
        db.session.add(template)
    template.content_sid = values["content_sid"]
    template.body = values["body"]
    template.variables = variable_fields(values.get("variables") or "")
    template.active = True
    db.session.flush()
    return template


def toggle_template(template_id: int) -> MessageTemplate | None:
    template = db.session.get(MessageTemplate, template_id)
    if template is not None:
        template.active = not template.active
    return template


# --- what the worker reads -------------------------------------------------------------------


def track_link(ticket: Ticket) -> str:
    """Her case page's address (``PUBLIC_BASE_URL`` known), else ''."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    return f"{str(base).rstrip('/')}/complaints/track?reference={ticket.reference}" if base else ""


def vocabulary_label(code: str, kind: str, language: str | None) -> str:
    """A vocabulary label in the worker's language (jobs have no reader)."""
    with force_locale(language_of(language)):
        return label(code, kind)


def template_variables(template: MessageTemplate, ticket: Ticket) -> dict[str, str]:
    """``{"1": …, "2": …}``: each placeholder filled from the ticket field the template names."""
    values = {
        "reference": ticket.reference or "",
        "status": vocabulary_label(ticket.status, "ticket_status_public", ticket.language),
        "link": track_link(ticket),
        "name": ticket.requester_name or "",
    }
    return {str(n): values.get(field, "") for n, field in enumerate(template.variables or [], start=1)}


def fill_template(body: str, variables: dict[str, str]) -> str:
    """The template's text as the worker reads it (``{{1}}`` → its value)."""
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), body)
