"""The one scheduler of periodic work: every job at the period its setting names.

Periodic work (the outbox dispatcher, the router tick, the SLA sweep, housekeeping, the
wallboard push …) is declared once, as a table of :class:`PeriodicJob` (``app/schedule.py``),
installed on the application by the factory (:func:`init_app`, kept in ``app.extensions``), and
run by every ``flask jobs worker`` (the embedded default starts one too) beside rq's work loop:
one thread per job, so a slow SLA sweep never delays the router.

Why not rq's cron (``rq cron``, rq ≥ 2.4): its jobs are enqueued into a queue and run by a worker
that takes one job at a time, so a 2 s router tick waits behind whatever job that worker is busy
with (a Twilio request with retries, a month of roll-up); it needs a process of its own (its
``start`` installs signal handlers, so it cannot run in a worker's thread); every ``rq cron``
process enqueues every job (no election: N processes, N ticks per period); its ``interval`` is
whole seconds; the dispatcher itself could not be such a job (it feeds rq); and it is marked beta
in rq's documentation. rq still does what it is good at: the outbox's jobs, their retries and
``enqueue_at`` (its built-in scheduler, started with the worker).

Timing is fixed-rate: a job starts every ``period`` seconds, measured from the start of the
previous run, so its period does not stretch by its own duration; a run that overruns its period
is followed by the next one at once (never a burst of missed runs). Every run gets its own
application context (its database session is removed when it ends); an exception is logged and
the next run comes as usual: the loop outlives database and Redis outages. Several workers run
the same jobs: each job is safe to run concurrently (conditional UPDATEs, SKIP LOCKED, advisory
locks — see each one).

The clock is a parameter (:class:`Clock`), so tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from flask import Flask

log = logging.getLogger(__name__)

_EXTENSION_KEY = "halopmi.periodic_jobs"

Step = Callable[[], object]


@dataclass(frozen=True)
class PeriodicJob:
    """One periodic job: ``step`` (one pass, which commits or rolls back itself) every
    ``app.config[setting]`` seconds.

    ``build(app)`` makes the step when it keeps state between runs (a Redis connection, the last
    snapshot pushed) or may not run in this process at all (it returns None then).
    ``app_context=False`` for a step that pushes its own contexts (the simulator's requests).
    """

    name: str
    setting: str
    summary: str
    step: Step | None = None
    build: Callable[[Flask], Step | None] | None = None
    app_context: bool = True

    def period(self, app: Flask) -> float:
        """The period in seconds, from the job's setting."""
        return float(app.config[self.setting])

    def step_for(self, app: Flask) -> Step | None:
        if self.build is not None:
            return self.build(app)
        return self.step


def init_app(app: Flask, jobs: Iterable[PeriodicJob]) -> None:
    """Install the application's periodic jobs (called once by the factory)."""
    table: dict[str, PeriodicJob] = {}
    for job in jobs:
        if job.name in table:
            raise ValueError(f"two periodic jobs are named {job.name!r}")
        if (job.step is None) == (job.build is None):
            raise ValueError(f"periodic job {job.name!r}: give exactly one of step and build")
        if job.setting not in app.config:
            raise ValueError(f"periodic job {job.name!r}: its period setting {job.setting} is not configured")
        table[job.name] = job
    app.extensions[_EXTENSION_KEY] = table


def periodic_jobs(app: Flask) -> dict[str, PeriodicJob]:
    """The application's periodic jobs by name (in the order they were declared)."""
    return dict(app.extensions.get(_EXTENSION_KEY, {}))


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def wait(self, stop: threading.Event, seconds: float) -> None:
        """Return after ``seconds``, or as soon as ``stop`` is set."""


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    def wait(self, stop: threading.Event, seconds: float) -> None:
        stop.wait(max(seconds, 0.0))


class Scheduler:
    """Runs periodic jobs in threads until :meth:`stop` (or the ``stop`` event given)."""

    def __init__(
        self,
        app: Flask,
        jobs: Sequence[PeriodicJob] | None = None,
        *,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        periods: Mapping[str, float] | None = None,
    ) -> None:
        self.app = app
        self.periods = dict(periods or {})  # overrides of the settings, by job name
        self.jobs = list(jobs if jobs is not None else periodic_jobs(app).values())
        self.clock: Clock = clock or MonotonicClock()
        self.stop_event = stop or threading.Event()
        self.threads: dict[str, threading.Thread] = {}
        self.runs: Counter[str] = Counter()  # completed runs by job name (failed ones too)
        self._cond = threading.Condition()
        self._running = 0  # runs under way
        self._paused = False

    def start(self, without: Iterable[str] = ()) -> list[str]:
        """Start every job not named in ``without``; returns the names started here."""
        skipped = set(without)
        unknown = skipped - {job.name for job in self.jobs}
        if unknown:
            raise ValueError(f"no periodic job named {', '.join(sorted(unknown))}")
        for job in self.jobs:
            if job.name in skipped:
                continue
            step = job.step_for(self.app)
            if step is None:
                log.info("periodic job %s does not run in this process", job.name)
                continue
            thread = threading.Thread(
                target=self._loop, args=(job, step, self.period_of(job)), name=f"periodic-{job.name}", daemon=True
            )
            self.threads[job.name] = thread
            thread.start()
        return list(self.threads)

    def period_of(self, job: PeriodicJob) -> float:
        return float(self.periods[job.name]) if job.name in self.periods else job.period(self.app)

    def run_forever(self, job: PeriodicJob) -> None:
        """Run ``job`` in this thread until stopped (a loop of its own, outside :meth:`start`)."""
        step = job.step_for(self.app)
        if step is not None:
            self._loop(job, step, self.period_of(job))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every job to stop and wait up to ``timeout`` seconds in all for runs under way
        (the threads are daemons: a run still going then ends with the process)."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads.values():
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))

    def _loop(self, job: PeriodicJob, step: Step, period: float) -> None:
        due = self.clock.now()
        while not self.stop_event.is_set():
            self.run_once(job, step)
            due += period
            now = self.clock.now()
            due = max(due, now)  # overran: the next run at once, missed ones are not made up
            self.clock.wait(self.stop_event, due - now)

    def pause(self) -> None:
        """Wait until no run is under way; runs that come due wait for :meth:`resume`.

        The worker forks (rq's work horses, its scheduler of delayed jobs) between the two: a
        child forked while a job's thread holds a database connection would, when it drops its
        copy of that thread, roll back on the socket it shares with the parent (seen on
        PostgreSQL as "server closed the connection unexpectedly" in the parent). So a periodic
        job must never fork itself (it would wait for its own end).
        """
        with self._cond:
            self._paused = True
            self._cond.wait_for(lambda: self._running == 0)

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """No run is under way inside this block (see :meth:`pause`)."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def run_once(self, job: PeriodicJob, step: Step) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._paused)
            self._running += 1
        try:
            if job.app_context:
                with self.app.app_context():  # its teardown removes the database session
                    step()
            else:
                step()
        except Exception:  # noqa: BLE001 - the schedule must outlive any one failure
            log.exception("periodic job %s failed", job.name)
        finally:
            with self._cond:
                self._running -= 1
                self.runs[job.name] += 1
                self._cond.notify_all()
