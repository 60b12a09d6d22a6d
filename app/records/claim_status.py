"""What a member may be told about her own claims once she has proven who she is (the IVR's
self-service, SPEC §3.1 item 7): which claims, when each last changed, and the payment target
the law sets for its program.

The payment targets are data, here and nowhere else: the IVR and the SMS read them from
:data:`PAYMENT_TARGETS`, and a change in the law is a change of this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.records.models import Claim, Member

# A claim in one of these statuses is settled; it is still told while its last change is recent.
SETTLED_STATUSES = frozenset({"rejected", "paid", "closed"})


@dataclass(frozen=True)
class PaymentTarget:
    """How many working days the law gives the agency to pay a claim of ``program`` once its
    file is complete (None: no target set by law), and where that comes from."""

    program: str
    working_days: int | None
    basis: str


PAYMENT_TARGETS: dict[str, PaymentTarget] = {
    "JKM": PaymentTarget("JKM", 3, "PP 44/2015; Permenaker 5/2021"),
    "JHT": PaymentTarget("JHT", 5, "PP 46/2015 Pasal 31"),
    # No deadline found in the regulation (shared/reference/domain.md, "Service levels" and open
    # item 4): the caller is told that the law sets none rather than a number we made up.
    "JKK": PaymentTarget("JKK", None, "Permenaker 4/2023 sets no payment deadline (to confirm with BPJS)"),
}


def payment_target(program: str) -> PaymentTarget:
    return PAYMENT_TARGETS.get(program) or PaymentTarget(program, None, "")


@dataclass(frozen=True)
class ClaimStatus:
    """One claim as the member hears it: program, benefit, status, last change, legal target."""

    claim_number: str
    program: str
    benefit_type: str
    status: str
    last_change: date | None
    target_days: int | None

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_STATUSES


def last_change(claim: Claim) -> date | None:
    """The date of the claim's latest step we know of: paid, decided, submitted or the incident."""
    dates = [d for d in (claim.paid_on, claim.decided_on, claim.submitted_on, claim.incident_date) if d]
    return max(dates) if dates else None


def claims_to_tell(member_id: int, today: date, *, recent_days: int, limit: int) -> tuple[list[ClaimStatus], int]:
    """The member's open claims and those settled within ``recent_days`` of ``today``: open ones
    first, then by last change, newest first. At most ``limit`` of them, and how many more."""
    since = today - timedelta(days=recent_days)
    told: list[ClaimStatus] = []
    for claim in db.session.scalars(select(Claim).where(Claim.member_id == member_id).order_by(Claim.id)):
        changed = last_change(claim)
        settled = claim.status in SETTLED_STATUSES
        if settled and (changed is None or changed < since):
            continue
        told.append(
            ClaimStatus(
                claim_number=claim.claim_number,
                program=claim.program,
                benefit_type=claim.benefit_type,
                status=claim.status,
                last_change=changed,
                target_days=payment_target(claim.program).working_days,
            )
        )
    told.sort(key=lambda c: (c.settled, -(c.last_change or date.min).toordinal(), c.claim_number))
    return told[:limit], max(0, len(told) - limit)


def has_birth_date(member_id: int) -> bool:
    """The member record holds a birth date to check a caller against."""
    return db.session.scalar(select(Member.birth_date).where(Member.id == member_id)) is not None


def birth_date_matches(member_id: int, entered: date) -> bool | None:
    """Whether ``entered`` is the member's birth date; None when the record has none to compare."""
    birth = db.session.scalar(select(Member.birth_date).where(Member.id == member_id))
    if birth is None:
        return None
    return bool(birth == entered)


def claims_topic(member_id: int, today: date, *, recent_days: int) -> str:
    """The ticket category (and routing topic) of a claim-status caller who wants an agent: the
    program of the first claim she would hear about, else of her latest claim; ``benefit_info``
    when she has none."""
    told, _more = claims_to_tell(member_id, today, recent_days=recent_days, limit=1)
    program = told[0].program if told else None
    if program is None:
        program = db.session.scalar(
            select(Claim.program).where(Claim.member_id == member_id).order_by(Claim.id.desc()).limit(1)
        )
    return f"claim_{program.lower()}" if program in PAYMENT_TARGETS else "benefit_info"
