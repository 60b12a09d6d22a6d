"""Telephony test helpers: signed webhook posts, a controllable clock, the simulator, TwiML parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.telephony import calllog
from app.telephony.signature import sign, webhook_token
from app.telephony.simulator import Simulator


class Clock:
    """The call path's clock (``calllog.now``), moved by hand; starts inside business hours."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta, a Monday

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(calllog, "now", clock.now)
    return clock


def twilio_post(
    client: FlaskClient,
    app: Flask,
    path: str,
    data: dict[str, str],
    *,
    url: str | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> Any:
    """POST as Twilio would: signed over ``url`` (default the test client's own URL for path)."""
    with app.app_context():
        secret = token or webhook_token(app)
    signature = sign(url or f"http://localhost{path}", data, secret)
    return client.post(path, data=data, headers={"X-Twilio-Signature": signature, **(headers or {})})


@pytest.fixture
def post(client: FlaskClient, app: Flask):  # type: ignore[no-untyped-def]
    def _post(path: str, data: dict[str, str], **kwargs: Any) -> Any:
        return twilio_post(client, app, path, data, **kwargs)

    return _post


def call_params(sid: str = "CA" + "1" * 32, **more: str) -> dict[str, str]:
    values = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+85291234567",
        "To": "+622150001234",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    values.update(more)
    return values


def parse(response: Any) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


@pytest.fixture
def sim(app: Flask, client: FlaskClient, clock: Clock, redis_conn: Any) -> Iterator[Simulator]:
    yield Simulator(app, client, clock=clock.now)


# --- WhatsApp and SMS from workers ---------------------------------------------------------------

INBOUND_PATH = "/telephony/messaging/inbound"
CENTRE_WHATSAPP = "+622150001234"
# A Monday morning in Jakarta (10:00 WIB), inside the call centre's hours.
MONDAY_MORNING = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def message_params(
    sid: str, body: str = "", *, sender: str = "whatsapp:+85291234567", media: list[tuple[str, str]] = (), **more: str
) -> dict[str, str]:
    """What Twilio posts for a message: ``sender`` ``whatsapp:+…`` (WhatsApp) or ``+…`` (SMS);
    ``media`` as (url, content type) pairs."""
    whatsapp = sender.startswith("whatsapp:")
    values = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "MessagingServiceSid": "",
        "From": sender,
        "To": ("whatsapp:" if whatsapp else "") + CENTRE_WHATSAPP,
        "Body": body,
        "NumMedia": str(len(media)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        values.update(ProfileName="Siti", WaId=sender.removeprefix("whatsapp:+"))
    for n, (url, content_type) in enumerate(media):
        values[f"MediaUrl{n}"] = url
        values[f"MediaContentType{n}"] = content_type
    values.update(more)
    return values


@pytest.fixture
def frozen() -> Iterator[Any]:
    """Every clock at Monday 10:00 WIB, standing still until the test moves it (``.move_to``,
    ``.shift``): the 24-hour window is measured on it."""
    import time_machine

    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def messenger() -> Iterator[Any]:
    """The log messenger installed: what would have gone to the worker, in order."""
    from app.tickets import tasks

    fake = tasks.LogMessenger()
    tasks.set_messenger(fake)
    yield fake
    tasks.set_messenger(None)


def run_jobs(prefix: str = "") -> int:
    """Run the pending outbox intents whose function starts with ``prefix``, as the worker would
    (each claimed once), until none is left; returns how many ran."""
    from sqlalchemy import select

    from app.core.jobs import OutboxIntent, run_intent
    from app.extensions import db

    ran = 0
    while True:
        ids = db.session.scalars(
            select(OutboxIntent.id)
            .where(OutboxIntent.status == "pending", OutboxIntent.func.startswith(prefix))
            .order_by(OutboxIntent.id)
        ).all()
        if not ids:
            return ran
        for intent_id in ids:
            assert run_intent(intent_id) == "done"
            ran += 1
