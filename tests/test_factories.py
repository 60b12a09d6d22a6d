"""The factories make valid, committed rows; a factory user signs in through the real form."""

from __future__ import annotations

from sqlalchemy import func, select

from app.agents.models import WorkItem
from app.sla.models import SlaPolicy
from app.telephony.models import Call
from app.tickets.models import Ticket
from tests.factories import (
    CallFactory,
    ClaimFactory,
    SlaPolicyFactory,
    TicketFactory,
    WorkItemFactory,
)


def test_each_factory_commits_a_valid_row(db):
    call = CallFactory()
    WorkItemFactory(ref_id=call.id)
    SlaPolicyFactory()
    claim = ClaimFactory()
    db.session.expire_all()
    for model in (Call, WorkItem, SlaPolicy):
        assert db.session.scalar(select(func.count()).select_from(model)) == 1
    assert claim.member.kpj and call.from_hash  # the model's own hooks ran


def test_ticket_factory_opens_through_the_service_and_sets_the_rest(db):
    ticket = TicketFactory(status="open", sla_status="at_risk")
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert stored.reference.startswith("PMI-") and [e.kind for e in stored.events] == ["created"]
    assert (stored.status, stored.sla_status) == ("open", "at_risk")


def test_a_factory_user_signs_in_through_the_form(auth, client):
    auth.login_as("agent")
    assert client.get("/staff/").status_code == 200
