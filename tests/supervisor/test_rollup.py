"""Roll-ups: a report reads the same figures whether its days come from the logs or from the
roll-up tables, for every interval, split, threshold and report kind."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from app.supervisor import kpi_sql, kpis, reports, rollup, staffing
from app.supervisor.models import CallFactRow, RollupDay
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call, states, wib, work_item_for

DAYS = [(2026, 3, 2), (2026, 3, 3), (2026, 3, 4)]
NOW = wib("12:00", (2026, 3, 9))
START, END = wib("00:00", DAYS[0]), wib("00:00", DAYS[-1]) + timedelta(days=1)


@pytest.fixture
def history(db):
    agent, other = make_user(), make_user()
    for n, day in enumerate(DAYS):
        first = add_call(Spec("06:55", day=day, answer=12 + n, talk=100, agent=agent.id, ring=3))
        add_call(
            Spec("09:00", day=day, language="en", topic="claim_jht", answer=40, talk=250, agent=other.id)
        )
        add_call(Spec("09:10", day=day, abandon=3))
        add_call(Spec("09:20", day=day, abandon=33 + n))
        add_call(Spec("13:00", day=day, callback=90))
        add_call(
            Spec("23:59:50", day=day, answer=20, talk=30, agent=agent.id, transfer_to=other.id)
        )  # across midnight
        add_call(Spec("16:00", day=day, voicemail=900))
        item = work_item_for(first, agent.id)
        states(
            agent.id,
            ("06:00", "available"),
            ("06:55:12", "on_call"),
            ("06:57:00", "wrap_up"),
            work_item_id=item.id,
            day=day,
        )
        states(agent.id, ("06:57:40", "available"), ("20:00", "away"), day=day)
        states(other.id, ("08:30", "available"), ("09:00:40", "on_call"), ("09:04:50", "available"), day=day)
        db.session.commit()
    return agent, other


def _flat(report: kpis.CallReport):
    return (
        [(row.bucket, row.key, row.figures.as_dict()) for row in report.rows],
        {key: figures.as_dict() for key, figures in report.totals.items()},
        report.overall.as_dict(),
        {bucket: figures.as_dict() for bucket, figures in report.agent_time.items()},
    )


def _same(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert (a is None and b is None) or math.isclose(a, b, abs_tol=1e-6), (a, b)
    else:
        assert a == b


CASES = [
    ("15", "queue", 20, 5),
    ("30", "topic", 20, 5),
    ("60", "all", 10, 0),
    ("day", "queue", 45, 40),
]


@pytest.mark.parametrize(("interval", "dimension", "t", "tsa"), CASES)
def test_reports_are_the_same_from_logs_and_roll_ups(db, history, interval, dimension, t, tsa):
    settings = kpis.KpiSettings(answer_target=t, short_abandon=tsa, timezone="Asia/Jakarta")

    def report():
        return kpis.call_report(
            START, END, interval=interval, dimension=dimension, settings=settings, now=NOW
        )

    from_logs = report()
    rolled = rollup.roll_up(NOW)
    assert rolled == [date(2026, 3, d) for d in range(1, 9)]  # every day that has ended
    # The local (WIB) days start at 17:00 UTC, inside rolled-up UTC days: all from the roll-ups.
    assert kpi_sql.segments(START, END) == [(START, END, True)]
    from_roll_ups = report()
    # And a period that ends today reads only today from the logs.
    tail = kpi_sql.segments(START, NOW)
    assert tail[-1] == (datetime(2026, 3, 9, tzinfo=UTC), NOW, False) and all(r for *_, r in tail[:-1])
    assert from_roll_ups.overall.offered == 3 * 7
    _same(_flat(from_logs), _flat(from_roll_ups))


def test_agent_report_and_staffing_are_the_same_from_roll_ups(db, history, app):
    settings = kpis.KpiSettings(timezone="Asia/Jakarta")
    period = reports.Period(date(2026, 3, 2), date(2026, 3, 4), "day", "queue", settings)
    parameters = staffing.StaffingParameters(max_occupancy=1.0, max_abandon=1.0)

    def both():
        agents = [vars(row) for row in reports.agent_performance(period, now=NOW)]
        plan = staffing.staffing_plan(
            date(2026, 3, 9), weeks=1, settings=settings, parameters=parameters, now=NOW
        )
        return agents, [vars(row) for row in plan.rows]

    before = both()
    rollup.roll_up(NOW)
    _same(before, both())
    answered = {row["agent_id"]: row["answered"] for row in before[0]}
    assert answered == {history[0].id: 6, history[1].id: 3}  # two calls a day, and one


def test_a_day_is_rolled_up_soon_after_it_ends_and_again_once_settled(db, history):
    day_end = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # end of 4 March (UTC)
    assert rollup.pending_days(day_end + rollup.EARLY - timedelta(seconds=1))[-1] == date(2026, 3, 3)
    early = day_end + rollup.EARLY
    assert rollup.roll_up(early)[-1] == date(2026, 3, 4)
    assert db.session.get(RollupDay, date(2026, 3, 4)).final is False
    assert rollup.pending_days(early + timedelta(hours=1)) == []
    # The reports read a provisional day too: nothing of 4 March comes from the logs any more.
    assert kpi_sql.segments(datetime(2026, 3, 4, tzinfo=UTC), day_end) == [
        (datetime(2026, 3, 4, tzinfo=UTC), day_end, True)
    ]
    settled = day_end + rollup.SETTLE
    assert date(2026, 3, 4) in rollup.pending_days(settled)
    rollup.roll_up(settled)
    assert db.session.get(RollupDay, date(2026, 3, 4)).final is True
    assert date(2026, 3, 4) not in rollup.pending_days(settled + timedelta(days=3))


def test_a_late_event_is_picked_up_by_the_final_roll_up(db, history):
    day_end = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    rollup.roll_up(day_end + rollup.EARLY)
    # A call queued at 23:00 UTC on 4 March whose answer webhook only lands hours later.
    add_call(Spec("06:00", day=(2026, 3, 5), answer=10, talk=60))  # 23:00 UTC on the 4th
    db.session.commit()
    period = (datetime(2026, 3, 4, tzinfo=UTC), day_end)
    settings = kpis.KpiSettings(timezone="Asia/Jakarta")

    def offered():
        return kpis.call_report(
            *period, interval="day", dimension="all", settings=settings, now=NOW
        ).overall.offered

    assert offered() == 6  # the provisional roll-up does not know the late call yet
    rollup.roll_up(day_end + rollup.SETTLE)
    assert offered() == 7


def test_rolling_up_again_rewrites_the_day(db, history):
    rollup.roll_up(NOW)
    count = db.session.query(CallFactRow).count()
    assert rollup.pending_days(NOW) == []
    assert rollup.rebuild(date(2026, 3, 2), NOW) == 6  # 2 March … 7 March (settled days)
    assert db.session.query(CallFactRow).count() == count
    assert db.session.get(RollupDay, date(2026, 3, 2)).calls == 7


def test_days_without_any_log_are_marked_so_reports_skip_the_logs(db, history):
    rollup.roll_up(NOW)
    assert db.session.get(RollupDay, date(2026, 3, 6)).calls == 0


def test_the_rollup_command(app, db, history):
    result = app.test_cli_runner().invoke(args=["supervision", "rollup"])
    assert result.exit_code == 0, result.output
    assert "rolled up" in result.output
    assert db.session.query(RollupDay).count() > 0
