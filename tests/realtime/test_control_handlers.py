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


def test_a_redis_outage_is_one_line_in_the_log_and_other_errors_keep_their_traceback(
    app, caplog, monkeypatch
):
    """Stopping the embedded default (its Redis goes first) printed a 60-line traceback from
    the control listener; an outage is expected and says itself in one line."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    monkeypatch.setattr(realtime.time, "sleep", lambda _seconds: None)
    answers: list[Any] = [RedisConnectionError("Connection refused"), None, ValueError("a bug")]

    class PubSub:
        def get_message(self, timeout: float) -> Any:
            answer = answers.pop(0) if answers else None
            if isinstance(answer, Exception):
                raise answer
            return answer

        def subscribe(self, channel: str) -> None:
            pass

        def close(self) -> None:
            pass

    refs = iter([app, app, app, app, None])
    with caplog.at_level("WARNING", logger="app.core.realtime"):
        realtime._listen(lambda: next(refs), PubSub(), "chan")
    lost = [r for r in caplog.records if "control listener lost Redis" in r.getMessage()]
    assert len(lost) == 2
    assert "Connection refused" in lost[0].getMessage() and not lost[0].exc_info
    assert lost[1].exc_info and "a bug" in lost[1].getMessage()
