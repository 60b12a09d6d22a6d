"""The call log hears routing's outcomes: every offer, every unanswered ring, every transfer.

Routing never imports telephony; telephony subscribes (``integration.subscribe_to_routing``,
done by the application factory) and writes the facts in routing's own transaction, each under
a unique key, so a replay adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.agents import routing
from app.agents.models import RoutingEvent, WorkItem
from app.core.time import utcnow
from app.extensions import db
from app.telephony import integration
from app.telephony.models import EVENT_KINDS, Call, CallEvent
from tests.routing.conftest import make_agent


def _queued_call(sim):  # type: ignore[no-untyped-def]
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("3")
    assert phone.state == "queued"
    return db.session.scalar(select(Call).where(Call.call_sid == phone.sid))


def _log(call_id: int, *kinds: str) -> list[CallEvent]:
    query = select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
    if kinds:
        query = query.where(CallEvent.kind.in_(kinds))
    return list(db.session.scalars(query))


def _item(call_id: int) -> WorkItem:
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "call", WorkItem.ref_id == call_id))
    db.session.refresh(item)
    return item


def test_the_new_kinds_are_part_of_the_vocabulary():
    assert {"offered", "ring_no_answer", "transferred"} <= set(EVENT_KINDS)


ROUTING_KINDS = (
    "enqueued", "offered", "accepted", "declined", "no_answer", "logout", "console_lost",
    "transferred", "disposition", "completed", "cancelled", "callback_scheduled",
)  # fmt: skip


def _heard_by(receiver) -> set[str]:  # type: ignore[no-untyped-def]
    return {kind for kind in ROUTING_KINDS if receiver in set(routing.routing_event.receivers_for(kind))}


def test_the_call_log_hears_only_the_kinds_it_logs(app):
    assert _heard_by(integration.routing_outcome) == {"offered", "declined", "no_answer", "transferred"}
    assert _heard_by(integration.wrap_up_outcome) == {"disposition"}


def test_each_offer_and_each_unanswered_ring_is_one_call_log_fact(sim, clock):
    first = make_agent(idle_since=utcnow() - timedelta(minutes=30))
    second = make_agent(idle_since=utcnow() - timedelta(minutes=20))
    third = make_agent(idle_since=utcnow() - timedelta(minutes=10))
    call = _queued_call(sim)
    call_id = call.id

    item = _item(call_id)
    assert item.status == "offered" and item.agent_id == first.id
    routing.decline(first.id, item.id)  # → offered to the second agent at once
    db.session.commit()
    item = _item(call_id)
    assert item.agent_id == second.id
    later = item.offer_expires_at + timedelta(seconds=1)
    routing.expire_offers(later)  # the second agent lets it ring out
    db.session.commit()
    routing.route(later)  # the tick routes what the time-out put back
    db.session.commit()
    item = _item(call_id)
    assert item.agent_id == third.id
    routing.accept(third.id, item.id)
    db.session.commit()

    offers = _log(call_id, "offered")
    assert [(e.agent_id, e.data["work_item_id"]) for e in offers] == [
        (first.id, item.id),
        (second.id, item.id),
        (third.id, item.id),
    ]
    assert len({e.key for e in offers}) == 3
    rings = _log(call_id, "ring_no_answer")
    assert [(e.agent_id, e.data["reason"]) for e in rings] == [(first.id, "declined"), (second.id, "timeout")]
    # The time-out came 21 s after the second offer (ROUTING_OFFER_TIMEOUT 20 + 1).
    timeout_ring = rings[1].data["ring_ms"]
    assert 20_000 < timeout_ring <= 21_500
    assert 0 <= rings[0].data["ring_ms"] < 5_000
    # The facts are in the order they happened, with routing's times.
    assert offers[0].at <= rings[0].at <= offers[1].at <= rings[1].at <= offers[2].at


def test_a_transfer_names_who_gave_the_call_and_to_whom(sim, clock):
    giver = make_agent(idle_since=utcnow() - timedelta(minutes=5))
    call_id = _queued_call(sim).id
    item = _item(call_id)
    routing.accept(giver.id, item.id)
    db.session.commit()
    taker = make_agent()  # becomes available after the accept: not offered anything yet

    routing.transfer(giver.id, item.id, to_agent_id=taker.id)
    db.session.commit()

    [transferred] = _log(call_id, "transferred")
    assert transferred.agent_id == giver.id
    assert transferred.data["to_agent_id"] == taker.id
    assert transferred.data["work_item_id"] == item.id
    # The transfer routes at once: the named agent is offered the call, and that is logged too.
    assert [e.agent_id for e in _log(call_id, "offered")] == [giver.id, taker.id]


def test_replaying_a_routing_event_adds_nothing(sim, clock):
    agent = make_agent()
    call_id = _queued_call(sim).id
    item = _item(call_id)
    routing.decline(agent.id, item.id)
    db.session.commit()
    before = [e.key for e in _log(call_id)]
    events = db.session.scalars(select(RoutingEvent).where(RoutingEvent.work_item_id == item.id)).all()
    offered = next(e for e in events if e.kind == "offered")
    declined = next(e for e in events if e.kind == "declined")

    item = _item(call_id)
    item.offers = 1  # as it was when those events were written
    integration.routing_outcome(offered.kind, item=item, event=offered)
    integration.routing_outcome(declined.kind, item=item, event=declined)
    db.session.rollback()
    assert [e.key for e in _log(call_id)] == before


def test_call_backs_are_routed_without_call_log_entries(app, clock):
    agent = make_agent()
    routing.enqueue("callback", 4242, language="id", topic="other")
    db.session.commit()
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "callback"))
    assert item.status == "offered" and item.agent_id == agent.id
    assert db.session.scalars(select(CallEvent)).all() == []


def test_a_failing_listener_does_not_stop_an_agent_ringing(sim, clock):
    def broken(kind, *, item, event):  # type: ignore[no-untyped-def]
        db.session.add(CallEvent(key="broken", call_id=item.ref_id, kind="offered", data={}))
        raise RuntimeError("call log down")

    # In the call log's place; not marked has_own_savepoints: its write goes with its savepoint.
    routing.routing_event.disconnect(integration.routing_outcome)
    try:
        with routing.routing_event.connected_to(broken):
            agent = make_agent()
            call_id = _queued_call(sim).id
    finally:
        integration.subscribe_to_routing()
    item = _item(call_id)
    assert item.status == "offered" and item.agent_id == agent.id
    # The broken listener's write was rolled back with its savepoint; nothing else was lost.
    assert [e.kind for e in _log(call_id)] == ["created", "queued"]
