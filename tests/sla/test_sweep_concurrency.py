"""Overlapping SLA sweeps on PostgreSQL never record a warning or a breach twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.extensions import db as _db
from app.sla import services as sla
from app.sla.models import SlaEvent
from app.sla.sweep import sweep
from app.tickets import services as tickets
from app.tickets.models import TicketEvent
from tests.tickets.test_concurrency import race

# Several connections race on committed rows.
pytestmark = [pytest.mark.postgres, pytest.mark.committed]

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 WIB, a Monday
LATER = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # every emergency target is past


def _seed(count: int) -> None:
    sla.install_defaults()
    with time_machine.travel(START, tick=False):
        for n in range(count):
            tickets.open_ticket(channel="phone", category="emergency", subject=f"darurat {n}")
    _db.session.commit()


def _assert_each_once(count: int) -> None:
    rows = _db.session.execute(select(SlaEvent.ticket_id, SlaEvent.target, SlaEvent.kind, SlaEvent.cycle)).all()
    duplicates = [key for key, n in Counter(rows).items() if n > 1]
    assert not duplicates
    assert len(rows) == count * 2  # a breach for first response and for resolution (both long past:
    # warnings whose deadline had already passed are not recorded)
    timeline = _db.session.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.kind.in_(("sla_warning", "sla_breach")))
    )
    assert timeline == count * 2


@pytest.mark.parametrize("use_lock", [True, False], ids=["advisory-lock", "unique-key-only"])
def test_concurrent_sweeps_record_each_breach_once(app, db, use_lock):
    count = 300
    _seed(count)

    def act(n: int, _state: object) -> tuple[int, int, bool]:
        # Small passes so that the six sweeps interleave over the backlog.
        breaches = warnings = 0
        skipped = False
        while True:
            result = sweep(LATER, use_lock=use_lock, limit=40)
            _db.session.commit()
            breaches, warnings = breaches + result.breaches, warnings + result.warnings
            skipped = skipped or result.skipped
            if not result.full:
                return breaches, warnings, skipped

    results, errors = race(app, 6, lambda n: None, act)
    # Without the lock two sweeps may deadlock on each other's rows; PostgreSQL then aborts one
    # (rolled back, nothing recorded) — harmless, which is the point.
    assert all(isinstance(e, OperationalError) and "deadlock" in str(e) for e in errors), errors
    total_breaches = sum(r[0] for r in results)  # type: ignore[index]
    total_warnings = sum(r[1] for r in results)  # type: ignore[index]
    _db.session.expire_all()
    if not errors:
        assert total_breaches == count * 2 and total_warnings == 0
    # Whatever the interleaving, a last sweep finds nothing left and the log holds each fact once.
    leftover = sweep(LATER)
    _db.session.commit()
    assert total_breaches + leftover.breaches == count * 2
    _assert_each_once(count)
