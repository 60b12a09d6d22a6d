"""What a caller on hold hears: her place in the queue and the estimated wait, at O(1) a request.

Every caller on hold fetches the wait URL again after each hold prompt, so in a crisis (1,000
callers) asking the database "how many are ahead of me" on each fetch is 1,000 counts over a
1,000-row queue per hold cycle. Instead one **board** per web process is read from the database
at most every ``QUEUE_BOARD_SECONDS``: the live items (waiting in service order, offered,
connected) keyed by what they are about (a call or call-back), the average handle time of the
last 50 answered items and the number of agents logged in. A fetch then looks up her place in a
dict: no statement at all for a caller on the board (``bench/bench_webhook_cpu.py``: the look-up
of her own item was a third of the wait URL's CPU). Between refreshes the board is up to that
many seconds old: a caller enqueued since the last refresh is not on it (her own item is read,
and she is counted behind everyone on the board), and one who moved up, or was offered to an
agent, hears her old place once more. ``QUEUE_BOARD_SECONDS = 0`` reads it fresh each time.

The order is the router's (:func:`app.agents.routing.router.waiting_items`): priority, then
longest waiting, then id.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from app.agents.models import ACTIVE_ITEM_STATUSES, COMPLETED, WAITING, AgentPresence, WorkItem
from app.extensions import db

AHT_SAMPLE = 50  # completed items the average handle time is taken from


@dataclass(frozen=True)
class Board:
    ranks: dict[int, int] = field(default_factory=dict)  # waiting item id → 1-based place
    places: dict[tuple[str, int], int] = field(default_factory=dict)  # (kind, ref) → place, 0: offered/connected
    handle_seconds: float | None = None  # average handle time, None without history
    staffed: int = 0  # agents logged in (not offline)
    read_at: float = float("-inf")  # time.monotonic() of the read

    def position(self, item_id: int) -> tuple[int, int | None]:
        """A waiting item's place and estimate (behind everyone on the board if it is new)."""
        return self.position_at(self.ranks.get(item_id, len(self.ranks) + 1))

    def lookup(self, kind: str, ref_id: int) -> tuple[int, int | None] | None:
        """The place and estimate of the live item of call (or call-back) ``ref_id``, as
        :func:`app.agents.routing.contract.position` answers them; None if it is not on the board."""
        place = self.places.get((kind, ref_id))
        if place is None:
            return None
        if place == 0:  # offered or connected: no wait left
            return 1, 0
        return self.position_at(place)

    def position_at(self, place: int) -> tuple[int, int | None]:
        if self.handle_seconds is None or not self.staffed:
            return place, None
        return place, int(round(place * self.handle_seconds / self.staffed))


def read_board() -> Board:
    """The board as the database has it now (three queries, none per caller)."""
    live = db.session.execute(
        select(WorkItem.id, WorkItem.kind, WorkItem.ref_id, WorkItem.status)
        .where(WorkItem.status.in_(ACTIVE_ITEM_STATUSES))
        .order_by(WorkItem.priority.desc(), WorkItem.enqueued_at, WorkItem.id)
    ).all()
    ranks: dict[int, int] = {}
    places: dict[tuple[str, int], int] = {}
    for item_id, kind, ref_id, status in live:
        if status == WAITING:
            ranks[item_id] = len(ranks) + 1
            places[(kind, ref_id)] = ranks[item_id]
        else:
            places[(kind, ref_id)] = 0
    handled = db.session.execute(
        select(WorkItem.connected_at, WorkItem.ended_at)
        .where(WorkItem.status == COMPLETED, WorkItem.connected_at.is_not(None))
        .order_by(WorkItem.ended_at.desc())
        .limit(AHT_SAMPLE)
    ).all()
    staffed = db.session.scalar(
        select(func.count()).select_from(AgentPresence).where(AgentPresence.state != "offline")
    )
    durations = [(ended - connected).total_seconds() for connected, ended in handled if connected and ended]
    return Board(
        ranks=ranks,
        places=places,
        handle_seconds=sum(durations) / len(durations) if durations else None,
        staffed=int(staffed or 0),
        read_at=time.monotonic(),
    )


class BoardCache:
    """One board per app (web process), re-read when older than ``QUEUE_BOARD_SECONDS``.

    One thread re-reads while the others keep answering from the previous board."""

    def __init__(self) -> None:
        self._board = Board()
        self._lock = threading.Lock()

    def current(self, max_age: float) -> Board:
        board = self._board
        if time.monotonic() - board.read_at < max_age:
            return board
        if max_age <= 0:
            return read_board()
        if not self._lock.acquire(blocking=board.read_at == float("-inf")):
            return board  # another thread is re-reading: the previous board is seconds old
        try:
            if time.monotonic() - self._board.read_at >= max_age:
                self._board = read_board()
            return self._board
        finally:
            self._lock.release()


def board() -> Board:
    cache = current_app.extensions.setdefault("halopmi.queue_board", BoardCache())
    return cache.current(float(current_app.config.get("QUEUE_BOARD_SECONDS", 2.0)))
