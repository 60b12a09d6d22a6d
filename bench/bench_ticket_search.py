"""Benchmark: the agent workspace search over 1,000,000 tickets on PostgreSQL.

Run from the repository root::

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_ticket_search.py                 # 1,000,000 tickets
    ... bench/bench_ticket_search.py --rows 100000 --samples 200      # smaller run

Tickets are generated inside PostgreSQL (``INSERT … SELECT generate_series``: no Python row
loop) in a private schema (``halopmi_bench_tickets``, dropped afterwards), with the real
indexes of ``app.tickets.models``. Hash columns hold random 64-hex digests; ``--samples`` rows
get real keyed hashes of known identifiers so that the searches, which go through
``app.tickets.services.search_tickets`` exactly as the workspace does, find something.

For each reading of the search box (reference, KPJ, NIK, passport, phone, name prefix, and a
KPJ that names a linked member) it prints p50/p99 of the query latency, plus a baseline: the
same lookup for the phone without its index (a sequential scan), which is what a search that
decrypted and compared values, or any unindexed column, would cost. It asserts nothing.

Figures of one run (1,000,000 tickets + 20,000 members, PostgreSQL 127.0.0.1, a shared dev
box with other test runs going on; 300 samples each; generation 68 s, 920 MB with indexes):

    reference                 p50 0.67 ms   p99   4.09 ms
    KPJ (on the ticket)       p50 1.22 ms   p99   3.23 ms
    KPJ (linked member)       p50 1.90 ms   p99   4.92 ms
    NIK (keyed hash)          p50 1.09 ms   p99   1.95 ms
    passport (keyed hash)     p50 1.68 ms   p99   6.60 ms
    phone (keyed hash)        p50 0.96 ms   p99   3.38 ms
    name prefix               p50 4.39 ms   p99  66.12 ms
    view: breaching soon      p50 65.3 ms   p99 120.3 ms   (≈36k open tickets due within 4 h)
    baseline: phone, no index p50 215 ms    p99 272 ms     (sequential scan)

The EXPLAIN counterpart that CI runs is ``tests/tickets/test_search_plans.py``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.core.crypto import blind_index  # noqa: E402
from app.extensions import db  # noqa: E402
from app.tickets import services  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from config import TestingConfig  # noqa: E402

SCHEMA = "halopmi_bench_tickets"
FIRST = ["siti", "sri", "dewi", "nur", "eka", "rina", "yuni", "ani", "budi", "agus", "wahyu", "tri"]
LAST = ["aminah", "lestari", "rahayu", "wati", "handayani", "susanti", "pratama", "santoso", "hidayat"]
THIRD = [
    "putri",
    "sari",
    "ningsih",
    "astuti",
    "utami",
    "kusuma",
    "wulandari",
    "permata",
    "purnama",
    "indah",
    "safitri",
    "maharani",
    "anggraini",
    "rahmawati",
    "fitriani",
    "oktaviani",
    "puspita",
]

FILL = """
INSERT INTO tickets (reference, channel, category, priority, language, country, status,
    subject, description, requester_name, requester_name_key, requester_kpj, requester_phone_hash,
    requester_nik_hash, requester_passport_hash, member_id, created_at, updated_at,
    resolution_due_at, version)
SELECT 'PMI-2025-' || lpad(i::text, 7, '0'), 'portal',
    (ARRAY['membership','contribution','claim_jkk','claim_jkm','claim_jht','benefit_info',
           'data_correction','app_access','service_complaint','emergency','other'])[1 + i % 11],
    (ARRAY['low','normal','normal','normal','high','urgent'])[1 + i % 6], 'id',
    (ARRAY['TW','MY','HK','KR','JP','SG','SA','IT','BN','TR'])[1 + (i / 7) % 10],
    (ARRAY['new','open','pending_worker','resolved','closed','closed','closed','closed',
           'closed','closed'])[1 + i % 10],
    'synthetic complaint', '', 'Worker ' || i,
    (CAST(:first AS text[]))[1 + i % CAST(:nfirst AS integer)] || ' ' || (CAST(:last AS text[]))[1 + (i / 13) % CAST(:nlast AS integer)] || ' '
        || (CAST(:third AS text[]))[1 + (i / 117) % CAST(:nthird AS integer)],
    lpad((i::bigint * 7919 % 99999999999)::text, 11, '0'),
    md5(i::text || 'p') || md5(i::text || 'q'), md5(i::text || 'n') || md5(i::text || 'm'),
    md5(i::text || 's') || md5(i::text || 't'),
    CASE WHEN i % 3 = 0 THEN 1 + i % CAST(:members AS integer) ELSE NULL END,
    now() - (i || ' seconds')::interval, now(), now() + ((i % 2000) || ' minutes')::interval, 1
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _measure(label: str, samples: list[str], run: Callable[[str], int]) -> tuple[float, float, float]:
    timings, found = [], 0
    run(samples[0])  # warm the connection and the plan cache; not measured
    for value in samples:
        started = time.perf_counter()
        found += 1 if run(value) else 0
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = statistics.median(timings), _percentile(timings, 0.99)
    print(f"  {label:<28} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   hits {found}/{len(samples)}")
    return p50, p99, found / len(samples)


QUICK = {"rows": 50_000, "samples": 50}
TABLE = {"rows": 200_000, "samples": 100}  # run.py bench; the README's figures: 1,000,000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")


def measure(args: argparse.Namespace) -> list[Row]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit(
            "set BENCH_DATABASE_URL to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )

    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={SCHEMA}"}},
    )
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        db.create_all()
        rng = random.Random(7)
        try:
            n_members = max(1000, args.rows // 50)
            started = time.perf_counter()
            db.session.execute(
                text(
                    "INSERT INTO members (kpj, name, name_key, programs, coverage, preferred_language, created_at, updated_at)"
                    " SELECT lpad((50000000000 + i)::text, 11, '0'), 'Member ' || i, 'member ' || i, '[]', '[]', 'id',"
                    " now(), now() FROM generate_series(1, CAST(:n AS integer)) AS i"
                ),
                {"n": n_members},
            )
            step = 250_000
            for start in range(1, args.rows + 1, step):
                db.session.execute(
                    text(FILL),
                    {
                        "start": start,
                        "stop": min(args.rows, start + step - 1),
                        "first": FIRST,
                        "last": LAST,
                        "nfirst": len(FIRST),
                        "nlast": len(LAST),
                        "third": THIRD,
                        "nthird": len(THIRD),
                        "members": n_members,
                    },
                )
                db.session.commit()
            generated = time.perf_counter() - started
            # Real identifiers (keyed hashes under the app's key) on a sample of rows.
            ids = rng.sample(range(1, args.rows + 1), args.samples)
            known: dict[str, list[str]] = {"kpj": [], "nik": [], "passport": [], "phone": []}
            for n, ticket_id in enumerate(ids):
                kpj, nik = f"9{n:010d}", f"3201015705{n:06d}"
                passport, phone = f"B{n:07d}", f"+85291{n:06d}"
                db.session.execute(
                    text(
                        "UPDATE tickets SET requester_kpj = :kpj, requester_nik_hash = :nik, "
                        "requester_passport_hash = :passport, requester_phone_hash = :phone WHERE id = :id"
                    ),
                    {
                        "kpj": kpj,
                        "nik": blind_index("nik", nik),
                        "passport": blind_index("passport", passport),
                        "phone": blind_index("phone", phone),
                        "id": ticket_id,
                    },
                )
                known["kpj"].append(kpj)
                known["nik"].append(nik)
                known["passport"].append(passport)
                known["phone"].append(phone)
            db.session.commit()
            db.session.execute(text("ANALYZE tickets"))
            db.session.execute(text("ANALYZE members"))
            db.session.commit()
            size = db.session.execute(
                text("SELECT pg_size_pretty(pg_total_relation_size('tickets'))")
            ).scalar()
            print(
                f"{args.rows:,} tickets + {n_members:,} members generated in {generated:.1f} s "
                f"(tickets with indexes: {size}); {args.samples} samples per search"
            )

            def search(value: str) -> int:
                result = services.search_tickets(services.SearchQuery(text=value, view="all", limit=50))
                db.session.rollback()
                return len(result)

            references = [
                str(db.session.scalar(text("SELECT reference FROM tickets WHERE id = :id"), {"id": i}))
                for i in ids
            ]
            names = [f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(THIRD)}" for _ in ids]
            member_kpjs = [f"{50000000000 + rng.randint(1, n_members):011d}" for _ in ids]
            print("search (through app.tickets.services.search_tickets):")
            figures = {
                "reference": _measure("reference", references, search),
                "KPJ on the ticket": _measure("KPJ (given on the ticket)", known["kpj"], search),
                "KPJ of the linked member": _measure("KPJ (linked member)", member_kpjs, search),
                "NIK": _measure("NIK (keyed hash)", known["nik"], search),
                "passport": _measure("passport (keyed hash)", known["passport"], search),
                "phone": _measure("phone (keyed hash)", known["phone"], search),
                "name prefix": _measure("name prefix", names, search),
                "view breaching soon": _measure(
                    "view: breaching soon",
                    ["" for _ in range(min(50, len(ids)))],
                    lambda _v: len(services.search_tickets(services.SearchQuery(view="breaching"))),
                ),
            }

            print("baseline: the phone lookup with its index disabled (sequential scan):")
            db.session.execute(text("DROP INDEX ix_tickets_requester_phone_hash"))
            db.session.commit()
            floor = _measure("phone, no index", known["phone"][:10], search)
            conditions = (
                f"PostgreSQL, app.tickets.services.search_tickets in process; baseline: the phone search "
                f"without its index (sequential scan); {common.machine()}"
            )
            return [
                Row(f"ticket search: {name}, p99 (ms)", p99, floor[1], f"{args.rows:,} tickets, {len(ids)} samples", conditions)
                for name, (_p50, p99, _hits) in figures.items()
            ]
        finally:
            db.session.rollback()
            db.session.remove()
            if not args.keep:
                with db.engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            db.engine.dispose()


if __name__ == "__main__":
    common.main(sys.modules[__name__])
