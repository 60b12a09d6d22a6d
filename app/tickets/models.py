"""Models of the tickets package: Ticket, its append-only timeline, attachments, notifications.

Strong identifiers a worker gives in a complaint (phone, NIK, passport, email) are encrypted
at rest (``EncryptedText``) with a keyed hash beside each searchable one, as on ``Member``.
``Ticket.version`` is SQLAlchemy's ``version_id_col``: an UPDATE carrying a stale version
changes no row and raises ``StaleDataError`` (optimistic locking, turned into HTTP 409).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.crypto import EncryptedText, blind_index
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

# One vocabulary for IVR topics and ticket categories (docs/call-flow.md).
CATEGORIES = (
    "membership",
    "contribution",
    "claim_jkk",
    "claim_jkm",
    "claim_jht",
    "benefit_info",
    "data_correction",
    "app_access",
    "service_complaint",
    "emergency",
    "other",
)
# Conversations on a worker's phone: each message she sends is a reply on her ticket, and the
# agents' public replies go back to her on the same channel (app/tickets/services/conversation.py).
MESSAGING_CHANNELS = ("whatsapp", "sms")
CHANNELS = ("phone", "browser_call", "callback", "voicemail", "portal", "api", "email", *MESSAGING_CHANNELS)
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending_worker", "pending_third_party", "resolved", "closed")
OPEN_STATUSES = ("new", "open", "pending_worker", "pending_third_party")
# The same condition as SQL text, for partial indexes and the queries that must match them
# (PostgreSQL uses a partial index only when it can see the query implies its predicate).
OPEN_STATUS_SQL = "status IN (" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
_OPEN_AND_UNANSWERED = OPEN_STATUS_SQL + " AND first_response_at IS NULL"
EVENT_KINDS = (
    "created",
    "assigned",
    "status",
    "public_reply",
    "internal_note",
    "call_linked",
    "sla_warning",
    "sla_breach",
    "merged",
    "viewed_pii",
    "member_linked",
    "claim_linked",
    "attachment",
    "csat",
    "tagged",
    "erased",
    "wrap_up",  # an agent's wrap-up of a call: data.disposition, data.call_id; body: the note
    "media_refused",  # a file the worker sent by WhatsApp/SMS was not kept: data.reason, data.content_type, data.size
    "opted_out",  # she sent STOP on data.channel: nothing more is sent there until she sends START
    "opted_in",  # she sent START on data.channel again
)
MATCH_CONFIDENCES = ("exact", "probable", "confirmed")
NOTIFICATION_CHANNELS = ("whatsapp", "sms", "email")
# What the carrier reports about an SMS (Twilio's message statuses), by progress. Terminal
# outcomes share one rank, so the first outcome reported is kept: a late or replayed "sent"
# never takes a message back from "delivered", and "delivered" never becomes "undelivered".
CARRIER_STATUS_RANK: dict[str, int] = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "partially_delivered": 3,
    "read": 4,  # WhatsApp only: after delivered
}
CARRIER_FAILURES = frozenset({"undelivered", "failed", "canceled"})

# Hashed requester identifiers: attribute → (hash column, blind-index kind shared with Member).
HASHED_FIELDS = {
    "requester_phone": ("requester_phone_hash", "phone"),
    "requester_nik": ("requester_nik_hash", "nik"),
    "requester_passport": ("requester_passport_hash", "passport"),
}


ticket_tags = Table(
    "ticket_tags",
    db.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # "Tickets with this tag" (the list filter) starts from the tag.
    Index("ix_ticket_tags_tag_id", "tag_id"),
)


class Tag(db.Model):  # type: ignore[name-defined]
    """A label staff put on tickets (normalised: lower case, words joined by hyphens)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Ticket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_assignee", "status", "assignee_id"),
        Index("ix_tickets_category_country", "category", "country"),
        Index("ix_tickets_member_status", "member_id", "status"),
        Index("ix_tickets_sla_status_status", "sla_status", "status"),
        # Retention: closed tickets not erased yet, oldest first.
        Index("ix_tickets_erased_closed", "erased_at", "closed_at"),
        # Name search is a prefix LIKE: PostgreSQL needs the pattern operator class for it
        # (the default one follows the collation and cannot serve LIKE 'abc%').
        Index(
            "ix_tickets_requester_name_key",
            "requester_name_key",
            postgresql_ops={"requester_name_key": "varchar_pattern_ops"},
        ),
        # The wallboard's "at risk / breached": only open tickets, whose due times matter
        # (the plain due-time indexes also hold every closed ticket of the past).
        Index(
            "ix_tickets_open_first_response_due",
            "first_response_due_at",
            postgresql_where=text(_OPEN_AND_UNANSWERED),
            sqlite_where=text(_OPEN_AND_UNANSWERED),
        ),
        Index(
            "ix_tickets_open_resolution_due",
            "resolution_due_at",
            postgresql_where=text(OPEN_STATUS_SQL),
            sqlite_where=text(OPEN_STATUS_SQL),
        ),
        Index("ix_tickets_resolved_at", "resolved_at"),  # satisfaction and agent reports by period
    )
    __pii_hashes__ = HASHED_FIELDS

    id: Mapped[int] = mapped_column(primary_key=True)
    # Filled from the id right after the INSERT (unique under concurrency: ids are).
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    language: Mapped[str] = mapped_column(String(8), default="id")
    country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(24), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"))
    match_confidence: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")

    requester_name: Mapped[str | None] = mapped_column(String(200))
    requester_name_key: Mapped[str | None] = mapped_column(String(200))
    requester_phone: Mapped[str | None] = mapped_column(EncryptedText)
    requester_phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    requester_email: Mapped[str | None] = mapped_column(EncryptedText)
    requester_kpj: Mapped[str | None] = mapped_column(String(11), index=True)
    requester_nik: Mapped[str | None] = mapped_column(EncryptedText)
    requester_nik_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    requester_passport: Mapped[str | None] = mapped_column(EncryptedText)
    requester_passport_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Verification on the public follow page: this birth date, or the phone on file.
    requester_birth_date: Mapped[date | None] = mapped_column(Date)

    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SLA (app/sla): due times for "breaching soon", the clock, and what was achieved.
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    # The promise as it stood when the policy was applied (a later policy edit changes no past).
    first_response_target_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_target_seconds: Mapped[int | None] = mapped_column(Integer)
    # Grows on reopen: a reopened ticket gets a fresh resolution promise (and breach record).
    sla_cycle: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Business seconds used before the running segment; the segment's start (None = paused or
    # stopped: the clock only runs while the ticket is the agency's to move).
    sla_clock_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sla_clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_warned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    resolution_warned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The next instant the sweep has something to do for this ticket (warn or breach).
    sla_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # ok / at_risk / breached while open; met / breached once resolved; None without a policy.
    sla_status: Mapped[str | None] = mapped_column(String(8))
    # Achieved business seconds and margin (target − achieved; negative = late), for reports.
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    first_response_margin_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_margin_seconds: Mapped[int | None] = mapped_column(Integer)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(Text)
    # When the requester's personal data was erased (app/tickets/erasure.py); the skeleton stays.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", foreign_keys="TicketEvent.ticket_id"
    )
    attachments: Mapped[list[Attachment]] = relationship(back_populates="ticket", order_by="Attachment.id")
    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tags)

    @validates("requester_phone", "requester_nik", "requester_passport")
    def _sync_hash(self, key: str, value: str | None) -> str | None:
        column, kind = HASHED_FIELDS[key]
        setattr(self, column, blind_index(kind, value))
        return value

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<Ticket {self.reference} {self.status}>"


class TicketEvent(db.Model):  # type: ignore[name-defined]
    """One entry of a ticket's timeline; never updated or deleted (append-only), except that
    erasing the requester's data blanks what the worker wrote (app/tickets/erasure.py)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Written by the worker (portal/API) rather than staff.
    by_requester: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events", foreign_keys=[ticket_id])
    attachments: Mapped[list[Attachment]] = relationship(back_populates="event")


class Attachment(db.Model):  # type: ignore[name-defined]
    """A file a worker or agent attached; bytes live under instance/attachments, not the web root."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id", ondelete="SET NULL"))
    original_filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
    event: Mapped[TicketEvent | None] = relationship(back_populates="attachments")


class CannedReply(db.Model):  # type: ignore[name-defined]
    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="id")
    category: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(db.Model):  # type: ignore[name-defined]
    """A message to the worker (WhatsApp/SMS/email); ``key`` makes a retried job send it once.

    ``status`` is our side (handed to the provider or not); ``carrier_status`` is what the
    provider later reports about delivery (status callbacks), only ever moving forward.
    A WhatsApp message sent outside the 24-hour window is an approved template: its Content
    API id and variables are kept with the text the worker reads. ``ticket_id`` is None for an
    answer to a worker who has no case (STATUS with nothing open, the STOP confirmation).
    """

    __tablename__ = "ticket_notifications"
    __table_args__ = (
        UniqueConstraint("key", name="uq_ticket_notifications_key"),
        # Status callbacks name the provider's message id.
        Index("ix_ticket_notifications_provider_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str | None] = mapped_column(EncryptedText)
    body: Mapped[str] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(64))
    content_variables: Mapped[dict[str, str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sent/failed/skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carrier_status: Mapped[str | None] = mapped_column(String(24))
    carrier_error_code: Mapped[str | None] = mapped_column(String(16))
    carrier_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def kind(self) -> str:
        """What the message is (``message``, ``created``, ``first_reply``…), from its key."""
        parts = self.key.split(":")
        return parts[2] if len(parts) > 2 else ""


class TicketView(db.Model):  # type: ignore[name-defined]
    """Who last opened a ticket and when: the collision warning on the ticket page."""

    __tablename__ = "ticket_views"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessagingContact(db.Model):  # type: ignore[name-defined]
    """A phone number that has written to us on one messaging channel (WhatsApp or SMS).

    ``last_inbound_at`` opens WhatsApp's customer-service window (free text for 24 hours after
    her last message) and makes WhatsApp her preferred channel for notifications;
    ``opted_out_at`` is her STOP, kept (never erased with a case: it must go on being honoured)
    until she sends START. ``key`` (channel + keyed hash of the number) is unique, so two
    messages arriving at once store one contact.
    """

    __tablename__ = "messaging_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str] = mapped_column(EncryptedText)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    first_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("phone")
    def _sync_hash(self, key: str, value: str) -> str:
        self.phone_hash = blind_index("phone", value) or ""
        return value

    @staticmethod
    def key_for(channel: str, phone_hash: str) -> str:
        return f"{channel}:{phone_hash}"

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


# What a WhatsApp template may say outside the 24-hour window, by purpose: an agent's answer on
# a conversation ("message") and each notification kind.
TEMPLATE_PURPOSES = ("message", "created", "reply", "resolved", "callback")
# What fills a template's numbered variables ({{1}}, {{2}}…), in the order listed on the template.
TEMPLATE_FIELDS = ("reference", "status", "link", "name")


class MessageTemplate(db.Model):  # type: ignore[name-defined]
    """An approved WhatsApp template (Twilio Content API ``HX…`` id), configured as data by
    administrators: the only thing WhatsApp lets us send once the 24-hour window has closed.
    ``body`` is its approved text with ``{{1}}``-style placeholders (what agents and the
    simulator are shown); ``variables`` names the ticket field that fills each one."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("purpose", "language", name="uq_message_templates_purpose_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    content_sid: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
