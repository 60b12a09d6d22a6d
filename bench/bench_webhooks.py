"""Benchmark: Twilio webhooks on a production-like server, against bare Flask in the same run.

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_webhooks.py                 # ~2 minutes
    .venv/bin/python bench/bench_webhooks.py --seconds 5     # shorter windows

Two servers are started on loopback with identical gunicorn settings (``-k gthread -w 1
--threads 16`` by default): halopmi's ``wsgi:app`` with ``HALOPMI_CONFIG=production``
(PostgreSQL database ``halopmi_bench_web``, made afresh; Redis db 13; no Twilio credentials, so
webhooks are signed with the simulator's token) and a bare Flask app (``bench/bare_flask.py``)
answering the same paths with a constant TwiML document. A load generator in this process
(``--clients`` threads, keep-alive connections, every request a new signed call) measures:

1. **inbound, saturation**: ``POST /telephony/voice/inbound`` as fast as answers come back
   (req/s), each a new CallSid: the call row, its first call-log fact, the language menu.
2. **status, saturation**: ``POST /telephony/voice/status`` (``completed``) for calls made in (1).
3. **inbound at a fixed rate** (``--rate``, default 100 req/s, open loop): p50/p99/max latency.
4. **idle RSS** of each server process after start-up.
5. **two processes**: inbound saturation of halopmi with `-w 2`, against its own `-w 1` figure.

Each figure is printed with the bare-Flask baseline of the same run and the ratio. This is not a
test: it asserts nothing about speed. ``--json`` prints the rows for ``bench/run_all.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.telephony.signature import sign  # noqa: E402

SECRET = "bench-secret-key-" + "x" * 32
DB_NAME = "halopmi_bench_web"
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def simulator_token(secret: str) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), b"halopmi-telephony-simulator", hashlib.sha256).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return f"{PG}/{DB_NAME}"


def server_env(database_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        HALOPMI_CONFIG="production",
        DATABASE_URL=database_url,
        REDIS_URL=REDIS,
        SECRET_KEY=SECRET,
        PII_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PII_HASH_KEY="bench-hash-key",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    return env


def create_schema(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flask", "--app", "wsgi:app", "db", "upgrade"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )


class Server:
    def __init__(self, name: str, target: str, env: dict[str, str], threads: int, workers: int = 1) -> None:
        self.name, self.port = name, free_port()
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
                "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--backlog", "2048", target,
            ],
            cwd=ROOT, env=env, start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"{name} server exited with {self.process.returncode}") from None
                time.sleep(0.2)
        time.sleep(1.0)  # the worker is importing the app after the master binds

    def rss_mb(self) -> float:
        children = subprocess.run(  # noqa: S603, S607
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        total = 0
        for pid in children or [str(self.process.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def call_form(sid: str, status: str = "ringing") -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+8529" + str(uuid.uuid4().int)[:7],
        "To": "+622150001234",
        "CallStatus": status,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


class Client:
    """One keep-alive connection; posts signed forms as Twilio would."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, form: dict[str, str]) -> int:
        body = urlencode(form)
        signature = sign(f"http://127.0.0.1:{self.port}{path}", form, self.token)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        return 0


def saturate(port: int, token: str, clients: int, seconds: float, make: Callable[[int], tuple[str, dict[str, str]]]) -> dict[str, Any]:
    stop = time.monotonic() + seconds
    counts, errors, lock = [0], [0], threading.Lock()
    sequence = iter(range(10**9))

    def run() -> None:
        client = Client(port, token)
        while time.monotonic() < stop:
            with lock:
                n = next(sequence)
            path, form = make(n)
            status = client.post(path, form)
            with lock:
                counts[0] += 1
                if status >= 400:
                    errors[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"rps": counts[0] / elapsed, "requests": counts[0], "errors": errors[0]}


def fixed_rate(port: int, token: str, rate: float, seconds: float, clients: int) -> dict[str, Any]:
    """Open loop: request i is due at start + i/rate, whatever the earlier ones are doing."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors, lock, next_i = [0], threading.Lock(), [0]
    start = time.monotonic() + 0.2

    def run() -> None:
        client = Client(port, token)
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= total:
                return
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            status = client.post("/telephony/voice/inbound", call_form("CA" + uuid.uuid4().hex))
            took = time.monotonic() - due  # from when it was due: queueing in the client counts
            with lock:
                latencies.append(took)
                if status >= 400:
                    errors[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"p50": q[49] * 1000, "p99": q[98] * 1000, "max": latencies[-1] * 1000, "errors": errors[0], "requests": total}


def measure(port: int, token: str, args: argparse.Namespace) -> dict[str, Any]:
    sids: list[str] = []

    def inbound(n: int) -> tuple[str, dict[str, str]]:
        sid = "CA" + uuid.uuid4().hex
        sids.append(sid)
        return "/telephony/voice/inbound", call_form(sid)

    def status(n: int) -> tuple[str, dict[str, str]]:
        sid = sids[n % len(sids)] if sids else "CA" + uuid.uuid4().hex
        return "/telephony/voice/status", {**call_form(sid, "completed"), "CallDuration": "42"}

    saturate(port, token, args.clients, 2.0, inbound)  # warm-up: connections, caches, the pool
    result = {
        "inbound": saturate(port, token, args.clients, args.seconds, inbound),
        "status": saturate(port, token, args.clients, args.seconds, status),
        "fixed": fixed_rate(port, token, args.rate, args.seconds, max(args.clients, 32)),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measuring window")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections at saturation")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn --threads for both servers")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second for the latency run")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for bench/run_all.py)")
    args = parser.parse_args()

    token = simulator_token(SECRET)
    env = server_env(fresh_database())
    create_schema(env)
    figures: dict[str, dict[str, Any]] = {}
    rss: dict[str, float] = {}
    for name, target in (("halopmi", "wsgi:app"), ("bare Flask", "bench.bare_flask:app")):
        server = Server(name, target, env, args.threads)
        try:
            rss[name] = server.rss_mb()
            figures[name] = measure(server.port, token, args)
        finally:
            server.stop()

    # Does a second web process add capacity? The same server with two workers, inbound only.
    two = Server("halopmi x2", "wsgi:app", env, args.threads, workers=2)
    try:
        saturate(two.port, token, args.clients, 2.0, lambda n: ("/telephony/voice/inbound", call_form("CA" + uuid.uuid4().hex)))
        figures["halopmi x2"] = {"inbound": saturate(
            two.port, token, args.clients, args.seconds,
            lambda n: ("/telephony/voice/inbound", call_form("CA" + uuid.uuid4().hex)),
        )}
    finally:
        two.stop()

    ours, base = figures["halopmi"], figures["bare Flask"]
    conditions = f"gunicorn gthread 1 worker {args.threads} threads, {args.clients} clients, loopback, PostgreSQL+Redis"
    rows = [
        ("inbound webhook, saturation (req/s)", ours["inbound"]["rps"], base["inbound"]["rps"]),
        ("status callback, saturation (req/s)", ours["status"]["rps"], base["status"]["rps"]),
        (f"inbound at {args.rate:.0f} req/s, p50 (ms)", ours["fixed"]["p50"], base["fixed"]["p50"]),
        (f"inbound at {args.rate:.0f} req/s, p99 (ms)", ours["fixed"]["p99"], base["fixed"]["p99"]),
        (f"inbound at {args.rate:.0f} req/s, max (ms)", ours["fixed"]["max"], base["fixed"]["max"]),
        ("idle web process RSS (MB)", rss["halopmi"], rss["bare Flask"]),
        ("inbound, 2 processes vs 1 (req/s)", figures["halopmi x2"]["inbound"]["rps"], ours["inbound"]["rps"]),
    ]
    errors = {name: {k: v.get("errors", 0) for k, v in f.items()} for name, f in figures.items()}
    if args.json:
        print(json.dumps({"rows": [
            {"figure": f, "value": v, "baseline": b, "ratio": v / b if b else None,
             "size": f"{ours['inbound']['requests']} calls", "conditions": conditions}
            for f, v, b in rows
        ], "errors": errors}))
        return
    print(f"\nTwilio webhooks - {conditions}; {args.seconds:.0f} s windows")
    print(f"{'figure':42} {'halopmi':>10} {'bare Flask':>11} {'ratio':>8}")
    for figure, value, baseline in rows:
        print(f"{figure:42} {value:10.1f} {baseline:11.1f} {value / baseline if baseline else 0:8.2f}")
    print(f"errors (HTTP >= 400): {errors}")


if __name__ == "__main__":
    main()
