"""Test layers: app → client → db → per-role login helpers → factories, and real services.

The database is ``TEST_DATABASE_URL`` (SQLite by default; PostgreSQL in CI). Redis is
``TEST_REDIS_URL`` or a private embedded redis-server. Tests marked ``postgres`` need
PostgreSQL and are deselected on a SQLite run (CI runs the suite on both).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from config import TestingConfig
from tests.services import RedisServer

IS_POSTGRES = TestingConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql")
# HALOPMI_TEST_CLOCK_SHIFT_DAYS=N runs the suite as if today were N days later (or earlier), so
# a test that only passes on some dates shows itself now rather than when the calendar gets
# there (see docs/testing.md). Server processes started by tests.live apply the same shift.
CLOCK_SHIFT_DAYS = float(os.environ.get("HALOPMI_TEST_CLOCK_SHIFT_DAYS") or 0)


def shifted_clock() -> Any:
    """A running clock moved by ``CLOCK_SHIFT_DAYS`` (a context manager), or None without one."""
    if not CLOCK_SHIFT_DAYS:
        return None
    import time_machine

    return time_machine.travel(datetime.now(UTC) + timedelta(days=CLOCK_SHIFT_DAYS), tick=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (row locks, concurrency)")
    config.addinivalue_line("markers", "browser: drives real Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture(scope="session", autouse=True)
def _clock_shift() -> Iterator[None]:
    traveller = shifted_clock()
    if traveller is None:
        yield
        return
    with traveller:
        yield


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _schema(redis_url: str) -> Iterator[None]:
    app = create_app(TestingConfig, REDIS_URL=redis_url)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _empty_tables() -> None:
    _db.session.rollback()
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


@pytest.fixture
def app(_schema: None, redis_url: str) -> Iterator[Flask]:
    app = create_app(
        TestingConfig,
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=f"halopmi-test-{uuid.uuid4().hex[:8]}",
    )
    with app.app_context():
        yield app
        _empty_tables()
        _db.session.remove()
        _db.engine.dispose()
    limiter.reset()


class RequestScopedClient(FlaskClient):
    """Each request gets its own application context, as in production.

    The ``app`` fixture keeps a context pushed for the test, and Flask would reuse it for
    requests: ``g`` (Flask-Login's cached ``current_user``) and the database session would then
    outlive a request and be shared by two clients.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestScopedClient
    return app.test_client()


@pytest.fixture
def db(app: Flask):  # type: ignore[no-untyped-def]
    return _db


@pytest.fixture
def redis_conn(app: Flask) -> Iterator[redis_lib.Redis]:
    connection = redis_lib.Redis.from_url(app.config["REDIS_URL"])
    connection.flushdb()
    yield connection
    connection.flushdb()


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """A CSRF token as a browser would get it: from a rendered page."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


class Auth:
    """Log in as a role through the real login form (CSRF included)."""

    password = "correct horse battery"  # noqa: S105 - test credential

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def user(self, role: str = "agent", **kwargs):  # type: ignore[no-untyped-def]
        from tests.factories import make_user

        return make_user(role=role, password=self.password, **kwargs)

    def login(self, user) -> None:  # type: ignore[no-untyped-def]
        token = csrf_token(self.client)
        response = self.client.post(
            "/login", data={"email": user.email, "password": self.password, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def login_as(self, role: str = "agent", **kwargs):  # type: ignore[no-untyped-def]
        user = self.user(role, **kwargs)
        self.login(user)
        return user

    def logout(self) -> None:
        token = csrf_token(self.client, "/staff/")
        self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)
