"""Twilio's REST API behind the provider seam (:mod:`app.telephony.provider`): calls, messages,
media, recordings and conference participants, through the official ``twilio`` client with a
bounded time-out and no retries of its own (a request is never sent twice behind our back)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.telephony.provider import (
    MEDIA_CHUNK,
    REST_TIMEOUT,
    STATUS_CALLBACK_EVENTS,
    TWILIO_API,
    WHATSAPP,
    Download,
    Media,
    ProviderError,
)


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
