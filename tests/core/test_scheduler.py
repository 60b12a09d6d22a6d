"""The one scheduler of periodic work, on a clock the test moves by hand.

Nothing here sleeps to assert a speed: :class:`ManualClock` stands still while the jobs run, and
the test moves it only once every job's thread sleeps until a later moment, so the number of
runs after ``t`` seconds is exact: ``1 + floor(t / period)`` (a run at start, then one each
period).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import BaseWorker
from sqlalchemy import select

from app.core import worker as rq_worker
from app.core.jobs import DONE, QUEUES, OutboxIntent, job_id_for
from app.core.scheduler import PeriodicJob, Scheduler, init_app, periodic_jobs
from app.extensions import db
from config import Config
from tests.core.test_jobs import marker, ran, record


class ManualClock:
    """A clock that moves only when told; knows which threads sleep on it, and until when."""

    def __init__(self) -> None:
        self._now = 0.0
        self._cond = threading.Condition()
        self._sleeping: dict[int, float] = {}

    def now(self) -> float:
        with self._cond:
            return self._now

    def wait(self, stop: threading.Event, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            self._sleeping[me] = self._now + seconds
            self._cond.notify_all()
            try:
                while self._now < self._sleeping[me] and not stop.is_set():
                    self._cond.wait(0.05)  # also looks at ``stop`` now and then
            finally:
                del self._sleeping[me]
                self._cond.notify_all()

    def settle(self, threads: int, timeout: float = 60.0) -> None:
        """Until ``threads`` threads sleep, each until a moment still to come (none runs)."""
        with self._cond:
            settled = self._cond.wait_for(
                lambda: len(self._sleeping) == threads and all(t > self._now for t in self._sleeping.values()),
                timeout,
            )
        assert settled, f"the periodic jobs did not all come to rest at t={self._now}"

    def advance(self, seconds: float, threads: int) -> None:
        self.settle(threads)
        with self._cond:
            self._now += seconds
            self._cond.notify_all()
        self.settle(threads)

    def run_until(self, moment: float, threads: int, step: float = 0.5) -> None:
        while self.now() < moment:
            self.advance(step, threads)


def expected_runs(period: float, elapsed: float) -> int:
    return 1 + math.floor(elapsed / period)


def counting(calls: list[float], clock: ManualClock) -> Callable[[], None]:
    return lambda: calls.append(clock.now())


def test_each_job_runs_at_the_period_of_its_setting(app):
    clock = ManualClock()
    fast, slow = [], []
    app.config.update(FAST_SECONDS=1.5, SLOW_SECONDS=4.0)
    jobs = [
        PeriodicJob("fast", "FAST_SECONDS", "", step=counting(fast, clock)),
        PeriodicJob("slow", "SLOW_SECONDS", "", step=counting(slow, clock)),
    ]
    scheduler = Scheduler(app, jobs, clock=clock)
    scheduler.start()
    try:
        clock.run_until(12.0, threads=2)
    finally:
        scheduler.stop()
    assert fast == [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.5, 12.0]
    assert slow == [0.0, 4.0, 8.0, 12.0]
    assert scheduler.runs == {"fast": 9, "slow": 4}


def test_a_failing_run_is_logged_and_the_next_comes_on_time(app, caplog):
    clock = ManualClock()
    calls: list[float] = []

    def flaky() -> None:
        calls.append(clock.now())
        if len(calls) == 2:
            raise RuntimeError("database gone")

    app.config["FLAKY_SECONDS"] = 2.0
    scheduler = Scheduler(app, [PeriodicJob("flaky", "FLAKY_SECONDS", "", step=flaky)], clock=clock)
    scheduler.start()
    try:
        clock.run_until(6.0, threads=1)
    finally:
        scheduler.stop()
    assert calls == [0.0, 2.0, 4.0, 6.0]
    assert "periodic job flaky failed" in caplog.text


def test_a_run_longer_than_its_period_is_followed_at_once_without_a_burst(app):
    clock = ManualClock()
    calls: list[float] = []

    def slow_at_first() -> None:
        calls.append(clock.now())
        if len(calls) == 1:  # the first run "takes" 5 s: the clock moves while it runs
            with clock._cond:
                clock._now += 5.0

    app.config["SLOW_SECONDS"] = 2.0
    scheduler = Scheduler(app, [PeriodicJob("slow", "SLOW_SECONDS", "", step=slow_at_first)], clock=clock)
    scheduler.start()
    try:
        clock.run_until(9.0, threads=1)
    finally:
        scheduler.stop()
    # The runs due at 2 and 4 are not made up: the next starts at once (5), then every 2 s.
    assert calls == [0.0, 5.0, 7.0, 9.0]


def test_the_factory_installs_every_periodic_job_with_a_configured_period(app):
    table = periodic_jobs(app)
    assert list(table) == [
        "outbox", "outbox-recovery", "router", "sla", "tickets", "telephony", "telephony-simulator",
        "wallboard", "supervision-rollup",
    ]
    for job in table.values():
        # Every period is a documented setting of config.py (the README lists them: test_config).
        assert isinstance(getattr(Config, job.setting), float), job.setting
        assert job.period(app) > 0
    assert table["router"].period(app) == Config.ROUTER_TICK_SECONDS == 2.0


def test_a_job_whose_setting_is_missing_is_refused(app):
    with pytest.raises(ValueError, match="NO_SUCH_SECONDS"):
        init_app(app, [PeriodicJob("x", "NO_SUCH_SECONDS", "", step=lambda: None)])


@pytest.mark.committed  # the worker runs jobs in its own threads and connections
def test_the_worker_runs_every_periodic_job_at_its_configured_period_beside_rq(app, redis_conn):
    """``flask jobs worker`` (worker.serve: the real rq worker in this thread, against the real
    Redis) with every job of app/schedule.py, each given a different period."""
    table = periodic_jobs(app)
    periods = {name: float(i) for i, name in enumerate(table, start=1)}  # 1 s, 2 s, … 9 s
    for name, job in table.items():
        app.config[job.setting] = periods[name]
    intent_id = record(marker())  # work for the outbox job to hand to rq
    clock = ManualClock()
    started: list[Scheduler] = []
    outcome: dict[str, object] = {}

    def drive() -> None:
        try:
            while not (started and isinstance(getattr(signal.getsignal(signal.SIGTERM), "__self__", None), BaseWorker)):
                time.sleep(0.05)  # until rq's work loop is listening (it then stops on SIGTERM)
            scheduler = started[0]
            outcome["threads"] = len(scheduler.threads)
            clock.run_until(12.0, len(scheduler.threads))
            outcome["runs"] = dict(scheduler.runs)
            # The rq worker (real time) runs what the outbox job handed it. Asked of Redis, not of
            # the database: a thread of this process using a connection while rq forks its work
            # horse is what the scheduler keeps its own jobs from doing (Scheduler.quiet).
            deadline = time.monotonic() + 60
            while not finished(redis_conn, job_id_for(intent_id)) and time.monotonic() < deadline:
                time.sleep(0.1)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            outcome["error"] = exc
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # rq's warm shutdown: serve() returns

    db.session.remove()  # this thread holds no connection a work horse could copy, as in the CLI
    previous = signal.getsignal(signal.SIGTERM)
    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        rq_worker.serve(app, QUEUES, clock=clock, on_started=started.append)
    finally:
        signal.signal(signal.SIGTERM, previous)
        driver.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["threads"] == len(table)  # all nine, the simulator too (no Twilio here)
    assert outcome["runs"] == {name: expected_runs(periods[name], 12.0) for name in table}
    # The outbox job handed the intent to rq, and the worker ran it (once).
    assert ran_once(intent_id)


def finished(connection: Redis, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=connection).get_status() == JobStatus.FINISHED
    except NoSuchJobError:
        return False


def ran_once(intent_id: int) -> bool:
    db.session.rollback()
    status = db.session.scalar(select(OutboxIntent.status).where(OutboxIntent.id == intent_id))
    name = db.session.scalar(select(OutboxIntent.args).where(OutboxIntent.id == intent_id))
    return status == DONE and ran(name[0]) == 1
