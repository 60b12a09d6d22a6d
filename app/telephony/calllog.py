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

from sqlalchemy import Connection, literal, select
from sqlalchemy.dialects import postgresql

from app.core.masking import mask_phone
from app.core.once import column_values, stored_once
from app.core.time import utcnow
from app.extensions import db
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


def store_new_call(call: Call, direction: str) -> bool | None:
    """Store a new call and its ``created`` fact in one autocommitted statement, on PostgreSQL.

    The inbound webhook's whole write, in one round trip instead of four (BEGIN, INSERT the
    call, INSERT the fact, COMMIT)::

        WITH new_call AS (INSERT INTO calls … ON CONFLICT (call_sid) DO NOTHING RETURNING id)
        INSERT INTO call_events (key, call_id, kind, at, data) SELECT id || ':created', … FROM new_call

    True when stored, False when the CallSid was there already (a replayed or concurrent first
    webhook: the statement added nothing, not even the fact). None when it cannot be done this
    way: on SQLite, or when the session already holds a transaction or is bound to a connection
    (the tests' rollback fixture); the caller then takes the ORM path. ``call`` is not added to
    the session: the caller reads the row back if it needs it.
    """
    bind = db.session.get_bind()
    if bind.dialect.name != "postgresql" or isinstance(bind, Connection) or db.session().in_transaction():
        return None
    values, _ = column_values(call)
    at = values.get("created_at") or now()
    values.setdefault("created_at", at)
    values.setdefault("updated_at", at)
    new_call = (
        postgresql.insert(Call.__table__)
        .values(values)
        .on_conflict_do_nothing(index_elements=["call_sid"])
        .returning(Call.__table__.c.id)
        .cte("new_call")
    )
    events = CallEvent.__table__
    fact = (
        postgresql.insert(events)
        .from_select(
            ["key", "call_id", "kind", "at", "data"],
            select(
                new_call.c.id.cast(events.c.key.type) + literal(":created"),
                new_call.c.id,
                literal("created", events.c.kind.type),
                literal(at, events.c.at.type),
                literal({"direction": direction}, events.c.data.type),
            ),
        )
        .add_cte(new_call)
        .returning(events.c.id)
    )
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(fact).first() is not None


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int(round((end - start).total_seconds())))
