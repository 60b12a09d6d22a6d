"""Insert a row once, in one statement: ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING``.

Webhooks are idempotent by a unique key (a CallSid, a call-log fact's key, a provider event's
key). Asking first and inserting inside a SAVEPOINT costs four round trips and two ORM flushes
per row (SELECT, SAVEPOINT, INSERT, RELEASE): most of a webhook's time on the profile of
``bench/bench_webhooks.py``. PostgreSQL and SQLite (3.35+) both take the conflict clause, and
SQLAlchemy's ORM-enabled INSERT returns the stored row as a persistent instance.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db

M = TypeVar("M")

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_once(instance: M, *, unique: str) -> M | None:
    """Store the new, unsaved ``instance`` unless a row with the same ``unique`` column exists.

    Returns the stored row (a persistent instance in the session, not ``instance`` itself) or
    None when the key was already there, concurrently inserted transactions included: the
    database decides, nothing is asked first. The column values are those set on ``instance``
    (its validators have run); the columns' defaults fill the rest, as on a flush.
    """
    model = type(instance)
    state = inspect(instance)
    values = {
        attr.key: getattr(instance, attr.key)
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }
    dialect = db.session.get_bind().dialect.name
    make = _INSERTS.get(dialect)
    if make is None:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"insert_once: no conflict clause for {dialect}")
    statement = make(model).values(**values).on_conflict_do_nothing(index_elements=[unique]).returning(model)
    return db.session.scalars(statement).first()
