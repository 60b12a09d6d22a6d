"""Member and Claim: mirrors of the agency's core records (SPEC §2), never authored here.

Strong identifiers (NIK, passport, phones) and bank data are encrypted at rest
(``EncryptedText``); each searchable one has a keyed hash (``*_hash``) for indexed exact lookup.
Setting the plaintext attribute through the ORM keeps its hash in step (see ``_sync_hash``);
bulk writers (the importer) compute both themselves with :func:`identifier_hashes`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.crypto import EncryptedText, blind_index
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

PHASES = ("CPMI", "PMI", "PURNA")
PROGRAMS = ("JKK", "JKM", "JHT")
MEMBERSHIP_STATUSES = ("active", "inactive", "expired", "pending")
SCHEMES = ("P3MI", "G2G", "PERSEORANGAN", "COMPANY")
CLAIM_STATUSES = (
    "reported",
    "submitted",
    "documents_incomplete",
    "verifying",
    "medical_assessment",
    "approved",
    "rejected",
    "paid",
    "closed",
)
CHANNELS = ("branch", "online", "jmo", "embassy", "call_centre", "p3mi", "other")

# Which hash column belongs to which encrypted attribute, and the hash "kind" used.
HASHED_FIELDS = {
    "nik": ("nik_hash", "nik"),
    "passport": ("passport_hash", "passport"),
    "phone_id": ("phone_id_hash", "phone"),
    "phone_abroad": ("phone_abroad_hash", "phone"),
}


def identifier_hashes(values: dict[str, Any]) -> dict[str, str | None]:
    """The hash columns for whichever hashed fields appear in ``values``."""
    return {
        column: blind_index(kind, values.get(field))
        for field, (column, kind) in HASHED_FIELDS.items()
        if field in values
    }


class Member(db.Model):  # type: ignore[name-defined]
    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_name_birth", "name_key", "birth_date"),
        Index("ix_members_country_phase", "placement_country", "phase"),
    )

    __pii_hashes__ = HASHED_FIELDS  # read by `flask pii rotate` to recompute the hashes

    id: Mapped[int] = mapped_column(primary_key=True)
    kpj: Mapped[str] = mapped_column(String(11), unique=True)
    nik: Mapped[str | None] = mapped_column(EncryptedText)
    nik_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # lowercased, accent- and space-folded
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))  # M / F
    phone_id: Mapped[str | None] = mapped_column(EncryptedText)  # Indonesian number, E.164
    phone_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_abroad: Mapped[str | None] = mapped_column(EncryptedText)  # number abroad, E.164
    phone_abroad_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(EncryptedText)
    passport: Mapped[str | None] = mapped_column(EncryptedText)
    passport_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    home_province: Mapped[str | None] = mapped_column(String(80))
    home_regency: Mapped[str | None] = mapped_column(String(80))
    placement_country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166 alpha-2
    placement_city: Mapped[str | None] = mapped_column(String(80))
    employer: Mapped[str | None] = mapped_column(String(200))
    placement_agency: Mapped[str | None] = mapped_column(String(200))  # P3MI
    scheme: Mapped[str | None] = mapped_column(String(16))
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    phase: Mapped[str | None] = mapped_column(String(8))
    programs: Mapped[list[str]] = mapped_column(JSON, default=list)
    membership_status: Mapped[str | None] = mapped_column(String(16))
    # Coverage windows per program: [{"program": "JKK", "start": "2026-01-01", "end": …}, …]
    coverage: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    preferred_language: Mapped[str] = mapped_column(String(8), default="id")
    bank_name: Mapped[str | None] = mapped_column(String(80))
    bank_account: Mapped[str | None] = mapped_column(EncryptedText)
    source_hash: Mapped[str | None] = mapped_column(String(64))  # fingerprint of the last import
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    claims: Mapped[list[Claim]] = relationship(
        back_populates="member", order_by="Claim.incident_date.desc()"
    )

    @validates("nik", "passport", "phone_id", "phone_abroad")
    def _sync_hash(self, key: str, value: str | None) -> str | None:
        column, kind = HASHED_FIELDS[key]
        setattr(self, column, blind_index(kind, value))
        return value

    def __repr__(self) -> str:
        return f"<Member {self.kpj}>"


class Claim(db.Model):  # type: ignore[name-defined]
    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_member_status", "member_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    program: Mapped[str] = mapped_column(String(3))
    benefit_type: Mapped[str] = mapped_column(String(64))
    incident_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int | None] = mapped_column(BigInteger)  # rupiah, integer
    submitted_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    paid_on: Mapped[date | None] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(16))
    missing_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    source_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    member: Mapped[Member] = relationship(back_populates="claims")

    def __repr__(self) -> str:
        return f"<Claim {self.claim_number} {self.status}>"
