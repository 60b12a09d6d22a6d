"""Models of the telephony package: calls, the call log, raw provider events, callbacks.

Twilio delivers webhooks at least once and in no guaranteed order, so every provider event is
stored raw under a unique key first (:class:`RawWebhook`), call status only moves forward
(:data:`STATUS_RANK`), and the call log (:class:`CallEvent`) carries a unique key per fact so a
replayed webhook adds nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.core.crypto import EncryptedText, blind_index
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

DIRECTIONS = ("inbound", "outbound", "browser")
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# Twilio's call statuses by progress; every terminal status shares the top rank, so once a call
# has ended no later (or replayed) callback changes how it ended.
STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    **{status: 4 for status in TERMINAL_STATUSES},
}
EVENT_KINDS = (
    "created",
    "queued",
    "offered",  # data.work_item_id; one per offer to an agent
    "ring_no_answer",  # the offer ended unanswered: data.reason declined|timeout, data.ring_ms
    "answered",
    "agent_joined",  # the agent's leg joined the conference (conference status callback)
    "agent_left",  # … and left it (hung up, browser gone); ends the call if they held it
    "abandoned",
    "completed",
    "transferred",  # agent_id: from whom; data.to_agent_id (None: to a queue)
    "left_queue",  # left the queue unanswered, not by hanging up (to voicemail): data.reason, wait_seconds
    "voicemail",  # a message left (after left_queue, or out of hours without queueing)
    "failed",
    "wrap_up",  # the agent's wrap-up: data.disposition, data.note, data.work_item_id
    # IVR self-service (claim status; app.telephony.selfservice): one fact per step.
    "ss_started",  # the caller chose to hear her claim status: data.language
    "ss_failed",  # a wrong birth date (suffix: the try of this call): data.failures (for the KPJ)
    "ss_refused",  # self-service ended unverified, on to an agent: data.reason tries|locked|no_birth_date
    "ss_verified",  # her birth date matched: data.claims (how many she hears)
    "ss_sms",  # she asked for the status by SMS (once per call)
    "ss_agent",  # she asked for an agent (or gave no birth date): data.topic, data.reason
    "contained",  # the call ended in self-service, verified, without asking for an agent
)
SELF_SERVICE_STATES = ("verifying", "verified", "refused", "agent")
# A supervisor on a live call (issue 15): muted (listen), heard by the agent only (whisper: a
# Twilio coach), or heard by both (barge); and where their leg is.
SUPERVISION_MODES = ("listen", "whisper", "barge")
SUPERVISION_STATUSES = ("joining", "joined", "left")
SUPERVISION_ACTIVE = ("joining", "joined")
CALLBACK_STATUSES = ("pending", "dialing", "connected", "scheduled", "completed", "failed", "cancelled")
PHONE_KIND = "phone"  # blind-index kind shared with records (same normalised E.164)


def can_move(current: str | None, new: str) -> bool:
    """Whether a call in ``current`` status may take ``new`` (forward only, terminal is final)."""
    if new not in STATUS_RANK:
        return False
    if current is None:
        return True
    if current in TERMINAL_STATUSES:
        return False
    return STATUS_RANK[new] > STATUS_RANK.get(current, -1)


class Call(db.Model):  # type: ignore[name-defined]
    """One call leg as the provider knows it (one per CallSid)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    parent_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    from_number: Mapped[str | None] = mapped_column(EncryptedText)
    from_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    to_number: Mapped[str | None] = mapped_column(String(64))  # our number, or client:… identity
    caller_country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8), default="id")
    topic: Mapped[str | None] = mapped_column(String(32))
    kpj: Mapped[str | None] = mapped_column(String(11))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    callback_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_requests.id", ondelete="SET NULL"), index=True
    )
    call_request_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Why the caller left the queue on purpose ("callback", "max_wait"): read by the exit URL.
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    # The handling agent's wrap-up disposition (the last one saved; reports count by it).
    disposition: Mapped[str | None] = mapped_column(String(32))
    # The caller's answer to the recording notice (TELEPHONY_RECORD_CALLS): None not asked,
    # "accepted" (stayed silent) or "declined" (pressed a key). Set once; a replay keeps it.
    record_consent: Mapped[str | None] = mapped_column(String(16))
    # IVR self-service (claim status): None never chosen, else one of SELF_SERVICE_STATES. A
    # call still "verified" when it ends was contained (ended in self-service).
    self_service: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("from_number")
    def _sync_hash(self, key: str, value: str | None) -> str | None:
        self.from_hash = blind_index(PHONE_KIND, value) if value and value.startswith("+") else None
        return value

    def conference_name(self, work_item_id: int, offer: int) -> str:
        """One conference per acceptance (``call-<call>-<item>-<offer>``): after a transfer the
        next agent and the caller meet in a new one, whatever the previous agent's leg does."""
        return f"call-{self.id}-{work_item_id}-{offer}"

    def move_to(self, status: str) -> bool:
        """Apply a provider status if it moves the call forward; returns whether it did."""
        if not can_move(self.status, status):
            return False
        self.status = status
        return True

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.direction} {self.status}>"


class CallEvent(db.Model):  # type: ignore[name-defined]
    """The append-only call log (source of every call-centre KPI)."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A fact happens once: "<call_id>:<kind>[:<n>]"; a replayed webhook collides here.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RawWebhook(db.Model):  # type: ignore[name-defined]
    """A provider event exactly as received, under its idempotency key."""

    __tablename__ = "raw_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    # Masked where it carries phone numbers (From/To/Caller/Called): see services.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallRequest(db.Model):  # type: ignore[name-defined]
    """What a browser/app caller asked for when they got a voice token (identity → call)."""

    __tablename__ = "call_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(80), unique=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    topic: Mapped[str] = mapped_column(String(32), default="other")
    kpj: Mapped[str | None] = mapped_column(String(11))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    call_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallbackQuota(db.Model):  # type: ignore[name-defined]
    """Call-backs asked for one number on one (UTC) day: the per-number cap as a counter row.

    Counting requests and then inserting let 12 simultaneous requests through a cap of 3;
    the counter moves only by one conditional upsert (see ``clicktocall.take_quota``).
    """

    __tablename__ = "callback_quotas"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class SelfServiceGuard(db.Model):  # type: ignore[name-defined]
    """Wrong birth dates entered for one KPJ in the IVR, across calls and processes: a window
    opens with the first failure, and ``SELF_SERVICE_MAX_TRIES`` failures inside it lock
    self-service for that KPJ until the window ends (``SELF_SERVICE_LOCK_HOURS``). Moved by one
    conditional upsert (see ``selfservice.count_failure``); a right birth date clears it."""

    __tablename__ = "self_service_guards"

    kpj: Mapped[str] = mapped_column(String(11), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


class CallbackRequest(db.Model):  # type: ignore[name-defined]
    """A worker asked to be called back on their phone (from the API, the queue or voicemail)."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        Index("ix_callback_requests_phone_created", "phone_hash", "created_at"),
        Index("ix_callback_requests_status", "status"),  # the wallboard's callbacks pending
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText)  # None once erased
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8), default="id")
    topic: Mapped[str] = mapped_column(String(32), default="other")
    kpj: Mapped[str | None] = mapped_column(String(11))
    nik_hash: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="api")  # api, queue, voicemail
    # Preferred window in the worker's local time ("HH:MM"), and that time zone.
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jakarta")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(Integer)  # the queued call it came from, if any
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("phone")
    def _sync_hash(self, key: str, value: str | None) -> str | None:
        self.phone_hash = blind_index(PHONE_KIND, value)
        return value


class CallbackAttempt(db.Model):  # type: ignore[name-defined]
    """The intent to dial, written before dialling: a retried job finds it and never dials twice."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("callback_id", "attempt_no", name="uq_callback_attempts_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id", ondelete="CASCADE"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    work_item_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    # dialing → dialed → answered | no-answer | busy | failed | error
    status: Mapped[str] = mapped_column(String(16), default="dialing")
    call_sid: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Recording(db.Model):  # type: ignore[name-defined]
    """Our reference to a recording kept by the provider (no media, no provider URL).

    ``kind``: "voicemail" (a message left) or "call" (an agent call recorded with consent).
    Staff play it through the app (``/telephony/recordings/<id>/audio``), which streams the media
    from the provider with our credentials and audits every playback.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="voicemail")
    status: Mapped[str] = mapped_column(String(16), default="completed")
    duration: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundMessage(db.Model):  # type: ignore[name-defined]
    """A WhatsApp or SMS message a worker sent us, exactly as Twilio delivered it, stored (and
    committed) before anything is done with it: a failure afterwards loses nothing, the job
    recorded beside it processes it again. ``message_sid`` is unique, so a redelivered webhook
    adds nothing. Once the message is on her ticket its text, number and name are blanked here
    (the ticket holds them, and erasing the ticket then erases them)."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    from_number: Mapped[str | None] = mapped_column(EncryptedText)
    body: Mapped[str | None] = mapped_column(EncryptedText)
    profile_name: Mapped[str | None] = mapped_column(EncryptedText)
    # [{"url": …, "content_type": …}] as Twilio announced them (MediaUrlN / MediaContentTypeN).
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # NUL bytes (and other characters no database text can hold) replaced before storing.
    replaced_characters: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What it was: message (on a case), new_ticket, status, agent, opted_out, opted_in.
    outcome: Mapped[str | None] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    event_id: Mapped[int | None] = mapped_column(Integer)
    # None without media; pending until the job has fetched it; done afterwards.
    media_status: Mapped[str | None] = mapped_column(String(8))


def callback_conference(callback_id: int) -> str:
    """The conference a call-back's agent and worker meet in."""
    return f"callback-{callback_id}"


class Supervision(db.Model):  # type: ignore[name-defined]
    """A supervisor on an agent's live call, from the request to join until their leg leaves.

    ``mode`` is what the supervisor asked for; ``applied_mode`` what the provider was last told
    (the join's TwiML, then each participant update), so the agent is shown what is in effect
    and a change made before the leg was in the conference is applied once it is. A supervisor
    is on one call at a time (their one softphone): the partial unique index holds it."""

    __tablename__ = "call_supervisions"
    __table_args__ = (
        CheckConstraint("mode IN ('listen', 'whisper', 'barge')", name="mode"),
        CheckConstraint("status IN ('joining', 'joined', 'left')", name="status"),
        Index(
            "uq_call_supervisions_supervisor_active",
            "supervisor_id",
            unique=True,
            postgresql_where=text("status IN ('joining', 'joined')"),
            sqlite_where=text("status IN ('joining', 'joined')"),
        ),
        Index("ix_call_supervisions_call_status", "call_id", "status"),
        Index("ix_call_supervisions_agent_status", "agent_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    work_item_id: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    conference: Mapped[str] = mapped_column(String(64))  # its name (call-…, callback-…)
    agent_call_sid: Mapped[str] = mapped_column(String(64))  # the leg a whisper coaches
    mode: Mapped[str] = mapped_column(String(16))
    applied_mode: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="joining")
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)  # the supervisor's leg
    conference_sid: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def label(self) -> str:
        """The leg's participant label in the conference (its status callbacks name it)."""
        return f"supervision-{self.id}"
