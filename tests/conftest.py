"""Test layers: app → client → db → per-role login helpers → factories, and real services.

The database is ``TEST_DATABASE_URL`` (SQLite by default; PostgreSQL in CI). Redis is
``TEST_REDIS_URL`` or a private embedded redis-server. Tests marked ``postgres`` need
PostgreSQL and are deselected on a SQLite run; tests marked ``database_independent`` (their own
SQLite file) are deselected on a PostgreSQL run. CI runs the suite on both.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.agents.events import CONSOLE_SOCKETS_KEY
from app.core import crypto
from app.core.realtime import _CONTROL_LISTENER_KEY
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
    config.addinivalue_line(
        "markers",
        "database_independent: uses its own SQLite file, not TEST_DATABASE_URL; runs once, in the "
        "SQLite run (CI runs the suite on both databases)",
    )
    config.addinivalue_line(
        "markers",
        "committed: commits for real on a fresh app, tables emptied after (live servers, other "
        "threads, processes or connections); other tests run in a rolled-back transaction",
    )
    config.addinivalue_line(
        "markers", "own_app: a fresh app for the test (adds routes, or settings read at creation)"
    )
    compile_catalogues()


def compile_catalogues() -> None:
    """Compile app/translations/*/messages.po to .mo where stale, so plain ``pytest`` reads them."""
    from run import compile_translations

    compile_translations()


# The run that takes the ``database_independent`` tests (they never touch the test database, so a
# second run would repeat the first): SQLite by default; CI, running both suites at once, gives
# them to the PostgreSQL run to balance the two (see .ci/run).
ONCE_ON = os.environ.get("TEST_ONCE_ON", "sqlite")


@pytest.hookimpl(tryfirst=True)  # browser marks added before `-m` selects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:  # whatever its module says: a test that drives Chromium is a browser test
        if "browser" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)
    this_run = "postgresql" if IS_POSTGRES else "sqlite"
    unwanted = {"postgres"} if not IS_POSTGRES else set()
    if ONCE_ON != this_run:
        unwanted.add("database_independent")
    deselected = [item for item in items if any(item.get_closest_marker(name) for name in unwanted)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        dropped = set(deselected)
        items[:] = [item for item in items if item not in dropped]


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
def _session_app(redis_url: str) -> Iterator[Flask]:
    """One app for the session, on a freshly created schema (see :func:`app`)."""
    app = create_app(
        TestingConfig,
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=f"halopmi-test-{uuid.uuid4().hex[:8]}",
    )
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def _schema(_session_app: Flask) -> None:
    """The schema exists (for fixtures that start their own server processes)."""


def _empty_tables() -> None:
    _db.session.rollback()
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        # TRUNCATE of every table took 0.5-1 s per committed test; most tests fill a few. One
        # query finds those, and one puts every sequence back to its start (what RESTART
        # IDENTITY did): ~10-60 ms.
        probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables)
        filled = list(_db.session.execute(text(probe)).scalars())
        if filled:
            _db.session.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        _db.session.execute(
            text(
                "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s"
                " JOIN pg_class c ON c.oid = s.seqrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
            )
        )
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


# Fixtures whose users read the database from another thread, process or connection: a test
# that uses one gets a committed (real) transaction and a fresh app, as if marked ``committed``.
COMMITTED_FIXTURES = frozenset({"live_server", "two_web_processes", "queueless_socketio", "page"})


def needs_commits(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("committed") is not None or bool(
        COMMITTED_FIXTURES.intersection(request.fixturenames)
    )


class _Rollback:
    """Every ``db.session`` of this thread, in any app context, joins one connection's transaction.

    Application code commits as usual: with ``join_transaction_mode="create_savepoint"`` a
    session's commit releases a SAVEPOINT inside the test's transaction, which is rolled back at
    the end. Flask-SQLAlchemy scopes sessions per app context (and the test client pushes one per
    request), so the binding is made on the session factory, for every session the test thread
    creates; other threads keep the engine (they would not see uncommitted rows anyway: such
    tests are marked ``committed``).
    """

    def __init__(self, held: _Rollback | None = None) -> None:
        self.factory = _db.session.session_factory
        self.held = held
        if held is not None:
            # Inside a module's held transaction (see :func:`held_data`): a SAVEPOINT of its own.
            self.connection = held.connection
            self.sqlite = held.sqlite
            self.transaction = self.connection.begin_nested()
        else:
            engine = _db.engine
            self.connection = engine.connect()
            self.sqlite = engine.dialect.name == "sqlite"
            raw = self.connection.connection.dbapi_connection
            if self.sqlite:
                # pysqlite opens transactions itself (and not for SAVEPOINT); take over, as
                # SQLAlchemy's "Serializable isolation / Savepoints" recipe for pysqlite does.
                raw.isolation_level = None  # type: ignore[union-attr]
            self.transaction = self.connection.begin()
            if self.sqlite:
                self.connection.exec_driver_sql("BEGIN")
        self.saved_kw = dict(self.factory.kw)
        self.factory.configure(join_transaction_mode="create_savepoint")
        thread = threading.get_ident()
        connection = self.connection
        original = self.factory.class_.get_bind

        def get_bind(session: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == thread:
                return connection
            return original(session, *args, **kwargs)

        self.factory.class_.get_bind = get_bind  # type: ignore[method-assign]
        self.bound = True

    def unbind(self) -> None:
        """Sessions back to Flask-SQLAlchemy's binding; the transaction stays open."""
        if self.bound:
            del self.factory.class_.get_bind  # back to Flask-SQLAlchemy's
            self.factory.kw.clear()
            self.factory.kw.update(self.saved_kw)
            self.bound = False

    def close(self) -> None:
        self.unbind()
        if self.transaction.is_active:
            self.transaction.rollback()
        if self.held is not None:
            return  # the module's connection and transaction stay
        if self.sqlite:
            self.connection.connection.dbapi_connection.isolation_level = ""  # type: ignore[union-attr]
        self.connection.close()


# Data seeded once for a module (see :func:`held_data`), by fixture name, while it is held.
_HELD: dict[str, _Rollback] = {}


class _Holding:
    def __init__(self, name: str) -> None:
        self.name = name
        self.hold = _Rollback()

    def seeded(self) -> None:
        """The data is in: from here on each test that requests the fixture gets a SAVEPOINT."""
        _db.session.remove()
        self.hold.unbind()
        _HELD[self.name] = self.hold


@contextmanager
def held_data(name: str, app: Flask, process_state: _ProcessState) -> Iterator[_Holding]:
    """Seed data once for the tests of a module that request the fixture ``name``.

    For a module-scoped fixture whose tests read the same slow-to-make data (a demo seed, tens of
    thousands of rows for the query planner)::

        @pytest.fixture(scope="module")
        def demo(_session_app, _process_state):
            with held_data("demo", _session_app, _process_state) as holding:
                report = seed(...)
                holding.seeded()
                yield report

    The seed runs in a transaction on one connection, held until the fixture ends (the end of
    the module) and then rolled back. Each test that requests the fixture runs, as usual, in a
    rolled-back transaction: a SAVEPOINT inside the held one, so what a test writes is gone
    before the next test starts. A test that does not request the fixture, or needs commits,
    while the data is held is an error rather than a silent wait on SQLite's lock (give it its
    own module or class). ``app.config`` and added extension state are put back at the end.
    """
    process_state.restore()
    config = dict(app.config)
    extensions = dict(app.extensions)
    with app.app_context():
        holding = _Holding(name)
        try:
            yield holding
        finally:
            _HELD.pop(name, None)
            _db.session.remove()
            holding.hold.close()
    app.config.clear()
    app.config.update(config)
    for key in set(app.extensions) - set(extensions):
        if not key.startswith(_CONTROL_LISTENER_KEY):
            app.extensions.pop(key)
    limiter.reset()


def _fresh_app(redis_url: str) -> Flask:
    return create_app(
        TestingConfig,
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=f"halopmi-test-{uuid.uuid4().hex[:8]}",
    )


class _ProcessState:
    """What a test may change beyond app.config (the app's PII cipher, the process's root
    logger): put back for the session's app after each test (a key-rotation test gives the app
    other keys; another app's create_app sets other log settings)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        root = logging.getLogger()
        self.handlers = list(root.handlers)
        self.level = root.level

    def restore(self) -> None:
        crypto.init_app(self.app)  # from its own (restored) PII_ENCRYPTION_KEYS and PII_HASH_KEY
        root = logging.getLogger()
        if root.handlers != self.handlers or root.level != self.level:
            for handler in list(root.handlers):
                if getattr(handler, "_halopmi", False):
                    root.removeHandler(handler)
            for handler in self.handlers:
                if handler not in root.handlers:
                    root.addHandler(handler)
            root.setLevel(self.level)


@pytest.fixture(scope="session")
def _process_state(_session_app: Flask) -> _ProcessState:
    return _ProcessState(_session_app)


@pytest.fixture
def app(
    request: pytest.FixtureRequest, _session_app: Flask, _process_state: _ProcessState, redis_url: str
) -> Iterator[Flask]:
    """The app, with an app context pushed for the test.

    By default the session's app, each test in a transaction rolled back at its end (no app to
    build, no table to empty); ``app.config`` and the app's extension state are put back
    afterwards, so a test may change settings. Two opt-outs (markers):

    * ``committed`` (or a fixture in ``COMMITTED_FIXTURES``): data committed for real, for a live
      server, other threads, processes or connections; a fresh app, and the tables are emptied.
    * ``own_app``: a fresh app (a test that adds routes or needs settings read by create_app),
      still in a rolled-back transaction.
    """
    held = [_HELD[name] for name in request.fixturenames if name in _HELD]
    own = request.node.get_closest_marker("own_app") is not None
    if _HELD and (len(held) != 1 or own or needs_commits(request)):
        pytest.fail(
            f"{request.node.nodeid} runs while {sorted(_HELD)} is held for its module (see held_data)"
            " but does not use it (or uses two), needs commits or its own app: give it its own module"
        )
    if needs_commits(request):
        app = _fresh_app(redis_url)
        with app.app_context():
            yield app
            # A console socket whose disconnect the stopped live server never handled would keep
            # this app's heartbeat writing presence every few seconds for the rest of the run,
            # from its own connection: on SQLite a second writer that can deadlock a later
            # test's transaction for the whole 30 s busy timeout. Its next beat sees it is gone.
            stale = app.extensions.pop(CONSOLE_SOCKETS_KEY, None)
            if stale is not None:
                stale.sids.clear()
            _empty_tables()
            _db.session.remove()
            _db.engine.dispose()
        limiter.reset()
        return

    if own:
        app = _fresh_app(redis_url)
    else:
        app = _session_app
        _process_state.restore()
    config = dict(app.config)
    extensions = dict(app.extensions)
    with app.app_context():
        rollback = _Rollback(held[0] if held else None)
        try:
            yield app
        finally:
            _db.session.remove()
            rollback.close()
            if own:
                _db.engine.dispose()
    if not own:
        app.config.clear()
        app.config.update(config)
        for key in set(app.extensions) - set(extensions):
            if not key.startswith(_CONTROL_LISTENER_KEY):  # a subscribed thread: kept with the app
                stale = app.extensions.pop(key)
                if key == CONSOLE_SOCKETS_KEY:  # its heartbeat stops at its next beat
                    stale.sids.clear()
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
