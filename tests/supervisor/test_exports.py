"""The queue_log export (parsed back field by field) and the CSV of the call KPI report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.supervisor import exports, kpis, reports
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call, states, wib

START, END = wib("00:00"), wib("00:00") + timedelta(days=1)


def _parse(lines):
    parsed = []
    for line in lines:
        assert line.endswith("\n")
        epoch, callid, queue, agent, event, *data = line.rstrip("\n").split("|")
        parsed.append((int(epoch), callid, queue, agent, event, data))
    return parsed


def _by_call(parsed, sid):
    return [(event, agent, data) for _, callid, _, agent, event, data in parsed if callid == sid]


def test_each_call_outcome_becomes_its_queue_log_events(db):
    agent, other = make_user(), make_user()
    answered = add_call(Spec("09:00", language="en", answer=12, ring=4, talk=95, agent=agent.id))
    abandoned = add_call(Spec("09:01", abandon=40))
    callback = add_call(Spec("09:02", callback=65))
    timed_out = add_call(Spec("09:03", voicemail=900))
    rang_out = add_call(Spec("09:04", answer=50, talk=30, agent=agent.id, ring_no_answer=1))
    transferred = add_call(Spec("09:05", answer=5, talk=60, agent=agent.id, transfer_to=other.id))
    db.session.commit()

    parsed = _parse(exports.queue_log(START, END))

    a = f"Agent/{agent.id}"
    assert _by_call(parsed, answered.call_sid) == [
        ("ENTERQUEUE", "NONE", ["", "", ""]),
        ("CONNECT", a, ["12", "", "4"]),
        ("COMPLETECALLER", a, ["12", "95", ""]),
    ]
    assert _by_call(parsed, abandoned.call_sid) == [
        ("ENTERQUEUE", "NONE", ["", "", ""]),
        ("ABANDON", "NONE", ["", "", "40"]),
    ]
    assert _by_call(parsed, callback.call_sid) == [
        ("ENTERQUEUE", "NONE", ["", "", ""]),
        ("EXITWITHKEY", "NONE", ["1", "", "", "65"]),
    ]
    assert _by_call(parsed, timed_out.call_sid) == [
        ("ENTERQUEUE", "NONE", ["", "", ""]),
        ("EXITWITHTIMEOUT", "NONE", ["", "", "900"]),  # the time in the queue, not until the message ended
    ]
    assert _by_call(parsed, rang_out.call_sid)[1] == ("RINGNOANSWER", a, ["20000"])
    assert _by_call(parsed, transferred.call_sid)[2] == (
        "TRANSFER",
        a,
        [f"Agent/{other.id}", "", "5", "5", ""],
    )
    # The queue is the call's language; the time is the event's epoch.
    first = next(p for p in parsed if p[1] == answered.call_sid)
    assert first[2] == "en"
    assert first[0] == int(wib("09:00").timestamp())


def test_lines_are_in_time_order_and_limited_to_the_period(db):
    add_call(Spec("23:59:50", day=(2026, 3, 1), abandon=30))  # queued the day before, left today
    add_call(Spec("10:00", answer=5, talk=5))
    add_call(Spec("09:00", abandon=20))
    db.session.commit()
    parsed = _parse(exports.queue_log(START, END))
    epochs = [p[0] for p in parsed]
    assert epochs == sorted(epochs)
    assert all(START.timestamp() <= e < END.timestamp() for e in epochs)
    assert [p[4] for p in parsed] == [
        "ABANDON",
        "ENTERQUEUE",
        "ABANDON",
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETECALLER",
    ]


def test_presence_becomes_login_pause_unpause_logoff(db):
    agent = make_user()
    states(agent.id, ("08:00", "available"), ("10:00", "away"), ("10:15", "available"), ("12:00", "offline"))
    db.session.commit()
    parsed = _parse(exports.queue_log(START, END))
    channel = f"Agent/{agent.id}"
    assert [(p[4], p[3], p[5]) for p in parsed] == [
        ("AGENTLOGIN", channel, [channel]),
        ("PAUSE", channel, [""]),
        ("UNPAUSE", channel, [""]),
        ("AGENTLOGOFF", channel, [channel, str(4 * 3600)]),
    ]


def test_a_pipe_in_data_cannot_break_the_line(db):
    call = add_call(Spec("09:00", answer=1, talk=1))
    call.language = "a|b"
    db.session.commit()
    for line in exports.queue_log(START, END):
        assert len(line.rstrip("\n").split("|")) >= 5
        assert "a/b" in line


def test_call_kpi_csv_has_a_row_per_interval_and_queue_and_totals(db, app):
    add_call(Spec("09:10", language="id", answer=10, talk=60))
    add_call(Spec("09:40", language="id", abandon=30))
    add_call(Spec("09:20", language="en", answer=25, talk=60))
    db.session.commit()
    settings = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")
    report = kpis.call_report(START, END, interval="30", dimension="queue", settings=settings, now=END)
    rows = list(csv.DictReader(io.StringIO("".join(reports.call_kpis_csv(report)))))
    cells = {(row["interval_start"], row["queue"]): row for row in rows}
    assert set(cells) == {
        ("2026-03-02T09:00:00+07:00", "en"),
        ("2026-03-02T09:00:00+07:00", "id"),
        ("2026-03-02T09:30:00+07:00", "id"),
        ("total", "en"),
        ("total", "id"),
        ("total", "*"),
    }
    assert cells[("total", "id")]["service_level"] == "0.5"
    assert cells[("total", "id")]["offered"] == "2"
    assert cells[("total", "en")]["service_level"] == "0.0"
    assert cells[("total", "*")]["asa"] == "17.5"
    assert cells[("2026-03-02T09:30:00+07:00", "id")]["asa"] == ""  # no answered call there
    assert {row["answer_target_seconds"] for row in rows} == {"20"}


@pytest.mark.parametrize("value", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)"])
def test_csv_cells_that_look_like_formulas_are_neutralised(value):
    text = "".join(exports.csv_rows(["name"], [[value], [3]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name"], ["'" + value], ["3"]]


def test_a_voicemail_logged_before_left_queue_existed_still_exits_once(db):
    from sqlalchemy import delete

    from app.telephony.models import CallEvent

    old = add_call(Spec("09:03", voicemail=900))
    db.session.execute(delete(CallEvent).where(CallEvent.call_id == old.id, CallEvent.kind == "left_queue"))
    new = add_call(Spec("09:04", voicemail=900))
    db.session.commit()

    parsed = _parse(exports.queue_log(START, END))

    # The old log knows only the end of the message; the new one the moment she left the queue.
    assert [e for e in _by_call(parsed, old.call_sid) if e[0] == "EXITWITHTIMEOUT"] == [
        ("EXITWITHTIMEOUT", "NONE", ["", "", "940"])
    ]
    assert [e for e in _by_call(parsed, new.call_sid) if e[0] == "EXITWITHTIMEOUT"] == [
        ("EXITWITHTIMEOUT", "NONE", ["", "", "900"])
    ]
