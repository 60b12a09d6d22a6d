"""Validation shared by the complaint form (portal) and the public API: one set of rules.

Each ``validate_*`` returns ``(clean, errors)``: ``clean`` holds normalised values, ``errors``
maps a field name to a message for people. Type errors (a number where text belongs) are
reported separately (``type_errors``) so the API can answer 422 for them and for bad values
alike, while the portal, which only ever receives strings, never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app

from app.core.phone import PhoneError, parse_phone
from app.records.identifiers import (
    IdentifierError,
    _,
    normalize_email,
    normalize_kpj,
    normalize_nik,
    normalize_passport,
)
from app.tickets.models import CATEGORIES

NAME_MAX = 200
DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 5000
REPLY_MAX = 5000
LANGUAGES = ("id", "en")

COMPLAINT_FIELDS = (
    "name",
    "phone",
    "email",
    "kpj",
    "nik",
    "passport",
    "birth_date",
    "country",
    "category",
    "description",
    "language",
)


@dataclass
class Result:
    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def countries() -> tuple[str, ...]:
    return tuple(current_app.config.get("PLACEMENT_COUNTRIES") or ())


def _text(data: dict[str, Any], name: str, result: Result) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        result.errors[name] = _("Must be text.")
        return ""
    return value.strip()


def validate_complaint(data: dict[str, Any]) -> Result:
    """Rules of a new complaint (SPEC §3.1.4): every message names its field."""
    result = Result()
    name = _text(data, "name", result)
    if "name" not in result.errors:
        if not name:
            result.errors["name"] = _("Please enter your name.")
        elif len(name) > NAME_MAX:
            result.errors["name"] = _("The name is too long (at most %(n)d characters).", n=NAME_MAX)
        else:
            result.clean["name"] = name

    phone = _text(data, "phone", result)
    if "phone" not in result.errors:
        if not phone:
            result.errors["phone"] = _("Please enter a phone number where we can reach you.")
        else:
            # A local number abroad ("9123 4567" in Hong Kong) is read in the chosen country.
            region = str(data.get("country") or "").strip().upper()
            region = region if region in countries() else "ID"
            try:
                result.clean["phone"] = parse_phone(phone, region).e164
            except PhoneError:
                result.errors["phone"] = _(
                    "This is not a valid phone number. Include the country code, e.g. +852 9123 4567."
                )

    for name_, check in (
        ("kpj", normalize_kpj),
        ("nik", normalize_nik),
        ("passport", normalize_passport),
        ("email", normalize_email),
    ):
        raw = _text(data, name_, result)
        if raw and name_ not in result.errors:
            try:
                result.clean[name_] = check(raw).value
            except IdentifierError as exc:
                result.errors[name_] = exc.message

    birth = _text(data, "birth_date", result)
    if birth and "birth_date" not in result.errors:
        try:
            born = date.fromisoformat(birth)
        except ValueError:
            result.errors["birth_date"] = _("Enter the date as YYYY-MM-DD.")
        else:
            if born >= date.today() or born.year < 1900:
                result.errors["birth_date"] = _("This birth date is not possible.")
            else:
                result.clean["birth_date"] = born

    country = _text(data, "country", result).upper()
    if "country" not in result.errors:
        if not country:
            result.errors["country"] = _("Please choose the country where you are.")
        elif country not in countries():
            result.errors["country"] = _("Please choose a country from the list.")
        else:
            result.clean["country"] = country

    category = _text(data, "category", result)
    if "category" not in result.errors:
        if not category:
            result.errors["category"] = _("Please choose what your complaint is about.")
        elif category not in CATEGORIES:
            result.errors["category"] = _("Please choose a category from the list.")
        else:
            result.clean["category"] = category

    description = _text(data, "description", result)
    if "description" not in result.errors:
        if len(description) < DESCRIPTION_MIN:
            result.errors["description"] = _(
                "Please describe your problem (at least %(n)d characters).", n=DESCRIPTION_MIN
            )
        elif len(description) > DESCRIPTION_MAX:
            result.errors["description"] = _(
                "The description is too long (at most %(n)d characters).", n=DESCRIPTION_MAX
            )
        else:
            result.clean["description"] = description

    language = _text(data, "language", result) or "id"
    if "language" not in result.errors:
        if language not in LANGUAGES:
            result.errors["language"] = _("Choose id or en.")
        else:
            result.clean["language"] = language
    return result


def validate_reply(data: dict[str, Any]) -> Result:
    result = Result()
    message = _text(data, "message", result)
    if "message" not in result.errors:
        if not message:
            result.errors["message"] = _("Write a message first.")
        elif len(message) > REPLY_MAX:
            result.errors["message"] = _("The message is too long (at most %(n)d characters).", n=REPLY_MAX)
        else:
            result.clean["message"] = message
    return result


def validate_rating(data: dict[str, Any]) -> Result:
    result = Result()
    raw = data.get("score")
    score: int | None = None
    if isinstance(raw, bool):
        score = None
    elif isinstance(raw, int):
        score = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        score = int(raw.strip())
    if score is None or not 1 <= score <= 5:
        result.errors["score"] = _("Choose a rating from 1 to 5.")
    else:
        result.clean["score"] = score
    comment = _text(data, "comment", result)
    if len(comment) > 2000:
        result.errors["comment"] = _("The comment is too long (at most %(n)d characters).", n=2000)
    elif "comment" not in result.errors:
        result.clean["comment"] = comment
    return result


def subject_for(description: str) -> str:
    """A one-line subject for a complaint: its first line, shortened."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    return first[:120] + ("…" if len(first) > 120 else "")
