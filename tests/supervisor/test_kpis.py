"""Each KPI definition, table-driven, with figures worked out by hand (T = 20 s, T_sa = 5 s).

The calls are written to the database as telephony logs them (tests/supervisor/calllog.py) and
read back through the real query, so every row checks the SQL and the arithmetic together.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale

from app.agents.models import AgentStateEvent
from app.supervisor import kpis
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call, states, wib, work_item_for

SETTINGS = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")
START, END = wib("00:00"), wib("00:00") + timedelta(days=1)
NOW = wib("12:00")


def report(db, calls, *, interval="day", dimension="all", settings=SETTINGS, now=NOW):
    for spec in calls:
        add_call(spec)
    db.session.commit()
    return kpis.call_report(START, END, interval=interval, dimension=dimension, settings=settings, now=now)


A = Spec  # short alias for the tables


SERVICE_LEVEL = [
    # (case, calls, expected service level, expected counts)
    ("answered exactly at T is in time", [A("09:00", answer=20, talk=60)], 1.0, {"answered_within": 1}),
    ("answered one second late is not", [A("09:00", answer=21, talk=60)], 0.0, {"answered_within": 0}),
    (
        "a short abandon is left out",
        [A("09:00", answer=10, talk=60), A("09:01", abandon=4)],
        1.0,
        {"short_abandoned": 1, "abandoned": 0},
    ),
    (
        "an abandon at the threshold counts against",
        [A("09:00", answer=10, talk=60), A("09:01", abandon=5)],
        0.5,
        {"short_abandoned": 0, "abandoned": 1},
    ),
    (
        "an abandon within T still counts against",
        [A("09:00", answer=10, talk=60), A("09:01", abandon=15)],
        0.5,
        {"abandoned": 1},
    ),
    (
        "a callback request is left out",
        [A("09:00", answer=10, talk=60), A("09:01", callback=40)],
        1.0,
        {"callbacks": 1, "abandoned": 0},
    ),
    (
        "a timed-out call counts against",
        [A("09:00", answer=10, talk=60), A("09:01", voicemail=300)],
        0.5,
        {"timed_out": 1},
    ),
    (
        "a call still waiting is not counted yet",
        [A("09:00", answer=10, talk=60), A("11:59:30")],
        1.0,
        {"waiting": 1, "offered": 2},
    ),
    (
        "four calls: 3 in time of 4 that count",
        [
            A("09:00", answer=0, talk=60),
            A("09:01", answer=20, talk=60),
            A("09:02", answer=45, talk=60),
            A("09:03", answer=19),  # still talking: answered all the same
            A("09:04", abandon=2),
            A("09:05", callback=25),
        ],
        0.75,
        {"answered": 4, "answered_within": 3, "short_abandoned": 1, "callbacks": 1, "offered": 6},
    ),
    ("no calls, no figure", [], None, {"offered": 0}),
]


@pytest.mark.parametrize(
    ("case", "calls", "expected", "counts"), SERVICE_LEVEL, ids=[c[0] for c in SERVICE_LEVEL]
)
def test_service_level(db, case, calls, expected, counts):
    figures = report(db, calls).overall
    assert figures.service_level == (pytest.approx(expected) if expected is not None else None)
    for name, value in counts.items():
        assert getattr(figures, name) == value, name


VARIANTS = [
    # calls: answered 10 s, short abandon 3 s, callback at 15 s, answered 30 s, abandon 25 s
    (
        [
            A("09:00", answer=10, talk=60),
            A("09:01", abandon=3),
            A("09:02", callback=15),
            A("09:03", answer=30, talk=60),
            A("09:04", abandon=25),
        ],
        {
            # answered within 1 ÷ (answered 2 + abandoned 1)
            "service_level": 1 / 3,
            # left within T: 10 s answer, 3 s abandon, 15 s callback = 3 ÷ 5 left
            "service_level_connect": 3 / 5,
            # answered within 1 ÷ answered 2
            "service_level_answered": 1 / 2,
            # (answered within 1 + abandoned within 1 (the 3 s one)) ÷ (2 answered + 2 abandoned)
            "service_level_sl2": 2 / 4,
            # abandoned 1 ÷ (offered 5 − short 1)
            "abandon_rate": 1 / 4,
        },
    ),
]


@pytest.mark.parametrize(("calls", "expected"), VARIANTS)
def test_service_level_variants_and_abandon_rate_side_by_side(db, calls, expected):
    figures = report(db, calls).overall
    for name, value in expected.items():
        assert getattr(figures, name) == pytest.approx(value), name


ABANDON_RATE = [
    ("a callback is not an abandon", [A("09:00", answer=5, talk=10), A("09:01", callback=200)], 0.0),
    (
        "short abandons leave numerator and denominator",
        [A("09:00", answer=5, talk=10), A("09:01", abandon=1)],
        0.0,
    ),
    ("a long abandon", [A("09:00", answer=5, talk=10), A("09:01", abandon=90)], 0.5),
    (
        "waiting calls stay in the denominator (offered)",
        [A("09:00", abandon=30), A("09:01", answer=3, talk=9), A("11:59")],
        1 / 3,
    ),
    (
        "abandoned 2 of offered 5 minus short 1",
        [
            A("09:00", abandon=6),
            A("09:01", abandon=60),
            A("09:02", abandon=2),
            A("09:03", answer=1, talk=5),
            A("09:04", voicemail=300),
        ],
        2 / 4,
    ),
]


@pytest.mark.parametrize(("case", "calls", "expected"), ABANDON_RATE, ids=[c[0] for c in ABANDON_RATE])
def test_abandon_rate(db, case, calls, expected):
    assert report(db, calls).overall.abandon_rate == pytest.approx(expected)


ASA = [
    (
        "mean wait of answered calls",
        [A("09:00", answer=10), A("09:01", answer=20), A("09:02", answer=33)],
        21.0,
    ),
    ("abandoned waits do not count", [A("09:00", answer=10, talk=5), A("09:01", abandon=300)], 10.0),
    ("no answered call, no ASA", [A("09:00", abandon=30)], None),
]


@pytest.mark.parametrize(("case", "calls", "expected"), ASA, ids=[c[0] for c in ASA])
def test_asa(db, case, calls, expected):
    figures = report(db, calls).overall
    assert figures.asa == (pytest.approx(expected) if expected is not None else None)


def test_aht_is_talk_plus_wrap_up_over_calls_that_ended(db):
    agent = make_user()
    first = add_call(A("09:00", answer=10, talk=100, agent=agent.id))
    add_call(A("09:05", answer=5, talk=200, agent=agent.id))
    add_call(A("09:10", answer=5, agent=agent.id))  # still talking: not in AHT
    item = work_item_for(first, agent.id)
    # Wrap-up of the first call: 09:01:50 (after 100 s talk) until 09:02:20 = 30 s.
    states(agent.id, ("09:00:10", "on_call"), ("09:01:50", "wrap_up"), work_item_id=item.id)
    states(agent.id, ("09:02:20", "available"))
    db.session.commit()
    figures = kpis.call_report(
        START, END, interval="day", dimension="all", settings=SETTINGS, now=NOW
    ).overall
    assert figures.handled == 2
    assert figures.talk == 300
    assert figures.wrap_up == 30
    assert figures.aht == pytest.approx((100 + 30 + 200) / 2)


def test_wrap_up_still_running_counts_until_now(db):
    agent = make_user()
    call = add_call(A("09:00", answer=10, talk=100, agent=agent.id))
    item = work_item_for(call, agent.id)
    states(agent.id, ("09:01:50", "wrap_up"), work_item_id=item.id)
    db.session.commit()
    now = wib("09:02:50")
    figures = kpis.call_report(
        START, END, interval="day", dimension="all", settings=SETTINGS, now=now
    ).overall
    assert figures.wrap_up == 60


def test_occupancy_is_busy_over_busy_plus_idle_cut_at_interval_boundaries(db):
    agent = make_user()
    # idle 09:00–09:10, ringing 09:10–09:10:10, on a call to 09:20, wrap-up to 09:25, away to 09:30.
    states(
        agent.id,
        ("09:00", "available"),
        ("09:10", "offered"),
        ("09:10:10", "on_call"),
        ("09:20", "wrap_up"),
        ("09:25", "away"),
        ("09:30", "offline"),
    )
    db.session.commit()
    day = report(db, [], interval="day")
    # busy 10 s + 590 s + 300 s = 900; idle 600
    assert day.overall.busy == 900
    assert day.overall.idle == 600
    assert day.overall.occupancy == pytest.approx(0.6)
    quarter = kpis.call_report(START, END, interval="15", dimension="all", settings=SETTINGS, now=NOW)
    by_bucket = {row.bucket: row.figures for row in quarter.rows}
    # 09:00–09:15: idle 600, busy 300 → 1/3; 09:15–09:30: busy 600, away 300 → 1.0
    assert by_bucket[wib("09:00")].occupancy == pytest.approx(1 / 3)
    assert by_bucket[wib("09:15")].occupancy == pytest.approx(1.0)
    assert quarter.overall.occupancy == pytest.approx(0.6)


def test_occupancy_uses_the_state_held_before_the_period(db):
    agent = make_user()
    # Available since yesterday 23:00; on a call from 00:30 today to 01:00.
    db.session.add(
        AgentStateEvent(
            agent_id=agent.id, from_state="offline", to_state="available", at=wib("23:00") - timedelta(days=1)
        )
    )
    states(agent.id, ("00:30", "on_call"), ("01:00", "offline"))
    db.session.commit()
    figures = kpis.call_report(
        START, END, interval="day", dimension="all", settings=SETTINGS, now=NOW
    ).overall
    assert figures.idle == 1800  # 00:00–00:30, not the hour before midnight
    assert figures.busy == 1800


def test_occupancy_stops_now(db):
    agent = make_user()
    states(agent.id, ("09:00", "available"), ("09:30", "on_call"))
    db.session.commit()
    figures = kpis.call_report(START, END, settings=SETTINGS, dimension="all", now=wib("09:40")).overall
    assert (figures.idle, figures.busy) == (1800, 600)


def test_longest_wait_in_the_interval_includes_abandoned_calls(db):
    figures = report(
        db, [A("09:00", answer=10, talk=5), A("09:01", abandon=95), A("09:02", callback=50)]
    ).overall
    assert figures.max_wait == 95


def test_a_call_waiting_now_has_waited_until_now(db):
    figures = report(db, [A("11:58")], now=wib("12:00")).overall
    assert figures.max_wait == 120
    assert figures.waiting == 1


def test_a_call_spanning_an_interval_boundary_stays_where_it_queued(db):
    # Queued 09:29:50, answered 09:30:10 (20 s: in time), ended 09:35.
    result = report(db, [A("09:29:50", answer=20, talk=290)], interval="30")
    assert [(row.bucket, row.figures.offered, row.figures.answered_within) for row in result.rows] == [
        (wib("09:00"), 1, 1)
    ]


@pytest.mark.parametrize(
    ("interval", "clock", "bucket"),
    [
        ("15", "09:44:59", "09:30"),
        ("15", "09:45:00", "09:45"),
        ("30", "09:59:59", "09:30"),
        ("60", "09:59:59", "09:00"),
        ("day", "23:59:59", "00:00"),
    ],
)
def test_intervals_are_local_clock_intervals(db, interval, clock, bucket):
    result = report(db, [A(clock, answer=1, talk=1)], interval=interval, now=END)
    assert [row.bucket for row in result.rows] == [wib(bucket)]


def test_day_is_the_local_day_not_the_utc_day(db):
    # 00:30 WIB on 2 March is 17:30 UTC on 1 March.
    result = report(db, [A("00:30", answer=3, talk=9)], interval="day", now=END)
    assert result.rows[0].bucket == wib("00:00")
    assert result.rows[0].bucket.utcoffset() == timedelta(hours=7)


def test_calls_are_counted_per_queue_and_per_topic(db):
    calls = [
        A("09:00", language="id", topic="claim_jht", answer=5, talk=10),
        A("09:01", language="id", topic="membership", abandon=30),
        A("09:02", language="en", topic="claim_jht", answer=50, talk=10),
    ]
    by_queue = report(db, calls, dimension="queue")
    assert {key: fig.offered for key, fig in by_queue.totals.items()} == {"id": 2, "en": 1}
    assert by_queue.totals["id"].service_level == pytest.approx(0.5)
    assert by_queue.totals["en"].service_level == pytest.approx(0.0)
    by_topic = kpis.call_report(START, END, interval="day", dimension="topic", settings=SETTINGS, now=NOW)
    assert {key: fig.offered for key, fig in by_topic.totals.items()} == {"claim_jht": 2, "membership": 1}
    assert by_topic.overall.offered == 3


def test_only_calls_queued_in_the_period_count(db):
    calls = [
        A("23:59:59", day=(2026, 3, 1), answer=1, talk=1),  # the day before
        A("00:00:00", answer=1, talk=1),
        A("23:59:59", answer=1, talk=1),
        A("00:00:00", day=(2026, 3, 3), answer=1, talk=1),  # the day after
    ]
    assert report(db, calls, now=END + timedelta(days=1)).overall.offered == 2


def test_ring_no_answer_and_transfers_are_counted_when_logged(db):
    first, second = make_user(), make_user()
    spec = A("09:00", answer=30, talk=60, agent=first.id, ring_no_answer=2, transfer_to=second.id)
    figures = report(db, [spec]).overall
    assert (figures.ring_no_answer, figures.transfers) == (2, 1)


def test_thresholds_are_settings(db):
    calls = [A("09:00", answer=25, talk=5), A("09:01", abandon=8)]
    strict = report(db, calls)
    loose = kpis.call_report(
        START,
        END,
        dimension="all",
        settings=kpis.KpiSettings(answer_target=30, short_abandon=10, timezone="Asia/Jakarta"),
        now=NOW,
    )
    assert strict.overall.service_level == 0.0  # 25 s > 20 s, and the 8 s abandon counts
    assert loose.overall.service_level == 1.0  # 25 s ≤ 30 s, and 8 s < 10 s is short


def test_definitions_carry_the_thresholds(app):
    with force_locale("en"):
        text = {item["key"]: item["formula"] for item in kpis.definitions(SETTINGS)}
    assert "20 s" in text["service_level"] and "5 s" in text["service_level"]
    assert set(text) >= {"service_level", "asa", "aht", "abandon_rate", "occupancy", "longest_wait"}


@pytest.mark.parametrize(("interval", "dimension"), [("7", "queue"), ("30", "agent")])
def test_unknown_interval_or_dimension_is_refused(app, interval, dimension):
    with pytest.raises(ValueError):
        kpis.call_report(START, END, settings=SETTINGS, interval=interval, dimension=dimension, now=NOW)
