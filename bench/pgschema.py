"""Shared by the PostgreSQL benchmarks: the app on a private schema, created fresh and dropped.

    with bench_app("halopmi_bench_x") as app: ...   # BENCH_DATABASE_URL must name PostgreSQL

Nothing outside that schema is touched; the tables are created from the models (with their
real indexes), so a benchmark measures the schema the application uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from config import TestingConfig  # noqa: E402


def database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@contextmanager
def bench_app(schema: str) -> Iterator[Flask]:
    """An app context on a fresh ``schema`` (tables from the models), dropped afterwards."""
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url(),
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
    )
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        db.create_all()
        try:
            yield app
        finally:
            db.session.rollback()
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            db.engine.dispose()


def vacuum_analyze(table: str = "") -> None:
    """VACUUM cannot run in a transaction: an autocommit connection of its own."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {table}".strip()))
