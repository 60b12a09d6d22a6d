"""Routing jobs: the periodic router tick.

The tick (offer time-outs, wrap-up ends, consoles lost past the grace period, skill relaxation,
then routing) runs as an **rq cron job**: this module is also the cron configuration, so

    rq cron app.agents.tasks --url "$REDIS_URL"

enqueues :func:`tick` every ``ROUTER_TICK_SECONDS`` on the ``default`` queue, and the
``flask jobs worker`` processes run it in their application context. Several cron schedulers or
workers are safe: every change the tick makes is a conditional UPDATE (see ``routing``).
Processes without rq cron (the embedded default, tests) can run :func:`run_router_loop` in a
thread instead.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import cron

from app.extensions import db

log = logging.getLogger(__name__)

ROUTER_TICK_SECONDS = 2


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


def run_router_loop(app: Flask, stop: threading.Event, interval: float | None = None) -> None:
    """Tick in a loop until ``stop`` is set; survives database outages."""
    interval = (
        interval if interval is not None else app.config.get("ROUTER_TICK_SECONDS", ROUTER_TICK_SECONDS)
    )
    with app.app_context():
        while not stop.is_set():
            try:
                tick()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("router tick failed")
            stop.wait(interval)


# Read by ``rq cron app.agents.tasks`` (a module-level registry; harmless elsewhere).
# ``ttl``: ticks left in the queue while every worker is down expire instead of piling up.
cron.register(
    tick,
    queue_name="default",
    interval=ROUTER_TICK_SECONDS,
    ttl=5 * ROUTER_TICK_SECONDS,
    result_ttl=0,
    name="routing-tick",
)
