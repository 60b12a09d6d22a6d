"""Routing events across real processes: two web processes and a worker share one Redis.

The test process plays an rq worker (write-only emitter) that enqueues a call; the agent's
console socket is on web process A, the supervisor's on B, and the agent acts over HTTP on B.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from app.agents import routing
from app.agents.models import AgentPresence
from app.agents.routing import presence as presence_svc
from app.core.realtime import use_write_only_emitter
from app.extensions import db
from tests.live import PASSWORD, USER_AGENT, StaffSocket, WebProcesses, login_session, staff_user

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("app")]
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class ConsoleSocket(StaffSocket):
    """A /staff client that announces itself as an agent console, as console/socket.js does."""

    def connect(self, timeout: float = 10.0) -> ConsoleSocket:
        headers = {"User-Agent": USER_AGENT}
        if self.session is not None:
            headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        self.sio.connect(
            self.base_url,
            namespaces=[self.namespace],
            headers=headers,
            transports=[self.transport],
            wait_timeout=timeout,
            auth={"console": True},
        )
        return self


def console_post(
    session: requests.Session, base_url: str, path: str, body: dict[str, Any]
) -> requests.Response:
    page = session.get(base_url + "/console/", timeout=10)
    match = _CSRF_META.search(page.text)
    assert match, f"no CSRF token on the console page ({page.status_code})"
    return session.post(
        base_url + "/console/" + path,
        json=body,
        timeout=10,
        headers={"X-CSRFToken": match.group(1), "Accept": "application/json"},
    )


def test_an_offer_from_a_worker_rings_the_console_on_another_process(
    app, two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    agent = staff_user("agent")
    presence_svc.set_skills(agent.id, languages=["id"])
    supervisor = staff_user("supervisor")
    db.session.commit()
    agent_http = login_session(web.b.url, agent.email, PASSWORD)
    agent_console = ConsoleSocket(web.a.url, login_session(web.a.url, agent.email, PASSWORD)).connect()
    supervisor_socket = staff_sockets(web.b.url, login_session(web.b.url, supervisor.email, PASSWORD))
    try:
        hello = agent_console.wait_for("hello")
        assert hello["console"] is True and "queue:id" in hello["rooms"]
        supervisor_socket.wait_for("hello")
        db.session.expire_all()
        assert db.session.get(AgentPresence, agent.id).console_seen_at is not None  # type: ignore[union-attr]

        # The agent goes available through web process B; A's socket hears about it.
        assert console_post(agent_http, web.b.url, "api/presence", {"state": "available"}).status_code == 200
        changed = agent_console.wait_for("presence.changed", where=lambda d: d["state"] == "available")
        assert changed["version"] >= 2

        # A worker (this process, write-only emitter on the shared channel) enqueues a call.
        app.config["SOCKETIO_CHANNEL"] = web.channel
        use_write_only_emitter(app)
        work = routing.enqueue("call", 4242, language="id", topic="claim_jht", country="MY")
        db.session.commit()

        offer = agent_console.wait_for("offer")
        assert offer["work_item"]["id"] == work.id and offer["version"] == work.version
        update = supervisor_socket.wait_for("queue.updated", where=lambda d: d["change"] == "offered")
        assert update["item"]["id"] == work.id and update["seq"] == routing.current_seq()

        # Accept over HTTP on B: the console on A sees its state change to on_call.
        assert console_post(agent_http, web.b.url, f"api/work/{work.id}/accept", {}).status_code == 200
        on_call = agent_console.wait_for("presence.changed", where=lambda d: d["state"] == "on_call")
        assert on_call["version"] > changed["version"]
    finally:
        agent_console.close()
