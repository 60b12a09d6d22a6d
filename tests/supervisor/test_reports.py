"""The report pages and downloads: who may open them, bad periods, and the figures they show."""

from __future__ import annotations

import csv
import io

import pytest

from app.tickets.models import Ticket
from tests.factories import make_user
from tests.supervisor.calllog import Spec, add_call, states, wib, work_item_for

DAY = "2026-03-02"
PERIOD = f"start={DAY}&end={DAY}"

PAGES = [
    f"/supervisor/reports/calls?{PERIOD}",
    f"/supervisor/reports/agents?{PERIOD}",
    f"/supervisor/reports/satisfaction?{PERIOD}",
    "/supervisor/reports/staffing?day=2026-03-09",
]
DOWNLOADS = [
    f"/supervisor/reports/calls.csv?{PERIOD}",
    f"/supervisor/reports/agents.csv?{PERIOD}",
    f"/supervisor/reports/satisfaction.csv?{PERIOD}",
    "/supervisor/reports/staffing.csv?day=2026-03-09",
    f"/supervisor/reports/queue_log?{PERIOD}",
]


@pytest.mark.parametrize("path", PAGES + DOWNLOADS)
@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 200), ("admin", 200)])
def test_reports_are_for_supervisors_and_admins(client, auth, path, role, status):
    auth.login_as(role)
    assert client.get(path).status_code == status


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-03-05&end=2026-03-01",
        "start=yesterday",
        "start=2025-01-01&end=2026-03-01",
        "interval=7",
        "by=agent",
        "t=0",
        "tsa=abc",
    ],
)
def test_a_bad_period_is_a_400_with_the_reason(client, auth, query):
    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports/calls.csv?{query}", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_period"
    page = client.get(f"/supervisor/reports/calls?{query}")
    assert page.status_code == 400


@pytest.mark.parametrize("query", ["day=2026-13-01", "weeks=0", "weeks=x"])
def test_a_bad_staffing_request_is_a_400(client, auth, query):
    auth.login_as("supervisor")
    assert client.get(f"/supervisor/reports/staffing?{query}").status_code == 400


@pytest.fixture
def day_of_calls(db):
    agent = make_user(name="Dewi Agent")
    first = add_call(Spec("09:00", answer=10, talk=100, agent=agent.id))
    add_call(Spec("09:40", answer=30, talk=200, agent=agent.id))
    add_call(Spec("09:50", language="en", abandon=40))
    item = work_item_for(first, agent.id)
    states(
        agent.id,
        ("08:00", "available"),
        ("09:00:10", "on_call"),
        ("09:01:50", "wrap_up"),
        work_item_id=item.id,
    )
    states(agent.id, ("09:02:20", "available"), ("10:00", "offline"))
    for score in (5, 4, 2):
        db.session.add(
            Ticket(
                channel="phone",
                category="claim_jht",
                subject="s",
                status="resolved",
                assignee_id=agent.id,
                resolved_at=wib("11:00"),
                csat_score=score,
            )
        )
    db.session.add(
        Ticket(
            channel="phone", category="membership", subject="s", status="resolved", resolved_at=wib("11:00")
        )
    )
    db.session.commit()
    return agent


def test_calls_page_shows_totals_chart_and_definitions(client, auth, day_of_calls):
    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/calls?{PERIOD}&interval=30&by=queue").get_data(as_text=True)
    assert "<svg" in html and "Calls offered (bars)" in html
    assert "Bahasa Indonesia" in html and "English" in html
    assert "How these figures are counted" in html
    assert "Calls answered within 20 s" in html  # the definition, thresholds filled in
    assert "09:30" in html  # an interval label


def test_calls_csv_download_parses(client, auth, day_of_calls):
    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports/calls.csv?{PERIOD}&interval=day&by=all")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    total = next(row for row in rows if row["interval_start"] == "total")
    assert (total["offered"], total["answered"], total["abandoned"]) == ("3", "2", "1")
    assert total["service_level"] == str(round(1 / 3, 4))
    # Occupancy: 08:00–10:00 logged in; busy 09:00:10–09:02:20 = 130 s of 7200 s.
    assert float(total["occupancy"]) == pytest.approx(round(130 / 7200, 4))


def test_queue_log_download_parses(client, auth, day_of_calls):
    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports/queue_log?{PERIOD}")
    assert response.mimetype == "text/plain"
    events = [line.split("|")[4] for line in response.get_data(as_text=True).splitlines()]
    assert events.count("ENTERQUEUE") == 3
    assert events.count("CONNECT") == 2 and events.count("ABANDON") == 1
    assert events[0] == "AGENTLOGIN" and events[-1] == "AGENTLOGOFF"


def test_agents_report_and_csv(client, auth, day_of_calls):
    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/agents?{PERIOD}").get_data(as_text=True)
    assert "Dewi Agent" in html
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/supervisor/reports/agents.csv?{PERIOD}").get_data(as_text=True))
        )
    )
    [row] = rows
    assert (row["answered"], row["answered_within"], row["handled"]) == ("2", "1", "2")
    assert float(row["aht"]) == pytest.approx((100 + 30 + 200) / 2)
    assert float(row["occupancy"]) == pytest.approx(round(130 / 7200, 4))
    assert float(row["logged_in"]) == 7200
    assert (row["rated"], row["csat"]) == ("3", str(round(2 / 3, 4)))
    assert float(row["csat_average"]) == pytest.approx(11 / 3, abs=1e-4)


def test_satisfaction_report_and_csv(client, auth, day_of_calls):
    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/satisfaction?{PERIOD}").get_data(as_text=True)
    assert "67%" in html  # 2 of 3 ratings are 4 or 5
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/supervisor/reports/satisfaction.csv?{PERIOD}").get_data(as_text=True))
        )
    )
    total = next(row for row in rows if row["category"] == "*")
    assert (total["score_5"], total["score_4"], total["score_2"], total["rated"]) == ("1", "1", "1", "3")


def test_staffing_report_and_csv(client, auth, day_of_calls):
    auth.login_as("supervisor")
    html = client.get("/supervisor/reports/staffing?day=2026-03-09&weeks=1").get_data(as_text=True)
    assert "Staffing for 9 Mar 2026" in html and "<svg" in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/supervisor/reports/staffing.csv?day=2026-03-09&weeks=1").get_data(as_text=True)
            )
        )
    )
    assert [row["slot"] for row in rows] == ["08:00", "08:30", "09:00", "09:30"]
    nine_thirty = rows[-1]
    assert float(nine_thirty["arrivals"]) == 2  # 09:40 answered, 09:50 abandoned
    assert int(nine_thirty["erlang_c_agents"]) >= 1


def test_reports_index_redirects_to_the_calls_report_keeping_the_query(client, auth):
    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports?{PERIOD}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/supervisor/reports/calls?{PERIOD}")


def test_periods_default_to_today(client, auth):
    auth.login_as("supervisor")
    assert client.get("/supervisor/reports/calls").status_code == 200
    assert client.get("/supervisor/reports/staffing").status_code == 200


def test_a_dangerous_agent_name_is_neutralised_in_csv(client, auth, db):
    agent = make_user(name="=cmd|' /C calc'!A0")
    add_call(Spec("09:00", answer=1, talk=1, agent=agent.id))
    db.session.commit()
    auth.login_as("supervisor")
    text = client.get(f"/supervisor/reports/agents.csv?{PERIOD}").get_data(as_text=True)
    assert "'=cmd" in text


@pytest.mark.parametrize("path", ["/supervisor/wallboard", f"/supervisor/reports/calls?{PERIOD}"])
def test_pages_render_in_bahasa_indonesia(client, auth, path):
    auth.login_as("supervisor", language="id")
    html = client.get(path).get_data(as_text=True)
    assert "Cara angka ini dihitung" in html
    assert "How these figures are counted" not in html


def test_calls_page_has_every_interval_on_the_axis_and_the_daily_trends(client, auth, day_of_calls):
    import re
    import xml.etree.ElementTree as ET

    auth.login_as("supervisor")
    html = client.get(f"/supervisor/reports/calls?{PERIOD}&interval=30&by=queue").get_data(as_text=True)
    svgs = [ET.fromstring(svg) for svg in re.findall(r"<svg class=\"chart\".*?</svg>", html, flags=re.S)]
    ns = {"s": "http://www.w3.org/2000/svg"}
    # 48 half hours, calls or not: the bars stand where their time is.
    assert len(svgs[0].findall("s:rect[@class='chart-bar']", ns)) == 48
    # The trend of the 28 days ending with this one-day period: a line per measure.
    trend = svgs[1]
    assert len([t for t in trend.iterfind("s:text", ns) if t.get("class") == "chart-x"]) >= 4
    # Only the test day has calls (a point each, no line yet), every other day is a gap.
    tips = sorted(circle.find("s:title", ns).text for circle in trend.iterfind("s:circle", ns))
    assert "Service level 02/03: 33%" in tips and "Abandon rate 02/03: 33%" in tips
    assert not any("Service level" in tip and "02/03" not in tip for tip in tips)
    assert "Trends per day" in html
