"""The per-number call-back cap is one atomic counter, not a count followed by an insert.

Measured before: 12 simultaneous POST /api/v1/callbacks for one number (cap 3 a day) all got
201 and 12 rows. Each call-back costs money and rings a worker's phone.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db as _db
from app.telephony import tasks
from app.telephony.clicktocall import CallbackRefused, request_callback, take_quota
from app.telephony.models import CallbackQuota, CallbackRequest
from tests.tickets.test_concurrency import race

BODY = {"phone": "+85291234567", "language": "id", "topic": "claim_jkk"}


def _requests() -> int:
    _db.session.rollback()
    return int(_db.session.scalar(select(func.count(CallbackRequest.id))) or 0)


def test_the_counter_stops_at_the_cap_and_starts_again_the_next_day(app, db):
    today, tomorrow = date(2026, 11, 23), date(2026, 11, 24)
    assert [take_quota("+85291234567", 3, today) for _ in range(4)] == [True, True, True, False]
    assert take_quota("+85291234568", 3, today)  # another number has its own
    assert take_quota("+85291234567", 3, tomorrow)
    assert not take_quota("+85291234567", 0, tomorrow)  # a cap of 0 refuses all


def test_a_refused_request_leaves_no_row(app, db):
    app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"] = 1
    request_callback(dict(BODY), "203.0.113.9")
    db.session.commit()
    with pytest.raises(CallbackRefused) as refused:
        request_callback(dict(BODY), "203.0.113.9")
    assert refused.value.status == 429
    db.session.rollback()
    assert _requests() == 1


def test_housekeeping_forgets_the_counters_of_past_days(app, db):
    take_quota("+85291234567", 3, date(2020, 1, 1))
    db.session.commit()
    tasks.housekeeping()
    assert db.session.scalar(select(func.count()).select_from(CallbackQuota)) == 0


@pytest.mark.postgres
@pytest.mark.committed  # several connections race on committed rows
def test_twelve_simultaneous_requests_for_one_number_create_exactly_the_cap(app, db):
    app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"] = 3
    results, errors = race(
        app, 12, lambda n: None, lambda n, _: request_callback(dict(BODY), f"203.0.113.{n}").id
    )
    assert len(results) == 3, (results, errors)
    assert len(errors) == 9 and all(isinstance(e, CallbackRefused) and e.status == 429 for e in errors), errors
    assert _requests() == 3
