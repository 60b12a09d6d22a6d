"""Benchmark: the SLA reports over 1,000,000 tickets on PostgreSQL.

Run from the repository root::

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_sla_reports.py                 # 1,000,000 tickets over a year
    ... bench/bench_sla_reports.py --rows 200000 --samples 5         # smaller run

Tickets (and 3 % of them with a breach in ``sla_events``) are generated inside PostgreSQL in a
private schema (``halopmi_bench_sla_reports``, dropped afterwards), spread evenly over the last
365 days, with SLA columns filled the way the engine fills them. It then times, through
``app.sla.reports`` exactly as the pages call it, the compliance report by every dimension for
the last 30 days and for the whole year, the breach list, and the per-ticket CSV export of 30
days; and, as the baseline in the same run, the naive way: every ticket of the period loaded
through the ORM and counted in Python. It prints p50/p99 and asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.sla import reports  # noqa: E402
from app.sla import services as sla  # noqa: E402
from app.tickets.models import Ticket  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from bench.pgschema import bench_app, vacuum_analyze  # noqa: E402

SCHEMA = "halopmi_bench_sla_reports"

FILL = """
INSERT INTO tickets (reference, channel, category, priority, language, country, status, subject,
    description, created_at, updated_at, version, assignee_id, sla_policy_id,
    first_response_target_seconds, resolution_target_seconds, sla_cycle, sla_clock_seconds,
    first_response_at, first_response_seconds, first_response_margin_seconds, first_response_breached,
    resolution_seconds, resolution_margin_seconds, resolution_breached, first_response_warned,
    resolution_warned, sla_status)
SELECT 'PMI-B-' || lpad(i::text, 8, '0'),
    (ARRAY['portal','phone','callback','voicemail','api'])[1 + i % 5],
    (ARRAY['membership','contribution','claim_jkk','claim_jkm','claim_jht','benefit_info',
           'data_correction','app_access','service_complaint','emergency','other'])[1 + i % 11],
    (ARRAY['low','normal','normal','high','urgent'])[1 + i % 5], 'id',
    (ARRAY['TW','HK','MY','SG','KR','JP','SA','IT','BN'])[1 + (i / 7) % 9],
    CASE WHEN i % 10 < 8 THEN 'closed' WHEN i % 10 = 8 THEN 'open' ELSE 'resolved' END,
    'synthetic', '', now() - ((i % 365) || ' days')::interval - ((i % 86400) || ' seconds')::interval,
    now(), 1, 1 + i % :agents, :policy, 27000, 135000, 0, 0,
    now(), 3600 + (i::bigint * 7919) % 40000, 27000 - (3600 + (i::bigint * 7919) % 40000), (3600 + (i::bigint * 7919) % 40000) > 27000,
    CASE WHEN i % 10 <> 8 THEN 20000 + (i::bigint * 104729) % 140000 END,
    CASE WHEN i % 10 <> 8 THEN 135000 - (20000 + (i::bigint * 104729) % 140000) END,
    i % 10 <> 8 AND (20000 + (i::bigint * 104729) % 140000) > 135000,
    false, false,
    CASE WHEN i % 10 = 8 THEN (ARRAY['ok','at_risk','breached'])[1 + i % 3] ELSE 'met' END
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _time(label: str, samples: int, run) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    run()  # warm-up, not measured
    timings = []
    for _ in range(samples):
        t0 = time.perf_counter()
        run()
        timings.append((time.perf_counter() - t0) * 1000)
        db.session.rollback()
    p50 = statistics.median(timings)
    p99 = _percentile(timings, 0.99)
    print(f"  {label:<44} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    return p50, p99


def _naive(period: reports.Period) -> int:
    start, end = period.bounds
    counts: Counter[str] = Counter()
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
    ).yield_per(5000):
        if ticket.first_response_seconds is not None and not ticket.first_response_breached:
            counts[ticket.category] += 1
    return len(counts)


QUICK = {"rows": 50_000, "samples": 3}
TABLE = {"rows": 200_000, "samples": 10}  # run.py bench; the README's figures: 1,000,000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20)


def measure(args: argparse.Namespace) -> list[Row]:
    with bench_app(SCHEMA):
        sla.install_defaults()
        agents = 60
        db.session.execute(
            text(
                "INSERT INTO users (email, name, password_hash, role, active, language, created_at)"
                " SELECT 'agent' || i || '@bench.test', 'Agent ' || i, 'x', 'agent', true, 'id', now()"
                " FROM generate_series(1, :n) AS i"
            ),
            {"n": agents},
        )
        policy = db.session.scalar(text("SELECT id FROM sla_policies WHERE name LIKE 'Umum%'"))
        started = time.perf_counter()
        for start in range(1, args.rows + 1, 250_000):
            db.session.execute(
                text(FILL),
                {"start": start, "stop": min(args.rows, start + 249_999), "policy": policy, "agents": agents},
            )
            db.session.commit()
        db.session.execute(
            text(
                "INSERT INTO sla_events (ticket_id, policy_id, target, kind, cycle, due_at, at)"
                " SELECT id, sla_policy_id, 'resolution', 'breach', 0, created_at + interval '5 days',"
                " created_at + interval '5 days' FROM tickets WHERE resolution_breached AND id % 3 = 0"
            )
        )
        db.session.commit()
        vacuum_analyze()
        breaches = db.session.scalar(text("SELECT count(*) FROM sla_events"))
        print(f"{args.rows:,} tickets over 365 days + {breaches:,} breaches generated in "
              f"{time.perf_counter() - started:.1f} s; {args.samples} samples each")

        today = date.today()
        month = reports.Period(today - timedelta(days=29), today)
        year = reports.Period(today - timedelta(days=364), today)
        print("compliance report (app.sla.reports.compliance):")
        figures = {
            f"compliance, 30 days by {dimension}": _time(
                f"last 30 days by {dimension}", args.samples, lambda d=dimension: reports.compliance(d, month)
            )
            for dimension in reports.DIMENSIONS
        }
        for dimension in ("category", "agent", "month"):
            figures[f"compliance, whole year by {dimension}"] = _time(
                f"whole year by {dimension}", max(3, args.samples // 4), lambda d=dimension: reports.compliance(d, year)
            )
        figures["breach list, 30 days"] = _time(
            "breach list, last 30 days (first page)", args.samples, lambda: reports.breaches(month)
        )
        figures["per-ticket CSV, 30 days"] = _time(
            "per-ticket CSV, last 30 days (whole file)", 3, lambda: sum(1 for _ in reports.export_tickets(month))
        )
        print("baseline:")
        naive = _time("naive: ORM load + count in Python, 30 days", 3, lambda: _naive(month))
    conditions = (
        f"PostgreSQL, app.sla.reports as the pages call it, {args.samples} samples; baseline: 30 days loaded "
        f"through the ORM and counted in Python (p50); {common.machine()}"
    )
    return [
        Row(f"SLA report: {name}, p50 (ms)", p50, naive[0], f"{args.rows:,} tickets over 365 days", conditions)
        for name, (p50, _p99) in figures.items()
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
