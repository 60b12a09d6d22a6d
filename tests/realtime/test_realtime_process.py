"""The production layout for real: consoles on a gevent realtime process, webhooks and pages on a
gthread web process with few threads, one Redis message queue between them (README, "Production
deployment").

Both are gunicorn processes started as the README starts them (``-k gthread … wsgi:app`` and
``-k gevent … wsgi_realtime:app``) on the test database and the session's Redis. An agent signs
in over HTTP on the web process and opens more console sockets on the realtime process than the
web process has threads (before, each console held a web thread, and the web process stopped
answering past its thread count). The web process still answers; an event it publishes reaches
every console through Redis; the realtime process refuses a socket without a session, closes a
user's consoles when told to (account deactivated or re-roled), and serves nothing but Socket.IO
and its health checks.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import requests
import socketio as socketio_client

from app.agents.models import AgentPresence
from app.agents.routing import presence as presence_svc
from app.core.realtime import send_control
from app.extensions import db
from config import TestingConfig
from tests.console.test_live_routing import console_post
from tests.live import (
    PASSWORD,
    USER_AGENT,
    Gunicorn,
    login_session,
    staff_user,
    wait_for_subscribers,
)

pytestmark = [pytest.mark.slow, pytest.mark.committed, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
WEB_THREADS = 4
CONSOLES = 150  # far more than WEB_THREADS (the case: 100 threads, the 101st console hung)


class Layout(NamedTuple):
    web: Gunicorn
    realtime: Gunicorn
    channel: str
    redis_url: str


@pytest.fixture
def production_layout(redis_url: str) -> Iterator[Layout]:
    channel = f"halopmi-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.pop("FLASK_RUN_FROM_CLI", None)
    env.update(
        HALOPMI_CONFIG="testing",
        TEST_DATABASE_URL=TestingConfig.SQLALCHEMY_DATABASE_URI,
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=channel,
        PYTHONUNBUFFERED="1",
    )
    web = Gunicorn("web", ["-k", "gthread", "--threads", str(WEB_THREADS)], "wsgi:app", env)
    realtime = Gunicorn(
        "realtime", ["-k", "gevent", "--worker-connections", "1000"], "wsgi_realtime:app", env
    )
    try:
        web.wait_ready()
        realtime.wait_ready()
        yield Layout(web, realtime, channel, redis_url)
    finally:
        realtime.stop()
        web.stop()


async def _open_consoles(url: str, cookie: str, count: int, clients: list[Any]) -> list[asyncio.Queue]:
    inboxes: list[asyncio.Queue] = []

    async def one() -> None:
        client = socketio_client.AsyncClient(reconnection=False)
        inbox: asyncio.Queue = asyncio.Queue()

        async def record(event: str, *args: Any) -> None:
            await inbox.put((event, args[0] if len(args) == 1 else args))

        client.on("*", record, namespace="/staff")
        clients.append(client)
        inboxes.append(inbox)
        # Bounded: a server out of threads accepts the TCP connection and never answers it.
        await asyncio.wait_for(
            client.connect(
                url,
                namespaces=["/staff"],
                headers={"Cookie": cookie, "User-Agent": USER_AGENT},
                transports=["websocket"],
                auth={"console": True},
                wait_timeout=30,
            ),
            45,
        )

    for start in range(0, count, 50):  # a reload storm of 50 at a time
        await asyncio.gather(*(one() for _ in range(start, min(count, start + 50))))
    return inboxes


async def _next(inbox: asyncio.Queue, event: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            name, data = await asyncio.wait_for(inbox.get(), remaining)
        except TimeoutError:
            break
        if name == event:
            return data
        seen.append(name)
    raise AssertionError(f"no {event!r} within {timeout}s (saw {seen})")


def _run_apart(scenario: Any) -> None:
    """asyncio.run in a thread of its own: in the full suite Playwright's sync API already runs an
    event loop in the main thread, and asyncio.run refuses to start a second one there. The
    thread runs in a copy of this one's context (the app context the scenario uses)."""
    failure: list[BaseException] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            context.run(asyncio.run, scenario())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="consoles")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_consoles_on_the_realtime_process_leave_the_web_threads_to_webhooks(app, production_layout: Layout):
    web, realtime, channel, redis_url = production_layout
    agent = staff_user("agent")
    presence_svc.set_skills(agent.id, languages=["id"])
    db.session.commit()
    agent_id = agent.id
    http = login_session(web.url, agent.email, PASSWORD)  # signed in on the web process
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)

    async def scenario() -> None:
        # Roles on every socket: without a session the realtime process refuses the console.
        anonymous = socketio_client.AsyncClient(reconnection=False)
        with pytest.raises(socketio_client.exceptions.ConnectionError):
            await anonymous.connect(
                realtime.url,
                namespaces=["/staff"],
                transports=["websocket"],
                auth={"console": True},
                wait_timeout=10,
            )
        await anonymous.shutdown()

        clients: list[Any] = []
        try:
            inboxes = await _open_consoles(realtime.url, cookie, CONSOLES, clients)
            hellos = await asyncio.gather(*(_next(inbox, "hello") for inbox in inboxes))
            assert all(h["console"] is True and h["user_id"] == agent_id for h in hellos)
            assert "queue:id" in hellos[0]["rooms"]

            # The web process, with WEB_THREADS threads, answers while CONSOLES consoles are open.
            health = await asyncio.to_thread(requests.get, web.url + "/healthz", timeout=10)
            assert health.status_code == 200
            assert (
                await asyncio.to_thread(requests.get, realtime.url + "/healthz", timeout=10)
            ).status_code == 200
            # Pages and webhooks are not served by the realtime process.
            for path in ("/login", "/console/", "/telephony/voice/inbound"):
                response = await asyncio.to_thread(requests.get, realtime.url + path, timeout=10)
                assert response.status_code == 404, path

            # An event the web process publishes (the agent goes available) reaches every
            # console on the realtime process through Redis.
            await asyncio.to_thread(wait_for_subscribers, redis_url, channel, 1)
            posted = await asyncio.to_thread(
                console_post, http, web.url, "api/presence", {"state": "available"}
            )
            assert posted.status_code == 200, posted.text
            changes = await asyncio.gather(*(_next(inbox, "presence.changed") for inbox in inboxes))
            assert {change["state"] for change in changes} == {"available"}
            assert len(changes) == CONSOLES

            # Roles stay enforced there: "disconnect this user" (what deactivating or re-roling an
            # account sends every process holding sockets) closes each console on the realtime
            # process.
            app.config["SOCKETIO_CHANNEL"] = channel
            send_control("disconnect_user", {"user_id": agent_id})
            deadline = time.monotonic() + 20
            while any(client.connected for client in clients) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not any(client.connected for client in clients), "consoles left open after disconnect_user"
        finally:
            await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)

    _run_apart(scenario)

    # The realtime process did the console's database work (presence marked, under gevent).
    db.session.expire_all()
    presence = db.session.get(AgentPresence, agent_id)
    assert presence is not None and presence.console_seen_at is not None
    assert realtime.process.poll() is None and web.process.poll() is None
