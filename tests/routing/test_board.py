"""The queue board: callers on hold hear their place at O(1) a request (issue 13, item 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from app.agents import routing
from app.agents.routing import board as board_module
from app.core.time import utcnow
from app.extensions import db


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    """The board's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(board_module.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def aged_board(app, monkeypatch):  # type: ignore[no-untyped-def]
    """A board that may be 2 s old (the production default) and a fresh cache for this test."""
    monkeypatch.setitem(app.config, "QUEUE_BOARD_SECONDS", 2.0)
    monkeypatch.setitem(app.extensions, "halopmi.queue_board", board_module.BoardCache())


@pytest.fixture
def queries(app):  # type: ignore[no-untyped-def]
    """The SQL statements run from here on (the test's own SAVEPOINTs left out)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def _enqueue(ref: int, topic: str = "other") -> None:
    routing.enqueue("call", ref, language="id", topic=topic)
    db.session.commit()


def test_many_callers_on_hold_read_the_queue_once_per_refresh(app, aged_board, clock, queries):
    for ref in range(1, 31):
        _enqueue(ref)
    seen = queries
    seen.clear()
    places = [routing.position("call", ref)[0] for ref in range(1, 31)]
    assert places == list(range(1, 31))
    queue_reads = [q for q in seen if "ORDER BY work_items.priority DESC" in q]
    assert len(queue_reads) == 1  # one read of the queue for thirty callers, not thirty counts
    # A caller on the board costs no statement at all: the board's three reads are all there is.
    assert len(seen) == 3


def test_a_caller_enqueued_since_the_read_is_read_herself_and_counted_behind(app, aged_board, clock, queries):
    _enqueue(1)
    assert routing.position("call", 1)[0] == 1
    _enqueue(2)
    queries.clear()
    assert routing.position("call", 2)[0] == 2  # not on the board: her own item, behind the board's
    assert len(queries) == 1 and "work_items" in queries[0]
    queries.clear()
    assert routing.position("call", 1)[0] == 1
    assert queries == []  # on the board: a look-up
    assert routing.position("call", 99) == (0, None)  # never queued


def test_the_board_is_read_again_when_older_than_the_setting(app, aged_board, clock):
    _enqueue(1)
    _enqueue(2)
    assert routing.position("call", 2)[0] == 2
    _enqueue(3, topic="emergency")  # jumps the queue
    clock[0] += 1.0
    assert routing.position("call", 2)[0] == 2  # the board is 1 s old: not read again yet
    assert routing.position("call", 3)[0] == 3  # new since the read: behind everyone on it
    clock[0] += 1.5
    assert routing.position("call", 2)[0] == 3  # 2.5 s old: read again, the emergency is ahead
    assert routing.position("call", 3)[0] == 1


def test_fresh_reading_when_the_setting_is_zero(app, monkeypatch, clock):
    monkeypatch.setitem(app.config, "QUEUE_BOARD_SECONDS", 0.0)
    _enqueue(1)
    _enqueue(2)
    assert routing.position("call", 2)[0] == 2
    routing.cancel("call", 1, "hangup")
    db.session.commit()
    assert routing.position("call", 2)[0] == 1


def test_the_estimate_is_place_times_handle_time_over_agents(app, aged_board, clock, agent_factory):
    _enqueue(1)
    _enqueue(2)
    agent = agent_factory()
    routing.route()
    work = routing.current_item("call", 1)
    assert work is not None
    routing.accept(agent.id, work.id)
    db.session.flush()
    work.connected_at = utcnow() - timedelta(seconds=90)
    routing.complete("call", 1)
    db.session.commit()
    assert routing.position("call", 2) == (1, 90)  # 1 × 90 s ÷ 1 agent logged in
    assert routing.position("call", 1) == (0, None)  # no longer queued


def test_an_offered_caller_on_the_board_has_no_wait_left(app, aged_board, clock, agent_factory):
    _enqueue(1)
    _enqueue(2)
    agent_factory()
    routing.route()  # the agent is offered call 1
    db.session.commit()
    clock[0] += 5  # an old board: read again
    assert routing.position("call", 1) == (1, 0)
    assert routing.position("call", 2)[0] == 1  # first of those still waiting
