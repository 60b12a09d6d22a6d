"""Tickets under real concurrency on PostgreSQL: optimistic locking and unique references.

SQLite has a single writer, so these run on PostgreSQL only (CI runs them).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketEvent

# Several connections race on committed rows.
pytestmark = [pytest.mark.postgres, pytest.mark.committed]


def race(app, workers: int, prepare, act) -> tuple[list[object], list[BaseException]]:  # type: ignore[no-untyped-def]
    """Each thread (own session) runs ``prepare`` then waits for all, then ``act`` and commits."""
    barrier = threading.Barrier(workers)
    results: list[object] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        with app.app_context():
            try:
                state = prepare(n)
                barrier.wait(timeout=30)
                results.append(act(n, state))
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_two_agents_saving_the_same_version_one_wins_one_gets_a_conflict(app, db):
    ticket = services.open_ticket(channel="phone", category="other", subject="x")
    db.session.commit()
    ticket_id = ticket.id
    targets = ["resolved", "pending_worker"]

    def prepare(n: int) -> int:
        loaded = db.session.get(Ticket, ticket_id)
        assert loaded is not None
        return loaded.version  # what each agent's form carried

    def act(n: int, version: int) -> str:
        services.change_status(ticket_id, targets[n], expected_version=version)
        return targets[n]

    results, errors = race(app, 2, prepare, act)
    assert len(results) == 1, (results, errors)
    assert len(errors) == 1 and isinstance(errors[0], services.Conflict), errors
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket_id)
    assert stored.status == results[0]
    status_events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "status")
    ).all()
    assert len(status_events) == 1  # the loser's event rolled back with its change


def test_references_stay_unique_when_many_tickets_open_at_once(app, db):
    results, errors = race(
        app,
        12,
        lambda n: None,
        lambda n, _state: services.open_ticket(channel="portal", category="other", subject=f"s{n}").reference,
    )
    assert not errors, errors
    assert len(set(results)) == 12
    stored = db.session.scalars(select(Ticket)).all()
    assert all(t.reference.endswith(f"-{t.id:06d}") for t in stored)
