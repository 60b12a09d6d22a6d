"""SLA reports: each definition on hand-made tickets, the pages, the CSV exports, access."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import time_machine

from app.extensions import db as _db
from app.sla import reports
from app.sla import services as sla
from app.sla.sweep import sweep
from app.tickets import services as tickets
from tests.factories import make_user
from tests.sla.test_clock import wib

PERIOD = reports.Period(date(2026, 11, 23), date(2026, 11, 29))


@pytest.fixture
def scene(db):
    """Four membership tickets (first response 450 min, resolution 2,250 min, office calendar)
    and one death claim, all created Monday 23 Nov 2026 (WIB)."""
    sla.install_defaults()
    _db.session.commit()
    siti = make_user("agent", name="Siti")
    budi = make_user("agent", name="Budi")
    made = {}
    with time_machine.travel(wib("2026-11-23 08:00"), tick=False):
        for name in ("on_time", "late", "breached_open", "at_risk_open"):
            made[name] = tickets.open_ticket(channel="portal", category="membership", subject=name,
                                             requester_name="Siti Aminah", requester_phone="+85291234567")
        made["claim"] = tickets.open_ticket(channel="phone", category="claim_jkm", subject="claim")
        tickets.assign(made["on_time"], siti.id)
        tickets.assign(made["late"], budi.id)
        _db.session.commit()
    with time_machine.travel(wib("2026-11-23 10:00"), tick=False):
        tickets.reply(made["on_time"], "Baik.", actor_id=siti.id)  # 2 h: on time
        tickets.reply(made["claim"], "Baik.", actor_id=siti.id)  # 2 h of 2 h: on time exactly
        _db.session.commit()
    with time_machine.travel(wib("2026-11-23 12:00"), tick=False):
        tickets.change_status(made["on_time"], "resolved", actor_id=siti.id)  # 4 h: on time
        _db.session.commit()
    with time_machine.travel(wib("2026-11-24 10:00"), tick=False):
        tickets.reply(made["late"], "Maaf.", actor_id=budi.id)  # 7.5 + 2 h > 7.5 h: late
        _db.session.commit()
    # 25 Nov 12:00: "breached_open" and "at_risk_open" missed their first response (swept);
    sweep(wib("2026-11-25 12:00"))
    _db.session.commit()
    # …then "at_risk_open" got its reply, so only its resolution is left (warned at 80 %).
    with time_machine.travel(wib("2026-11-25 13:00"), tick=False):
        tickets.reply(made["at_risk_open"], "Sedang diproses.", actor_id=siti.id)
        _db.session.commit()
    sweep(wib("2026-11-28 09:00"))  # past 80 % of the 37.5 h resolution (Fri 27 Nov 11:00)
    _db.session.commit()
    return made


def test_compliance_by_category_counts_each_definition(scene):
    rows = {r["key"]: r for r in reports.compliance("category", PERIOD)}
    membership = rows["membership"]
    assert membership["tickets"] == 4
    # First response decided for all four: on time (met), late, and two breached by the sweep.
    assert (membership["fr_met"], membership["fr_decided"], membership["fr_rate"]) == (1, 4, 25.0)
    # Resolution decided only for "on_time"; the others are still running (or breached below).
    assert membership["res_met"] == 1
    assert membership["open_breached"] >= 2
    assert membership["fr_avg_seconds"] is not None
    claim = rows["claim_jkm"]
    assert (claim["fr_met"], claim["fr_decided"]) == (1, 1)  # exactly at the target is on time


def test_compliance_by_agent_and_day(scene):
    rows = reports.compliance("agent", PERIOD)
    by_agent = {r["label"]: r for r in rows}
    assert by_agent["Siti"]["fr_met"] == 1 and by_agent["Budi"]["fr_met"] == 0
    assert [r["tickets"] for r in rows if r["key"] is None] == [3]  # the unassigned ones
    by_day = reports.compliance("day", PERIOD)
    assert [r["key"] for r in by_day] == ["2026-11-23"]
    assert reports.totals(by_day)["tickets"] == 5


def test_breach_list_and_filters(scene):
    rows = reports.breaches(PERIOD)
    assert {r["reference"] for r in rows} >= {scene["breached_open"].reference, scene["at_risk_open"].reference}
    assert all(r["target"] in ("first_response", "resolution") for r in rows)
    only_resolution = reports.breaches(PERIOD, target="resolution")
    assert all(r["target"] == "resolution" for r in only_resolution)
    # The death claim was answered on time but not resolved in 3 working days (due Wed 15:30).
    claim = reports.breaches(PERIOD, category="claim_jkm")
    assert [(r["reference"], r["target"]) for r in claim] == [(scene["claim"].reference, "resolution")]


def test_period_parsing():
    assert reports.parse_period("2026-11-01", "2026-11-30").end == date(2026, 11, 30)
    with pytest.raises(reports.ReportError):
        reports.parse_period("2026-11-30", "2026-11-01")
    with pytest.raises(reports.ReportError):
        reports.parse_period("30/11/2026", None)
    with pytest.raises(reports.ReportError):
        reports.parse_period("2024-01-01", "2026-01-01")


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 200), ("admin", 200)])
def test_report_pages_are_for_supervisors(client, auth, scene, role, status):
    auth.login_as(role)
    query = "?from=2026-11-23&to=2026-11-29"
    assert client.get("/supervisor/sla/" + query).status_code == status
    assert client.get("/supervisor/sla/breaches" + query).status_code == status
    assert client.get("/supervisor/sla/compliance.csv" + query).status_code == status
    assert client.get("/supervisor/sla/tickets.csv" + query).status_code == status


def test_report_page_shows_figures_and_definitions(client, auth, scene):
    auth.login_as("supervisor")
    page = client.get("/supervisor/sla/?from=2026-11-23&to=2026-11-29&by=category").get_data(as_text=True)
    assert "25.0 %" in page and "(1/4)" in page
    assert "A target is decided once it was met or missed" in page
    breaches = client.get("/supervisor/sla/breaches?from=2026-11-23&to=2026-11-29").get_data(as_text=True)
    assert scene["breached_open"].reference in breaches


@pytest.mark.parametrize(
    "query",
    ["?from=2026-11-30&to=2026-11-01", "?from=nonsense", "?by=mood", "?from=2020-01-01&to=2026-01-01"],
)
def test_bad_report_parameters_are_400(client, auth, scene, query):
    auth.login_as("supervisor")
    assert client.get("/supervisor/sla/" + query).status_code == 400
    assert client.get("/supervisor/sla/compliance.csv" + query).status_code == 400


@pytest.mark.parametrize("query", ["?target=soon", "?category=gossip", "?page=x", "?from=2026-13-01"])
def test_bad_breach_filters_are_400(client, auth, scene, query):
    auth.login_as("supervisor")
    assert client.get("/supervisor/sla/breaches" + query).status_code == 400


def test_csv_exports(client, auth, scene):
    auth.login_as("supervisor")
    body = client.get("/supervisor/sla/compliance.csv?from=2026-11-23&to=2026-11-29&by=category").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    membership = next(r for r in rows if r["category"] == "membership")
    assert membership["fr_rate"] == "25.0" and membership["tickets"] == "4"
    response = client.get("/supervisor/sla/tickets.csv?from=2026-11-23&to=2026-11-29")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True)
    per_ticket = list(csv.DictReader(io.StringIO(text)))
    assert len(per_ticket) == 5
    on_time = next(r for r in per_ticket if r["reference"] == scene["on_time"].reference)
    assert on_time["first_response_seconds"] == "7200" and on_time["resolution_seconds"] == "14400"
    assert on_time["policy"] == "Kepesertaan / Membership"
    # No requester data leaves through the export.
    assert "Siti Aminah" not in text and "+852" not in text
