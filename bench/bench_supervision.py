"""Benchmark: the wallboard and the supervisor reports over 2,000,000 call events and 1,000,000 tickets.

Run from the repository root (PostgreSQL only; use a database of your own)::

    createdb -h 127.0.0.1 -U postgres kpi_bench
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kpi_bench \\
        .venv/bin/python bench/bench_supervision.py
    ... bench/bench_supervision.py --events 200000 --tickets 100000 --samples 5   # smaller

Everything is generated inside PostgreSQL (``INSERT … SELECT generate_series``) in a private
schema (``halopmi_bench_supervision``, dropped afterwards unless ``--keep``), with the real
tables and indexes of the models:

* calls spread evenly over the last ``--days`` days (default 180), ~4.6 call-log events each
  (created, queued, offered, answered, completed for the 80 % answered; created, queued,
  abandoned for the rest: hang-ups, short abandons, callback requests), until ``--events``;
* per answered call, its routing work item and four presence changes of its agent (ringing, on
  call, wrap-up, available): about 1.4 million ``agent_state_events``;
* ``--tickets`` tickets over the same days (a quarter open, with due times around now; resolved
  ones with a satisfaction score one time in three), 40 agents, 20,000 callback requests.

Then it times, through the same functions the pages call, the wallboard snapshot and each
report (``--samples`` runs each, p50 and p99), and the pages over HTTP (templates included),
three times in the same run:

1. from the logs alone (no day rolled up yet), with the supervision indexes;
2. as shipped: finished days rolled up (``app.supervisor.rollup``, timed), the rest from the logs;
3. baseline: the logs alone without the supervision indexes (``SUPERVISION_INDEXES``, what
   migration a7c41e9b2d10 adds).

It asserts nothing; the EXPLAIN counterpart that CI runs is ``tests/supervisor/test_plans.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from app import create_app  # noqa: E402
from app.core.time import utcnow  # noqa: E402
from app.extensions import db  # noqa: E402
from app.supervisor import exports, kpis, reports, rollup, staffing, wallboard  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from config import TestingConfig  # noqa: E402

SCHEMA = "halopmi_bench_supervision"
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway account in a throwaway schema
AGENTS = 40
# Indexes this work adds (migration a7c41e9b2d10); dropped for the baseline.
SUPERVISION_INDEXES = (
    "ix_agent_state_events_at",
    "ix_agent_state_events_work_item",
    "ix_work_items_kind_ref",
    "ix_tickets_open_first_response_due",
    "ix_tickets_open_resolution_due",
    "ix_tickets_resolved_at",
    "ix_callback_requests_status",
)

USERS = """
INSERT INTO users (id, email, name, password_hash, role, active, language, created_at)
SELECT i, 'agent' || i || '@bench.example', 'Agent ' || i, :password_hash, CASE WHEN i = 1 THEN 'supervisor' ELSE 'agent' END,
       true, 'en', now()
FROM generate_series(1, :agents) AS i
"""

# One row per call: its outcome (i % 20: 0–15 answered, 16–17 hang-up, 18 short abandon, 19 callback).
CALLS = """
INSERT INTO calls (id, call_sid, direction, language, topic, status, enqueued_at, answered_at, ended_at,
                   agent_id, created_at, updated_at)
SELECT i, 'CA' || lpad(i::text, 32, '0'), 'inbound',
       (ARRAY['id','id','id','id','id','id','en','en','jv','zh-TW'])[1 + i % 10],
       (ARRAY['membership','contribution','claim_jkk','claim_jkm','claim_jht','other'])[1 + (i / 10) % 6],
       'completed', q,
       CASE WHEN i % 20 < 16 THEN q + make_interval(secs => (i * 37) % 90) END,
       q + make_interval(secs => CASE WHEN i % 20 < 16 THEN (i * 37) % 90 + 120 + (i * 53) % 400 ELSE 60 END),
       CASE WHEN i % 20 < 16 THEN 2 + i % (:agents - 1) END,
       q - interval '30 seconds', q
FROM (SELECT i, now() - make_interval(secs => (:calls - i) * :spacing) AS q
      FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i) AS s
"""

EVENTS = r"""
INSERT INTO call_events (key, call_id, kind, at, agent_id, wait_seconds, talk_seconds, data)
SELECT c.id || ':' || e.kind || e.suffix, c.id, e.kind, e.at, e.agent_id, e.wait, e.talk, e.data::json
FROM calls c
CROSS JOIN LATERAL (VALUES
    ('created', '', c.created_at, NULL::int, NULL::int, NULL::int, '{"direction": "inbound"}', true),
    ('queued', '', c.enqueued_at, NULL, NULL, NULL,
        '{"topic": "' || c.topic || '", "language": "' || c.language || '"}', true),
    ('offered', '', c.answered_at - interval '5 seconds', c.agent_id, NULL, NULL, '{}', c.id % 20 < 16),
    ('answered', '', c.answered_at, c.agent_id, (c.id * 37) % 90, NULL, '{}', c.id % 20 < 16),
    ('completed', '', c.ended_at, c.agent_id, (c.id * 37) % 90, 120 + (c.id * 53) % 400, '{}', c.id % 20 < 16),
    ('abandoned', '', c.enqueued_at + make_interval(secs => 30 + (c.id * 7) % 170), NULL,
        30 + (c.id * 7) % 170, NULL, '{"reason": "hangup"}', c.id % 20 IN (16, 17)),
    ('abandoned', '', c.enqueued_at + interval '2 seconds', NULL, 2, NULL, '{"reason": "hangup"}', c.id % 20 = 18),
    ('abandoned', '\:callback', c.enqueued_at + interval '120 seconds', NULL, 120, NULL,
        '{"reason": "callback"}', c.id % 20 = 19)
) AS e(kind, suffix, at, agent_id, wait, talk, data, present)
WHERE e.present AND c.id BETWEEN :start AND :stop
"""

WORK_ITEMS = """
INSERT INTO work_items (id, kind, ref_id, status, language, topic, priority, agent_id, excluded_agents,
                        offers, enqueued_at, connected_at, ended_at, version)
SELECT c.id, 'call', c.id, 'completed', c.language, c.topic, 10, c.agent_id, '[]', 1, c.enqueued_at,
       c.answered_at, c.ended_at, 3
FROM calls c WHERE c.answered_at IS NOT NULL AND c.id BETWEEN :start AND :stop
"""

STATES = """
INSERT INTO agent_state_events (agent_id, from_state, to_state, reason, work_item_id, at)
SELECT c.agent_id, s.from_state, s.to_state, s.reason, c.id, s.at
FROM calls c
CROSS JOIN LATERAL (VALUES
    ('available', 'offered', 'offer', c.answered_at - interval '5 seconds'),
    ('offered', 'on_call', 'call', c.answered_at),
    ('on_call', 'wrap_up', 'completed', c.ended_at),
    ('wrap_up', 'available', 'wrap_up_done', c.ended_at + interval '30 seconds')
) AS s(from_state, to_state, reason, at)
WHERE c.answered_at IS NOT NULL AND c.id BETWEEN :start AND :stop
"""

TICKETS = """
INSERT INTO tickets (reference, channel, category, priority, language, country, status, assignee_id, subject,
                     description, created_at, updated_at, first_response_at, first_response_due_at,
                     resolution_due_at, resolved_at, csat_score, version)
SELECT 'PMI-B-' || lpad(i::text, 8, '0'), 'phone',
       (ARRAY['membership','contribution','claim_jkk','claim_jkm','claim_jht','other'])[1 + i % 6],
       'normal', 'id', (ARRAY['TW','MY','HK','KR'])[1 + i % 4],
       (ARRAY['new','open','pending_worker','resolved','closed','closed','closed','closed'])[1 + i % 8],
       2 + i % (:agents - 1), 'synthetic', '', t, t,
       CASE WHEN i % 8 IN (0) THEN NULL ELSE t + interval '2 hours' END,
       t + interval '4 hours', t + interval '5 days',
       CASE WHEN i % 8 >= 3 THEN t + interval '3 days' END,
       CASE WHEN i % 8 >= 3 AND i % 3 = 0 THEN 1 + (i * 7) % 5 END,
       1
FROM (SELECT i, CASE WHEN i % 8 < 3 THEN now() - make_interval(secs => (i * 97) % 900000)
                     ELSE now() - make_interval(secs => (:tickets - i) * :spacing) END AS t
      FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i) AS s
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_ms(label: str, samples: int, run: Callable[[], object]) -> tuple[float, float]:
    run()  # warm the connection, caches and plans; not measured
    db.session.rollback()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    p50, p99 = statistics.median(timings), _percentile(timings, 0.99)
    print(f"  {label:<44} p50 {p50:9.1f} ms   p99 {p99:9.1f} ms")
    return p50, p99


def seed(args: argparse.Namespace) -> None:
    calls = int(args.events / 4.6)
    spacing = args.days * 86400 / calls
    started = time.perf_counter()
    db.session.execute(text(USERS), {"agents": AGENTS, "password_hash": generate_password_hash(PASSWORD)})
    db.session.execute(
        text(
            "INSERT INTO agent_presence (agent_id, state, state_since, version) "
            "SELECT i, (ARRAY['available','on_call','wrap_up','away','offline'])[1 + i % 5], now(), 1 "
            "FROM generate_series(2, :agents) AS i"
        ),
        {"agents": AGENTS},
    )
    step = 100_000
    for start in range(1, calls + 1, step):
        bounds = {"start": start, "stop": min(calls, start + step - 1)}
        db.session.execute(text(CALLS), {**bounds, "calls": calls, "spacing": spacing, "agents": AGENTS})
        db.session.execute(text(EVENTS), bounds)
        db.session.execute(text(WORK_ITEMS), bounds)
        db.session.execute(text(STATES), bounds)
        db.session.commit()
    for table in ("users", "calls", "work_items"):  # explicit ids above: move the sequences on
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )
    # A few calls waiting now, and callback requests (1 % still pending).
    db.session.execute(
        text(
            "INSERT INTO work_items (kind, ref_id, status, language, topic, priority, excluded_agents, offers,"
            " enqueued_at, version) SELECT 'call', 10000000 + i, 'waiting', (ARRAY['id','en'])[1 + i % 2],"
            " 'other', 10, '[]', 0, now() - make_interval(secs => i * 20), 1 FROM generate_series(1, 6) AS i"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO callback_requests (phone, language, topic, source, timezone, status, attempts,"
            " created_at, updated_at) SELECT 'x', 'id', 'other', 'queue', 'Asia/Jakarta',"
            " CASE WHEN i % 100 = 0 THEN 'pending' ELSE 'completed' END, 1, now(), now()"
            " FROM generate_series(1, 20000) AS i"
        )
    )
    ticket_spacing = args.days * 86400 / max(1, args.tickets)
    for start in range(1, args.tickets + 1, 250_000):
        db.session.execute(
            text(TICKETS),
            {
                "start": start,
                "stop": min(args.tickets, start + 249_999),
                "tickets": args.tickets,
                "spacing": ticket_spacing,
                "agents": AGENTS,
            },
        )
        db.session.commit()
    for table in ("calls", "call_events", "work_items", "agent_state_events", "tickets", "callback_requests"):
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()
    counts = {
        table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
        for table in ("calls", "call_events", "agent_state_events", "tickets")
    }
    print(
        f"generated in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{n:,} {table}" for table, n in counts.items())
        + f" over {args.days} days"
    )


def run_all(app, samples: int) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    figures: dict[str, tuple[float, float]] = {}

    def measure(label: str, _samples: int, run: Callable[[], object]) -> None:
        figures[label] = timed_ms(label, samples, run)

    settings = kpis.KpiSettings.from_config()
    zone = settings.zone
    today = utcnow().astimezone(zone).date()

    def period(days: int, interval: str, dimension: str = "queue") -> reports.Period:
        return reports.Period(today - timedelta(days=days - 1), today, interval, dimension, settings)

    day, week, month = period(1, "30"), period(7, "60"), period(30, "day")
    quarter = period(90, "day", "topic")
    yesterday = reports.Period(today - timedelta(days=1), today - timedelta(days=1), "60", "queue", settings)
    measure("wallboard snapshot", samples, wallboard.snapshot)
    measure("call KPIs: today, 30 min, by queue", samples, lambda: reports.call_kpis(day))
    measure("call KPIs: 7 days, 1 h, by queue", samples, lambda: reports.call_kpis(week))
    measure("call KPIs: 30 days, per day, by queue", samples, lambda: reports.call_kpis(month))
    measure("call KPIs: 90 days, per day, by topic", samples, lambda: reports.call_kpis(quarter))
    measure("agents: 30 days", samples, lambda: reports.agent_performance(month))
    measure("satisfaction: 30 days", samples, lambda: reports.satisfaction(month))
    measure(
        "staffing: tomorrow from 4 weeks",
        samples,
        lambda: staffing.staffing_plan(today + timedelta(days=1), weeks=4, settings=settings),
    )
    measure(
        "queue_log: yesterday (streamed to the end)",
        samples,
        lambda: sum(1 for _ in exports.queue_log(yesterday.start_at, yesterday.end_at)),
    )
    measure("ticket_sla_counts (wallboard part)", samples, wallboard.ticket_sla_counts)

    client = app.test_client()
    response = client.post("/login", data={"email": "agent1@bench.example", "password": PASSWORD})
    assert response.status_code == 302, "could not sign in as the supervisor"
    measure("HTTP GET /supervisor/wallboard", samples, lambda: _get(client, "/supervisor/wallboard"))
    measure(
        "HTTP GET /supervisor/reports/calls (7 days)",
        samples,
        lambda: _get(client, f"/supervisor/reports/calls?start={week.start}&end={week.end}&interval=60"),
    )
    measure(
        "HTTP GET /supervisor/reports/calls (30 days)",
        samples,
        lambda: _get(client, f"/supervisor/reports/calls?start={month.start}&end={month.end}&interval=day"),
    )
    measure(
        "HTTP GET /supervisor/reports/agents (30 days)",
        samples,
        lambda: _get(client, f"/supervisor/reports/agents?start={month.start}&end={month.end}"),
    )
    return figures


def _get(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)


QUICK = {"events": 30_000, "tickets": 15_000, "days": 30, "samples": 3}
TABLE = {"events": 60_000, "tickets": 30_000, "days": 30, "samples": 5}  # run.py bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a schema kept by --keep (no seeding)")


def measure(args: argparse.Namespace) -> list[Row]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL URL of your own database")

    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={SCHEMA}"}},
        WTF_CSRF_ENABLED=False,
    )
    with app.app_context():
        if not args.reuse:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            db.create_all()
        try:
            if not args.reuse:
                seed(args)
            db.session.execute(text("DELETE FROM supervision_rollup_days"))
            db.session.commit()
            print(f"reports from the logs alone, with the supervision indexes ({args.samples} samples each):")
            logs_only = run_all(app, args.samples)
            started = time.perf_counter()
            days = 0
            while rolled := rollup.roll_up():
                days += len(rolled)
            print(f"roll-up of {days} finished days: {time.perf_counter() - started:.1f} s")
            print(
                f"as shipped: roll-ups for finished days, the logs for the rest ({args.samples} samples each):"
            )
            shipped = run_all(app, args.samples)
            print("baseline: the logs alone, without the supervision indexes:")
            present = [
                name
                for name in SUPERVISION_INDEXES
                if db.session.scalar(text("SELECT to_regclass(:n)"), {"n": f"{SCHEMA}.{name}"})
            ]
            for name in present:
                db.session.execute(text(f"DROP INDEX {name}"))
            db.session.execute(text("DELETE FROM supervision_rollup_days"))
            db.session.commit()
            baseline = run_all(app, max(3, args.samples // 4))
            if args.keep:
                db.session.remove()
                with db.engine.begin() as conn:  # put them back for the next --reuse
                    for table in db.metadata.sorted_tables:
                        for index in table.indexes:
                            if index.name in present:
                                index.create(conn)
        finally:
            db.session.rollback()
            db.session.remove()
            if not args.keep:
                with db.engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            db.engine.dispose()
    conditions = (
        f"PostgreSQL, as shipped (roll-ups of finished days + logs for today), {args.samples} samples; baseline: "
        f"the logs alone without the supervision indexes; {common.machine()}"
    )
    size = f"{args.events:,} call events, {args.tickets:,} tickets, {args.days} days"
    return [
        Row(f"supervision: {name}, p50 (ms)", p50, baseline[name][0], size,
            f"{conditions}; logs only with indexes {logs_only[name][0]:.0f} ms")
        for name, (p50, _p99) in shipped.items()
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
