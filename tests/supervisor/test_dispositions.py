"""Wrap-up dispositions in the reports: the calls report counts answered calls by disposition
(by its label), and the call-log CSV lists every call with its disposition."""

from __future__ import annotations

import csv
import io
import re

from app.extensions import db
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call

PERIOD = "start=2026-03-02&end=2026-03-02"


def _calls():  # type: ignore[no-untyped-def]
    agent = make_user(name="Dewi Agent")
    answered = [add_call(Spec(at, answer=10, talk=60, agent=agent.id)) for at in ("09:00", "09:10", "09:20")]
    for call, disposition in zip(answered, ("resolved", "resolved", "wrong_number"), strict=True):
        call.disposition = disposition
    add_call(Spec("09:30", answer=10, talk=60, agent=agent.id))  # not wrapped up yet
    add_call(Spec("09:40", abandon=30))
    db.session.commit()
    return agent, answered


def test_the_calls_report_counts_answered_calls_by_disposition_label(client, auth):
    _calls()
    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/calls?{PERIOD}").get_data(as_text=True)
    section = html[html.index('id="dispositions"') :]
    assert '<tr data-disposition="resolved"><th scope="row">Resolved on the call</th><td>2</td>' in section
    assert '<tr data-disposition="wrong_number"><th scope="row">Wrong number</th><td>1</td>' in section
    assert '<tr data-disposition=""><th scope="row">Not wrapped up yet</th><td>1</td>' in section


def test_the_call_log_csv_lists_each_call_with_its_disposition(client, auth):
    agent, answered = _calls()
    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports/call-log.csv?{PERIOD}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 5
    by_id = {int(row["call_id"]): row for row in rows}
    first = by_id[answered[0].id]
    assert first["disposition"] == "resolved" and first["disposition_label"] == "Resolved on the call"
    assert first["agent"] == "Dewi Agent"
    assert by_id[answered[2].id]["disposition"] == "wrong_number"
    assert sorted(row["disposition"] for row in rows) == ["", "", "resolved", "resolved", "wrong_number"]
    assert "+62" not in response.get_data(as_text=True) and "+852" not in response.get_data(as_text=True)


def test_the_call_log_is_for_those_who_may_export(client, auth):
    auth.login_as("agent")
    assert client.get(f"/supervisor/reports/call-log.csv?{PERIOD}").status_code == 403


def test_the_agents_report_counts_each_agents_wrap_ups_by_disposition(client, auth):
    _, answered = _calls()
    other = make_user(name="Yusuf Agent")
    call = add_call(Spec("10:00", answer=5, talk=30, agent=other.id))
    call.disposition = "wrong_number"
    db.session.commit()
    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/agents?{PERIOD}").get_data(as_text=True)
    table = html[
        html.index('id="agent-dispositions"') : html.index("</table>", html.index('id="agent-dispositions"'))
    ]
    headers = re.findall(r'data-disposition="([a-z_]+)">([^<]+)</th>', table)
    assert headers == [("resolved", "Resolved on the call"), ("wrong_number", "Wrong number")]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>((?:<td class="num">\d+</td>)+)</tr>', table)
    counts = {name: re.findall(r"\d+", cells) for name, cells in rows}
    assert counts == {"Dewi Agent": ["2", "1"], "Yusuf Agent": ["0", "1"]}
