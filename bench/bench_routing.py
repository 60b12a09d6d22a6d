"""Benchmark: routing decision latency with 1,000 agents and 5,000 waiting items.

Run from the repository root::

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_routing.py
    .venv/bin/python bench/bench_routing.py --agents 200 --items 1000 --samples 100   # SQLite, smaller

It fills a private schema (``halopmi_bench_routing``, dropped afterwards; on SQLite a temp
file) with agents speaking realistic language mixes (all Indonesian, some Javanese, English,
Mandarin/Cantonese, Korean, Arabic…) and topic skills, and waiting calls spread over languages,
topics (so priorities) and wait times, then measures:

1. **availability → offer**: one agent becomes available (end of wrap-up) and the router runs
   against the full queue: ``presence.transition`` + ``routing.route()`` + commit, the path of
   every availability change. Each sample is undone (untimed) so the queue stays full.
2. **enqueue → offer**: a new call is enqueued while one agent is free (``routing.enqueue``
   routes in the same transaction) + commit.
3. **burst**: every agent becomes available at once and one ``route()`` pass offers up to
   1,000 items: total time and per-offer mean.
4. **baseline (floor)**: the least SQL one decision needs: pick the top waiting item
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), two conditional UPDATEs, commit; no skills, no
   event rows, no Socket.IO. The gap to (1) is the cost of the router's rules and logging.

Socket.IO publishing is included (to no clients: no message queue is configured).

5. **event delivery to N consoles** (``--consoles 300``; needs Redis, ``BENCH_REDIS_URL`` or
   redis://127.0.0.1:6379/15): a web server process (``python -m tests.live``) holds N signed-in
   agent consoles (python-socketio clients, WebSocket, in this process); this process plays the
   rq worker, enqueues a call (``routing.enqueue`` + commit, write-only emitter through Redis)
   and times until each console has the ``queue.updated`` event. The database for this part is
   a temporary SQLite file (the figure is about Socket.IO and Redis, not SQL).

This is not a pytest test: it prints figures and asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from app import create_app  # noqa: E402
from app.agents import routing  # noqa: E402
from app.agents.models import AgentPresence, AgentSkill, WorkItem
from app.agents.routing import presence as presence_svc  # noqa: E402
from app.core.time import utcnow  # noqa: E402
from app.extensions import db  # noqa: E402
from app.staff.models import User  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row, quantiles_ms  # noqa: E402
from config import TestingConfig  # noqa: E402

PG_SCHEMA = "halopmi_bench_routing"
LANGUAGE_MIX = [  # (extra language, share of agents)
    ("jv", 0.35), ("en", 0.30), ("su", 0.10), ("zh-TW", 0.06), ("yue", 0.06), ("ko", 0.05),
    ("ar", 0.08), ("ms", 0.05),
]  # fmt: skip
CALL_LANGUAGES = (
    ["id"] * 70 + ["jv"] * 8 + ["en"] * 6 + ["zh-TW"] * 4 + ["yue"] * 4 + ["ko"] * 3 + ["ar"] * 3 + ["su"] * 2
)
TOPICS = list(routing.CATEGORIES)


def make_app(url: str):  # type: ignore[no-untyped-def]
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": f"-csearch_path={PG_SCHEMA}"}
    return create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options, REDIS_URL=None
    )


def populate(agents: int, items: int, rng: random.Random) -> None:
    now = utcnow()
    db.session.execute(
        insert(User),
        [
            {
                "email": f"agent{n}@bench.test",
                "name": f"Agent {n}",
                "password_hash": "x",
                "role": "agent",
                "active": True,
                "language": "id",
                "created_at": now,
            }
            for n in range(agents)
        ],
    )
    ids = [row[0] for row in db.session.execute(text("SELECT id FROM users ORDER BY id"))]
    skills: list[dict[str, Any]] = []
    for agent_id in ids:
        skills.append({"agent_id": agent_id, "kind": "language", "value": "id"})
        for language, share in LANGUAGE_MIX:
            if rng.random() < share:
                skills.append({"agent_id": agent_id, "kind": "language", "value": language})
        if rng.random() < 0.5:  # half the agents are specialists
            for topic in rng.sample(TOPICS, 3):
                skills.append({"agent_id": agent_id, "kind": "topic", "value": topic})
    db.session.execute(insert(AgentSkill), skills)
    db.session.execute(
        insert(AgentPresence),
        [
            {
                "agent_id": agent_id,
                "state": "on_call",
                "state_since": now,
                "console_seen_at": now,
                "last_idle_since": now - timedelta(seconds=rng.randint(0, 3600)),
                "version": 1,
            }
            for agent_id in ids
        ],
    )
    db.session.execute(
        insert(WorkItem),
        [
            {
                "kind": "call",
                "ref_id": n,
                "status": "waiting",
                "language": rng.choice(CALL_LANGUAGES),
                "topic": (topic := rng.choice(TOPICS)),
                "country": rng.choice(["HK", "TW", "MY", "SA", "KR"]),
                "priority": routing.topic_priority(topic),
                "excluded_agents": [],
                "offers": 0,
                "version": 1,
                "enqueued_at": now - timedelta(seconds=rng.randint(0, 900)),
            }
            for n in range(items)
        ],
    )
    db.session.commit()


def undo_offers() -> None:
    """Put every offered item back in the queue and every agent back on a call (untimed)."""
    db.session.execute(
        text(
            "UPDATE work_items SET status='waiting', agent_id=NULL, offer_expires_at=NULL WHERE status='offered'"
        )
    )
    db.session.execute(text("UPDATE agent_presence SET state='on_call'"))
    db.session.commit()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return f"p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   max {ordered[-1] * 1000:7.2f} ms   (n={len(ordered)})"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench(url: str, agents: int, items: int, samples: int, seed: int) -> list[Row]:
    rng = random.Random(seed)
    figures: dict[str, dict[str, float]] = {}
    app = make_app(url)
    with app.app_context():
        dialect = db.engine.dialect.name
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        populate(agents, items, rng)
        print(
            f"\n== {dialect}: {agents} agents, {items} waiting items (filled in {time.perf_counter() - started:.1f} s)"
        )
        agent_ids = [row[0] for row in db.session.execute(text("SELECT agent_id FROM agent_presence"))]

        # 1. availability → offer
        latencies, offered = [], 0
        for _ in range(samples):
            agent_id = rng.choice(agent_ids)

            def free_one(agent_id: int = agent_id) -> None:
                presence_svc.transition(agent_id, "available", "wrap_up_over", allowed_from=("on_call",))
                made = routing.route()
                db.session.commit()
                nonlocal offered
                offered += len(made)

            latencies.append(timed(free_one))
            undo_offers()
        print(f"availability → offer      {percentiles(latencies)}   offers made: {offered}/{samples}")
        figures["available"] = quantiles_ms(latencies)

        # 2. enqueue → offer (one agent free)
        latencies, ref = [], 10_000_000
        for _ in range(samples):
            agent_id = rng.choice(agent_ids)
            presence_svc.transition(agent_id, "available", "bench", allowed_from=("on_call",))
            db.session.commit()
            ref += 1

            def enqueue_one(ref: int = ref) -> None:
                routing.enqueue("call", ref, language="id", topic="emergency", country="HK")
                db.session.commit()

            latencies.append(timed(enqueue_one))
            db.session.execute(
                text("UPDATE work_items SET status='cancelled', agent_id=NULL WHERE ref_id=:r"), {"r": ref}
            )
            undo_offers()
        print(f"enqueue → offer           {percentiles(latencies)}")
        figures["enqueue"] = quantiles_ms(latencies)

        # 3. burst: everyone free at once
        db.session.execute(text("UPDATE agent_presence SET state='available'"))
        db.session.commit()
        made: list[tuple[int, int]] = []

        def burst() -> None:
            made.extend(routing.route(commit=True))  # as the tick runs it: each agent rings at once

        total = timed(burst)
        print(
            f"burst: {len(made)} offers in one pass  {total:.2f} s  ({total / max(1, len(made)) * 1000:.2f} ms per offer)"
        )
        undo_offers()

        # 4. baseline floor
        postgres = dialect == "postgresql"
        latencies = []
        for _ in range(samples):
            agent_id = rng.choice(agent_ids)
            db.session.execute(
                text("UPDATE agent_presence SET state='available' WHERE agent_id=:a"), {"a": agent_id}
            )
            db.session.commit()

            def floor(agent_id: int = agent_id) -> None:
                lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
                item_id = db.session.execute(
                    text(
                        "SELECT id FROM work_items WHERE status='waiting' ORDER BY priority DESC, enqueued_at, id LIMIT 1"
                        + lock
                    )
                ).scalar()
                db.session.execute(
                    text(
                        "UPDATE work_items SET status='offered', agent_id=:a WHERE id=:i AND status='waiting'"
                    ),
                    {"a": agent_id, "i": item_id},
                )
                db.session.execute(
                    text("UPDATE agent_presence SET state='offered' WHERE agent_id=:a AND state='available'"),
                    {"a": agent_id},
                )
                db.session.commit()

            latencies.append(timed(floor))
            undo_offers()
        print(f"baseline (SQL floor)      {percentiles(latencies)}")
        floor_ms = quantiles_ms(latencies)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    size = f"{agents:,} agents, {items:,} waiting items, {samples} samples"
    conditions = f"{dialect}, in process; baseline: bare SQL for one decision (no rules, no events); {common.machine()}"
    rows = [
        Row(f"routing ({dialect}): availability -> offer, {q} (ms)", figures["available"][q], floor_ms[q], size, conditions)
        for q in ("p50", "p99")
    ]
    rows += [
        Row(f"routing ({dialect}): enqueue -> offer, {q} (ms)", figures["enqueue"][q], floor_ms[q], size, conditions)
        for q in ("p50", "p99")
    ]
    rows.append(
        Row(
            f"routing ({dialect}): burst, every agent free at once (ms per offer)",
            total / max(1, len(made)) * 1000,
            floor_ms["p50"],
            f"{len(made):,} offers in one pass",
            conditions + " (p50)",
        )
    )
    return rows


def bench_consoles(consoles: int, events: int) -> list[Row]:
    import threading
    import uuid

    from app.core.realtime import use_write_only_emitter
    from tests.live import PASSWORD, ServerProcess, StaffSocket, login_session

    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    channel = f"halopmi-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/consoles.db"
        app = create_app(
            TestingConfig, SQLALCHEMY_DATABASE_URI=url, REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel
        )
        with app.app_context():
            db.create_all()
            template = User(email="t@bench.test", name="t", role="agent")
            template.set_password(PASSWORD)
            now = utcnow()
            db.session.execute(
                insert(User),
                [
                    {
                        "email": f"c{n}@example.com",
                        "name": f"Console {n}",
                        "password_hash": template.password_hash,
                        "role": "agent",
                        "active": True,
                        "language": "en",
                        "created_at": now,
                    }
                    for n in range(consoles)
                ],
            )
            db.session.commit()
        # N agents sign in from one address within seconds: lift the per-IP login limit.
        os.environ["LOGIN_RATE_LIMIT"] = "100000 per minute"
        server = ServerProcess(
            redis_url=redis_url, channel=channel, database_url=url, name="bench-web"
        ).start()
        clients: list[StaffSocket] = []
        try:
            started = time.perf_counter()
            sessions: list[Any] = [None] * consoles

            def sign_in(n: int) -> None:
                sessions[n] = login_session(server.url, f"c{n}@example.com", PASSWORD)

            threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(consoles)]
            for chunk in range(0, consoles, 20):
                for thread in threads[chunk : chunk + 20]:
                    thread.start()
                for thread in threads[chunk : chunk + 20]:
                    thread.join()
            received: dict[int, list[float]] = {}
            lock = threading.Lock()

            for session in sessions:
                client = StaffSocket(server.url, session)

                def on_update(data: Any) -> None:
                    stamp = time.perf_counter()
                    with lock:
                        received.setdefault(int(data["seq"]), []).append(stamp)

                client.sio.on("queue.updated", on_update, namespace="/staff")
                headers = {
                    "User-Agent": "halopmi-tests/1.0",
                    "Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies),
                }
                client.sio.connect(
                    server.url,
                    namespaces=["/staff"],
                    headers=headers,
                    transports=["websocket"],
                    wait_timeout=20,
                    auth={"console": True},
                )
                clients.append(client)
            print(
                f"\n== event delivery: {consoles} consoles connected to one web process "
                f"(sign-in + connect {time.perf_counter() - started:.1f} s)"
            )
            with app.app_context():
                use_write_only_emitter(app)
                latencies: list[float] = []
                last: list[float] = []
                for n in range(events):
                    sent = time.perf_counter()
                    routing.enqueue("call", 900_000 + n, language="id", topic="other")
                    db.session.commit()
                    seq = routing.current_seq()
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        with lock:
                            got = list(received.get(seq, ()))
                        if len(got) >= consoles:
                            break
                        time.sleep(0.005)
                    latencies.extend(stamp - sent for stamp in got)
                    if got:
                        last.append(max(got) - sent)
                    if len(got) < consoles:
                        print(f"   event {seq}: only {len(got)}/{consoles} consoles received it within 10 s")
                    time.sleep(0.05)
                print(f"enqueue → queue.updated on each console   {percentiles(latencies)}")
                print(f"enqueue → last of {consoles} consoles        {percentiles(last)}")
                each, final = quantiles_ms(latencies), quantiles_ms(last)
        finally:
            # In parallel: each client may wait seconds for the server's close frame.
            closers = [threading.Thread(target=client.close, daemon=True) for client in clients]
            for closer in closers:
                closer.start()
            for closer in closers:
                closer.join(timeout=15)
            server.stop()
    conditions = f"one web process (threading, tests.live) holding the sockets, SQLite, Redis; {common.machine()}"
    return [
        Row(f"routing: enqueue -> queue.updated on each of {consoles} consoles, {q} (ms)", each[q], None,
            f"{events} events", conditions)
        for q in ("p50", "p99")
    ] + [Row(f"routing: enqueue -> the last of {consoles} consoles, p99 (ms)", final["p99"], None, f"{events} events", conditions)]


QUICK = {"agents": 100, "items": 500, "samples": 30, "consoles": 0}
TABLE = {"agents": 200, "items": 800, "samples": 40}  # run.py bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite in a temp dir")
    parser.add_argument(
        "--consoles", type=int, default=300, help="event delivery to this many consoles (0: skip)"
    )
    parser.add_argument("--events", type=int, default=30)


def measure(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        try:
            rows += bench(url, args.agents, args.items, args.samples, args.seed)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            admin.dispose()
    if args.sqlite or not url:
        with tempfile.TemporaryDirectory() as tmp:
            rows += bench(f"sqlite:///{tmp}/bench.db", args.agents, args.items, args.samples, args.seed)
    if args.consoles:
        rows += bench_consoles(args.consoles, args.events)
    return rows


if __name__ == "__main__":
    common.main(sys.modules[__name__])
