"""Insert a row once, in one statement: ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING``.

Webhooks are idempotent by a unique key (a CallSid, a call-log fact's key, a provider event's
key). Asking first and inserting inside a SAVEPOINT costs four round trips and two ORM flushes
per row (SELECT, SAVEPOINT, INSERT, RELEASE): most of a webhook's time on the profile of
``bench/bench_webhooks.py``. PostgreSQL and SQLite (3.35+) both take the conflict clause, and
:func:`insert_once` hands back the caller's own instance, made persistent, rather than an ORM
``INSERT … RETURNING <model>``: that loaded every column of the new row back (a call's 28, the
encrypted ones decrypted again) and was a third of an inbound webhook's CPU on the profile. Only
the primary key and the columns whose defaults were left to the INSERT come back.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db

M = TypeVar("M")

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_once(instance: M, *, unique: str | tuple[str, ...], where: str | None = None) -> M | None:
    """See :func:`stored_once`; returns ``instance`` itself, now persistent in the session (its
    primary key and column defaults filled in as stored), or None when the key was there.

    ``unique`` may name several columns, and ``where`` the predicate of a partial unique index
    (SQL text, as the index declares it): "one live work item per call" is such an index."""
    values, model = _values(instance)
    returned = _returned(model, frozenset(values))
    statement = _statement(model, unique, db.session.get_bind().dialect.name, returned, where)
    row = db.session.execute(statement, values).first()
    if row is None:
        return None
    state = inspect(instance)
    for key, value in zip(returned, row, strict=True):
        set_committed_value(instance, key, value)
    for attr in state.mapper.column_attrs:  # neither given nor defaulted: stored as NULL
        if attr.key not in state.dict:
            set_committed_value(instance, attr.key, None)
    # As if just loaded: no pending changes, its identity known; the session then holds it like
    # any row it has read (later changes are flushed as UPDATEs).
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def stored_once(instance: object, *, unique: str) -> bool:
    """Store the new, unsaved ``instance`` unless a row with the same ``unique`` column exists.

    Returns whether it was stored: False when the key was already there, concurrently inserted
    transactions included (the database decides, nothing is asked first). The column values are
    those set on ``instance`` (its validators have run); the columns' defaults fill the rest, as
    on a flush. Cheaper than :func:`insert_once` when the caller needs no instance back.
    """
    values, model = _values(instance)
    statement = _statement(model, unique, db.session.get_bind().dialect.name, None)
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
def _returned(model: Any, given: frozenset[str]) -> tuple[str, ...]:
    """The attributes the INSERT itself fills: the primary key and the columns with a default that
    were not given (one tuple per model and set of given columns, so statements stay cached)."""
    mapper = inspect(model)
    keys = []
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if attr.key in given:
            continue
        if column.primary_key or column.default is not None or column.server_default is not None:
            keys.append(attr.key)
    return tuple(keys)


@functools.cache
def _statement(
    model: Any, unique: str | tuple[str, ...], dialect: str, returned: tuple[str, ...] | None, where: str | None = None
) -> Any:
    make = _INSERTS.get(dialect)
    if make is None:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"insert_once: no conflict clause for {dialect}")
    table = model.__table__
    mapper = inspect(model)
    columns = [unique] if isinstance(unique, str) else list(unique)
    insert = make(table).on_conflict_do_nothing(
        index_elements=columns, index_where=text(where) if where is not None else None
    )
    if returned is None:  # only whether a row was stored
        return insert.returning(table.c[columns[0]])
    return insert.returning(*(mapper.column_attrs[key].columns[0] for key in returned))
