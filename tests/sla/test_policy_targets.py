"""SLA policy targets entered and shown in hours and days (stored as minutes, unchanged), and
the policy pages naming priorities and channels by label."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.extensions import db
from app.sla import services as sla
from app.sla import targets
from app.sla.models import BusinessCalendar, SlaPolicy
from tests.sla.test_admin import post, sla_policy_form

OFFICE = "Jam kerja kantor BPJS (WIB)"
JKM = "Klaim JKM (kematian) / Death claim"


@pytest.fixture
def defaults(db):
    sla.install_defaults()
    db.session.commit()


def _calendar(name: str) -> BusinessCalendar:
    return db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == name))


def _policy(name: str) -> SlaPolicy:
    db.session.expire_all()
    return db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))


def _form(policy: SlaPolicy, **targets_: str) -> dict:
    values = sla_policy_form(policy)
    del values["first_response_minutes"], values["resolution_minutes"]
    values.update(targets_)
    return values


def _selected_unit(html: str, prefix: str) -> str:
    select_ = re.search(rf'<select id="f-{prefix}_unit".*?</select>', html, re.S).group(0)
    return re.search(r'<option value="(\w+)" selected>', select_).group(1)


def _amount(html: str, prefix: str) -> str:
    return re.search(rf'name="{prefix}_amount"[^>]*value="([^"]*)"', html).group(1)


# --- the arithmetic ---------------------------------------------------------------------------


def test_a_business_day_is_the_calendars_usual_open_day(defaults):
    office = _calendar(OFFICE)  # Mon–Thu 7 h 30 min, Friday 7 h
    assert targets.day_minutes(office) == 450
    assert targets.day_minutes(_calendar("24/7")) == 1440
    assert targets.day_minutes(None) == 1440


@pytest.mark.parametrize(
    ("minutes", "business", "form", "text"),
    [
        (1440, False, ("1", "days"), "1 day"),
        (2880, False, ("2", "days"), "2 days"),
        (60, False, ("1", "hours"), "1 hour"),
        (15, False, ("15", "minutes"), "15 minutes"),
        (450, False, ("7.5", "hours"), "7 h 30 min"),
        (240, True, ("4", "hours"), "4 business hours"),
        (450, True, ("1", "days"), "1 business day"),
        (1350, True, ("3", "days"), "3 business days"),
        (90, True, ("1.5", "hours"), "1 h 30 min of business time"),
    ],
)
def test_split_and_describe(defaults, minutes, business, form, text):
    calendar = _calendar(OFFICE) if business else None
    assert targets.split(minutes, calendar) == form
    assert targets.to_minutes(form[0], form[1], calendar) == minutes
    with force_locale("en"):
        assert targets.describe(minutes, calendar) == text


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        ("", "hours", "Enter a target."),
        ("abc", "hours", "Enter a number, such as 4 or 1.5."),
        ("0", "hours", "Enter a number greater than zero."),
        ("-2", "days", "Enter a number, such as 4 or 1.5."),
        ("nan", "hours", "Enter a number, such as 4 or 1.5."),
        ("1e999999999", "days", "Enter a number, such as 4 or 1.5."),
        ("1e-9", "days", "Enter a number, such as 4 or 1.5."),
        ("1_000", "minutes", "Enter a number, such as 4 or 1.5."),
        ("１２", "hours", "Enter a number, such as 4 or 1.5."),
        ("0.00001", "days", "Enter a number, such as 4 or 1.5."),
        ("0.0001", "hours", "The target must come to whole minutes."),
        ("0.01", "hours", "The target must come to whole minutes."),
        ("3", "weeks", "Choose minutes, hours or days."),
    ],
)
def test_impossible_targets(amount, unit, message):
    with pytest.raises(targets.TargetError, match=re.escape(message)):
        targets.to_minutes(amount, unit, None)


def test_decimal_comma_is_accepted():
    assert targets.to_minutes("1,5", "hours", None) == 90


# --- the form ---------------------------------------------------------------------------------


def test_edit_form_shows_hours_and_days(client, auth, defaults):
    auth.login_as("admin")
    policy = _policy(JKM)  # 120 business minutes, 1350 business minutes
    html = client.get(f"/admin/sla/policies/{policy.id}").get_data(as_text=True)
    assert (_amount(html, "first_response"), _selected_unit(html, "first_response")) == ("2", "hours")
    assert (_amount(html, "resolution"), _selected_unit(html, "resolution")) == ("3", "days")
    assert "a business day is 7 h 30 min" in html
    assert "1350" not in html and "450" not in html  # no raw work-minutes


def test_days_on_the_office_calendar_are_stored_as_business_minutes(client, auth, defaults):
    auth.login_as("admin")
    policy = _policy(JKM)
    values = _form(policy, first_response_amount="4", first_response_unit="hours",
                   resolution_amount="4", resolution_unit="days")
    assert post(client, f"/admin/sla/policies/{policy.id}", values).status_code == 302
    saved = _policy(JKM)
    assert (saved.first_response_minutes, saved.resolution_minutes) == (240, 1800)
    html = client.get(f"/admin/sla/policies/{policy.id}").get_data(as_text=True)
    assert (_amount(html, "resolution"), _selected_unit(html, "resolution")) == ("4", "days")
    listing = client.get("/admin/sla/").get_data(as_text=True)
    assert "4 business hours" in listing and "4 business days" in listing


def test_a_day_round_the_clock_is_24_hours(client, auth, defaults):
    auth.login_as("admin")
    response = post(client, "/admin/sla/policies/new", {
        "name": "Hotline", "position": "1", "active": "1", "calendar_id": "",
        "first_response_amount": "1.5", "first_response_unit": "hours",
        "resolution_amount": "1", "resolution_unit": "days", "warn_percent": "80",
    })
    assert response.status_code == 302
    saved = _policy("Hotline")
    assert (saved.first_response_minutes, saved.resolution_minutes) == (90, 1440)
    row = client.get("/admin/sla/").get_data(as_text=True)
    row = row[row.index(f'data-policy-id="{saved.id}"'):]
    row = row[: row.index("</tr>")]
    assert "1 h 30 min" in row and "1 day" in row


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        ("abc", "hours", "Enter a number, such as 4 or 1.5."),
        ("0", "days", "Enter a number greater than zero."),
        ("2", "fortnights", "Choose minutes, hours or days."),
        ("5000", "days", "This target is too long."),
    ],
)
def test_bad_target_is_refused_with_the_reason(client, auth, defaults, amount, unit, message):
    auth.login_as("admin")
    policy = _policy(JKM)
    values = _form(policy, first_response_amount=amount, first_response_unit=unit,
                   resolution_amount="3", resolution_unit="days")
    response = post(client, f"/admin/sla/policies/{policy.id}", values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert _amount(html, "first_response") == amount  # what was typed comes back to be corrected
    assert _policy(JKM).first_response_minutes == 120


def test_resolution_shorter_than_first_response_is_refused(client, auth, defaults):
    auth.login_as("admin")
    policy = _policy(JKM)
    values = _form(policy, first_response_amount="2", first_response_unit="days",
                   resolution_amount="4", resolution_unit="hours")
    response = post(client, f"/admin/sla/policies/{policy.id}", values)
    assert response.status_code == 422
    assert "The resolution target cannot be shorter than the first response." in response.get_data(as_text=True)


def test_priorities_and_channels_by_label(client, auth, defaults):
    auth.login_as("admin")
    html = client.get("/admin/sla/policies/new").get_data(as_text=True)
    labels = re.findall(r'<label class="check"><input[^>]*> ([^<]+)</label>', html)
    for code in ("low", "normal", "urgent", "phone", "browser_call", "callback", "portal", "api"):
        assert code not in labels
    for label in ("Urgent", "Call from the browser", "Call-back", "Web form"):
        assert label in labels
    policy = _policy("Mendesak / Urgent")
    listing = client.get("/admin/sla/").get_data(as_text=True)
    row = listing[listing.index(f'data-policy-id="{policy.id}"'):]
    assert "Priorities: Urgent" in row[: row.index("</tr>")]


def test_policy_pages_in_indonesian(client, auth, defaults):
    auth.login_as("admin", language="id")
    listing = client.get("/admin/sla/").get_data(as_text=True)
    assert "2 jam kerja" in listing and "3 hari kerja" in listing and "1 hari" in listing
    form = client.get(f"/admin/sla/policies/{_policy(JKM).id}").get_data(as_text=True)
    assert "Panggilan dari peramban" in form and ">hari</option>" in form


def test_ticket_page_states_the_promise_in_business_days(client, auth, defaults):
    from app.tickets import services as tickets

    auth.login_as("agent")
    ticket = tickets.open_ticket(channel="portal", category="claim_jkm", subject="x")
    db.session.commit()
    with force_locale("en"):
        summary = sla.summary(ticket)
    assert [t["target_text"] for t in summary["targets"]] == ["2 business hours", "3 business days"]
    panel = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    panel = panel[panel.index('id="sla-panel"'):]
    assert "(2 business hours)" in panel and "(3 business days)" in panel
