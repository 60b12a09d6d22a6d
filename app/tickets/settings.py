"""The ticket settings the rules read, each with its default (outside an app: the default)."""

from __future__ import annotations

from flask import current_app, has_app_context

DEFAULT_REOPEN_DAYS = 7
DEFAULT_REUSE_DAYS = 7
DEFAULT_RETENTION_DAYS = 1825
DEFAULT_RETENTION_BATCH = 200


def _setting(name: str, default: int) -> int:
    if has_app_context():
        return int(current_app.config.get(name, default))
    return default


def reopen_days() -> int:
    """``TICKETS_REOPEN_DAYS``: how long after resolution a worker's reply reopens the case."""
    return _setting("TICKETS_REOPEN_DAYS", DEFAULT_REOPEN_DAYS)


def reuse_days() -> int:
    """``TICKETS_REUSE_DAYS``: how recently active an open ticket must be to take a new contact
    from the same member or phone."""
    return _setting("TICKETS_REUSE_DAYS", DEFAULT_REUSE_DAYS)


def retention_days() -> int:
    """``TICKETS_RETENTION_DAYS``: how long after closing the requester's data is kept (0 or
    less: forever)."""
    return _setting("TICKETS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)


def retention_batch() -> int:
    """``TICKETS_RETENTION_BATCH``: at most this many tickets erased per housekeeping pass."""
    return _setting("TICKETS_RETENTION_BATCH", DEFAULT_RETENTION_BATCH)
