"""Ticket notifications go out as SMS through the telephony provider when configured so."""

from __future__ import annotations

from sqlalchemy import select

from app.tickets import services, tasks
from app.tickets.models import Notification


class RecordingProvider:
    def __init__(self) -> None:
        self.sms: list[dict[str, str]] = []

    def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> str:
        self.sms.append({"to": to, "from_": from_, "body": body, "status_callback": status_callback})
        return "SM" + "0" * 32


def test_ticket_sms_goes_through_the_provider_from_our_number(app, db):
    provider = RecordingProvider()
    app.extensions["telephony_provider"] = provider
    app.config.update(TWILIO_CALLER_ID="+622150001234",
                      TICKETS_MESSENGER="app.telephony.messaging:sms_messenger")
    tasks.set_messenger(None)
    try:
        ticket = services.open_ticket(channel="portal", category="other", subject="x",
                                      requester_phone="+85291234567")
        tasks.notify_worker(ticket.id, "created", "0", "sms")
        db.session.commit()
    finally:
        app.extensions.pop("telephony_provider", None)

    assert provider.sms == [
        {
            "to": "+85291234567",
            "from_": "+622150001234",
            "body": provider.sms[0]["body"],
            # No Twilio account here: the (in-process) simulator's URL for delivery reports.
            "status_callback": "http://localhost/telephony/messaging/status",
        }
    ]
    assert ticket.reference in provider.sms[0]["body"]
    note = db.session.scalar(select(Notification))
    assert (note.status, note.provider, note.provider_id) == ("sent", "telephony", "SM" + "0" * 32)

