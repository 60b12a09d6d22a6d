"""Masking of personal data for screens and logs (UU 27/2022: show no more than needed)."""

from __future__ import annotations

import re

MASK = "•"


def mask_tail(value: str | None, keep: int = 4) -> str:
    """Hide all but the last ``keep`` characters."""
    if not value:
        return ""
    if len(value) <= keep:
        return MASK * len(value)
    return MASK * (len(value) - keep) + value[-keep:]


def mask_phone(value: str | None) -> str:
    """``+85291234567`` → ``+852•••••4567``: the country stays visible, the number does not."""
    if not value:
        return ""
    try:
        import phonenumbers

        parsed = phonenumbers.parse(value, None)
        prefix = f"+{parsed.country_code}"
    except Exception:  # noqa: BLE001 - masking must never fail on odd input
        prefix = value[:3] if value.startswith("+") else ""
    rest = value[len(prefix) :]
    return prefix + mask_tail(rest, 4)


def mask_nik(value: str | None) -> str:
    return mask_tail(value, 4)


def mask_passport(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 3:
        return MASK * len(value)
    return value[0] + MASK * (len(value) - 3) + value[-2:]


def mask_email(value: str | None) -> str:
    if not value or "@" not in value:
        return mask_tail(value, 2)
    local, _, domain = value.partition("@")
    return (local[0] if local else "") + MASK * max(len(local) - 1, 1) + "@" + domain


MASKERS = {
    "phone": mask_phone,
    "nik": mask_nik,
    "passport": mask_passport,
    "email": mask_email,
    "account": mask_tail,
}


def mask(value: str | None, kind: str = "tail") -> str:
    return MASKERS.get(kind, mask_tail)(value)


# Patterns for free text (log lines): phone numbers in E.164 or local form, 16-digit NIK,
# Indonesian passports, emails. Deliberately greedy, except for dates: "2026-11-20" or
# "20-11-2026" (how a worker writes the day of her accident) and a log line's timestamp are
# digits and dashes too, and masking them hid the one fact an agent needed from a description.
_DATE = r"(?:(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])|(?:0[1-9]|[12]\d|3[01])-(?:0[1-9]|1[0-2])-(?:19|20)\d\d)(?!\d)"
_TEXT_PATTERNS = [
    (
        re.compile(rf"(?<![\w+])(?!{_DATE})\+?\d[\d \-]{{8,17}}\d(?!\w)"),
        lambda m: mask_tail(re.sub(r"\D", "", m.group()), 4),
    ),
    (re.compile(r"\b[A-Z]\d{7}\b"), lambda m: mask_passport(m.group())),
    (re.compile(r"\b([\w.+-])[\w.+-]*@([\w-]+\.[\w.-]+)\b"), lambda m: f"{m.group(1)}{MASK * 3}@{m.group(2)}"),
]


def mask_text(text: str) -> str:
    """Mask anything in free text that looks like a phone, NIK, passport or email (log lines,
    and what a worker or an agent typed into a description or a message)."""
    for pattern, replace in _TEXT_PATTERNS:
        text = pattern.sub(replace, text)
    return text


def has_pii(text: str | None) -> bool:
    """Whether free text holds something :func:`mask_text` masks (a reveal is then offered)."""
    return bool(text) and mask_text(str(text)) != text
