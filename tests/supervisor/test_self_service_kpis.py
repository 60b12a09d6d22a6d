"""The IVR self-service in the KPIs: contained calls counted apart, the containment rate on the
wallboard and in the call report, with its definition, in both languages (issue 15).

The calls go through the real, signed webhook URLs, so the figures come from the call log the
self-service writes, not from hand-made events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.extensions import db
from app.supervisor import kpis, wallboard
from app.telephony import calllog
from tests.factories import make_claim, make_member
from tests.telephony.conftest import Clock, call_params, parse, twilio_post

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta, inside opening hours
SETTINGS = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")
DAY = "start=2026-11-23&end=2026-11-23"
BIRTH_URL = "/telephony/voice/self-service/birth-date"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(calllog, "now", clock.now)
    with time_machine.travel(NOW, tick=False):
        yield clock


def _self_service_call(client, app, clock, member, sid, language, outcome):
    def post(path, **form):
        return parse(twilio_post(client, app, path, call_params(sid, **form)))

    post("/telephony/voice/inbound")
    post("/telephony/voice/language", Digits="2" if language == "en" else "1")
    post(f"/telephony/voice/kpj?lang={language}", Digits=member.kpj)
    post(f"/telephony/voice/topic?lang={language}", Digits="8")
    if outcome == "refused":
        for attempt in (1, 2, 3):
            post(f"{BIRTH_URL}?lang={language}&attempt={attempt}&again=0", Digits="01011980")
    else:
        post(f"{BIRTH_URL}?lang={language}&attempt=1&again=0", Digits="17051990")
    if outcome == "agent":
        post(f"/telephony/voice/self-service/menu?lang={language}&again=0", Digits="0")
    clock.advance(45)
    twilio_post(client, app, "/telephony/voice/status", call_params(sid, CallStatus="completed", SequenceNumber="5"))


@pytest.fixture
def self_service_day(client, app, clock):
    """Four callers chose self-service: two contained (id, en), one asked for an agent, one was
    refused after three wrong birth dates (and so went to an agent too)."""
    member, stranger = make_member(), make_member()
    make_claim(member, program="JKM", benefit_type="death_benefit", status="verifying")
    db.session.commit()
    for n, (who, language, outcome) in enumerate(
        [(member, "id", "contained"), (member, "en", "contained"), (member, "id", "agent"), (stranger, "id", "refused")]
    ):
        _self_service_call(client, app, clock, who, f"CA{n:032d}", language, outcome)
    db.session.commit()


def test_contained_calls_are_counted_apart_from_the_queue(self_service_day):
    report = kpis.call_report(NOW - timedelta(hours=3), NOW + timedelta(hours=3), interval="day", settings=SETTINGS)
    served = report.self_service_overall
    assert (served.started, served.verified, served.refused, served.to_agent, served.contained) == (4, 3, 1, 1, 2)
    assert served.containment_rate == pytest.approx(0.5)
    assert {key: f.contained for key, f in report.self_service.items()} == {"id": 1, "en": 1}
    assert report.self_service["id"].containment_rate == pytest.approx(1 / 3)
    # Only the two that wanted (or were sent to) an agent entered the queue.
    assert report.overall.offered == 2
    everything = kpis.call_report(
        NOW - timedelta(hours=3), NOW + timedelta(hours=3), interval="day", dimension="topic", settings=SETTINGS
    )
    assert set(everything.self_service) == {kpis.ALL} and everything.self_service_overall.contained == 2


def test_a_call_belongs_to_the_day_it_chose_self_service(self_service_day):
    report = kpis.call_report(NOW + timedelta(hours=1), NOW + timedelta(hours=3), interval="day", settings=SETTINGS)
    assert report.self_service == {} and report.self_service_overall.containment_rate is None


def test_the_wallboard_shows_todays_containment_rate(self_service_day):
    data = wallboard.snapshot(NOW + timedelta(minutes=10), SETTINGS)
    assert data["self_service"]["containment_rate"] == pytest.approx(0.5)
    assert data["self_service"]["contained"] == 2 and data["self_service"]["started"] == 4


@pytest.mark.parametrize(
    ("language", "label", "definition"),
    [
        ("en", "Contained in self-service today", "Containment rate (IVR self-service)"),
        ("id", "Tuntas di layanan mandiri hari ini", "Tingkat penuntasan (layanan mandiri IVR)"),
    ],
)
def test_the_wallboard_page_names_the_rate_and_defines_it(client, auth, self_service_day, language, label, definition):
    auth.login_as("supervisor", language=language)
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):  # after the four calls
        html = client.get("/supervisor/wallboard").get_data(as_text=True)
    assert label in html and definition in html
    assert 'data-field="containment_rate">50%<' in html
    assert "containment_rate</" not in html  # a label, never the code


@pytest.mark.parametrize(
    ("language", "heading", "definition"),
    [
        ("en", "Self-service in the voice menu (claim status)", "Calls contained ÷ calls that started self-service."),
        ("id", "Layanan mandiri di menu suara (status klaim)", "Panggilan tuntas ÷ panggilan yang memulai layanan mandiri."),
    ],
)
def test_the_call_report_shows_the_containment_rate_with_its_definition(
    client, auth, self_service_day, language, heading, definition
):
    auth.login_as("supervisor", language=language)
    html = client.get(f"/supervisor/reports/calls?{DAY}&interval=day&by=queue").get_data(as_text=True)
    section = html[html.index('id="self-service"') :]
    section = section[: section.index("</section>")]
    assert heading in section and definition in section
    assert section.count('data-field="containment_rate"') == 3  # id, en, all queues
    assert "33%" in section and "100%" in section and "50%" in section
    assert "containment_rate</" not in html


def test_the_call_log_csv_says_how_far_each_call_went_in_self_service(client, auth, self_service_day):
    import csv
    import io

    auth.login_as("supervisor")
    response = client.get(f"/supervisor/reports/call-log.csv?{DAY}")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(row["self_service"] for row in rows) == ["agent", "refused", "verified", "verified"]
