"""What the click-to-call endpoints accept (``/api/v1/voice-token``, ``/api/v1/callbacks``).

pydantic models (:mod:`app.core.schemas`), so the OpenAPI document describes exactly what is
checked. Field errors here are reason codes for programs (``not_e164``, ``invalid_window``…), as
SPEC §4 documents them, not sentences.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any
from zoneinfo import available_timezones

from flask import current_app
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from app.core.i18n import LANGUAGES
from app.core.phone import PhoneError, parse_phone
from app.core.schemas import OneOf, Schema, fail
from app.tickets.models import CATEGORIES

ALLOWED_KINDS = frozenset({"mobile", "fixed", "fixed_or_mobile"})
TOPICS = CATEGORIES  # the IVR/call-back topics are the ticket categories (docs/call-flow.md)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # 26:56 was schema-valid and refused


def phone_problem(raw: str | None) -> str | None:
    """Why a number may not be dialled (toll-fraud guard), or None when it may."""
    text_ = (raw or "").strip()
    if not text_.startswith("+"):
        return "not_e164"
    try:
        phone = parse_phone(text_)
    except PhoneError as exc:
        return exc.code
    if phone.kind in ("premium_rate", "shared_cost"):
        return phone.kind
    if phone.kind not in ALLOWED_KINDS:
        return "number_type_not_allowed"
    if phone.country not in current_app.config["PLACEMENT_COUNTRIES"]:
        return "country_not_served"
    return None


def _dialable(value: str) -> str:
    problem = phone_problem(value)
    if problem:
        fail(problem, problem)
    return value


def _blank_is_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and value == "") else value


def _or(default: str) -> BeforeValidator:
    """A missing or empty value means ``default`` (anything else is checked as given)."""
    return BeforeValidator(lambda value: default if value is None or value == "" else value)


def _hhmm(value: Any) -> Any:
    if not isinstance(value, str | int):
        fail("invalid_window", "invalid_window")
    try:
        return time.fromisoformat(str(value)).strftime("%H:%M")
    except ValueError:
        fail("invalid_window", "invalid_window")


def _zone(value: Any) -> str | None:
    """A known IANA zone, else None (the country's zone is used); not text is an error."""
    if value is None:
        return None
    if not isinstance(value, str):
        fail("invalid_window", "invalid_window")
    return value if value in available_timezones() else None


Hhmm = Annotated[str, Field(pattern=HHMM), BeforeValidator(_hhmm)]
Digits11 = Annotated[str, Field(pattern=r"^[0-9]{11}$")]
Digits16 = Annotated[str, Field(pattern=r"^[0-9]{16}$")]


class Window(Schema):
    """The worker's local time window, e.g. {"start": "18:00", "end": "21:00"}: ``end`` differs
    from ``start``; a zone that is not an IANA name means her country's zone."""

    start: Hhmm
    end: Hhmm
    timezone: Annotated[str | None, BeforeValidator(_zone)] = None

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            fail("invalid_window", "invalid_window")
        return self


def _window(value: Any) -> Any:
    if not value:
        return None
    if not isinstance(value, dict):
        fail("invalid_window", "invalid_window")
    return value


class VoiceTokenCreate(Schema):
    """What a browser/app call is about (all optional)."""

    language: Annotated[str, OneOf(LANGUAGES, blank=True), _or("id")] = "id"
    topic: Annotated[str, OneOf(TOPICS, blank=True), _or("other")] = "other"
    kpj: Annotated[Digits11 | None, BeforeValidator(_blank_is_none)] = None

    messages = {
        "language": {"*": "unsupported_language"},
        "topic": {"*": "unknown_topic"},
        "kpj": {"*": "invalid_kpj"},
    }


class CallbackCreate(VoiceTokenCreate):
    """Ask to be called back on a phone abroad."""

    # minLength 1 in the document: an empty number is refused, so the schema must not allow it.
    phone: Annotated[
        str, Field(min_length=1), AfterValidator(_dialable), BeforeValidator(lambda value: str(value or ""))
    ]
    nik: Annotated[Digits16 | None, BeforeValidator(_blank_is_none)] = None
    preferred_window: Annotated[Window | None, BeforeValidator(_window)] = None

    messages = {
        **VoiceTokenCreate.messages,
        "phone": {"string_too_short": "not_e164"},
        "nik": {"*": "invalid_nik"},
        "preferred_window": {"*": "invalid_window"},
    }
