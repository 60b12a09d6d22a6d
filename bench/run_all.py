"""Every benchmark under bench/, one after the other, into one table.

    python3 run.py bench                  # the table: under 15 minutes on 2 cores (make bench)
    python3 run.py bench --full           # every benchmark at its own defaults (the largest sizes)
    python3 run.py bench --quick          # small sizes: a few minutes on 2 cores
    python3 run.py bench --quick burst webhooks   # only these (bench_burst.py, bench_webhooks.py)
    make bench                            # the same as python3 run.py bench

A benchmark is a module ``bench/bench_<name>.py`` with ``add_arguments(parser)``, ``QUICK`` (the
sizes ``--quick`` uses), optionally ``TABLE`` (the sizes the table uses where its defaults would
take too long: the crisis figures — webhooks, the 1,000-call burst, 1,000 consoles — always run
at full size) and ``measure(args) -> list[Row]`` (``bench/common.py``). Each runs in a process of its own (spawned: no state carried from one to the next) and hands
its rows back through a pipe; what it prints on the way goes to the log file named at the end.
The table has one row per figure: figure, value, baseline (measured in the same run), ratio,
data size, conditions. Nothing here asserts a speed.

Needs the local PostgreSQL and Redis (``BENCH_PG``, ``BENCH_REDIS_URL``, ``BENCH_DB_PREFIX``: see
``bench/common.py``); ``BENCH_DATABASE_URL`` (the database the in-process PostgreSQL benchmarks
make their private schemas in) defaults to ``<BENCH_DB_PREFIX>_data``, created if missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402

# The order they run in: the servers' benchmarks first (they matter most in a crisis), the
# data-heavy ones after. A bench_*.py not listed here runs last.
ORDER = (
    "webhooks", "hold", "burst", "consoles", "webhook_cpu", "routing", "import", "ticket_search",
    "sla_sweep", "sla_reports", "supervision", "demo",
)


def available() -> list[str]:
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [name for name in ORDER if name in found] + [name for name in found if name not in ORDER]


def _child(name: str, size: str, log: str, pipe: Connection) -> None:
    """In a spawned process: run one benchmark, its output (and its servers') into ``log``."""
    with open(log, "ab", buffering=0) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - fd 1, now the log
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    print(f"\n===== bench_{name} ({size} sizes) =====", flush=True)
    try:
        module = importlib.import_module(f"bench.bench_{name}")
        rows = module.measure(common.default_args(module, quick=size == "quick", table=size == "table"))
        pipe.send(("rows", [r.as_dict() for r in rows]))
    except BaseException:  # noqa: BLE001 - reported in the table, the rest goes on
        traceback.print_exc()
        pipe.send(("error", traceback.format_exc(limit=3).strip().splitlines()[-1]))


def run_one(name: str, size: str, log: str) -> tuple[list[Row], str | None]:
    """``size``: ``table``, ``quick`` or ``full`` (the module's own defaults)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_child, args=(name, size, log, theirs))
    process.start()
    theirs.close()
    try:
        kind, payload = ours.recv()
    except EOFError:
        kind, payload = "error", f"the process ended with {process.exitcode} before reporting"
    process.join()
    if kind == "error":
        return [], str(payload)
    fields = ("figure", "value", "baseline", "size", "conditions")
    return [Row(**{k: row[k] for k in fields}) for row in payload], None


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", metavar="NAME", help=f"benchmarks to run (default all: {', '.join(names)})")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes (each module's QUICK)")
    sizes.add_argument("--full", action="store_true", help="each module at its own defaults (no TABLE sizes)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    parser.add_argument("--log", help="where the benchmarks' own output goes (default: a file in the temp dir)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n.removeprefix("bench_") not in names]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (there are: {', '.join(names)})")
    chosen = [n.removeprefix("bench_") for n in args.only] or names
    if not os.environ.get("BENCH_DATABASE_URL"):
        os.environ["BENCH_DATABASE_URL"] = common.ensure_database(common.database_name("data"))
    size = "quick" if args.quick else "full" if args.full else "table"
    log = args.log or tempfile.mkstemp(prefix="halopmi-bench-", suffix=".log")[1]

    rows: list[Row] = []
    sections: dict[int, list[str]] = {}
    failed: dict[str, str] = {}
    started = time.monotonic()
    for n, name in enumerate(chosen, start=1):
        print(f"[{n}/{len(chosen)}] bench_{name} ({size} sizes) ...", file=sys.stderr, flush=True)
        began = time.monotonic()
        got, error = run_one(name, size, log)
        took = time.monotonic() - began
        print(f"      {len(got)} rows in {took:.0f} s{'; FAILED: ' + error if error else ''}", file=sys.stderr, flush=True)
        if error:
            failed[name] = error
        sections.setdefault(len(rows), []).append(f"bench_{name}: {took:.0f} s" + (f"; FAILED: {error}" if error else ""))
        rows += got
    total = time.monotonic() - started

    if args.json:
        out: dict[str, Any] = {"rows": [r.as_dict() for r in rows], "failed": failed, "seconds": round(total)}
        print(json.dumps(out))
    else:
        print()
        print(common.format_rows(rows, sections))
        print(f"\n{len(rows)} figures from {len(chosen) - len(failed)} of {len(chosen)} benchmarks in "
              f"{total / 60:.1f} min ({size} sizes, {common.machine()}); their output: {log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
