"""``X-Twilio-Signature`` checks for every webhook (403 otherwise; never skipped).

The signature is an HMAC over the URL Twilio called plus the POST form parameters, so the URL is
rebuilt as the public one: ``PUBLIC_BASE_URL`` + path + raw query string when configured, else
``request.url`` (right behind ``PROXY_COUNT`` trusted proxies, whose headers ProxyFix applies).
Only ``request.form`` is signed as parameters: the query string is already part of the URL.

Without Twilio credentials (the embedded default) the telephony simulator signs its requests
with a token derived from ``SECRET_KEY``, and webhooks are validated against that token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from twilio.request_validator import RequestValidator

F = TypeVar("F", bound=Callable[..., Any])


def twilio_configured(app: Flask | None = None) -> bool:
    config = (app or current_app).config
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"))


def webhook_token(app: Flask | None = None) -> str:
    """The token webhooks are signed with: Twilio's auth token, or the simulator's."""
    config = (app or current_app).config
    token = config.get("TWILIO_AUTH_TOKEN")
    if token:
        return str(token)
    secret = str(config.get("SECRET_KEY") or "")
    if not secret:
        raise RuntimeError("neither TWILIO_AUTH_TOKEN nor SECRET_KEY is set: webhooks cannot be validated")
    return hmac.new(secret.encode(), b"halopmi-telephony-simulator", hashlib.sha256).hexdigest()


def public_url(path: str, query: str = "", app: Flask | None = None) -> str | None:
    """The public URL of ``path`` when PUBLIC_BASE_URL is configured, else None."""
    base = (app or current_app).config.get("PUBLIC_BASE_URL")
    if not base:
        return None
    return str(base).rstrip("/") + path + (f"?{query}" if query else "")


def request_public_url() -> str:
    query = request.environ.get("QUERY_STRING", "")
    return public_url(request.path, query) or request.url


def is_valid_request() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(webhook_token())
    return bool(validator.validate(request_public_url(), request.form, signature))


# What Twilio sends as a resource id: two letters and 32 hex digits ("CA…", "CF…", "RE…", "SM…").
# Kept loose (letters and digits, up to 64) so hand-made test vectors fit; a signed request whose
# id is missing or unlike one is refused with 400 before any view code reads it.
SID_SHAPE = re.compile(r"[A-Za-z0-9]{2,64}")
SID_PARAMETERS = ("CallSid", "ConferenceSid", "RecordingSid", "MessageSid", "SmsSid", "ParentCallSid")


def _parameters_fault(required: tuple[str, ...]) -> str | None:
    if not any(request.form.get(name) for name in required):
        return f"missing {' or '.join(required)}"
    for name in SID_PARAMETERS:
        value = request.form.get(name)
        if value is not None and value != "" and not SID_SHAPE.fullmatch(value):
            return f"malformed {name}"
    return None


def twilio_signed(view: F | None = None, *, requires: str | tuple[str, ...] = "CallSid") -> Any:
    """Route decorator: 403 unless the request carries a valid Twilio signature, then 400 unless it
    names what the webhook is about (``requires``: ``CallSid`` for voice webhooks, ``ConferenceSid``
    for conference events, ``RecordingSid`` for recording reports, ``MessageSid`` for SMS reports)
    and every resource id in it has a Twilio sid's shape. Usable bare or with arguments."""
    required = (requires,) if isinstance(requires, str) else tuple(requires)

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not is_valid_request():
                current_app.logger.warning("twilio webhook refused: bad signature on %s", request.path)
                abort(403)
            fault = _parameters_fault(required)
            if fault is not None:
                current_app.logger.warning("twilio webhook refused on %s: %s", request.path, fault)
                abort(400)
            return func(*args, **kwargs)

        wrapper.twilio_signed = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


def sign(url: str, params: dict[str, Any], token: str) -> str:
    """The signature Twilio would send for ``url`` and ``params`` (simulator and tests)."""
    return str(RequestValidator(token).compute_signature(url, params))
