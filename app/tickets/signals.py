"""What tickets tell the rest of the application (blinker signals, connected by the factory).

The tickets package does not know the SLA engine: it says that a ticket changed in a way its
service promise depends on, and the engine (``app.sla.services.reconcile``) recomputes the due
times, in the same transaction, before the caller commits.
"""

from __future__ import annotations

from blinker import Namespace

signals = Namespace()

promise_changed = signals.signal(
    "ticket-promise-changed",
    doc=(
        "A ticket was opened or changed status, priority, category or first response. Sender: the "
        "ticket; keyword arguments: now (when it happened, default the current time), rematch "
        "(True when the policy that applies may have changed)."
    ),
)
