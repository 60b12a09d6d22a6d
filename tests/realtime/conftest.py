"""Fixtures for the in-process realtime tests (Flask-SocketIO's test client).

Two things about the shared fixtures make the test client lie unless handled here:

* The test client refuses a server that has a message queue, and the shared ``app`` fixture
  configures one (Redis). ``queueless_socketio`` re-initialises the (global) SocketIO extension
  on the test's app with an in-process client manager. The cross-process tests do not use it:
  they go through Redis for real.
* The ``app`` fixture keeps an app context pushed for the whole test, and Flask 3.1 reuses it
  for every request made from the test's thread, so ``g`` is shared between requests: Flask-Login
  caches ``current_user`` there and Flask-WTF the CSRF token. A socket connect would then be
  judged on whoever last made a request, not on its cookie. :func:`in_fresh_context` runs a
  login or a connect in a new thread, which starts with no context, as a real request does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import socketio as socketio_lib
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIO, SocketIOTestClient

from app.core.realtime import STAFF_NAMESPACE
from app.extensions import socketio
from tests.conftest import Auth, csrf_token
from tests.live import staff_sockets, two_web_processes  # noqa: F401 - fixtures for this folder

T = TypeVar("T")


def in_fresh_context(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result(timeout=30)


@pytest.fixture
def queueless_socketio(app: Flask) -> Iterator[SocketIO]:
    socketio.init_app(
        app,
        async_mode="threading",
        client_manager=socketio_lib.Manager(),
        manage_session=False,
    )
    try:
        yield socketio
    finally:
        # init_app keeps an explicit client_manager in server_options, and a later
        # create_app without a message queue would silently reuse it.
        socketio.server_options.pop("client_manager", None)


class StaffClients:
    """Per-user HTTP clients and /staff test sockets, each request in a fresh context."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def http(self, user: Any = None) -> FlaskClient:
        """A new browser-like client, signed in as ``user`` when one is given."""
        client = self.app.test_client()
        if user is not None:
            self.login(client, user)
        return client

    def login(self, client: FlaskClient, user: Any) -> None:
        email = user.email  # read here: the user belongs to this thread's session

        def sign_in() -> None:
            token = csrf_token(client)
            response = client.post(
                "/login", data={"email": email, "password": Auth.password, "csrf_token": token}
            )
            assert response.status_code == 302, f"login as {email}: {response.status_code}"

        in_fresh_context(sign_in)

    def logout(self, client: FlaskClient) -> None:
        def sign_out() -> None:
            response = client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
            assert response.status_code == 302, f"logout: {response.status_code}"

        in_fresh_context(sign_out)

    def connect(self, client: FlaskClient) -> SocketIOTestClient:
        return in_fresh_context(
            socketio.test_client, self.app, namespace=STAFF_NAMESPACE, flask_test_client=client
        )

    def socket(self, user: Any) -> SocketIOTestClient:
        """A /staff socket of a freshly signed-in ``user``, with its greeting consumed."""
        socket_client = self.connect(self.http(user))
        assert socket_client.is_connected(STAFF_NAMESPACE), f"{user} was refused"
        socket_client.get_received(STAFF_NAMESPACE)
        return socket_client


@pytest.fixture
def staff_clients(app: Flask, queueless_socketio: SocketIO) -> StaffClients:
    return StaffClients(app)
