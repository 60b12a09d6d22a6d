"""Phone numbers: always E.164, parsed with ``phonenumbers`` (default region Indonesia)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

DEFAULT_REGION = "ID"

_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}


class PhoneError(ValueError):
    """A phone number that cannot be used; ``code`` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Phone:
    e164: str
    country: str | None  # ISO 3166 alpha-2 of the number's region
    kind: str  # mobile, fixed, premium_rate, …


def parse_phone(raw: str | None, region: str = DEFAULT_REGION) -> Phone:
    """Parse and validate a phone number written by a person or a system.

    Local Indonesian forms (``0812…``) are read in ``region``; anything with ``+`` or ``00``
    is international. Raises :class:`PhoneError` with a stable ``code``.
    """
    text = (raw or "").strip()
    if not text:
        raise PhoneError("empty", "phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError("unparseable", f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid", "not a valid phone number for its country")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    return Phone(e164=e164, country=phonenumbers.region_code_for_number(number), kind=kind)


def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a valid number, or :class:`PhoneError`."""
    return parse_phone(raw, region).e164
