"""Insert a row once, in one statement: ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING``.

Webhooks are idempotent by a unique key (a CallSid, a call-log fact's key, a provider event's
key). Asking first and inserting inside a SAVEPOINT costs four round trips and two ORM flushes
per row (SELECT, SAVEPOINT, INSERT, RELEASE): most of a webhook's time on the profile of
``bench/bench_webhooks.py``. PostgreSQL and SQLite (3.35+) both take the conflict clause, and
SQLAlchemy's ORM-enabled INSERT returns the stored row as a persistent instance.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db

M = TypeVar("M")

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_once(instance: M, *, unique: str) -> M | None:
    """See :func:`stored_once`; returns the stored row as a persistent instance, or None."""
    values, model = _values(instance)
    statement = _statement(model, unique, db.session.get_bind().dialect.name, True)
    # The values go as parameters, not into the statement: one compiled statement per model
    # and dialect, from SQLAlchemy's cache (values in the statement made a new cache key each time).
    return db.session.scalars(statement, [values]).first()


def stored_once(instance: object, *, unique: str) -> bool:
    """Store the new, unsaved ``instance`` unless a row with the same ``unique`` column exists.

    Returns whether it was stored: False when the key was already there, concurrently inserted
    transactions included (the database decides, nothing is asked first). The column values are
    those set on ``instance`` (its validators have run); the columns' defaults fill the rest, as
    on a flush. Cheaper than :func:`insert_once` when the caller needs no instance back.
    """
    values, model = _values(instance)
    statement = _statement(model, unique, db.session.get_bind().dialect.name, False)
    return db.session.execute(statement, values).first() is not None


def _values(instance: Any) -> tuple[dict[str, Any], type]:
    state = inspect(instance)
    values = {
        attr.key: getattr(instance, attr.key)
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }
    return values, type(instance)


@functools.cache
def _statement(model: Any, unique: str, dialect: str, load: bool) -> Any:
    make = _INSERTS.get(dialect)
    if make is None:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"insert_once: no conflict clause for {dialect}")
    if load:  # an ORM INSERT: the stored row comes back as an instance
        return make(model).on_conflict_do_nothing(index_elements=[unique]).returning(model)
    table = model.__table__  # a Core INSERT: only whether a row was stored
    return make(table).on_conflict_do_nothing(index_elements=[unique]).returning(table.c[unique])
