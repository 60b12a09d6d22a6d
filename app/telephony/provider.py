"""The provider seam: Twilio's REST API, or the simulator when no Twilio account is configured.

Only this module (and the webhook edge) talks to Twilio. ``TwilioProvider`` takes an injectable
``twilio.http.HttpClient`` (tests check every request against Twilio's OpenAPI document).
Errors become :class:`ProviderError`: ``permanent`` for a 4xx (bad number, not allowed: do not
retry), transient otherwise; ``not_done`` when Twilio answered that it did nothing (a 4xx,
429 included), so that only then does a job treat the SMS or call as not made
(:func:`app.core.jobs.effect`): after a 5xx, a time-out or a lost connection it may have been
made, and the next attempt asks (:meth:`Provider.find_messages`, :meth:`Provider.find_calls`)
before doing it again. The default HTTP client does not retry, so a request is never sent twice
behind our back (a call is never dialled twice).
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.core.time import utcnow

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
SIM_PREFIX = "halopmi:telephony-sim"
# The simulated account's logs of calls placed and messages sent (what Twilio's list endpoints
# show) keep this many entries.
SIM_ACCOUNT_LOG = 2000
SIM_ACCOUNT = "AC" + "0" * 32  # the simulated account's sid in the URLs it makes
TWILIO_API = "https://api.twilio.com/2010-04-01"
WHATSAPP = "whatsapp:"  # Twilio's channel prefix of a WhatsApp address
MEDIA_CHUNK = 64 * 1024
# Rehearsing a hanging provider: while this Redis key holds "<sms|call>:<before|after>", the
# simulated provider waits before (or after) recording such a request and answering it, as
# Twilio's answer would be late; HELD_KEY says one is waiting. Tests kill a worker meanwhile.
HOLD_KEY = f"{SIM_PREFIX}:hold"
HELD_KEY = f"{SIM_PREFIX}:held"
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


@dataclass
class Download:
    """A file a worker's message brought: its bytes, or None when it is larger than the limit
    asked for (``size``: what the provider announced or what was read before stopping)."""

    content_type: str
    data: bytes | None
    size: int | None


class ProviderError(RuntimeError):
    """``permanent``: do not retry (a 4xx other than 429). ``not_done``: the provider answered
    that it did nothing (any 4xx); otherwise the request may have been carried out."""

    def __init__(
        self, message: str, *, permanent: bool, code: int | None = None, not_done: bool | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.not_done = permanent if not_done is None else not_done


class Provider(Protocol):
    name: str

    def create_call(
        self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 30
    ) -> str: ...

    def update_call(self, call_sid: str, *, twiml: str) -> None: ...

    def find_calls(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]: ...

    def find_messages(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]: ...

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None: ...

    def send_whatsapp(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
    ) -> str | None: ...

    def download_media(self, url: str, limit: int) -> Download: ...

    def fetch_recording(self, sid: str) -> dict[str, Any]: ...

    def recording_media(self, sid: str) -> Media: ...

    def delete_recording(self, sid: str) -> None: ...

    def update_participant(
        self, conference_sid: str, call_sid: str, *, muted: bool, coaching: bool, coach: str | None = None
    ) -> None: ...

    def remove_participant(self, conference_sid: str, call_sid: str) -> None: ...


def _wrap(exc: Exception) -> ProviderError:
    if isinstance(exc, TwilioRestException):
        refused = 400 <= int(exc.status) < 500
        return ProviderError(
            f"twilio {exc.status} {exc.code}: {exc.msg}",
            permanent=refused and int(exc.status) != 429,
            code=exc.code,
            not_done=refused,
        )
    # No answer (a time-out, a dropped connection): Twilio may have carried the request out.
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

    def find_messages(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]:
        """Messages we sent to ``to`` from ``from_`` created since ``since`` (newest first), with
        their bodies (``GET Messages.json?To=&From=``).

        Filtered on creation time here rather than with ``DateSent>``: a message still queued
        at Twilio has no sent date, and it still counts as sent by us.
        """
        try:
            messages = self.client.messages.list(to=to, from_=from_, limit=20)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return [
            {"sid": str(m.sid), "status": str(m.status), "body": m.body or "", "created_at": m.date_created}
            for m in messages
            if m.date_created is None or m.date_created >= since
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

    def send_whatsapp(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
    ) -> str | None:
        """A WhatsApp message: free text (``body``), or outside the 24-hour window an approved
        template (Content API ``content_sid`` with its ``content_variables``; the body is then
        the template's, not ours, so none is sent)."""
        values: dict[str, Any] = {"to": f"{WHATSAPP}{to}", "from_": f"{WHATSAPP}{from_}"}
        if content_sid:
            values["content_sid"] = content_sid
            if content_variables:
                values["content_variables"] = json.dumps(content_variables, ensure_ascii=False)
        else:
            values["body"] = body
        if status_callback:
            values["status_callback"] = status_callback  # delivered, then read
        try:
            message = self.client.messages.create(**values)
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise _wrap(exc) from exc
        return str(message.sid)

    def download_media(self, url: str, limit: int) -> Download:
        """A worker's file from Twilio (``MediaUrlN`` of her message), fetched with our
        credentials and read up to ``limit`` bytes: a larger one is announced (Content-Length)
        or noticed while reading, and not kept. Only this account's message media are fetched:
        a URL elsewhere is refused (it came in a webhook)."""
        parts = urlsplit(url)
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
        if parts.scheme != "https" or parts.netloc != "api.twilio.com" or not parts.path.startswith(prefix):
            raise ProviderError("not a media URL of this Twilio account", permanent=True)
        http = self.media_http
        if http is None:
            import requests

            http = requests
        try:
            response = http.get(url, auth=self._auth, stream=True, timeout=(5, 30))
        except OSError as exc:  # requests' errors are OSErrors
            raise ProviderError(f"message media request failed: {exc}", permanent=False) from exc
        try:
            if response.status_code >= 400:
                status = int(response.status_code)
                raise ProviderError(f"twilio {status}: message media", permanent=400 <= status < 500 and status != 429)
            content_type = str(response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            length = response.headers.get("Content-Length")
            if length and str(length).isdigit() and int(length) > limit:
                return Download(content_type, None, int(length))
            data = bytearray()
            for chunk in response.iter_content(MEDIA_CHUNK):
                data += chunk
                if len(data) > limit:
                    return Download(content_type, None, len(data))
            return Download(content_type, bytes(data), len(data))
        finally:
            response.close()

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
    """Plays Twilio's REST side for the simulator: requests land in Redis (or memory) for it.

    It keeps the account's logs as Twilio does (the calls placed and the messages sent, which
    ``find_calls`` / ``find_messages`` read like Twilio's list endpoints), and it can be told to
    answer late, to rehearse a provider that hangs (:data:`HOLD_KEY`).
    """

    name = "simulator"
    _memory: dict[str, list[str]] = {}
    _lock = threading.Lock()
    _clients: dict[str, Any] = {}

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url

    def _redis(self) -> Any:
        """One client (and connection pool) per Redis URL for the process: a new client per
        request opened a connection for each of a message's five Redis commands."""
        url = str(self.redis_url)
        client = SimulatorProvider._clients.get(url)
        if client is None:
            from redis import Redis

            client = SimulatorProvider._clients.setdefault(url, Redis.from_url(url))
        return client

    def _push(self, key: str, value: dict[str, Any], keep: int | None = None) -> None:
        data = json.dumps(value)
        if self.redis_url:
            connection = self._redis()
            connection.rpush(f"{SIM_PREFIX}:{key}", data)
            if keep:
                connection.ltrim(f"{SIM_PREFIX}:{key}", -keep, -1)
            return
        with self._lock:
            items = self._memory.setdefault(key, [])
            items.append(data)
            if keep:
                del items[:-keep]

    def _read(self, key: str) -> list[dict[str, Any]]:
        if self.redis_url:
            raw = self._redis().lrange(f"{SIM_PREFIX}:{key}", 0, -1)
        else:
            with self._lock:
                raw = list(self._memory.get(key, []))
        return [json.loads(r) for r in raw]

    def pop_all(self, key: str) -> list[dict[str, Any]]:
        if self.redis_url:
            with self._redis().pipeline() as pipe:
                pipe.lrange(f"{SIM_PREFIX}:{key}", 0, -1)
                pipe.delete(f"{SIM_PREFIX}:{key}")
                raw, _ = pipe.execute()
        else:
            with self._lock:
                raw = self._memory.pop(key, [])
        return [json.loads(item) for item in raw]

    def _hold(self, operation: str, moment: str) -> None:
        """Answer late while :data:`HOLD_KEY` holds ``"<operation>:<moment>"`` (``sms`` or
        ``call``, ``before`` or ``after`` the account records it), as a hanging Twilio would:
        after ``REST_TIMEOUT`` the request fails without saying whether it was carried out."""
        if not self.redis_url:
            return
        connection = self._redis()
        wanted = f"{operation}:{moment}".encode()
        if connection.get(HOLD_KEY) != wanted:
            return
        connection.set(HELD_KEY, wanted)
        deadline = time.monotonic() + REST_TIMEOUT
        while connection.get(HOLD_KEY) == wanted:
            if time.monotonic() > deadline:
                raise ProviderError("simulated provider: no answer in time", permanent=False)
            time.sleep(0.05)

    def create_call(self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 30) -> str:
        self._hold("call", "before")
        sid = "CA" + uuid.uuid4().hex
        request = {"sid": sid, "to": to, "from": from_, "url": url, "status_callback": status_callback}
        self._push("outbound", request)
        # The simulated account's call list (what Twilio's ``GET Calls`` would show).
        self._push("placed", {**request, "created_at": utcnow().isoformat()}, keep=SIM_ACCOUNT_LOG)
        self._hold("call", "after")
        return sid

    def find_calls(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]:
        found = []
        for item in reversed(self._read("placed")):
            created = datetime.fromisoformat(item["created_at"])
            if item["to"] == to and item["from"] == from_ and created >= since:
                found.append({"sid": item["sid"], "status": "queued", "created_at": created})
        return found

    def find_messages(self, *, to: str, from_: str, since: datetime) -> list[dict[str, Any]]:
        found = []
        for item in reversed(self._read("messages")):
            created = datetime.fromisoformat(item["created_at"])
            if item["to"] == to and item["from"] == from_ and created >= since:
                found.append({"sid": item["sid"], "status": "sent", "body": item["body"], "created_at": created})
        return found

    def messages(self) -> list[dict[str, Any]]:
        """The simulated account's message log, oldest first (what ``GET Messages`` lists)."""
        return self._read("messages")

    def update_call(self, call_sid: str, *, twiml: str) -> None:
        self._push(f"redirect:{call_sid}", {"twiml": twiml})

    def send_sms(
        self, *, to: str, from_: str, body: str, status_callback: str | None = None
    ) -> str | None:
        self._hold("sms", "before")
        sid = "SM" + uuid.uuid4().hex
        created = utcnow().isoformat()
        self._push(
            "sms",
            {
                "sid": sid,
                "to": to,
                "body": body,
                "channel": "sms",
                "at": created,
                "status_callback": status_callback,
            },
        )
        self._push("messages", {"sid": sid, "to": to, "from": from_, "body": body, "created_at": created},
                   keep=SIM_ACCOUNT_LOG)
        if status_callback:
            # The simulator reports delivery as Twilio would (see Simulator.deliver_sms_statuses).
            self._push("sms-status", {"sid": sid, "to": to, "from": from_, "url": status_callback})
        self._hold("sms", "after")
        return sid

    def send_whatsapp(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
    ) -> str | None:
        sid = "SM" + uuid.uuid4().hex
        self._push(
            "sms",
            {
                "sid": sid,
                "to": to,
                "body": body,
                "channel": "whatsapp",
                "content_sid": content_sid,
                "variables": content_variables or {},
                "at": utcnow().isoformat(),
                "status_callback": status_callback,
            },
        )
        if status_callback:
            self._push(
                "sms-status",
                {"sid": sid, "to": f"{WHATSAPP}{to}", "from": f"{WHATSAPP}{from_}", "url": status_callback},
            )
        return sid

    def put_media(self, content_type: str, data: bytes = b"", size: int | None = None) -> str:
        """A file on the simulated phone, as Twilio would host it for an incoming message; its
        URL has Twilio's shape. ``size`` without ``data``: a file that large, never built."""
        media_sid = "ME" + uuid.uuid4().hex
        value = {"content_type": content_type, "data": base64.b64encode(data).decode(), "size": size}
        if self.redis_url:
            from redis import Redis

            Redis.from_url(self.redis_url).set(f"{SIM_PREFIX}:media:{media_sid}", json.dumps(value), ex=86400)
        else:
            with self._lock:
                self._memory[f"media:{media_sid}"] = [json.dumps(value)]
        message_sid = "MM" + uuid.uuid4().hex
        return f"{TWILIO_API}/Accounts/{SIM_ACCOUNT}/Messages/{message_sid}/Media/{media_sid}"

    def download_media(self, url: str, limit: int) -> Download:
        media_sid = urlsplit(url).path.rsplit("/", 1)[-1]
        if self.redis_url:
            from redis import Redis

            raw: Any = Redis.from_url(self.redis_url).get(f"{SIM_PREFIX}:media:{media_sid}")
        else:
            with self._lock:
                stored = self._memory.get(f"media:{media_sid}")
                raw = stored[0] if stored else None
        if raw is None:
            raise ProviderError("twilio 404: message media", permanent=True)
        value = json.loads(raw)
        data = base64.b64decode(value["data"])
        size = int(value.get("size") or len(data))
        if size > limit:
            return Download(value["content_type"], None, size)
        return Download(value["content_type"], data, size)

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
