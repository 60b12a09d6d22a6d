"""Benchmark: the SLA sweep over 200,000 open tickets on PostgreSQL.

Run from the repository root::

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_sla_sweep.py                  # 200,000 open tickets
    ... bench/bench_sla_sweep.py --open 50000 --closed 100000     # smaller run

Tickets are generated inside PostgreSQL (``INSERT … SELECT generate_series``) in a private
schema (``halopmi_bench_sla``, dropped afterwards) with the real indexes, the default policies
and SLA columns as ``app.sla.services.reconcile`` would leave them (due and warning times spread
over the next days, ``sla_check_at`` the earliest). Closed tickets sit beside them, as they do in
production. Each scenario runs ``app.sla.sweep.sweep`` — the function the worker loop calls —
and commits, then puts the tickets back for the next one:

* **quiet minute**: 0.5 % of the open tickets have something due (the steady state);
* **busy minute**: 10 % due at once (the morning after a long holiday weekend);
* **everything due**: all 200,000 at once (the sweep was down for days).

The baseline, measured in the same run, is the naive sweep a helpdesk cron would do: load every
open ticket through the ORM and look at its due times in Python (it records nothing, so it is a
lower bound of that approach). The script asserts nothing; it prints the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.sla import services as sla  # noqa: E402
from app.sla.models import SlaEvent  # noqa: E402
from app.sla.sweep import BATCH_SIZE, sweep  # noqa: E402
from app.tickets.models import OPEN_STATUSES, Ticket, TicketEvent  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from bench.pgschema import bench_app, vacuum_analyze  # noqa: E402

SCHEMA = "halopmi_bench_sla"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 WIB on a Monday

# Open tickets: status new/open/pending_third_party; due moments spread over 3 days ahead of
# :now (check = due − 1 h), then :due_share of them pulled into the past. Closed ones: no check.
FILL = """
INSERT INTO tickets (reference, channel, category, priority, language, country, status, subject,
    description, created_at, updated_at, version, sla_policy_id, first_response_target_seconds,
    resolution_target_seconds, sla_cycle, sla_clock_seconds, sla_clock_started_at,
    first_response_due_at, resolution_due_at, first_response_warn_at, resolution_warn_at,
    first_response_warned, first_response_breached, resolution_warned, resolution_breached,
    sla_check_at, sla_status)
SELECT 'PMI-2026-' || lpad(i::text, 7, '0'), 'portal',
    (ARRAY['membership','claim_jkk','claim_jkm','claim_jht','service_complaint','other'])[1 + i % 6],
    'normal', 'id', (ARRAY['TW','MY','HK','KR','JP'])[1 + i % 5],
    CASE WHEN i <= :open THEN (ARRAY['new','open','pending_third_party'])[1 + i % 3] ELSE 'closed' END,
    'synthetic', '', :now - interval '1 day', :now, 1, :policy, 27000, 135000, 0, 0,
    CASE WHEN i <= :open THEN :now - interval '1 day' END,
    :now + ((i * 37 % 4320) || ' minutes')::interval,
    :now + ((i * 37 % 4320 + 600) || ' minutes')::interval,
    :now + ((i * 37 % 4320 - 60) || ' minutes')::interval,
    :now + ((i * 37 % 4320 + 480) || ' minutes')::interval,
    false, false, false, false,
    CASE WHEN i <= :open THEN :now + ((i * 37 % 4320 - 60) || ' minutes')::interval END,
    CASE WHEN i <= :open THEN 'ok' ELSE 'met' END
FROM generate_series(1, CAST(:total AS integer)) AS i
"""


def _reset(due_share: float, open_count: int) -> int:
    """Back to "nothing recorded"; ``due_share`` of the open tickets have their warning and
    first-response due time in the past."""
    db.session.execute(text("TRUNCATE sla_events"))
    db.session.execute(text("DELETE FROM ticket_events"))
    db.session.execute(
        text(
            "UPDATE tickets SET first_response_warned = false, first_response_breached = false,"
            " resolution_warned = false, resolution_breached = false, priority = 'normal',"
            " sla_status = 'ok',"
            " first_response_warn_at = :now + ((id * 37 % 4320 - 60) || ' minutes')::interval,"
            " first_response_due_at = :now + ((id * 37 % 4320) || ' minutes')::interval,"
            " sla_check_at = :now + ((id * 37 % 4320 - 60) || ' minutes')::interval"
            " WHERE id <= :open"
        ),
        {"now": NOW, "open": open_count},
    )
    due = int(open_count * due_share)
    db.session.execute(
        text(
            "UPDATE tickets SET first_response_warn_at = :now - interval '30 minutes',"
            " first_response_due_at = :now - interval '1 minute', sla_check_at = :now - interval '30 minutes'"
            " WHERE id <= :due"
        ),
        {"now": NOW, "due": due},
    )
    db.session.commit()
    vacuum_analyze("tickets")
    return due


def _naive_sweep() -> int:
    """Every open ticket through the ORM, due times compared in Python."""
    due = 0
    for ticket in db.session.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))).yield_per(5000):
        for moment in (ticket.first_response_warn_at, ticket.first_response_due_at,
                       ticket.resolution_warn_at, ticket.resolution_due_at):
            if moment is not None and moment <= NOW:
                due += 1
                break
    db.session.rollback()
    return due


QUICK = {"open": 10_000, "closed": 10_000, "repeat": 1}
TABLE = {"open": 20_000, "closed": 30_000, "repeat": 2}  # run.py bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--open", type=int, default=200_000)
    parser.add_argument("--closed", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)


def measure(args: argparse.Namespace) -> list[Row]:
    swept: list[tuple[str, int, float]] = []
    with bench_app(SCHEMA):
        sla.install_defaults()
        db.session.commit()
        policy = db.session.scalar(text("SELECT id FROM sla_policies WHERE name LIKE 'Umum%'"))
        started = time.perf_counter()
        db.session.execute(
            text(FILL), {"open": args.open, "total": args.open + args.closed, "now": NOW, "policy": policy}
        )
        db.session.commit()
        print(f"{args.open:,} open + {args.closed:,} closed tickets generated in {time.perf_counter() - started:.1f} s")

        for label, share in (("quiet minute (0.5 % due)", 0.005), ("busy minute (10 % due)", 0.10),
                             ("everything due (100 %)", 1.0)):
            passes: list[float] = []
            drains: list[float] = []
            for _ in range(args.repeat):
                due = _reset(share, args.open)
                t0 = time.perf_counter()
                recorded = 0
                while True:  # what the worker loop does with a backlog
                    t1 = time.perf_counter()
                    result = sweep(NOW)
                    db.session.commit()
                    passes.append(time.perf_counter() - t1)
                    recorded += result.warnings + result.breaches
                    if not result.full:
                        break
                drains.append(time.perf_counter() - t0)
                events = db.session.scalar(select(func.count()).select_from(SlaEvent))
                timeline = db.session.scalar(select(func.count()).select_from(TicketEvent))
                assert events == timeline == recorded
            again = time.perf_counter()
            second = sweep(NOW)
            db.session.commit()
            idle = time.perf_counter() - again
            print(
                f"  {label:<26} {due:>7,} due: all swept in {min(drains):6.3f} s (best of {args.repeat}), "
                f"{len(passes) // args.repeat} pass(es) of ≤{BATCH_SIZE:,}, slowest pass {max(passes):.3f} s;"
                f" {recorded:,} warnings+breaches; the next sweep {idle * 1000:.1f} ms ({second.warnings + second.breaches} new)"
            )
            swept.append((label, due, min(drains)))
        _reset(0.005, args.open)
        t0 = time.perf_counter()
        found = _naive_sweep()
        naive_seconds = time.perf_counter() - t0
        print(f"  baseline: naive ORM scan of every open ticket: {naive_seconds:6.3f} s "
              f"({found:,} due found, nothing recorded)")
    size = f"{args.open:,} open + {args.closed:,} closed tickets"
    conditions = (
        f"PostgreSQL, app.sla.sweep.sweep until nothing is due, best of {args.repeat}; baseline: naive ORM scan "
        f"of every open ticket (records nothing); {common.machine()}"
    )
    return [
        Row(f"SLA sweep, {label}: {due:,} due (s)", seconds, naive_seconds, size, conditions)
        for label, due, seconds in swept
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
