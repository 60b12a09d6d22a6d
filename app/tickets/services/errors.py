"""What the ticket rules answer when they refuse: :class:`TicketError` (and its kinds) for a
request the rules do not allow, :class:`Conflict` for a caller whose copy of the ticket is stale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TicketError(ValueError):
    """A request the ticket rules refuse; ``code`` is stable, ``message`` is for people."""

    code = "ticket_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(TicketError):
    code = "invalid_transition"


class ReplyRefused(TicketError):
    code = "reply_refused"


@dataclass
class Conflict(Exception):
    """Someone saved the ticket after the caller loaded it (optimistic locking → HTTP 409)."""

    ticket_id: int
    expected_version: int | None
    current_version: int | None
    changes: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"ticket {self.ticket_id}: version {self.expected_version} is stale (now {self.current_version})"
        )
