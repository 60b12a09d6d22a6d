"""Finding members and summarising them for the people who help them.

* :func:`find_members` links whatever identifiers a caller or a complaint gave to member
  records, with a confidence: KPJ, NIK and passport identify a person (``exact``); a phone is
  shared by families and employers and a name is not unique (``probable``). When strong
  identifiers point at different members, none of them is trusted (``conflict``).
* :func:`member_summary` is what the screen pop and the ticket view show about a member.
* :func:`reveal` hands out one decrypted identifier and records who saw it (UU 27/2022).

Lookups use the keyed hash columns (``nik_hash`` …): an identifier is never found by
decrypting and scanning the table. Services never commit; the route or job does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from app.core import audit
from app.core.crypto import blind_index
from app.core.i18n import _
from app.extensions import db
from app.records.identifiers import (
    IdentifierError,
    QueryKind,
    classify_query,
    name_key,
    normalize_kpj,
    normalize_nik,
    normalize_passport,
    normalize_phone_number,
)
from app.records.models import Claim, Member

__all__ = [
    "CLOSED_CLAIM_STATUSES",
    "REVEALABLE_FIELDS",
    "Match",
    "MemberSummary",
    "SearchResult",
    "find_members",
    "get_member",
    "member_summary",
    "name_key",
    "reveal",
    "search_by_name",
    "search_members",
]

EXACT, PROBABLE = "exact", "probable"
STRONG = ("kpj", "nik", "passport")
# Ranking inside a confidence level: how much each agreeing identifier says about identity.
_WEIGHTS = {
    "kpj": 100,
    "nik": 100,
    "passport": 90,
    "birth_date": 25,
    "phone": 20,
    "name_exact": 10,
    "name": 5,
}
CLOSED_CLAIM_STATUSES = frozenset({"rejected", "paid", "closed"})
REVEALABLE_FIELDS = ("nik", "passport", "phone_id", "phone_abroad", "email", "bank_account")
AGENCY_TZ = ZoneInfo("Asia/Jakarta")
DEFAULT_LIMIT = 20


@dataclass
class Match:
    """A member that fits the given identifiers, how sure we are, and why."""

    member: Member
    confidence: str  # "exact" | "probable"
    reasons: list[str] = field(default_factory=list)  # e.g. ["kpj"], ["phone"], ["nik", "conflict"]

    @property
    def score(self) -> int:
        return sum(_WEIGHTS.get(reason, 0) for reason in self.reasons)


def get_member(member_id: int) -> Member | None:
    """The member with this id, or None."""
    return db.session.get(Member, member_id)


def _normalised(
    kpj: str | None, nik: str | None, passport: str | None, phone: str | None, lenient: bool
) -> dict[str, str]:
    given: dict[str, str] = {}
    checks = (
        ("kpj", kpj, normalize_kpj),
        ("nik", nik, normalize_nik),
        ("passport", passport, normalize_passport),
        ("phone", phone, normalize_phone_number),
    )
    for kind, raw, check in checks:
        if raw is None or not str(raw).strip():
            continue
        try:
            given[kind] = check(raw).value
        except IdentifierError:
            if not lenient:
                raise
    return given


def _strong_hits(given: dict[str, str]) -> dict[str, set[int]]:
    """For each strong identifier given, the ids of the members it names."""
    hits: dict[str, set[int]] = {}
    if "kpj" in given:
        hits["kpj"] = set(db.session.scalars(select(Member.id).where(Member.kpj == given["kpj"])))
    for kind in ("nik", "passport"):
        if kind in given:
            column = Member.nik_hash if kind == "nik" else Member.passport_hash
            hits[kind] = set(
                db.session.scalars(select(Member.id).where(column == blind_index(kind, given[kind])))
            )
    return hits


def find_members(
    kpj: str | None = None,
    nik: str | None = None,
    passport: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    birth_date: date | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    lenient: bool = False,
) -> list[Match]:
    """Members matching the given identifiers, best first, each member once.

    * KPJ, NIK, passport → ``exact``. When two of them name different members, every member
      named by only some of them becomes ``probable`` with reason ``conflict`` (a member named
      by all of them stays exact): a wrong link is worse than asking the caller again.
    * phone (Indonesian or abroad) → ``probable``: families and employers share phones.
    * name + birth date → ``probable``; a name alone → ``probable`` with only ``["name"]``,
      ranked last (search by name, at most ``limit``).

    Identifiers are normalised first; a malformed one raises
    :class:`~app.records.identifiers.IdentifierError` unless ``lenient`` (for machine input
    such as a caller ID, where an unusable value should simply not match).
    """
    given = _normalised(kpj, nik, passport, phone, lenient)
    reasons: dict[int, list[str]] = {}

    def note(member_id: int, reason: str) -> None:
        found = reasons.setdefault(member_id, [])
        if reason not in found:
            found.append(reason)

    hits = _strong_hits(given)
    for kind in STRONG:
        for member_id in hits.get(kind, ()):
            note(member_id, kind)
    matched_sets = [ids for ids in hits.values() if ids]
    agreed = set.intersection(*matched_sets) if matched_sets else set()
    # Members named by every strong identifier that matched anything are exact (two records
    # may share a NIK: a re-registration); members named by only some of them conflict.
    exact = agreed
    conflicted = set().union(*matched_sets) - agreed if matched_sets else set()
    for member_id in conflicted:
        note(member_id, "conflict")

    if "phone" in given:
        phone_hash = blind_index("phone", given["phone"])
        for member_id in db.session.scalars(
            select(Member.id)
            .where(or_(Member.phone_id_hash == phone_hash, Member.phone_abroad_hash == phone_hash))
            .limit(limit)
        ):
            note(member_id, "phone")

    key = name_key(name) if name else ""
    if key and birth_date is not None:
        for member_id, member_key in db.session.execute(
            select(Member.id, Member.name_key)
            .where(Member.birth_date == birth_date, Member.name_key.contains(key, autoescape=True))
            .limit(limit)
        ):
            note(member_id, "name_exact" if member_key == key else "name")
            note(member_id, "birth_date")
    elif key and not given:
        for member in search_by_name(key, limit=limit):
            note(member.id, "name_exact" if member.name_key == key else "name")

    if not reasons:
        return []
    members = {m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_(reasons)))}
    matches = [
        Match(members[member_id], EXACT if member_id in exact else PROBABLE, _public_reasons(found))
        for member_id, found in reasons.items()
        if member_id in members
    ]
    matches.sort(
        key=lambda m: (m.confidence != EXACT, -_score(reasons[m.member.id]), m.member.name_key, m.member.id)
    )
    return matches[:limit] if limit else matches


def _score(reasons: list[str]) -> int:
    return sum(_WEIGHTS.get(reason, 0) for reason in reasons)


def _public_reasons(reasons: list[str]) -> list[str]:
    # "name_exact" only ranks; callers see "name".
    return list(dict.fromkeys("name" if reason == "name_exact" else reason for reason in reasons))


def search_by_name(text: str, limit: int = DEFAULT_LIMIT) -> list[Member]:
    """Members whose normalised name starts with, then contains, ``text``; at most ``limit``.

    A plain LIKE scan: fine for the mirror's size (10⁵–10⁶ rows); a trigram index
    (``pg_trgm``) is the next step if it ever is not.
    """
    key = name_key(text)
    if not key:
        return []
    prefix = list(
        db.session.scalars(
            select(Member)
            .where(Member.name_key.startswith(key, autoescape=True))
            .order_by(Member.name_key, Member.id)
            .limit(limit)
        )
    )
    if len(prefix) >= limit:
        return prefix
    query = select(Member).where(Member.name_key.contains(key, autoescape=True))
    if prefix:
        query = query.where(Member.id.notin_([member.id for member in prefix]))
    contains = db.session.scalars(query.order_by(Member.name_key, Member.id).limit(limit - len(prefix)))
    return prefix + list(contains)


@dataclass
class SearchResult:
    """What one search box entry was read as, and the members found for those readings."""

    readings: list[QueryKind]
    matches: list[Match]


def search_members(text: str, birth_date: date | None = None, limit: int = 50) -> SearchResult:
    """The staff search box: one entry, auto-detected as KPJ, NIK, passport, phone or name.

    An ambiguous entry is searched under each reading (``08123456789`` as KPJ and as phone)
    and the results merged, keeping each member's strongest match. Raises
    :class:`~app.records.identifiers.IdentifierError` when the entry fits no reading.
    """
    readings = classify_query(text)
    best: dict[int, Match] = {}
    for reading in readings:
        if reading.kind == "name":
            found = find_members(name=reading.value, birth_date=birth_date, limit=limit)
        else:
            value = reading.value
            found = find_members(
                kpj=value if reading.kind == "kpj" else None,
                nik=value if reading.kind == "nik" else None,
                passport=value if reading.kind == "passport" else None,
                phone=value if reading.kind == "phone" else None,
                limit=limit,
            )
        for match in found:
            current = best.get(match.member.id)
            if current is None or (match.confidence == EXACT and current.confidence != EXACT):
                best[match.member.id] = match
            elif current.confidence == match.confidence:
                current.reasons = list(dict.fromkeys(current.reasons + match.reasons))
    matches = sorted(
        best.values(), key=lambda m: (m.confidence != EXACT, -m.score, m.member.name_key, m.member.id)
    )
    return SearchResult(readings, matches[:limit])


# ---------------------------------------------------------------------------------------------
# Summary for the screen pop and tickets


@dataclass(frozen=True)
class CoverageWindow:
    """One program's cover between two dates (``end`` None: open-ended)."""

    program: str
    start: date
    end: date | None
    active: bool
    estimated: bool = False  # derived from the contract because the record has no windows


@dataclass(frozen=True)
class ClaimSummary:
    id: int
    claim_number: str
    program: str
    benefit_type: str
    status: str
    incident_date: date | None
    amount: int | None
    submitted_on: date | None
    decided_on: date | None
    paid_on: date | None
    missing_documents: list[str]
    open: bool


@dataclass(frozen=True)
class MemberSummary:
    """What an agent needs at a glance; no strong identifiers (those are revealed on demand)."""

    member_id: int
    kpj: str
    name: str
    birth_date: date | None
    sex: str | None
    phase: str | None
    membership_status: str | None
    placement_country: str | None
    placement_city: str | None
    employer: str | None
    contract_start: date | None
    contract_end: date | None
    programs: list[str]
    coverage: list[CoverageWindow]
    claims: list[ClaimSummary]
    as_of: date

    @property
    def active_programs(self) -> list[str]:
        return sorted({window.program for window in self.coverage if window.active})

    @property
    def open_claims(self) -> list[ClaimSummary]:
        return [claim for claim in self.claims if claim.open]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings) for the screen pop and the API."""

        def plain(value: Any) -> Any:
            if isinstance(value, date | datetime):
                return value.isoformat()
            return value

        data = {
            key: plain(value) for key, value in self.__dict__.items() if key not in ("coverage", "claims")
        }
        data["coverage"] = [{k: plain(v) for k, v in window.__dict__.items()} for window in self.coverage]
        data["claims"] = [{k: plain(v) for k, v in claim.__dict__.items()} for claim in self.claims]
        data["active_programs"] = self.active_programs
        return data


def agency_today() -> date:
    """Today in Jakarta: coverage dates are Indonesian calendar dates."""
    return datetime.now(AGENCY_TZ).date()


def coverage_windows(member: Member, today: date | None = None) -> list[CoverageWindow]:
    """The member's coverage windows, each marked active or not on ``today``.

    When the record carries no windows but a PMI has a contract, the PMI cover is estimated
    as the contract plus one month for the return (SPEC §2) and marked ``estimated``.
    """
    today = today or agency_today()
    windows: list[CoverageWindow] = []
    for raw in member.coverage or []:
        try:
            start = date.fromisoformat(str(raw["start"]))
            end = date.fromisoformat(str(raw["end"])) if raw.get("end") else None
        except (KeyError, TypeError, ValueError):
            continue  # a malformed window from an old import must not break the screen pop
        active = start <= today and (end is None or today <= end)
        windows.append(CoverageWindow(str(raw.get("program")), start, end, active))
    if not windows and member.phase == "PMI" and member.contract_start and member.contract_end:
        end = member.contract_end + timedelta(days=30)
        for program in member.programs or []:
            active = member.contract_start <= today <= end
            windows.append(CoverageWindow(program, member.contract_start, end, active, estimated=True))
    return sorted(windows, key=lambda w: (not w.active, w.program, w.start))


def member_summary(member: Member, today: date | None = None) -> MemberSummary:
    """Phase, coverage as of ``today`` (Jakarta date by default) and claims with statuses."""
    today = today or agency_today()
    claims = db.session.scalars(
        select(Claim)
        .where(Claim.member_id == member.id)
        .order_by(Claim.incident_date.desc(), Claim.id.desc())
    )
    return MemberSummary(
        **_copied(MemberSummary, member, skip={"member_id", "programs", "coverage", "claims", "as_of"}),
        member_id=member.id,
        programs=list(member.programs or []),
        coverage=coverage_windows(member, today),
        claims=[
            ClaimSummary(
                **_copied(ClaimSummary, claim, skip={"missing_documents", "open"}),
                missing_documents=list(claim.missing_documents or []),
                open=claim.status not in CLOSED_CLAIM_STATUSES,
            )
            for claim in claims
        ],
        as_of=today,
    )


def _copied(summary: type, record: object, skip: set[str]) -> dict[str, Any]:
    """The summary's fields that the record holds under the same name."""
    return {f.name: getattr(record, f.name) for f in fields(summary) if f.name not in skip}


# ---------------------------------------------------------------------------------------------
# Revealing personal data


class UnknownField(ValueError):
    """A field that is not a revealable identifier."""


def reveal(member: Member, field_name: str, actor_id: int | None = None) -> str | None:
    """The decrypted value of one identifier, recorded as an audit event ``pii.view``.

    The audit row joins the caller's transaction: the caller commits, so a view that could not
    be recorded is not shown either.
    """
    if field_name not in REVEALABLE_FIELDS:
        raise UnknownField(_("This field cannot be revealed."))
    value: str | None = getattr(member, field_name)
    audit.record("pii.view", "member", member.id, {"field": field_name}, actor_id=actor_id)
    return value
