"""Factories (factory_boy): valid domain objects with overridable fields, committed to the test database.

``UserFactory(role="supervisor")``, ``TicketFactory(subject="…")``, ``CallFactory()``,
``WorkItemFactory()``, ``SlaPolicyFactory()``, ``MemberFactory()``, ``ClaimFactory(member=m)``.
Each commits (through ``db.session``, so inside the test's transaction when it rolls back).
The ``make_user`` / ``make_member`` / ``make_claim`` functions are the same factories under the
names the tests used before.

Passwords: a user's hash is a real scrypt hash of the password, made once per password with a
low work factor (``scrypt:1024:8:1`` instead of Werkzeug's 32768), so that signing in through the
real form checks it for real in milliseconds rather than ~0.2 s per user and per login. The
application's own hashing (admin pages, password changes) is untouched.
"""

from __future__ import annotations

import functools
import inspect
from datetime import date
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from werkzeug.security import generate_password_hash

from app.agents.models import WorkItem
from app.extensions import db
from app.records.models import Claim, Member
from app.sla.models import SlaPolicy
from app.staff.models import User
from app.telephony.models import Call
from app.tickets.models import Ticket

DEFAULT_PASSWORD = "correct horse battery"  # noqa: S105 - test credential


@functools.lru_cache(maxsize=8)
def password_hash(password: str) -> str:
    """A real scrypt hash of ``password`` with a low work factor (see the module docstring)."""
    return generate_password_hash(password, method="scrypt:1024:8:1")


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the current app context's session
        sqlalchemy_session_persistence = "commit"


class UserFactory(_Base):
    class Meta:
        model = User

    role = "agent"
    email = factory.LazyAttributeSequence(lambda o, n: f"{o.role}{n}@example.test")
    name = factory.LazyAttributeSequence(lambda o, n: f"{o.role.title()} {n}")
    # Tests read English text; the Indonesian default is covered by tests/test_i18n.py.
    language = "en"
    password = DEFAULT_PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        password = kwargs.pop("password")
        user = model_class(*args, **kwargs)
        user.password_hash = password_hash(password)
        user.revoke_sessions()  # as User.set_password does
        db.session.add(user)
        db.session.commit()
        return user


class MemberFactory(_Base):
    class Meta:
        model = Member

    kpj = factory.Sequence(lambda n: f"{n + 1:011d}")
    name = factory.Sequence(lambda n: f"Siti Aminah {n + 1}")
    name_key = factory.Sequence(lambda n: f"siti aminah {n + 1}")
    birth_date = date(1990, 5, 17)
    sex = "F"
    nik = factory.Sequence(lambda n: f"3201015705900{n + 1:03d}"[-16:])
    phone_abroad = "+85291234567"
    placement_country = "HK"
    phase = "PMI"
    programs = factory.LazyFunction(lambda: ["JKK", "JKM"])
    membership_status = "active"


class ClaimFactory(_Base):
    class Meta:
        model = Claim
        exclude = ("member",)

    member = factory.SubFactory(MemberFactory)
    member_id = factory.LazyAttribute(lambda o: o.member.id)
    claim_number = factory.Sequence(lambda n: f"CLM-2026-{n + 1:06d}")
    program = "JKK"
    benefit_type = "medical_abroad"
    status = "verifying"
    incident_date = date(2026, 3, 2)
    amount = 12_500_000


_OPEN_TICKET_ARGS = None


def _open_ticket_args() -> set[str]:
    global _OPEN_TICKET_ARGS
    if _OPEN_TICKET_ARGS is None:
        from app.tickets import services

        _OPEN_TICKET_ARGS = set(inspect.signature(services.open_ticket).parameters)
    return _OPEN_TICKET_ARGS


class TicketFactory(_Base):
    """A ticket opened through the real service (reference, ``created`` event, SLA, matching).

    Fields ``open_ticket`` does not take (``status``, ``sla_status``, …) are set on the ticket
    afterwards. ``commit=False`` leaves it flushed only, as ``open_ticket`` does.
    """

    class Meta:
        model = Ticket

    channel = "portal"
    category = "other"
    subject = "help"
    requester_phone = "+85291234567"
    commit = True

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: Any, **kwargs: Any) -> Ticket:
        from app.tickets import services

        commit = kwargs.pop("commit")
        accepted = _open_ticket_args()
        ticket = services.open_ticket(**{k: v for k, v in kwargs.items() if k in accepted})
        for name, value in kwargs.items():
            if name not in accepted:
                setattr(ticket, name, value)
        if commit:
            db.session.commit()
        else:
            db.session.flush()
        return ticket


class CallFactory(_Base):
    class Meta:
        model = Call

    call_sid = factory.Sequence(lambda n: f"CA{n + 1:032d}")
    direction = "inbound"
    from_number = "+85291234567"
    to_number = "+622150001234"
    language = "id"
    status = "queued"


class WorkItemFactory(_Base):
    """A waiting call in the queue (pass ``ref_id`` of a real call where the test reads it)."""

    class Meta:
        model = WorkItem

    kind = "call"
    ref_id = factory.Sequence(lambda n: n + 1)
    status = "waiting"
    language = "id"
    topic = "other"
    excluded_agents = factory.LazyFunction(list)


class SlaPolicyFactory(_Base):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n + 1}")
    position = factory.Sequence(lambda n: n + 1)
    first_response_minutes = 60
    resolution_minutes = 1440
    warn_percent = 80


def make_user(role: str = "agent", password: str = DEFAULT_PASSWORD, **kwargs: Any) -> User:
    return UserFactory(role=role, password=password, **kwargs)


def make_member(**kwargs: Any) -> Member:
    return MemberFactory(**kwargs)


def make_claim(member: Member, **kwargs: Any) -> Claim:
    return ClaimFactory(member=member, **kwargs)
