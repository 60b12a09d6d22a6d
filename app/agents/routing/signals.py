"""Routing's signal: who else hears of routing events, in routing's own transaction.

Telephony's call log reacts to offers, unanswered rings, transfers and wrap-ups without routing
importing telephony (docs/call-flow.md): its receivers are connected to :data:`routing_event`
by the application factory (``app.telephony.integration.subscribe_to_routing``), never at
import time.

:data:`routing_event` is a blinker signal (Flask's own dependency). Its *sender* is the event's
kind (``"offered"``, ``"declined"``, ``"disposition"``…), so a receiver connected with
``routing_event.connect(receiver, sender="offered")`` hears only offers, and one connected
without a sender hears every kind. Receivers are called blinker's way,
``receiver(kind, item=<WorkItem>, event=<RoutingEvent>)``.

:func:`send` (not ``routing_event.send``) delivers an event: each receiver runs in a savepoint of
its own, so whatever it wrote before failing is undone, and a failing receiver is logged while
the routing decision stands. A receiver whose writes already run in savepoints of their own may
be marked with :func:`has_own_savepoints` to save the round trips (routing decisions are the hot
path: bench/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from blinker import Namespace

from app.agents.models import RoutingEvent, WorkItem
from app.extensions import db

log = logging.getLogger(__name__)

signals = Namespace()

routing_event = signals.signal(
    "routing-event",
    doc="A routing event was logged. Sender: its kind; keyword arguments: item, event.",
)

R = TypeVar("R", bound=Callable[..., Any])

# The attribute :func:`has_own_savepoints` sets on a receiver.
OWN_SAVEPOINTS = "routing_receiver_has_own_savepoints"


def has_own_savepoints(receiver: R) -> R:
    """Mark ``receiver`` as not needing a savepoint around it: its writes already have their own."""
    setattr(receiver, OWN_SAVEPOINTS, True)
    return receiver


def send(item: WorkItem, event: RoutingEvent) -> None:
    """Tell the receivers connected for ``event.kind`` (or for every kind) about ``event``."""
    if not routing_event.receivers:
        return
    for receiver in routing_event.receivers_for(event.kind):
        try:
            if getattr(receiver, OWN_SAVEPOINTS, False):
                receiver(event.kind, item=item, event=event)
            else:
                with db.session.begin_nested():
                    receiver(event.kind, item=item, event=event)
        except Exception:  # noqa: BLE001 - a receiver must not undo the routing decision
            log.exception("routing receiver %r failed on %s of item %s", receiver, event.kind, item.id)
