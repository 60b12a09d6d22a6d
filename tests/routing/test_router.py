"""The router's decisions: who gets which item, when, and what happens to unanswered offers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.agents import routing
from app.agents.models import AgentPresence, AgentStateEvent, RoutingEvent, WorkItem
from app.agents.routing import presence as presence_svc
from app.core.jobs import OutboxIntent
from app.core.realtime import pending
from app.core.time import utcnow
from app.extensions import db


def state_of(agent) -> str:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    presence = db.session.get(AgentPresence, agent.id)
    assert presence is not None
    return presence.state


def item(kind: str, ref_id: int) -> WorkItem:
    db.session.expire_all()
    found = db.session.scalar(select(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id))
    assert found is not None
    return found


def test_enqueue_offers_the_item_to_the_longest_idle_agent(app, agent_factory):
    now = utcnow()
    agent_factory(idle_since=now - timedelta(minutes=1))
    longest = agent_factory(idle_since=now - timedelta(minutes=10))
    agent_factory(idle_since=now - timedelta(minutes=5))

    routing.enqueue("call", 1, language="id", topic="membership")
    db.session.commit()

    assert item("call", 1).status == "offered"
    assert item("call", 1).agent_id == longest.id
    assert state_of(longest) == "offered"


def test_higher_priority_is_served_first_then_the_longest_waiting(app, agent_factory):
    routing.enqueue("call", 1, language="id", topic="membership")
    routing.enqueue("call", 2, language="id", topic="membership")
    routing.enqueue("call", 3, language="id", topic="emergency")
    db.session.commit()
    first = agent_factory()
    routing.route()
    db.session.commit()
    assert item("call", 3).agent_id == first.id  # emergency, although it came last

    second = agent_factory()
    routing.route()
    db.session.commit()
    assert item("call", 1).agent_id == second.id  # then the longest waiting
    assert item("call", 2).status == "waiting"


def test_priority_defaults_from_the_topic_and_is_configurable(app):
    assert (
        routing.topic_priority("emergency")
        > routing.topic_priority("claim_jht")
        > routing.topic_priority("other")
    )
    app.config["ROUTING_TOPIC_PRIORITY"] = {"contribution": 70, "*": 5}
    assert routing.enqueue("call", 9, language="id", topic="contribution").priority == 70
    assert routing.enqueue("call", 10, language="id", topic="other").priority == 5


def test_an_item_waits_for_an_agent_who_speaks_its_language(app, agent_factory):
    indonesian = agent_factory(languages=["id"])
    korean = agent_factory(languages=["id", "ko"])
    routing.enqueue("call", 1, language="ko", topic="claim_jkk")
    db.session.commit()
    assert item("call", 1).agent_id == korean.id
    assert state_of(indonesian) == "available"


def test_topic_skills_restrict_until_the_wait_relaxes_them(app, agent_factory, later):
    claims_only = agent_factory(languages=["id"], topics=["claim_jht"])
    routing.enqueue("call", 1, language="id", topic="contribution")
    db.session.commit()
    assert item("call", 1).status == "waiting"

    routing.route(now=later(61))  # past ROUTING_RELAX_LANGUAGE_AFTER: any Indonesian speaker
    db.session.commit()
    assert item("call", 1).agent_id == claims_only.id


def test_language_relaxes_to_indonesian_then_to_anyone(app, agent_factory, later):
    app.config["ROUTING_RELAX_LANGUAGE_AFTER"] = 60
    app.config["ROUTING_RELAX_ANY_AFTER"] = 180
    english_only = agent_factory(languages=["en"])
    routing.enqueue("call", 1, language="yue", topic="other")
    db.session.commit()
    routing.route(now=later(61))
    db.session.commit()
    assert item("call", 1).status == "waiting"  # an English-only agent is not yet eligible

    routing.route(now=later(181))
    db.session.commit()
    assert item("call", 1).agent_id == english_only.id


def test_an_unanswered_offer_moves_to_the_next_agent_and_the_silent_one_is_set_away(
    app, agent_factory, later
):
    now = utcnow()
    silent = agent_factory(idle_since=now - timedelta(minutes=9))
    other = agent_factory(idle_since=now - timedelta(minutes=1))
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    assert item("call", 1).agent_id == silent.id

    routing.tick(now=later(10))  # not yet timed out
    db.session.commit()
    assert item("call", 1).agent_id == silent.id

    result = routing.tick(now=later(21))
    db.session.commit()
    assert result["expired_offers"] == [item("call", 1).id]
    assert item("call", 1).agent_id == other.id
    assert state_of(silent) == "away"
    presence = db.session.get(AgentPresence, silent.id)
    assert presence is not None and presence.reason == "no_answer"


def test_a_declined_offer_goes_to_the_next_agent_and_never_back(app, agent_factory):
    now = utcnow()
    first = agent_factory(idle_since=now - timedelta(minutes=9))
    second = agent_factory(idle_since=now - timedelta(minutes=1))
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.decline(first.id, item("call", 1).id)
    db.session.commit()
    assert item("call", 1).agent_id == second.id
    assert state_of(first) == "available"

    routing.decline(second.id, item("call", 1).id)
    db.session.commit()
    assert item("call", 1).status == "waiting"  # both declined: nobody left to offer it to


@pytest.mark.parametrize(
    ("kind", "job"),
    [("call", "app.telephony.tasks.connect_agent"), ("callback", "app.telephony.tasks.place_callback")],
)
def test_accept_connects_through_the_outbox(app, agent_factory, kind, job):
    agent = agent_factory()
    routing.enqueue(kind, 5, language="id", topic="claim_jkm")
    db.session.commit()
    work = item(kind, 5)

    routing.accept(agent.id, work.id)
    db.session.commit()

    assert item(kind, 5).status == "connected"
    assert state_of(agent) == "on_call"
    intents = db.session.scalars(select(OutboxIntent)).all()
    assert [(i.func, i.args, i.queue) for i in intents] == [(job, [work.id], "telephony")]


def test_accepting_an_offer_that_is_not_yours_fails(app, agent_factory):
    agent = agent_factory()
    intruder = agent_factory(available=False)
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    with pytest.raises(routing.OfferGone):
        routing.accept(intruder.id, item("call", 1).id)
    assert state_of(agent) == "offered"


def test_after_the_call_the_agent_wraps_up_then_is_available_and_rings_again(app, agent_factory, later):
    app.config["ROUTING_WRAP_UP_SECONDS"] = 30
    app.config["PRESENCE_GRACE_SECONDS"] = 300  # the console stays; only the wrap-up times out
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.accept(agent.id, item("call", 1).id)
    routing.enqueue("call", 2, language="id", topic="other")
    routing.complete("call", 1)
    db.session.commit()
    assert state_of(agent) == "wrap_up"
    assert item("call", 2).status == "waiting"

    routing.tick(now=later(10))
    db.session.commit()
    assert state_of(agent) == "wrap_up"

    routing.tick(now=later(31))
    db.session.commit()
    assert item("call", 2).agent_id == agent.id


def test_finishing_wrap_up_early_saves_the_disposition_and_routes(app, agent_factory):
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.accept(agent.id, item("call", 1).id)
    routing.complete("call", 1)
    routing.enqueue("call", 2, language="id", topic="other")
    db.session.commit()

    routing.finish_wrap_up(agent.id, item("call", 1).id, "resolved")
    db.session.commit()
    assert item("call", 1).disposition == "resolved"
    assert item("call", 1).agent_id == agent.id  # who handled it stays on the record
    assert item("call", 2).agent_id == agent.id


def test_a_caller_who_hangs_up_while_ringing_frees_the_agent(app, agent_factory):
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.cancel("call", 1, "abandoned")
    events = pending()
    db.session.commit()
    assert item("call", 1).status == "cancelled"
    assert state_of(agent) == "available"
    assert (
        "offer.cancelled",
        {"work_item_id": item("call", 1).id, "reason": "abandoned", "version": item("call", 1).version},
        f"user:{agent.id}",
    ) in events


def test_enqueue_is_idempotent_per_call(app):
    first = routing.enqueue("call", 1, language="id", topic="other")
    again = routing.enqueue("call", 1, language="en", topic="emergency")
    db.session.commit()
    assert first.id == again.id
    assert db.session.scalar(select(db.func.count(WorkItem.id))) == 1


def test_position_counts_the_items_served_before_and_estimates_the_wait(app, agent_factory):
    routing.enqueue("call", 1, language="id", topic="other")
    routing.enqueue("call", 2, language="id", topic="other")
    routing.enqueue("call", 3, language="id", topic="emergency")
    db.session.commit()
    assert routing.position("call", 3) == (1, None)  # no history yet: no estimate
    assert routing.position("call", 2) == (3, None)
    assert routing.position("call", 99) == (0, None)

    agent = agent_factory()  # handles call 3 for 120 s
    routing.route()
    work = item("call", 3)
    routing.accept(agent.id, work.id)
    db.session.flush()
    work.connected_at = utcnow() - timedelta(seconds=120)
    routing.complete("call", 3)
    db.session.commit()
    # Position 2 × AHT 120 s ÷ 1 agent logged in.
    assert routing.position("call", 2) == (2, 240)


def test_an_offline_or_away_agent_is_not_offered_work(app, agent_factory):
    agent = agent_factory()
    presence_svc.set_state(agent.id, "away", "lunch")
    agent_factory(available=False)
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    assert item("call", 1).status == "waiting"


def test_a_lost_console_takes_the_agent_offline_after_the_grace_period(app, agent_factory, later):
    app.config["PRESENCE_GRACE_SECONDS"] = 30
    agent = agent_factory()
    routing.tick(now=later(20))
    db.session.commit()
    assert state_of(agent) == "available"

    routing.tick(now=later(31))
    db.session.commit()
    assert state_of(agent) == "offline"
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    assert item("call", 1).status == "waiting"


def test_a_lost_console_gives_back_its_offer(app, agent_factory, later):
    app.config["PRESENCE_GRACE_SECONDS"] = 5
    app.config["ROUTING_OFFER_TIMEOUT"] = 20
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.tick(now=later(6))
    db.session.commit()
    assert state_of(agent) == "offline"
    assert item("call", 1).status == "waiting"


def test_every_presence_change_is_an_event(app, agent_factory):
    agent = agent_factory()
    presence_svc.set_state(agent.id, "away", "break")
    presence_svc.set_state(agent.id, "available")
    db.session.commit()
    events = db.session.scalars(
        select(AgentStateEvent).where(AgentStateEvent.agent_id == agent.id).order_by(AgentStateEvent.id)
    ).all()
    assert [(e.from_state, e.to_state, e.reason) for e in events] == [
        ("offline", "available", "test"),
        ("available", "away", "break"),
        ("away", "available", None),
    ]


def test_an_agent_cannot_leave_a_call_by_switching_state(app, agent_factory):
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.accept(agent.id, item("call", 1).id)
    with pytest.raises(presence_svc.PresenceError):
        presence_svc.set_state(agent.id, "available")


def test_transfer_to_a_named_agent_offers_only_to_them(app, agent_factory):
    now = utcnow()
    first = agent_factory(idle_since=now - timedelta(minutes=9))
    longest_idle = agent_factory(idle_since=now - timedelta(minutes=8))
    target = agent_factory(idle_since=now)
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing.accept(first.id, item("call", 1).id)
    routing.transfer(first.id, item("call", 1).id, to_agent_id=target.id)
    db.session.commit()
    assert item("call", 1).agent_id == target.id
    assert state_of(longest_idle) == "available"
    assert state_of(first) == "wrap_up"


def test_events_carry_versions_to_the_agent_queue_and_supervisors(app, agent_factory):
    agent = agent_factory()
    routing.enqueue("call", 1, language="id", topic="other", country="HK")
    events = pending()
    names = [(name, room) for name, _data, room in events]
    assert ("offer", f"user:{agent.id}") in names
    assert ("queue.updated", "queue:id") in names
    assert ("queue.updated", "supervisors") in names
    assert ("presence.changed", "supervisors") in names
    seqs = [data["seq"] for name, data, room in events if name == "queue.updated" and room == "queue:id"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    db.session.commit()
    assert seqs[-1] == routing.current_seq()
    kinds = db.session.scalars(select(RoutingEvent.kind).order_by(RoutingEvent.id)).all()
    assert kinds == ["enqueued", "offered"]


def test_a_free_agent_finds_their_language_deep_in_a_long_queue(app, agent_factory):
    app.config["ROUTING_SCAN_LIMIT"] = 5
    for n in range(10):
        routing.enqueue("call", n, language="id", topic="other")
    routing.enqueue("call", 99, language="ko", topic="other")
    db.session.commit()
    korean = agent_factory(languages=["ko"])
    routing.route()
    db.session.commit()
    assert item("call", 99).agent_id == korean.id


def test_routing_pages_through_the_queue_without_skipping_items(app, agent_factory):
    # 40 Indonesian calls, then Korean ones; the Korean agent must be found past the first page,
    # and the offers made on the first page must not shift the second page past unseen items.
    for n in range(40):
        routing.enqueue("call", n, language="id", topic="other")
    routing.enqueue("call", 100, language="ko", topic="other")
    routing.enqueue("call", 101, language="ko", topic="other")
    db.session.commit()
    for _ in range(3):
        agent_factory(languages=["id"], available=False)
    korean = agent_factory(languages=["ko"], available=False)
    db.session.execute(
        update(AgentPresence)
        .values(state="available", last_idle_since=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    made = routing.route()
    db.session.commit()
    assert sorted(i for i, _a in made) == sorted(
        [item("call", n).id for n in (0, 1, 2)] + [item("call", 100).id]
    )
    assert item("call", 100).agent_id == korean.id


def test_the_tick_job_commits_each_offer_and_reports_counts(app, agent_factory):
    from app.agents import tasks

    agent_factory()
    agent_factory()
    for n in range(3):
        routing.enqueue("call", n, language="id", topic="other")
    db.session.commit()
    db.session.execute(update(WorkItem).values(status="waiting", agent_id=None, offer_expires_at=None))
    db.session.execute(update(AgentPresence).values(state="available"))
    db.session.commit()

    assert tasks.tick() == {"expired_offers": 0, "wrap_up_over": 0, "offline": 0, "offers": 2}
    assert db.session.scalar(select(db.func.count(WorkItem.id)).where(WorkItem.status == "offered")) == 2
