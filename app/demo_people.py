"""What the demo modules share about people: the staff's e-mail domain and valid mobile numbers
of each placement country (:mod:`app.demo` seeds people with them; :mod:`app.demo_calls` and
:mod:`app.demo_traffic` place calls from them)."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneNumberType

EMAIL_DOMAIN = "halopmi.local"


def mobile_number(rng: random.Random, region: str) -> str:
    """A valid mobile number of ``region``, varied from the library's example number."""
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        example = phonenumbers.example_number(region)
    if example is None:
        raise ValueError(f"no example number for region {region}")
    national = str(example.national_number)
    for _ in range(200):
        tail = "".join(rng.choice("0123456789") for _ in range(min(5, len(national) - 2)))
        candidate = national[: len(national) - len(tail)] + tail
        number = phonenumbers.parse("+" + str(example.country_code) + candidate, None)
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
