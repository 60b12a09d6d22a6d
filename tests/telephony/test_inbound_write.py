"""The inbound webhook's write on PostgreSQL: the call and its ``created`` fact in one
autocommitted statement (``calllog.store_new_call``), as idempotent as the ORM path it replaces."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db as _db
from app.telephony import calllog, services
from app.telephony.models import Call, CallEvent
from tests.telephony.conftest import call_params
from tests.tickets.test_concurrency import race

SID = "CA" + "7" * 32

pytestmark = [pytest.mark.postgres, pytest.mark.committed]  # other connections, committed rows


def _count(model: type) -> int:
    _db.session.rollback()
    return int(_db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_eight_simultaneous_first_webhooks_store_one_call_and_one_created_fact(app, db):
    form = call_params(SID, From="+85291234567", FromCountry="HK")
    results, errors = race(app, 8, lambda n: None, lambda n, _: services.record_call(form))
    assert not errors and len(results) == 8
    assert _count(Call) == 1 and _count(CallEvent) == 1
    call = services.get_call(SID)
    assert call is not None
    # As the ORM path stores it: the number encrypted and hashed, defaults filled in.
    assert (call.direction, call.from_number, call.caller_country) == ("inbound", "+85291234567", "HK")
    assert call.from_hash and call.status == "ringing" and call.language == "id"
    assert call.created_at is not None and call.updated_at == call.created_at
    fact = _db.session.scalar(select(CallEvent))
    assert fact is not None
    assert (fact.key, fact.call_id, fact.kind, fact.data) == (f"{call.id}:created", call.id, "created", {"direction": "inbound"})
    assert fact.at == call.created_at


def test_inside_an_open_transaction_it_leaves_the_write_to_the_session(app, db):
    _db.session.execute(select(1))  # the session now holds a transaction
    assert calllog.store_new_call(services.new_call(call_params(SID), "inbound"), "inbound") is None
    services.record_call(call_params(SID))  # falls back to start_call, in the same transaction
    _db.session.commit()
    assert _count(Call) == 1 and _count(CallEvent) == 1


def test_outside_a_transaction_it_is_one_statement_that_says_whether_it_stored(app, db):
    _db.session.rollback()
    form = call_params(SID)
    assert calllog.store_new_call(services.new_call(form, "inbound"), "inbound") is True
    assert calllog.store_new_call(services.new_call(form, "inbound"), "inbound") is False
    assert _count(Call) == 1 and _count(CallEvent) == 1
