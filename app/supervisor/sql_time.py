"""Portable SQL for the call-centre figures (SQLite and PostgreSQL): epoch seconds of a
timestamp, the index of a reporting interval (:class:`Grid`), and PostgreSQL's JIT switched off
for report queries. Used by :mod:`app.supervisor.kpi_sql` and the roll-ups."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, literal_column, text, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.core.types import UTCDateTime
from app.extensions import db


class epoch(FunctionElement[float]):  # noqa: N801 - reads as SQL
    """Seconds since 1970 of a timestamp column (UTC)."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch)
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text. julianday() would read it with ~50 µs of float noise;
    # whole seconds from %s plus the fraction from %f are exact to the millisecond.
    value = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {value}) AS INTEGER) - CAST(strftime('%S', {value}) AS INTEGER)"
        f" + CAST(strftime('%f', {value}) AS REAL))"
    )


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


class grid_index(FunctionElement[int]):  # noqa: N801 - reads as SQL
    """``floor((seconds + offset) / size)``: the interval a moment falls in."""

    type = Integer()
    inherit_cache = True
    name = "grid_index"


@compiles(grid_index)
def _grid_sqlite(element: grid_index, compiler: Any, **kw: Any) -> str:
    seconds, offset, size = (compiler.process(arg, **kw) for arg in element.clauses)
    # Timestamps are after 1970, so truncation is floor.
    return f"CAST(({seconds} + {offset}) / {size} AS INTEGER)"


@compiles(grid_index, "postgresql")
def _grid_postgresql(element: grid_index, compiler: Any, **kw: Any) -> str:
    seconds, offset, size = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(FLOOR(({seconds} + {offset}) / {size}) AS BIGINT)"


@dataclass(frozen=True)
class Grid:
    """Intervals of ``size`` seconds in local time (``offset``: the zone's UTC offset)."""

    size: int
    offset: int
    zone: ZoneInfo

    @classmethod
    def for_period(cls, minutes: int, zone: ZoneInfo, start: datetime) -> Grid:
        offset = start.astimezone(zone).utcoffset() or timedelta(0)
        return cls(minutes * 60, int(offset.total_seconds()), zone)

    def sql(self, column: Any) -> Any:
        return self.sql_seconds(epoch(column))

    def sql_seconds(self, seconds: Any) -> Any:
        # Inline integers (not bound parameters): PostgreSQL matches GROUP BY expressions by text.
        return grid_index(seconds, literal_column(str(int(self.offset))), literal_column(str(int(self.size))))

    def index(self, moment: datetime) -> int:
        return math.floor((moment.timestamp() + self.offset) / self.size)

    def start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.size - self.offset, UTC).astimezone(self.zone)

    def split(self, start: datetime, end: datetime) -> list[tuple[int, float]]:
        """Seconds of ``[start, end)`` per interval."""
        parts, a, b = [], start.timestamp(), end.timestamp()
        while a < b:
            index = math.floor((a + self.offset) / self.size)
            stop = min(b, (index + 1) * self.size - self.offset)
            parts.append((index, stop - a))
            a = stop
        return parts


def at_utc(value: Any) -> Any:
    """A SQL expression read back as an aware UTC datetime."""
    return type_coerce(value, UTCDateTime)


def no_jit() -> None:
    """Turn PostgreSQL's JIT off for the rest of this transaction.

    The report queries are cheap to run (tens of milliseconds) but look expensive to the planner
    (hundreds of thousands of rows, many expressions), which makes PostgreSQL compile them with
    LLVM first: seconds of compilation for a query that then runs in milliseconds (measured in
    bench/bench_supervision.py). ``SET LOCAL`` ends with the transaction.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
