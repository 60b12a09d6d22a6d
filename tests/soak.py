"""Mixed traffic against real processes, sampled for growth (the soak test and bench/bench_soak.py).

A gunicorn web process (``-k gthread``, as the README deploys it) and ``flask jobs worker`` (the
outbox, its recovery, the router tick and the simulator's SMS delivery reports) run on one
database and Redis. Client threads play workers and Twilio at once: calls through the IVR into
the queue and out again (signed webhooks), complaints through the public API (each one an SMS
through the outbox and the simulated provider, then its delivery reports), case look-ups,
browser call tokens and page loads. Every ``interval`` seconds the processes are sampled: RSS,
threads, open files, database connections. Afterwards the work is counted: every call ended,
every complaint's SMS sent once.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from app.telephony.signature import sign
from tests.live import ROOT, Gunicorn

PUBLIC = "https://halo.example.org"
WEB_APP_NAME = "halopmi-soak-web"
WORKER_APP_NAME = "halopmi-soak-worker"
UNLIMITED = "1000000 per hour"
# The worker's periodic jobs in a soak: the outbox, its recovery, the router tick, and the
# simulator's SMS delivery reports (Twilio's part: in-process webhooks, not run in production).
LOOPS = ("outbox", "outbox-recovery", "router", "telephony-simulator")


def _phone(rng: random.Random) -> str:
    """A Hong Kong mobile number that exists (not every +852 6xxx xxxx does)."""
    import phonenumbers

    while True:
        number = f"+8526{rng.randrange(10**7):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in found.stdout.split()]


def _proc(pid: int) -> dict[str, int]:
    """RSS (kB), threads and open files of one process (Linux /proc)."""
    values = {"rss_kb": 0, "threads": 0, "fds": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                values["rss_kb"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                values["threads"] = int(line.split()[1])
        values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return values


@dataclass
class Sample:
    at: float
    requests: int
    web: dict[str, int]
    worker: dict[str, int]
    db_connections: dict[str, int]
    pending_intents: int


@dataclass
class Totals:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    complaints: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # "<status> <path>" of 4xx answers


class Soak:
    """The processes, the traffic and the samples. ``database_url`` must hold the schema."""

    def __init__(
        self, database_url: str, redis_url: str, token: str, *, seed: int = 12, clients: int = 4,
        loops: tuple[str, ...] = LOOPS,
    ) -> None:
        self.database_url, self.redis_url, self.token, self.loops = database_url, redis_url, token, loops
        self.clients, self.random = clients, random.Random(seed)
        self.totals = Totals()
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stop_traffic = threading.Event()
        self.web: Gunicorn | None = None
        self.worker: subprocess.Popen[str] | None = None
        self.worker_log = tempfile.NamedTemporaryFile(prefix="halopmi-soak-worker-", suffix=".log", delete=False)  # noqa: SIM115
        self.engine = create_engine(database_url, pool_size=1, max_overflow=0)
        self.postgres = database_url.startswith("postgresql")
        self.sqlite_path = database_url.split("///", 1)[1] if database_url.startswith("sqlite") else None

    # --- processes ----------------------------------------------------------------------------

    def env(self, app_name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FLASK_RUN_FROM_CLI", None)
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)
        env.update(
            HALOPMI_CONFIG="testing",
            TEST_DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SOCKETIO_CHANNEL=f"halopmi-soak-{uuid.uuid4().hex[:8]}",
            PUBLIC_BASE_URL=PUBLIC,
            TELEPHONY_HOURS="00:00-23:59:59",  # open whenever it runs: calls reach the queue
            TICKETS_MESSENGER="app.telephony.messaging:sms_messenger",
            TICKETS_COMPLAINT_RATE_LIMIT=UNLIMITED,
            TICKETS_TRACK_RATE_LIMIT=UNLIMITED,
            VOICE_TOKEN_RATE_LIMIT=UNLIMITED,
            PORTAL_CALL_RATE_LIMIT=UNLIMITED,
            OUTBOX_POLL_SECONDS="0.5",
            TELEPHONY_SIMULATOR_SECONDS="1",
            PGAPPNAME=app_name,  # libpq: names the process's connections in pg_stat_activity
            PYTHONUNBUFFERED="1",
            LOG_FORMAT="text",
        )
        return env

    def start(self, web_threads: int = 4) -> None:
        self.web = Gunicorn("soak-web", ["-k", "gthread", "--threads", str(web_threads)], "wsgi:app",
                            self.env(WEB_APP_NAME))
        from app import schedule

        without = [
            arg for job in schedule.PERIODIC_JOBS if job.name not in self.loops for arg in ("--without", job.name)
        ]
        self.worker = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", *without],
            cwd=ROOT, env=self.env(WORKER_APP_NAME), stdout=self.worker_log, stderr=subprocess.STDOUT, text=True,
        )
        self.web.wait_ready()

    def stop(self) -> None:
        self.stop_traffic.set()
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(timeout=10)
        if self.web is not None:
            self.web.stop()
        self.worker_log.close()
        Path(self.worker_log.name).unlink(missing_ok=True)
        self.engine.dispose()

    def logs(self) -> str:
        worker = Path(self.worker_log.name).read_text(errors="replace")[-4000:] if self.worker_log else ""
        return f"--- web ---\n{self.web.log() if self.web else ''}\n--- worker ---\n{worker}"

    # --- traffic ------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        assert self.web is not None
        connection = http.client.HTTPConnection("127.0.0.1", self.web.port, timeout=30)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            with self.lock:
                self.totals.errors.append(f"{method} {path}: {exc!r}")
            return 0, b""
        finally:
            connection.close()
        with self.lock:
            self.totals.requests += 1
            self.totals.statuses[response.status] += 1
            self.totals.latencies.append(time.monotonic() - started)
            if 400 <= response.status < 500:
                self.totals.refused[f"{response.status} {path.split('?')[0]}"] += 1
            if response.status >= 500:
                self.totals.errors.append(f"{method} {path}: {response.status} {data[:200]!r}")
        return response.status, data

    def _webhook(self, path: str, form: dict[str, str]) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": sign(PUBLIC + path, form, self.token)}
        return self._request("POST", path, urlencode(form), headers)[0]

    def _json(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        status, data = self._request(method, path, json.dumps(payload) if payload is not None else None, headers)
        try:
            return status, json.loads(data or b"null")
        except ValueError:
            return status, None

    def call(self, rng: random.Random) -> None:
        sid = f"CA{uuid.uuid4().hex}"
        base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": _phone(rng),
                "To": "+622150001234", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        steps = [
            ("/telephony/voice/inbound", {"CallStatus": "ringing"}),
            ("/telephony/voice/language", {"CallStatus": "in-progress", "Digits": rng.choice("12")}),
            ("/telephony/voice/kpj", {"CallStatus": "in-progress", "Digits": "#"}),
            ("/telephony/voice/topic", {"CallStatus": "in-progress", "Digits": rng.choice("123")}),
            ("/telephony/voice/wait", {"CallStatus": "in-progress", "QueueTime": "5"}),
            ("/telephony/voice/queue-exit", {"CallStatus": "in-progress", "QueueResult": "hangup"}),
            ("/telephony/voice/status", {"CallStatus": "completed", "CallDuration": "30"}),
        ]
        for path, extra in steps:
            self._webhook(path, {**base, **extra})
        with self.lock:
            self.totals.calls.append(sid)

    def complaint(self, rng: random.Random) -> None:
        phone = _phone(rng)
        status, body = self._json("POST", "/api/v1/complaints", {
            "name": "Siti Soak", "phone": phone, "country": "HK", "category": "claim_jht",
            "description": "Where is my JHT claim? Submitted last month.", "language": rng.choice(["id", "en"]),
        })
        if status == 201 and isinstance(body, dict):
            reference = str(body["reference"])
            with self.lock:
                self.totals.complaints.append(reference)
            self._request("GET", f"/api/v1/complaints/{reference}?{urlencode({'verification': phone})}")

    def browse(self, rng: random.Random) -> None:
        choice = rng.random()
        if choice < 0.5:
            self._json("POST", "/api/v1/voice-token", {"language": "id", "topic": "claim_jkk"})
        elif choice < 0.8:
            self._request("GET", "/")
        else:
            self._request("GET", "/readyz")

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop_traffic.is_set():
            pick = rng.random()
            if pick < 0.5:
                self.call(rng)
            elif pick < 0.75:
                self.complaint(rng)
            else:
                self.browse(rng)

    # --- measuring ----------------------------------------------------------------------------

    def _db_connections(self) -> dict[str, int]:
        if self.postgres:
            with self.engine.connect() as connection:
                rows = connection.execute(text(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name IN (:web, :worker) "
                    "GROUP BY application_name"), {"web": WEB_APP_NAME, "worker": WORKER_APP_NAME}).all()
            found = {name: int(count) for name, count in rows}
            return {"web": found.get(WEB_APP_NAME, 0), "worker": found.get(WORKER_APP_NAME, 0)}
        return {"web": self._sqlite_files(self._web_pids()), "worker": self._sqlite_files(self._worker_pids())}

    def _sqlite_files(self, pids: list[int]) -> int:
        target = os.path.realpath(str(self.sqlite_path))
        count = 0
        for pid in pids:
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        if os.path.realpath(os.readlink(f"/proc/{pid}/fd/{fd}")) == target:
                            count += 1
                    except OSError:
                        continue
            except OSError:
                continue
        return count

    def _web_pids(self) -> list[int]:
        assert self.web is not None
        return _children(self.web.process.pid)  # the gunicorn worker (the master only forks)

    def _worker_pids(self) -> list[int]:
        assert self.worker is not None
        return [self.worker.pid, *_children(self.worker.pid)]

    def _pending(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM outbox_intents WHERE status NOT IN ('done', 'failed')")).scalar() or 0)

    def sample(self) -> Sample:
        def total(pids: list[int]) -> dict[str, int]:
            out = {"rss_kb": 0, "threads": 0, "fds": 0}
            for pid in pids:
                for key, value in _proc(pid).items():
                    out[key] += value
            return out

        with self.lock:
            requests = self.totals.requests
        sample = Sample(time.monotonic(), requests, total(self._web_pids()),
                        total([self.worker.pid] if self.worker else []), self._db_connections(), self._pending())
        self.samples.append(sample)
        return sample

    def run(self, seconds: float, interval: float, on_sample: Any = None) -> None:
        threads = [threading.Thread(target=self._client, args=(self.random.randrange(10**9),), daemon=True,
                                    name=f"soak-client-{n}") for n in range(self.clients)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                sample = self.sample()
                if on_sample is not None:
                    on_sample(sample)
        finally:
            self.stop_traffic.set()
            for thread in threads:
                thread.join(timeout=30)

    def drain(self, timeout: float = 30.0) -> int:
        """Wait until the outbox is empty (every intent done or failed); returns what is left."""
        deadline = time.monotonic() + timeout
        left = self._pending()
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = self._pending()
        return left

    # --- the work, counted --------------------------------------------------------------------

    def lost_work(self) -> dict[str, Any]:
        """What did not happen or happened twice: empty when nothing was lost or doubled."""
        problems: dict[str, Any] = {}
        with self.engine.connect() as connection:
            calls = dict(connection.execute(text("SELECT call_sid, status FROM calls")).all())
            missing = [sid for sid in self.totals.calls if sid not in calls]
            unfinished = [sid for sid in self.totals.calls if calls.get(sid) not in (None, "completed")]
            entries = connection.execute(text(
                "SELECT ref_id, count(*) FROM work_items WHERE kind = 'call' GROUP BY ref_id HAVING count(*) > 1")).all()
            notes = connection.execute(text(
                "SELECT t.reference, n.status, n.provider_id FROM ticket_notifications n "
                "JOIN tickets t ON t.id = n.ticket_id WHERE n.channel = 'sms'")).all()
            failed = connection.execute(text("SELECT func, last_error FROM outbox_intents WHERE status = 'failed'")).all()
        sent = {reference: (status, provider_id) for reference, status, provider_id in notes}
        unsent = [ref for ref in self.totals.complaints if sent.get(ref, ("", None))[0] != "sent"]
        if missing:
            problems["calls missing"] = missing
        if unfinished:
            problems["calls not completed"] = unfinished
        if entries:
            problems["calls queued twice"] = entries
        if unsent:
            problems["complaints without their SMS sent"] = unsent
        if failed:
            problems["failed intents"] = [tuple(row) for row in failed]
        provider_ids = [provider_id for status, provider_id in sent.values() if provider_id]
        if len(provider_ids) != len(set(provider_ids)):
            problems["an SMS recorded for two notifications"] = Counter(provider_ids).most_common(3)
        return problems

    def intents(self) -> dict[str, int]:
        """Outbox intents recorded during the run, by job."""
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT func, count(*) FROM outbox_intents GROUP BY func")).all()
        return {str(func).rsplit(".", 1)[-1]: int(count) for func, count in rows}

    def messages_sent(self) -> Counter[str]:
        """How many SMS the simulated provider's account shows per number."""
        from app.telephony.simulated_provider import SimulatorProvider

        return Counter(str(m["to"]) for m in SimulatorProvider(self.redis_url).messages())

    def latency_ms(self, quantile: float) -> float:
        values = sorted(self.totals.latencies)
        if not values:
            return 0.0
        return 1000 * values[min(len(values) - 1, int(quantile * len(values)))]
