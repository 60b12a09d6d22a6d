"""The Indonesian holiday data the SLA calendars close on (``holidays``, pinned in pyproject.toml).

Releases before 0.99 had no *cuti bersama* for 2026 and put Idul Fitri 1447 H on 20-21 March
(the decree says 21-22 March), so every SLA due time around Lebaran 2026 was wrong. These are the
dates of the joint decree (SKB 3 Menteri) for 2025 and 2026, as the engine's calendar built from
a stored business calendar closes on them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.sla.models import BusinessCalendar
from app.sla.services import build_calendar, holiday_names

PUBLIC_2025 = {
    "2025-01-01", "2025-01-27", "2025-01-29", "2025-03-29", "2025-03-31", "2025-04-01", "2025-04-18",
    "2025-04-20", "2025-05-01", "2025-05-12", "2025-05-29", "2025-06-01", "2025-06-06", "2025-06-27",
    "2025-08-17", "2025-09-05", "2025-12-25",
}
CUTI_BERSAMA_2025 = {
    "2025-01-28", "2025-03-28", "2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07", "2025-05-13",
    "2025-05-30", "2025-06-09", "2025-08-18", "2025-12-26",
}
PUBLIC_2026 = {
    "2026-01-01", "2026-01-16", "2026-02-17", "2026-03-19", "2026-03-21", "2026-03-22", "2026-04-03",
    "2026-04-05", "2026-05-01", "2026-05-14", "2026-05-27", "2026-05-31", "2026-06-01", "2026-06-16",
    "2026-08-17", "2026-08-25", "2026-12-25",
}
CUTI_BERSAMA_2026 = {
    "2026-02-16", "2026-03-18", "2026-03-20", "2026-03-23", "2026-03-24", "2026-05-15", "2026-05-28",
    "2026-12-24",
}


def _days(values: set[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(value) for value in values)


def _closed(year: int, cuti_bersama: bool) -> frozenset[date]:
    row = BusinessCalendar(
        name="WIB", timezone="Asia/Jakarta", always_open=False, holiday_country="ID",
        closed_on_cuti_bersama=cuti_bersama, weekly={"0": [["08:00", "16:00"]]},
    )
    calendar = build_calendar(row, around=datetime(year, 6, 1, tzinfo=UTC))
    return frozenset(day for day in calendar.closed_dates if day.year == year)


def test_public_holidays_2025_and_2026() -> None:
    assert _closed(2025, cuti_bersama=False) == _days(PUBLIC_2025)
    assert _closed(2026, cuti_bersama=False) == _days(PUBLIC_2026)


def test_cuti_bersama_2025_and_2026_close_the_calendars_that_observe_them() -> None:
    assert _closed(2025, cuti_bersama=True) == _days(PUBLIC_2025 | CUTI_BERSAMA_2025)
    assert _closed(2026, cuti_bersama=True) == _days(PUBLIC_2026 | CUTI_BERSAMA_2026)


def test_idul_fitri_2026_is_21_and_22_march() -> None:
    names = dict(holiday_names("ID", 2026, False, language="en_US"))
    assert names[date(2026, 3, 21)] == "Eid al-Fitr"
    assert names[date(2026, 3, 22)] == "Eid al-Fitr Second Day"
    assert date(2026, 3, 20) not in names  # a joint leave day (cuti bersama), not the holiday
