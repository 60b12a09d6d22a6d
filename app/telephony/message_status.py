"""Twilio Messaging status callbacks for the SMS we send: each report kept raw first (under
``sms-status:<MessageSid>:<MessageStatus>``, so a redelivery collides), then applied to the
worker notification it is about; reports that overtake the notification's commit are replayed
once it has its message id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.telephony import calllog, integration
from app.telephony.calllog import store_raw
from app.telephony.models import RawWebhook

MESSAGE_STATUS_KIND = "sms_status"


class BadWebhook(ValueError):
    """A signed webhook without what it must carry (answered 400)."""


def store_message_status(form: Mapping[str, str]) -> tuple[str, str]:
    """Keep a Messaging status callback raw under ``sms-status:<MessageSid>:<MessageStatus>``
    (a redelivery collides there). Returns the message id and status; the route commits this
    before :func:`apply_message_status`, so a report is never lost to a failure after it."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status or len(sid) > 64 or len(status) > 32:
        raise BadWebhook("MessageSid and MessageStatus are required")
    store_raw(MESSAGE_STATUS_KIND, f"sms-status:{sid}:{status}", form, sid=sid)
    return sid, status


def apply_message_status(sid: str, status: str, error_code: str | None, at: datetime | None = None) -> bool:
    """Hand one delivery report to the notification it is about (order-tolerant over there).
    False when no notification carries this message id yet (see :func:`replay_message_status`)."""
    return integration.message_delivered(sid, status, error_code=error_code, at=at or calllog.now()) is not None


def replay_message_status(sid: str) -> int:
    """Apply every stored report for message ``sid`` (those that arrived before the message id
    was on record), in arrival order. Returns how many found their notification."""
    rows = db.session.scalars(
        select(RawWebhook)
        .where(RawWebhook.call_sid == sid, RawWebhook.kind == MESSAGE_STATUS_KIND)
        .order_by(RawWebhook.id)
    ).all()
    applied = 0
    for row in rows:
        status = str(row.payload.get("MessageStatus") or row.payload.get("SmsStatus") or "").lower()
        applied += apply_message_status(sid, status, row.payload.get("ErrorCode"), at=row.received_at)
    return applied


# --- conferences: the agent's leg joining and leaving, and what the caller hears after -----


