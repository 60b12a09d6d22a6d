"""Benchmark: a crisis burst - 1,000 calls through the IVR within 10 s, 50 agents answering.

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_burst.py                   # 1,000 calls, 50 agents, ~3 minutes
    .venv/bin/python bench/bench_burst.py --quick           # 300 calls, 30 agents
    .venv/bin/python bench/bench_burst.py --against HEAD~3  # also the code of another revision, same run

The production layout on loopback (README, "Production deployment"): ``--web`` web processes
(each ``gunicorn -k gthread -w 1 --threads N wsgi:app``, requests spread over them round robin as
nginx does), one realtime process (``gunicorn -k gevent wsgi_realtime:app``), one worker
(``flask jobs worker``: rq, the outbox, the router tick and every periodic job),
``HALOPMI_CONFIG=production``, PostgreSQL (database ``<BENCH_DB_PREFIX>_burst``, made afresh) and
Redis (``BENCH_REDIS_URL``: **the benchmark deletes rq's keys and the simulator's in that Redis
database** first, so that no job of an earlier run reaches this one's worker). The call centre's calendar is set to always open.

This process plays Twilio, over signed HTTP to the real webhook URLs, following the TwiML the app
answers. Caller *i* dials in at ``i * spread / calls`` seconds: ``/telephony/voice/inbound``, then
the language, KPJ (half of them key in a number, the others skip) and topic menus (a third press 9,
emergency), each answer ``--think`` seconds (± 50 %) after the previous prompt; in the queue,
Twilio's wait URL at once and again every ``--hold-cycle`` seconds. When the app moves the caller
to an agent (the REST redirect lands where the simulator provider puts it, in Redis), the Enqueue
action (``QueueResult=redirected``); the caller talks ``--talk`` seconds and hangs up (status
callback ``completed``). ``--abandon`` of the callers hang up while waiting after a patience of
10-60 s (the Enqueue action with ``QueueResult=hangup``, then the status callback).

``--agents`` agents (both languages) work in a process of their own as the console does: a
Socket.IO console on the realtime process (``auth={"console": true}``), ``POST
/console/api/presence`` available, on each ``offer`` event ``POST /console/api/work/<id>/accept``
and their softphone's leg to ``/telephony/voice/client`` (a signed webhook, as Twilio's Voice SDK
makes it), after the call (``presence.changed`` to ``wrap_up``) the leg's status callback and,
``--wrap-up`` seconds later, ``POST /console/api/work/<id>/wrap-up``. Sessions are minted as
signing in stores them (``common.seed_agents``).

Reported (rows):

* **lost calls**: calls that reached the app but have neither an offer nor an abandon, a
  voicemail or a left-queue fact in the call log when the run ends;
* **double offers**: calls offered to a second agent while a first one still held the offer or
  the call (seen by the consoles), or accepted by two agents (routing events);
* **webhook latency**: p50/p99/max of every webhook Twilio sent (callers' and agents' legs), and
  how many took over 5 s and over 15 s (Twilio's timeout: the caller hears an error);
* **free agent → offer**: from an agent becoming free (the wrap-up saved) to the next offer, while
  more callers waited than there were agents: in the database (agent state events: available →
  offered) and at the console (wrap-up sent → ``offer`` received);
* **backlog cleared**: from the first call to the last caller leaving the queue (answered or
  hung up), against the agents' own floor (answered calls x (talk + wrap-up) / agents, plus the
  IVR of the first caller).

Baseline in the same run: bare Flask (``bench/bare_flask.py``) on the same number of gunicorn
processes with the same settings, the same callers through the same URLs (IVR, one hold cycle,
hang-up and status callback), constant TwiML. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own app's TwiML
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import USER_AGENT, Agent, Gunicorn, Row, quantiles_ms  # noqa: E402

QUICK = {"calls": 300, "agents": 30, "talk": 1.0, "deadline": 180.0}
SIM_REDIRECT = "halopmi:telephony-sim:redirect:"
TOPICS = "9" * 6 + "2" * 4 + "1" * 3 + "3" * 2 + "4" * 2 + "5" * 2 + "0"  # a crisis: a third emergencies
DISPOSITION = "information_given"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=1000, help="callers in the burst")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which they dial in")
    parser.add_argument("--agents", type=int, default=50, help="agents answering")
    parser.add_argument("--web", type=int, default=2, help="web processes")
    parser.add_argument("--threads", type=int, default=32, help="gunicorn --threads of each web process")
    parser.add_argument(
        "--staff-web", type=int, default=0,
        help="web processes of their own for the staff's pages and console API (0: they share the webhooks' ones)",
    )
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds from a prompt to the key press")
    parser.add_argument("--hold-cycle", type=float, default=15.0, help="seconds between two wait-URL fetches")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds an answered call lasts")
    parser.add_argument("--wrap-up", type=float, default=1.0, help="seconds an agent takes to wrap up")
    parser.add_argument("--abandon", type=float, default=0.1, help="share of callers who hang up while waiting")
    parser.add_argument("--deadline", type=float, default=400.0, help="seconds after which waiting callers give up")
    parser.add_argument(
        "--agent-processes", type=int, default=5, help="processes the agents' consoles run in (browsers have their own CPU)"
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-Flask run")
    parser.add_argument(
        "--against", default="", help="also run the halopmi burst on this git revision's code (before/after)"
    )
    parser.add_argument(
        "--profile", default="", help="directory: py-spy samples each web process (--gil, raw) during the burst"
    )


# --- Twilio's side: signed webhooks ------------------------------------------------------------


@dataclass
class Hit:
    path: str  # the URL path, without the query
    started: float  # time.time()
    seconds: float
    status: int  # 0: no answer (connection error or our 60 s limit)


class Twilio:
    """Posts signed webhooks round robin to the web processes (as nginx spreads them)."""

    def __init__(self, session: Any, bases: list[str], token: str) -> None:
        self.session, self.token = session, token
        self.bases = itertools.cycle(bases)
        self.hits: list[Hit] = []

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        import aiohttp

        url = next(self.bases) + path
        headers = common.signed_headers(url, form, self.token)
        started = time.time()
        try:
            async with self.session.post(
                url, data=form, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
            ) as response:
                status, body = response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError):
            status, body = 0, ""
        self.hits.append(Hit(path.split("?")[0], started, time.time() - started, status))
        return status, body


def next_step(document: str) -> tuple[str, dict[str, str]]:
    """What the caller does next by the TwiML: ``gather`` (its action), ``enqueue`` (action and
    wait URL), ``record`` (voicemail), ``end``."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - our own app's TwiML
    except ET.ParseError:
        return "end", {}
    for verb in root.iter():
        if verb.tag == "Gather":
            return "gather", {"action": verb.get("action") or ""}
        if verb.tag == "Enqueue":
            return "enqueue", {"action": verb.get("action") or "", "wait": verb.get("waitUrl") or ""}
        if verb.tag == "Record":
            return "record", {}
    return "end", {}


@dataclass
class Caller:
    n: int
    sid: str
    number: str
    keys: tuple[str, str, str]  # language, KPJ (or ""), topic
    thinks: tuple[float, float, float]
    patience: float | None  # seconds in the queue before hanging up (None: waits)
    outcome: str = "unfinished"
    dialled_at: float = 0.0
    enqueued_at: float | None = None
    left_at: float | None = None  # left the queue: moved to an agent or hung up
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    def form(self, status: str = "in-progress", **more: str) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.number,
            "Caller": self.number,
            "To": common.CENTRE,
            "Called": common.CENTRE,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **more,
        }

    def queue_form(self, **more: str) -> dict[str, str]:
        waited = int(time.time() - (self.enqueued_at or time.time()))
        return self.form(QueueSid="QU" + "0" * 32, QueueTime=str(waited), AvgQueueTime="0", **more)

    def ended_form(self) -> dict[str, str]:
        return self.form(
            "completed",
            SequenceNumber=str(next(self.sequence)),
            CallDuration=str(int(time.time() - self.dialled_at)),
            CallbackSource="call-progress-events",
        )


def make_callers(args: argparse.Namespace) -> list[Caller]:
    rng = random.Random(args.seed)
    callers = []
    for n in range(args.calls):
        language = "2" if rng.random() < 0.2 else "1"
        kpj = "".join(rng.choice("0123456789") for _ in range(11)) if rng.random() < 0.5 else ""
        thinks = tuple(args.think * rng.uniform(0.5, 1.5) for _ in range(3))
        patience = rng.uniform(10, 60) if rng.random() < args.abandon else None
        callers.append(
            Caller(n, "CA" + uuid.uuid4().hex, f"+8529{n:07d}", (language, kpj, rng.choice(TOPICS)), thinks, patience)  # type: ignore[arg-type]
        )
    return callers


async def play_caller(caller: Caller, twilio: Twilio, due: float, redirects: dict[str, asyncio.Future[str]], args: argparse.Namespace, connected: bool) -> None:
    """One caller's call, as Twilio runs it from the app's TwiML. ``connected``: agents answer
    (halopmi); without them (the baseline) the caller hangs up after one hold cycle."""
    await asyncio.sleep(max(0.0, due - time.time()))
    caller.dialled_at = time.time()
    status, document = await twilio.post("/telephony/voice/inbound", caller.form("ringing"))
    for keys, think in zip(caller.keys, caller.thinks, strict=True):
        kind, step = next_step(document) if status == 200 else ("error", {})
        if kind != "gather":
            caller.outcome = f"ivr:{kind}"
            await twilio.post("/telephony/voice/status", caller.ended_form())
            return
        await asyncio.sleep(think)
        status, document = await twilio.post(step["action"], caller.form(Digits=keys))
    kind, step = next_step(document) if status == 200 else ("error", {})
    if kind != "enqueue":
        caller.outcome = "voicemail" if kind == "record" else f"ivr:{kind}"
        await twilio.post("/telephony/voice/status", caller.ended_form())
        return
    caller.enqueued_at = time.time()
    redirect = asyncio.get_running_loop().create_future()
    redirects[caller.sid] = redirect
    patience = caller.patience if connected else args.hold_cycle
    give_up = caller.enqueued_at + min(patience if patience is not None else args.deadline, args.deadline)
    while True:
        await twilio.post(step["wait"], caller.queue_form())
        left = give_up - time.time()
        try:
            await asyncio.wait_for(asyncio.shield(redirect), timeout=max(0.0, min(args.hold_cycle, left)))
            break
        except TimeoutError:
            if time.time() >= give_up:
                break
    caller.left_at = time.time()
    redirects.pop(caller.sid, None)
    if redirect.done():
        caller.outcome = "answered"
        await twilio.post(step["action"], caller.queue_form(QueueResult="redirected"))
        await asyncio.sleep(args.talk)
    else:
        redirect.cancel()
        caller.outcome = "abandoned" if caller.patience is not None or not connected else "gave_up"
        await twilio.post(step["action"], caller.queue_form(QueueResult="hangup", CallStatus="completed"))
    await twilio.post("/telephony/voice/status", caller.ended_form())


async def watch_redirects(redis_url: str, redirects: dict[str, asyncio.Future[str]], stop: asyncio.Event) -> None:
    """Twilio's REST side: the simulator provider leaves each redirect in Redis under the call's
    sid; hand it to the caller whose call it moves."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        while not stop.is_set():
            keys = [key async for key in redis.scan_iter(match=SIM_REDIRECT + "*", count=5000)]
            if keys:
                async with redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.lpop(key)
                    documents = await pipe.execute()
                for key, document in zip(keys, documents, strict=True):
                    future = redirects.get(key.decode()[len(SIM_REDIRECT) :])
                    if document is not None and future is not None and not future.done():
                        future.set_result(document.decode())
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


async def run_callers(bases: list[str], args: argparse.Namespace, redis_url: str | None, start: float) -> dict[str, Any]:
    import aiohttp

    callers = make_callers(args)
    redirects: dict[str, asyncio.Future[str]] = {}
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a connection per webhook, as Twilio's
    async with aiohttp.ClientSession(connector=connector) as session:
        twilio = Twilio(session, bases, common.simulator_token())
        watcher = asyncio.create_task(watch_redirects(redis_url, redirects, stop)) if redis_url else None
        await asyncio.gather(
            *(
                play_caller(c, twilio, start + c.n * args.spread / args.calls, redirects, args, redis_url is not None)
                for c in callers
            )
        )
        stop.set()
        if watcher is not None:
            await watcher
    lag = max((c.dialled_at - (start + c.n * args.spread / args.calls)) for c in callers)
    return {"callers": callers, "hits": twilio.hits, "dial_lag": lag}


# --- the agents (a process of their own) -----------------------------------------------------


def _agents_process(
    realtime: str, webs: list[str], staff: list[str], agents: list[Agent], args: argparse.Namespace, pipe: Connection
) -> None:
    asyncio.run(_agents(realtime, webs, staff, agents, args, pipe))


async def _agents(
    realtime: str, webs: list[str], staff: list[str], agents: list[Agent], args: argparse.Namespace, pipe: Connection
) -> None:
    import aiohttp
    import socketio

    loop = asyncio.get_running_loop()
    log: dict[str, list[Any]] = defaultdict(list)
    token = common.simulator_token()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
        twilio = Twilio(session, webs, token)  # the softphone's leg is Twilio's webhook
        web = itertools.cycle(staff or webs)  # the console's API: the staff's processes, if any

        class Console:
            def __init__(self, agent: Agent) -> None:
                self.agent = agent
                self.item: int | None = None
                self.leg = ""
                self.free_since: float | None = None
                self.hello = asyncio.Event()
                # As console/socket.js: Socket.IO's client reconnects, and the console then
                # re-fetches its state (here: nothing held is lost, so nothing to re-fetch).
                self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5)
                self.sio.on("hello", self.on_hello, namespace="/staff")
                self.sio.on("disconnect", self.on_disconnect, namespace="/staff")
                self.sio.on("offer", self.on_offer, namespace="/staff")
                self.sio.on("offer.cancelled", self.on_cancelled, namespace="/staff")
                self.sio.on("presence.changed", self.on_presence, namespace="/staff")
                self.headers = {
                    "Cookie": f"session={agent.cookie}",
                    "User-Agent": USER_AGENT,
                    "X-CSRFToken": agent.csrf,
                    "Accept": "application/json",
                }

            async def api(self, path: str, body: dict[str, Any]) -> int:
                started = time.time()
                try:
                    async with session.post(
                        next(web) + "/console/api/" + path, json=body, headers=self.headers,
                        timeout=aiohttp.ClientTimeout(total=60),
                    ) as response:
                        answer = await response.read()
                        status = response.status
                        if status >= 400 and status != 409:
                            log["refused"].append((path, status, answer[:300].decode(errors="replace")))
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                log["api"].append((path.split("/")[-1], started, time.time() - started, status))
                return status

            async def on_hello(self, data: Any) -> None:
                if self.hello.is_set():  # back after a drop: the agent says "available" again
                    log["reconnects"].append((self.agent.id, time.time()))
                    if self.item is None:
                        loop.create_task(self.api("presence", {"state": "available"}))
                self.hello.set()

            async def on_disconnect(self, *reason: Any) -> None:
                log["disconnects"].append((self.agent.id, time.time(), str(reason[:1])))

            async def on_offer(self, data: dict[str, Any]) -> None:
                received = time.time()
                item = data["work_item"]
                log["offers"].append((self.agent.id, item["id"], item["ref_id"], received, self.free_since))
                self.free_since = None
                loop.create_task(self.accept(item["id"], item["ref_id"]))

            async def accept(self, item_id: int, ref_id: int) -> None:
                status = await self.api(f"work/{item_id}/accept", {})
                log["accepts"].append((self.agent.id, item_id, ref_id, time.time(), status))
                if status != 200:
                    return
                self.item, self.leg = item_id, "CA" + uuid.uuid4().hex
                # The agent's softphone (Twilio Voice SDK) joins: Twilio asks the TwiML App's URL.
                await twilio.post("/telephony/voice/client", self.leg_form("ringing", WorkItemId=str(item_id)))

            def leg_form(self, status: str, **more: str) -> dict[str, str]:
                identity = f"client:agent:{self.agent.id}"
                return {
                    "CallSid": self.leg, "AccountSid": "AC" + "0" * 32, "From": identity, "Caller": identity,
                    "To": "", "CallStatus": status, "Direction": "inbound", "ApiVersion": "2010-04-01", **more,
                }

            async def on_cancelled(self, data: dict[str, Any]) -> None:
                log["cancelled"].append((self.agent.id, data.get("work_item_id"), time.time()))

            async def on_presence(self, data: dict[str, Any]) -> None:
                if data.get("state") == "wrap_up" and self.item is not None:
                    loop.create_task(self.wrap_up(self.item))
                elif data.get("state") == "offline":
                    log["offline"].append((self.agent.id, time.time(), data.get("reason")))
                elif data.get("state") == "available" and data.get("reason") != "wrap_up_done" and self.free_since is None:
                    self.free_since = time.time()  # freed by the server (wrap-up time over, offer taken back)

            async def wrap_up(self, item_id: int) -> None:
                if self.leg:
                    leg, self.leg = self.leg, ""
                    form = self.leg_form("completed", CallDuration=str(int(args.talk)))
                    form["CallSid"] = leg
                    await twilio.post("/telephony/voice/status", form)
                await asyncio.sleep(args.wrap_up)
                self.item = None
                freed = time.time()
                self.free_since = freed
                status = await self.api(f"work/{item_id}/wrap-up", {"disposition": DISPOSITION})
                log["wrap_ups"].append((self.agent.id, item_id, freed, status))

            async def start(self) -> None:
                await self.sio.connect(
                    realtime, namespaces=["/staff"], transports=["websocket"], auth={"console": True},
                    headers={"Cookie": f"session={self.agent.cookie}", "User-Agent": USER_AGENT}, wait_timeout=60,
                )
                await asyncio.wait_for(self.hello.wait(), 30)
                self.free_since = time.time()
                if await self.api("presence", {"state": "available"}) != 200:
                    raise RuntimeError(f"agent {self.agent.id} could not go available: {log['refused'][-1:]}")

        consoles = [Console(agent) for agent in agents]
        await asyncio.gather(*(c.start() for c in consoles))
        pipe.send("ready")
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        stopping = time.time()
        await asyncio.gather(*(c.sio.disconnect() for c in consoles), return_exceptions=True)
        log["disconnects"] = [d for d in log["disconnects"] if d[1] < stopping]
        pipe.send({**log, "hits": [(h.path, h.started, h.seconds, h.status) for h in twilio.hits]})


# --- servers ----------------------------------------------------------------------------------


class Site:
    """The production layout on loopback: web processes, realtime, worker (or bare Flask)."""

    def __init__(self, env: dict[str, str], args: argparse.Namespace, *, bare: bool = False, root: Path = common.ROOT) -> None:
        self.webs: list[Gunicorn] = []
        self.staff: list[Gunicorn] = []  # --staff-web: the console API and pages apart from webhooks
        self.realtime: Gunicorn | None = None
        self.worker: common.Worker | None = None
        try:
            target = "bench.bare_flask:app" if bare else "wsgi:app"
            for n in range(args.web):
                self.webs.append(Gunicorn(f"web {n + 1}", target, env, threads=args.threads, root=root))
            if not bare:
                # The console API is a few requests a second: 8 threads and a pool to match, so the
                # processes together stay inside PostgreSQL's 100 connections (a third process with
                # the webhooks' 20 + 20 hit "too many clients" here).
                staff_env = {**env, "DATABASE_POOL_SIZE": "8", "DATABASE_MAX_OVERFLOW": "4"}
                for n in range(args.staff_web):
                    self.staff.append(Gunicorn(f"staff web {n + 1}", target, staff_env, threads=8, root=root))
                self.realtime = Gunicorn(
                    "realtime", "wsgi_realtime:app", env, worker_class="gevent", root=root,
                    extra=["--worker-connections", "1000"],
                )
                self.worker = common.Worker(env, root=root, log=Path(tempfile.gettempdir()) / "halopmi-bench-worker.log")
        except BaseException:
            self.stop()
            raise

    def pids(self) -> dict[str, list[int]]:
        out = {"web": [p for w in [*self.webs, *self.staff] for p in w.worker_pids()]}
        if self.realtime is not None:
            out["realtime"] = self.realtime.worker_pids()
        if self.worker is not None:
            out["worker"] = [self.worker.process.pid, *common.child_pids(self.worker.process.pid)]
        return out

    def stop(self) -> None:
        for process in [self.worker, self.realtime, *self.staff, *self.webs]:
            if process is not None:
                process.stop()


def prepare(env: dict[str, str], root: Path) -> None:
    """Schema, an always-open call centre (a crisis line does not close), and no rq job or
    simulated call left in Redis by an earlier run (its worker would run them here)."""
    from redis import Redis
    from sqlalchemy import create_engine, text

    redis = Redis.from_url(env["REDIS_URL"])
    for pattern in ("rq:*", "halopmi:telephony-sim:*"):
        for key in redis.scan_iter(match=pattern, count=1000):
            redis.delete(key)
    redis.close()
    common.create_schema(env, root)
    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE sla_calendars SET always_open = true"))
    engine.dispose()


def burst(args: argparse.Namespace, root: Path = common.ROOT, label: str = "halopmi") -> dict[str, Any]:
    """One burst against halopmi (the code under ``root``); the raw figures."""
    channel = f"halopmi-bench-burst-{uuid.uuid4().hex[:8]}"
    env = common.server_env(
        common.fresh_database(common.database_name("burst")),
        RATELIMIT_STORAGE_URI=common.REDIS,
        SOCKETIO_CHANNEL=channel,
        PYTHONPATH=str(root),
    )
    prepare(env, root)
    agents = common.seed_agents(env, args.agents, languages=lambda n: ("id", "en"))
    site = Site(env, args, root=root)
    swarms: list[tuple[Any, Connection]] = []
    try:
        webs = [w.url for w in site.webs]
        context = multiprocessing.get_context("spawn")
        for n in range(max(1, min(args.agent_processes, args.agents))):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_agents_process,
                args=(
                    site.realtime.url,  # type: ignore[union-attr]
                    webs,
                    [w.url for w in site.staff],
                    agents[n :: args.agent_processes],
                    args,
                    theirs,
                ),
                daemon=True,
            )
            process.start()
            swarms.append((process, ours))
        for _, pipe in swarms:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise SystemExit("the agents' consoles did not connect within 120 s")
        time.sleep(1.0)
        spies = profile(site, args.profile, label)
        meter = common.CpuMeter(site.pids())
        start = time.time() + 0.5
        result = asyncio.run(run_callers(webs, args, env["REDIS_URL"], start))
        result["wall"] = time.time() - start
        time.sleep(2.0)  # the last status callbacks' effects, the last wrap-ups
        result["cpu"] = meter.stop()
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=60)
        merged: dict[str, list[Any]] = defaultdict(list)
        for _, pipe in swarms:
            pipe.send("stop")
        for process, pipe in swarms:
            if not pipe.poll(60):
                raise SystemExit("the agents did not report")
            for key, values in pipe.recv().items():
                merged[key] += values
            process.join(timeout=10)
        result["agents"] = dict(merged)
    finally:
        for process, _ in swarms:
            if process.is_alive():
                process.kill()
        site.stop()
    result["database"] = database_facts(env["DATABASE_URL"], [c.sid for c in result["callers"]])
    result["label"] = label
    return result


def profile(site: Site, directory: str, label: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on each web process (only the threads holding the GIL: where CPU goes)."""
    if not directory:
        return []
    Path(directory).mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    name = label.replace("/", "_").replace("~", "-")
    return [
        subprocess.Popen(  # noqa: S603 - py-spy from our virtualenv
            [spy, "record", "--gil", "-f", "raw", "-r", "200", "-p", str(pid), "-o", f"{directory}/{name}-web{n}.txt"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for n, pid in enumerate(site.pids()["web"], start=1)
    ]


def baseline(args: argparse.Namespace) -> dict[str, Any]:
    """The same callers against bare Flask on the same gunicorn processes and settings."""
    env = common.server_env("postgresql+psycopg://unused/unused")
    site = Site(env, args, bare=True)
    try:
        meter = common.CpuMeter(site.pids())
        start = time.time() + 0.5
        result = asyncio.run(run_callers([w.url for w in site.webs], args, None, start))
        result["wall"] = time.time() - start
        result["cpu"] = meter.stop()
    finally:
        site.stop()
    return result


def database_facts(url: str, sids: list[str]) -> dict[str, Any]:
    """What the database recorded about the burst's calls and the agents."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        calls = dict(conn.execute(text("SELECT call_sid, id FROM calls")).all())
        kinds: dict[int, set[str]] = defaultdict(set)
        for call_id, kind in conn.execute(text("SELECT call_id, kind FROM call_events")):
            kinds[call_id].add(kind)
        accepted = conn.execute(
            text(
                "SELECT w.ref_id, count(DISTINCT e.agent_id) FROM routing_events e JOIN work_items w ON w.id = e.work_item_id"
                " WHERE e.kind = 'accepted' AND w.kind = 'call' GROUP BY w.ref_id HAVING count(DISTINCT e.agent_id) > 1"
            )
        ).all()
        states = conn.execute(
            text(
                "SELECT agent_id, to_state, extract(epoch FROM at) FROM agent_state_events"
                " WHERE agent_id IN (SELECT id FROM users WHERE role = 'agent') ORDER BY agent_id, id"
            )
        ).all()
        offers = conn.scalar(text("SELECT count(*) FROM routing_events WHERE kind = 'offered'"))
    engine.dispose()
    ended = {"offered", "abandoned", "voicemail", "left_queue"}
    reached = [calls[sid] for sid in sids if sid in calls]
    lost = [call_id for call_id in reached if not (kinds[call_id] & ended)]
    freed: list[tuple[float, float]] = []  # (available at, offered at) in the database's clock
    for (_, rows) in itertools.groupby(states, key=lambda r: r[0]):
        previous: tuple[str, float] | None = None
        for _, to_state, at in rows:
            if previous is not None and previous[0] == "available" and to_state == "offered":
                freed.append((previous[1], float(at)))
            previous = (to_state, float(at))
    return {
        "reached": len(reached),
        "missing": len(sids) - len(reached),
        "lost": len(lost),
        "double_accepted": len(accepted),
        "freed": freed,
        "offers": int(offers or 0),
        "calls": calls,
    }


# --- figures ----------------------------------------------------------------------------------


def deep_backlog(callers: list[Caller], agents: int) -> list[tuple[float, float]]:
    """The spans of time in which more callers waited in the queue than there were agents (a
    free agent then always has a call to take)."""
    moves = sorted(
        [(c.enqueued_at, 1) for c in callers if c.enqueued_at is not None]
        + [(c.left_at, -1) for c in callers if c.left_at is not None]
    )
    spans: list[tuple[float, float]] = []
    waiting, since = 0, None
    for at, step in moves:
        waiting += step
        if waiting > agents and since is None:
            since = at
        elif waiting <= agents and since is not None:
            spans.append((since, at))
            since = None
    return spans


def within(spans: list[tuple[float, float]], at: float) -> bool:
    return any(start <= at < end for start, end in spans)


def double_offers(agents_log: dict[str, list[Any]], wrap_ups: dict[tuple[int, int], float]) -> int:
    """Calls offered to an agent while another agent still held the offer or the call."""
    ends: dict[tuple[int, int], float] = {}
    for agent_id, item_id, _, at, status in agents_log.get("accepts", []):
        ends[(agent_id, item_id)] = wrap_ups.get((agent_id, item_id), float("inf")) if status == 200 else at
    for agent_id, item_id, at in agents_log.get("cancelled", []):
        ends.setdefault((agent_id, item_id), at)
    by_call: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    for agent_id, item_id, ref_id, received, _ in agents_log.get("offers", []):
        by_call[ref_id].append((received, ends.get((agent_id, item_id), float("inf")), agent_id))
    doubles = 0
    for spans in by_call.values():
        spans.sort()
        if any(b[0] < a[1] and b[2] != a[2] for a, b in itertools.pairwise(spans)):
            doubles += 1
    return doubles


def summarise(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    callers: list[Caller] = result["callers"]
    agents_log = result.get("agents", {})
    hits = [(h.path, h.started, h.seconds, h.status) for h in result["hits"]] + list(agents_log.get("hits", []))
    seconds = [h[2] for h in hits]
    outcomes: dict[str, int] = defaultdict(int)
    for c in callers:
        outcomes[c.outcome] += 1
    by_path: dict[str, list[float]] = defaultdict(list)
    for path, _, took, _ in hits:
        by_path[path.rsplit("/", 1)[-1]].append(took)
    out: dict[str, Any] = {
        "webhooks": len(hits),
        "latency": quantiles_ms(seconds),
        "over_5s": sum(1 for s in seconds if s > 5),
        "over_15s": sum(1 for s in seconds if s > 15),
        "errors": sum(1 for h in hits if h[3] == 0 or h[3] >= 500),
        "outcomes": dict(outcomes),
        "by_path_p99_ms": {p: round(quantiles_ms(v)["p99"], 1) for p, v in sorted(by_path.items())},
        "dial_lag_s": round(result["dial_lag"], 3),
        "web_cpu_ms": 1000 * result["cpu"]["web"] / max(1, len(hits) + len(agents_log.get("api", []))),
        "wall_s": round(result["wall"], 1),
    }
    if "database" not in result:
        return out
    deep = deep_backlog(callers, args.agents)
    wrap_ups = {(a, i): freed for a, i, freed, _ in agents_log.get("wrap_ups", [])}
    console = [received - free for _, _, _, received, free in agents_log.get("offers", []) if free is not None and within(deep, free)]
    database = result["database"]
    server = [offered - available for available, offered in database["freed"] if within(deep, available)]
    first = min(c.dialled_at for c in callers)
    left = [c.left_at for c in callers if c.left_at is not None]
    answered = outcomes.get("answered", 0)
    api = agents_log.get("api", [])
    accepted_at = {ref: at for _, _, ref, at, status in agents_log.get("accepts", []) if status == 200}
    connect = [
        c.left_at - accepted_at[database["calls"][c.sid]]
        for c in callers
        if c.outcome == "answered" and c.left_at is not None and database["calls"].get(c.sid) in accepted_at
    ]
    out.update(
        lost=database["lost"] + database["missing"],
        stuck=sum(1 for c in callers if c.outcome in ("gave_up", "unfinished")),
        doubles=max(double_offers(agents_log, wrap_ups), database["double_accepted"]),
        double_detail={"consoles": double_offers(agents_log, wrap_ups), "accepted twice": database["double_accepted"]},
        offers=database["offers"],
        free_db=quantiles_ms(server),
        free_db_n=len(server),
        free_console=quantiles_ms(console),
        free_console_n=len(console),
        connect=quantiles_ms(connect),
        connect_n=len(connect),
        cleared=(max(left) - first) if left else float("nan"),
        floor=answered * (args.talk + args.wrap_up) / args.agents + 3 * args.think,
        cpu=result["cpu"],
        console_api_p99_ms=round(quantiles_ms([a[2] for a in api])["p99"], 1),
        console_api_errors=sum(1 for a in api if a[3] == 0 or a[3] >= 500),
        console_drops=len(agents_log.get("disconnects", [])),
        first_drops=[(a, round(at - first, 1), why) for a, at, why in agents_log.get("disconnects", [])[:3]],
        console_reconnects=len(agents_log.get("reconnects", [])),
        set_offline=len(agents_log.get("offline", [])),
    )
    return out


def rows_for(name: str, ours: dict[str, Any], base: dict[str, Any] | None, args: argparse.Namespace) -> list[Row]:
    size = f"{args.calls} calls in {args.spread:g} s, {args.agents} agents, {ours['webhooks']} webhooks"
    conditions = (
        f"{args.web} web processes (gunicorn gthread {args.threads} threads)"
        + (f" + {args.staff_web} for the console API" if args.staff_web else "")
        + " + realtime (gevent) + 1 worker, "
        f"PostgreSQL+Redis, loopback, {common.machine()}; think {args.think:g} s, hold cycle {args.hold_cycle:g} s, "
        f"talk {args.talk:g} s, wrap-up {args.wrap_up:g} s, {args.abandon:.0%} abandon"
    )
    vs_bare = f"baseline: bare Flask, same callers and gunicorn settings; {conditions}"
    b = base["latency"] if base else {}
    label = "" if name == "halopmi" else f" [{name}]"
    return [
        Row(f"burst{label}: lost calls", ours["lost"], None, size, f"{ours['stuck']} callers still waiting at the deadline; {conditions}"),
        Row(f"burst{label}: double offers", ours["doubles"], None, f"{ours['offers']} offers", f"{ours['double_detail']}; {conditions}"),
        Row(f"burst{label}: webhook p50 (ms)", ours["latency"]["p50"], b.get("p50"), size, vs_bare),
        Row(f"burst{label}: webhook p99 (ms)", ours["latency"]["p99"], b.get("p99"), size, vs_bare),
        Row(f"burst{label}: webhook max (ms)", ours["latency"]["max"], b.get("max"), size, vs_bare),
        Row(f"burst{label}: webhooks over 5 s", ours["over_5s"], base["over_5s"] if base else None, size, vs_bare),
        Row(f"burst{label}: webhooks over 15 s (Twilio's timeout)", ours["over_15s"], base["over_15s"] if base else None, size, vs_bare),
        Row(f"burst{label}: free agent -> offer, database, p50 (ms)", ours["free_db"]["p50"], None, f"{ours['free_db_n']} offers",
            f"agent state events available -> offered while more callers waited than agents; {conditions}"),
        Row(f"burst{label}: free agent -> offer, database, p99 (ms)", ours["free_db"]["p99"], None, f"{ours['free_db_n']} offers",
            f"agent state events available -> offered while more callers waited than agents; {conditions}"),
        Row(f"burst{label}: free agent -> offer, console, p99 (ms)", ours["free_console"]["p99"], None, f"{ours['free_console_n']} offers",
            f"wrap-up POST sent -> offer event received; {conditions}"),
        Row(f"burst{label}: console API answered, p99 (ms)", ours["console_api_p99_ms"], None, f"{args.agents} agents",
            f"the agents' accept, wrap-up and presence POSTs, sent -> answered; "
            f"{ours['console_api_errors']} errors or time-outs; {conditions}"),
        Row(f"burst{label}: consoles dropped during the burst", ours["console_drops"], None, f"{args.agents} consoles",
            f"Socket.IO disconnects before the end ({ours['console_reconnects']} reconnected, "
            f"{ours['set_offline']} agents set offline); {conditions}"),
        Row(f"burst{label}: agent accepts -> caller moved to the agent, p99 (ms)", ours["connect"]["p99"], None,
            f"{ours['connect_n']} calls", f"accept answered -> the redirect reached Twilio (outbox, rq, REST); p50 {ours['connect']['p50']:.0f} ms; {conditions}"),
        Row(f"burst{label}: web CPU per request (ms)", ours["web_cpu_ms"], base["web_cpu_ms"] if base else None, size,
            f"CPU seconds of the web processes / their requests (webhooks and console API); {vs_bare}"),
        Row(f"burst{label}: backlog cleared (s after the first call)", ours["cleared"], ours["floor"], size,
            f"baseline: the agents' own floor (answered x (talk + wrap-up) / agents + IVR); {conditions}"),
    ]


def measure(args: argparse.Namespace) -> list[Row]:
    results: list[tuple[str, dict[str, Any]]] = []
    against = None
    try:
        if args.against:
            against = common.checkout(args.against)
            results.append((args.against, summarise(burst(args, against, args.against), args)))
        results.insert(0, ("halopmi", summarise(burst(args), args)))
    finally:
        if against is not None:
            shutil.rmtree(against, ignore_errors=True)
    base = None if args.no_baseline else summarise(baseline(args), args)
    for name, figures in results:
        print(f"bench_burst [{name}]:", json.dumps({k: v for k, v in figures.items() if k not in ("latency",)}, default=str))
    if base is not None:
        print("bench_burst [bare Flask]:", json.dumps(base, default=str))
    rows: list[Row] = []
    for name, figures in results:
        rows += rows_for(name, figures, base, args)
    return rows


if __name__ == "__main__":
    common.main(sys.modules[__name__])
