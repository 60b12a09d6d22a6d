"""Administrators edit SLA policies and calendars; everyone else is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.sla import services as sla
from app.sla.models import BusinessCalendar, CalendarOverride, SlaPolicy
from tests.agents.helpers import audit_events
from tests.conftest import csrf_token
from tests.factories import make_user


def post(client, path: str, data: dict) -> object:  # type: ignore[no-untyped-def]
    items = list(data.items()) + [("csrf_token", csrf_token(client, "/staff/"))]
    flat = []
    for key, value in items:
        for v in value if isinstance(value, list) else [value]:
            flat.append((key, v))
    from werkzeug.datastructures import MultiDict

    return client.post(path, data=MultiDict(flat))


@pytest.fixture
def defaults(db):
    sla.install_defaults()
    db.session.commit()


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 403), ("admin", 200)])
def test_sla_pages_are_for_administrators(client, auth, defaults, role, status):
    auth.login_as(role)
    assert client.get("/admin/sla/").status_code == status
    calendar = db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.always_open.is_(False)))
    assert client.get(f"/admin/sla/calendars/{calendar.id}").status_code == status


def test_policy_list_shows_the_defaults(client, auth, defaults):
    auth.login_as("admin")
    page = client.get("/admin/sla/").get_data(as_text=True)
    assert "Klaim JKM (kematian) / Death claim" in page
    assert "2 business hours" in page and "3 business days" in page  # JKM: first response, resolution


def test_create_policy_and_it_applies_to_new_tickets(client, auth, defaults):
    admin = auth.login_as("admin")
    lead = make_user("supervisor")
    calendar = db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.always_open.is_(False)))
    response = post(client, "/admin/sla/policies/new", {
        "name": "Hong Kong priority", "position": "5", "active": "1",
        "categories": ["claim_jkk"], "priorities": [], "channels": ["phone", "callback"],
        "first_response_minutes": "30", "resolution_minutes": "900", "calendar_id": str(calendar.id),
        "warn_percent": "60", "escalate_priority": "urgent", "escalate_to_id": str(lead.id),
    })
    assert response.status_code == 302
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Hong Kong priority"))
    assert policy.categories == ["claim_jkk"] and policy.channels == ["phone", "callback"]
    assert policy.escalate_to_id == lead.id
    [event] = audit_events("sla.policy_created")
    assert event.actor_id == admin.id and event.detail["after"]["first_response_minutes"] == 30

    from app.tickets import services as tickets

    phone = tickets.open_ticket(channel="phone", category="claim_jkk", subject="x")
    portal = tickets.open_ticket(channel="portal", category="claim_jkk", subject="x")
    assert phone.sla_policy_id == policy.id
    assert portal.sla_policy_id != policy.id


def test_policy_form_explains_each_mistake(client, auth, defaults):
    auth.login_as("admin")
    response = post(client, "/admin/sla/policies/new", {
        "name": "Klaim JKM (kematian) / Death claim", "position": "x", "categories": ["nonsense"],
        "first_response_minutes": "600", "resolution_minutes": "60", "warn_percent": "100",
        "calendar_id": "999", "escalate_priority": "asap", "escalate_to_id": "999",
    })
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for message in (
        "Another policy already has this name.",
        "Enter a whole number.",
        "Unknown value: nonsense",
        "The resolution target cannot be shorter than the first response.",
        "Enter a number from 1 to 99.",
        "Choose one of the calendars.",
        "Choose one of the priorities.",
        "Choose an active supervisor.",
    ):
        assert message in page, message
    assert not audit_events("sla.policy_created")


def test_edit_policy_keeps_the_promise_of_existing_tickets(client, auth, defaults):
    auth.login_as("admin")
    from app.tickets import services as tickets

    ticket = tickets.open_ticket(channel="portal", category="membership", subject="x")
    db.session.commit()
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id)
    values = {**sla_policy_form(policy), "first_response_minutes": "60"}
    assert post(client, f"/admin/sla/policies/{policy.id}", values).status_code == 302
    db.session.expire_all()
    assert db.session.get(SlaPolicy, policy.id).first_response_minutes == 60
    assert db.session.get(type(ticket), ticket.id).first_response_target_seconds == 450 * 60
    [event] = audit_events("sla.policy_changed")
    assert event.detail["before"]["first_response_minutes"] == 450


def sla_policy_form(policy: SlaPolicy) -> dict:
    return {
        "name": policy.name, "position": str(policy.position), "active": "1" if policy.active else "",
        "categories": list(policy.categories), "priorities": list(policy.priorities),
        "channels": list(policy.channels), "first_response_minutes": str(policy.first_response_minutes),
        "resolution_minutes": str(policy.resolution_minutes), "calendar_id": str(policy.calendar_id or ""),
        "warn_percent": str(policy.warn_percent), "escalate_priority": policy.escalate_priority or "",
        "escalate_to_id": "",
    }


def test_calendar_with_lunch_break_and_saturday(client, auth, defaults):
    auth.login_as("admin")
    response = post(client, "/admin/sla/calendars/new", {
        "name": "KDEI Taipei", "timezone": "Asia/Taipei", "holiday_country": "ID",
        "closed_on_cuti_bersama": "1", "day0": "09:00-12:00, 13:00-17:00", "day5": "9:00-12:00",
    })
    assert response.status_code == 302
    calendar = db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == "KDEI Taipei"))
    assert calendar.weekly == {"0": [["09:00", "12:00"], ["13:00", "17:00"]], "5": [["09:00", "12:00"]]}
    page = client.get(f"/admin/sla/calendars/{calendar.id}").get_data(as_text=True)
    assert "Due times if a ticket came in now" in page
    assert "Independence Day" in page or "Hari Kemerdekaan" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("day0", "12:00-08:00", "Write opening hours as 08:00-12:00"),
        ("day0", "08:00-12:00, 11:00-13:00", "Write opening hours as 08:00-12:00"),
        ("timezone", "Asia/Atlantis", "Choose a time zone"),
        ("holiday_country", "XX", "No public holiday data for this country."),
    ],
)
def test_calendar_form_refuses_bad_values(client, auth, defaults, field, value, message):
    auth.login_as("admin")
    data = {"name": "Test", "timezone": "Asia/Jakarta", "day0": "08:00-16:00", field: value}
    response = post(client, "/admin/sla/calendars/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_calendar_needs_hours_or_round_the_clock(client, auth, defaults):
    auth.login_as("admin")
    response = post(client, "/admin/sla/calendars/new", {"name": "Empty", "timezone": "Asia/Jakarta"})
    assert response.status_code == 422
    assert post(client, "/admin/sla/calendars/new", {"name": "Always", "timezone": "UTC", "always_open": "1"}).status_code == 302


def test_override_changes_due_times(client, auth, defaults):
    auth.login_as("admin")
    calendar = db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.always_open.is_(False)))
    before = calendar.updated_at
    response = post(client, f"/admin/sla/calendars/{calendar.id}/overrides",
                    {"day": "2026-11-28", "windows": "08:00-12:00", "note": "Sabtu kerja"})
    assert response.status_code == 302
    db.session.expire_all()
    calendar = db.session.get(BusinessCalendar, calendar.id)
    assert calendar.updated_at > before  # invalidates the engine's cache
    engine = sla.build_calendar(calendar)
    from datetime import UTC, datetime

    friday_evening = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 16:00 WIB
    assert engine.add(friday_evening, 3600) == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # Saturday 08:30
    [override] = db.session.scalars(select(CalendarOverride)).all()
    bad = post(client, f"/admin/sla/calendars/{calendar.id}/overrides", {"day": "28/11/2026"})
    assert bad.status_code == 422 and "Enter a date (YYYY-MM-DD)." in bad.get_data(as_text=True)
    assert post(client, f"/admin/sla/calendars/{calendar.id}/overrides/{override.id}/delete", {}).status_code == 302
    assert db.session.scalar(select(CalendarOverride)) is None
    assert [e.detail["day"] for e in audit_events("sla.override_removed")] == ["2026-11-28"]


def test_unknown_ids_are_404(client, auth, defaults):
    auth.login_as("admin")
    assert client.get("/admin/sla/policies/999").status_code == 404
    assert client.get("/admin/sla/calendars/999").status_code == 404
    assert post(client, "/admin/sla/calendars/999/overrides/1/delete", {}).status_code == 404
