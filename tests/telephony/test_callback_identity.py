"""An anonymous call-back names a KPJ: a claim, not a proof (issue 12, item 7).

Before: a call-back naming only another member's KPJ was linked to that member as confirmed and
attached to her open ticket, so a stranger's request landed in her case.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db as _db
from app.telephony.clicktocall import request_callback
from app.tickets import services as tickets
from app.tickets.models import Ticket, TicketEvent
from tests.factories import make_member


def test_a_call_back_naming_someone_elses_kpj_never_joins_her_case(app, db):
    siti = make_member(phone_abroad="+85291110000")
    hers = tickets.open_ticket(
        channel="portal", category="claim_jkm", subject="Klaim JKM suami", member_id=siti.id,
        requester_phone="+85291110000",
    )
    _db.session.commit()
    events_before = _db.session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.ticket_id == hers.id))

    callback = request_callback(
        {"phone": "+886912345678", "language": "id", "topic": "claim_jkm", "kpj": siti.kpj}, "203.0.113.7"
    )
    _db.session.commit()

    assert callback.ticket_id != hers.id
    new = _db.session.get(Ticket, callback.ticket_id)
    assert new.member_id == siti.id and new.match_confidence == "probable"  # for an agent to confirm
    after = _db.session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.ticket_id == hers.id))
    assert after == events_before  # her case did not hear of it


def test_a_call_back_from_the_phone_of_an_open_case_joins_that_case(app, db):
    first = request_callback({"phone": "+886912345678", "language": "id", "topic": "other"}, "203.0.113.7")
    _db.session.commit()
    again = request_callback({"phone": "+886912345678", "language": "id", "topic": "other"}, "203.0.113.7")
    _db.session.commit()
    assert again.ticket_id == first.ticket_id
