"""Control-message handlers belong to the app that the factory gave them to, not to the process."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.core import realtime
from config import TestingConfig

# Each test registers handlers on its app: a fresh one per test, not the session's shared app.
pytestmark = pytest.mark.own_app


def test_the_factory_gives_each_app_the_disconnect_handler(app):
    other = create_app(TestingConfig)
    assert "disconnect_user" in app.extensions["halopmi.control_handlers"]
    assert "disconnect_user" in other.extensions["halopmi.control_handlers"]


def test_a_handler_runs_for_its_own_app_only(app):
    seen: list[tuple[Flask, dict[str, Any]]] = []
    realtime.on_control(app, "test_op", lambda handled_by, data: seen.append((handled_by, data)))
    other = create_app(TestingConfig)
    app.config["REDIS_URL"] = other.config["REDIS_URL"] = None  # one process: handled here, at once

    realtime.send_control("test_op", {"n": 1})
    with other.app_context():
        realtime.send_control("test_op", {"n": 2})  # the other app has no such handler

    assert seen == [(app, {"n": 1})]


def test_a_second_handler_for_one_message_is_refused(app):
    realtime.on_control(app, "test_op", lambda handled_by, data: None)
    with pytest.raises(ValueError, match="test_op"):
        realtime.on_control(app, "test_op", lambda handled_by, data: None)
