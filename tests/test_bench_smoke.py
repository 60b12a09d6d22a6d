"""The benchmarks' runner and interface work (``python3 run.py bench``). Nothing here times anything:
benchmarks print figures, tests do not assert speeds.

Every ``bench/bench_*.py`` offers ``add_arguments``, ``QUICK`` and ``measure(args) -> [Row]``;
the runner runs one in a process of its own and prints one table; the crisis burst's bookkeeping
(double offers, the backlog, the TwiML it follows) is checked on made-up data, and (PostgreSQL,
slow) a tiny burst runs end to end through the real servers.
"""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench import common, run_all
from bench.common import Row


def test_every_benchmark_offers_the_runners_interface():
    names = run_all.available()
    assert set(names) == {p.stem.removeprefix("bench_") for p in Path(run_all.HERE).glob("bench_*.py")}
    assert names[:3] == ["webhooks", "hold", "burst"]
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        assert callable(module.measure) and callable(module.add_arguments), name
        defaults = vars(common.default_args(module))
        quick = vars(common.default_args(module, quick=True))
        assert module.QUICK, f"bench_{name} has no --quick sizes"
        for option, value in module.QUICK.items():
            assert option in defaults, f"bench_{name}: QUICK names an unknown option {option!r}"
            assert quick[option] == value
        table = vars(common.default_args(module, table=True))
        for option, value in getattr(module, "TABLE", {}).items():
            assert option in defaults, f"bench_{name}: TABLE names an unknown option {option!r}"
            assert table[option] == value
    # The crisis figures the targets are about run at full size in the table: 1,000 calls
    # in 10 s to 50 agents, 1,000 consoles (only measuring windows may be shorter).
    for name in ("webhooks", "burst", "consoles"):
        table = getattr(importlib.import_module(f"bench.bench_{name}"), "TABLE", {})
        assert not set(table) & {"calls", "agents", "spread", "consoles", "clients", "rate"}, name


def test_quick_sizes_yield_to_options_given_on_the_command_line():
    module = importlib.import_module("bench.bench_burst")
    args = common.default_args(module)
    args.calls = 7
    common.apply_quick(module, args, explicit=["--calls=7"])
    assert args.calls == 7 and args.agents == module.QUICK["agents"]


def test_rows_print_as_one_table_with_ratios_and_sections():
    rows = [
        Row("webhook p99 (ms)", 250.0, 50.0, "1,000 calls", "2 web processes"),
        Row("lost calls", 0, None, "1,000 calls", "-"),
    ]
    assert rows[0].ratio == 5.0 and rows[1].ratio is None
    assert rows[0].as_dict()["ratio"] == 5.0
    table = common.format_rows(rows, {0: ["bench_burst: 60 s"], 2: ["bench_x: 1 s; FAILED: boom"]}).splitlines()
    assert table[0].split() == ["figure", "value", "baseline", "ratio", "data", "size", "conditions"]
    assert table[2] == "[bench_burst: 60 s]"
    assert table[3].split()[:6] == ["webhook", "p99", "(ms)", "250", "50", "5.00"]
    assert table[4].split()[:5] == ["lost", "calls", "0", "-", "-"]
    assert table[-1] == "[bench_x: 1 s; FAILED: boom]"


@pytest.mark.slow  # the demo loaded three times in a spawned process
def test_the_runner_runs_a_benchmark_in_a_process_of_its_own_into_one_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATABASE_URL", "postgresql+psycopg://unused/unused")  # the demo uses SQLite
    log = tmp_path / "bench.log"
    assert run_all.main(["demo", "--quick", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "[bench_demo:" in out
    assert "demo load: whole demo, 3 days of calls, CPU (s)" in out
    assert "1 of 1 benchmarks" in out
    assert "===== bench_demo (quick sizes) =====" in log.read_text()  # its own output went to the log


def test_the_runner_names_an_unknown_benchmark(capsys):
    with pytest.raises(SystemExit):
        run_all.main(["no_such_one"])
    assert "no such benchmark: no_such_one" in capsys.readouterr().err


# --- the crisis burst's bookkeeping --------------------------------------------------------------


def test_the_burst_follows_the_apps_twiml(app):
    from app.telephony import twiml
    from bench.bench_burst import next_step

    with app.test_request_context("/telephony/voice/topic"):
        menu = str(twiml.language_menu())
        queue = str(twiml.enqueue("en", "emergency"))
        voicemail = str(twiml.voicemail("id"))
    assert next_step(menu) == ("gather", {"action": "/telephony/voice/language"})
    assert next_step(queue) == (
        "enqueue",
        {"action": "/telephony/voice/queue-exit?lang=en", "wait": "/telephony/voice/wait?lang=en"},
    )
    assert next_step(voicemail)[0] == "record"
    assert next_step("not xml")[0] == "end"


def test_double_offers_are_offers_of_one_call_to_two_agents_at_once():
    from bench.bench_burst import double_offers

    log = {
        # (agent, work item, call, received, free since)
        "offers": [(1, 10, 100, 1.0, None), (2, 11, 100, 2.0, None), (3, 12, 200, 1.0, None), (4, 13, 200, 9.0, None)],
        # (agent, work item, call, at, status): agent 1 still holds call 100 when agent 2 is offered it
        "accepts": [(1, 10, 100, 1.1, 200), (2, 11, 100, 2.1, 409), (3, 12, 200, 1.1, 409), (4, 13, 200, 9.1, 200)],
        "cancelled": [],
    }
    wrap_ups = {(1, 10): 5.0, (4, 13): 12.0}  # agent 3's offer of call 200 ended at 1.1 (gone)
    assert double_offers(log, wrap_ups) == 1


def test_the_deep_backlog_is_where_more_callers_wait_than_there_are_agents():
    from bench.bench_burst import Caller, deep_backlog, within

    def caller(n: int, enqueued: float, left: float) -> Caller:
        return Caller(n, f"CA{n}", "+85290000000", ("1", "", "9"), (0.0, 0.0, 0.0), None, enqueued_at=enqueued, left_at=left)

    callers = [caller(1, 0.0, 10.0), caller(2, 1.0, 4.0), caller(3, 2.0, 3.0)]
    spans = deep_backlog(callers, agents=1)  # 2 waiting from 1 s, 3 from 2 s, 2 until 4 s, then 1
    assert spans == [(1.0, 4.0)]
    assert within(spans, 3.5) and not within(spans, 0.5) and not within(spans, 4.0)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_tiny_burst_runs_through_the_real_servers(redis_url, monkeypatch):
    """Six callers, two agents, a web process for the webhooks and one for the console API
    (``--staff-web``), the realtime process and a worker: every call ends answered or abandoned,
    none lost, none offered twice, no console request failed (no timing asserted)."""
    from bench import bench_burst

    url = urlsplit(os.environ["TEST_DATABASE_URL"])
    monkeypatch.setattr(common, "PG", f"{url.scheme}://{url.netloc}")
    monkeypatch.setattr(common, "DB_PREFIX", f"{url.path.lstrip('/')}_bench")
    monkeypatch.setattr(common, "REDIS", redis_url)
    args = common.default_args(bench_burst)
    for option, value in dict(
        calls=6, agents=2, spread=1.0, think=0.2, hold_cycle=1.0, talk=0.2, wrap_up=0.1, abandon=0.0,
        deadline=60.0, threads=4, no_baseline=True, web=1, staff_web=1,
    ).items():
        setattr(args, option, value)
    figures = bench_burst.summarise(_apart(bench_burst.burst, args), args)
    assert figures["outcomes"] == {"answered": 6}
    assert figures["lost"] == 0 and figures["stuck"] == 0 and figures["doubles"] == 0
    assert figures["errors"] == 0 and figures["console_api_errors"] == 0
    rows = bench_burst.rows_for("halopmi", figures, None, args)
    assert {r.figure for r in rows} >= {"burst: lost calls", "burst: double offers", "burst: webhook p99 (ms)"}


def _apart(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a thread of its own: the burst calls asyncio.run, which refuses to
    start while another event loop runs in this thread, as Playwright's sync API leaves one
    running once a browser test ran earlier in the same session."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="burst")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
