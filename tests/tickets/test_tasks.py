"""Worker notifications: outbox intent → Notification rows → the messenger, exactly once."""

from __future__ import annotations

import pytest

from app.core.jobs import OutboxIntent, run_intent
from app.tickets import services, tasks
from app.tickets.models import Notification


@pytest.fixture
def messenger():
    fake = tasks.LogMessenger()
    tasks.set_messenger(fake)
    yield fake
    tasks.set_messenger(None)


def _intents(db):
    return db.session.query(OutboxIntent).filter_by(func="app.tickets.tasks.notify_worker").order_by(OutboxIntent.id).all()


def test_created_notice_goes_once_to_the_preferred_channel(db, messenger):
    ticket = services.open_ticket(
        channel="portal",
        category="other",
        subject="x",
        language="en",
        requester_phone="+85291234567",
        requester_email="siti@example.org",
    )
    services.notify_created(ticket)
    db.session.commit()
    ticket_id, reference = ticket.id, ticket.reference
    intent_ids = [intent.id for intent in _intents(db)]
    assert len(intent_ids) == 1  # her phone, not her email too: one channel, the preferred one
    assert [run_intent(i) for i in intent_ids] == ["done"]
    assert [run_intent(i) for i in intent_ids] == ["already-done"]  # a duplicate delivery
    # Even a second run of the function itself sends nothing new.
    tasks.notify_worker(ticket_id, "created", "0", "sms")
    tasks.notify_worker(ticket_id, "created", "0")
    db.session.commit()
    assert [(channel, to) for channel, to, _body in messenger.sent] == [("sms", "+85291234567")]
    assert reference in messenger.sent[0][2]
    notes = db.session.query(Notification).order_by(Notification.id).all()
    assert [(n.channel, n.status, n.attempts, n.provider) for n in notes] == [("sms", "sent", 1, "log")]


def test_without_a_phone_the_notice_goes_by_email(db, messenger):
    ticket = services.open_ticket(
        channel="portal", category="other", subject="x", requester_email="siti@example.org"
    )
    services.notify_created(ticket)
    db.session.commit()
    [intent] = _intents(db)
    assert run_intent(intent.id) == "done"
    assert [(channel, to) for channel, to, _body in messenger.sent] == [("email", "siti@example.org")]


def test_indonesian_text_by_default(db, messenger):
    ticket = services.open_ticket(
        channel="portal", category="other", subject="x", requester_phone="+85291234567"
    )
    tasks.notify_worker(ticket.id, "created", "0")
    assert "pengaduan Anda kami terima" in messenger.sent[0][2]


def test_a_failing_provider_is_recorded_and_retried(db):
    class Broken(tasks.LogMessenger):
        def send_sms(self, to: str, body: str) -> str:
            raise RuntimeError(f"provider down for {to}")

    tasks.set_messenger(Broken())
    try:
        ticket = services.open_ticket(
            channel="portal", category="other", subject="x", requester_phone="+85291234567"
        )
        with pytest.raises(RuntimeError):
            tasks.notify_worker(ticket.id, "created", "0")
        note = db.session.query(Notification).one()
        assert note.status == "failed" and note.attempts == 1
        assert "+85291234567" not in (note.last_error or "")
    finally:
        tasks.set_messenger(None)


def test_no_contact_no_intent(db):
    ticket = services.open_ticket(channel="phone", category="other", subject="x")
    services.notify_created(ticket)
    db.session.commit()
    assert db.session.query(OutboxIntent).count() == 0


class ConfiguredMessenger(tasks.LogMessenger):
    name = "configured"
    made: list[object] = []

    def __init__(self, config) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        ConfiguredMessenger.made.append(self)


def test_messenger_from_configuration(db, app):
    tasks.set_messenger(None)
    app.config["TICKETS_MESSENGER"] = "tests.tickets.test_tasks:ConfiguredMessenger"
    ticket = services.open_ticket(
        channel="portal", category="other", subject="x", requester_phone="+85291234567"
    )
    tasks.notify_worker(ticket.id, "reply", "e1")
    assert db.session.query(Notification).one().provider == "configured"
    assert ConfiguredMessenger.made[-1].sent[0][0] == "sms"


def test_a_failing_email_is_retried_and_sent_once(db):
    class EmailDown(tasks.LogMessenger):
        email_up = False

        def send_email(self, to: str, subject: str, body: str) -> str:
            if not self.email_up:
                raise RuntimeError("smtp down")
            return super().send_email(to, subject, body)

    messenger = EmailDown()
    tasks.set_messenger(messenger)
    try:
        ticket = services.open_ticket(
            channel="portal", category="other", subject="x", requester_email="siti@example.org",
        )
        services.notify_created(ticket)
        db.session.commit()
        [email_intent] = (intent.id for intent in _intents(db))
        with pytest.raises(RuntimeError):
            run_intent(email_intent)  # rq would retry this job
        messenger.email_up = True
        assert run_intent(email_intent) == "done"
        assert run_intent(email_intent) == "already-done"
        assert [channel for channel, _to, _body in messenger.sent] == ["email"]
    finally:
        tasks.set_messenger(None)
