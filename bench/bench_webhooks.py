"""Benchmark: Twilio webhooks on a production-like server, against bare Flask in the same run.

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_webhooks.py                 # ~2 minutes
    .venv/bin/python bench/bench_webhooks.py --seconds 5     # shorter windows

Two servers are started on loopback with identical gunicorn settings (``-k gthread -w 1
--threads 16`` by default): halopmi's ``wsgi:app`` with ``HALOPMI_CONFIG=production``
(PostgreSQL database ``<BENCH_DB_PREFIX>_web``, made afresh; Redis ``BENCH_REDIS_URL``; no
Twilio credentials, so webhooks are signed with the simulator's token) and a bare Flask app
(``bench/bare_flask.py``) answering the same paths with a constant TwiML document. A load
generator in this process (``--clients`` threads, keep-alive connections, every request a new
signed call) measures:

1. **inbound, saturation**: ``POST /telephony/voice/inbound`` as fast as answers come back
   (req/s), each a new CallSid: the call row, its first call-log fact, the language menu.
2. **status, saturation**: ``POST /telephony/voice/status`` (``completed``) for calls made in (1).
3. **inbound at a fixed rate** (``--rate``, default 100 req/s, open loop): p50/p99/max latency.
4. **idle RSS** of each server process after start-up.
5. **two processes**: inbound saturation of halopmi with `-w 2`, against its own `-w 1` figure.

Each figure is a row with the bare-Flask baseline of the same run and the ratio. This is not a
test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import Row, call_form, new_sid  # noqa: E402

QUICK = {"seconds": 3.0}
TABLE = {"seconds": 6.0}  # run.py bench: shorter windows, the same figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measuring window")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections at saturation")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn --threads for both servers")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second for the latency run")
    parser.add_argument("--against", default="", help="also measure another git revision's code, same run")


def inbound(n: int) -> tuple[str, dict[str, str]]:
    return "/telephony/voice/inbound", call_form(new_sid())


def windows(port: int, token: str, args: argparse.Namespace, server: list[int]) -> dict[str, Any]:
    sids: list[str] = []

    def first_call(n: int) -> tuple[str, dict[str, str]]:
        path, form = inbound(n)
        sids.append(form["CallSid"])
        return path, form

    def status(n: int) -> tuple[str, dict[str, str]]:
        sid = sids[n % len(sids)] if sids else new_sid()
        return "/telephony/voice/status", {**call_form(sid, "completed"), "CallDuration": "42"}

    common.saturate(port, token, args.clients, 2.0, first_call)  # warm-up: connections, caches, the pool
    return {
        "inbound": common.saturate(port, token, args.clients, args.seconds, first_call, server),
        "status": common.saturate(port, token, args.clients, args.seconds, status, server),
        "fixed": common.fixed_rate(port, token, args.rate, args.seconds, max(args.clients, 32)),
    }


def measure(args: argparse.Namespace) -> list[Row]:
    token = common.simulator_token()
    env = common.server_env(common.fresh_database(common.database_name("web")))
    common.create_schema(env)
    figures: dict[str, dict[str, Any]] = {}
    rss: dict[str, float] = {}
    for name, target in (("halopmi", "wsgi:app"), ("bare Flask", "bench.bare_flask:app")):
        server = common.Gunicorn(name, target, env, threads=args.threads)
        try:
            rss[name] = server.rss_mb()
            figures[name] = windows(server.port, token, args, server.worker_pids())
        finally:
            server.stop()
    if args.against:  # the same windows on another revision's code, with its own fresh database
        root = common.checkout(args.against)
        old = common.server_env(common.fresh_database(common.database_name("webold")), PYTHONPATH=str(root))
        common.create_schema(old, root)
        server = common.Gunicorn(args.against, "wsgi:app", old, threads=args.threads, root=root)
        try:
            figures["against"] = windows(server.port, token, args, server.worker_pids())
        finally:
            server.stop()

    # Does a second web process add capacity? The same server with two workers, inbound only.
    two = common.Gunicorn("halopmi x2", "wsgi:app", env, threads=args.threads, workers=2)
    try:
        common.saturate(two.port, token, args.clients, 2.0, inbound)
        figures["halopmi x2"] = {"inbound": common.saturate(two.port, token, args.clients, args.seconds, inbound)}
    finally:
        two.stop()

    ours, base = figures["halopmi"], figures["bare Flask"]
    errors = {name: sum(v.get("errors", 0) for v in f.values()) for name, f in figures.items()}
    conditions = (
        f"gunicorn gthread 1 worker {args.threads} threads, {args.clients} clients, loopback, "
        f"PostgreSQL+Redis, {args.seconds:g} s windows, {common.machine()}; baseline bare Flask; "
        f"HTTP errors {errors['halopmi']}/{errors['bare Flask']}"
    )
    size = f"{ours['inbound']['requests']} calls"
    rate = f"{args.rate:.0f} req/s"
    rows = [
        Row("inbound webhook, saturation (req/s)", ours["inbound"]["rps"], base["inbound"]["rps"], size, conditions),
        Row("status callback, saturation (req/s)", ours["status"]["rps"], base["status"]["rps"], size, conditions),
        Row("inbound webhook, server CPU (ms/req)", ours["inbound"]["cpu_ms"], base["inbound"]["cpu_ms"], size, conditions),
        Row("status callback, server CPU (ms/req)", ours["status"]["cpu_ms"], base["status"]["cpu_ms"], size, conditions),
        Row(f"inbound at {rate}, p50 (ms)", ours["fixed"]["p50"], base["fixed"]["p50"], size, conditions),
        Row(f"inbound at {rate}, p99 (ms)", ours["fixed"]["p99"], base["fixed"]["p99"], size, conditions),
        Row(f"inbound at {rate}, max (ms)", ours["fixed"]["max"], base["fixed"]["max"], size, conditions),
        Row("idle web process RSS (MB)", rss["halopmi"], rss["bare Flask"], "-", conditions),
        Row(
            "inbound, 2 processes vs 1 (req/s)",
            figures["halopmi x2"]["inbound"]["rps"],
            ours["inbound"]["rps"],
            size,
            f"gunicorn gthread -w 2 against -w 1, {args.threads} threads each; baseline: 1 process; "
            f"HTTP errors {errors['halopmi x2']}",
        ),
    ]
    if "against" in figures:  # before/after: the baseline is the other revision's code
        then, tag = figures["against"], args.against
        versus = f"this checkout against {tag}'s code, same settings and run; HTTP errors {errors['against']}"
        for label, ours_figure, then_figure in (
            ("inbound saturation (req/s)", ours["inbound"]["rps"], then["inbound"]["rps"]),
            ("status saturation (req/s)", ours["status"]["rps"], then["status"]["rps"]),
            ("inbound CPU (ms/req)", ours["inbound"]["cpu_ms"], then["inbound"]["cpu_ms"]),
            ("status CPU (ms/req)", ours["status"]["cpu_ms"], then["status"]["cpu_ms"]),
            (f"inbound at {rate} p99 (ms)", ours["fixed"]["p99"], then["fixed"]["p99"]),
        ):
            rows.append(Row(f"{label}, vs {tag}", ours_figure, then_figure, size, versus))
    return rows


if __name__ == "__main__":
    common.main(sys.modules[__name__])
