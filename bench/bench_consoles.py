"""Benchmark: 1,000 live agent consoles on one realtime process, and what they cost the webhooks.

Run from the repository root (needs the local PostgreSQL and Redis)::

    .venv/bin/python bench/bench_consoles.py                      # 1,000 consoles, ~2 minutes
    .venv/bin/python bench/bench_consoles.py --consoles 300 --seconds 10

The production layout of the README ("Production deployment") on loopback, as two gunicorn
processes: the web process (``-k gthread -w 1 --threads 16 wsgi:app``: pages, API, Twilio's
webhooks) and one realtime process (``-k gevent -w 1 wsgi_realtime:app``: ``/socket.io/`` only),
``HALOPMI_CONFIG=production``, PostgreSQL database ``<BENCH_DB_PREFIX>_consoles`` (made afresh),
Redis (``BENCH_REDIS_URL``) with a channel of its own (servers and sessions: ``bench/common.py``). ``--consoles`` agents (one console
each; half of them take English calls, so ``queue:en`` holds half the consoles) get session cookies
minted with the server's secret, exactly what signing in stores (Flask-Login's ``login_user`` in a
request from this address and User-Agent): 1,000 scrypt logins would take minutes and hit the
login rate limit. Consoles are python-socketio asyncio clients over WebSocket, spread over
``--client-processes`` processes, and connect with ``auth={"console": true}`` as ``console/socket.js``
does, so the realtime process runs the real connect handler (role check, rooms, presence write).

Measured in the same run:

1. **webhooks at 50 req/s, no consoles** (the baseline): signed ``POST /telephony/voice/inbound``,
   each a new call, open loop at ``--rate`` (request generation from ``bench_webhooks.py``);
2. **the same with every console connected** (pings, the console heartbeat's presence writes);
   windows in the order none, consoles, consoles, none (after they disconnect), each figure the
   mean of its two windows, so a machine that gets busier or quieter meanwhile cancels out;
3. **event delivery to the consoles of ``queue:en``** (half of them): ``--events`` events emitted
   through Redis by a write-only emitter (what web processes and rq workers do), time from emit to
   each console's receipt, against the baseline of delivery to one console (its ``user:`` room);
4. **memory per console**: the realtime process's RSS with every console connected, less its RSS
   before the first one, divided by the consoles, against the idle process's RSS;
5. connecting every console (the reload storm after a deploy): wall time.

This is not a test: it asserts nothing about speed. :func:`measure` returns the rows (figure,
value, baseline, ratio, size, conditions) to the runner (``python3 run.py bench``); ``--json``
prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import REDIS, USER_AGENT, CpuMeter, Gunicorn, Row, fixed_rate, quantiles_ms  # noqa: E402

EVENT = "bench.ping"
QUICK = {"consoles": 200, "seconds": 5.0, "events": 10}
TABLE = {"seconds": 10.0}  # run.py bench: 1,000 consoles, shorter webhook windows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--consoles", type=int, default=1000, help="consoles (one agent each) to connect")
    parser.add_argument("--client-processes", type=int, default=2, help="processes the console clients run in")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each webhook window")
    parser.add_argument("--rate", type=float, default=50.0, help="webhooks per second in each window")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn --threads of the web process")
    parser.add_argument("--events", type=int, default=20, help="events emitted for each delivery figure")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between two emitted events")


# --- console clients (each client process runs an asyncio loop) ---------------------------


def _client_process(url: str, agents: list[common.Agent], pipe: Connection) -> None:
    asyncio.run(_consoles(url, agents, pipe))


async def _consoles(url: str, agents: list[common.Agent], pipe: Connection) -> None:
    import socketio

    loop = asyncio.get_running_loop()
    latencies: dict[str, list[float]] = {}
    other_events = [0]
    clients: list[Any] = []

    def on_event(event: str, data: Any = None) -> None:
        now = time.time()
        if event == EVENT and isinstance(data, dict):
            latencies.setdefault(str(data["label"]), []).append(now - float(data["t"]))
        elif event != "hello":
            other_events[0] += 1

    hellos = [0]

    async def connect(cookie: str) -> None:
        client = socketio.AsyncClient(reconnection=False)

        def on_any(event: str, *args: Any) -> None:
            if event == "hello":
                hellos[0] += 1
            on_event(event, args[0] if args else None)

        client.on("*", on_any, namespace="/staff")
        clients.append(client)
        await client.connect(
            url,
            namespaces=["/staff"],
            transports=["websocket"],
            auth={"console": True},
            headers={"Cookie": f"session={cookie}", "User-Agent": USER_AGENT},
            wait_timeout=60,
        )

    gate = asyncio.Semaphore(50)  # a browser reload storm, 50 handshakes in flight per client process

    async def gated(cookie: str) -> None:
        async with gate:
            await connect(cookie)

    results = await asyncio.gather(*(gated(agent.cookie) for agent in agents), return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    deadline = time.monotonic() + 30
    while hellos[0] < len(agents) - len(failures) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    pipe.send({"connected": hellos[0], "failures": failures[:3], "failed": len(failures)})
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "report":
            pipe.send(
                {
                    "latencies": latencies,
                    "other_events": other_events[0],
                    "connected": sum(1 for c in clients if c.connected),
                }
            )
            latencies.clear()
            other_events[0] = 0
        elif command == "stop":
            break
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    pipe.send("stopped")


class ConsoleSwarm:
    """Consoles spread over client processes (each an asyncio loop with many sockets)."""

    def __init__(self, url: str, agents: list[common.Agent], processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for i in range(processes):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_client_process, args=(url, agents[i::processes], theirs), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def wait_connected(self, timeout: float = 600) -> dict[str, Any]:
        total: dict[str, Any] = {"connected": 0, "failed": 0, "failures": []}
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise SystemExit("console clients did not finish connecting")
            answer = pipe.recv()
            total["connected"] += answer["connected"]
            total["failed"] += answer["failed"]
            total["failures"] += answer["failures"]
        return total

    def report(self) -> dict[str, Any]:
        latencies: dict[str, list[float]] = {}
        other, connected = 0, 0
        for pipe in self.pipes:
            pipe.send("report")
        for pipe in self.pipes:
            answer = pipe.recv()
            for label, values in answer["latencies"].items():
                latencies.setdefault(label, []).extend(values)
            other += answer["other_events"]
            connected += answer["connected"]
        return {"latencies": latencies, "other_events": other, "connected": connected}

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send("stop")
            except OSError:
                pass
        for pipe in self.pipes:
            if pipe.poll(30):
                pipe.recv()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


# --- measurements -------------------------------------------------------------------------


def deliver(
    swarm: ConsoleSwarm, channel: str, room: str, label: str, events: int, gap: float
) -> dict[str, Any]:
    """Emit ``events`` events to ``room`` through Redis (a write-only emitter, as the web
    processes and workers use) and collect each console's emit-to-receipt time."""
    from flask_socketio import SocketIO

    emitter = SocketIO(message_queue=REDIS, channel=channel, async_mode="threading")
    for seq in range(events):
        emitter.emit(EVENT, {"label": label, "seq": seq, "t": time.time()}, to=room, namespace="/staff")
        time.sleep(gap)
    time.sleep(1.0)  # the last ones arrive
    report = swarm.report()
    values = report["latencies"].get(label, [])
    return {**quantiles_ms(values), "received": len(values)}


def measure(args: argparse.Namespace) -> list[Row]:
    token = common.simulator_token()
    channel = f"halopmi-bench-consoles-{uuid.uuid4().hex[:8]}"
    env = common.server_env(
        common.fresh_database(common.database_name("consoles")),
        RATELIMIT_STORAGE_URI=REDIS,
        SOCKETIO_CHANNEL=channel,
    )
    common.create_schema(env)
    agents = common.seed_agents(env, args.consoles)
    web = Gunicorn("web", "wsgi:app", env, threads=args.threads)
    realtime = None
    swarm = None
    try:
        realtime = Gunicorn(
            "realtime",
            "wsgi_realtime:app",
            env,
            worker_class="gevent",
            extra=["--worker-connections", str(max(1000, 2 * args.consoles + 100))],
        )
        # Warm-up: connections, caches, the pool; 8 s (after a 2 s one, the first window was the
        # slowest of the four in one run of two).
        fixed_rate(web.port, token, args.rate, 8.0, 32)
        without = fixed_rate(web.port, token, args.rate, args.seconds, 32)
        rss_before = realtime.rss_mb()

        started = time.monotonic()
        swarm = ConsoleSwarm(realtime.url, agents, args.client_processes)
        connected = swarm.wait_connected()
        connect_seconds = time.monotonic() - started
        time.sleep(2.0)  # the connect handlers' writes settle
        rss_after = realtime.rss_mb()

        pids = {
            "web": web.worker_pids(),
            "realtime": realtime.worker_pids(),
            "console clients": [p.pid for p in swarm.processes if p.pid],
        }
        meter = CpuMeter(pids)
        with_consoles = fixed_rate(web.port, token, args.rate, args.seconds, 32)
        cpu_webhooks = meter.stop()
        during = swarm.report()  # events the consoles received while the webhooks ran

        one_agent = next(agent.id for agent in agents if "en" in agent.languages)
        with_consoles_2 = fixed_rate(web.port, token, args.rate, args.seconds, 32)
        single = deliver(swarm, channel, f"user:{one_agent}", "one", args.events, args.gap)
        english = sum(1 for agent in agents if "en" in agent.languages)
        meter = CpuMeter(pids)
        fanout = deliver(swarm, channel, "queue:en", "queue", args.events, args.gap)
        cpu_fanout = meter.stop()
        still = swarm.report()["connected"]
        healthy = web.process.poll() is None and realtime.process.poll() is None
        swarm.stop()
        swarm = None
        time.sleep(2.0)
        without_2 = fixed_rate(web.port, token, args.rate, args.seconds, 32)  # A-B-B-A: drift cancels
    finally:
        if swarm is not None:
            swarm.stop()
        if realtime is not None:
            realtime.stop()
        web.stop()

    # Two windows each way, in the order A B B A (no consoles, consoles, consoles, none again):
    # the figure is the mean of the two, so a machine getting busier or quieter cancels out.
    def mean(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
        return float(a[key] + b[key]) / 2

    windows = {"without": (without, without_2), "with": (with_consoles, with_consoles_2)}
    calls = with_consoles["requests"] + with_consoles_2["requests"]
    per_console_kb = (rss_after - rss_before) * 1024 / max(1, connected["connected"])
    n = connected["connected"]
    extra = {
        "consoles_connected": n,
        "connect_failures": connected["failed"],
        "first_failures": connected["failures"],
        "consoles_still_connected": still,
        "servers_alive": healthy,
        "webhook_errors": {name: sum(w["errors"] for w in pair) for name, pair in windows.items()},
        "webhook_p99_windows_ms": {name: [round(w["p99"], 1) for w in pair] for name, pair in windows.items()},
        "events_received_while_webhooks_ran": during["other_events"],
        "cpu_seconds_during_webhooks_with_consoles": cpu_webhooks,
        "cpu_seconds_during_fanout": cpu_fanout,
        "max_ms": {
            "webhooks_without": max(w["max"] for w in windows["without"]),
            "webhooks_with": max(w["max"] for w in windows["with"]),
            "fanout": fanout["max"],
            "single": single["max"],
        },
    }
    print("bench_consoles:", json.dumps(extra))
    conditions = (
        f"web gunicorn gthread {args.threads} threads + realtime gunicorn gevent, 1 worker each, "
        f"{args.client_processes} client processes, loopback, PostgreSQL+Redis, {common.machine()}; "
        f"{connected['failed']} consoles refused"
    )
    webhooks = f"baseline: no consoles; mean of 2 windows of {args.seconds:g} s each way, A-B-B-A; {conditions}"
    delivered = f"{fanout['received']} deliveries of {args.events * english}"
    return [
        Row(f"webhooks at {args.rate:.0f} req/s with {n} consoles, p99 (ms)",
            mean(*windows["with"], "p99"), mean(*windows["without"], "p99"), f"{calls} calls each way", webhooks),
        Row(f"webhooks at {args.rate:.0f} req/s with {n} consoles, p50 (ms)",
            mean(*windows["with"], "p50"), mean(*windows["without"], "p50"), f"{calls} calls each way", webhooks),
        Row(f"event delivery to {english} consoles (queue:en), p50 (ms)", fanout["p50"], single["p50"], delivered,
            f"baseline: to 1 console; {conditions}"),
        Row(f"event delivery to {english} consoles (queue:en), p99 (ms)", fanout["p99"], single["p99"], delivered,
            f"baseline: to 1 console; {conditions}"),
        Row("realtime process memory per console (KB)", per_console_kb, None,
            f"{n} consoles; RSS {rss_before:.0f} MB idle, {rss_after:.0f} MB with them",
            f"(RSS with the consoles - RSS before them) / consoles; {conditions}"),
        Row(f"connecting {n} consoles (s)", connect_seconds, None, f"{n} consoles",
            f"50 handshakes in flight per client process; {conditions}"),
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
