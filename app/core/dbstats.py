"""Planner statistics after a bulk load.

PostgreSQL plans queries from per-table statistics that autovacuum refreshes only some time after
rows arrive. Right after a bulk load (the demo's history, a records import) the planner still
believes the tables are empty and picks nested loops over the call log: the demo's two-week call
report took 6.5 s on PostgreSQL instead of 0.23 s after ``ANALYZE`` (measured 2026-12-02; the
browser test of the demo's reports timed out on it in CI). SQLite plans without them.
"""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db


def refresh_planner_statistics() -> None:
    """``ANALYZE`` on PostgreSQL (inside the caller's transaction; the caller commits)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
