"""Benchmark: the web process's CPU per Twilio webhook, each step of a call, in one process.

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_webhook_cpu.py                  # 1,000 calls, ~1 minute
    .venv/bin/python bench/bench_webhook_cpu.py --calls 300 --profile 25   # and cProfile's top 25

``bench_webhooks.py`` measures webhooks through gunicorn with the load generator on the same two
cores: its requests per second move by ±30 % from one run to the next on a shared machine. This
one measures what a code change moves: the CPU time the app spends on one webhook. halopmi
(``HALOPMI_CONFIG=production``, a fresh PostgreSQL database, Redis) and the bare-Flask baseline
(``bench/bare_flask.py``) are called in this same process as WSGI applications, with no server
and no sockets in between: each request's environ (a signed form, as Twilio posts it) is built
before the clock starts, then the process's CPU time (``time.process_time``: every thread of the
app; the PostgreSQL server's own CPU is not in it) is read around the calls. ``--calls`` calls
go through the IVR one step after the other, every call at one step before the next step starts:

``inbound`` (a new call: its row, its first call-log fact, the language menu), ``language``
(key 1), ``kpj`` (no digits: skipped), ``topic`` (key 1: the ticket, the live queue, the router
looking for an agent: none is signed in), ``wait`` (the hold loop: position and estimated wait),
``status`` (``completed``: the call ends, an abandon in the call log, the item leaves the queue).

Rounds alternate halopmi and bare Flask; each figure is the median CPU per request over the
rounds. CPU time is still not exact on a shared machine: two processes running the same code,
rounds interleaved, differed by up to 1.3x on a step here (an A/A run, 2026-12-04); the SQL
statement counts do not move at all. ``--against REV`` also measures another revision's code (``git archive`` into a temp
directory, its own fresh database, in a child process) and adds before/after rows. ``--profile
N`` prints cProfile's top N functions of each step, timed in CPU (``BENCH_PROFILE_SORT``:
``tottime`` by default, or ``cumulative``). It asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import Row, call_form, new_sid  # noqa: E402

QUICK = {"calls": 300, "rounds": 2}
TABLE = {"calls": 200, "rounds": 3}  # run.py bench
STEPS = ("inbound", "language", "kpj", "topic", "wait", "status")
BASE = "http://localhost"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=1000, help="calls through the IVR per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each: halopmi then bare Flask)")
    parser.add_argument("--profile", type=int, default=0, help="also print cProfile's top N functions per step")
    parser.add_argument("--against", default="", help="also measure another git revision's code, same run")
    parser.add_argument("--serve", default="", help=argparse.SUPPRESS)  # a measuring child: the code's root
    parser.add_argument("--database", default="cpu", help=argparse.SUPPRESS)  # … and its database's suffix


def step_request(step: str, sid: str, token: str) -> tuple[str, dict[str, str]]:
    """The path and signed form Twilio would post for ``step`` of call ``sid``."""
    if step == "inbound":
        return "/telephony/voice/inbound", call_form(sid)
    if step == "status":
        return "/telephony/voice/status", {**call_form(sid, "completed"), "CallDuration": "42"}
    if step == "wait":
        return "/telephony/voice/wait?lang=id", {**call_form(sid, "in-progress"), "QueueTime": "30"}
    digits = {"language": "1", "kpj": "", "topic": "1"}[step]
    return f"/telephony/voice/{step}?lang=id", {**call_form(sid, "in-progress"), "Digits": digits}


def environ(path: str, form: dict[str, str], token: str) -> dict[str, Any]:
    """A WSGI environ for a signed form POST to ``path`` (what gunicorn would hand the app)."""
    body = urlencode(form).encode()
    headers = common.signed_headers(BASE + path, form, token)
    route, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "CONTENT_TYPE": headers["Content-Type"],
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": headers["X-Twilio-Signature"],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def call_app(app: Callable[..., Any], env: dict[str, Any]) -> str:
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> None:
        status.append(code)

    result = app(env, start_response)
    try:
        for _chunk in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return status[0]


STATEMENTS = [0]  # SQL statements sent by the app's engine (counted in the measuring child)


def run_round(app: Callable[..., Any], token: str, calls: int, profile: int) -> dict[str, float]:
    """``calls`` calls through every step; CPU ms per request for each step, and (``<step>
    sql``) the SQL statements per request, BEGIN and COMMIT included."""
    sids = [new_sid() for _ in range(calls)]
    figures: dict[str, float] = {}
    for step in STEPS:
        environs = [environ(*step_request(step, sid, token), token) for sid in sids]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not wall time
            profiler.enable()
        sent = STATEMENTS[0]
        started = time.process_time()
        bad = [code for env in environs if not (code := call_app(app, env)).startswith(("200", "204"))]
        spent = time.process_time() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            print(f"--- {step}: cProfile, top {profile} by own time")
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(profile)
        if bad:
            raise SystemExit(f"{step}: {len(bad)} of {calls} answered {bad[0]}")
        figures[step] = 1000 * spent / calls
        figures[f"{step} sql"] = (STATEMENTS[0] - sent) / calls
    return figures


def measure(args: argparse.Namespace) -> list[Row]:
    """Rounds alternate between the measured codes (each in a process of its own) and bare
    Flask, so a change in the machine's load falls on all of them alike."""
    codes = {"halopmi": Measurer(common.ROOT, "cpu", args.profile)}
    if args.against:
        codes[args.against] = Measurer(common.checkout(args.against), "cpuold", 0)
    codes["bare Flask"] = Measurer(common.ROOT, "cpubare", 0)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    names = list(codes)
    try:
        for n in range(args.rounds):
            # Each its own process, the order turning round by round (see the module doc on
            # how far two processes running the same code differ here).
            for name in names[n % len(names):] + names[: n % len(names)]:
                which = "bare" if name == "bare Flask" else "halopmi"
                rounds[name].append(codes[name].round(which, args.calls))
    finally:
        for code in codes.values():
            code.close()

    def median(name: str, step: str) -> float:
        return statistics.median(r[step] for r in rounds[name])

    conditions = (
        f"CPU time of the app's process per request (time.process_time), WSGI calls in-process, no "
        f"server; HALOPMI_CONFIG=production, PostgreSQL+Redis; median of {args.rounds} rounds; "
        f"{common.machine()}; baseline: bare Flask, same process and rounds"
    )
    size = f"{args.calls} calls a round"
    rows = [
        Row(f"{step} webhook, app CPU (ms/req)", median("halopmi", step), median("bare Flask", step), size,
            f"{conditions}; {median('halopmi', step + ' sql'):.1f} SQL statements a request")
        for step in STEPS
    ]
    rows.append(Row(
        "a call's six IVR webhooks, app CPU (ms)",
        sum(median("halopmi", step) for step in STEPS), sum(median("bare Flask", step) for step in STEPS),
        size, conditions,
    ))
    if args.against:
        tag = args.against
        versus = f"this checkout against {tag}'s code, rounds interleaved, each in its own process"
        for step in STEPS:
            rows.append(Row(f"{step} webhook CPU (ms/req), vs {tag}", median("halopmi", step), median(tag, step), size, versus))
        for step in STEPS:
            rows.append(Row(
                f"{step} webhook SQL statements, vs {tag}", median("halopmi", f"{step} sql"),
                median(tag, f"{step} sql"), size, f"{versus}; BEGIN and COMMIT counted",
            ))
        rows.append(Row(
            f"a call's six IVR webhooks (ms), vs {tag}",
            sum(median("halopmi", step) for step in STEPS), sum(median(tag, step) for step in STEPS), size, versus,
        ))
    return rows


class Measurer:
    """A child process holding one revision's app (and bare Flask), running rounds on request."""

    def __init__(self, root: Path, database: str, profile: int) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(root), "--database", database,
                   "--profile", str(profile)]
        self.process = subprocess.Popen(  # noqa: S603 - this script
            command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.ask("ready")

    def ask(self, line: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        while True:
            answer = self.process.stdout.readline()
            if not answer:
                raise SystemExit(f"the measuring process stopped (exit {self.process.wait()})")
            if answer.startswith("@@ "):  # the app's own output (profiles) goes by
                return json.loads(answer[3:])
            print(answer, end="")

    def round(self, which: str, calls: int) -> dict[str, float]:
        return dict(self.ask(f"{which} {calls}"))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def serve(root: Path, database: str, profile: int) -> None:
    """The child: the app under ``root`` against a fresh database; rounds as the parent asks."""
    sys.path.insert(0, str(root))  # before anything imports ``app``
    token = common.simulator_token()
    env = common.server_env(common.fresh_database(common.database_name(database)), PYTHONPATH=str(root))
    common.create_schema(env, root)
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as conn:  # a crisis line does not close: the topic step queues the call
        conn.execute(text("UPDATE sla_calendars SET always_open = true"))
    engine.dispose()
    os.environ.update(env)

    from sqlalchemy import event

    from app import create_app
    from app.extensions import db
    from bench.bare_flask import app as bare

    apps = {"halopmi": create_app(), "bare": bare}
    with apps["halopmi"].app_context():

        def count(*_: Any) -> None:
            STATEMENTS[0] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(db.engine, "begin", count)
        event.listen(db.engine, "commit", count)
    for app in apps.values():
        run_round(app, token, 50, 0)  # warm-up: connections, statement caches, imports
    profiled = False
    for line in sys.stdin:
        if line.strip() == "ready":
            print("@@ null", flush=True)
            continue
        which, calls = line.split()
        figures = run_round(apps[which], token, int(calls), profile if which == "halopmi" and not profiled else 0)
        profiled = profiled or which == "halopmi"
        print("@@ " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    if "--serve" in sys.argv:
        options = argparse.ArgumentParser()
        add_arguments(options)
        known = options.parse_args()
        serve(Path(known.serve), known.database, known.profile)
    else:
        common.main(sys.modules[__name__])
