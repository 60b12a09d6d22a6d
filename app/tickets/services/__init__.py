"""Tickets: the contract other packages call, and every rule about a ticket's life.

Contract (docs/call-flow.md): :func:`open_ticket`, :func:`link_call`, :func:`add_event`,
:func:`find_open_ticket_for`, and the :data:`~app.tickets.models.CATEGORIES` vocabulary.

One module per job, each importable on its own; this package names them all, so callers write
``from app.tickets import services`` and ``services.reply(...)``:

* :mod:`.errors` — what the rules answer when they refuse (``TicketError``, ``Conflict``).
* :mod:`.timeline` — loading a ticket, the ticket carrying its case, the append-only timeline.
* :mod:`.locking` — optimistic locking (``expected_version``, ``save``).
* :mod:`.opening` — opening a ticket; the open ticket a new contact belongs to.
* :mod:`.lifecycle` — status moves (:data:`TRANSITIONS`), assignment, replies, rating, merging.
* :mod:`.linking` — the member (matched, confirmed), the claim and the calls a ticket is about.
* :mod:`.tags` — tags and their suggestions.
* :mod:`.notify` — messages to the worker (outbox intents) and the carrier's delivery reports.
* :mod:`.public` — what the worker sees of her case, and following a case by its reference.
* :mod:`.search` — the workspace lists and counts.
* :mod:`.canned` — canned replies.
* :mod:`.workspace` — the agent workspace's pages, assembled for the routes.

Services never commit (the request or job does), except where the docstring says otherwise;
realtime ``ticket.updated`` is published after commit.
"""

from __future__ import annotations

from app.records.identifiers import IdentifierError
from app.tickets.models import CATEGORIES
from app.tickets.services.canned import (
    CANNED_FIELDS,
    add_canned_reply,
    canned_replies,
    canned_reply_errors,
    toggle_canned_reply,
)
from app.tickets.services.errors import Conflict, InvalidTransition, ReplyRefused, TicketError
from app.tickets.services.lifecycle import (
    TRANSITIONS,
    assign,
    bulk_assign,
    change_status,
    close_stale_resolved,
    merge,
    rate,
    record_conversation,
    reply,
    requester_reply,
    update_fields,
)
from app.tickets.services.linking import link_call, link_claim, link_member, member_id_by_kpj
from app.tickets.services.locking import changes_since, check_version, save
from app.tickets.services.notify import notify_callback_requested, notify_created, record_delivery
from app.tickets.services.opening import find_open_ticket_for, open_ticket
from app.tickets.services.public import (
    get_by_reference,
    public_attachment,
    public_timeline,
    reference_of,
    verify_requester,
)
from app.tickets.services.search import VIEWS, SearchQuery, open_counts, search_statement, search_tickets
from app.tickets.services.tags import TAG_MAX, normalize_tag, tag, tag_names
from app.tickets.services.timeline import add_event, effective, get_ticket, timeline
from app.tickets.services.workspace import (
    REVEALABLE,
    TicketList,
    TicketPage,
    assignment_message,
    find_ticket,
    mark_viewing,
    reveal,
    reveal_text,
    search_or_error,
    ticket_attachment,
    ticket_list,
    ticket_page,
)

__all__ = [
    "CANNED_FIELDS",
    "CATEGORIES",
    "REVEALABLE",
    "reveal_text",
    "TAG_MAX",
    "TRANSITIONS",
    "VIEWS",
    "Conflict",
    "IdentifierError",
    "InvalidTransition",
    "ReplyRefused",
    "SearchQuery",
    "TicketError",
    "TicketList",
    "TicketPage",
    "add_canned_reply",
    "add_event",
    "assign",
    "assignment_message",
    "bulk_assign",
    "canned_replies",
    "canned_reply_errors",
    "change_status",
    "changes_since",
    "check_version",
    "close_stale_resolved",
    "effective",
    "find_open_ticket_for",
    "find_ticket",
    "get_by_reference",
    "get_ticket",
    "link_call",
    "link_claim",
    "link_member",
    "mark_viewing",
    "member_id_by_kpj",
    "merge",
    "normalize_tag",
    "notify_callback_requested",
    "notify_created",
    "open_counts",
    "open_ticket",
    "public_attachment",
    "public_timeline",
    "rate",
    "record_conversation",
    "record_delivery",
    "reference_of",
    "reply",
    "requester_reply",
    "reveal",
    "save",
    "search_or_error",
    "search_statement",
    "search_tickets",
    "tag",
    "tag_names",
    "ticket_attachment",
    "ticket_list",
    "ticket_page",
    "timeline",
    "toggle_canned_reply",
    "update_fields",
    "verify_requester",
]
