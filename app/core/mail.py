"""Outgoing email over SMTP (the standard library's smtplib), configured from the environment.

``SMTP_HOST`` unset means no gateway: callers decide what that means (the notification
messenger logs instead of sending). Message ids come back so a delivery can be traced.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any


class MailNotConfigured(RuntimeError):
    """No SMTP_HOST is configured."""


def mail_configured(config: Any) -> bool:
    return bool(config.get("SMTP_HOST"))


def send_email(config: Any, to: str, subject: str, body: str) -> str:
    """Send a plain-text email; returns its Message-ID. Raises on any SMTP failure."""
    host = config.get("SMTP_HOST")
    if not host:
        raise MailNotConfigured("SMTP_HOST is not set")
    sender = config.get("MAIL_FROM") or "halopmi@localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    with smtplib.SMTP(host, int(config.get("SMTP_PORT") or 587), timeout=15) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
    return str(message["Message-ID"])
