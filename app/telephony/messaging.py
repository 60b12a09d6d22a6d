"""Worker notifications: WhatsApp and SMS through the telephony provider (Twilio Messaging, or
the simulator when Twilio is not configured) and email over SMTP (``app.core.mail``).

The tickets package sends through a ``Messenger`` seam and never imports Twilio; point it here
with ``TICKETS_MESSENGER=app.telephony.messaging:sms_messenger``. Without ``SMTP_HOST`` email
notices are only logged (masked). SMS carry a ``StatusCallback``: the carrier's delivery reports
come back to ``/telephony/messaging/status`` and are recorded on the notification.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app

from app.core.jobs import effect
from app.core.mail import mail_configured, send_email
from app.core.masking import mask_text
from app.telephony.paths import MESSAGE_STATUS_PATH, absolute
from app.telephony.provider import ProviderError
from app.telephony.providers import get_provider
from app.telephony.signature import twilio_configured

log = logging.getLogger(__name__)


def status_callback_url() -> str | None:
    """Where the provider reports SMS delivery: ``PUBLIC_BASE_URL`` + the messaging status
    path. Without a public URL Twilio could not reach us, so none is sent (the simulator,
    which runs in-process, is always given one)."""
    if current_app.config.get("PUBLIC_BASE_URL") or not twilio_configured():
        return absolute(MESSAGE_STATUS_PATH)
    return None


class SmsMessenger:
    """SMS via the telephony provider, email via SMTP when configured."""

    name = "telephony"
    # Job re-applying delivery reports that arrived before the message id was committed.
    delivery_replay = "app.telephony.tasks.replay_message_statuses"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.sender = config.get("TWILIO_CALLER_ID") or "BPJSTK"
        self.whatsapp_sender = config.get("TWILIO_WHATSAPP_FROM") or config.get("TWILIO_CALLER_ID") or "+62215550000"

    def send_sms(self, to: str, body: str) -> str:
        sid = get_provider().send_sms(
            to=to, from_=self.sender, body=body, status_callback=status_callback_url()
        )
        if not sid:
            raise ProviderError("the provider returned no message id", permanent=False)
        return sid

    def find_sms(self, to: str, body: str, since: datetime) -> list[str]:
        """The provider's ids of messages with this body sent to ``to`` from our sender since
        ``since``, oldest first: what a job whose run was cut short asks before sending again."""
        return find_sent(to=to, from_=self.sender, body=body, since=since)

    def send_whatsapp(
        self, to: str, body: str, content_sid: str | None = None, variables: dict[str, str] | None = None
    ) -> str:
        """WhatsApp from the business sender (``TWILIO_WHATSAPP_FROM``, else the caller id):
        free text, or an approved template (``content_sid`` + ``variables``)."""
        sid = get_provider().send_whatsapp(
            to=to,
            from_=self.whatsapp_sender,
            body=body,
            status_callback=status_callback_url(),
            content_sid=content_sid,
            content_variables=variables,
        )
        if not sid:
            raise ProviderError("the provider returned no message id", permanent=False)
        return sid

    def send_email(self, to: str, subject: str, body: str) -> str:
        if not mail_configured(self.config):
            log.info("email (no SMTP_HOST configured) to %s", mask_text(to))
            return "log-email"
        return send_email(self.config, to, subject, body)


def find_sent(*, to: str, from_: str, body: str, since: datetime) -> list[str]:
    """Ids of the messages with ``body`` the provider sent to ``to`` from ``from_`` since
    ``since``, oldest first. The body is what tells our messages apart (Twilio's message
    resource does not show the status callback URL)."""
    found = get_provider().find_messages(to=to, from_=from_, since=since)
    same = [m for m in found if m.get("body") == body]
    same.sort(key=lambda m: m.get("created_at") or since)
    return [str(m["sid"]) for m in same]


def send_sms_once(key: str, *, to: str, from_: str, body: str, status_callback: str | None = None) -> str:
    """Send one SMS for ``key`` through :func:`app.core.jobs.effect`: never twice, and a run cut
    short mid-send asks the provider (:func:`find_sent`) before sending again."""
    provider = get_provider()

    def send() -> str:
        sid = provider.send_sms(to=to, from_=from_, body=body, status_callback=status_callback)
        if not sid:
            raise ProviderError("the provider returned no message id", permanent=False)
        return sid

    return effect(key, send, lookup=lambda since: find_sent(to=to, from_=from_, body=body, since=since))


def sms_messenger(config: Any) -> SmsMessenger:
    """Factory named by ``TICKETS_MESSENGER``."""
    return SmsMessenger(config)
