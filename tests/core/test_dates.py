"""One date style, in the reader's zone, with the zone named (app/core/dates.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from app.core.dates import format_when, use_zone, zone_for_country

AT = datetime(2026, 12, 2, 7, 5, tzinfo=UTC)


@pytest.fixture
def request_context(app):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        yield


def test_staff_read_times_in_wib_named_in_their_language(request_context) -> None:  # type: ignore[no-untyped-def]
    with force_locale("id"):
        assert format_when(AT) == "2 Des 2026 14.05 WIB"
    with force_locale("en"):
        assert format_when(AT) == "2 Dec 2026 14:05 WIB"


def test_the_staff_zone_is_configurable(app, request_context) -> None:  # type: ignore[no-untyped-def]
    app.config["STAFF_TIMEZONE"] = "Asia/Makassar"
    with force_locale("id"):
        assert format_when(AT) == "2 Des 2026 15.05 WITA"


def test_a_readers_zone_is_named_by_its_country(request_context) -> None:  # type: ignore[no-untyped-def]
    use_zone("Asia/Riyadh")
    with force_locale("id"):
        assert format_when(AT) == "2 Des 2026 10.05 Waktu Arab Saudi"
    use_zone("Asia/Hong_Kong")
    with force_locale("en"):
        assert format_when(AT) == "2 Dec 2026 15:05 Hong Kong time"


def test_an_unknown_zone_is_ignored(request_context) -> None:  # type: ignore[no-untyped-def]
    use_zone("Mars/Olympus_Mons")
    with force_locale("en"):
        assert format_when(AT).endswith("WIB")


def test_dates_times_and_iso_text_share_the_style(request_context) -> None:  # type: ignore[no-untyped-def]
    with force_locale("id"):
        assert format_when(date(2026, 8, 17)) == "17 Agu 2026"
        assert format_when(AT, "date") == "2 Des 2026"
        assert format_when(AT, "time") == "14.05"
        assert format_when("2026-12-02T07:05:00+00:00") == "2 Des 2026 14.05 WIB"
        assert format_when(None) == ""


def test_countries_have_their_main_zone() -> None:
    assert zone_for_country("sa") == "Asia/Riyadh"
    assert zone_for_country("MY") == "Asia/Kuala_Lumpur"
    assert zone_for_country("ID") == "Asia/Jakarta"
    assert zone_for_country("XX") is None
