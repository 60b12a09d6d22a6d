"""Job functions for the outbox tests: their effect is an audit row, so "ran once" is a count.

They run through :func:`app.core.jobs.run_intent` (by dotted name), inside its transaction.
"""

from __future__ import annotations

from collections import Counter

from app.core import audit

ACTION = "test.job"

# Attempts per marker, across retries (SimpleWorker runs jobs in this process).
attempts: Counter[str] = Counter()


def write_marker(marker: str) -> None:
    attempts[marker] += 1
    audit.record(ACTION, "test", marker)


def fail_first(marker: str, failures: int) -> None:
    """Fail the first ``failures`` attempts (after writing: the write must roll back)."""
    attempts[marker] += 1
    audit.record(ACTION, "test", marker)
    if attempts[marker] <= failures:
        raise RuntimeError(f"attempt {attempts[marker]} failed calling +6281234567890")


def slow_marker(marker: str, seconds: float) -> None:
    """Take a while (so a test can pull Redis away while it runs), then write."""
    import time

    time.sleep(seconds)
    audit.record(ACTION, "test", marker)


class Died(BaseException):
    """The worker process dying mid-job (not an Exception: nothing in the job catches it)."""


class Unclear(RuntimeError):
    """A provider that gave no clear answer (a time-out, a 5xx): it may have done it."""


class Refused(RuntimeError):
    """A provider that answered it did nothing (a 4xx)."""

    not_done = True


class FakeProvider:
    """A provider whose account lists what it did; ``plan`` says how each request goes:
    ``ok``, ``die-before`` / ``die-after`` (the worker dies before the provider acts / after
    it acted but before its answer is written), ``unclear-before`` / ``unclear-after``, ``refuse``."""

    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []  # (provider id, what), oldest first
        self.plan: list[str] = []
        self.lookups = 0

    def send(self, what: str) -> str:
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "die-before":
            raise Died
        if step == "unclear-before":
            raise Unclear("no answer in time")
        if step == "refuse":
            raise Refused("invalid number")
        provider_id = f"P{len(self.done) + 1}"
        self.done.append((provider_id, what))
        if step == "die-after":
            raise Died
        if step == "unclear-after":
            raise Unclear("no answer in time")
        return provider_id

    def find(self, what: str) -> list[str]:
        self.lookups += 1
        return [provider_id for provider_id, done in self.done if done == what]


provider = FakeProvider()


def send_once(key: str, what: str, lookup: bool = True, fail_after: bool = False) -> None:
    """An effect through :func:`app.core.jobs.effect`, its result kept in an audit row."""
    from app.core import jobs

    result = jobs.effect(
        key, lambda: provider.send(what), lookup=(lambda since: provider.find(what)) if lookup else None
    )
    audit.record(ACTION, "test", f"{key}={result}")
    if fail_after:
        raise RuntimeError("the job failed after its effect")
