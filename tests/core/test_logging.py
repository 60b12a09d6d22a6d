"""Logs: one JSON object per line, with the request id; personal data masked."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask

from app import create_app
from config import TestingConfig

PHONE = "+6281234567890"
NIK = "3201015705900001"
EMAIL = "siti.aminah@example.com"


@pytest.fixture
def json_app(redis_url):  # type: ignore[no-untyped-def]
    app = create_app(TestingConfig, REDIS_URL=redis_url, LOG_FORMAT="json", LOG_LEVEL="INFO")

    @app.get("/_test/log")
    def log_something():  # type: ignore[no-untyped-def]
        logging.getLogger("halopmi.test").warning("caller %s with NIK %s wrote from %s", PHONE, NIK, EMAIL)
        return "logged"

    return app


@pytest.fixture
def log_stream(json_app: Flask) -> io.StringIO:
    """Point the app's own log handler at a buffer (it keeps its formatter and filters)."""
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_halopmi", False)]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_log_line_is_a_json_object_with_the_request_id(json_app, log_stream):
    response = json_app.test_client().get("/_test/log", headers={"X-Request-ID": "req-abc-12345"})
    assert response.status_code == 200
    records = lines(log_stream)
    assert {r["logger"] for r in records} >= {"halopmi.test", "halopmi.access"}
    for record in records:
        assert record["request_id"] == "req-abc-12345"
        assert {"ts", "level", "logger", "msg"} <= set(record)
    [access] = [r for r in records if r["logger"] == "halopmi.access"]
    assert access["msg"] == "GET /_test/log 200"
    assert access["status"] == 200


def test_request_id_header_is_echoed(json_app, log_stream):
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": "req-abc-12345"})
    assert response.headers["X-Request-ID"] == "req-abc-12345"


@pytest.mark.parametrize("incoming", [None, "short", "x" * 65, "bad-ünicode-id"])
def test_a_missing_or_unusable_request_id_is_replaced(json_app, log_stream, incoming):
    headers = {"X-Request-ID": incoming} if incoming else {}
    response = json_app.test_client().get("/healthz", headers=headers)
    generated = response.headers["X-Request-ID"]
    assert generated and generated != incoming
    assert len(generated) == 32
    assert lines(log_stream)[-1]["request_id"] == generated


def test_phone_nik_and_email_are_masked_in_log_lines(json_app, log_stream):
    json_app.test_client().get("/_test/log")
    output = log_stream.getvalue()
    for secret in (PHONE, PHONE[1:], NIK, EMAIL, "siti.aminah"):
        assert secret not in output
    [record] = [r for r in lines(log_stream) if r["logger"] == "halopmi.test"]
    assert record["msg"].endswith("@example.com")
    assert "7890" in record["msg"] and "0001" in record["msg"]  # last four kept for support


def test_exception_traces_are_masked_too(json_app, log_stream):
    try:
        raise ValueError(f"cannot reach {PHONE}")
    except ValueError:
        logging.getLogger("halopmi.test").exception("call failed")
    [record] = lines(log_stream)
    assert "ValueError" in record["exc"]
    assert PHONE not in record["exc"] and PHONE[1:] not in record["exc"]
