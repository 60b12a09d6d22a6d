"""What the benchmarks share: servers on loopback, signed Twilio requests, load, figures, rows.

* **Servers**: :func:`fresh_database` (a PostgreSQL database made afresh), :func:`server_env`
  (halopmi's production configuration against it and Redis, no Twilio account: webhooks are
  signed with the simulator's token), :func:`create_schema` (``flask db upgrade``) and
  :class:`Gunicorn` (one gunicorn master on a free loopback port; ``wsgi:app``, the realtime
  ``wsgi_realtime:app`` or the bare-Flask baseline ``bench.bare_flask:app`` under identical
  settings), :class:`Worker` (``flask jobs worker``), :class:`CpuMeter`.
* **Signed requests**: :func:`call_form`, :func:`signed_headers` and :class:`Client` (one
  keep-alive connection posting as Twilio does).
* **Load**: :func:`saturate` (closed loop, as fast as answers come back) and :func:`fixed_rate`
  (open loop at a rate: latency counts from when a request was due), :func:`quantiles_ms`.
* **Rows**: every benchmark's figures are :class:`Row` objects (figure, value, baseline, ratio,
  data size, conditions). A benchmark module offers ``add_arguments(parser)``, ``QUICK`` (the
  options ``--quick`` overrides) and ``measure(args) -> list[Row]``; :func:`main` runs one alone
  and ``bench/run_all.py`` (``python3 run.py bench``) runs them all into one table.

Environment: ``BENCH_PG`` (PostgreSQL server URL without a database, default
``postgresql+psycopg://postgres@127.0.0.1:5432``), ``BENCH_DB_PREFIX`` (the benchmark databases'
names start with it, default ``halopmi_bench``), ``BENCH_REDIS_URL`` (default db 13).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-" + "x" * 32
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "halopmi_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CENTRE = "+622150001234"


# --- rows -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure of a benchmark, with its same-run baseline when there is one."""

    figure: str
    value: float | None
    baseline: float | None = None
    size: str = ""
    conditions: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline or math.isnan(self.baseline) or math.isnan(self.value):
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def format_rows(rows: Sequence[Row], sections: dict[int, list[str]] | None = None) -> str:
    """One aligned table: figure, value, baseline, ratio, data size, conditions.

    ``sections``: row index → heading lines printed before that row (the runner names each
    benchmark; a heading at ``len(rows)`` comes last)."""
    header = ("figure", "value", "baseline", "ratio", "data size", "conditions")
    cells = [
        (r.figure, _number(r.value), _number(r.baseline), f"{r.ratio:.2f}" if r.ratio is not None else "-", r.size, r.conditions)
        for r in rows
    ]
    widths = [max([len(header[i])] + [len(c[i]) for c in cells]) for i in range(5)]

    def line(c: Sequence[str]) -> str:
        return (
            f"{c[0]:<{widths[0]}}  {c[1]:>{widths[1]}}  {c[2]:>{widths[2]}}  {c[3]:>{widths[3]}}  "
            f"{c[4]:<{widths[4]}}  {c[5]}"
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths] + ["-" * 10])]
    sections = sections or {}
    for index, c in enumerate(cells):
        out += [f"[{heading}]" for heading in sections.get(index, [])]
        out.append(line(c))
    out += [f"[{heading}]" for heading in sections.get(len(cells), [])]
    return "\n".join(out)


def main(module: ModuleType, argv: Sequence[str] | None = None) -> list[Row]:
    """Run one benchmark module alone: its options, ``--quick``, ``--json``; print its rows."""
    parser = argparse.ArgumentParser(description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="the small sizes `run.py bench --quick` uses")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        apply_quick(module, args, explicit=argv if argv is not None else sys.argv[1:])
    rows = module.measure(args)
    if args.json:
        print(json.dumps({"rows": [r.as_dict() for r in rows]}))
    else:
        print()
        print(format_rows(rows))
    return rows


def apply_quick(module: ModuleType, args: argparse.Namespace, explicit: Iterable[str] = ()) -> None:
    """Set the module's ``QUICK`` sizes, except options given on the command line."""
    given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in explicit if a.startswith("--")}
    for name, value in getattr(module, "QUICK", {}).items():
        if name not in given:
            setattr(args, name, value)


def default_args(module: ModuleType, quick: bool = False, table: bool = False) -> argparse.Namespace:
    """The module's options at their defaults, or at its ``QUICK`` sizes (``quick``), or at its
    ``TABLE`` sizes where it has them (``table``: what ``run.py bench`` runs, so that the whole
    table fits in 15 minutes on two cores; each module alone runs at its defaults)."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    args = parser.parse_args([])
    if quick:
        apply_quick(module, args)
    elif table:
        for name, value in getattr(module, "TABLE", {}).items():
            setattr(args, name, value)
    return args


# --- databases and servers -------------------------------------------------------------------


def simulator_token(secret: str = SECRET) -> str:
    """The token webhooks are signed with when no Twilio account is configured."""
    return hmac.new(secret.encode(), b"halopmi-telephony-simulator", hashlib.sha256).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_name(suffix: str) -> str:
    return f"{DB_PREFIX}_{suffix}"


def fresh_database(name: str) -> str:
    """Drop and create PostgreSQL database ``name``; its SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG}/{name}"


def ensure_database(name: str) -> str:
    """PostgreSQL database ``name``, created if missing (kept otherwise); its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG}/{name}"


def server_env(database_url: str, redis_url: str | None = None, **overrides: str) -> dict[str, str]:
    """halopmi's production configuration against ``database_url`` and ``redis_url``
    (default ``BENCH_REDIS_URL``)."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        HALOPMI_CONFIG="production",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url or REDIS,
        SECRET_KEY=SECRET,
        PII_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PII_HASH_KEY="bench-hash-key",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    env.update(overrides)
    return env


def create_schema(env: dict[str, str], root: Path = ROOT) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flask", "--app", "wsgi:app", "db", "upgrade"],
        cwd=root, env=env, capture_output=True, text=True,
    )
    if done.returncode:
        raise SystemExit(f"flask db upgrade failed:\n{done.stderr[-3000:]}")


def checkout(revision: str) -> Path:
    """The files of ``revision`` in a temporary directory (``git archive``), with this checkout's
    compiled catalogues and vendored assets (build outputs git does not hold)."""
    directory = Path(tempfile.mkdtemp(prefix="halopmi-bench-"))
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout  # noqa: S603, S607
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)  # noqa: S603, S607
    for built in ("app/static/vendor", "app/translations"):
        source = ROOT / built
        if source.exists():
            shutil.copytree(source, directory / built, dirs_exist_ok=True)
    return directory


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(  # noqa: S603, S607
        ["pgrep", "-P", str(pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(p) for p in out]


def rss_mb(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by named groups of processes between creation and stop()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.start = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: round(sum(cpu_seconds(p) for p in group) - self.start[name], 2)
            for name, group in self.pids.items()
        }


class Process:
    """A process group of ours (started in a session of its own, so stop() ends all of it)."""

    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def worker_pids(self) -> list[int]:
        """The processes doing the work (gunicorn's workers, or the process itself)."""
        return child_pids(self.process.pid) or [self.process.pid]

    def rss_mb(self) -> float:
        """RSS of the worker processes, in MB."""
        return rss_mb(self.worker_pids())


class Gunicorn(Process):
    """One gunicorn master and its workers on a free loopback port.

    Ready once a worker answers ``GET /healthz`` (any status: bare Flask answers 404) and every
    worker has been forked; with several workers, each imports the app on its own after the
    fork, so a moment more is allowed for the others."""

    def __init__(
        self,
        name: str,
        target: str,
        env: dict[str, str],
        *,
        worker_class: str = "gthread",
        threads: int = 16,
        workers: int = 1,
        extra: Sequence[str] = (),
        root: Path = ROOT,
        timeout: float = 90,
    ) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        options = ["--threads", str(threads)] if worker_class == "gthread" else []
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
            [
                sys.executable, "-m", "gunicorn", "-k", worker_class, *options, "-w", str(workers),
                "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--backlog", "2048",
                *extra, target,
            ],
            cwd=root, env=env, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{name} server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                    if conn.recv(16).startswith(b"HTTP/"):
                        break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            self.stop()
            raise SystemExit(f"{name} server did not answer within {timeout:.0f} s")
        while len(child_pids(self.process.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        if workers > 1:
            time.sleep(2.0)  # the other workers are importing the app


class Worker(Process):
    """``flask jobs worker``: rq, the outbox dispatcher and every periodic job."""

    def __init__(
        self, env: dict[str, str], *, root: Path = ROOT, extra: Sequence[str] = (), log: Path | None = None
    ) -> None:
        output = open(log, "ab") if log else None  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "flask", "--app", "wsgi:app", "jobs", "worker", *extra],
            cwd=root, env=env, start_new_session=True, stdout=output, stderr=output,
        )
        if output is not None:
            output.close()


# --- signed requests ---------------------------------------------------------------------------


def call_form(sid: str, status: str = "ringing", **more: str) -> dict[str, str]:
    """The form Twilio posts about call ``sid`` (a mobile number abroad calling the centre)."""
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+8529" + str(uuid.uuid4().int)[:7],
        "To": CENTRE,
        "CallStatus": status,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **more,
    }


def new_sid(prefix: str = "CA") -> str:
    return prefix + uuid.uuid4().hex


def signed_headers(url: str, form: dict[str, str], token: str) -> dict[str, str]:
    """Headers of a form POST to ``url`` (the full URL, query included) signed as Twilio signs."""
    from app.telephony.signature import sign

    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, form, token)}


class Client:
    """One keep-alive connection; posts signed forms as Twilio would."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, form: dict[str, str]) -> int:
        body = urlencode(form)
        headers = signed_headers(f"http://127.0.0.1:{self.port}{path}", form, self.token)
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


# --- load ------------------------------------------------------------------------------------------


def saturate(
    port: int,
    token: str,
    clients: int,
    seconds: float,
    make: Callable[[int], tuple[str, dict[str, str]]],
    server: Sequence[int] = (),
) -> dict[str, Any]:
    """``clients`` connections posting ``make(n)`` as fast as answers come back, for ``seconds``.

    With ``server`` (the serving processes' pids), also ``cpu_ms``: their CPU time per request, a
    figure that other load on the machine disturbs far less than requests per second."""
    meter = CpuMeter({"server": list(server)})
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
    cpu = meter.stop()["server"]
    figures = {"rps": counts[0] / elapsed, "requests": counts[0], "errors": errors[0]}
    if server and counts[0]:
        figures["cpu_ms"] = 1000 * cpu / counts[0]
    return figures


def fixed_rate(port: int, token: str, rate: float, seconds: float, clients: int) -> dict[str, Any]:
    """Open loop: new inbound call i is due at start + i/rate, whatever the earlier ones are doing."""
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
            status = client.post("/telephony/voice/inbound", call_form(new_sid()))
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
    return {**quantiles_ms(latencies), "errors": errors[0], "requests": total}


def quantiles_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of durations in seconds, in milliseconds (NaN when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    if len(ordered) < 2:
        return {"p50": ordered[0] * 1000, "p99": ordered[0] * 1000, "max": ordered[0] * 1000}
    q = statistics.quantiles(ordered, n=100)
    return {"p50": q[49] * 1000, "p99": q[98] * 1000, "max": ordered[-1] * 1000}


def machine() -> str:
    """The machine's cores and load, for a row's conditions."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load {load:.1f}"


# --- agents ----------------------------------------------------------------------------------------

USER_AGENT = "halopmi-bench/1.0"


class Agent(NamedTuple):
    id: int
    languages: tuple[str, ...]
    cookie: str  # the ``session`` cookie's value
    csrf: str  # the CSRF token of that session (``X-CSRFToken`` on the console's POSTs)


def seed_agents(
    env: dict[str, str], count: int, languages: Callable[[int], Sequence[str]] = lambda n: ("en" if n % 2 else "id",)
) -> list[Agent]:
    """``count`` agents (``languages(n)``: the n-th one's language skills), each with the session
    cookie signing in stores and the CSRF token a page of that session carries.

    The cookie is minted with the server's secret, exactly what ``POST /login`` stores for a
    browser at 127.0.0.1 with :data:`USER_AGENT` (Flask-Login's ``login_user``), plus the CSRF
    secret the first page would add: hundreds of scrypt logins would take minutes and hit the
    login rate limit."""
    from unittest import mock

    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from app import create_app
    from app.agents.models import AgentSkill
    from app.extensions import db
    from app.staff.models import User

    with mock.patch.dict(os.environ, env):  # the configuration the servers read from it
        app = create_app()
    agents: list[Agent] = []
    with app.app_context():
        users = [
            User(email=f"agent{n}@bench.example.org", name=f"Agen {n}", role="agent", password_hash="!")
            for n in range(count)
        ]
        db.session.add_all(users)
        db.session.flush()
        skills = {user.id: tuple(languages(n)) for n, user in enumerate(users)}
        db.session.add_all(
            AgentSkill(agent_id=uid, kind="language", value=lang) for uid, langs in skills.items() for lang in langs
        )
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        for user in users:
            with app.test_request_context(
                "/login", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT}
            ):
                login_user(user)
                g.pop("csrf_token", None)  # generate_csrf keeps one token per app context
                csrf = generate_csrf()
                agents.append(Agent(user.id, skills[user.id], serializer.dumps(dict(session)), csrf))
        db.session.remove()
        db.engine.dispose()
    return agents
