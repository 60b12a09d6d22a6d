"""What the demo modules share about people: the staff's e-mail domain, valid mobile numbers
of each placement country (:mod:`app.demo` seeds people with them; :mod:`app.demo_calls` and
:mod:`app.demo_traffic` place calls from them), and the fixed callers who can try the IVR's
self-service in the telephony simulator (their KPJ and birth date are known in advance)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class DemoClaim:
    program: str
    benefit_type: str
    status: str
    submitted_days_ago: int  # the incident was a week before; decisions and payments after


@dataclass(frozen=True)
class SelfServiceCaller:
    """A synthetic member to try the claim-status self-service with: dial in from the simulator,
    enter ``kpj``, press 8, then ``birth_date`` as DDMMYYYY."""

    kpj: str
    name: str
    sex: str
    birth_date: date
    phone_abroad: str
    claims: tuple[DemoClaim, ...]

    @property
    def keypad_birth_date(self) -> str:
        return self.birth_date.strftime("%d%m%Y")


# KPJs outside the range the random members take (26000000001 onwards).
SELF_SERVICE_CALLERS = (
    SelfServiceCaller(
        "26099990001", "Sri Wahyuni (demo)", "F", date(1990, 8, 17), "+85291234567",
        (DemoClaim("JKM", "death_benefit", "verifying", 6), DemoClaim("JHT", "balance", "paid", 40)),
    ),
    SelfServiceCaller(
        "26099990002", "Agus Setiawan (demo)", "M", date(1985, 1, 5), "+886912345678",
        (DemoClaim("JKK", "medical_abroad", "medical_assessment", 20), DemoClaim("JKK", "transport", "documents_incomplete", 3)),
    ),
    SelfServiceCaller("26099990003", "Dewi Lestari (demo)", "F", date(1995, 12, 31), "+60123456789", ()),
)  # fmt: skip
