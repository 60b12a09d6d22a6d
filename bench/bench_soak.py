"""Soak: minutes of mixed traffic on a web process and a worker; prints every sample and the drift.

Run from the repository root::

    .venv/bin/python bench/bench_soak.py                       # 5 minutes on PostgreSQL
    .venv/bin/python bench/bench_soak.py --minutes 2 --sqlite  # SQLite in a temp dir
    .venv/bin/python bench/bench_soak.py --clients 4 --interval 15

The same processes and traffic as ``tests/test_soak.py`` (see ``tests/soak.py``): a gunicorn
gthread web process and ``flask jobs worker`` on a fresh database (PostgreSQL database
``halopmi_bench_soak``, or SQLite) and a private redis-server; client threads send calls through
the IVR (signed webhooks), complaints through the API (each an SMS through the outbox), case
look-ups, voice tokens and page loads. Every ``--interval`` seconds it prints requests/s, RSS,
threads, open files and database connections of both processes, and the outbox backlog; at the
end the change per minute after the first minute, latency percentiles, and the work counted
(calls ended, SMS sent once). It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
DB_NAME = "halopmi_bench_soak"


def fresh_database(sqlite: bool) -> str:
    if sqlite:
        return f"sqlite:///{tempfile.mkdtemp(prefix='halopmi-soak-')}/soak.db"
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return f"{PG}/{DB_NAME}"


QUICK = {"minutes": 1.0, "interval": 10.0}
TABLE = {"minutes": 1.0, "interval": 10.0}  # run.py bench: growth over a minute


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="SQLite in a temp dir instead of PostgreSQL")
    parser.add_argument("--without-sms-reports", action="store_true",
                        help="leave out the simulator's SMS delivery reports (Twilio's part) from the worker")


def measure(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []

    database_url = fresh_database(args.sqlite)
    os.environ.update(HALOPMI_CONFIG="testing", TEST_DATABASE_URL=database_url)
    subprocess.run(  # the schema, as an operator makes it
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env=dict(os.environ), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    from app import create_app
    from app.telephony.signature import webhook_token
    from config import TestingConfig
    from tests.services import RedisServer
    from tests.soak import LOOPS, Soak

    redis = RedisServer().start()
    token = webhook_token(create_app(TestingConfig, REDIS_URL=redis.url))
    loops = tuple(n for n in LOOPS if not (args.without_sms_reports and n == "telephony-simulator"))
    soak = Soak(database_url, redis.url, token, clients=args.clients, loops=loops)
    print(f"soak: {args.minutes:g} min, {args.clients} clients, {'SQLite' if args.sqlite else 'PostgreSQL'}, "
          f"worker loops {', '.join(loops)}")
    print(f"{'t (s)':>6} {'req/s':>6} {'web MB':>7} {'thr':>4} {'fds':>4} {'db':>3} "
          f"{'worker MB':>9} {'thr':>4} {'fds':>4} {'db':>3} {'backlog':>7}")
    previous = {"at": time.monotonic(), "requests": 0}
    start = previous["at"]

    def show(sample) -> None:  # type: ignore[no-untyped-def]
        rate = (sample.requests - previous["requests"]) / max(0.001, sample.at - previous["at"])
        previous.update(at=sample.at, requests=sample.requests)
        web, worker, db = sample.web, sample.worker, sample.db_connections
        print(f"{sample.at - start:6.0f} {rate:6.1f} {web['rss_kb'] / 1024:7.1f} {web['threads']:4d} "
              f"{web['fds']:4d} {db['web']:3d} {worker['rss_kb'] / 1024:9.1f} {worker['threads']:4d} "
              f"{worker['fds']:4d} {db['worker']:3d} {sample.pending_intents:7d}", flush=True)

    try:
        soak.start()
        soak.run(args.minutes * 60, args.interval, on_sample=show)
        ended = time.monotonic()
        left = soak.drain(timeout=120)
        drained = time.monotonic() - ended
        samples = soak.samples
        base = next((s for s in samples if s.at - start >= 60), samples[0])
        last = samples[-1]
        minutes = max(1e-6, (last.at - base.at) / 60)
        print("\nchange per minute after the first minute:")
        conditions = f"{args.clients} clients, {'SQLite' if args.sqlite else 'PostgreSQL'}, after minute 1"
        for name in ("web", "worker"):
            before, after = getattr(base, name), getattr(last, name)
            rows.append(Row(f"soak: {name} RSS growth (MB/min)",
                            round((after["rss_kb"] - before["rss_kb"]) / 1024 / minutes, 2),
                            size=f"{args.minutes:g} min", conditions=conditions))
            rows.append(Row(f"soak: {name} thread growth", after["threads"] - before["threads"],
                            size=f"{args.minutes:g} min", conditions=conditions))
            print(f"  {name:6} RSS {(after['rss_kb'] - before['rss_kb']) / 1024 / minutes:+.2f} MB/min, "
                  f"threads {after['threads'] - before['threads']:+d}, open files {after['fds'] - before['fds']:+d}, "
                  f"db connections {last.db_connections[name] - base.db_connections[name]:+d}")
        totals = soak.totals
        print(f"\nrequests {totals.requests}, statuses {dict(sorted(totals.statuses.items()))}, "
              f"errors {len(totals.errors)}; latency p50 {soak.latency_ms(0.5):.0f} ms, "
              f"p99 {soak.latency_ms(0.99):.0f} ms, max {soak.latency_ms(1.0):.0f} ms")
        jobs = sum(soak.intents().values())
        print(f"work: {len(totals.calls)} calls, {len(totals.complaints)} complaints, "
              f"{sum(soak.messages_sent().values())} SMS at the provider; {jobs} outbox jobs, "
              f"{jobs - left} run in {last.at - start + drained:.0f} s "
              f"({(jobs - left) / (last.at - start + drained):.1f}/s), {left} left")
        print(f"refused: {dict(totals.refused)}")
        print(f"outbox intents by job: {soak.intents()}")
        problems = soak.lost_work()
        if left:  # still in the outbox: late, not lost (the worker did not keep up)
            problems.pop("complaints without their SMS sent", None)
            print(f"outbox not drained within 120 s: {left} intents still queued (their SMS are late, not lost)")
        shown = {key: (value if len(value) <= 5 else [*value[:5], f"... {len(value)} in all"])
                 for key, value in problems.items()}
        print("lost or doubled: " + (str(shown) if shown else "nothing"))
        rows.append(Row("soak: lost or doubled work items", sum(len(v) for v in problems.values()),
                        size=f"{totals.requests} requests", conditions=f"{args.clients} clients"))
        rows.append(Row("soak: latency p99 (ms)", round(soak.latency_ms(0.99), 1),
                        size=f"{totals.requests} requests", conditions=f"{args.clients} clients"))
        for error in totals.errors[:5]:
            print("  error:", error)
    finally:
        soak.stop()
        redis.stop()
    return rows


if __name__ == "__main__":
    common.main(sys.modules[__name__])
