"""Routing jobs: the periodic router tick.

The tick (offer time-outs, wrap-up ends, consoles lost past the grace period, skill relaxation,
then routing) is the periodic job ``router`` of ``app/schedule.py``: every ``flask jobs worker``
runs :func:`tick` every ``ROUTER_TICK_SECONDS`` (see :mod:`app.core.scheduler`). Several workers
are safe: every change the tick makes is a conditional UPDATE (see ``routing``).
"""

from __future__ import annotations

import logging

from app.extensions import db

log = logging.getLogger(__name__)


def tick() -> dict[str, int]:
    """One router pass in its own transaction; returns counts (for logs and tests)."""
    from app.agents import routing

    try:
        result = routing.tick(commit=True)
        db.session.commit()
        return {name: len(list(values)) for name, values in result.items()}
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
