"""The provider seam: what the app asks of Twilio's REST API (:class:`Provider`), what comes back
(:class:`Media`, :class:`Download`) and how it fails (:class:`ProviderError`). Two providers keep
it: :class:`app.telephony.twilio_provider.TwilioProvider` and, when no Twilio account is
configured, :class:`app.telephony.simulated_provider.SimulatorProvider`;
:func:`app.telephony.providers.get_provider` picks one.

Only the Twilio provider (and the webhook edge) talks to Twilio. ``TwilioProvider`` takes an injectable
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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
TWILIO_API = "https://api.twilio.com/2010-04-01"
WHATSAPP = "whatsapp:"  # Twilio's channel prefix of a WhatsApp address
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

