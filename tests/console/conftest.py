"""Console fixtures: signed-in agents and JSON calls with the CSRF token from the console page."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import csrf_token
from tests.live import staff_sockets, two_web_processes  # noqa: F401 - fixtures for this folder
from tests.routing.conftest import agent_factory, later, make_agent  # noqa: F401 - fixtures


class ConsoleApi:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token(self.client, "/console/")
        return self._token

    def get(self, path: str) -> Any:
        return self.client.get("/console/" + path, headers={"Accept": "application/json"})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            "/console/" + path,
            json=body or {},
            headers={"X-CSRFToken": self.token(), "Accept": "application/json"},
        )


@pytest.fixture
def console(client: FlaskClient) -> ConsoleApi:
    return ConsoleApi(client)
