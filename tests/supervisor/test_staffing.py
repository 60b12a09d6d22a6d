"""Staffing per 30-minute slot: observations from the call log, then Erlang C and Erlang A."""

from __future__ import annotations

from datetime import date, time

import pytest

from app.supervisor import kpis, staffing
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call, states, wib

SETTINGS = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")
PLAIN = staffing.StaffingParameters(
    target_service_level=0.8, answer_target=20, max_occupancy=1.0, shrinkage=0.3, max_abandon=1.0
)


def _observed(arrivals, handled, handle_seconds, days=2, queued_seconds=0.0, abandons=0):
    observations = staffing.Observations(days=[], observed=[date(2026, 2, d) for d in range(1, days + 1)])
    observations.slots[time(9, 0)] = staffing.SlotObservation(arrivals, handled, handle_seconds, 0.0)
    observations.queued_seconds, observations.abandons = queued_seconds, abandons
    observations.handled, observations.handle_seconds = handled, handle_seconds
    return observations


def test_the_call_centre_helper_example_as_observed_history():
    # Two days of 100 calls in the 09:00 slot at 180 s each: A = 10 → 14 agents, 20 seats.
    [row] = staffing.plan_rows(_observed(200, 200, 200 * 180.0), PLAIN)
    assert row.arrivals == 100 and row.aht == 180
    assert row.traffic == pytest.approx(10)
    assert (row.erlang_c.raw_agents, row.erlang_c.rostered) == (14, 20)
    assert row.erlang_c.service_level == pytest.approx(0.8884, abs=5e-5)


def test_erlang_a_uses_the_patience_estimated_from_abandons():
    # 10 abandons over 3,000 s queued in total: mean patience 300 s (5 min): 13 agents (pyworkforce docs).
    observations = _observed(200, 200, 200 * 180.0, queued_seconds=3000, abandons=10)
    assert observations.patience == 300
    [row] = staffing.plan_rows(observations, PLAIN)
    assert row.erlang_a.raw_agents == 13
    assert row.erlang_a.abandon_probability == pytest.approx(0.0250, abs=5e-5)
    assert row.erlang_c.raw_agents == 14


def test_without_abandons_erlang_a_is_erlang_c():
    [row] = staffing.plan_rows(_observed(200, 200, 200 * 180.0), PLAIN)
    assert row.erlang_a == row.erlang_c


def test_occupancy_cap_and_shrinkage_come_from_the_parameters():
    capped = staffing.StaffingParameters(0.8, 20, max_occupancy=0.7, shrinkage=0.3, max_abandon=1.0)
    [row] = staffing.plan_rows(_observed(200, 200, 200 * 180.0), capped)
    assert (row.erlang_c.raw_agents, row.erlang_c.rostered) == (15, 22)


def test_a_slot_without_calls_needs_nobody():
    observations = _observed(0, 0, 0.0)
    observations.slots[time(9, 0)].agent_seconds = 2 * 1800 * 3  # three agents logged in each day
    [row] = staffing.plan_rows(observations, PLAIN)
    assert row.erlang_c is None and row.traffic == 0
    assert row.agents_observed == pytest.approx(3)


def test_same_weekdays_are_whole_weeks_back():
    assert staffing.same_weekdays(date(2026, 3, 16), 3) == [
        date(2026, 2, 23),
        date(2026, 3, 2),
        date(2026, 3, 9),
    ]


def test_observations_from_the_call_log(db):
    agent = make_user()
    monday_1, monday_2, tuesday = (2026, 3, 2), (2026, 3, 9), (2026, 3, 10)
    # Monday 2 March, 09:00 slot: two handled calls (talk 100 and 200), one abandon after 60 s.
    add_call(Spec("09:05", day=monday_1, answer=10, talk=100, agent=agent.id))
    add_call(Spec("09:20", day=monday_1, answer=30, talk=200, agent=agent.id))
    add_call(Spec("09:25", day=monday_1, abandon=60))
    add_call(Spec("09:26", day=monday_1, abandon=2))  # short abandon: not an arrival
    # Monday 9 March: one call at 09:10 and one at 10:40.
    add_call(Spec("09:10", day=monday_2, answer=0, talk=300, agent=agent.id))
    add_call(Spec("10:40", day=monday_2, callback=50))
    add_call(Spec("09:10", day=tuesday, answer=0, talk=999))  # another weekday: ignored
    states(agent.id, ("09:00", "available"), ("09:30", "offline"))  # on the 2nd: 1 agent for 30 min
    db.session.commit()

    observations = staffing.observe(
        staffing.same_weekdays(date(2026, 3, 16), 3), SETTINGS, now=wib("12:00", (2026, 3, 16))
    )
    assert observations.observed == [date(2026, 3, 2), date(2026, 3, 9)]  # 23 February had no call
    nine = observations.slots[time(9, 0)]
    assert (nine.arrivals, nine.handled, nine.handle_seconds) == (4, 3, 600)
    assert observations.slots[time(10, 30)].arrivals == 1
    # Patience: queued 10 + 30 + 60 + 0 + 50 = 150 s, one abandon.
    assert observations.patience == 150
    rows = {row.slot: row for row in staffing.plan_rows(observations, PLAIN)}
    assert rows[time(9, 0)].arrivals == 2  # 4 arrivals over 2 observed Mondays
    assert rows[time(9, 0)].aht == 200
    assert rows[time(10, 30)].aht == 200  # no handled call in the slot: the days' AHT
    assert rows[time(9, 0)].agents_observed == pytest.approx(0.5)  # 1 agent on 1 of 2 days


def test_plan_for_a_queue_reads_only_that_queue(db, app):
    add_call(Spec("09:05", day=(2026, 3, 9), language="en", answer=10, talk=100))
    add_call(Spec("09:06", day=(2026, 3, 9), language="id", answer=10, talk=100))
    db.session.commit()
    plan = staffing.staffing_plan(
        date(2026, 3, 16),
        weeks=1,
        queue="en",
        settings=SETTINGS,
        parameters=PLAIN,
        now=wib("00:00", (2026, 3, 16)),
    )
    assert [(row.slot, row.arrivals) for row in plan.rows] == [(time(9, 0), 1)]
    assert plan.peak_rostered == plan.rows[0].erlang_c.rostered
