"""The live queue (ACD): work items, offers to agents, and the router. See docs/call-flow.md.

The modules, each one job (none imports telephony or tickets' services):

* ``contract`` — telephony → routing: :func:`enqueue`, :func:`cancel`, :func:`complete`,
  :func:`position`, :func:`current_item` (called through ``app.telephony.integration``);
* ``operations`` — the console: :func:`accept`, :func:`decline`, :func:`transfer` (and its
  rule, :func:`check_transfer`), :func:`finish_wrap_up`, :func:`schedule_callback`,
  :func:`change_state`, :func:`logged_out`;
* ``router`` — :func:`route` and the offer; ``tick`` — the periodic pass, :func:`tick`;
* ``presence`` — the agents' state machine, console liveness and skills;
* ``queue`` — topic priorities, the routing event log (:func:`log_event`) and the live
  queue's Socket.IO view; ``signals`` — :data:`routing_event`, through which the log's events
  reach other packages (telephony's call log), connected by the application factory.

Imports go one way: presence ← queue (← signals) ← router ← contract, operations ← tick.
This package re-exports the public functions, so callers write ``routing.enqueue(...)``.

None of them commits: the caller's transaction (a webhook, a console request, a job) does, and
the Socket.IO events they publish are emitted only after that commit (``app.core.realtime``).

When the router runs: inside :func:`enqueue` and after every availability change (an agent
becomes available, declines, finishes wrap-up), in the same transaction, so a free agent rings
as soon as the caller's webhook commits; and periodically from :func:`tick` (offer time-outs,
wrap-up ends, consoles lost past the grace period, skill relaxation as items wait longer). The
tick is the rq cron job ``app.agents.tasks.tick`` (``rq cron app.agents.cron``-style config in
``app/agents/tasks.py``) or the ``run_router_loop`` thread; either may run in several processes.

Concurrency: the database holds the invariants (see ``app/agents/models.py``). An offer is made
by locking the item and the agent with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (so concurrent
routers never wait on each other and cannot deadlock) and then two conditional UPDATEs
(``status='waiting'`` → ``offered``; ``state='available'`` → ``offered``) inside a savepoint;
the partial unique index ``uq_work_items_agent_active`` rejects a second held item per agent.
A router that dies mid-offer leaves either nothing (its transaction is rolled back) or a
committed offer that times out after ``ROUTING_OFFER_TIMEOUT`` seconds and is offered again.
"""

from app.agents.routing.contract import cancel, complete, current_item, enqueue, position
from app.agents.routing.operations import (
    CONNECT_JOB,
    CallbackInPast,
    OfferGone,
    RoutingError,
    TransferRefused,
    accept,
    change_state,
    check_transfer,
    decline,
    finish_wrap_up,
    held_item,
    logged_out,
    requeue_offer,
    schedule_callback,
    transfer,
    withdraw_offer,
)
from app.agents.routing.queue import (
    CATEGORIES,
    DEFAULT_TOPIC_PRIORITY,
    GENERAL_PRIORITY,
    current_seq,
    item_payload,
    log_event,
    queue_changed,
    topic_priority,
)
from app.agents.routing.router import (
    Candidate,
    Waiting,
    available_agents,
    eligible,
    offer,
    relaxation_stage,
    route,
    route_safely,
    spoken_by,
    waiting_items,
)
from app.agents.routing.signals import has_own_savepoints, routing_event
from app.agents.routing.tick import expire_lost_consoles, expire_offers, tick

__all__ = [
    "CATEGORIES",
    "CONNECT_JOB",
    "DEFAULT_TOPIC_PRIORITY",
    "GENERAL_PRIORITY",
    "CallbackInPast",
    "Candidate",
    "OfferGone",
    "RoutingError",
    "TransferRefused",
    "Waiting",
    "accept",
    "available_agents",
    "cancel",
    "change_state",
    "check_transfer",
    "complete",
    "current_item",
    "current_seq",
    "decline",
    "eligible",
    "enqueue",
    "expire_lost_consoles",
    "expire_offers",
    "finish_wrap_up",
    "has_own_savepoints",
    "held_item",
    "item_payload",
    "log_event",
    "logged_out",
    "offer",
    "position",
    "queue_changed",
    "relaxation_stage",
    "requeue_offer",
    "route",
    "route_safely",
    "routing_event",
    "schedule_callback",
    "spoken_by",
    "tick",
    "topic_priority",
    "transfer",
    "waiting_items",
    "withdraw_offer",
]
