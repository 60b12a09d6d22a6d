"""The call path's clock and its append-only facts: raw provider events under their idempotency
keys, and the call log (``call_events``), the source of every call-centre KPI.

A module of its own below :mod:`app.telephony.services` and :mod:`app.telephony.clicktocall`,
which both write facts: neither needs the other to do so. Tests move the clock by replacing
:func:`now` here (``tests/telephony/conftest.py``); the call path reads it as ``calllog.now()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.core.masking import mask_phone
from app.core.once import stored_once
from app.core.time import utcnow
from app.telephony.models import Call, CallEvent, RawWebhook

PHONE_FIELDS = ("From", "To", "Caller", "Called", "ForwardedFrom")


def now() -> datetime:
    """The clock of the call path (tests replace it to give calls a duration)."""
    return utcnow()


# --- raw events and the call log ------------------------------------------------------------


def masked_payload(form: Mapping[str, str]) -> dict[str, str]:
    """The webhook as received, with phone numbers masked (the raw log is not a PII store)."""
    return {
        key: (mask_phone(value) if key in PHONE_FIELDS and value.startswith("+") else value)
        for key, value in form.items()
    }


def store_raw(kind: str, key: str, form: Mapping[str, str], sid: str | None = None) -> bool:
    """Store a provider event under its idempotency key; False if it was seen before.

    ``sid`` is the provider's id of the call or message it is about (default ``CallSid``).
    """
    return stored_once(
        RawWebhook(key=key, kind=kind, call_sid=sid or form.get("CallSid"), payload=masked_payload(form)),
        unique="key",
    )


def log_event(
    call: Call, kind: str, *, suffix: str = "", at: datetime | None = None, **fields: Any
) -> bool:
    """Append a call-log fact once (``<call>:<kind>[:suffix]``); False if it was already there.

    The unique key decides (no look-up first, no SAVEPOINT): a fact is new far more often than
    replayed, and a replay, concurrent or late, is a conflict the database skips."""
    key = f"{call.id}:{kind}" + (f":{suffix}" if suffix else "")
    data = fields.pop("data", None) or {}
    event = CallEvent(key=key, call_id=call.id, kind=kind, at=at or now(), data=data, **fields)
    return stored_once(event, unique="key")


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int(round((end - start).total_seconds())))
