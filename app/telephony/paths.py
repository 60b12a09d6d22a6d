"""The webhook paths the provider is given (call status, SMS status, a call-back's answer) and
the public URL of one: jobs have no request to take the host from."""

from __future__ import annotations

from flask import current_app

STATUS_PATH = "/telephony/voice/status"
MESSAGE_STATUS_PATH = "/telephony/messaging/status"
CALLBACK_ANSWER_PATH = "/telephony/voice/callback-answer"


def absolute(path: str) -> str:
    """Public URL of one of our webhook paths (``PUBLIC_BASE_URL`` + ``path``)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    return str(base).rstrip("/") + path
