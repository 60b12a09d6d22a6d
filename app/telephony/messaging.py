"""Worker notifications: SMS through the telephony provider (Twilio Messaging, or the simulator
when Twilio is not configured) and email over SMTP (``app.core.mail``).

The tickets package sends through a ``Messenger`` seam and never imports Twilio; point it here
with ``TICKETS_MESSENGER=app.telephony.messaging:sms_messenger``. Without ``SMTP_HOST`` email
notices are only logged (masked).
"""

from __future__ import annotations

import logging
from typing import Any

from app.core.mail import mail_configured, send_email
from app.core.masking import mask_text
from app.telephony.provider import ProviderError, get_provider

log = logging.getLogger(__name__)


class SmsMessenger:
    """SMS via the telephony provider, email via SMTP when configured."""

    name = "telephony"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.sender = config.get("TWILIO_CALLER_ID") or "BPJSTK"

    def send_sms(self, to: str, body: str) -> str:
        sid = get_provider().send_sms(to=to, from_=self.sender, body=body)
        if not sid:
            raise ProviderError("the provider returned no message id", permanent=False)
        return sid

    def send_email(self, to: str, subject: str, body: str) -> str:
        if not mail_configured(self.config):
            log.info("email (no SMTP_HOST configured) to %s", mask_text(to))
            return "log-email"
        return send_email(self.config, to, subject, body)


def sms_messenger(config: Any) -> SmsMessenger:
    """Factory named by ``TICKETS_MESSENGER``."""
    return SmsMessenger(config)
