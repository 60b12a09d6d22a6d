"""Rows inserted in the session's current transaction: nothing else can have changed them yet.

A service that re-reads columns other writers may have set (the SLA sweep's plain UPDATEs of a
ticket's warned/breached flags) can skip the read for a row it inserted itself in the same
transaction: no other transaction can see that row before the commit. The mark names the
transaction object, so it lapses with the commit (a session that lives on, as a worker's does,
re-reads the row in its next transaction).
"""

from __future__ import annotations

from sqlalchemy import inspect

from app.extensions import db

_KEY = "halopmi.inserted_in"  # in the instance's InstanceState.info


def mark_inserted(instance: object) -> None:
    """``instance`` was just inserted (flushed) in the session's current transaction."""
    inspect(instance).info[_KEY] = db.session().get_transaction()


def inserted_in_this_transaction(instance: object) -> bool:
    marked = inspect(instance).info.get(_KEY)
    return marked is not None and marked is db.session().get_transaction()
