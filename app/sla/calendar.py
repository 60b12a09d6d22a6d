"""Business time: the pure engine under every SLA clock (no database, no Flask).

A :class:`Calendar` is a time zone, opening windows per weekday (several a day: a lunch break is
the gap between two windows), closed dates (public holidays, *cuti bersama*) and per-date
overrides (a late SKB change, an extra working Saturday). ``always_open`` is the 24/7 calendar.

Two operations, inverse of each other, which the property tests pin down:

* :meth:`Calendar.add` — the instant ``seconds`` of business time after ``start`` (a due time);
* :meth:`Calendar.between` — the business seconds between two instants (an achieved time).

Windows are read in the calendar's zone, but every sum is taken on UTC instants, so a day that
loses or gains an hour to daylight saving counts the hours it really had. A target that is used
up exactly at the end of a window is due at that end (17:00), not at the next opening.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# How far ahead :meth:`Calendar.add` looks for opening hours before deciding there are none.
MAX_DAYS = 3 * 366
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

Window = tuple[int, int]  # minutes after local midnight, start < end ≤ 1440


class CalendarError(ValueError):
    """A calendar definition that cannot be used (bad window, unknown zone, no opening hours)."""


def parse_hhmm(text: str) -> int:
    """``"08:30"`` → 510 minutes; ``"24:00"`` is the end of the day."""
    value = (text or "").strip()
    if not _HHMM.match(value):
        raise CalendarError(f"not a time of day (HH:MM): {text!r}")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_windows(pairs: Iterable[Iterable[str]]) -> tuple[Window, ...]:
    """``[["08:00", "12:00"], ["13:00", "17:00"]]`` → sorted, non-overlapping minute windows."""
    windows: list[Window] = []
    for pair in pairs:
        items = list(pair)
        if len(items) != 2:
            raise CalendarError("a window is a pair of times: [start, end]")
        start, end = parse_hhmm(items[0]), parse_hhmm(items[1])
        if start >= end:
            raise CalendarError(f"a window must end after it starts: {items[0]}–{items[1]}")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        if start < end:
            raise CalendarError("windows of one day must not overlap")
    return tuple(windows)


@dataclass(frozen=True)
class Calendar:
    timezone: str = "Asia/Jakarta"
    # weekday (0 = Monday) → windows; a missing weekday is closed.
    weekly: Mapping[int, tuple[Window, ...]] = field(default_factory=dict)
    closed_dates: frozenset[date] = frozenset()
    # A date listed here uses these windows instead (empty: closed), whatever the weekday/holiday.
    overrides: Mapping[date, tuple[Window, ...]] = field(default_factory=dict)
    always_open: bool = False

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd keys
            raise CalendarError(f"unknown time zone: {self.timezone!r}") from exc
        if not self.always_open and not any(self.weekly.values()) and not any(self.overrides.values()):
            raise CalendarError("a calendar needs opening hours (or to be open 24/7)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # -- the windows of a date ---------------------------------------------------------------

    def windows_on(self, day: date) -> tuple[Window, ...]:
        if day in self.overrides:
            return self.overrides[day]
        if day in self.closed_dates:
            return ()
        return self.weekly.get(day.weekday(), ())

    def _spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The opening spans of a local date as UTC instants."""
        zone = self.zone
        midnight = datetime.combine(day, time())
        for start, end in self.windows_on(day):
            opens = (midnight + timedelta(minutes=start)).replace(tzinfo=zone).astimezone(UTC)
            closes = (midnight + timedelta(minutes=end)).replace(tzinfo=zone).astimezone(UTC)
            # A window inside the hour a clock skips (02:01–03:00 on a spring-forward night)
            # maps to an end before its start: it has no business time at all. Skipping it
            # keeps add() from counting it as negative time (a due time 60 s late).
            if closes > opens:
                yield opens, closes

    def _local_date(self, at: datetime) -> date:
        return _aware(at).astimezone(self.zone).date()

    # -- the two operations ------------------------------------------------------------------

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant when ``seconds`` of business time have passed since ``start``."""
        start = _aware(start).astimezone(UTC)
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        if self.always_open:
            return start + timedelta(seconds=seconds)
        remaining = timedelta(seconds=seconds)
        day = self._local_date(start)
        # Start one day early: a window of the previous local date can still be open (a
        # window ending at 24:00 in a zone west of UTC, or the day a DST change moves).
        day -= timedelta(days=1)
        for _ in range(MAX_DAYS):
            for span_start, span_end in self._spans(day):
                if span_end <= start:
                    continue
                begin = max(span_start, start)
                available = span_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise CalendarError(f"no opening hours within {MAX_DAYS} days")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds()
        total = timedelta()
        day = self._local_date(start) - timedelta(days=1)
        last = self._local_date(end)
        while day <= last:
            for span_start, span_end in self._spans(day):
                lo, hi = max(span_start, start), min(span_end, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds()

    def is_open(self, at: datetime) -> bool:
        at = _aware(at).astimezone(UTC)
        if self.always_open:
            return True
        day = self._local_date(at)
        for candidate in (day - timedelta(days=1), day):
            for span_start, span_end in self._spans(candidate):
                if span_start <= at < span_end:
                    return True
        return False


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) instant")
    return at


TWENTY_FOUR_SEVEN = Calendar(always_open=True)
