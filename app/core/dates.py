"""One way to show an instant to a person: in the reader's zone, in her language, zone named.

Staff read times in the staff zone (``STAFF_TIMEZONE``, WIB by default); a worker following her
case reads them in her own zone (her browser's, else her placement country's), which the portal
sets for the request with :func:`use_zone`. Every page formats through :func:`format_when` (the
``local`` template filter), so one date style holds everywhere: ``2 Des 2026 14.05 WIB`` /
``2 Dec 2026 14:05 WIB``, ``2 Des 2026 10.05 Waktu Arab Saudi``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time, get_timezone_name
from flask import current_app, g, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _

# The placement countries' main zones, so they never depend on the system's zone.tab (absent on
# some machines), and countries whose first zone.tab entry is not where most workers live.
MAIN_ZONES = {
    "ID": "Asia/Jakarta", "HK": "Asia/Hong_Kong", "TW": "Asia/Taipei", "MY": "Asia/Kuala_Lumpur",
    "SG": "Asia/Singapore", "SA": "Asia/Riyadh", "KR": "Asia/Seoul", "JP": "Asia/Tokyo",
    "AE": "Asia/Dubai", "QA": "Asia/Qatar", "KW": "Asia/Kuwait", "OM": "Asia/Muscat",
    "BH": "Asia/Bahrain", "BN": "Asia/Brunei", "TR": "Europe/Istanbul", "IT": "Europe/Rome",
    "PL": "Europe/Warsaw", "DE": "Europe/Berlin", "NL": "Europe/Amsterdam", "GB": "Europe/London",
    "AU": "Australia/Sydney", "NZ": "Pacific/Auckland", "CN": "Asia/Shanghai", "MO": "Asia/Macau",
    "US": "America/New_York", "JO": "Asia/Amman", "TL": "Asia/Dili",
}  # fmt: skip
# Indonesia's own zones are named by their abbreviations, in both languages.
INDONESIAN_ZONES = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
# CLDR's official long forms read oddly to a worker ("Hong Kong DAK Tiongkok").
SHORT_COUNTRY_NAMES = {"HK": "Hong Kong", "TW": "Taiwan", "MO": "Macau"}
PATTERNS = {  # (date, time): one style; only the time separator follows the language
    "id": ("d MMM y", "HH.mm"),
    "en": ("d MMM y", "HH:mm"),
}


@lru_cache(maxsize=1)
def _zone_tab_rows() -> tuple[tuple[str, str], ...]:
    """(country, zone) rows of the system's zone.tab, in its order (empty where it is absent)."""
    path = Path("/usr/share/zoneinfo/zone.tab")
    if not path.exists():
        return ()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line and not line.startswith("#") and len(parts) >= 3:
            rows.append((parts[0], parts[2]))
    return tuple(rows)


@lru_cache(maxsize=1)
def _zone_tab() -> dict[str, str]:
    """Country → its first zone in zone.tab."""
    zones: dict[str, str] = {}
    for country, zone in _zone_tab_rows():
        zones.setdefault(country, zone)
    return zones


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """Zone → the country it belongs to (the first country zone.tab lists it under)."""
    countries: dict[str, str] = {}
    for country, zone in _zone_tab_rows():
        countries.setdefault(zone, country)
    return countries


def country_name(code: str | None) -> str:
    """A country's name in the page's language (``SA`` → Arab Saudi / Saudi Arabia)."""
    if not code:
        return ""
    code = code.upper()
    if code in SHORT_COUNTRY_NAMES:
        return SHORT_COUNTRY_NAMES[code]
    locale = get_locale()
    if locale is None:
        return code
    return str(locale.territories.get(code, code))


def valid_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA zone this machine knows, else None."""
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zone_for_country(code: str | None) -> str | None:
    """The main zone of a country (``SA`` → Asia/Riyadh), or None if unknown."""
    if not code:
        return None
    code = code.upper()
    return valid_zone(MAIN_ZONES.get(code) or _zone_tab().get(code))


def staff_zone() -> str:
    return str(current_app.config.get("STAFF_TIMEZONE") or current_app.config["BABEL_DEFAULT_TIMEZONE"])


def use_zone(name: str | None) -> None:
    """Show this request's times in ``name`` (the reader's zone); None keeps the staff zone."""
    g.reader_zone = valid_zone(name)


def reader_zone() -> str:
    if has_request_context():
        chosen = getattr(g, "reader_zone", None)
        if chosen:
            return str(chosen)
    return staff_zone()


def _language() -> str:
    locale = get_locale()
    language = locale.language if locale is not None else "id"
    return language if language in PATTERNS else "en"


def zone_name(zone: str, at: datetime | None = None) -> str:
    """How a person names ``zone``: WIB/WITA/WIT at home, the country's time elsewhere."""
    if zone in INDONESIAN_ZONES:
        return INDONESIAN_ZONES[zone]
    if zone == "UTC":
        return "UTC"
    country = _zone_countries().get(zone)
    if country and zone_for_country(country) == zone:  # a country's main zone: "Saudi Arabia time"
        return _("%(country)s time", country=country_name(country))
    return str(get_timezone_name(ZoneInfo(zone), width="short", locale=_language()))


def format_when(value: datetime | date | str | None, style: str = "datetime", zone: str | None = None) -> str:
    """``value`` (a stored UTC instant) as the reader reads it. ``style``: ``datetime`` (with
    the zone named), ``date`` or ``time`` (without). A plain ``date`` is shown as a date."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an ISO text (JSON data of an event)
        text = value
        try:
            value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            return text
    language = _language()
    date_pattern, time_pattern = PATTERNS[language]
    if not isinstance(value, datetime):
        return str(format_date(value, date_pattern, locale=language))
    zone = valid_zone(zone) or reader_zone()
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(zone))
    if style == "date":
        return str(format_date(local, date_pattern, locale=language))
    clock = str(format_time(local, time_pattern, locale=language))
    if style == "time":
        return clock
    return f"{format_date(local, date_pattern, locale=language)} {clock} {zone_name(zone, local)}"
