"""The simulated provider: Twilio's REST side played for the telephony simulator when no Twilio
account is configured. Requests land in Redis (or memory) where the simulator reads them."""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
import uuid
import wave
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from app.core.time import utcnow
from app.telephony.provider import (
    MEDIA_CHUNK,
    REST_TIMEOUT,
    TWILIO_API,
    WHATSAPP,
    Download,
    Media,
    ProviderError,
)

SIM_PREFIX = "halopmi:telephony-sim"
# The simulated account's logs of calls placed and messages sent (what Twilio's list endpoints
# show) keep this many entries.
SIM_ACCOUNT_LOG = 2000
SIM_ACCOUNT = "AC" + "0" * 32  # the simulated account's sid in the URLs it makes
# Rehearsing a hanging provider: while this Redis key holds "<sms|call>:<before|after>", the
# simulated provider waits before (or after) recording such a request and answering it, as
# Twilio's answer would be late; HELD_KEY says one is waiting. Tests kill a worker meanwhile.
HOLD_KEY = f"{SIM_PREFIX}:hold"
HELD_KEY = f"{SIM_PREFIX}:held"


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
