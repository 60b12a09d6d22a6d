"""Validation shared by the complaint form (portal) and the public API: one set of rules.

The rules are pydantic models (:mod:`app.core.schemas`); the OpenAPI document's request schemas
are generated from them. Each ``validate_*`` returns a :class:`Result`: ``clean`` holds
normalised values, ``errors`` maps a field name to a message for people. A wrong JSON type (a
number where text belongs) is a field error like any other, so the API answers 422 for it; the
portal, which only ever sends strings, never sees one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator

from app.core.i18n import LANGUAGES
from app.core.phone import PhoneError, parse_phone
from app.core.schemas import OneOf, Result, Schema, fail, text, validate
from app.records.identifiers import (
    Checked,
    IdentifierError,
    normalize_email,
    normalize_kpj,
    normalize_nik,
    normalize_passport,
)
from app.tickets.models import CATEGORIES

__all__ = [
    "COMPLAINT_FIELDS",
    "ComplaintCreate",
    "Rating",
    "Reply",
    "Result",
    "countries",
    "subject_for",
    "validate_complaint",
    "validate_rating",
    "validate_reply",
]

NAME_MAX = 200
DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 5000
REPLY_MAX = 5000
COMMENT_MAX = 2000


def countries() -> tuple[str, ...]:
    return tuple(current_app.config.get("PLACEMENT_COUNTRIES") or ())


def _identifier(check: Any) -> AfterValidator:
    """A record identifier (KPJ, NIK, passport, email), normalised by :mod:`app.records.identifiers`."""

    def run(value: str | None) -> str | None:
        if not value:
            return None
        try:
            checked: Checked = check(value)
        except IdentifierError as exc:
            fail(exc.message, exc.code)
        return checked.value

    return AfterValidator(run)


def _birth_date(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        fail(_l("Must be text."), "text_type")
    try:
        born = date.fromisoformat(value.strip())
    except ValueError:
        fail(_l("Enter the date as YYYY-MM-DD."), "date_format")
    if born >= date.today() or born.year < 1900:
        fail(_l("This birth date is not possible."), "date_impossible")
    return born


class ComplaintCreate(Schema):
    """A new complaint (SPEC §3.1.4), from the portal's form or the API: every message names its field.

    Text is read without its surrounding whitespace: lengths are counted after that."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), text()]
    phone: Annotated[
        str, Field(min_length=1, description="E.164 preferred; local numbers are read in `country`"), text()
    ]
    email: Annotated[str | None, text(None), _identifier(normalize_email)] = None
    kpj: Annotated[str | None, text(None), _identifier(normalize_kpj), Field(description="11 characters")] = (
        None
    )
    nik: Annotated[str | None, text(None), _identifier(normalize_nik), Field(description="16 digits")] = None
    passport: Annotated[
        str | None,
        text(None),
        _identifier(normalize_passport),
        Field(description="6 to 9 letters and digits"),
    ] = None
    birth_date: Annotated[
        date | None,
        BeforeValidator(_birth_date),
        WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}),
    ] = None
    country: Annotated[str, Field(min_length=1, description="ISO 3166 alpha-2 placement country"), text()]
    category: Annotated[str, Field(min_length=1), OneOf(CATEGORIES), text()]
    description: Annotated[str, Field(min_length=DESCRIPTION_MIN, max_length=DESCRIPTION_MAX), text()]
    language: Annotated[str, OneOf(LANGUAGES, blank=True), text("id")] = "id"

    messages = {
        "name": {
            "string_too_short": _l("Please enter your name."),
            "string_too_long": _l("The name is too long (at most %(n)d characters).", n=NAME_MAX),
        },
        "phone": {"string_too_short": _l("Please enter a phone number where we can reach you.")},
        "country": {
            "string_too_short": _l("Please choose the country where you are."),
            "not_allowed": _l("Please choose a country from the list."),
        },
        "category": {
            "string_too_short": _l("Please choose what your complaint is about."),
            "not_allowed": _l("Please choose a category from the list."),
        },
        "description": {
            "string_too_short": _l(
                "Please describe your problem (at least %(n)d characters).", n=DESCRIPTION_MIN
            ),
            "string_too_long": _l(
                "The description is too long (at most %(n)d characters).", n=DESCRIPTION_MAX
            ),
        },
        "language": {"not_allowed": _l("Choose id or en.")},
    }

    @field_validator("country")
    @classmethod
    def _served_country(cls, value: str) -> str:
        value = value.upper()
        if value not in countries():  # the list is configuration, so it is checked here
            fail(_l("Please choose a country from the list."), "not_allowed")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        # A local number abroad ("9123 4567" in Hong Kong) is read in the chosen country.
        data = (info.context or {}).get("data") or {}
        region = str(data.get("country") or "").strip().upper()
        region = region if region in countries() else "ID"
        try:
            return parse_phone(value, region).e164
        except PhoneError:
            fail(
                _l("This is not a valid phone number. Include the country code, e.g. +852 9123 4567."),
                "phone",
            )


COMPLAINT_FIELDS = tuple(ComplaintCreate.model_fields)


class Reply(Schema):
    """The worker's reply on their case."""

    message: Annotated[str, Field(min_length=1, max_length=REPLY_MAX), text()]

    messages = {
        "message": {
            "string_too_short": _l("Write a message first."),
            "string_too_long": _l("The message is too long (at most %(n)d characters).", n=REPLY_MAX),
        }
    }


def _score(value: Any) -> Any:
    """A whole number 1-5, also as digits in a form field or as ``3.0`` (an integer to JSON
    Schema); ``true`` is not a number here."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, bool):
        fail(_l("Choose a rating from 1 to 5."), "score")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Rating(Schema):
    """The worker's rating of the service once the case is resolved."""

    # Field before the validator: the bounds reach the JSON Schema as minimum/maximum (after it,
    # pydantic wrote them as "ge"/"le", which JSON Schema ignores: score 409 was schema-valid).
    score: Annotated[int, Field(ge=1, le=5), BeforeValidator(_score)]
    comment: Annotated[str, Field(max_length=COMMENT_MAX), text()] = ""

    messages = {
        "score": {"*": _l("Choose a rating from 1 to 5.")},
        "comment": {
            "string_too_long": _l("The comment is too long (at most %(n)d characters).", n=COMMENT_MAX)
        },
    }


def validate_complaint(data: dict[str, Any]) -> Result:
    return validate(ComplaintCreate, data)


def validate_reply(data: dict[str, Any]) -> Result:
    return validate(Reply, data)


def validate_rating(data: dict[str, Any]) -> Result:
    return validate(Rating, data)


def subject_for(description: str) -> str:
    """A one-line subject for a complaint: its first line, shortened."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    return first[:120] + ("…" if len(first) > 120 else "")
