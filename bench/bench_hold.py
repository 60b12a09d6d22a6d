"""Benchmark: the hold loop (the wait URL every caller on hold fetches after each prompt).

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_hold.py                    # 500 callers on hold, ~1 minute
    .venv/bin/python bench/bench_hold.py --callers 1000

``--callers`` calls are put on hold through the call path's own services (a call row, its
ticket, its place in the live queue; no agent is logged in, so nobody is served). Then signed
``POST /telephony/voice/wait`` requests for those calls, round robin, are sent as fast as answers
come back, against the same production-like server (``bench_webhooks.py``'s settings) started
twice: with the queue board (``QUEUE_BOARD_SECONDS=2``: the queue is read at most every 2 s per
process, a caller's place is a look-up) and with ``QUEUE_BOARD_SECONDS=0`` (the queue read for
every request, as the position was before: a count over the waiting items on each fetch). A
bare-Flask answer of a constant hold document, under the same gunicorn, is the baseline. It
asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402

QUICK = {"callers": 200, "seconds": 3.0}
TABLE = {"seconds": 4.0}  # run.py bench: 500 callers on hold, shorter windows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--callers", type=int, default=500, help="calls on hold")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measuring window")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn --threads")


def seed(env: dict[str, str], callers: int) -> list[str]:
    """``callers`` calls on hold, through the services a topic choice runs (in a subprocess with
    the server's environment, so the app is configured exactly as the server is)."""
    script = (
        "import sys, uuid\n"
        "from wsgi import app\n"
        "from app.extensions import db\n"
        "from app.telephony import services\n"
        "sids = []\n"
        "with app.app_context():\n"
        f"    for n in range({callers}):\n"
        "        sid = 'CA' + uuid.uuid4().hex\n"
        "        call = services.start_call({'CallSid': sid, 'From': '+85291%06d' % n, 'To': '+622150001234',\n"
        "                                    'CallStatus': 'in-progress'})\n"
        "        call.language, call.topic = ('id', 'other')\n"
        "        services.queue_call(call)\n"
        "        sids.append(sid)\n"
        "        if n % 100 == 99:\n"
        "            db.session.commit()\n"
        "    db.session.commit()\n"
        "print(' '.join(sids))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], cwd=common.ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.split()


def hold_rate(port: int, token: str, sids: list[str], clients: int, seconds: float) -> dict[str, float]:
    turn = itertools.cycle(sids)
    lock = threading.Lock()

    def request(n: int) -> tuple[str, dict[str, str]]:
        with lock:
            sid = next(turn)
        return "/telephony/voice/wait", {**common.call_form(sid, "in-progress"), "QueueTime": "60"}

    common.saturate(port, token, clients, 2.0, request)  # warm-up
    return common.saturate(port, token, clients, seconds, request)


def measure(args: argparse.Namespace) -> list[Row]:
    token = common.simulator_token()
    env = common.server_env(common.fresh_database(common.database_name("web")))
    common.create_schema(env)
    sids = seed(env, args.callers)
    figures: dict[str, dict[str, float]] = {}
    for name, target, board in (
        ("board", "wsgi:app", "2"), ("fresh", "wsgi:app", "0"), ("bare Flask", "bench.bare_flask:app", "2"),
    ):
        server = common.Gunicorn(name, target, {**env, "QUEUE_BOARD_SECONDS": board}, threads=args.threads)
        try:
            figures[name] = hold_rate(server.port, token, sids, args.clients, args.seconds)
        finally:
            server.stop()

    errors = "/".join(str(f.get("errors", 0)) for f in figures.values())
    conditions = (
        f"gunicorn gthread 1 worker {args.threads} threads, {args.clients} clients, loopback, PostgreSQL+Redis, "
        f"{args.seconds:g} s windows, {common.machine()}; HTTP errors board/fresh/bare {errors}"
    )
    size = f"{args.callers} callers on hold"
    return [
        Row("wait URL, queue board 2 s (req/s)", figures["board"]["rps"], figures["bare Flask"]["rps"], size,
            f"baseline bare Flask; {conditions}"),
        Row("wait URL, queue read each request (req/s)", figures["fresh"]["rps"], figures["bare Flask"]["rps"], size,
            f"baseline bare Flask; {conditions}"),
        Row("wait URL, board vs read each request (req/s)", figures["board"]["rps"], figures["fresh"]["rps"], size,
            f"baseline: QUEUE_BOARD_SECONDS=0; {conditions}"),
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
