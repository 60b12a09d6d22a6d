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
CHANNELS = ("phone", "browser_call", "callback", "voicemail", "portal", "api", "email")
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
)
MATCH_CONFIDENCES = ("exact", "probable", "confirmed")
NOTIFICATION_CHANNELS = ("sms", "email")

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
)


class Tag(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Ticket(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_assignee", "status", "assignee_id"),
        Index("ix_tickets_category_country", "category", "country"),
        Index("ix_tickets_member_status", "member_id", "status"),
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
    # SLA due times: computed by the SLA engine (a later issue), indexed for "breaching soon".
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(Text)

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


class TicketEvent(db.Model):  # type: ignore[name-defined,misc]
    """One entry of a ticket's timeline; never updated or deleted (append-only)."""

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


class Attachment(db.Model):  # type: ignore[name-defined,misc]
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


class CannedReply(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="id")
    category: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(db.Model):  # type: ignore[name-defined,misc]
    """A message to the worker (SMS/email); ``key`` makes a retried job send it once."""

    __tablename__ = "ticket_notifications"
    __table_args__ = (UniqueConstraint("key", name="uq_ticket_notifications_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str | None] = mapped_column(EncryptedText)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sent/failed/skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TicketView(db.Model):  # type: ignore[name-defined,misc]
    """Who last opened a ticket and when: the collision warning on the ticket page."""

    __tablename__ = "ticket_views"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
