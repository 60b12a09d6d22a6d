"""Phone numbers: always E.164, parsed with ``phonenumbers`` (default region Indonesia)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
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
    return _parse((raw or "").strip(), region)


@functools.lru_cache(maxsize=4096)
def _parse(text: str, region: str) -> Phone:
    """The parse itself, remembered: a caller's number is read on each of her webhooks (the
    hold loop asks whether she can be called back every few seconds), and ``phonenumbers``
    takes ~0.1 ms a number. A ``Phone`` is immutable; refusals are not remembered."""
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


@dataclass(frozen=True)
class PhoneReading:
    """One number a person may have meant by what they typed.

    ``region`` is the country a local form (``0912 345 678``) was read in, or None when the
    entry was international (``+966…``, ``00966…`` or the country code without ``+``).
    """

    e164: str
    region: str | None


_SEPARATORS = re.compile(r"[\s\-.()/]")


def phone_readings(raw: str | None, regions: Sequence[str] = (DEFAULT_REGION,)) -> list[PhoneReading]:
    """Every valid reading of a phone number as people type it, strongest first, no duplicates.

    Spaces, dashes, dots, brackets and slashes are ignored. ``+`` or ``00`` starts an
    international number; digits alone are read both as an international number missing its
    ``+`` (``966551233048``) and as a local number in each of ``regions`` (``0812-3456-7890``
    in Indonesia, ``0912 345 678`` in Taiwan). Returns an empty list when nothing fits.
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    found: dict[str, PhoneReading] = {}

    def add(candidate: str, region: str | None) -> None:
        try:
            number = phonenumbers.parse(candidate, region or DEFAULT_REGION)
        except NumberParseException:
            return
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            found.setdefault(e164, PhoneReading(e164, region))

    if text.startswith("+"):
        if text[1:].isdigit():
            add(text, None)
        return list(found.values())
    if not text.isdigit() or not 6 <= len(text) <= 17:
        return []
    if not text.startswith("0"):
        add("+" + text, None)  # a country code typed without its "+"
    for region in regions:
        add(text, region.upper())
    return list(found.values())
