"""The provider seam: Twilio's REST API, or the simulator when no Twilio account is configured.

Only this module (and the webhook edge) talks to Twilio. ``TwilioProvider`` takes an injectable
``twilio.http.HttpClient`` (tests check every request against Twilio's OpenAPI document).
Errors become :class:`ProviderError`: ``permanent`` for a 4xx (bad number, not allowed: do not
retry), transient otherwise. The default HTTP client does not retry, so a request is never
sent twice behind our back (a call is never dialled twice).
"""

from __future__ import annotations

import io
import json
import math
import threading
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.core.time import utcnow

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
SIM_PREFIX = "halopmi:telephony-sim"
TWILIO_API = "https://api.twilio.com/2010-04-01"
MEDIA_CHUNK = 64 * 1024
# Seconds a REST request may take. Bounded, so a dial that hangs has failed long before the
# housekeeping's grace period asks the provider what became of it (tasks.recover_stalled_dials).
REST_TIMEOUT = 15


@dataclass
class Media:
    """A recording's audio, streamed from the provider (never stored by us)."""

    content_type: str
    chunks: Iterator[bytes]
    close: Callable[[], None] = lambda: None
    length: int | None = None


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

    def find_calls(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]: ...

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None: ...

    def fetch_recording(self, sid: str) -> dict[str, Any]: ...

    def recording_media(self, sid: str) -> Media: ...

    def delete_recording(self, sid: str) -> None: ...

    def update_participant(
        self, conference_sid: str, call_sid: str, *, muted: bool, coaching: bool, coach: str | None = None
    ) -> None: ...

    def remove_participant(self, conference_sid: str, call_sid: str) -> None: ...


def _wrap(exc: Exception) -> ProviderError:
    if isinstance(exc, TwilioRestException):
        permanent = 400 <= int(exc.status) < 500 and int(exc.status) != 429
        return ProviderError(f"twilio {exc.status} {exc.code}: {exc.msg}", permanent=permanent, code=exc.code)
    return ProviderError(f"twilio request failed: {exc}", permanent=False)


class TwilioProvider:
    name = "twilio"

    def __init__(
        self, config: dict[str, Any], http_client: HttpClient | None = None, media_http: Any = None
    ) -> None:
        account_sid = config["TWILIO_ACCOUNT_SID"]
        # An API key is preferred for REST (revocable); the auth token works too.
        username = config.get("TWILIO_API_KEY") or account_sid
        password = (
            config.get("TWILIO_API_SECRET") if config.get("TWILIO_API_KEY") else config["TWILIO_AUTH_TOKEN"]
        )
        self.account_sid = account_sid
        self._auth = (username, password)
        # No retries (a request is never sent twice behind our back) and a bounded wait.
        http_client = http_client or TwilioHttpClient(timeout=REST_TIMEOUT)
        self.client = Client(username, password, account_sid=account_sid, http_client=http_client)
        # Recording media is binary, which the REST client (text bodies) cannot carry: a plain
        # HTTP session (``requests``, twilio's own dependency) fetches it; tests inject a fake.
        self.media_http = media_http

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

    def find_calls(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]:
        """Calls we placed to ``to`` from ``from_`` created since ``since`` (newest first).

        Filtered on creation time here rather than with ``StartTime>``: a call that was queued
        but never started has no start time, and it still counts as dialled.
        """
        try:
            calls = self.client.calls.list(to=to, from_=from_, limit=20)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return [
            {"sid": str(c.sid), "status": str(c.status), "created_at": c.date_created}
            for c in calls
            if c.date_created is None or c.date_created >= since
        ]

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

    def delete_recording(self, sid: str) -> None:
        """Delete the media at Twilio (erasure); one already gone (404) counts as deleted."""
        try:
            self.client.recordings(sid).delete()
        except TwilioRestException as exc:
            if int(exc.status) == 404:
                return
            raise _wrap(exc) from exc
        except (TwilioException, OSError) as exc:
            raise _wrap(exc) from exc

    def update_participant(
        self, conference_sid: str, call_sid: str, *, muted: bool, coaching: bool, coach: str | None = None
    ) -> None:
        """A conference participant's muting and coaching (a supervisor moving between listen,
        whisper and barge). Coaching needs the leg to coach (Twilio: ``CallSidToCoach``);
        without coaching it is not sent."""
        values: dict[str, Any] = {"muted": muted, "coaching": coaching}
        if coaching:
            if not coach:
                raise ValueError("coaching needs the call sid of the leg to coach")
            values["call_sid_to_coach"] = coach
        try:
            self.client.conferences(conference_sid).participants(call_sid).update(**values)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take a leg out of a conference (a supervisor leaving); one already gone (404) is out."""
        try:
            self.client.conferences(conference_sid).participants(call_sid).delete()
        except TwilioRestException as exc:
            if int(exc.status) == 404:
                return
            raise _wrap(exc) from exc
        except (TwilioException, OSError) as exc:
            raise _wrap(exc) from exc

    def recording_media(self, sid: str) -> Media:
        """The recording's audio (MP3), fetched with our credentials and streamed on."""
        http = self.media_http
        if http is None:
            import requests

            http = requests
        url = f"{TWILIO_API}/Accounts/{self.account_sid}/Recordings/{sid}.mp3"
        try:
            response = http.get(url, auth=self._auth, stream=True, timeout=(5, 30))
        except OSError as exc:  # requests' errors are OSErrors
            raise ProviderError(f"recording media request failed: {exc}", permanent=False) from exc
        if response.status_code >= 400:
            response.close()
            status = int(response.status_code)
            permanent = 400 <= status < 500 and status != 429
            raise ProviderError(f"twilio {status}: recording media", permanent=permanent)
        length = response.headers.get("Content-Length")
        return Media(
            content_type=response.headers.get("Content-Type") or "audio/mpeg",
            chunks=response.iter_content(MEDIA_CHUNK),
            close=response.close,
            length=int(length) if length and str(length).isdigit() else None,
        )


def simulated_wav(sid: str, seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A small WAV (a soft tone whose pitch depends on ``sid``) standing in for a recording."""
    pitch = 330 + (sum(sid.encode()) % 8) * 55
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(6000 * math.sin(2 * math.pi * pitch * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


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
        request = {"sid": sid, "to": to, "from": from_, "url": url, "status_callback": status_callback}
        self._push("outbound", request)
        # The simulated account's call list (what Twilio's ``GET Calls`` would show).
        self._push("placed", {**request, "created_at": utcnow().isoformat()})
        return sid

    def find_calls(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]:
        if self.redis_url:
            from redis import Redis

            raw = Redis.from_url(self.redis_url).lrange(f"{SIM_PREFIX}:placed", 0, -1)
        else:
            with self._lock:
                raw = list(self._memory.get("placed", []))
        found = []
        for item in reversed([json.loads(r) for r in raw]):
            created = datetime.fromisoformat(item["created_at"])
            if item["to"] == to and item["from"] == from_ and created >= since:
                found.append({"sid": item["sid"], "status": "queued", "created_at": created})
        return found

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

    def update_participant(
        self, conference_sid: str, call_sid: str, *, muted: bool, coaching: bool, coach: str | None = None
    ) -> None:
        if coaching and not coach:
            raise ValueError("coaching needs the call sid of the leg to coach")
        self._push(
            "participant",
            {
                "conference_sid": conference_sid,
                "call_sid": call_sid,
                "muted": muted,
                "coaching": coaching,
                "coach": coach if coaching else None,
            },
        )

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        self._push("participant", {"conference_sid": conference_sid, "call_sid": call_sid, "remove": True})

    def delete_recording(self, sid: str) -> None:
        """The simulator's media is synthesised from the sid: nothing is stored to delete."""

    def recording_media(self, sid: str) -> Media:
        data = simulated_wav(sid)
        return Media(
            content_type="audio/wav",
            chunks=iter([data[i : i + MEDIA_CHUNK] for i in range(0, len(data), MEDIA_CHUNK)]),
            length=len(data),
        )


def get_provider(app: Flask | None = None) -> Provider:
    app = app or current_app
    override = app.extensions.get("telephony_provider")
    if override is not None:
        return override
    from app.telephony.signature import twilio_configured

    if twilio_configured(app):
        return TwilioProvider(app.config)
    return SimulatorProvider(app.config.get("REDIS_URL"))
