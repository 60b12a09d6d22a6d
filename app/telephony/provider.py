"""The provider seam: Twilio's REST API, or the simulator when no Twilio account is configured.

Only this module (and the webhook edge) talks to Twilio. ``TwilioProvider`` takes an injectable
``twilio.http.HttpClient`` (tests check every request against Twilio's OpenAPI document).
Errors become :class:`ProviderError`: ``permanent`` for a 4xx (bad number, not allowed: do not
retry), transient otherwise. The default HTTP client does not retry, so a request is never
sent twice behind our back (a call is never dialled twice).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Protocol

from flask import Flask, current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
SIM_PREFIX = "halopmi:telephony-sim"


class ProviderError(RuntimeError):
    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class Provider(Protocol):
    name: str

    def create_call(
        self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 30
    ) -> str: ...

    def update_call(self, call_sid: str, *, twiml: str) -> None: ...

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None: ...

    def fetch_recording(self, sid: str) -> dict[str, Any]: ...


def _wrap(exc: Exception) -> ProviderError:
    if isinstance(exc, TwilioRestException):
        permanent = 400 <= int(exc.status) < 500 and int(exc.status) != 429
        return ProviderError(f"twilio {exc.status} {exc.code}: {exc.msg}", permanent=permanent, code=exc.code)
    return ProviderError(f"twilio request failed: {exc}", permanent=False)


class TwilioProvider:
    name = "twilio"

    def __init__(self, config: dict[str, Any], http_client: HttpClient | None = None) -> None:
        account_sid = config["TWILIO_ACCOUNT_SID"]
        # An API key is preferred for REST (revocable); the auth token works too.
        username = config.get("TWILIO_API_KEY") or account_sid
        password = (
            config.get("TWILIO_API_SECRET") if config.get("TWILIO_API_KEY") else config["TWILIO_AUTH_TOKEN"]
        )
        self.client = Client(username, password, account_sid=account_sid, http_client=http_client)

    def create_call(self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 30) -> str:
        try:
            call = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=STATUS_CALLBACK_EVENTS,
                timeout=timeout,
            )
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return str(call.sid)

    def update_call(self, call_sid: str, *, twiml: str) -> None:
        try:
            self.client.calls(call_sid).update(twiml=twiml)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None:
        values: dict[str, Any] = {"to": to, "from_": from_, "body": body}
        if status_callback:
            values["status_callback"] = status_callback  # Twilio POSTs delivery reports there
        try:
            message = self.client.messages.create(**values)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return str(message.sid)

    def fetch_recording(self, sid: str) -> dict[str, Any]:
        try:
            recording = self.client.recordings(sid).fetch()
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return {"sid": recording.sid, "duration": recording.duration, "status": recording.status}


class SimulatorProvider:
    """Plays Twilio's REST side for the simulator: requests land in Redis (or memory) for it."""

    name = "simulator"
    _memory: dict[str, list[str]] = {}
    _lock = threading.Lock()

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url

    def _push(self, key: str, value: dict[str, Any]) -> None:
        data = json.dumps(value)
        if self.redis_url:
            from redis import Redis

            Redis.from_url(self.redis_url).rpush(f"{SIM_PREFIX}:{key}", data)
            return
        with self._lock:
            self._memory.setdefault(key, []).append(data)

    def pop_all(self, key: str) -> list[dict[str, Any]]:
        if self.redis_url:
            from redis import Redis

            connection = Redis.from_url(self.redis_url)
            with connection.pipeline() as pipe:
                pipe.lrange(f"{SIM_PREFIX}:{key}", 0, -1)
                pipe.delete(f"{SIM_PREFIX}:{key}")
                raw, _ = pipe.execute()
        else:
            with self._lock:
                raw = self._memory.pop(key, [])
        return [json.loads(item) for item in raw]

    def create_call(self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 30) -> str:
        sid = "CA" + uuid.uuid4().hex
        self._push(
            "outbound", {"sid": sid, "to": to, "from": from_, "url": url, "status_callback": status_callback}
        )
        return sid

    def update_call(self, call_sid: str, *, twiml: str) -> None:
        self._push(f"redirect:{call_sid}", {"twiml": twiml})

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None:
        sid = "SM" + uuid.uuid4().hex
        self._push("sms", {"sid": sid, "to": to, "body": body})
        if status_callback:
            # The simulator reports delivery as Twilio would (see Simulator.deliver_sms_statuses).
            self._push("sms-status", {"sid": sid, "to": to, "from": from_, "url": status_callback})
        return sid

    def fetch_recording(self, sid: str) -> dict[str, Any]:
        return {"sid": sid, "duration": None, "status": "completed"}


def get_provider(app: Flask | None = None) -> Provider:
    app = app or current_app
    override = app.extensions.get("telephony_provider")
    if override is not None:
        return override  # type: ignore[no-any-return]
    from app.telephony.signature import twilio_configured

    if twilio_configured(app):
        return TwilioProvider(app.config)
    return SimulatorProvider(app.config.get("REDIS_URL"))
