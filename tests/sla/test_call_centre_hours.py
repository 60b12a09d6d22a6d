"""The IVR's opening hours come from a business calendar: public holidays and overrides count."""

from __future__ import annotations

import pytest

from app.extensions import db as _db
from app.sla import config as sla_config
from app.sla import services as sla
from app.sla.models import BusinessCalendar
from app.telephony.services import business_hours
from tests.sla.test_clock import wib


@pytest.fixture
def defaults(db):
    sla.install_defaults()
    _db.session.commit()


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        ("2026-11-23 05:59", False),
        ("2026-11-23 06:00", True),
        ("2026-11-29 21:59", True),  # Sunday: the call centre works every day
        ("2026-11-29 22:00", False),
        ("2026-12-25 10:00", False),  # Christmas Day
        ("2026-12-24 10:00", True),  # cuti bersama: the call centre stays open
        ("2026-08-17 10:00", False),  # Independence Day
    ],
)
def test_call_centre_calendar_decides(app, defaults, at, open_):
    assert business_hours(wib(at)) is open_


def test_an_override_opens_a_holiday(app, defaults):
    calendar = _db.session.scalar(
        _db.select(BusinessCalendar).where(BusinessCalendar.name == app.config["TELEPHONY_CALENDAR"])
    )
    sla_config.add_override(calendar, {"day": "2026-12-25", "windows": "08:00-16:00"}, actor_id=None)
    _db.session.commit()
    assert business_hours(wib("2026-12-25 10:00")) is True
    assert business_hours(wib("2026-12-25 17:00")) is False


def test_without_the_calendar_the_daily_hours_apply(app, db):
    # No calendar of that name (nothing installed): TELEPHONY_HOURS every day, holidays or not.
    assert business_hours(wib("2026-12-25 10:00")) is True
    assert business_hours(wib("2026-12-25 23:00")) is False
