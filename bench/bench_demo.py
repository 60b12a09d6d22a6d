"""Benchmark: how long the embedded default's demo takes to load (``flask demo seed``).

Run from the repository root::

    .venv/bin/python bench/bench_demo.py            # SQLite in a temp dir, like python3 run.py
    .venv/bin/python bench/bench_demo.py --days 14  # a shorter history

Each line loads into a fresh SQLite database, in the same run:

1. baseline: members, claims and staff only (``history_days=0``);
2. + four weeks of case history (``seed_history``: tickets through the SLA engine), which is
   what the demo loaded before its call history;
3. the whole demo: + four weeks of calls through the call log (``seed_calls``), as shipped;
4. the whole demo loaded again (idempotent: nothing is written).

CPU seconds are printed beside the wall time: a shared machine makes wall times noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench import common  # noqa: E402
from bench.common import Row  # noqa: E402
from config import DevelopmentConfig  # noqa: E402

NOW = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)  # 14:30 in Jakarta, a Wednesday


def _app(directory: Path, name: str):  # type: ignore[no-untyped-def]
    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{directory / name}.db",
        DEMO_LOGINS_FILE=str(directory / f"{name}-logins.json"),
    )


def _timed(label: str, run) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    report = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:44} {wall:7.2f} s wall {cpu:7.2f} s CPU   {report}")
    return wall, cpu


QUICK = {"days": 3}
TABLE = {"days": 7}  # run.py bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=28)


def measure(args: argparse.Namespace) -> list[Row]:
    from app.demo import seed

    timings: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, label, days, calls in (
            ("base", "members, claims, staff (baseline)", 0, False),
            ("cases", f"+ {args.days} days of case history", args.days, False),
            ("full", f"+ {args.days} days of calls (as shipped)", args.days, True),
        ):
            app = _app(directory, name)
            with app.app_context():
                db.create_all()
                if calls:
                    timings[name] = _timed(label, lambda days=days: seed(history_days=days, now=NOW))
                    timings["again"] = _timed(
                        "the same again (idempotent)", lambda days=days: seed(history_days=days, now=NOW)
                    )
                else:
                    with mock.patch("app.demo_calls.seed_calls", return_value=(0, 0)):
                        timings[name] = _timed(label, lambda days=days: seed(history_days=days, now=NOW))
                db.session.remove()
    conditions = f"SQLite in a temp dir, in process; baseline: members, claims and staff only; {common.machine()}"
    base = timings["base"][1]
    return [
        Row(f"demo load: + {args.days} days of case history, CPU (s)", timings["cases"][1], base, "300 members", conditions),
        Row(f"demo load: whole demo, {args.days} days of calls, CPU (s)", timings["full"][1], base, "300 members",
            f"{conditions}; wall {timings['full'][0]:.1f} s"),
        Row("demo load: the same again, CPU (s)", timings["again"][1], base, "300 members", conditions),
    ]


if __name__ == "__main__":
    common.main(sys.modules[__name__])
